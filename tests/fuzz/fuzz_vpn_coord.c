/* libFuzzer target for punchvpn's coordination and relay parsers (vpn/lib/coord.c). The first
 * byte picks what the rest is:
 *
 *   0  a whole coordination datagram, opened with a fixed box key (what punchvpnd and the
 *      client do with every type-5 datagram); a random tag almost never opens, so
 *   1  a body sealed here under the fixed key first: the body decoder behind a valid box
 *   2  a relay datagram (coord_relay_decode)
 *
 * Checks: no crash; a datagram that opens re-seals to one of the same length that opens to the
 * same message (decode and encode agree); the sender key peeked is the one in the header; a
 * refused datagram leaves the output untouched; a relay's inner datagram lies inside the input
 * and is the input minus its 8-byte header. */
#include <natcheck/error.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* The reflector has a coord.h of its own on the include path: name ours by its place. */
#include "../../vpn/lib/coord.h"
#include "fuzz_input.h"

static const uint8_t box_key[32] = {0x71, 0x72, 0x73, 0x74, 0x75};
static const uint8_t sender[32] = {0x09};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void opened(const uint8_t *in, size_t len, int rc, const struct coord_msg *m,
		   const struct coord_msg *before)
{
	static uint8_t again[COORD_MAX_DATAGRAM];
	struct coord_msg m2;
	uint8_t pub[VPN_KEY_LEN];
	int n;

	check(rc == 0 || rc == -NC_E_AUTH || rc == -NC_E_TRUNCATED || rc == -NC_E_MALFORMED);
	if (rc != 0) {
		check(memcmp(m, before, sizeof(*m)) == 0);
		return;
	}
	check(coord_peek_sender(in, len, pub) == 0 && memcmp(pub, in + 4, VPN_KEY_LEN) == 0);
	n = coord_seal(box_key, pub, m, again, sizeof(again));
	check(n == (int)len);
	memset(&m2, 0, sizeof(m2));
	check(coord_unseal(box_key, again, (size_t)n, &m2) == 0);
	check(m2.kind == m->kind && m2.ts_ms == m->ts_ms);
	switch (m->kind) {
	case COORD_REGISTER:
		check(m2.u.reg.n_local == m->u.reg.n_local && m2.u.reg.n_wants == m->u.reg.n_wants);
		check(memcmp(&m2.u.reg, &m->u.reg, sizeof(m->u.reg)) == 0);
		break;
	case COORD_REGISTERED:
		check(memcmp(&m2.u.ack, &m->u.ack, sizeof(m->u.ack)) == 0);
		break;
	case COORD_INTRO:
		check(memcmp(&m2.u.intro, &m->u.intro, sizeof(m->u.intro)) == 0);
		break;
	default:
		check(false);
	}
}

static void datagram(const uint8_t *in, size_t len)
{
	struct coord_msg m, before;

	memset(&m, 0x5a, sizeof(m));
	before = m;
	opened(in, len, coord_unseal(box_key, in, len, &m), &m, &before);
}

static void body(const uint8_t *in, size_t len)
{
	static uint8_t dg[4096];
	struct coord_msg m, before;

	if (len > sizeof(dg) - COORD_HDR_LEN - COORD_TAG_LEN)
		return;
	dg[0] = COORD_TYPE;
	dg[1] = dg[2] = dg[3] = 0;
	memcpy(dg + 4, sender, VPN_KEY_LEN);
	memset(dg + 4 + VPN_KEY_LEN, 0x33, crypto_box_NONCEBYTES);
	crypto_box_easy_afternm(dg + COORD_HDR_LEN, in, len, dg + 4 + VPN_KEY_LEN, box_key);
	/* Both memsets: struct padding compared by memcmp above must start equal. */
	memset(&m, 0, sizeof(m));
	before = m;
	opened(dg, COORD_HDR_LEN + COORD_TAG_LEN + len,
	       coord_unseal(box_key, dg, COORD_HDR_LEN + COORD_TAG_LEN + len, &m), &m, &before);
}

static void relay(const uint8_t *in, size_t len)
{
	const uint8_t *inner = NULL;
	size_t inner_len = 0;
	uint32_t id = 0;
	int rc = coord_relay_decode(in, len, &id, &inner, &inner_len);

	check(rc == 0 || rc == -NC_E_TRUNCATED || rc == -NC_E_MALFORMED);
	if (rc != 0) {
		check(inner == NULL && inner_len == 0 && id == 0);
		return;
	}
	check(inner == in + COORD_RELAY_HDR_LEN && inner_len == len - COORD_RELAY_HDR_LEN &&
	      inner_len > 0);
	uint8_t hdr[COORD_RELAY_HDR_LEN];
	coord_put_relay_hdr(hdr, id);
	check(memcmp(hdr, in, COORD_RELAY_HDR_LEN) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in;

	if (size < 1 || sodium_init() < 0)
		return 0;
	in = fuzz_rest_copy(data, size);
	if (!in)
		return 0;
	switch (data[0] % 3) {
	case 0:
		datagram(in, size - 1);
		break;
	case 1:
		body(in, size - 1);
		break;
	default:
		relay(in, size - 1);
		break;
	}
	free(in);
	return 0;
}
