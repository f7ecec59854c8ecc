/* The PCP codec (RFC 6887): golden request bytes, every result code, NAT-PMP answers, option
 * skipping, and truncated or garbage responses at every length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include "pcp.h"
#include "testaddr.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t nonce1[PCP_NONCE_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* RFC 6887 §14.1 ANNOUNCE from 10.1.0.2: version 2, opcode 0, lifetime 0, ::ffff:10.1.0.2. */
static const uint8_t golden_announce[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                         /* header */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, /* client */
	0x0a, 0x01, 0x00, 0x02,
};

/* RFC 6887 §11.1 MAP from 192.168.1.100, lifetime 7200, nonce 1..12, UDP, internal 5000,
 * suggested external 5000, no address preference (::ffff:0.0.0.0). */
static const uint8_t golden_map[] = {
	0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x20,                         /* header */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, /* client */
	0xc0, 0xa8, 0x01, 0x64,                                                 /* ... */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, /* nonce */
	0x11, 0x00, 0x00, 0x00, 0x13, 0x88, 0x13, 0x88,                         /* proto, ports */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, /* ext ip */
	0x00, 0x00, 0x00, 0x00,
};

static void test_encode_announce_golden(void **state)
{
	uint8_t buf[64];
	struct nc_addr c = ip("10.1.0.2");
	(void)state;

	assert_int_equal(sizeof(golden_announce), PCP_HDR_LEN);
	assert_int_equal(pcp_encode_announce(buf, sizeof(buf), &c), PCP_HDR_LEN);
	assert_memory_equal(buf, golden_announce, PCP_HDR_LEN);
}

static void test_encode_map_golden(void **state)
{
	uint8_t buf[128];
	struct nc_addr c = ip("192.168.1.100");
	struct pcp_map m = {.protocol = 17, .internal_port = 5000, .external_port = 5000};
	(void)state;

	memcpy(m.nonce, nonce1, sizeof(nonce1));
	assert_int_equal(sizeof(golden_map), PCP_HDR_LEN + PCP_MAP_LEN);
	assert_int_equal(pcp_encode_map(buf, sizeof(buf), 7200, &c, &m), sizeof(golden_map));
	assert_memory_equal(buf, golden_map, sizeof(golden_map));
	/* too small: an error, never a partial message passed off as whole */
	for (size_t cap = 0; cap < sizeof(golden_map); cap++)
		assert_int_equal(pcp_encode_map(buf, cap, 7200, &c, &m), -NC_E_NOSPACE);
}

static void test_encode_ipv6_and_family(void **state)
{
	uint8_t buf[128];
	struct nc_addr c = ip("2001:db8::1"), none = {0};
	struct pcp_map m = {.protocol = 17, .internal_port = 1, .external_ip = ip("2001:db8::2")};
	(void)state;

	assert_int_equal(pcp_encode_map(buf, sizeof(buf), 1, &c, &m), 60);
	assert_memory_equal(buf + 8, c.ip, 16);
	assert_memory_equal(buf + 44, m.external_ip.ip, 16);
	assert_int_equal(pcp_encode_announce(buf, sizeof(buf), &none), -NC_E_FAMILY);
	assert_int_equal(pcp_encode_map(buf, sizeof(buf), 1, &none, &m), -NC_E_FAMILY);
}

static void test_nonce_random(void **state)
{
	uint8_t a[PCP_NONCE_LEN], b[PCP_NONCE_LEN];
	(void)state;

	pcp_new_nonce(a);
	pcp_new_nonce(b);
	assert_true(memcmp(a, b, PCP_NONCE_LEN) != 0);
}

/* A response: header + optional MAP data + extra bytes (options). */
static size_t make_resp(uint8_t *buf, uint8_t version, uint8_t opcode, uint8_t result,
			uint32_t lifetime, bool with_map, const uint8_t *extra, size_t extra_len)
{
	size_t n = 0;

	memset(buf, 0, 1200);
	buf[n++] = version;
	buf[n++] = 0x80 | opcode;
	buf[n++] = 0;
	buf[n++] = result;
	buf[n++] = (uint8_t)(lifetime >> 24);
	buf[n++] = (uint8_t)(lifetime >> 16);
	buf[n++] = (uint8_t)(lifetime >> 8);
	buf[n++] = (uint8_t)lifetime;
	buf[n++] = 0, buf[n++] = 0, buf[n++] = 0x12, buf[n++] = 0x34; /* epoch 0x1234 */
	n += 12;
	if (with_map) {
		static const uint8_t ext[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 2, 1, 1, 1};
		memcpy(buf + n, nonce1, PCP_NONCE_LEN);
		n += PCP_NONCE_LEN;
		buf[n++] = 17;
		n += 3;
		buf[n++] = 0x13, buf[n++] = 0x88; /* internal 5000 */
		buf[n++] = 0xc3, buf[n++] = 0x50; /* external 50000 */
		memcpy(buf + n, ext, 16);
		n += 16;
	}
	if (extra_len)
		memcpy(buf + n, extra, extra_len);
	return n + extra_len;
}

static void test_decode_map_success(void **state)
{
	uint8_t buf[1200];
	struct pcp_response r;
	struct pcp_map req = {.protocol = 17, .internal_port = 5000};
	char a[NC_ADDR_STRLEN], w[200];
	size_t n = make_resp(buf, 2, PCP_OP_MAP, 0, 7200, true, NULL, 0);
	(void)state;

	memcpy(req.nonce, nonce1, sizeof(nonce1));
	assert_int_equal(n, 60);
	assert_int_equal(pcp_decode_response(buf, n, &r), 0);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.opcode, PCP_OP_MAP);
	assert_int_equal(r.result, PCP_R_SUCCESS);
	assert_int_equal(r.lifetime, 7200);
	assert_int_equal(r.epoch, 0x1234);
	assert_true(r.has_map);
	assert_int_equal(r.map.protocol, 17);
	assert_int_equal(r.map.internal_port, 5000);
	assert_int_equal(r.map.external_port, 50000);
	assert_int_equal(r.map.external_ip.family, AF_INET);
	assert_string_equal(nc_addr_ip_str(&r.map.external_ip, a), "2.1.1.1");
	assert_true(pcp_response_matches(&r, PCP_OP_MAP, &req));
	assert_false(pcp_response_matches(&r, PCP_OP_ANNOUNCE, &req));
	req.nonce[11] ^= 1;
	assert_false(pcp_response_matches(&r, PCP_OP_MAP, &req));
	req.nonce[11] ^= 1;
	req.internal_port = 5001;
	assert_false(pcp_response_matches(&r, PCP_OP_MAP, &req));
	req.internal_port = 5000;
	req.protocol = 6;
	assert_false(pcp_response_matches(&r, PCP_OP_MAP, &req));
	assert_string_equal(pcp_response_str(&r, w, sizeof(w)), "PCP: SUCCESS (success)");
}

static void test_decode_every_result_code(void **state)
{
	static const char *const names[] = {
		"SUCCESS",           "UNSUPP_VERSION",         "NOT_AUTHORIZED",
		"MALFORMED_REQUEST", "UNSUPP_OPCODE",          "UNSUPP_OPTION",
		"MALFORMED_OPTION",  "NETWORK_FAILURE",        "NO_RESOURCES",
		"UNSUPP_PROTOCOL",   "USER_EX_QUOTA",          "CANNOT_PROVIDE_EXTERNAL",
		"ADDRESS_MISMATCH",  "EXCESSIVE_REMOTE_PEERS",
	};
	uint8_t buf[1200];
	struct pcp_response r;
	struct pcp_map req = {.protocol = 17, .internal_port = 5000};
	char w[200], expect[200];
	(void)state;

	memcpy(req.nonce, nonce1, sizeof(nonce1));
	for (unsigned code = 0; code < 14; code++) {
		/* with the MAP data copied back (RFC 6887 §8.3) ... */
		size_t n = make_resp(buf, 2, PCP_OP_MAP, (uint8_t)code, 0, true, NULL, 0);
		assert_int_equal(pcp_decode_response(buf, n, &r), 0);
		assert_int_equal(r.result, code);
		assert_string_equal(pcp_result_name(code), names[code]);
		assert_true(strlen(pcp_result_message(code)) > 5);
		assert_true(pcp_response_matches(&r, PCP_OP_MAP, &req));
		snprintf(expect, sizeof(expect), "PCP: %s (%s)", names[code],
			 pcp_result_message(code));
		assert_string_equal(pcp_response_str(&r, w, sizeof(w)), expect);
		/* ... and, for errors, without it */
		n = make_resp(buf, 2, PCP_OP_MAP, (uint8_t)code, 0, false, NULL, 0);
		if (code == 0) {
			assert_int_equal(pcp_decode_response(buf, n, &r), -NC_E_TRUNCATED);
		} else {
			assert_int_equal(pcp_decode_response(buf, n, &r), 0);
			assert_false(r.has_map);
			assert_int_equal(r.result, code);
			assert_true(pcp_response_matches(&r, PCP_OP_MAP, &req));
		}
	}
	assert_string_equal(pcp_response_str(&(struct pcp_response){.version = 2, .result = 2}, w,
					     sizeof(w)),
			    "PCP: NOT_AUTHORIZED (the gateway refused the mapping)");
	assert_string_equal(pcp_result_name(14), "UNKNOWN");
	assert_string_equal(pcp_result_name(255), "UNKNOWN");
	assert_non_null(pcp_result_message(99));
}

static void test_decode_announce(void **state)
{
	uint8_t buf[1200];
	struct pcp_response r;
	size_t n = make_resp(buf, 2, PCP_OP_ANNOUNCE, 0, 0, false, NULL, 0);
	(void)state;

	assert_int_equal(pcp_decode_response(buf, n, &r), 0);
	assert_int_equal(r.opcode, PCP_OP_ANNOUNCE);
	assert_false(r.has_map);
	assert_true(pcp_response_matches(&r, PCP_OP_ANNOUNCE, NULL));
}

static void test_natpmp_answer(void **state)
{
	/* RFC 6887 §9: a NAT-PMP-only gateway answers version 2 with version 0, result 1. */
	static const uint8_t unsupp[] = {0x00, 0x81, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2a};
	static const uint8_t other[] = {0x00, 0x80, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t request[] = {0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2a};
	struct pcp_response r;
	char w[200];
	(void)state;

	assert_int_equal(pcp_decode_response(unsupp, sizeof(unsupp), &r), 0);
	assert_int_equal(r.version, 0);
	assert_int_equal(r.opcode, 1);
	assert_int_equal(r.result, 1);
	assert_int_equal(r.epoch, 42);
	assert_false(r.has_map);
	assert_false(pcp_response_matches(&r, PCP_OP_MAP, NULL));
	assert_non_null(strstr(pcp_response_str(&r, w, sizeof(w)), "NAT-PMP only"));
	assert_int_equal(pcp_decode_response(other, sizeof(other), &r), 0);
	assert_non_null(strstr(pcp_response_str(&r, w, sizeof(w)), "NAT-PMP result 3"));
	for (size_t n = 1; n < sizeof(unsupp); n++)
		assert_int_equal(pcp_decode_response(unsupp, n, &r), -NC_E_TRUNCATED);
	assert_int_equal(pcp_decode_response(request, sizeof(request), &r), -NC_E_PROTOCOL);
}

static void test_other_version(void **state)
{
	uint8_t buf[1200];
	struct pcp_response r;
	char w[200];
	size_t n = make_resp(buf, 1, PCP_OP_MAP, PCP_R_UNSUPP_VERSION, 0, false, NULL, 0);
	(void)state;

	assert_int_equal(pcp_decode_response(buf, n, &r), 0);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.result, PCP_R_UNSUPP_VERSION);
	assert_false(pcp_response_matches(&r, PCP_OP_MAP, NULL));
	assert_non_null(strstr(pcp_response_str(&r, w, sizeof(w)), "version 1"));
}

static void test_options_skipped(void **state)
{
	/* THIRD_PARTY (16 bytes), PREFER_FAILURE (0 bytes), an unknown option of 5 bytes padded
	 * to 8, FILTER (20 bytes). */
	uint8_t opts[4 + 16 + 4 + 4 + 8 + 4 + 20];
	uint8_t buf[1200];
	struct pcp_response r;
	size_t o = 0, n;
	(void)state;

	memset(opts, 0xee, sizeof(opts));
	opts[o] = 1, opts[o + 1] = 0, opts[o + 2] = 0, opts[o + 3] = 16, o += 4 + 16;
	opts[o] = 2, opts[o + 1] = 0, opts[o + 2] = 0, opts[o + 3] = 0, o += 4;
	opts[o] = 0x99, opts[o + 1] = 0, opts[o + 2] = 0, opts[o + 3] = 5, o += 4 + 8;
	opts[o] = 3, opts[o + 1] = 0, opts[o + 2] = 0, opts[o + 3] = 20, o += 4 + 20;
	assert_int_equal(o, sizeof(opts));
	n = make_resp(buf, 2, PCP_OP_MAP, 0, 60, true, opts, sizeof(opts));
	assert_int_equal(pcp_decode_response(buf, n, &r), 0);
	assert_int_equal(r.n_options, 4);
	assert_int_equal(r.map.external_port, 50000);

	/* an option claiming more than the message holds */
	opts[3] = 200;
	n = make_resp(buf, 2, PCP_OP_MAP, 0, 60, true, opts, sizeof(opts));
	assert_int_equal(pcp_decode_response(buf, n, &r), -NC_E_TRUNCATED);
	/* 7 data bytes (plus 1 pad byte) where only 4 remain */
	{
		uint8_t bad[8] = {0x10, 0, 0, 7, 0, 0, 0, 0};

		n = make_resp(buf, 2, PCP_OP_MAP, 0, 60, true, bad, sizeof(bad));
		assert_true(pcp_decode_response(buf, n, &r) < 0);
	}
	/* ANNOUNCE with an option */
	{
		uint8_t one[8] = {0x80, 0, 0, 4, 1, 2, 3, 4};
		n = make_resp(buf, 2, PCP_OP_ANNOUNCE, 0, 0, false, one, sizeof(one));
		assert_int_equal(pcp_decode_response(buf, n, &r), 0);
		assert_int_equal(r.n_options, 1);
	}
}

static void test_framing_rules(void **state)
{
	uint8_t buf[1200];
	struct pcp_response r;
	size_t n = make_resp(buf, 2, PCP_OP_ANNOUNCE, 0, 0, false, NULL, 0);
	(void)state;

	/* R bit clear: a request, not a response (RFC 6887 §8.3) */
	buf[1] &= 0x7f;
	assert_int_equal(pcp_decode_response(buf, n, &r), -NC_E_PROTOCOL);
	/* longer than 1100 bytes, or not a multiple of 4 */
	n = make_resp(buf, 2, PCP_OP_ANNOUNCE, 0, 0, false, NULL, 0);
	assert_int_equal(pcp_decode_response(buf, 1104, &r), -NC_E_MALFORMED);
	assert_int_equal(pcp_decode_response(buf, 26, &r), -NC_E_MALFORMED);
	assert_int_equal(pcp_decode_response(buf, 0, &r), -NC_E_TRUNCATED);
	/* an unknown opcode's data is left alone */
	n = make_resp(buf, 2, 0x55, 0, 0, false, (const uint8_t *)"abcdefgh", 8);
	assert_int_equal(pcp_decode_response(buf, n, &r), 0);
	assert_int_equal(r.opcode, 0x55);
}

/* Every prefix of a valid response, in a buffer of exactly that size (so a sanitizer build sees
 * any over-read): an error or a valid shorter message, never a crash. */
static void test_truncated_every_length(void **state)
{
	uint8_t opt[8] = {1, 0, 0, 4, 9, 9, 9, 9};
	uint8_t buf[1200];
	struct pcp_response r;
	size_t full = make_resp(buf, 2, PCP_OP_MAP, 0, 60, true, opt, sizeof(opt));
	(void)state;

	for (size_t n = 0; n <= full; n++) {
		uint8_t *p = malloc(n ? n : 1);
		int e;

		memcpy(p, buf, n);
		e = pcp_decode_response(p, n, &r);
		if (n == 60 || n == full)
			assert_int_equal(e, 0);
		else
			assert_true(e == -NC_E_TRUNCATED || e == -NC_E_MALFORMED);
		free(p);
	}
}

static void test_garbage(void **state)
{
	uint8_t buf[1200];
	struct pcp_response r;
	(void)state;

	for (int i = 0; i < 20000; i++) {
		size_t n = randombytes_uniform(sizeof(buf));
		uint8_t *p;

		randombytes_buf(buf, n);
		if (i & 1)
			buf[0] = (uint8_t)(i & 2 ? 2 : 0); /* look like PCP or NAT-PMP */
		if (i & 4)
			buf[1] |= 0x80;
		p = malloc(n ? n : 1);
		memcpy(p, buf, n);
		(void)pcp_decode_response(p, n, &r);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_announce_golden),
		cmocka_unit_test(test_encode_map_golden),
		cmocka_unit_test(test_encode_ipv6_and_family),
		cmocka_unit_test(test_nonce_random),
		cmocka_unit_test(test_decode_map_success),
		cmocka_unit_test(test_decode_every_result_code),
		cmocka_unit_test(test_decode_announce),
		cmocka_unit_test(test_natpmp_answer),
		cmocka_unit_test(test_other_version),
		cmocka_unit_test(test_options_skipped),
		cmocka_unit_test(test_framing_rules),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_garbage),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
