/* The STUN codec: RFC 5769 test vectors, round trips of every attribute, and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "stun.h"

#include <arpa/inet.h>
#include <string.h>

/* RFC 5769 §2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
 * MESSAGE-INTEGRITY, FINGERPRINT). */
static const uint8_t rfc5769_request[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
	0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
	0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
	0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2: sample IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const uint8_t rfc5769_ipv4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
	0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3: sample IPv6 response, 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
static const uint8_t rfc5769_ipv6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
	0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
	0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
	0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const uint8_t vector_tid[STUN_TID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
						  0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static struct nc_addr ep(const char *s)
{
	struct nc_addr a;
	assert_int_equal(nc_addr_parse(s, 0, &a), 0);
	return a;
}

static void test_rfc5769_request(void **state)
{
	struct stun_msg m;
	(void)state;

	assert_int_equal(stun_decode(rfc5769_request, sizeof(rfc5769_request), &m), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_false(m.classic);
	assert_memory_equal(m.tid, vector_tid, STUN_TID_LEN);
	assert_string_equal(m.software, "STUN test client");
	assert_true(m.has & STUN_HAS_USERNAME);
	assert_true(m.has & STUN_HAS_INTEGRITY);
	assert_true(m.fingerprint_ok);
	/* PRIORITY (0x0024) is comprehension-required and not ours: listed for a 420. */
	assert_int_equal(m.n_unknown_required, 1);
	assert_int_equal(m.unknown_required[0], 0x0024);
}

static void test_rfc5769_responses(void **state)
{
	struct stun_msg m;
	(void)state;

	assert_int_equal(stun_decode(rfc5769_ipv4, sizeof(rfc5769_ipv4), &m), 0);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_string_equal(m.software, "test vector");
	assert_true(m.fingerprint_ok);
	assert_true(nc_addr_eq(&m.xor_mapped, &(struct nc_addr){0}) == false);
	{
		struct nc_addr want = ep("192.0.2.1:32853");
		assert_true(nc_addr_eq(&m.xor_mapped, &want));
	}
	assert_int_equal(stun_decode(rfc5769_ipv6, sizeof(rfc5769_ipv6), &m), 0);
	assert_true(m.fingerprint_ok);
	{
		struct nc_addr want = ep("[2001:db8:1234:5678:11:2233:4455:6677]:32853");
		assert_true(nc_addr_eq(&m.xor_mapped, &want));
	}
}

static void test_rfc5769_encoding(void **state)
{
	/* Encoding the same XOR-MAPPED-ADDRESS gives the vector's bytes (§2.2, §2.3). */
	uint8_t buf[128];
	struct stun_builder b;
	struct nc_addr v4 = ep("192.0.2.1:32853");
	struct nc_addr v6 = ep("[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	(void)state;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, vector_tid);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &v4);
	assert_int_equal(stun_build_finish(&b, false), 32);
	assert_memory_equal(buf + 20, rfc5769_ipv4 + 36, 12);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, vector_tid);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &v6);
	assert_int_equal(stun_build_finish(&b, false), 44);
	assert_memory_equal(buf + 20, rfc5769_ipv6 + 36, 24);
}

static void test_crc32(void **state)
{
	(void)state;
	assert_int_equal(stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
}

static void test_message_type(void **state)
{
	uint16_t method;
	uint8_t cls;
	(void)state;

	/* RFC 8489 §5: Binding success response is 0x0101, error 0x0111. */
	assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), 0x0101);
	assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR), 0x0111);
	assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_INDICATION), 0x0011);
	for (uint16_t mth = 0; mth < 0x1000; mth += 0x123)
		for (uint8_t c = 0; c < 4; c++) {
			stun_type_split(stun_msg_type(mth, c), &method, &cls);
			assert_int_equal(method, mth);
			assert_int_equal(cls, c);
		}
}

static void test_round_trip_all_attributes(void **state)
{
	uint8_t buf[512];
	struct stun_builder b;
	struct stun_msg m;
	struct nc_addr a4 = ep("203.0.113.9:4242"), a6 = ep("[2001:db8::7]:65535"),
		       o = ep("198.18.1.2:3479");
	static const uint16_t unknown[] = {0x7F01, 0x0024};
	int n;
	(void)state;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_ERROR, vector_tid);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a6);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a4);
	stun_add_addr(&b, STUN_ATTR_RESPONSE_ORIGIN, &o);
	stun_add_addr(&b, STUN_ATTR_OTHER_ADDRESS, &o);
	stun_add_addr(&b, STUN_ATTR_CHANGED_ADDRESS, &o);
	stun_add_addr(&b, STUN_ATTR_SOURCE_ADDRESS, &a4);
	stun_add_change_request(&b, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	stun_add_response_port(&b, 40001);
	stun_add_padding(&b, 13);
	stun_add_software(&b, "natcheck test");
	stun_add_error(&b, 420, NULL);
	stun_add_unknown_attrs(&b, unknown, 2);
	n = stun_build_finish(&b, true);
	assert_true(n > 0);
	assert_int_equal(n % 4, 0);

	assert_int_equal(stun_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	assert_true(nc_addr_eq(&m.xor_mapped, &a6));
	assert_true(nc_addr_eq(&m.mapped, &a4));
	assert_true(nc_addr_eq(&m.response_origin, &o));
	assert_true(nc_addr_eq(&m.other, &o));
	assert_true(nc_addr_eq(&m.changed, &o));
	assert_true(nc_addr_eq(&m.source, &a4));
	assert_int_equal(m.change_flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	assert_int_equal(m.response_port, 40001);
	assert_int_equal(m.padding_len, 13);
	assert_string_equal(m.software, "natcheck test");
	assert_int_equal(m.error_code, 420);
	assert_string_equal(m.error_reason, "Unknown Attribute");
	assert_int_equal(m.n_unknown_attrs, 2);
	assert_int_equal(m.unknown_attrs[1], 0x0024);
	assert_true(m.fingerprint_ok);
}

static void test_truncation_everywhere(void **state)
{
	struct stun_msg m;
	uint8_t buf[sizeof(rfc5769_ipv6)];
	(void)state;

	/* Every prefix of a valid message is rejected; a prefix with a patched length field
	 * (so the header agrees with the datagram) is rejected by the attribute walk. */
	for (size_t len = 0; len < sizeof(rfc5769_ipv6); len++) {
		assert_true(stun_decode(rfc5769_ipv6, len, &m) < 0);
		if (len >= STUN_HEADER_LEN && len % 4 == 0) {
			memcpy(buf, rfc5769_ipv6, len);
			buf[2] = (uint8_t)((len - 20) >> 8);
			buf[3] = (uint8_t)(len - 20);
			/* Cut inside an attribute: error. Cut between attributes: a valid, shorter
			 * message (without its FINGERPRINT). Never a crash, never a read past len. */
			int rc = stun_decode(buf, len, &m);
			assert_true(rc == 0 || rc == -NC_E_TRUNCATED || rc == -NC_E_MALFORMED);
		}
	}
}

static void test_bad_input(void **state)
{
	uint8_t buf[sizeof(rfc5769_ipv4)];
	struct stun_msg m;
	(void)state;

	memcpy(buf, rfc5769_ipv4, sizeof(buf));
	buf[sizeof(buf) - 1] ^= 1; /* FINGERPRINT no longer matches */
	assert_int_equal(stun_decode(buf, sizeof(buf), &m), -NC_E_FINGERPRINT);

	memcpy(buf, rfc5769_ipv4, sizeof(buf));
	buf[30] ^= 1; /* SOFTWARE changed: fingerprint catches it */
	assert_int_equal(stun_decode(buf, sizeof(buf), &m), -NC_E_FINGERPRINT);

	memcpy(buf, rfc5769_ipv4, sizeof(buf));
	buf[0] = 0x81; /* top bits must be zero */
	assert_int_equal(stun_decode(buf, sizeof(buf), &m), -NC_E_NOT_STUN);

	memcpy(buf, rfc5769_ipv4, sizeof(buf));
	buf[3] = 0x3d; /* length not a multiple of 4 */
	assert_int_equal(stun_decode(buf, sizeof(buf), &m), -NC_E_NOT_STUN);

	memcpy(buf, rfc5769_ipv4, sizeof(buf));
	buf[41] = 0x03; /* XOR-MAPPED-ADDRESS family 3 */
	assert_true(stun_decode(buf, sizeof(buf), &m) < 0);

	memcpy(buf, rfc5769_ipv4, sizeof(buf));
	buf[39] = 0x40; /* XOR-MAPPED-ADDRESS length runs past the message */
	assert_int_equal(stun_decode(buf, sizeof(buf), &m), -NC_E_TRUNCATED);

	assert_false(stun_is_message(NULL, 0, true));
	assert_false(stun_is_message(rfc5769_ipv4, 19, true));
}

static void test_classic_and_reply(void **state)
{
	/* An RFC 3489 request: no cookie, 16-byte id. The reply echoes all 16 bytes. */
	uint8_t req[20] = {0x00, 0x01, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	uint8_t buf[128];
	struct stun_builder b;
	struct stun_msg m;
	struct nc_addr a = ep("203.0.113.9:4242");
	int n;
	(void)state;

	assert_true(stun_is_message(req, sizeof(req), true));
	assert_false(stun_is_message(req, sizeof(req), false));
	assert_int_equal(stun_decode(req, sizeof(req), &m), 0);
	assert_true(m.classic);
	stun_build_reply(&b, buf, sizeof(buf), req, sizeof(req), STUN_CLASS_SUCCESS);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a);
	n = stun_build_finish(&b, true); /* no FINGERPRINT in RFC 3489 */
	assert_int_equal(n, 32);
	assert_memory_equal(buf + 4, req + 4, 16);
	assert_int_equal(stun_decode(buf, (size_t)n, &m), 0);
	assert_true(m.classic);
	assert_true(nc_addr_eq(&m.mapped, &a));
}

static void test_builder_errors(void **state)
{
	uint8_t buf[24];
	struct stun_builder b;
	struct nc_addr a = ep("203.0.113.9:4242"), none = {0};
	(void)state;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, vector_tid);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a); /* 12 bytes do not fit in 4 */
	assert_int_equal(stun_build_finish(&b, false), -NC_E_NOSPACE);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, vector_tid);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &none);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_FAMILY);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, vector_tid);
	stun_add_error(&b, 200, "not an error code");
	assert_int_equal(stun_build_finish(&b, false), -NC_E_INVALID);

	stun_build_init(&b, buf, 10, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, vector_tid);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_NOSPACE);
}

static void test_addresses(void **state)
{
	struct nc_addr a;
	char s[NC_ADDR_STRLEN];
	(void)state;

	assert_int_equal(nc_addr_parse("198.18.1.1", 3478, &a), 0);
	assert_string_equal(nc_addr_str(&a, s), "198.18.1.1:3478");
	assert_int_equal(nc_addr_parse("[::1]:9", 3478, &a), 0);
	assert_string_equal(nc_addr_str(&a, s), "[::1]:9");
	assert_int_equal(nc_addr_parse("2001:db8::1", 5, &a), 0);
	assert_int_equal(a.port, 5);
	assert_int_equal(nc_addr_parse("198.18.1.1:0", 1, &a), -NC_E_PARSE);
	assert_int_equal(nc_addr_parse("198.18.1.1:65536", 1, &a), -NC_E_PARSE);
	assert_int_equal(nc_addr_parse("stun.example.org", 1, &a), -NC_E_PARSE);
	assert_int_equal(nc_addr_parse("[::1", 1, &a), -NC_E_PARSE);
	nc_addr_parse("100.64.3.4", 0, &a);
	assert_int_equal(nc_addr_scope(&a), NC_SCOPE_CGNAT);
	nc_addr_parse("192.168.1.1", 0, &a);
	assert_int_equal(nc_addr_scope(&a), NC_SCOPE_PRIVATE);
	nc_addr_parse("198.18.10.1", 0, &a);
	assert_int_equal(nc_addr_scope(&a), NC_SCOPE_PUBLIC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769_request),
		cmocka_unit_test(test_rfc5769_responses),
		cmocka_unit_test(test_rfc5769_encoding),
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_message_type),
		cmocka_unit_test(test_round_trip_all_attributes),
		cmocka_unit_test(test_truncation_everywhere),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_classic_and_reply),
		cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
