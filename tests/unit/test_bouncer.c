/* The bouncer's checks (validate, authenticate, replay, target, rate: each refusal counted),
 * the coordination service's client-facing answers (a target other than the observed source
 * is refused and counted; tickets), and the TCP connect-back classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bouncer.h"
#include "coord.h"
#include <natcheck/error.h>
#include "tcpback.h"
#include "testaddr.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <sodium.h>
#include <string.h>

#define NOW_MS 1800000000000ull
#define NOW_US 5000000000ull

static uint8_t key[NCP_KEY_LEN];

static struct bouncer *mk(double trate, double tburst, double grate, double gburst)
{
	struct bouncer_cfg cfg = {.target_rate = trate, .target_burst = tburst,
				  .global_rate = grate, .global_burst = gburst};
	struct bouncer *b;

	memcpy(cfg.key, key, sizeof(key));
	assert_int_equal(bouncer_new(&b, &cfg), 0);
	return b;
}

static int sealed_action(const char *target, uint64_t ts, uint8_t *buf, size_t cap)
{
	struct ncp_coord m;

	memset(&m, 0, sizeof(m));
	m.type = NCP_T_ACTION;
	m.u.action.origin = NCP_ORIGIN_BOUNCER;
	m.u.action.transport = NCP_PROTO_TCP;
	m.u.action.wait_ms = 1000;
	m.u.action.target = ep(target);
	ncp_coord_stamp(&m, ts);
	return ncp_coord_encode(&m, key, buf, cap);
}

static uint64_t cnt(struct bouncer *b, enum bouncer_verdict v)
{
	return bouncer_counters(b)->v[v];
}

static void test_accept_and_refusals(void **state)
{
	struct bouncer *b = mk(0, 0, 0, 0);
	struct ncp_coord m;
	uint8_t buf[NCP_COORD_MAX], other[NCP_KEY_LEN];
	int n;

	(void)state;
	n = sealed_action("198.18.10.1:40000", NOW_MS, buf, sizeof(buf));
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m), BNC_OK);
	assert_true(nc_addr_eq(&m.u.action.target, &(struct nc_addr){0}) == false);
	/* Replay of the same datagram. */
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m), BNC_REPLAY);
	assert_int_equal(cnt(b, BNC_REPLAY), 1);
	/* Bad MAC: one flipped bit in the body, or another key. */
	n = sealed_action("198.18.10.1:40000", NOW_MS, buf, sizeof(buf));
	buf[NCP_HDR_LEN + 12] ^= 1;
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m), BNC_BAD_MAC);
	memcpy(other, key, sizeof(other));
	other[3] ^= 0x80;
	n = sealed_action("198.18.10.1:40000", NOW_MS, buf, sizeof(buf));
	crypto_auth(buf + n - NCP_MAC_LEN, buf, (size_t)n - NCP_MAC_LEN, other);
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m), BNC_BAD_MAC);
	assert_int_equal(cnt(b, BNC_BAD_MAC), 2);
	/* A bad MAC does not poison the replay cache: the genuine message still passes. */
	crypto_auth(buf + n - NCP_MAC_LEN, buf, (size_t)n - NCP_MAC_LEN, key);
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m), BNC_OK);
	/* Stale and from the future. */
	n = sealed_action("198.18.10.1:40000", NOW_MS - 31000, buf, sizeof(buf));
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m), BNC_STALE);
	n = sealed_action("198.18.10.1:40000", NOW_MS + 31000, buf, sizeof(buf));
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m), BNC_STALE);
	assert_int_equal(cnt(b, BNC_STALE), 2);
	/* Garbage and truncation. */
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, 10, &m), BNC_BAD_FORMAT);
	assert_int_equal(cnt(b, BNC_BAD_FORMAT), 1);
	/* Targets a client could never have. */
	n = sealed_action("127.0.0.1:40000", NOW_MS, buf, sizeof(buf));
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m), BNC_BAD_TARGET);
	n = sealed_action("224.0.0.1:40000", NOW_MS, buf, sizeof(buf));
	assert_int_equal(bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m), BNC_BAD_TARGET);
	assert_int_equal(cnt(b, BNC_BAD_TARGET), 2);
	assert_int_equal(cnt(b, BNC_OK), 2);
	bouncer_free(b);
}

static void test_rate_limits(void **state)
{
	struct bouncer *b = mk(1, 3, 0.01, 5);
	struct ncp_coord m;
	uint8_t buf[NCP_COORD_MAX];
	int n, ok = 0;

	(void)state;
	/* Per target: a burst of 3 toward one IP (any port), then refused. */
	for (int i = 0; i < 5; i++) {
		char t[32];
		snprintf(t, sizeof(t), "198.18.10.1:%d", 40000 + i);
		n = sealed_action(t, NOW_MS, buf, sizeof(buf));
		ok += bouncer_handle_coord(b, NOW_US, NOW_MS, buf, (size_t)n, &m) == BNC_OK;
	}
	assert_int_equal(ok, 3);
	assert_int_equal(cnt(b, BNC_RATE_TARGET), 2);
	/* One second later the bucket has one more token. */
	n = sealed_action("198.18.10.1:40000", NOW_MS, buf, sizeof(buf));
	assert_int_equal(bouncer_handle_coord(b, NOW_US + 1000000, NOW_MS, buf, (size_t)n, &m), BNC_OK);
	/* Global: burst 5 (0.01/s) in all, 4 used: one more target passes, the next is refused. */
	n = sealed_action("198.18.10.2:40000", NOW_MS, buf, sizeof(buf));
	assert_int_equal(bouncer_handle_coord(b, NOW_US + 1000000, NOW_MS, buf, (size_t)n, &m), BNC_OK);
	n = sealed_action("198.18.10.3:40000", NOW_MS, buf, sizeof(buf));
	assert_int_equal(bouncer_handle_coord(b, NOW_US + 1000000, NOW_MS, buf, (size_t)n, &m),
			 BNC_RATE_GLOBAL);
	assert_int_equal(cnt(b, BNC_RATE_GLOBAL), 1);
	/* Results are not actions: no rate limit. */
	for (int i = 0; i < 10; i++) {
		memset(&m, 0, sizeof(m));
		m.type = NCP_T_RESULT;
		m.u.result.status = NCP_ST_TIMEOUT;
		ncp_coord_stamp(&m, NOW_MS);
		n = ncp_coord_encode(&m, key, buf, sizeof(buf));
		assert_int_equal(bouncer_handle_coord(b, NOW_US + 1000000, NOW_MS, buf, (size_t)n, &m), BNC_OK);
	}
	bouncer_free(b);
}

/* --- the service's client side ------------------------------------------------------------ */

static struct coord *open_coord(void)
{
	struct coord_cfg cfg;
	struct coord *c;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(nc_addr_parse_ip("127.0.0.1", &cfg.primary), 0);
	cfg.port = 3478;
	cfg.alt_port = 3479;
	cfg.cb_port = (uint16_t)(20000 + randombytes_uniform(20000));
	cfg.target_rate = 1;
	cfg.target_burst = 2;
	assert_int_equal(coord_open(&c, &cfg), 0);
	return c;
}

static size_t cb_request(uint8_t *buf, uint8_t origin, const char *target)
{
	struct ncp_cb_request q = {.origin = origin, .transport = NCP_PROTO_TCP, .wait_ms = 1000};
	uint8_t tid[STUN_TID_LEN];
	int n;

	randombytes_buf(tid, sizeof(tid));
	if (target) {
		q.has_target = true;
		q.target = ep(target);
	}
	n = ncp_build_cb_request(buf, 256, tid, &q);
	assert_true(n > 0);
	return (size_t)n;
}

static struct stun_msg answer(struct coord *c, const char *src, const uint8_t *req, size_t len,
			      uint8_t *out)
{
	struct nc_addr local = ep("127.0.0.1:3478"), s = ep(src);
	struct stun_msg m;
	size_t n = coord_handle_stun(c, NCP_PROTO_TCP, &local, &s, req, len, out, 512);

	assert_true(n > 0);
	assert_int_equal(stun_decode(out, n, &m), 0);
	return m;
}

static void test_coord_answers(void **state)
{
	struct coord *c = open_coord();
	uint8_t req[256], out[512], tid[STUN_TID_LEN] = {0};
	struct ncp_cb_request got;
	struct ncp_result res;
	struct nc_addr origin;
	struct stun_msg m;
	bool has;
	size_t n;
	int k;

	(void)state;
	/* A target other than the observed source: 403, counted, nothing queued. */
	n = cb_request(req, NCP_ORIGIN_PORT, "198.18.99.9:80");
	m = answer(c, "198.18.10.1:40000", req, n, out);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_int_equal(m.error_code, 403);
	assert_int_equal(coord_counters(c)->target_refused, 1);
	/* The same request naming the observed source is accepted, with a ticket and the
	 * origin it will come from (this address, the connect-back port). */
	n = cb_request(req, NCP_ORIGIN_PORT, "198.18.10.1:40000");
	m = answer(c, "198.18.10.1:40000", req, n, out);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_true(nc_addr_eq(&m.xor_mapped, &(struct nc_addr){0}) == false);
	assert_int_equal(ncp_parse_attrs(out, 512, &got, &origin, NULL, NULL), 0);
	assert_true(got.has_ticket);
	assert_true(nc_addr_ip_eq(&origin, &(struct nc_addr){.family = AF_INET, .ip = {127, 0, 0, 1}}));
	/* Its result is pending (the service thread is not running in this test). */
	k = ncp_build_cb_poll(req, sizeof(req), tid, got.ticket);
	m = answer(c, "198.18.10.1:40000", req, (size_t)k, out);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_int_equal(ncp_parse_attrs(out, 512, NULL, NULL, &res, &has), 0);
	assert_true(has);
	assert_int_equal(res.status, NCP_ST_PENDING);
	/* Unknown ticket: 404, counted. */
	got.ticket[0] ^= 0xFF;
	k = ncp_build_cb_poll(req, sizeof(req), tid, got.ticket);
	m = answer(c, "198.18.10.1:40000", req, (size_t)k, out);
	assert_int_equal(m.error_code, 404);
	assert_int_equal(coord_counters(c)->unknown_ticket, 1);
	/* No alternate address, partner or bouncer: those origins are refused. */
	n = cb_request(req, NCP_ORIGIN_ADDR, NULL);
	assert_int_equal(answer(c, "198.18.10.1:40000", req, n, out).error_code, 403);
	n = cb_request(req, NCP_ORIGIN_BOUNCER, NULL);
	assert_int_equal(answer(c, "198.18.10.1:40000", req, n, out).error_code, 403);
	assert_int_equal(coord_counters(c)->unavailable, 2);
	/* Rate limit per target (burst 2): the second is allowed, the third refused (429). */
	n = cb_request(req, NCP_ORIGIN_PORT, NULL);
	assert_int_equal(answer(c, "198.18.10.1:40001", req, n, out).cls, STUN_CLASS_SUCCESS);
	n = cb_request(req, NCP_ORIGIN_PORT, NULL);
	assert_int_equal(answer(c, "198.18.10.1:40002", req, n, out).error_code, 429);
	assert_int_equal(coord_bouncer_counters(c)->v[BNC_RATE_TARGET], 1);
	assert_int_equal(coord_counters(c)->local_rate, 1);
	/* A client target the bouncer would never hit (loopback). */
	n = cb_request(req, NCP_ORIGIN_PORT, NULL);
	assert_int_equal(answer(c, "127.0.0.1:40000", req, n, out).error_code, 403);
	/* A TCP connect-back asked over UDP is refused. */
	{
		struct nc_addr local = ep("127.0.0.1:3478"), s = ep("198.18.10.7:4000");
		n = cb_request(req, NCP_ORIGIN_PORT, NULL);
		n = coord_handle_stun(c, NCP_PROTO_UDP, &local, &s, req, n, out, 512);
		assert_int_equal(stun_decode(out, n, &m), 0);
		assert_int_equal(m.error_code, 400);
	}
	/* Answers and garbage get no answer at all. */
	{
		struct nc_addr local = ep("127.0.0.1:3478"), s = ep("198.18.10.7:4000");
		memset(req, 0xAB, 64);
		assert_int_equal(coord_handle_stun(c, NCP_PROTO_UDP, &local, &s, req, 64, out, 512), 0);
	}
	coord_free(c);
}

static void test_tcpback_classify(void **state)
{
	struct ncp_result r;

	(void)state;
	tcpback_classify(0, 0, 0, 0, &r);
	assert_int_equal(r.status, NCP_ST_CONNECTED);
	tcpback_classify(ECONNREFUSED, 0, 0, 0, &r);
	assert_int_equal(r.status, NCP_ST_RST);
	/* ICMP port unreachable also reads ECONNREFUSED: the error queue decides. */
	tcpback_classify(ECONNREFUSED, SO_EE_ORIGIN_ICMP, 3, 3, &r);
	assert_int_equal(r.status, NCP_ST_ICMP);
	assert_string_equal(ncp_unsolicited_word(&r), "icmp-port-unreachable");
	tcpback_classify(EHOSTUNREACH, SO_EE_ORIGIN_ICMP, 3, 13, &r);
	assert_string_equal(ncp_unsolicited_word(&r), "icmp-admin-prohibited");
	tcpback_classify(EHOSTUNREACH, 0, 0, 0, &r);
	assert_string_equal(ncp_unsolicited_word(&r), "icmp-other");
	tcpback_classify(ECONNREFUSED, SO_EE_ORIGIN_ICMP6, 1, 4, &r);
	assert_string_equal(ncp_unsolicited_word(&r), "icmp-port-unreachable");
	tcpback_classify(ETIMEDOUT, 0, 0, 0, &r);
	assert_string_equal(ncp_unsolicited_word(&r), "dropped");
	tcpback_classify(EADDRINUSE, 0, 0, 0, &r);
	assert_int_equal(r.status, NCP_ST_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_and_refusals),
		cmocka_unit_test(test_rate_limits),
		cmocka_unit_test(test_coord_answers),
		cmocka_unit_test(test_tcpback_classify),
	};
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key, sizeof(key));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
