/* Transport sessions and the replay window: sealing and opening under both AEADs, refusals of
 * modified packets and of a packet under another key, the window's edges (in order, reordered,
 * duplicates, older than the window, a jump past the ring), the reject and rekey limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <sodium.h>
#include <string.h>

#include "replay.h"
#include "transport.h"

static void test_replay_window(void **state)
{
	struct replay r;
	(void)state;

	replay_init(&r);
	assert_true(replay_check(&r, 0));
	assert_true(replay_update(&r, 0));
	assert_false(replay_check(&r, 0));
	assert_false(replay_update(&r, 0));
	assert_true(replay_update(&r, 5));
	assert_true(replay_update(&r, 3)); /* reordered, inside the window */
	assert_false(replay_update(&r, 3));
	assert_true(replay_update(&r, 1));
	/* Forward so that 6 is the oldest counter still inside the window: 5 has dropped out
	 * (refused although never seen), 6 is accepted. */
	assert_true(replay_update(&r, 5 + REPLAY_WINDOW));
	assert_false(replay_update(&r, 5));
	assert_true(replay_check(&r, 6));
	assert_true(replay_update(&r, 6));
	/* One past the window's edge. */
	assert_false(replay_check(&r, 4));
	assert_false(replay_update(&r, 4));
	/* A jump much longer than the ring clears everything below. */
	assert_true(replay_update(&r, 1000000));
	assert_false(replay_update(&r, 1000000));
	assert_true(replay_update(&r, 1000000 - REPLAY_WINDOW + 1));
	assert_false(replay_update(&r, 1000000 - REPLAY_WINDOW - 1));
	/* Every counter in a long reordered stream is accepted exactly once. */
	replay_init(&r);
	for (uint64_t base = 0; base < 100000; base += 64)
		for (int i = 63; i >= 0; i--)
			assert_true(replay_update(&r, base + (uint64_t)i));
	for (uint64_t c = 100000 - REPLAY_WINDOW; c < 100000; c++)
		assert_false(replay_update(&r, c));
	assert_false(replay_update(&r, REPLAY_COUNTER_LIMIT));
	assert_true(REPLAY_WINDOW >= 2048);
}

static void pair(struct tp_session *a, struct tp_session *b, enum tp_cipher c)
{
	uint8_t k1[32], k2[32];

	randombytes_buf(k1, 32);
	randombytes_buf(k2, 32);
	assert_int_equal(tp_session_init(a, c, k1, k2, 1, 2, true, 0), 0);
	assert_int_equal(tp_session_init(b, c, k2, k1, 2, 1, false, 0), 0);
}

static void roundtrip(enum tp_cipher c)
{
	struct tp_session a, b, other_a, other_b;
	uint8_t pt[1500], pkt[1600], out[1600], bad[1600];
	struct wire_msg m;
	uint64_t ctr;
	size_t n;

	pair(&a, &b, c);
	pair(&other_a, &other_b, c);
	randombytes_buf(pt, sizeof(pt));
	for (int i = 0; i < 3; i++) {
		assert_true(tp_next_counter(&a, 0, &tp_default_limits, &ctr));
		assert_int_equal(ctr, (uint64_t)i);
		n = tp_seal(&a, ctr, pt, 1400, pkt);
		assert_int_equal(n, 1400 + WIRE_DATA_OVERHEAD);
		assert_int_equal(wire_decode(pkt, n, &m), 0);
		assert_true(m.counter == ctr);
		assert_int_equal(tp_open(&b, &m, pkt, out), 1400);
		assert_memory_equal(out, pt, 1400);
		/* Modified header (counter) or body: refused. */
		for (size_t at = 8; at < n; at += 97) {
			memcpy(bad, pkt, n);
			bad[at] ^= 1;
			assert_int_equal(wire_decode(bad, n, &m), 0);
			assert_int_equal(tp_open(&b, &m, bad, out), -NC_E_AUTH);
		}
		/* Another session's keys: refused. */
		assert_int_equal(wire_decode(pkt, n, &m), 0);
		assert_int_equal(tp_open(&other_b, &m, pkt, out), -NC_E_AUTH);
	}
	/* A keepalive: empty payload. */
	assert_true(tp_next_counter(&a, 0, &tp_default_limits, &ctr));
	n = tp_seal(&a, ctr, NULL, 0, pkt);
	assert_int_equal(wire_decode(pkt, n, &m), 0);
	assert_int_equal(tp_open(&b, &m, pkt, out), 0);
	tp_session_wipe(&a);
	assert_true(sodium_is_zero(a.send_key, 32));
}

static void test_chacha(void **state)
{
	(void)state;
	roundtrip(TP_CHACHA20POLY1305);
}

static void test_aes(void **state)
{
	(void)state;
	if (!tp_aes_available()) {
		struct tp_session s;
		uint8_t k[32] = {0};
		assert_int_equal(tp_session_init(&s, TP_AES256GCM, k, k, 1, 2, true, 0),
				 -NC_E_UNSUPPORTED);
		skip();
	}
	roundtrip(TP_AES256GCM);
}

static void test_limits(void **state)
{
	struct tp_session a, b;
	struct tp_limits lim = {.rekey_after_ms = 100, .reject_after_ms = 200,
				.rekey_after_msgs = 3, .reject_after_msgs = 5};
	uint64_t ctr;
	(void)state;

	pair(&a, &b, TP_CHACHA20POLY1305);
	assert_false(tp_wants_rekey(&a, 0, &lim));
	for (int i = 0; i < 3; i++)
		assert_true(tp_next_counter(&a, 10, &lim, &ctr));
	assert_true(tp_wants_rekey(&a, 10, &lim)); /* volume */
	assert_true(tp_next_counter(&a, 10, &lim, &ctr));
	assert_true(tp_next_counter(&a, 10, &lim, &ctr));
	assert_false(tp_next_counter(&a, 10, &lim, &ctr)); /* reject by count */
	/* Age: the initiator rekeys, the responder does not (until its own volume runs out). */
	assert_true(tp_wants_rekey(&a, 150, &lim) && !tp_wants_rekey(&b, 150, &lim));
	assert_false(tp_expired(&b, 150, &lim));
	assert_true(tp_expired(&b, 200, &lim));
	assert_false(tp_next_counter(&b, 200, &lim, &ctr)); /* reject by age */

	/* A clock read on another thread just before the session was born: age 0, not expired. */
	pair(&a, &b, TP_CHACHA20POLY1305);
	a.birth_ms = b.birth_ms = 1000;
	assert_false(tp_expired(&b, 999, &lim));
	assert_false(tp_wants_rekey(&a, 999, &lim));
	assert_true(tp_next_counter(&b, 999, &lim, &ctr));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_chacha),
		cmocka_unit_test(test_aes),
		cmocka_unit_test(test_limits),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
