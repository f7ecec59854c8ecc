/* Transport sessions and the replay window: sealing and opening under both AEADs, refusals of
 * modified packets and of a packet under another key, the window's edges (in order, reordered,
 * duplicates, older than the window, a jump past the ring), the reject and rekey limits.
 * AES-256-GCM (OpenSSL's, per thread) against libsodium's as a second implementation: same
 * bytes both ways; a session re-keyed at the same address; two threads sealing at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <pthread.h>
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

static void nonce_for(uint8_t nonce[12], uint64_t ctr)
{
	memset(nonce, 0, 12);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(ctr >> (8 * i));
}

/* The transport's AES-256-GCM is the standard one: libsodium opens what tp_seal made and
 * tp_open opens what libsodium made (nonce 0^4 || counter LE, the header as associated data). */
static void test_aes_interop(void **state)
{
	struct tp_session a, b;
	uint8_t pt[1420], pkt[1500], out[1500], nonce[12];
	unsigned long long clen, plen;
	struct wire_msg m;
	uint64_t ctr;
	size_t n;
	(void)state;

	if (!tp_aes_available())
		skip();
	pair(&a, &b, TP_AES256GCM);
	randombytes_buf(pt, sizeof(pt));
	for (size_t len = 0; len <= sizeof(pt); len += 355) {
		assert_true(tp_next_counter(&a, 0, &tp_default_limits, &ctr));
		n = tp_seal(&a, ctr, pt, len, pkt);
		assert_int_equal(n, len + WIRE_DATA_OVERHEAD);
		nonce_for(nonce, ctr);
		assert_int_equal(crypto_aead_aes256gcm_decrypt(out, &plen, NULL, pkt + WIRE_DATA_HDR,
							       n - WIRE_DATA_HDR, pkt, WIRE_DATA_HDR,
							       nonce, a.send_key), 0);
		assert_int_equal(plen, len);
		assert_memory_equal(out, pt, len);

		/* The other way: libsodium seals as b would, tp_open opens. */
		wire_put_data_hdr(pkt, b.remote_index, ctr);
		crypto_aead_aes256gcm_encrypt(pkt + WIRE_DATA_HDR, &clen, pt, len, pkt,
					      WIRE_DATA_HDR, NULL, nonce, b.send_key);
		assert_int_equal(wire_decode(pkt, WIRE_DATA_HDR + (size_t)clen, &m), 0);
		assert_int_equal(tp_open(&a, &m, pkt, out), (int)len);
		assert_memory_equal(out, pt, len);
	}
}

/* A thread's cipher context follows the session it is handed: re-initialised at the same
 * address with new keys, a session seals under the new keys, and the old peer refuses it. */
static void test_aes_rekey_same_address(void **state)
{
	struct tp_session a, b, old_b;
	uint8_t pt[64] = "after the rekey", pkt[256], out[256];
	struct wire_msg m;
	uint64_t ctr;
	size_t n;
	(void)state;

	if (!tp_aes_available())
		skip();
	pair(&a, &old_b, TP_AES256GCM);
	assert_true(tp_next_counter(&a, 0, &tp_default_limits, &ctr));
	n = tp_seal(&a, ctr, pt, sizeof(pt), pkt);
	assert_int_equal(wire_decode(pkt, n, &m), 0);
	assert_int_equal(tp_open(&old_b, &m, pkt, out), (int)sizeof(pt));
	tp_session_wipe(&a);
	pair(&a, &b, TP_AES256GCM); /* same addresses, new keys */
	assert_true(tp_next_counter(&a, 0, &tp_default_limits, &ctr));
	n = tp_seal(&a, ctr, pt, sizeof(pt), pkt);
	assert_int_equal(wire_decode(pkt, n, &m), 0);
	assert_int_equal(tp_open(&b, &m, pkt, out), (int)sizeof(pt));
	assert_memory_equal(out, pt, sizeof(pt));
	assert_int_equal(tp_open(&old_b, &m, pkt, out), -NC_E_AUTH);
}

#define THREAD_PKTS 2000
struct sealer {
	struct tp_session *s;
	uint8_t (*pkts)[160];
};

static void *seal_many(void *arg)
{
	struct sealer *w = arg;
	uint8_t pt[100];

	for (int i = 0; i < THREAD_PKTS; i++) {
		uint64_t ctr;
		memset(pt, i & 0xff, sizeof(pt));
		if (!tp_next_counter(w->s, 0, &tp_default_limits, &ctr) ||
		    tp_seal(w->s, ctr, pt, sizeof(pt), w->pkts[i]) != sizeof(pt) + WIRE_DATA_OVERHEAD)
			return (void *)1;
	}
	return NULL;
}

/* Two threads seal on one session at once (as the TX thread and a keepalive would): each
 * has its own context, every packet opens, and no counter is used twice. */
static void test_aes_two_threads(void **state)
{
	static uint8_t pkts[2][THREAD_PKTS][160];
	struct tp_session a, b;
	struct sealer w[2] = {{&a, pkts[0]}, {&a, pkts[1]}};
	pthread_t t[2];
	void *rv;
	(void)state;

	if (!tp_aes_available())
		skip();
	pair(&a, &b, TP_AES256GCM);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, seal_many, &w[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], &rv), 0);
		assert_null(rv);
	}
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < THREAD_PKTS; j++) {
			struct wire_msg m;
			uint8_t out[160];
			assert_int_equal(wire_decode(pkts[i][j], 100 + WIRE_DATA_OVERHEAD, &m), 0);
			assert_int_equal(tp_open(&b, &m, pkts[i][j], out), 100);
			assert_int_equal(out[0], j & 0xff);
			assert_true(replay_update(&b.replay, m.counter));
		}
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
		cmocka_unit_test(test_aes_interop),
		cmocka_unit_test(test_aes_rekey_same_address),
		cmocka_unit_test(test_aes_two_threads),
		cmocka_unit_test(test_limits),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
