/* punchvpn's handshake: interop between our initiator and responder, both AEADs agreeing on
 * keys, and the refusals: wrong responder key, an unknown initiator (caller's lookup), every
 * modified byte, a replayed initiation, initiations too close together, a source over its
 * rate, a response to no pending handshake, a forged response that leaves the real one usable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#include "handshake.h"
#include "key.h"

struct two {
	uint8_t ipriv[32], rpriv[32];
	struct hs_local il, rl;
	struct hs_peer i_sees_r, r_sees_i;
};

static void two_init(struct two *t)
{
	vpn_key_generate(t->ipriv);
	vpn_key_generate(t->rpriv);
	assert_int_equal(hs_local_init(&t->il, t->ipriv), 0);
	assert_int_equal(hs_local_init(&t->rl, t->rpriv), 0);
	hs_peer_init(&t->i_sees_r, t->rl.pub);
	hs_peer_init(&t->r_sees_i, t->il.pub);
}

static struct nc_addr src_of(const char *ip)
{
	struct nc_addr a;
	assert_int_equal(nc_addr_parse(ip, 5000, &a), 0);
	return a;
}

/* A full handshake; returns the sessions. */
static void handshake(struct two *t, uint64_t now, struct tp_session *is, struct tp_session *rs)
{
	uint8_t init[WIRE_INIT_LEN], resp[WIRE_RESP_LEN];
	struct wire_msg m;
	struct hs_init hi;
	struct nc_addr src = src_of("192.0.2.1");

	assert_int_equal(hs_initiation(&t->il, &t->i_sees_r, 0x11111111, init), 0);
	assert_int_equal(wire_decode(init, sizeof(init), &m), 0);
	assert_int_equal(m.type, WIRE_INIT);
	assert_int_equal(hs_consume_initiation(&t->rl, &m, init, &src, now, &hi), 0);
	assert_memory_equal(hi.peer_pub, t->il.pub, 32);
	assert_int_equal(hs_respond(&t->r_sees_i, &hi, 0x22222222, now, resp, rs), 0);
	assert_int_equal(wire_decode(resp, sizeof(resp), &m), 0);
	assert_int_equal(m.receiver, 0x11111111);
	assert_int_equal(hs_consume_response(&t->il, &t->i_sees_r, &m, resp, now, is), 0);
}

static void test_interop(void **state)
{
	struct two t;
	struct tp_session is, rs;
	uint8_t pkt[200], out[200];
	struct wire_msg m;
	uint64_t ctr;
	(void)state;

	two_init(&t);
	handshake(&t, 1000, &is, &rs);
	assert_memory_equal(is.send_key, rs.recv_key, 32);
	assert_memory_equal(is.recv_key, rs.send_key, 32);
	assert_memory_not_equal(is.send_key, is.recv_key, 32);
	assert_int_equal(is.cipher, rs.cipher);
	assert_int_equal(is.cipher, tp_aes_available() ? TP_AES256GCM : TP_CHACHA20POLY1305);
	assert_int_equal(is.remote_index, 0x22222222);
	assert_int_equal(rs.remote_index, 0x11111111);
	assert_true(is.initiator && !rs.initiator);

	/* Data both ways. */
	assert_true(tp_next_counter(&is, 1000, &tp_default_limits, &ctr));
	size_t n = tp_seal(&is, ctr, (const uint8_t *)"ping", 4, pkt);
	assert_int_equal(wire_decode(pkt, n, &m), 0);
	assert_int_equal(m.receiver, 0x22222222);
	assert_int_equal(tp_open(&rs, &m, pkt, out), 4);
	assert_memory_equal(out, "ping", 4);
	assert_true(tp_next_counter(&rs, 1000, &tp_default_limits, &ctr));
	n = tp_seal(&rs, ctr, (const uint8_t *)"pong", 4, pkt);
	assert_int_equal(wire_decode(pkt, n, &m), 0);
	assert_int_equal(tp_open(&is, &m, pkt, out), 4);
	/* A second handshake gives different keys (fresh ephemerals: forward secrecy). */
	struct tp_session is2, rs2;
	handshake(&t, 2000, &is2, &rs2);
	assert_memory_not_equal(is.send_key, is2.send_key, 32);
}

static void test_wrong_key_and_unknown_peer(void **state)
{
	struct two t, u;
	uint8_t init[WIRE_INIT_LEN];
	struct wire_msg m;
	struct hs_init hi;
	struct nc_addr src = src_of("192.0.2.1");
	(void)state;

	two_init(&t);
	two_init(&u);
	/* The initiator addresses u's responder key but t's responder receives it: mac1 fails. */
	assert_int_equal(hs_initiation(&t.il, &u.i_sees_r, 1, init), 0);
	assert_int_equal(wire_decode(init, sizeof(init), &m), 0);
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &src, 0, &hi), -NC_E_AUTH);
	/* u's initiator, correctly addressed to t's responder: authenticates, but its key is not
	 * t's configured peer: hs_respond refuses it for that peer. */
	hs_peer_init(&u.i_sees_r, t.rl.pub);
	assert_int_equal(hs_initiation(&u.il, &u.i_sees_r, 1, init), 0);
	assert_int_equal(wire_decode(init, sizeof(init), &m), 0);
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &src, 0, &hi), 0);
	assert_memory_equal(hi.peer_pub, u.il.pub, 32);
	struct tp_session s;
	uint8_t resp[WIRE_RESP_LEN];
	assert_int_equal(hs_respond(&t.r_sees_i, &hi, 2, 0, resp, &s), -NC_E_INVALID);
}

static void test_modified_initiation(void **state)
{
	struct two t;
	uint8_t init[WIRE_INIT_LEN], bad[WIRE_INIT_LEN];
	struct wire_msg m;
	struct hs_init hi;
	struct nc_addr src = src_of("192.0.2.1");
	(void)state;

	two_init(&t);
	assert_int_equal(hs_initiation(&t.il, &t.i_sees_r, 7, init), 0);
	for (size_t at = 0; at < sizeof(init); at++) {
		memcpy(bad, init, sizeof(bad));
		bad[at] ^= 0x04;
		if (wire_decode(bad, sizeof(bad), &m) != 0)
			continue; /* type or reserved bytes: refused by the decoder */
		/* A fresh bucket each time: this is about authentication, not the rate. */
		hsrl_init(&t.rl.rl, HS_RATE_PER_SECOND, HS_RATE_BURST);
		assert_int_equal(hs_consume_initiation(&t.rl, &m, bad, &src, 0, &hi), -NC_E_AUTH);
	}
}

static void test_replayed_initiation(void **state)
{
	struct two t;
	uint8_t init[WIRE_INIT_LEN], old[WIRE_INIT_LEN], resp[WIRE_RESP_LEN];
	struct wire_msg m;
	struct hs_init hi;
	struct tp_session s;
	struct nc_addr src = src_of("192.0.2.1");
	(void)state;

	two_init(&t);
	assert_int_equal(hs_initiation(&t.il, &t.i_sees_r, 7, old), 0);
	assert_int_equal(hs_initiation(&t.il, &t.i_sees_r, 8, init), 0);
	assert_int_equal(wire_decode(init, sizeof(init), &m), 0);
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &src, 1000, &hi), 0);
	assert_int_equal(hs_respond(&t.r_sees_i, &hi, 9, 1000, resp, &s), 0);
	/* The same initiation again, much later: authenticates but its timestamp is not newer. */
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &src, 5000, &hi), 0);
	assert_int_equal(hs_respond(&t.r_sees_i, &hi, 10, 5000, resp, &s), -NC_E_PROTOCOL);
	/* An older one recorded earlier: likewise. */
	assert_int_equal(wire_decode(old, sizeof(old), &m), 0);
	assert_int_equal(hs_consume_initiation(&t.rl, &m, old, &src, 6000, &hi), 0);
	assert_int_equal(hs_respond(&t.r_sees_i, &hi, 11, 6000, resp, &s), -NC_E_PROTOCOL);
	/* A new one soon after an accepted one: too close (flood of valid initiations). */
	assert_int_equal(hs_initiation(&t.il, &t.i_sees_r, 12, init), 0);
	assert_int_equal(wire_decode(init, sizeof(init), &m), 0);
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &src, 1005, &hi), 0);
	assert_int_equal(hs_respond(&t.r_sees_i, &hi, 13, 1005, resp, &s), -NC_E_RATE_LIMITED);
	/* ...but the same one later is fine: nothing was committed by the refusals. */
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &src, 7000, &hi), 0);
	assert_int_equal(hs_respond(&t.r_sees_i, &hi, 13, 7000, resp, &s), 0);
}

static void test_source_rate(void **state)
{
	struct two t;
	uint8_t init[WIRE_INIT_LEN];
	struct wire_msg m;
	struct hs_init hi;
	struct nc_addr a = src_of("192.0.2.1"), b = src_of("192.0.2.2");
	int ok = 0;
	(void)state;

	two_init(&t);
	assert_int_equal(hs_initiation(&t.il, &t.i_sees_r, 7, init), 0);
	assert_int_equal(wire_decode(init, sizeof(init), &m), 0);
	for (int i = 0; i < 100; i++)
		ok += hs_consume_initiation(&t.rl, &m, init, &a, 1000, &hi) == 0;
	assert_int_equal(ok, HS_RATE_BURST);
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &a, 1000, &hi), -NC_E_RATE_LIMITED);
	/* Another source is not affected; the first refills with time. */
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &b, 1000, &hi), 0);
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &a, 1000 + 1000 / HS_RATE_PER_SECOND, &hi), 0);
}

static void test_responses(void **state)
{
	struct two t;
	uint8_t init[WIRE_INIT_LEN], resp[WIRE_RESP_LEN], bad[WIRE_RESP_LEN];
	struct wire_msg m, mb;
	struct hs_init hi;
	struct tp_session rs, is;
	struct nc_addr src = src_of("192.0.2.1");
	(void)state;

	two_init(&t);
	assert_int_equal(hs_initiation(&t.il, &t.i_sees_r, 0x51, init), 0);
	assert_int_equal(wire_decode(init, sizeof(init), &m), 0);
	assert_int_equal(hs_consume_initiation(&t.rl, &m, init, &src, 1000, &hi), 0);
	assert_int_equal(hs_respond(&t.r_sees_i, &hi, 0x52, 1000, resp, &rs), 0);
	assert_int_equal(wire_decode(resp, sizeof(resp), &m), 0);
	/* Every modified byte is refused, and the pending handshake survives each. */
	for (size_t at = 0; at < sizeof(resp); at++) {
		memcpy(bad, resp, sizeof(bad));
		bad[at] ^= 0x20;
		if (wire_decode(bad, sizeof(bad), &mb) != 0)
			continue;
		assert_true(hs_consume_response(&t.il, &t.i_sees_r, &mb, bad, 1000, &is) < 0);
	}
	assert_int_equal(hs_consume_response(&t.il, &t.i_sees_r, &m, resp, 1000, &is), 0);
	/* Replayed response: nothing pending any more. */
	assert_int_equal(hs_consume_response(&t.il, &t.i_sees_r, &m, resp, 1000, &is), -NC_E_PROTOCOL);
}

static void test_wire_decode(void **state)
{
	uint8_t buf[200];
	struct wire_msg m;
	(void)state;

	memset(buf, 0, sizeof(buf));
	buf[0] = WIRE_INIT;
	assert_int_equal(wire_decode(buf, WIRE_INIT_LEN, &m), 0);
	assert_int_equal(wire_decode(buf, WIRE_INIT_LEN - 1, &m), -NC_E_TRUNCATED);
	assert_int_equal(wire_decode(buf, WIRE_INIT_LEN + 1, &m), -NC_E_TRUNCATED);
	buf[0] = WIRE_RESP;
	assert_int_equal(wire_decode(buf, WIRE_RESP_LEN, &m), 0);
	assert_int_equal(m.mac_off, WIRE_RESP_LEN - WIRE_MAC_LEN);
	buf[0] = WIRE_DATA;
	assert_int_equal(wire_decode(buf, WIRE_DATA_OVERHEAD, &m), 0);
	assert_int_equal(m.ct_len, WIRE_TAG_LEN);
	assert_int_equal(wire_decode(buf, WIRE_DATA_OVERHEAD - 1, &m), -NC_E_TRUNCATED);
	wire_put_data_hdr(buf, 0xA1B2C3D4, 0x0102030405060708ull);
	assert_int_equal(wire_decode(buf, 100, &m), 0);
	assert_int_equal(m.receiver, 0xA1B2C3D4);
	assert_true(m.counter == 0x0102030405060708ull);
	buf[2] = 1;
	assert_int_equal(wire_decode(buf, 100, &m), -NC_E_MALFORMED);
	buf[2] = 0;
	buf[0] = 3;
	assert_int_equal(wire_decode(buf, 100, &m), -NC_E_MALFORMED);
	assert_int_equal(wire_decode(buf, 0, &m), -NC_E_TRUNCATED);
	assert_int_equal(wire_decode(buf, 3, &m), -NC_E_TRUNCATED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interop),
		cmocka_unit_test(test_wrong_key_and_unknown_peer),
		cmocka_unit_test(test_modified_initiation),
		cmocka_unit_test(test_replayed_initiation),
		cmocka_unit_test(test_source_rate),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_wire_decode),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
