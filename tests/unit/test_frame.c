/* reflector/frame.c: the fast path's Ethernet/IPv4/UDP parser and builder. Frames are made by
 * the builder (checked byte by byte once against a hand-written frame) and then broken one
 * field at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cursor.h"
#include <natcheck/error.h>
#include "frame.h"
#include "inetcsum.h"

#include <string.h>
#include <sys/socket.h>

static const uint8_t MAC_C[6] = {0x02, 0, 0, 0, 0, 0x0c}, MAC_S[6] = {0x02, 0, 0, 0, 0, 0x05};

static struct nc_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct nc_addr x;
	nc_addr_set(&x, AF_INET, (uint8_t[4]){a, b, c, d}, port);
	return x;
}

/* A request frame from 198.18.7.2:40000 to 198.18.1.1:3478 carrying plen bytes. */
static size_t request(uint8_t *f, size_t cap, size_t plen)
{
	uint8_t payload[2048];
	struct nc_addr c = v4(198, 18, 7, 2, 40000), s = v4(198, 18, 1, 1, 3478);

	for (size_t i = 0; i < plen; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	int n = frame_build_udp4(f, cap, MAC_S, MAC_C, &c, &s, payload, plen);
	assert_true(n > 0);
	return (size_t)n;
}

/* Recomputes both checksums after a test changed a header field. */
static void fix_sums(uint8_t *f)
{
	size_t hlen = (size_t)(f[14] & 0xf) * 4, ulen = nc_get_n16(f + 14 + hlen + 4);
	uint8_t *udp = f + 14 + hlen;

	nc_put_n16(f + 24, 0);
	nc_put_n16(f + 24, nc_csum_fold(nc_csum_add(0, f + 14, hlen)));
	nc_put_n16(udp + 6, 0);
	nc_put_n16(udp + 6, nc_csum_l4_ipv4(udp, ulen, nc_get_n32(f + 26), nc_get_n32(f + 30), 17));
}

static void test_builder_bytes(void **state)
{
	/* 0x0001 (Binding request), checked against a frame written out by hand. */
	static const uint8_t want[] = {
		0x02, 0, 0, 0, 0, 0x0c, 0x02, 0, 0, 0, 0, 0x05, 0x08, 0x00,  /* Ethernet */
		0x45, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,  /* IPv4 ... */
		0x00, 0x00, 198, 18, 1, 1, 198, 18, 7, 2,                     /* sum, src, dst */
		0x0d, 0x96, 0x9c, 0x40, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x01,  /* UDP, payload */
	};
	uint8_t f[64], exp[sizeof(want)];
	struct nc_addr s = v4(198, 18, 1, 1, 3478), c = v4(198, 18, 7, 2, 40000);
	(void)state;

	memcpy(exp, want, sizeof(want));
	nc_put_n16(exp + 24, nc_csum_fold(nc_csum_add(0, exp + 14, 20)));
	nc_put_n16(exp + 40, nc_csum_l4_ipv4(exp + 34, 10, nc_get_n32(exp + 26), nc_get_n32(exp + 30), 17));
	assert_int_equal(frame_build_udp4(f, sizeof(f), MAC_C, MAC_S, &s, &c, (const uint8_t *)"\0\1", 2),
			 (int)sizeof(want));
	assert_memory_equal(f, exp, sizeof(want));
	/* Exactly enough room works, one byte less does not. */
	assert_int_equal(frame_build_udp4(f, sizeof(want), MAC_C, MAC_S, &s, &c, (const uint8_t *)"\0\1", 2),
			 (int)sizeof(want));
	assert_int_equal(frame_build_udp4(f, sizeof(want) - 1, MAC_C, MAC_S, &s, &c, (const uint8_t *)"\0\1", 2),
			 -NC_E_NOSPACE);
	struct nc_addr six = {.family = AF_INET6, .port = 1};
	assert_int_equal(frame_build_udp4(f, sizeof(f), MAC_C, MAC_S, &six, &c, f, 0), -NC_E_FAMILY);
}

static void test_round_trip(void **state)
{
	uint8_t f[2048];
	struct frame_udp4 r;
	(void)state;

	for (size_t plen = 0; plen <= FRAME_MAX_UDP - 8; plen += 67) {
		size_t n = request(f, sizeof(f), plen);
		assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_OK);
		assert_memory_equal(r.src_mac, MAC_C, 6);
		assert_string_equal(nc_addr_str(&r.src, (char[NC_ADDR_STRLEN]){0}), "198.18.7.2:40000");
		assert_string_equal(nc_addr_str(&r.dst, (char[NC_ADDR_STRLEN]){0}), "198.18.1.1:3478");
		assert_int_equal(r.len, plen);
		assert_ptr_equal(r.payload, f + FRAME_HDRS_LEN);
	}
	/* The largest datagram the fast path takes, and one byte more. */
	size_t n = request(f, sizeof(f), FRAME_MAX_UDP - 8);
	assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_OK);
	n = request(f, sizeof(f), FRAME_MAX_UDP - 7);
	assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_NOT_OURS);
}

static void test_every_truncation(void **state)
{
	uint8_t f[128];
	struct frame_udp4 r;
	size_t n = request(f, sizeof(f), 20);
	(void)state;

	for (size_t len = 0; len < n; len++)
		assert_int_equal(frame_parse_udp4(f, len, true, &r), FRAME_BAD);
	/* Ethernet padding after the datagram is allowed. */
	memset(f + n, 0, 8);
	assert_int_equal(frame_parse_udp4(f, n + 8, false, &r), FRAME_OK);
	assert_int_equal(r.len, 20);
}

static void test_checksums(void **state)
{
	uint8_t f[128];
	struct frame_udp4 r;
	size_t n = request(f, sizeof(f), 20);
	(void)state;

	/* A flipped payload bit: the UDP checksum catches it unless the kernel vouched. */
	f[FRAME_HDRS_LEN + 3] ^= 0x10;
	assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_BAD);
	assert_int_equal(frame_parse_udp4(f, n, true, &r), FRAME_OK);
	/* Zero: the sender computed none (RFC 768), accepted. */
	nc_put_n16(f + 40, 0);
	assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_OK);
	/* The header checksum is always checked. */
	n = request(f, sizeof(f), 20);
	f[14 + 8] ^= 1; /* TTL */
	assert_int_equal(frame_parse_udp4(f, n, true, &r), FRAME_BAD);
}

static void test_not_ours(void **state)
{
	uint8_t f[128];
	struct frame_udp4 r;
	size_t n;
	(void)state;

	n = request(f, sizeof(f), 20);
	nc_put_n16(f + 12, 0x86dd); /* IPv6 */
	assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_NOT_OURS);
	n = request(f, sizeof(f), 20);
	f[14 + 9] = 6; /* TCP */
	fix_sums(f);
	assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_NOT_OURS);
	/* A first fragment (MF) and a later one (offset): the kernel reassembles those. */
	static const uint16_t frags[] = {0x2000, 0x0001, 0x4000 | 0x2000, 0x1fff};
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		n = request(f, sizeof(f), 20);
		nc_put_n16(f + 20, frags[i]);
		fix_sums(f);
		assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_NOT_OURS);
	}
}

static void test_bad_headers(void **state)
{
	uint8_t f[128];
	struct frame_udp4 r;
	size_t n;
	(void)state;

	struct { size_t off; uint8_t v; } bytes[] = {
		{14, 0x65},     /* version 6 */
		{14, 0x44},     /* IHL 4 */
		{14, 0x4f},     /* IHL 15: longer than the datagram */
	};
	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		n = request(f, sizeof(f), 20);
		f[bytes[i].off] = bytes[i].v;
		assert_int_equal(frame_parse_udp4(f, n, true, &r), FRAME_BAD);
	}
	struct { size_t off; uint16_t v; } words[] = {
		{16, 19},          /* total length below the header */
		{16, 20 + 8 + 21}, /* total length beyond the frame */
		{38, 7},           /* UDP length below its header */
		{38, 8 + 21},      /* UDP length beyond the IP payload */
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = request(f, sizeof(f), 20);
		nc_put_n16(f + words[i].off, words[i].v);
		nc_put_n16(f + 24, 0);
		nc_put_n16(f + 24, nc_csum_fold(nc_csum_add(0, f + 14, 20)));
		assert_int_equal(frame_parse_udp4(f, n, true, &r), FRAME_BAD);
	}
	/* A shorter UDP length than the IP payload is consistent: the datagram is that long. */
	n = request(f, sizeof(f), 20);
	nc_put_n16(f + 38, 8 + 12);
	fix_sums(f);
	assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_OK);
	assert_int_equal(r.len, 12);
}

static void test_ip_options(void **state)
{
	uint8_t f[160], g[160];
	struct frame_udp4 r;
	size_t n = request(f, sizeof(f), 20);
	(void)state;

	/* Four bytes of options (NOP x 4): IHL 6, the UDP header moves. */
	memcpy(g, f, 34);
	memset(g + 34, 1, 4);
	memcpy(g + 38, f + 34, n - 34);
	g[14] = 0x46;
	nc_put_n16(g + 16, (uint16_t)(nc_get_n16(f + 16) + 4));
	fix_sums(g);
	assert_int_equal(frame_parse_udp4(g, n + 4, false, &r), FRAME_OK);
	assert_int_equal(r.src.port, 40000);
	assert_int_equal(r.len, 20);
	assert_ptr_equal(r.payload, g + FRAME_HDRS_LEN + 4);
}

static void test_martians(void **state)
{
	static const uint8_t sources[][4] = {
		{0, 1, 2, 3}, {127, 0, 0, 1}, {224, 0, 0, 1}, {239, 255, 255, 250},
		{240, 0, 0, 1}, {255, 255, 255, 255}, {198, 18, 1, 1} /* = destination */,
	};
	uint8_t f[128];
	struct frame_udp4 r;
	size_t n;
	(void)state;

	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		n = request(f, sizeof(f), 20);
		memcpy(f + 26, sources[i], 4);
		fix_sums(f);
		assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_MARTIAN);
	}
	n = request(f, sizeof(f), 20);
	f[6] |= 0x01; /* group source MAC */
	assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_MARTIAN);
	n = request(f, sizeof(f), 20);
	nc_put_n16(f + 34, 0); /* source port 0: nowhere to answer */
	fix_sums(f);
	assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_MARTIAN);
	/* Private, CGNAT and ordinary addresses are answerable. */
	static const uint8_t fine[][4] = {{10, 0, 0, 1}, {100, 64, 0, 1}, {192, 168, 1, 1}, {223, 255, 255, 254}};
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		n = request(f, sizeof(f), 20);
		memcpy(f + 26, fine[i], 4);
		fix_sums(f);
		assert_int_equal(frame_parse_udp4(f, n, false, &r), FRAME_OK);
	}
}

static void test_zero_sum_sent_as_ones(void **state)
{
	uint8_t f[64];
	struct nc_addr s = v4(198, 18, 1, 1, 3478), c = v4(198, 18, 7, 2, 40000);
	uint8_t payload[2] = {0, 0};
	(void)state;

	/* Choose the two payload bytes so that the computed checksum is 0: the builder then
	 * writes 0xffff (0 would mean "no checksum"), which still verifies. */
	int n = frame_build_udp4(f, sizeof(f), MAC_C, MAC_S, &s, &c, payload, 2);
	uint16_t sum = nc_get_n16(f + 40);
	nc_put_n16(payload, sum);
	n = frame_build_udp4(f, sizeof(f), MAC_C, MAC_S, &s, &c, payload, 2);
	assert_int_equal(nc_get_n16(f + 40), 0xffff);
	struct frame_udp4 r;
	memcpy(f, MAC_S, 6);
	memcpy(f + 6, MAC_C, 6);
	assert_int_equal(frame_parse_udp4(f, (size_t)n, false, &r), FRAME_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builder_bytes),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_checksums),
		cmocka_unit_test(test_not_ours),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_ip_options),
		cmocka_unit_test(test_martians),
		cmocka_unit_test(test_zero_sum_sent_as_ones),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
