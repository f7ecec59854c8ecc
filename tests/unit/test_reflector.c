/* natcheck-reflector's answering rules (RFC 5780 §6, §7; RFC 8489 §6.3) and its rate limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"
#include "reflector.h"
#include "testaddr.h"

#include <sodium.h>
#include <string.h>

static struct refl_ctx ctx;
static struct nc_addr client;
static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static int setup(void **state)
{
	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	ctx.local[REFL_PP] = ep("198.18.1.1:3478");
	ctx.local[REFL_PA] = ep("198.18.1.1:3479");
	ctx.local[REFL_AP] = ep("198.18.1.2:3478");
	ctx.local[REFL_AA] = ep("198.18.1.2:3479");
	ctx.has_alternate = true;
	ctx.software = "test";
	client = ep("203.0.113.7:40000");
	return 0;
}

/* A Binding request with the given CHANGE-REQUEST flags (and optional extras). */
static size_t request(uint8_t *buf, size_t cap, uint32_t change, uint16_t response_port,
		      size_t padding, uint16_t extra_attr)
{
	struct stun_builder b;
	int n;

	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	if (change)
		stun_add_change_request(&b, change);
	if (response_port)
		stun_add_response_port(&b, response_port);
	if (padding)
		stun_add_padding(&b, padding);
	if (extra_attr)
		stun_add_u32(&b, extra_attr, 0);
	n = stun_build_finish(&b, true);
	assert_true(n > 0);
	return (size_t)n;
}

static void answer(enum refl_sock in, const uint8_t *req, size_t len, struct refl_answer *a,
		   struct stun_msg *m)
{
	assert_int_equal(refl_handle(&ctx, in, &client, req, len, a), REFL_ANSWER);
	assert_int_equal(stun_decode(a->buf, a->len, m), 0);
	assert_memory_equal(m->tid, tid, STUN_TID_LEN);
}

static void test_plain_binding(void **state)
{
	uint8_t req[128];
	struct refl_answer a;
	struct stun_msg m;
	(void)state;

	answer(REFL_PP, req, request(req, sizeof(req), 0, 0, 0, 0), &a, &m);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_int_equal(a.out, REFL_PP);
	assert_true(nc_addr_eq(&a.dest, &client));
	assert_true(nc_addr_eq(&m.xor_mapped, &client));
	assert_true(nc_addr_eq(&m.mapped, &client));
	assert_true(nc_addr_eq(&m.response_origin, &ctx.local[REFL_PP]));
	/* OTHER-ADDRESS is the endpoint differing in both address and port (RFC 5780 §6). */
	assert_true(nc_addr_eq(&m.other, &ctx.local[REFL_AA]));
	assert_true(m.has & STUN_HAS_FINGERPRINT);
}

static void test_change_request_table(void **state)
{
	/* RFC 5780 §6 Table 1, from every socket the request can arrive on. */
	static const struct {
		uint32_t flags;
		enum refl_sock in, out;
	} cases[] = {
		{0, REFL_PP, REFL_PP},
		{STUN_CHANGE_IP, REFL_PP, REFL_AP},
		{STUN_CHANGE_PORT, REFL_PP, REFL_PA},
		{STUN_CHANGE_IP | STUN_CHANGE_PORT, REFL_PP, REFL_AA},
		{STUN_CHANGE_IP | STUN_CHANGE_PORT, REFL_AA, REFL_PP},
		{STUN_CHANGE_PORT, REFL_AP, REFL_AA},
		{STUN_CHANGE_IP, REFL_PA, REFL_AA},
	};
	uint8_t req[128];
	struct refl_answer a;
	struct stun_msg m;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		answer(cases[i].in, req, request(req, sizeof(req), cases[i].flags, 0, 0, 0), &a, &m);
		assert_int_equal(a.out, cases[i].out);
		assert_true(nc_addr_eq(&m.response_origin, &ctx.local[cases[i].out]));
		assert_true(nc_addr_eq(&a.dest, &client));
	}
}

static void test_response_port(void **state)
{
	uint8_t req[128];
	struct refl_answer a;
	struct stun_msg m;
	(void)state;

	answer(REFL_PP, req, request(req, sizeof(req), 0, 51000, 0, 0), &a, &m);
	/* Same IP as the requester, the requested port: never another host. */
	assert_true(nc_addr_ip_eq(&a.dest, &client));
	assert_int_equal(a.dest.port, 51000);

	/* PADDING with RESPONSE-PORT is a 400 (RFC 5780 §7.5), sent to the requester. */
	answer(REFL_PP, req, request(req, sizeof(req), 0, 51000, 64, 0), &a, &m);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_int_equal(m.error_code, 400);
	assert_true(nc_addr_eq(&a.dest, &client));
}

static void test_padding_is_bounded(void **state)
{
	static uint8_t req[8192];
	struct refl_answer a;
	struct stun_msg m;
	size_t n;
	(void)state;

	n = request(req, sizeof(req), 0, 0, 1200, 0);
	answer(REFL_PP, req, n, &a, &m);
	assert_int_equal(m.padding_len, 1200);
	/* No amplification: the padded answer is at most the request plus the fixed part. */
	assert_true(a.len <= n + 128);

	/* coturn's natdiscovery -P: 1500 bytes of padding, a request above the MTU. The answer
	 * is padded as much, so it is fragmented on a 1500-byte path too. */
	n = request(req, sizeof(req), STUN_CHANGE_IP | STUN_CHANGE_PORT, 0, 1500, 0);
	answer(REFL_PP, req, n, &a, &m);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_int_equal(m.padding_len, 1500);
	assert_true(a.len > 1500 && a.len <= n + 128);
	assert_int_equal(a.out, REFL_AA);

	/* Larger padding (a jumbo path) is answered with REFL_MAX_PADDING at most. */
	n = request(req, sizeof(req), 0, 0, 8000, 0);
	answer(REFL_PP, req, n, &a, &m);
	assert_int_equal(m.padding_len, REFL_MAX_PADDING);
	assert_true(a.len <= sizeof(a.buf));
}

static void test_errors(void **state)
{
	uint8_t req[128];
	struct refl_answer a;
	struct stun_msg m;
	struct stun_builder b;
	int n;
	(void)state;

	/* Unknown comprehension-required attribute: 420 listing it. */
	answer(REFL_PP, req, request(req, sizeof(req), 0, 0, 0, 0x7F01), &a, &m);
	assert_int_equal(m.error_code, 420);
	assert_int_equal(m.n_unknown_attrs, 1);
	assert_int_equal(m.unknown_attrs[0], 0x7F01);

	/* Single-address server: CHANGE-REQUEST answered 420, no OTHER-ADDRESS (RFC 5780 §6). */
	ctx.has_alternate = false;
	answer(REFL_PP, req, request(req, sizeof(req), STUN_CHANGE_PORT, 0, 0, 0), &a, &m);
	assert_int_equal(m.error_code, 420);
	answer(REFL_PP, req, request(req, sizeof(req), 0, 0, 0, 0), &a, &m);
	assert_false(m.has & STUN_HAS_OTHER);
	ctx.has_alternate = true;

	/* Over TCP the answer cannot leave from another endpoint, nor go to another port:
	 * 420 naming what was refused, back to the requester. A plain request still works. */
	ctx.refuse_change = true;
	answer(REFL_PP, req, request(req, sizeof(req), STUN_CHANGE_IP, 0, 0, 0), &a, &m);
	assert_int_equal(m.error_code, 420);
	assert_int_equal(m.n_unknown_attrs, 1);
	assert_int_equal(m.unknown_attrs[0], STUN_ATTR_CHANGE_REQUEST);
	answer(REFL_PP, req, request(req, sizeof(req), 0, 51000, 0, 0), &a, &m);
	assert_int_equal(m.error_code, 420);
	assert_int_equal(m.n_unknown_attrs, 1);
	assert_int_equal(m.unknown_attrs[0], STUN_ATTR_RESPONSE_PORT);
	assert_true(nc_addr_eq(&a.dest, &client));
	answer(REFL_PA, req, request(req, sizeof(req), STUN_CHANGE_PORT, 51000, 0, 0), &a, &m);
	assert_int_equal(m.error_code, 420);
	assert_int_equal(m.n_unknown_attrs, 2);
	assert_int_equal(a.out, REFL_PA);
	answer(REFL_PP, req, request(req, sizeof(req), 0, 0, 0, 0), &a, &m);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	/* An all-zero CHANGE-REQUEST (stuntman clients always send one) asks for nothing. */
	stun_build_init(&b, req, sizeof(req), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_add_change_request(&b, 0);
	n = stun_build_finish(&b, true);
	answer(REFL_PP, req, (size_t)n, &a, &m);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	ctx.refuse_change = false;

	/* Another method: 400. */
	stun_build_init(&b, req, sizeof(req), 0x002, STUN_CLASS_REQUEST, tid);
	n = stun_build_finish(&b, false);
	answer(REFL_PP, req, (size_t)n, &a, &m);
	assert_int_equal(m.error_code, 400);
}

static void test_silence(void **state)
{
	uint8_t req[128];
	struct refl_answer a;
	struct stun_builder b;
	size_t n;
	int k;
	(void)state;

	/* Responses and indications are never answered (no reflection loops). */
	stun_build_init(&b, req, sizeof(req), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, tid);
	k = stun_build_finish(&b, false);
	assert_int_equal(refl_handle(&ctx, REFL_PP, &client, req, (size_t)k, &a), REFL_DROP_NOT_REQUEST);
	stun_build_init(&b, req, sizeof(req), STUN_METHOD_BINDING, STUN_CLASS_INDICATION, tid);
	k = stun_build_finish(&b, false);
	assert_int_equal(refl_handle(&ctx, REFL_PP, &client, req, (size_t)k, &a), REFL_DROP_NOT_REQUEST);

	/* Every truncation of a valid request, and garbage, gets no answer at all. */
	n = request(req, sizeof(req), STUN_CHANGE_IP, 0, 0, 0);
	for (size_t len = 0; len < n; len++)
		assert_int_equal(refl_handle(&ctx, REFL_PP, &client, req, len, &a), REFL_DROP_MALFORMED);
	memset(req, 0xAB, sizeof(req));
	assert_int_equal(refl_handle(&ctx, REFL_PP, &client, req, sizeof(req), &a), REFL_DROP_MALFORMED);
}

static void test_classic_request(void **state)
{
	uint8_t req[20] = {0x00, 0x01, 0x00, 0x00};
	struct refl_answer a;
	struct stun_msg m;
	(void)state;

	/* RFC 3489: a 16-byte transaction id, no cookie; answered with MAPPED-ADDRESS,
	 * SOURCE-ADDRESS and CHANGED-ADDRESS, echoing all 16 bytes. */
	for (int i = 4; i < 20; i++)
		req[i] = (uint8_t)(0x40 + i);
	assert_int_equal(refl_handle(&ctx, REFL_PP, &client, req, sizeof(req), &a), REFL_ANSWER);
	assert_int_equal(stun_decode(a.buf, a.len, &m), 0);
	assert_true(m.classic);
	assert_memory_equal(a.buf + 4, req + 4, 16);
	assert_true(nc_addr_eq(&m.mapped, &client));
	assert_true(nc_addr_eq(&m.source, &ctx.local[REFL_PP]));
	assert_true(nc_addr_eq(&m.changed, &ctx.local[REFL_AA]));
	assert_false(m.has & STUN_HAS_XOR_MAPPED);
}

static void test_classic_change_request(void **state)
{
	/* What Debian's `stun` client sends for its tests II and III: RFC 3489 header (no
	 * cookie) with CHANGE-REQUEST. The answer leaves from the changed endpoint and says so
	 * in SOURCE-ADDRESS; CHANGED-ADDRESS stays the receiving socket's "other". */
	uint8_t req[28] = {0x00, 0x01, 0x00, 0x08};
	struct refl_answer a;
	struct stun_msg m;
	(void)state;

	for (int i = 4; i < 20; i++)
		req[i] = (uint8_t)(0x80 + i);
	req[20] = 0x00, req[21] = 0x03, req[22] = 0x00, req[23] = 0x04; /* CHANGE-REQUEST */
	req[27] = STUN_CHANGE_IP | STUN_CHANGE_PORT;
	assert_int_equal(refl_handle(&ctx, REFL_PP, &client, req, sizeof(req), &a), REFL_ANSWER);
	assert_int_equal(a.out, REFL_AA);
	assert_int_equal(stun_decode(a.buf, a.len, &m), 0);
	assert_true(m.classic);
	assert_true(nc_addr_eq(&m.source, &ctx.local[REFL_AA]));
	assert_true(nc_addr_eq(&m.changed, &ctx.local[REFL_AA]));
	req[27] = STUN_CHANGE_PORT;
	assert_int_equal(refl_handle(&ctx, REFL_PP, &client, req, sizeof(req), &a), REFL_ANSWER);
	assert_int_equal(a.out, REFL_PA);

	/* Single address: 420, and no CHANGED-ADDRESS on plain answers. */
	ctx.has_alternate = false;
	assert_int_equal(refl_handle(&ctx, REFL_PP, &client, req, sizeof(req), &a), REFL_ANSWER);
	assert_int_equal(stun_decode(a.buf, a.len, &m), 0);
	assert_int_equal(m.error_code, 420);
	req[27] = 0;
	assert_int_equal(refl_handle(&ctx, REFL_PP, &client, req, sizeof(req), &a), REFL_ANSWER);
	assert_int_equal(stun_decode(a.buf, a.len, &m), 0);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_false(m.has & STUN_HAS_CHANGED);
}

static void test_no_amplification(void **state)
{
	/* The smallest request (a bare 20-byte header) gets the largest plain answer; it stays
	 * within a small fixed factor, and RESPONSE-PORT never changes the destination IP. */
	uint8_t req[128];
	struct refl_answer a;
	struct stun_msg m;
	struct stun_builder b;
	int k;
	(void)state;

	answer(REFL_PP, req, request(req, sizeof(req), 0, 0, 0, 0), &a, &m);
	assert_true(a.len <= 20 * 6);
	for (unsigned port = 1; port < 65536; port += 997) {
		answer(REFL_AA, req, request(req, sizeof(req), STUN_CHANGE_IP, (uint16_t)port, 0, 0), &a, &m);
		assert_true(nc_addr_ip_eq(&a.dest, &client));
		assert_int_equal(a.dest.port, port);
	}
	/* RFC 3489 RESPONSE-ADDRESS would aim the answer at any host: never obeyed (RFC 5780
	 * dropped it); the answer goes to the requester as usual. */
	{
		struct nc_addr victim = ep("192.0.2.99:53");
		stun_build_init(&b, req, sizeof(req), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
		stun_add_addr(&b, STUN_ATTR_RESPONSE_ADDRESS, &victim);
		k = stun_build_finish(&b, true);
		answer(REFL_PP, req, (size_t)k, &a, &m);
		assert_true(nc_addr_eq(&a.dest, &client));
	}
	/* RESPONSE-PORT 0 names no port: silence. */
	stun_build_init(&b, req, sizeof(req), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	stun_add_response_port(&b, 0);
	k = stun_build_finish(&b, true);
	assert_int_not_equal(refl_handle(&ctx, REFL_PP, &client, req, (size_t)k, &a), REFL_ANSWER);
}

static void test_rate_limit(void **state)
{
	static struct ratelimit rl;
	struct nc_addr other = ep("203.0.113.8:1");
	unsigned ok = 0;
	(void)state;

	/* 10 packets/s, burst 5: five pass at once, the sixth waits for refill. */
	rl_init(&rl, 10, 5, 1e9);
	for (int i = 0; i < 8; i++)
		ok += rl_allow(&rl, &client, 1000000, 100);
	assert_int_equal(ok, 5);
	assert_false(rl_allow(&rl, &client, 1000000, 100));
	assert_true(rl_allow(&rl, &client, 1100000, 100)); /* 0.1 s later: one token */
	assert_true(rl_allow(&rl, &other, 1100000, 100));  /* other sources are separate */
	rl_destroy(&rl);

	/* The byte budget: 1000 B/s, two seconds of burst. */
	rl_init(&rl, 1e9, 1e9, 1000);
	assert_true(rl_allow(&rl, &client, 0, 1500));
	assert_false(rl_allow(&rl, &client, 0, 600));
	assert_true(rl_allow(&rl, &client, 1000000, 600));
	rl_destroy(&rl);
}

static void test_rate_table_is_bounded(void **state)
{
	static struct ratelimit rl;
	struct nc_addr a = client;
	(void)state;

	/* Far more sources than slots: the table stays the same size and evicts. */
	rl_init(&rl, 10, 5, 1e9);
	for (uint32_t i = 0; i < 4 * RL_SLOTS; i++) {
		a.ip[0] = (uint8_t)(i >> 24);
		a.ip[1] = (uint8_t)(i >> 16);
		a.ip[2] = (uint8_t)(i >> 8);
		a.ip[3] = (uint8_t)i;
		assert_true(rl_allow(&rl, &a, 1000, 100));
	}
	assert_true(rl.evictions > 2 * RL_SLOTS);
	rl_destroy(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_plain_binding, setup),
		cmocka_unit_test_setup(test_change_request_table, setup),
		cmocka_unit_test_setup(test_response_port, setup),
		cmocka_unit_test_setup(test_padding_is_bounded, setup),
		cmocka_unit_test_setup(test_errors, setup),
		cmocka_unit_test_setup(test_silence, setup),
		cmocka_unit_test_setup(test_classic_request, setup),
		cmocka_unit_test_setup(test_classic_change_request, setup),
		cmocka_unit_test_setup(test_no_amplification, setup),
		cmocka_unit_test_setup(test_rate_limit, setup),
		cmocka_unit_test_setup(test_rate_table_is_bounded, setup),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
