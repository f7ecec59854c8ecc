/* The coordination codec (vpn/lib/coord.c): round trips of REGISTER, REGISTERED and INTRO at
 * their maximum counts, both sides deriving one box key, and the refusals: a wrong key, every
 * truncation, every flipped byte, bad endpoint families, reserved bytes, counts over their
 * maximum, trailing bytes, bad profiles; the relay header. Bodies the encoder would never make
 * are sealed by hand here, so the decoder's checks are reached behind a valid box. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <natcheck/result.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The reflector has a coord.h of its own on the test include path: name ours by its place. */
#include "../../vpn/lib/coord.h"
#include "key.h"

struct keys {
	uint8_t cpriv[32], cpub[32], spriv[32], spub[32];
	uint8_t ck[32], sk[32]; /* the client's and the server's view of one box key */
};

static void keys_init(struct keys *k)
{
	vpn_key_generate(k->cpriv);
	vpn_key_generate(k->spriv);
	assert_int_equal(vpn_key_public(k->cpub, k->cpriv), 0);
	assert_int_equal(vpn_key_public(k->spub, k->spriv), 0);
	assert_int_equal(coord_shared_key(k->ck, k->cpriv, k->spub), 0);
	assert_int_equal(coord_shared_key(k->sk, k->spriv, k->cpub), 0);
	assert_memory_equal(k->ck, k->sk, 32);
}

static struct nc_addr ep(const char *s)
{
	struct nc_addr a;
	assert_int_equal(nc_addr_parse(s, 1, &a), 0);
	return a;
}

static void full_profile(struct coord_profile *p)
{
	memset(p, 0, sizeof(*p));
	p->measured = true;
	p->mapping = NC_BEH_EI;
	p->filtering = NC_BEH_APD;
	p->allocation = NC_ALLOC_SEQUENTIAL;
	p->port_step = -2;
	p->lifetime_s = 65535;
	p->udp_blocked = NC_TRI_NO;
	p->tcp_punchable = NC_TRI_YES;
	p->hairpin = NC_TRI_UNKNOWN;
	p->portmap = COORD_PM_PCP;
	p->portmap_ep = ep("[2001:db8::7]:4500");
}

static void full_register(struct coord_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = COORD_REGISTER;
	m->ts_ms = 0x0123456789abcdefULL;
	full_profile(&m->u.reg.prof);
	for (size_t i = 0; i < COORD_MAX_LOCAL; i++) {
		char s[64];
		snprintf(s, sizeof(s), i % 2 ? "10.0.0.%zu:%zu" : "[fd00::%zu]:%zu", i + 1,
			 1000 + i);
		m->u.reg.local[i] = ep(s);
	}
	m->u.reg.n_local = COORD_MAX_LOCAL;
	for (size_t i = 0; i < COORD_MAX_WANTS; i++)
		memset(m->u.reg.wants[i], (int)(i + 1), VPN_KEY_LEN);
	m->u.reg.n_wants = COORD_MAX_WANTS;
}

static void full_intro(struct coord_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = COORD_INTRO;
	m->ts_ms = 1700000000000ULL;
	memset(m->u.intro.peer, 0xab, VPN_KEY_LEN);
	m->u.intro.relay_id = 0xdeadbeef;
	m->u.intro.observed = ep("198.51.100.9:40000");
	full_profile(&m->u.intro.prof);
	for (size_t i = 0; i < COORD_MAX_LOCAL; i++)
		m->u.intro.local[i] = ep("192.168.1.2:51820");
	m->u.intro.n_local = COORD_MAX_LOCAL;
}

static void assert_msg_equal(const struct coord_msg *a, const struct coord_msg *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_true(a->ts_ms == b->ts_ms);
	/* Every struct is memset before filling on both sides, so whole-struct compares hold. */
	assert_memory_equal(&a->u, &b->u, sizeof(a->u));
}

/* A body sealed by hand: the decoder's checks behind a box that opens. */
static size_t seal_raw(const struct keys *k, const uint8_t *body, size_t blen, uint8_t *out)
{
	out[0] = COORD_TYPE;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, k->cpub, 32);
	randombytes_buf(out + 36, 24);
	assert_int_equal(crypto_box_easy_afternm(out + COORD_HDR_LEN, body, blen, out + 36, k->ck),
			 0);
	return COORD_HDR_LEN + COORD_TAG_LEN + blen;
}

/* The plaintext body of a sealed datagram (opened with the raw primitive). */
static size_t body_of(const struct keys *k, const uint8_t *dg, size_t len, uint8_t *body)
{
	assert_int_equal(crypto_box_open_easy_afternm(body, dg + COORD_HDR_LEN, len - COORD_HDR_LEN,
						      dg + 36, k->sk),
			 0);
	return len - COORD_HDR_LEN - COORD_TAG_LEN;
}

static int open_raw(const struct keys *k, const uint8_t *body, size_t blen, struct coord_msg *m)
{
	uint8_t dg[2048];
	size_t n = seal_raw(k, body, blen, dg);
	return coord_unseal(k->sk, dg, n, m);
}

static void round_trip(const struct coord_msg *m, size_t expect_len)
{
	struct keys k;
	uint8_t dg[COORD_MAX_DATAGRAM], pub[32];
	struct coord_msg got;
	int n;

	keys_init(&k);
	n = coord_seal(k.ck, k.cpub, m, dg, sizeof(dg));
	assert_int_equal(n, (int)expect_len);
	assert_int_equal(coord_peek_sender(dg, (size_t)n, pub), 0);
	assert_memory_equal(pub, k.cpub, 32);
	memset(&got, 0, sizeof(got));
	assert_int_equal(coord_unseal(k.sk, dg, (size_t)n, &got), 0);
	assert_msg_equal(&got, m);
	/* Too small a buffer: refused, by one byte. */
	assert_int_equal(coord_seal(k.ck, k.cpub, m, dg, (size_t)n - 1), -NC_E_RANGE);
}

static void test_round_trips(void **state)
{
	struct coord_msg m;
	(void)state;

	full_register(&m);
	round_trip(&m, COORD_HDR_LEN + COORD_TAG_LEN + COORD_BODY_HDR_LEN + COORD_PROFILE_LEN +
			   COORD_MAX_LOCAL * COORD_EP_LEN + COORD_MAX_WANTS * 32);
	/* Empty counts and an unmeasured profile. */
	memset(&m, 0, sizeof(m));
	m.kind = COORD_REGISTER;
	m.ts_ms = 1;
	round_trip(&m, COORD_HDR_LEN + COORD_TAG_LEN + COORD_BODY_HDR_LEN + COORD_PROFILE_LEN);

	memset(&m, 0, sizeof(m));
	m.kind = COORD_REGISTERED;
	m.ts_ms = UINT64_MAX;
	m.u.ack.observed = ep("[2001:db8::1]:65535");
	m.u.ack.relay_id = 0x80000001;
	m.u.ack.keepalive_s = COORD_KEEPALIVE_S;
	round_trip(&m, COORD_HDR_LEN + COORD_TAG_LEN + COORD_BODY_HDR_LEN + COORD_EP_LEN + 6);

	full_intro(&m);
	round_trip(&m, COORD_HDR_LEN + COORD_TAG_LEN + COORD_BODY_HDR_LEN + 32 + 4 + COORD_EP_LEN +
			   COORD_PROFILE_LEN + COORD_MAX_LOCAL * COORD_EP_LEN);
	/* With the peer's TCP-observed endpoint: one more endpoint, counted in B. */
	m.u.intro.tcp = ep("198.51.100.9:51900");
	round_trip(&m, COORD_HDR_LEN + COORD_TAG_LEN + COORD_BODY_HDR_LEN + 32 + 4 + COORD_EP_LEN +
			   COORD_PROFILE_LEN + (COORD_MAX_LOCAL + 1) * COORD_EP_LEN);
	m.u.intro.tcp = ep("[2001:db8::7]:443");
	memset(m.u.intro.local, 0, sizeof(m.u.intro.local));
	m.u.intro.n_local = 0;
	round_trip(&m, COORD_HDR_LEN + COORD_TAG_LEN + COORD_BODY_HDR_LEN + 32 + 4 + COORD_EP_LEN +
			   COORD_PROFILE_LEN + COORD_EP_LEN);
	/* A REGISTER that shows the TCP mapping: the same length, the flag kept. */
	full_register(&m);
	m.u.reg.tcp_show = true;
	round_trip(&m, COORD_HDR_LEN + COORD_TAG_LEN + COORD_BODY_HDR_LEN + COORD_PROFILE_LEN +
			   COORD_MAX_LOCAL * COORD_EP_LEN + COORD_MAX_WANTS * 32);
}

static void test_wire_layout(void **state)
{
	struct keys k;
	struct coord_msg m;
	uint8_t dg[COORD_MAX_DATAGRAM], body[COORD_MAX_DATAGRAM];
	size_t bl;
	int n;
	(void)state;

	keys_init(&k);
	memset(&m, 0, sizeof(m));
	m.kind = COORD_REGISTERED;
	m.ts_ms = 0x0102030405060708ULL;
	m.u.ack.observed = ep("192.0.2.7:4660");
	m.u.ack.relay_id = 0xa1b2c3d4;
	m.u.ack.keepalive_s = 25;
	n = coord_seal(k.ck, k.spub, &m, dg, sizeof(dg));
	assert_true(n > 0);
	assert_int_equal(dg[0], 5);
	assert_int_equal(dg[1] | dg[2] | dg[3], 0);
	assert_memory_equal(dg + 4, k.spub, 32);
	bl = body_of(&k, dg, (size_t)n, body);
	assert_int_equal(bl, 12 + 19 + 6);
	const uint8_t want[] = {
	    2, 0,    0,	   0,	1, 2, 3,    4,	  5,	6,    7, 8, /* body header */
	    4, 0x12, 0x34, 192, 0, 2, 7,    0,	  0,	0,    0, 0, 0,
	    0, 0,    0,	   0,	0, 0, 0xa1, 0xb2, 0xc3, 0xd4, 0, 25};
	assert_memory_equal(body, want, sizeof(want));
	/* Two seals of one message differ (random nonce). */
	uint8_t dg2[COORD_MAX_DATAGRAM];
	assert_int_equal(coord_seal(k.ck, k.spub, &m, dg2, sizeof(dg2)), n);
	assert_memory_not_equal(dg + 36, dg2 + 36, 24);
}

static void test_wrong_key(void **state)
{
	struct keys k, other;
	struct coord_msg m, got;
	uint8_t dg[COORD_MAX_DATAGRAM], wrong[32];
	int n;
	(void)state;

	keys_init(&k);
	keys_init(&other);
	full_register(&m);
	n = coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg));
	assert_true(n > 0);
	/* Another server's key, and the client's key with another server. */
	assert_int_equal(coord_unseal(other.sk, dg, (size_t)n, &got), -NC_E_AUTH);
	assert_int_equal(coord_shared_key(wrong, other.spriv, k.cpub), 0);
	assert_int_equal(coord_unseal(wrong, dg, (size_t)n, &got), -NC_E_AUTH);
	/* A claimed sender key that is not the sealer's: the server derives its key from the
	 * claim and the box does not open. */
	memcpy(dg + 4, other.cpub, 32);
	assert_int_equal(coord_shared_key(wrong, k.spriv, other.cpub), 0);
	assert_int_equal(coord_unseal(wrong, dg, (size_t)n, &got), -NC_E_AUTH);
}

static void test_low_order_key(void **state)
{
	uint8_t priv[32], key[32], zero[32] = {0};
	(void)state;

	vpn_key_generate(priv);
	assert_int_equal(coord_shared_key(key, priv, zero), -NC_E_MALFORMED);
}

static void test_truncations(void **state)
{
	struct keys k;
	struct coord_msg m, got, untouched;
	uint8_t dg[COORD_MAX_DATAGRAM], pub[32];
	int n;
	(void)state;

	keys_init(&k);
	full_intro(&m);
	n = coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg));
	memset(&got, 0x5a, sizeof(got));
	untouched = got;
	for (int len = 0; len < n; len++) {
		int rc = coord_unseal(k.sk, dg, (size_t)len, &got);
		if (len < COORD_HDR_LEN + COORD_TAG_LEN) {
			assert_int_equal(rc, -NC_E_TRUNCATED);
			assert_int_equal(coord_peek_sender(dg, (size_t)len, pub), -NC_E_TRUNCATED);
		} else {
			assert_int_equal(rc, -NC_E_AUTH); /* the tag covers the length */
		}
		assert_memory_equal(&got, &untouched, sizeof(got));
	}
	/* Truncated bodies behind a valid box: every length of each kind. */
	uint8_t body[COORD_MAX_DATAGRAM];
	size_t bl = body_of(&k, dg, (size_t)n, body);
	for (size_t len = 0; len < bl; len++) {
		int rc = open_raw(&k, body, len, &got);
		assert_true(rc == -NC_E_TRUNCATED);
		assert_memory_equal(&got, &untouched, sizeof(got));
	}
	full_register(&m);
	n = coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg));
	bl = body_of(&k, dg, (size_t)n, body);
	for (size_t len = 0; len < bl; len++)
		assert_int_equal(open_raw(&k, body, len, &got), -NC_E_TRUNCATED);
	/* One byte more than the counts say (a full REGISTER is also the longest body: that is
	 * refused before the MAC, so the decoder's own check is tried on the shorter kinds). */
	body[bl] = 0;
	assert_int_equal(open_raw(&k, body, bl + 1, &got), -NC_E_MALFORMED);
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
	full_intro(&m);
	n = coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg));
	bl = body_of(&k, dg, (size_t)n, body);
	for (size_t extra = 1; extra <= 40; extra++) {
		memset(body + bl, 0, extra);
		assert_int_equal(open_raw(&k, body, bl + extra, &got), -NC_E_MALFORMED);
	}
	memset(&m, 0, sizeof(m));
	m.kind = COORD_REGISTERED;
	n = coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg));
	bl = body_of(&k, dg, (size_t)n, body);
	body[bl] = 0;
	assert_int_equal(open_raw(&k, body, bl + 1, &got), -NC_E_MALFORMED);
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
}

static void test_flipped_bytes(void **state)
{
	struct keys k;
	struct coord_msg m, got;
	uint8_t dg[COORD_MAX_DATAGRAM];
	int n;
	(void)state;

	keys_init(&k);
	full_register(&m);
	n = coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg));
	for (int i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			int rc;
			dg[i] ^= (uint8_t)(1u << bit);
			rc = coord_unseal(k.sk, dg, (size_t)n, &got);
			if (i < 4)
				assert_int_equal(rc, -NC_E_MALFORMED); /* type, reserved */
			else if (i < 36)
				/* The sender key is not in the box: the server derives the wrong
				 * key from it and nothing opens; with the key it holds, the box
				 * still opens (which is why the server looks its key up by this
				 * field). */
				assert_int_equal(rc, 0);
			else
				assert_int_equal(rc, -NC_E_AUTH);
			dg[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(coord_unseal(k.sk, dg, (size_t)n, &got), 0);
}

/* Body offsets of a minimal REGISTER: header 12, profile at 12 (its endpoint at 25). */
static size_t min_register(uint8_t *body)
{
	memset(body, 0, 12 + COORD_PROFILE_LEN);
	body[0] = COORD_REGISTER;
	body[12] = 1; /* profile version */
	return 12 + COORD_PROFILE_LEN;
}

static void test_reserved_and_kind(void **state)
{
	struct keys k;
	struct coord_msg got;
	uint8_t body[COORD_MAX_DATAGRAM], dg[COORD_MAX_DATAGRAM];
	size_t bl;
	int n;
	(void)state;

	keys_init(&k);
	bl = min_register(body);
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
	assert_int_equal(got.kind, COORD_REGISTER);
	/* The flags byte: REGISTER knows bit 0 (COORD_REG_TCP_SHOW), every other bit is
	 * refused. */
	body[1] = COORD_REG_TCP_SHOW;
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
	assert_true(got.u.reg.tcp_show);
	for (int bit = 1; bit < 8; bit++) {
		body[1] = (uint8_t)(1u << bit);
		assert_int_equal(open_raw(&k, body, bl, &got), -NC_E_MALFORMED);
	}
	body[1] = 0;
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
	assert_false(got.u.reg.tcp_show);
	for (int kind = 0; kind < 256; kind++) {
		if (kind >= COORD_REGISTER && kind <= COORD_INTRO)
			continue;
		body[0] = (uint8_t)kind;
		assert_int_equal(open_raw(&k, body, bl, &got), -NC_E_MALFORMED);
	}
	body[0] = COORD_REGISTER;
	/* Header: type and each reserved byte. */
	n = (int)seal_raw(&k, body, bl, dg);
	for (int i = 1; i < 4; i++) {
		dg[i] = 0x80;
		assert_int_equal(coord_unseal(k.sk, dg, (size_t)n, &got), -NC_E_MALFORMED);
		dg[i] = 0;
	}
	dg[0] = COORD_RELAY_TYPE;
	assert_int_equal(coord_unseal(k.sk, dg, (size_t)n, &got), -NC_E_MALFORMED);
	dg[0] = COORD_TYPE;
	assert_int_equal(coord_unseal(k.sk, dg, (size_t)n, &got), 0);
	/* Longer than any body could be: refused before the MAC. */
	memset(dg + n, 0, sizeof(dg) - (size_t)n);
	assert_int_equal(coord_unseal(k.sk, dg, sizeof(dg), &got), -NC_E_MALFORMED);
}

static void test_counts(void **state)
{
	struct keys k;
	struct coord_msg got;
	uint8_t body[2048];
	size_t bl;
	(void)state;

	keys_init(&k);
	bl = min_register(body);
	/* REGISTER: A over COORD_MAX_LOCAL, B over COORD_MAX_WANTS, with bytes to match. */
	memset(body + bl, 0, sizeof(body) - bl);
	body[2] = COORD_MAX_LOCAL + 1;
	assert_int_equal(open_raw(&k, body, bl + (COORD_MAX_LOCAL + 1) * COORD_EP_LEN, &got),
			 -NC_E_MALFORMED);
	body[2] = 0;
	body[3] = COORD_MAX_WANTS + 1;
	assert_int_equal(open_raw(&k, body, bl + (COORD_MAX_WANTS + 1) * 32, &got),
			 -NC_E_MALFORMED);
	body[3] = 255;
	assert_int_equal(open_raw(&k, body, bl, &got), -NC_E_MALFORMED);
	/* At the maximum it decodes (family-0 endpoints, zero keys). */
	body[2] = COORD_MAX_LOCAL;
	body[3] = COORD_MAX_WANTS;
	assert_int_equal(
	    open_raw(&k, body, bl + COORD_MAX_LOCAL * COORD_EP_LEN + COORD_MAX_WANTS * 32, &got),
	    0);
	assert_int_equal(got.u.reg.n_local, COORD_MAX_LOCAL);
	assert_int_equal(got.u.reg.n_wants, COORD_MAX_WANTS);

	/* REGISTERED with any count, INTRO with B or A over its maximum. */
	memset(body, 0, sizeof(body));
	body[0] = COORD_REGISTERED;
	assert_int_equal(open_raw(&k, body, 12 + COORD_EP_LEN + 6, &got), 0);
	body[2] = 1;
	assert_int_equal(open_raw(&k, body, 12 + COORD_EP_LEN + 6, &got), -NC_E_MALFORMED);
	body[2] = 0;
	body[3] = 1;
	assert_int_equal(open_raw(&k, body, 12 + COORD_EP_LEN + 6, &got), -NC_E_MALFORMED);
	body[3] = 0;
	body[1] = COORD_REG_TCP_SHOW; /* a REGISTER flag means nothing here */
	assert_int_equal(open_raw(&k, body, 12 + COORD_EP_LEN + 6, &got), -NC_E_MALFORMED);

	memset(body, 0, sizeof(body));
	body[0] = COORD_INTRO;
	body[12 + 32 + 4 + COORD_EP_LEN] = 1; /* profile version */
	bl = 12 + 32 + 4 + COORD_EP_LEN + COORD_PROFILE_LEN;
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
	body[1] = COORD_REG_TCP_SHOW;
	assert_int_equal(open_raw(&k, body, bl, &got), -NC_E_MALFORMED);
	body[1] = 0;
	/* B = 1: one TCP endpoint, which must be a set one; B = 2 is over the maximum. */
	body[3] = 1;
	assert_int_equal(open_raw(&k, body, bl + COORD_EP_LEN, &got), -NC_E_MALFORMED);
	body[bl] = 4;
	body[bl + 2] = 80;
	body[bl + 3] = 192;
	assert_int_equal(open_raw(&k, body, bl + COORD_EP_LEN, &got), 0);
	assert_true(nc_addr_is_set(&got.u.intro.tcp));
	assert_int_equal(got.u.intro.tcp.port, 80);
	assert_int_equal(open_raw(&k, body, bl + COORD_EP_LEN - 1, &got), -NC_E_TRUNCATED);
	assert_int_equal(open_raw(&k, body, bl + COORD_EP_LEN + 1, &got), -NC_E_MALFORMED);
	body[3] = 2;
	assert_int_equal(open_raw(&k, body, bl + 2 * COORD_EP_LEN, &got), -NC_E_MALFORMED);
	body[3] = 0;
	memset(body + bl, 0, COORD_EP_LEN);
	body[2] = COORD_MAX_LOCAL + 1;
	assert_int_equal(open_raw(&k, body, bl + (COORD_MAX_LOCAL + 1) * COORD_EP_LEN, &got),
			 -NC_E_MALFORMED);

	/* The encoder refuses counts over the maximum too. */
	struct coord_msg m;
	uint8_t dg[COORD_MAX_DATAGRAM];
	full_register(&m);
	m.u.reg.n_local = COORD_MAX_LOCAL + 1;
	assert_int_equal(coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg)), -NC_E_RANGE);
	full_register(&m);
	m.u.reg.n_wants = COORD_MAX_WANTS + 1;
	assert_int_equal(coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg)), -NC_E_RANGE);
	full_intro(&m);
	m.u.intro.n_local = COORD_MAX_LOCAL + 1;
	assert_int_equal(coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg)), -NC_E_RANGE);
}

static void test_endpoints(void **state)
{
	struct keys k;
	struct coord_msg got;
	uint8_t body[256];
	size_t bl, e;
	(void)state;

	keys_init(&k);
	bl = min_register(body);
	body[2] = 1; /* one local endpoint at offset bl */
	e = bl;
	bl += COORD_EP_LEN;
	memset(body + e, 0, COORD_EP_LEN);
	for (int fam = 0; fam < 256; fam++) {
		int rc;
		body[e] = (uint8_t)fam;
		rc = open_raw(&k, body, bl, &got);
		if (fam == 0 || fam == 4 || fam == 6)
			assert_int_equal(rc, 0);
		else
			assert_int_equal(rc, -NC_E_MALFORMED);
	}
	/* IPv4: the 12 bytes after the address are reserved. */
	body[e] = 4;
	body[e + 1] = 0x13;
	body[e + 2] = 0x88;
	memcpy(body + e + 3, (uint8_t[]){10, 1, 2, 3}, 4);
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
	assert_int_equal(got.u.reg.local[0].family, AF_INET);
	assert_int_equal(got.u.reg.local[0].port, 5000);
	for (size_t i = 7; i < COORD_EP_LEN; i++) {
		body[e + i] = 1;
		assert_int_equal(open_raw(&k, body, bl, &got), -NC_E_MALFORMED);
		body[e + i] = 0;
	}
	/* Family 0 ("none") must be all zero: a port or an address is malformed. */
	memset(body + e, 0, COORD_EP_LEN);
	for (size_t i = 1; i < COORD_EP_LEN; i++) {
		body[e + i] = 1;
		assert_int_equal(open_raw(&k, body, bl, &got), -NC_E_MALFORMED);
		body[e + i] = 0;
	}
	/* IPv6 uses all 16 bytes. */
	body[e] = 6;
	memset(body + e + 3, 0xfe, 16);
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
	assert_int_equal(got.u.reg.local[0].family, AF_INET6);
	/* The profile's mapping endpoint and a REGISTERED's observed one go through the same
	 * check. */
	bl = min_register(body);
	body[12 + 13] = 5;
	assert_int_equal(open_raw(&k, body, bl, &got), -NC_E_MALFORMED);
	memset(body, 0, sizeof(body));
	body[0] = COORD_REGISTERED;
	body[12] = 7;
	assert_int_equal(open_raw(&k, body, 12 + COORD_EP_LEN + 6, &got), -NC_E_MALFORMED);

	/* The encoder refuses an endpoint it could not write. */
	struct coord_msg m;
	uint8_t dg[COORD_MAX_DATAGRAM];
	full_register(&m);
	m.u.reg.local[3].family = AF_UNIX;
	assert_int_equal(coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg)), -NC_E_INVALID);
	full_intro(&m);
	m.u.intro.observed.family = 0;
	m.u.intro.observed.port = 9;
	assert_int_equal(coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg)), -NC_E_INVALID);
}

static void test_profile(void **state)
{
	struct keys k;
	struct coord_msg got, m;
	uint8_t body[256], dg[COORD_MAX_DATAGRAM];
	size_t bl;
	/* Profile byte offset -> first value refused. */
	const struct {
		size_t off;
		unsigned bad;
	} fields[] = {{0, 0},
		      {1, 2},
		      {2, NC_BEH_APD + 1},
		      {3, NC_BEH_APD + 1},
		      {4, NC_ALLOC_RANDOM + 1},
		      {9, NC_TRI_YES + 1},
		      {10, NC_TRI_YES + 1},
		      {11, NC_TRI_YES + 1},
		      {12, COORD_PM_UPNP + 1}};
	(void)state;

	keys_init(&k);
	bl = min_register(body);
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		uint8_t keep = body[12 + fields[f].off];
		body[12 + fields[f].off] = (uint8_t)fields[f].bad;
		assert_int_equal(open_raw(&k, body, bl, &got), -NC_E_MALFORMED);
		body[12 + fields[f].off] = 0xff;
		assert_int_equal(open_raw(&k, body, bl, &got), -NC_E_MALFORMED);
		body[12 + fields[f].off] = keep;
	}
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
	assert_false(got.u.reg.prof.measured);
	/* Signed port step and lifetime go through as they are. */
	body[12 + 5] = 0xff;
	body[12 + 6] = 0xfe;
	body[12 + 7] = 0x01;
	body[12 + 8] = 0x2c;
	assert_int_equal(open_raw(&k, body, bl, &got), 0);
	assert_int_equal(got.u.reg.prof.port_step, -2);
	assert_int_equal(got.u.reg.prof.lifetime_s, 300);

	full_register(&m);
	m.u.reg.prof.mapping = NC_BEH_APD + 1;
	assert_int_equal(coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg)), -NC_E_INVALID);
	full_register(&m);
	m.u.reg.prof.portmap = 9;
	assert_int_equal(coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg)), -NC_E_INVALID);
	full_register(&m);
	m.kind = (enum coord_kind)9;
	assert_int_equal(coord_seal(k.ck, k.cpub, &m, dg, sizeof(dg)), -NC_E_INVALID);
}

static void test_relay(void **state)
{
	uint8_t dg[64];
	const uint8_t *inner = NULL;
	size_t inner_len = 0;
	uint32_t id = 0;
	(void)state;

	coord_put_relay_hdr(dg, 0xfeedf00d);
	assert_memory_equal(dg, ((uint8_t[]){6, 0, 0, 0, 0xfe, 0xed, 0xf0, 0x0d}), 8);
	memset(dg + 8, 0x42, 20);
	assert_int_equal(coord_relay_decode(dg, 28, &id, &inner, &inner_len), 0);
	assert_int_equal(id, 0xfeedf00d);
	assert_ptr_equal(inner, dg + 8);
	assert_int_equal(inner_len, 20);
	assert_int_equal(coord_relay_decode(dg, 9, &id, &inner, &inner_len), 0);
	assert_int_equal(inner_len, 1);
	/* No inner byte, or shorter than the header. */
	for (size_t len = 0; len <= 8; len++)
		assert_int_equal(coord_relay_decode(dg, len, &id, &inner, &inner_len),
				 -NC_E_TRUNCATED);
	/* Type and reserved bytes. */
	for (int i = 1; i < 4; i++) {
		dg[i] = 1;
		assert_int_equal(coord_relay_decode(dg, 28, &id, &inner, &inner_len),
				 -NC_E_MALFORMED);
		dg[i] = 0;
	}
	dg[0] = COORD_TYPE;
	assert_int_equal(coord_relay_decode(dg, 28, &id, &inner, &inner_len), -NC_E_MALFORMED);
	assert_int_equal(coord_relay_decode(dg, 3, &id, &inner, &inner_len), -NC_E_MALFORMED);
	/* Outputs untouched on error. */
	id = 7;
	inner = NULL;
	assert_int_equal(coord_relay_decode(dg, 28, &id, &inner, &inner_len), -NC_E_MALFORMED);
	assert_int_equal(id, 7);
	assert_null(inner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trips),
	    cmocka_unit_test(test_wire_layout),
	    cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_low_order_key),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_flipped_bytes),
	    cmocka_unit_test(test_reserved_and_kind),
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_profile),
	    cmocka_unit_test(test_relay),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
