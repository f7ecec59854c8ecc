/* HTTP body handling on both sides: the collector's submission body parser (wrapper or bare
 * document, ids, metadata), its per-source rate limit, and the client's URL and response
 * parsers. */
#include "../collector/ratelimit.h"
#include "../collector/submission.h"

#include <natcheck/error.h>
#include <natcheck/submit.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static const char *bare =
    "{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{\"reachable\":true,\"nat\":true,"
    "\"mapping\":\"endpoint-independent\",\"filtering\":\"address-and-port-dependent\","
    "\"public\":\"81.2.69.142:5000\"}}";

static int parse(const char *body, const char *hdr, struct col_submission *s, char *err)
{
	return col_submission_parse(body, strlen(body), hdr, s, err, 240);
}

static void test_submission(void **state)
{
	static struct col_submission s;
	char err[240], body[2048], *stored;

	(void)state;
	/* A bare document, with and without an Idempotency-Key. */
	assert_int_equal(parse(bare, NULL, &s, err), 0);
	assert_string_equal(s.sub_id, "");
	assert_int_equal(s.result.udp.mapping, NC_BEH_EI);
	assert_int_equal(parse(bare, "key-12345678", &s, err), 0);
	assert_string_equal(s.sub_id, "key-12345678");
	/* The wrapper natcheck --submit sends. */
	snprintf(body, sizeof(body),
		 "{\"schema\":\"natcheck-submission\",\"version\":1,\"id\":\"0123456789abcdef\","
		 "\"vendor\":\"Linksys\",\"model\":\"WRT54G\",\"note\":null,\"extra\":[1],"
		 "\"result\":%s}",
		 bare);
	assert_int_equal(parse(body, NULL, &s, err), 0);
	assert_string_equal(s.sub_id, "0123456789abcdef");
	assert_string_equal(s.vendor, "Linksys");
	assert_string_equal(s.model, "WRT54G");
	assert_string_equal(s.note, "");
	assert_int_equal(parse(body, "0123456789abcdef", &s, err), 0);
	assert_int_equal(parse(body, "another-id-123", &s, err), -NC_E_SCHEMA);
	assert_non_null(strstr(err, "Idempotency-Key"));
	/* What is stored: anonymised again, as libnatcheck writes it. */
	assert_int_equal(parse(body, NULL, &s, err), 0);
	stored = col_submission_result_json(&s);
	assert_non_null(stored);
	assert_null(strstr(stored, "81.2.69.142"));
	assert_non_null(strstr(stored, "\"public\":\"81.2.69.0:0\""));
	free(stored);
}

static void test_submission_refusals(void **state)
{
	static struct col_submission s, before;
	struct {
		const char *body;
		int rc;
		const char *msg;
	} cases[] = {
	    {"", -NC_E_PARSE, "not JSON"},
	    {"{\"schema\":", -NC_E_PARSE, "not JSON"},
	    {"[1,2]", -NC_E_SCHEMA, "JSON object"},
	    {"{\"a\":1,\"a\":2}", -NC_E_PARSE, "duplicate"},
	    {"{\"schema\":\"natcheck-result\",\"version\":1}", -NC_E_SCHEMA, "udp: required"},
	    {"{\"schema\":\"natcheck-result\",\"version\":9,\"udp\":{}}", -NC_E_SCHEMA, "newer"},
	    {"{\"schema\":\"natcheck-submission\",\"version\":2,\"result\":{}}", -NC_E_SCHEMA,
	     "version"},
	    {"{\"schema\":\"natcheck-submission\",\"version\":1}", -NC_E_SCHEMA,
	     "result: required"},
	    {"{\"schema\":\"natcheck-submission\",\"version\":1,\"id\":\"x\",\"result\":{}}",
	     -NC_E_SCHEMA, "id:"},
	    {"{\"schema\":\"natcheck-submission\",\"version\":1,\"vendor\":7,\"result\":{}}",
	     -NC_E_SCHEMA, "vendor: must be a string"},
	    {"{\"schema\":\"natcheck-submission\",\"version\":1,\"note\":\"a\\u0007b\",\"result\":{"
	     "}}",
	     -NC_E_SCHEMA, "control"},
	    {"{\"schema\":\"natcheck-submission\",\"version\":1,\"result\":{\"schema\":"
	     "\"natcheck-result\",\"version\":1,\"udp\":{\"mapping\":\"cone\"}}}",
	     -NC_E_SCHEMA, "result.udp.mapping"},
	};
	char err[240];

	(void)state;
	memset(&s, 0x5a, sizeof(s));
	memcpy(&before, &s, sizeof(s));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].body, NULL, &s, err);
		if (rc != cases[i].rc || !strstr(err, cases[i].msg))
			fail_msg("case %zu: rc %d, err '%s', wanted %d '%s'", i, rc, err,
				 cases[i].rc, cases[i].msg);
		/* A refused body leaves nothing behind. */
		assert_memory_equal(&s, &before, sizeof(s));
	}
	assert_int_equal(parse(bare, "bad key!", &s, err), -NC_E_SCHEMA);
	/* Metadata longer than the store keeps. */
	char body[1024];
	char longv[260];
	memset(longv, 'v', 250);
	longv[250] = '\0';
	snprintf(
	    body, sizeof(body),
	    "{\"schema\":\"natcheck-submission\",\"version\":1,\"vendor\":\"%s\",\"result\":%s}",
	    longv, bare);
	assert_int_equal(parse(body, NULL, &s, err), -NC_E_SCHEMA);
	assert_non_null(strstr(err, "at most 200"));
}

static void test_ratelimit(void **state)
{
	struct col_ratelimit *rl = col_ratelimit_new(2, 3); /* 2/s, burst 3 */
	struct sockaddr_in a = {.sin_family = AF_INET}, b = a;
	struct sockaddr_in6 c6 = {.sin6_family = AF_INET6}, d6 = c6;
	unsigned retry = 0;

	(void)state;
	inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
	inet_pton(AF_INET, "192.0.2.2", &b.sin_addr);
	for (int i = 0; i < 3; i++)
		assert_true(col_ratelimit_take(rl, (struct sockaddr *)&a, 1000, &retry));
	assert_false(col_ratelimit_take(rl, (struct sockaddr *)&a, 1000, &retry));
	assert_int_equal(retry, 1);
	assert_true(
	    col_ratelimit_take(rl, (struct sockaddr *)&b, 1000, &retry)); /* others served */
	assert_true(col_ratelimit_take(rl, (struct sockaddr *)&a, 1500, &retry)); /* refilled 1 */
	assert_false(col_ratelimit_take(rl, (struct sockaddr *)&a, 1500, &retry));
	/* IPv6 sources count per /64. */
	inet_pton(AF_INET6, "2001:db8:1:2::1", &c6.sin6_addr);
	inet_pton(AF_INET6, "2001:db8:1:2::99", &d6.sin6_addr);
	for (int i = 0; i < 3; i++)
		assert_true(col_ratelimit_take(rl, (struct sockaddr *)&c6, 0, &retry));
	assert_false(col_ratelimit_take(rl, (struct sockaddr *)&d6, 0, &retry));
	col_ratelimit_free(rl);
	/* Rate 0: no limit. */
	rl = col_ratelimit_new(0, 1);
	for (int i = 0; i < 100; i++)
		assert_true(col_ratelimit_take(rl, (struct sockaddr *)&a, 0, &retry));
	col_ratelimit_free(rl);
}

static void test_url(void **state)
{
	struct nc_http_url u;

	(void)state;
	assert_int_equal(nc_http_url_parse("http://127.0.0.1:8080/api/v1/results", &u), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "8080");
	assert_string_equal(u.path, "/api/v1/results");
	assert_int_equal(nc_http_url_parse("http://collector.example", &u), 0);
	assert_string_equal(u.port, "80");
	assert_string_equal(u.path, "/");
	assert_int_equal(nc_http_url_parse("http://[::1]:9/x?y=1", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.path, "/x?y=1");
	assert_int_equal(nc_http_url_parse("https://a/", &u), -NC_E_UNSUPPORTED);
	assert_int_equal(nc_http_url_parse("ftp://a/", &u), -NC_E_PARSE);
	assert_int_equal(nc_http_url_parse("http://a:99999/", &u), -NC_E_PARSE);
	assert_int_equal(nc_http_url_parse("http://a:/", &u), -NC_E_PARSE);
	assert_int_equal(nc_http_url_parse("http://a b/", &u), -NC_E_PARSE);
	assert_int_equal(nc_http_url_parse("http:///x", &u), -NC_E_PARSE);
	assert_int_equal(nc_http_url_parse("http://a/x y", &u), -NC_E_PARSE);
	assert_int_equal(nc_http_url_parse("http://[::1/", &u), -NC_E_PARSE);
}

static int rparse(const char *s, bool closed, struct nc_http_response *r)
{
	return nc_http_response_parse(s, strlen(s), closed, r);
}

static void test_response(void **state)
{
	struct nc_http_response r;
	const char *ok = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
			 "Content-Length: 9\r\n\r\n{\"id\":7}\n";

	(void)state;
	assert_int_equal(rparse(ok, false, &r), 0);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.body_len, 9);
	assert_memory_equal(ok + r.body_off, "{\"id\":7}\n", 9);
	/* Every prefix of a complete answer asks for more. */
	for (size_t n = 0; n < strlen(ok); n++)
		assert_int_equal(nc_http_response_parse(ok, n, false, &r), -NC_E_TRUNCATED);
	/* ...and is malformed when the peer closed there. */
	assert_int_equal(nc_http_response_parse(ok, strlen(ok) - 1, true, &r), -NC_E_MALFORMED);
	assert_int_equal(
	    rparse("HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", false,
		   &r),
	    0);
	assert_int_equal(r.status, 429);
	assert_int_equal(r.retry_after_s, 7);
	/* Without a length, the body runs to the close. */
	assert_int_equal(rparse("HTTP/1.0 200 OK\r\n\r\nabc", false, &r), -NC_E_TRUNCATED);
	assert_int_equal(rparse("HTTP/1.0 200 OK\r\n\r\nabc", true, &r), 0);
	assert_int_equal(r.body_len, 3);
	assert_int_equal(rparse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", false, &r), 0);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, &r),
			 -NC_E_MALFORMED);
	assert_int_equal(
	    rparse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", false,
		   &r),
	    -NC_E_MALFORMED);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, &r),
			 -NC_E_MALFORMED);
	assert_int_equal(
	    rparse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", false, &r),
	    -NC_E_MALFORMED);
	assert_int_equal(rparse("HTTP/1.1 2x0 OK\r\n\r\n", false, &r), -NC_E_MALFORMED);
	assert_int_equal(rparse("SMTP 220 hi\r\n\r\n", false, &r), -NC_E_MALFORMED);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false, &r),
			 -NC_E_MALFORMED);
	assert_int_equal(rparse("HTTP/1.1 099 OK\r\n\r\n", false, &r), -NC_E_MALFORMED);
}

/* One POST to a one-shot server in a child: returns what the server read (malloc'd). */
static char *post_and_capture(const char *key, int *rc)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	struct nc_http_response resp;
	struct nc_http_url u;
	char url[64], body[64], *got = calloc(1, 4096);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), pfd[2], st;
	size_t have = 0;
	ssize_t n;
	pid_t pid;

	assert_non_null(got);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) { /* read the request (head and 2-byte body), answer 201, pass it on */
		int c = accept(lfd, NULL, NULL);
		char buf[4096];
		size_t len = 0;
		static const char ans[] = "HTTP/1.1 201 Created\r\nContent-Length: 8\r\n\r\n{\"id\":1}";

		while (len < sizeof(buf) - 1 && (n = read(c, buf + len, sizeof(buf) - 1 - len)) > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			char *end = strstr(buf, "\r\n\r\n");
			if (end && (size_t)(end + 4 - buf) + 2 <= len)
				break;
		}
		if (write(c, ans, sizeof(ans) - 1) < 0 || write(pfd[1], buf, len) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	close(lfd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/outcomes", ntohs(sa.sin_port));
	assert_int_equal(nc_http_url_parse(url, &u), 0);
	*rc = nc_http_post(&u, key, "{}", 2, 5000, &resp, body, sizeof(body));
	if (*rc == 0)
		assert_int_equal(resp.status, 201);
	while (have < 4095 && (n = read(pfd[0], got + have, 4095 - have)) > 0)
		have += (size_t)n;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return got;
}

/* The Idempotency-Key header: sent when given, absent otherwise, and a key outside the
 * collector's rule (8-64 of [A-Za-z0-9_-]) is refused before any connection, so no header
 * can be injected through it. */
static void test_idempotency_key(void **state)
{
	struct nc_http_url u;
	struct nc_http_response resp;
	char *req;
	int rc;

	(void)state;
	req = post_and_capture("0123abcd_-XYZ", &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(req, "POST /api/v1/outcomes HTTP/1.1\r\n"));
	assert_non_null(strstr(req, "\r\nIdempotency-Key: 0123abcd_-XYZ\r\n"));
	assert_non_null(strstr(req, "\r\n\r\n{}"));
	free(req);
	req = post_and_capture(NULL, &rc);
	assert_int_equal(rc, 0);
	assert_null(strstr(req, "Idempotency-Key"));
	free(req);
	/* Port 1 is closed: a refusal here is the key check, not the connection. */
	assert_int_equal(nc_http_url_parse("http://127.0.0.1:1/", &u), 0);
	assert_int_equal(nc_http_post(&u, "short", "{}", 2, 1000, &resp, NULL, 0), -NC_E_INVALID);
	assert_int_equal(nc_http_post(&u, "abcdefgh\r\nX-Evil: 1", "{}", 2, 1000, &resp, NULL, 0),
			 -NC_E_INVALID);
	assert_int_equal(nc_http_post(&u, "abcdefgh key", "{}", 2, 1000, &resp, NULL, 0),
			 -NC_E_INVALID);
	char longkey[66];
	memset(longkey, 'a', 65);
	longkey[65] = '\0';
	assert_int_equal(nc_http_post(&u, longkey, "{}", 2, 1000, &resp, NULL, 0), -NC_E_INVALID);
	assert_int_not_equal(nc_http_post(&u, longkey + 1, "{}", 2, 1000, &resp, NULL, 0),
			     -NC_E_INVALID); /* 64 is allowed (the port refuses it) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_submission), cmocka_unit_test(test_submission_refusals),
	    cmocka_unit_test(test_ratelimit),  cmocka_unit_test(test_url),
	    cmocka_unit_test(test_response),   cmocka_unit_test(test_idempotency_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
