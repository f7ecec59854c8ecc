/* TSO segmentation, userspace GRO and checksum completion (offload.c), and the ICMP too-big
 * answers (icmp.c): every produced IP and TCP checksum verifies, sequence numbers and flags
 * follow the kernel's rules, segment -> merge gives back the original bytes, and what must not
 * merge does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <string.h>
#include <sys/socket.h>

#include "cursor.h"
#include "icmp.h"
#include "inetcsum.h"
#include "offload.h"

#define PAYLOAD 5000
#define MSS 1380

static uint8_t sp[20 + 60 + PAYLOAD + 40];

/* A TCP super-packet as the kernel hands it over: IPv4 or IPv6, 12 bytes of options
 * (timestamps), payload bytes i & 0xFF, PSH|ACK|FIN. */
static size_t make_super(bool v6, size_t payload)
{
	size_t ip = v6 ? 40 : 20, hdr = ip + 32, len = hdr + payload;
	uint8_t *t = sp + ip;

	memset(sp, 0, sizeof(sp));
	if (v6) {
		sp[0] = 0x60;
		nc_put_n16(sp + 4, (uint16_t)(len - 40));
		sp[6] = 6;
		sp[7] = 64;
		sp[8] = 0xfd;
		sp[23] = 1;
		sp[24] = 0xfd;
		sp[39] = 2;
	} else {
		sp[0] = 0x45;
		nc_put_n16(sp + 2, (uint16_t)len);
		nc_put_n16(sp + 4, 0x1000);
		sp[6] = 0x40; /* DF */
		sp[8] = 64;
		sp[9] = 6;
		memcpy(sp + 12, "\x0a\x64\x00\x01\x0a\x64\x00\x02", 8);
	}
	nc_put_n16(t, 40000);
	nc_put_n16(t + 2, 5201);
	nc_put_n32(t + 4, 0xFFFFF000); /* wraps within the run */
	nc_put_n32(t + 8, 77);
	t[12] = 8 << 4;
	t[13] = 0x10 | 0x08 | 0x01;
	nc_put_n16(t + 14, 500);
	memcpy(t + 20, "\x01\x01\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x02", 12);
	for (size_t i = 0; i < payload; i++)
		sp[hdr + i] = (uint8_t)i;
	return len;
}

static bool tcp_csum_ok(const uint8_t *p, size_t len, bool v6)
{
	size_t ip = v6 ? 40 : 20;
	uint32_t l4 = (uint32_t)(len - ip);
	uint32_t sum = v6 ? nc_csum_add(0, p + 8, 32) : nc_csum_add(0, p + 12, 8);

	sum += 6 + (l4 >> 16) + (l4 & 0xffff);
	return nc_csum_fold(nc_csum_add(sum, p + ip, l4)) == 0;
}

static void segment_and_merge(bool v6)
{
	static uint8_t segs[8 * 1500], grobuf[OFF_VNET_LEN + OFF_MAX_PACKET];
	uint16_t lens[8];
	size_t len = make_super(v6, PAYLOAD), ip = v6 ? 40 : 20, hdr = ip + 32;
	struct off_vnet h = {.gso_type = v6 ? OFF_GSO_TCPV6 : OFF_GSO_TCPV4, .gso_size = MSS,
			     .hdr_len = (uint16_t)hdr, .flags = OFF_F_NEEDS_CSUM,
			     .csum_start = (uint16_t)ip, .csum_offset = 16};
	struct off_gro g;
	int n = off_tso_segment(sp, len, &h, segs, 1500, 8, lens);

	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++) {
		uint8_t *s = segs + i * 1500, *t = s + ip;
		size_t want = hdr + (i < 3 ? MSS : PAYLOAD - 3 * MSS);

		assert_int_equal(lens[i], want);
		assert_true(tcp_csum_ok(s, lens[i], v6));
		if (v6) {
			assert_int_equal(nc_get_n16(s + 4), lens[i] - 40);
		} else {
			assert_int_equal(nc_get_n16(s + 2), lens[i]);
			assert_int_equal(nc_get_n16(s + 4), 0x1000 + i);
			assert_int_equal(nc_csum_fold(nc_csum_add(0, s, 20)), 0);
		}
		assert_int_equal(nc_get_n32(t + 4), (uint32_t)(0xFFFFF000u + (uint32_t)(i * MSS)));
		/* FIN and PSH only on the last segment. */
		assert_int_equal(t[13], i == 3 ? 0x19 : 0x10);
		assert_memory_equal(s + hdr, sp + hdr + (size_t)i * MSS, want - hdr);
	}
	/* Too many segments for the space, or a segment longer than the stride. */
	assert_int_equal(off_tso_segment(sp, len, &h, segs, 1500, 3, lens), -NC_E_NOSPACE);
	assert_int_equal(off_tso_segment(sp, len, &h, segs, 1000, 8, lens), -NC_E_NOSPACE);
	h.gso_type = v6 ? OFF_GSO_TCPV4 : OFF_GSO_TCPV6;
	assert_int_equal(off_tso_segment(sp, len, &h, segs, 1500, 8, lens), -NC_E_MALFORMED);

	/* The first three merge (the last carries FIN: it stays alone). */
	off_gro_init(&g, grobuf);
	for (int i = 0; i < 3; i++)
		assert_true(off_gro_add(&g, segs + i * 1500, lens[i]));
	assert_false(off_gro_add(&g, segs + 3 * 1500, lens[3]));
	size_t out = off_gro_finish(&g);
	struct off_vnet gh;
	assert_int_equal(out, OFF_VNET_LEN + hdr + 3 * MSS);
	assert_int_equal(off_vnet_decode(grobuf, out, &gh), 0);
	assert_int_equal(gh.gso_type, v6 ? OFF_GSO_TCPV6 : OFF_GSO_TCPV4);
	assert_int_equal(gh.gso_size, MSS);
	assert_int_equal(gh.hdr_len, hdr);
	assert_int_equal(gh.flags, OFF_F_NEEDS_CSUM);
	uint8_t *m = grobuf + OFF_VNET_LEN;
	assert_memory_equal(m + hdr, sp + hdr, 3 * MSS);
	if (!v6)
		assert_int_equal(nc_csum_fold(nc_csum_add(0, m, 20)), 0);
	/* Completing the partial checksum the way the kernel would gives a valid segment. */
	assert_int_equal(off_csum_complete(m, out - OFF_VNET_LEN, &gh), 0);
	assert_true(tcp_csum_ok(m, out - OFF_VNET_LEN, v6));
	/* A lone packet goes out untouched, without GSO. */
	assert_true(off_gro_add(&g, segs + 3 * 1500, lens[3]));
	out = off_gro_finish(&g);
	assert_int_equal(out, OFF_VNET_LEN + lens[3]);
	assert_int_equal(grobuf[1], OFF_GSO_NONE);
	assert_memory_equal(grobuf + OFF_VNET_LEN, segs + 3 * 1500, lens[3]);
}

static void test_v4(void **state)
{
	(void)state;
	segment_and_merge(false);
}

static void test_v6(void **state)
{
	(void)state;
	segment_and_merge(true);
}

static void test_gro_refusals(void **state)
{
	static uint8_t segs[8 * 1500], grobuf[OFF_VNET_LEN + OFF_MAX_PACKET], tmp[1500];
	uint16_t lens[8];
	size_t len = make_super(false, PAYLOAD);
	struct off_vnet h = {.gso_type = OFF_GSO_TCPV4, .gso_size = MSS, .hdr_len = 52};
	struct off_gro g;
	(void)state;

	sp[20 + 13] = 0x10; /* plain ACK */
	assert_int_equal(off_tso_segment(sp, len, &h, segs, 1500, 8, lens), 4);
	off_gro_init(&g, grobuf);
	/* Out of order: segment 2 after 0. */
	assert_true(off_gro_add(&g, segs, lens[0]));
	assert_false(off_gro_add(&g, segs + 2 * 1500, lens[2]));
	/* Another flow (port). */
	memcpy(tmp, segs + 1500, lens[1]);
	tmp[20] ^= 1;
	assert_false(off_gro_add(&g, tmp, lens[1]));
	/* Different options (timestamp). */
	memcpy(tmp, segs + 1500, lens[1]);
	tmp[20 + 27] ^= 1;
	assert_false(off_gro_add(&g, tmp, lens[1]));
	/* SYN never merges. */
	memcpy(tmp, segs + 1500, lens[1]);
	tmp[20 + 13] |= 0x02;
	assert_false(off_gro_add(&g, tmp, lens[1]));
	/* The right next segment does; after a short one, nothing more. */
	assert_true(off_gro_add(&g, segs + 1500, lens[1]));
	assert_true(off_gro_add(&g, segs + 2 * 1500, lens[2]));
	assert_true(off_gro_add(&g, segs + 3 * 1500, lens[3]));
	off_gro_finish(&g);
	/* Non-TCP starts a buffer that nothing joins. */
	uint8_t udp[28] = {0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17};
	assert_true(off_gro_add(&g, udp, sizeof(udp)));
	assert_false(off_gro_add(&g, segs, lens[0]));
	assert_int_equal(off_gro_finish(&g), OFF_VNET_LEN + sizeof(udp));
	/* Malformed super-packets. */
	assert_int_equal(off_tso_segment(sp, 30, &h, segs, 1500, 8, lens), -NC_E_MALFORMED);
	sp[0] = 0x46; /* IP options */
	assert_int_equal(off_tso_segment(sp, len, &h, segs, 1500, 8, lens), -NC_E_MALFORMED);
}

static void test_csum_complete_and_vnet(void **state)
{
	uint8_t buf[OFF_VNET_LEN], pkt[100];
	struct off_vnet h = {.flags = 1, .gso_type = 4, .hdr_len = 0x1234, .gso_size = 1380,
			     .csum_start = 20, .csum_offset = 16}, back;
	size_t len = make_super(false, 48);
	(void)state;

	off_vnet_encode(buf, &h);
	assert_int_equal(buf[2], 0x34); /* little endian */
	assert_int_equal(off_vnet_decode(buf, sizeof(buf), &back), 0);
	assert_memory_equal(&h, &back, sizeof(h));
	assert_int_equal(off_vnet_decode(buf, 9, &back), -NC_E_TRUNCATED);
	/* A partial checksum: the field holds the pseudo-header sum. */
	memcpy(pkt, sp, len);
	uint32_t ps = nc_csum_add(0, pkt + 12, 8) + 6 + (uint32_t)(len - 20);
	nc_put_n16(pkt + 36, (uint16_t)~nc_csum_fold(ps));
	assert_int_equal(off_csum_complete(pkt, len, &h), 0);
	assert_true(tcp_csum_ok(pkt, len, false));
	h.csum_start = 99;
	assert_int_equal(off_csum_complete(pkt, len, &h), -NC_E_MALFORMED);
}

static void test_icmp_too_big(void **state)
{
	uint8_t out[1400];
	struct nc_addr me4, me6;
	size_t len = make_super(false, 1450);
	int n;
	(void)state;

	nc_addr_parse_ip("10.100.0.2", &me4);
	nc_addr_parse_ip("fd00::2", &me6);
	n = icmp_too_big(sp, len, 1420, &me4, out, sizeof(out));
	assert_int_equal(n, 576);
	assert_int_equal(out[9], 1);
	assert_memory_equal(out + 16, sp + 12, 4); /* back to the sender */
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], 4);
	assert_int_equal(nc_get_n16(out + 26), 1420);
	assert_int_equal(nc_csum_fold(nc_csum_add(0, out, 20)), 0);
	assert_int_equal(nc_csum_fold(nc_csum_add(0, out + 20, (size_t)n - 20)), 0);
	assert_memory_equal(out + 28, sp, 28);
	assert_int_equal(icmp_too_big(sp, len, 1420, &me4, out, 100), -NC_E_NOSPACE);
	sp[6] = 0; /* no DF: a router would fragment */
	assert_int_equal(icmp_too_big(sp, len, 1420, &me4, out, sizeof(out)), 0);
	len = make_super(true, 1450);
	n = icmp_too_big(sp, len, 1420, &me6, out, sizeof(out));
	assert_int_equal(n, 1280);
	assert_int_equal(out[6], 58);
	assert_int_equal(out[40], 2);
	assert_int_equal(nc_get_n32(out + 44), 1420);
	uint32_t sum = nc_csum_add(0, out + 8, 32) + 58 + (uint32_t)(n - 40);
	assert_int_equal(nc_csum_fold(nc_csum_add(sum, out + 40, (size_t)n - 40)), 0);
	sp[0] = 0x10;
	assert_int_equal(icmp_too_big(sp, len, 1420, &me6, out, sizeof(out)), -NC_E_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_gro_refusals),
		cmocka_unit_test(test_csum_complete_and_vnet),
		cmocka_unit_test(test_icmp_too_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
