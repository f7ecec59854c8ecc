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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_submission), cmocka_unit_test(test_submission_refusals),
	    cmocka_unit_test(test_ratelimit),  cmocka_unit_test(test_url),
	    cmocka_unit_test(test_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
