/* libFuzzer target for punchvpn's data-path parsers. The first byte picks what the rest is:
 *
 *   0, 1  a transport datagram (wire_decode, then tp_open under fixed ChaCha20-Poly1305 or
 *         AES-256-GCM keys, then the replay window), as the RX thread handles it
 *   2     a TUN read: virtio-net header and packet through checksum completion, TSO
 *         segmentation, userspace GRO of the segments and the ICMP too-big answer
 *
 * Checks: no crash; a datagram that opens is exactly its ciphertext minus the tag; a counter is
 * accepted once; every segment fits the stride; GRO output never exceeds its buffer. */
#include <natcheck/error.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "icmp.h"
#include "offload.h"
#include "transport.h"
#include "wire.h"

static const uint8_t key_a[32] = {0x51, 0x52, 0x53, 0x54};
static const uint8_t key_b[32] = {0x61, 0x62, 0x63, 0x64};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void datagram(const uint8_t *in, size_t len, enum tp_cipher c)
{
	static struct tp_session s;
	static uint8_t out[65536];
	struct wire_msg m;
	int rc, n;

	if (c == TP_AES256GCM && !tp_aes_available())
		c = TP_CHACHA20POLY1305;
	/* The receiver's view: it receives under key_a. */
	check(tp_session_init(&s, c, key_b, key_a, 1, 2, false, 0) == 0);
	rc = wire_decode(in, len, &m);
	check(rc == 0 || rc == -NC_E_TRUNCATED || rc == -NC_E_MALFORMED);
	if (rc != 0 || m.type != WIRE_DATA)
		return;
	check(m.ct_len >= WIRE_TAG_LEN && m.ct_len + WIRE_DATA_HDR == len);
	n = tp_open(&s, &m, in, out);
	check(n == -NC_E_AUTH || (n >= 0 && (size_t)n + WIRE_TAG_LEN == m.ct_len));
	if (n < 0)
		return;
	if (replay_update(&s.replay, m.counter))
		check(!replay_update(&s.replay, m.counter));
}

static void tun_read(const uint8_t *in, size_t len)
{
	static uint8_t pkt[OFF_MAX_PACKET], segs[64 * 1500], grobuf[OFF_VNET_LEN + OFF_MAX_PACKET],
		icmp[1400];
	uint16_t lens[64];
	struct off_vnet h;
	struct off_gro g;
	struct nc_addr me;
	size_t plen;
	int n;

	if (off_vnet_decode(in, len, &h) != 0)
		return;
	plen = len - OFF_VNET_LEN;
	if (plen > sizeof(pkt))
		return;
	memcpy(pkt, in + OFF_VNET_LEN, plen);
	nc_addr_parse_ip((plen && pkt[0] >> 4 == 6) ? "fd00::1" : "10.0.0.1", &me);
	n = icmp_too_big(pkt, plen, 1280, &me, icmp, sizeof(icmp));
	check(n <= (int)sizeof(icmp));
	if (off_csum_complete(pkt, plen, &h) != 0)
		return;
	n = off_tso_segment(pkt, plen, &h, segs, 1500, 64, lens);
	if (n <= 0)
		return;
	off_gro_init(&g, grobuf);
	for (int i = 0; i < n; i++) {
		check(lens[i] <= 1500);
		if (!off_gro_add(&g, segs + (size_t)i * 1500, lens[i])) {
			check(off_gro_finish(&g) <= sizeof(grobuf));
			check(off_gro_add(&g, segs + (size_t)i * 1500, lens[i]));
		}
	}
	check(off_gro_finish(&g) <= sizeof(grobuf));
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
		datagram(in, size - 1, TP_CHACHA20POLY1305);
		break;
	case 1:
		datagram(in, size - 1, TP_AES256GCM);
		break;
	default:
		tun_read(in, size - 1);
		break;
	}
	free(in);
	return 0;
}
