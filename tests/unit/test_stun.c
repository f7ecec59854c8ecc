/* The STUN codec: RFC 5769 test vectors, round trips of every attribute, and bad input of every
 * kind the decoder distinguishes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include "stun.h"
#include "testaddr.h"

#include <stdlib.h>
#include <string.h>

/* RFC 5769 §2.1, "Sample Request", byte for byte as the RFC prints it (short-term credentials,
 * username "evtj:h6vY", password "VOkJxbRl1RmTxUk/WvJxBt"). Padding is spaces, as allowed. */
static const uint8_t rfc5769_request[] = {
	0x00, 0x01, 0x00, 0x58, /* Request type and message length */
	0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
	0xb7, 0xe7, 0xa7, 0x01, /* } */
	0xbc, 0x34, 0xd6, 0x86, /* }  Transaction ID */
	0xfa, 0x87, 0xdf, 0xae, /* } */
	0x80, 0x22, 0x00, 0x10, /* SOFTWARE attribute header */
	0x53, 0x54, 0x55, 0x4e, /* } */
	0x20, 0x74, 0x65, 0x73, /* }  User-agent... */
	0x74, 0x20, 0x63, 0x6c, /* }  ...name */
	0x69, 0x65, 0x6e, 0x74, /* } */
	0x00, 0x24, 0x00, 0x04, /* PRIORITY attribute header */
	0x6e, 0x00, 0x01, 0xff, /* ICE priority value */
	0x80, 0x29, 0x00, 0x08, /* ICE-CONTROLLED attribute header */
	0x93, 0x2f, 0xf9, 0xb1, /* }  Pseudo-random tie breaker... */
	0x51, 0x26, 0x3b, 0x36, /* }   ...for ICE control */
	0x00, 0x06, 0x00, 0x09, /* USERNAME attribute header */
	0x65, 0x76, 0x74, 0x6a, /* } */
	0x3a, 0x68, 0x36, 0x76, /* }  Username (9 bytes) and padding (3 bytes) */
	0x59, 0x20, 0x20, 0x20, /* } */
	0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
	0x9a, 0xea, 0xa7, 0x0c, /* } */
	0xbf, 0xd8, 0xcb, 0x56, /* } */
	0x78, 0x1e, 0xf2, 0xb5, /* }  HMAC-SHA1 fingerprint */
	0xb2, 0xd3, 0xf2, 0x49, /* } */
	0xc1, 0xb5, 0x71, 0xa2, /* } */
	0x80, 0x28, 0x00, 0x04, /* FINGERPRINT attribute header */
	0xe5, 0x7a, 0x3b, 0xcf, /* CRC32 fingerprint */
};

/* RFC 5769 §2.2, "Sample IPv4 Response": XOR-MAPPED-ADDRESS 192.0.2.1 port 32853. */
static const uint8_t rfc5769_ipv4[] = {
	0x01, 0x01, 0x00, 0x3c, /* Response type and message length */
	0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
	0xb7, 0xe7, 0xa7, 0x01, /* } */
	0xbc, 0x34, 0xd6, 0x86, /* }  Transaction ID */
	0xfa, 0x87, 0xdf, 0xae, /* } */
	0x80, 0x22, 0x00, 0x0b, /* SOFTWARE attribute header */
	0x74, 0x65, 0x73, 0x74, /* } */
	0x20, 0x76, 0x65, 0x63, /* }  UTF-8 server name */
	0x74, 0x6f, 0x72, 0x20, /* } */
	0x00, 0x20, 0x00, 0x08, /* XOR-MAPPED-ADDRESS attribute header */
	0x00, 0x01, 0xa1, 0x47, /* Address family (IPv4) and xor'd mapped port number */
	0xe1, 0x12, 0xa6, 0x43, /* Xor'd mapped IPv4 address */
	0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
	0x2b, 0x91, 0xf5, 0x99, /* } */
	0xfd, 0x9e, 0x90, 0xc3, /* } */
	0x8c, 0x74, 0x89, 0xf9, /* }  HMAC-SHA1 fingerprint */
	0x2a, 0xf9, 0xba, 0x53, /* } */
	0xf0, 0x6b, 0xe7, 0xd7, /* } */
	0x80, 0x28, 0x00, 0x04, /* FINGERPRINT attribute header */
	0xc0, 0x7d, 0x4c, 0x96, /* CRC32 fingerprint */
};

/* RFC 5769 §2.3, "Sample IPv6 Response": 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
static const uint8_t rfc5769_ipv6[] = {
	0x01, 0x01, 0x00, 0x48, /* Response type and message length */
	0x21, 0x12, 0xa4, 0x42, /* Magic cookie */
	0xb7, 0xe7, 0xa7, 0x01, /* } */
	0xbc, 0x34, 0xd6, 0x86, /* }  Transaction ID */
	0xfa, 0x87, 0xdf, 0xae, /* } */
	0x80, 0x22, 0x00, 0x0b, /* SOFTWARE attribute header */
	0x74, 0x65, 0x73, 0x74, /* } */
	0x20, 0x76, 0x65, 0x63, /* }  UTF-8 server name */
	0x74, 0x6f, 0x72, 0x20, /* } */
	0x00, 0x20, 0x00, 0x14, /* XOR-MAPPED-ADDRESS attribute header */
	0x00, 0x02, 0xa1, 0x47, /* Address family (IPv6) and xor'd mapped port number */
	0x01, 0x13, 0xa9, 0xfa, /* } */
	0xa5, 0xd3, 0xf1, 0x79, /* }  Xor'd mapped IPv6 address */
	0xbc, 0x25, 0xf4, 0xb5, /* } */
	0xbe, 0xd2, 0xb9, 0xd9, /* } */
	0x00, 0x08, 0x00, 0x14, /* MESSAGE-INTEGRITY attribute header */
	0xa3, 0x82, 0x95, 0x4e, /* } */
	0x4b, 0xe6, 0x7b, 0xf1, /* } */
	0x17, 0x84, 0xc9, 0x7c, /* }  HMAC-SHA1 fingerprint */
	0x82, 0x92, 0xc2, 0x75, /* } */
	0xbf, 0xe3, 0xed, 0x41, /* } */
	0x80, 0x28, 0x00, 0x04, /* FINGERPRINT attribute header */
	0xc8, 0xfb, 0x0b, 0x4c, /* CRC32 fingerprint */
};

static const uint8_t vector_tid[STUN_TID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
						  0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static const struct {
	const uint8_t *msg;
	size_t len;
} vectors[] = {
	{rfc5769_request, sizeof(rfc5769_request)},
	{rfc5769_ipv4, sizeof(rfc5769_ipv4)},
	{rfc5769_ipv6, sizeof(rfc5769_ipv6)},
};

/* Decodes from a heap copy of exactly len bytes, so a sanitizer build sees any over-read. */
static int decode_exact(const uint8_t *buf, size_t len, struct stun_msg *m)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	rc = stun_decode(copy, len, m);
	free(copy);
	return rc;
}

/* Sets a message's length field to agree with a datagram of len bytes. */
static void set_len(uint8_t *buf, size_t len)
{
	buf[2] = (uint8_t)((len - STUN_HEADER_LEN) >> 8);
	buf[3] = (uint8_t)(len - STUN_HEADER_LEN);
}

/* A Binding request under construction with the vectors' transaction id. */
static void start(struct stun_builder *b, uint8_t *buf, size_t cap, uint8_t cls)
{
	stun_build_init(b, buf, cap, STUN_METHOD_BINDING, cls, vector_tid);
}

/* A message holding one attribute with a raw value, for the decoder's value checks. */
static int one_attr(uint8_t *buf, size_t cap, uint16_t type, const void *v, size_t n)
{
	struct stun_builder b;

	start(&b, buf, cap, STUN_CLASS_SUCCESS);
	stun_add_bytes(&b, type, v, n);
	return stun_build_finish(&b, false);
}

static void test_rfc5769_request(void **state)
{
	struct stun_msg m;
	(void)state;

	assert_true(stun_is_message(rfc5769_request, sizeof(rfc5769_request), false));
	assert_int_equal(decode_exact(rfc5769_request, sizeof(rfc5769_request), &m), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_false(m.classic);
	assert_memory_equal(m.tid, vector_tid, STUN_TID_LEN);
	assert_true(m.has & STUN_HAS_SOFTWARE);
	assert_string_equal(m.software, "STUN test client");
	assert_true(m.has & STUN_HAS_USERNAME);
	assert_true(m.has & STUN_HAS_INTEGRITY);
	assert_true(m.has & STUN_HAS_FINGERPRINT);
	assert_true(m.fingerprint_ok);
	/* PRIORITY (0x0024) is comprehension-required and not ours: listed for a 420.
	 * ICE-CONTROLLED (0x8029) is comprehension-optional: ignored. */
	assert_int_equal(m.n_unknown_required, 1);
	assert_int_equal(m.unknown_required[0], 0x0024);
	assert_false(m.has & (STUN_HAS_XOR_MAPPED | STUN_HAS_MAPPED | STUN_HAS_ERROR));
}

static void test_rfc5769_ipv4_response(void **state)
{
	struct stun_msg m;
	struct nc_addr want = ep("192.0.2.1:32853");
	(void)state;

	assert_int_equal(decode_exact(rfc5769_ipv4, sizeof(rfc5769_ipv4), &m), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_memory_equal(m.tid, vector_tid, STUN_TID_LEN);
	assert_string_equal(m.software, "test vector");
	assert_true(m.has & STUN_HAS_XOR_MAPPED);
	assert_true(nc_addr_eq(&m.xor_mapped, &want));
	assert_true(m.has & STUN_HAS_INTEGRITY);
	assert_true(m.fingerprint_ok);
	assert_int_equal(m.n_unknown_required, 0);
}

static void test_rfc5769_ipv6_response(void **state)
{
	struct stun_msg m;
	struct nc_addr want = ep("[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	(void)state;

	assert_int_equal(decode_exact(rfc5769_ipv6, sizeof(rfc5769_ipv6), &m), 0);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_string_equal(m.software, "test vector");
	assert_int_equal(m.xor_mapped.family, want.family);
	assert_int_equal(m.xor_mapped.port, 32853);
	assert_true(nc_addr_eq(&m.xor_mapped, &want));
	assert_true(m.fingerprint_ok);
}

static void test_rfc5769_xor_encoding(void **state)
{
	/* Encoding the same XOR-MAPPED-ADDRESS gives the vectors' bytes (§2.2, §2.3). */
	uint8_t buf[128];
	struct stun_builder b;
	struct nc_addr v4 = ep("192.0.2.1:32853");
	struct nc_addr v6 = ep("[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	(void)state;

	start(&b, buf, sizeof(buf), STUN_CLASS_SUCCESS);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &v4);
	assert_int_equal(stun_build_finish(&b, false), 32);
	assert_memory_equal(buf + 20, rfc5769_ipv4 + 36, 12);

	start(&b, buf, sizeof(buf), STUN_CLASS_SUCCESS);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &v6);
	assert_int_equal(stun_build_finish(&b, false), 44);
	assert_memory_equal(buf + 20, rfc5769_ipv6 + 36, 24);
}

static void test_rfc5769_fingerprint_encoding(void **state)
{
	/* The encoder's FINGERPRINT over each vector's bytes before it is the vector's own: the
	 * CRC is taken with the length field already counting FINGERPRINT (RFC 8489 §14.7). */
	(void)state;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		uint8_t buf[128];
		size_t body = vectors[i].len - 8;
		struct stun_builder b = {.buf = buf, .cap = sizeof(buf), .len = body};

		memcpy(buf, vectors[i].msg, body);
		set_len(buf, body); /* as the builder leaves it before finishing */
		assert_int_equal(stun_build_finish(&b, true), (int)vectors[i].len);
		assert_memory_equal(buf, vectors[i].msg, vectors[i].len);
	}
}

static void test_crc32(void **state)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	(void)state;

	/* The CRC-32 check value, and one more well-known one. */
	assert_int_equal(stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
	assert_int_equal(stun_crc32((const uint8_t *)fox, sizeof(fox) - 1), 0x414FA339u);
	assert_int_equal(stun_crc32(NULL, 0), 0);
}

/* The bitwise definition the table-driven stun_crc32() must agree with. */
static uint32_t crc32_bitwise(const uint8_t *buf, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0xEDB88320u : 0);
	}
	return crc ^ 0xFFFFFFFFu;
}

static void test_crc32_table(void **state)
{
	uint8_t buf[300];
	(void)state;

	/* Every single byte reaches a different table entry, pairs reach them from a non-initial
	 * register, and a long message runs them all in sequence. */
	for (unsigned b = 0; b < 256; b++) {
		uint8_t one = (uint8_t)b, two[2] = {(uint8_t)b, (uint8_t)(b * 7 + 1)};
		assert_int_equal(stun_crc32(&one, 1), crc32_bitwise(&one, 1));
		assert_int_equal(stun_crc32(two, 2), crc32_bitwise(two, 2));
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 17);
	for (size_t len = 0; len <= sizeof(buf); len += 13)
		assert_int_equal(stun_crc32(buf, len), crc32_bitwise(buf, len));
}

static void test_message_type(void **state)
{
	uint16_t method;
	uint8_t cls;
	(void)state;

	/* RFC 8489 §5: "a Binding request has class=0b00 (request) and method=0b000000000001
	 * ... encoded into the first 16 bits as 0x0001"; a success response is 0x0101, an
	 * error response 0x0111, an indication 0x0011. */
	assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), 0x0001);
	assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), 0x0101);
	assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR), 0x0111);
	assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_INDICATION), 0x0011);
	/* Every method bit lands outside the class bits 4 and 8, and the top two stay 0. */
	assert_int_equal(stun_msg_type(0x0FFF, STUN_CLASS_REQUEST), 0x3EEF);
	assert_int_equal(stun_msg_type(0x0FFF, STUN_CLASS_ERROR), 0x3FFF);
	assert_int_equal(stun_msg_type(0x0000, STUN_CLASS_ERROR), 0x0110);
	for (uint16_t mth = 0; mth < 0x1000; mth++)
		for (uint8_t c = 0; c < 4; c++) {
			stun_type_split(stun_msg_type(mth, c), &method, &cls);
			assert_int_equal(method, mth);
			assert_int_equal(cls, c);
		}
}

/* Adds one of every attribute the encoder knows, with addresses of the given family. */
static int build_everything(uint8_t *buf, size_t cap, bool v6, bool fingerprint)
{
	struct stun_builder b;
	struct nc_addr a = v6 ? ep("[2001:db8::7]:65535") : ep("203.0.113.9:4242");
	struct nc_addr o = v6 ? ep("[2001:db8:ffff::1]:3479") : ep("198.18.1.2:3479");
	static const uint16_t unknown[] = {0x7F01, 0x0024, 0x8001};

	start(&b, buf, cap, STUN_CLASS_ERROR);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a);
	stun_add_addr(&b, STUN_ATTR_RESPONSE_ORIGIN, &o);
	stun_add_addr(&b, STUN_ATTR_OTHER_ADDRESS, &o);
	stun_add_addr(&b, STUN_ATTR_CHANGED_ADDRESS, &o);
	stun_add_addr(&b, STUN_ATTR_SOURCE_ADDRESS, &a);
	stun_add_change_request(&b, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	stun_add_response_port(&b, 40001);
	stun_add_padding(&b, 13);
	stun_add_software(&b, "natcheck test");
	stun_add_error(&b, 420, NULL);
	stun_add_unknown_attrs(&b, unknown, 3);
	stun_add_bytes(&b, STUN_ATTR_USERNAME, "user", 4);
	return stun_build_finish(&b, fingerprint);
}

static void test_round_trip_all_attributes(void **state)
{
	(void)state;

	for (int v6 = 0; v6 < 2; v6++) {
		uint8_t buf[512];
		struct stun_msg m;
		struct nc_addr a = v6 ? ep("[2001:db8::7]:65535") : ep("203.0.113.9:4242");
		struct nc_addr o = v6 ? ep("[2001:db8:ffff::1]:3479") : ep("198.18.1.2:3479");
		int n = build_everything(buf, sizeof(buf), v6, true);

		assert_true(n > 0);
		assert_int_equal(n % 4, 0);
		assert_true(stun_is_message(buf, (size_t)n, false));
		assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
		assert_int_equal(m.method, STUN_METHOD_BINDING);
		assert_int_equal(m.cls, STUN_CLASS_ERROR);
		assert_memory_equal(m.tid, vector_tid, STUN_TID_LEN);
		assert_true(nc_addr_eq(&m.xor_mapped, &a));
		assert_true(nc_addr_eq(&m.mapped, &a));
		assert_true(nc_addr_eq(&m.response_origin, &o));
		assert_true(nc_addr_eq(&m.other, &o));
		assert_true(nc_addr_eq(&m.changed, &o));
		assert_true(nc_addr_eq(&m.source, &a));
		assert_int_equal(m.change_flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
		assert_int_equal(m.response_port, 40001);
		assert_int_equal(m.padding_len, 13);
		assert_string_equal(m.software, "natcheck test");
		assert_int_equal(m.error_code, 420);
		assert_string_equal(m.error_reason, "Unknown Attribute");
		assert_int_equal(m.n_unknown_attrs, 3);
		assert_int_equal(m.unknown_attrs[0], 0x7F01);
		assert_int_equal(m.unknown_attrs[1], 0x0024);
		assert_int_equal(m.unknown_attrs[2], 0x8001);
		assert_int_equal(m.n_unknown_required, 0);
		assert_int_equal(m.has, STUN_HAS_MAPPED | STUN_HAS_XOR_MAPPED |
					STUN_HAS_CHANGE_REQUEST | STUN_HAS_SOURCE |
					STUN_HAS_CHANGED | STUN_HAS_ERROR | STUN_HAS_UNKNOWN_ATTRS |
					STUN_HAS_PADDING | STUN_HAS_RESPONSE_PORT |
					STUN_HAS_SOFTWARE | STUN_HAS_FINGERPRINT |
					STUN_HAS_RESPONSE_ORIGIN | STUN_HAS_OTHER |
					STUN_HAS_USERNAME);
		assert_true(m.fingerprint_ok);
	}
}

static void test_encoder_layout(void **state)
{
	uint8_t buf[128];
	struct stun_builder b;
	struct nc_addr a = ep("203.0.113.9:4242");
	struct stun_msg m;
	(void)state;

	/* The header is right from the start, the length field is current after every add (so
	 * the buffer is a valid message at each step), and padding is zeros (RFC 8489 §14). */
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	assert_int_equal(b.len, STUN_HEADER_LEN);
	assert_memory_equal(buf, "\x00\x01\x00\x00\x21\x12\xa4\x42", 8);
	assert_memory_equal(buf + 8, vector_tid, STUN_TID_LEN);
	stun_add_software(&b, "abcde");
	assert_int_equal(b.len, 32);
	assert_memory_equal(buf + 20, "\x80\x22\x00\x05" "abcde\0\0\0", 12);
	assert_int_equal(buf[3], 12);
	assert_int_equal(decode_exact(buf, b.len, &m), 0);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a);
	assert_int_equal(buf[3], 24);
	assert_memory_equal(buf + 32, "\x00\x01\x00\x08\x00\x01\x10\x92\xcb\x00\x71\x09", 12);
	assert_int_equal(decode_exact(buf, b.len, &m), 0);
	stun_add_response_port(&b, 0x1234);
	assert_memory_equal(buf + 44, "\x00\x27\x00\x04\x12\x34\x00\x00", 8);
	stun_add_change_request(&b, 0xFFFFFFFFu); /* only the RFC 5780 §7.2 bits go out */
	assert_memory_equal(buf + 52, "\x00\x03\x00\x04\x00\x00\x00\x06", 8);
	stun_add_error(&b, 438, NULL);
	assert_memory_equal(buf + 60, "\x00\x09\x00\x0f\x00\x00\x04\x26Stale Nonce\0", 20);
	assert_int_equal(stun_build_finish(&b, true), 88);
	assert_int_equal(buf[3], 68);
	assert_memory_equal(buf + 80, "\x80\x28\x00\x04", 4);
	assert_int_equal(decode_exact(buf, 88, &m), 0);
	assert_true(m.fingerprint_ok);
	assert_int_equal(m.change_flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
}

static void test_truncation_everywhere(void **state)
{
	uint8_t all[512], buf[512];
	int n_all = build_everything(all, sizeof(all), true, true);
	const struct {
		const uint8_t *msg;
		size_t len;
	} msgs[] = {
		{rfc5769_request, sizeof(rfc5769_request)},
		{rfc5769_ipv4, sizeof(rfc5769_ipv4)},
		{rfc5769_ipv6, sizeof(rfc5769_ipv6)},
		{all, (size_t)n_all},
	};
	struct stun_msg m;
	(void)state;

	assert_true(n_all > 0);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		for (size_t len = 0; len < msgs[i].len; len++) {
			int rc;

			/* A prefix disagrees with the header's length: not a message. */
			assert_int_equal(decode_exact(msgs[i].msg, len, &m), -NC_E_NOT_STUN);
			if (len < STUN_HEADER_LEN || len % 4 != 0)
				continue;
			/* With the length patched to agree, the attribute walk must find the cut:
			 * inside an attribute it is an error; between attributes the rest is a
			 * valid, shorter message without its FINGERPRINT. Never a read past len. */
			memcpy(buf, msgs[i].msg, len);
			set_len(buf, len);
			rc = decode_exact(buf, len, &m);
			assert_true(rc == 0 || rc == -NC_E_TRUNCATED);
			if (rc == 0)
				assert_false(m.has & STUN_HAS_FINGERPRINT);
		}
	}
	/* One exact case: the §2.2 response cut inside XOR-MAPPED-ADDRESS. */
	memcpy(buf, rfc5769_ipv4, 44);
	set_len(buf, 44);
	assert_int_equal(decode_exact(buf, 44, &m), -NC_E_TRUNCATED);
	/* An attribute claiming more than the message holds. */
	memcpy(buf, rfc5769_ipv4, 36);
	set_len(buf, 36);
	buf[23] = 0x0d; /* SOFTWARE of 13 bytes; 12 are there */
	assert_int_equal(decode_exact(buf, 36, &m), -NC_E_TRUNCATED);
}

static void test_bad_header(void **state)
{
	uint8_t buf[sizeof(rfc5769_ipv4) + 4];
	struct stun_msg m;
	(void)state;

	assert_false(stun_is_message(NULL, 0, true));
	assert_int_equal(stun_decode(NULL, 0, &m), -NC_E_NOT_STUN);
	assert_false(stun_is_message(rfc5769_ipv4, 19, true));

	memcpy(buf, rfc5769_ipv4, sizeof(rfc5769_ipv4));
	buf[0] |= 0x80; /* RFC 8489 §6.3: the top two bits must be zero */
	assert_int_equal(decode_exact(buf, sizeof(rfc5769_ipv4), &m), -NC_E_NOT_STUN);
	buf[0] = 0x41;
	assert_int_equal(decode_exact(buf, sizeof(rfc5769_ipv4), &m), -NC_E_NOT_STUN);

	memcpy(buf, rfc5769_ipv4, sizeof(rfc5769_ipv4));
	buf[3] = 0x3d; /* length not a multiple of 4 (and not the datagram's) */
	assert_int_equal(decode_exact(buf, sizeof(rfc5769_ipv4), &m), -NC_E_NOT_STUN);
	assert_int_equal(decode_exact(buf, sizeof(rfc5769_ipv4) + 1, &m), -NC_E_NOT_STUN);
	buf[3] = 0x40; /* longer than the datagram */
	assert_int_equal(decode_exact(buf, sizeof(rfc5769_ipv4), &m), -NC_E_NOT_STUN);
	buf[3] = 0x38; /* shorter than the datagram */
	assert_int_equal(decode_exact(buf, sizeof(rfc5769_ipv4), &m), -NC_E_NOT_STUN);

	/* Trailing bytes after the message (as a stream would have) are not accepted either:
	 * the datagram must be exactly the message. */
	memcpy(buf, rfc5769_ipv4, sizeof(rfc5769_ipv4));
	memset(buf + sizeof(rfc5769_ipv4), 0, 4);
	assert_int_equal(decode_exact(buf, sizeof(buf), &m), -NC_E_NOT_STUN);
}

static void test_bad_cookie(void **state)
{
	uint8_t buf[128];
	struct stun_msg m;
	struct stun_builder b;
	struct nc_addr a = ep("203.0.113.9:4242");
	int n;
	(void)state;

	/* A wrong cookie makes an RFC 8489 message an RFC 3489 one, and the cookie is under
	 * the FINGERPRINT: the vector is rejected. */
	memcpy(buf, rfc5769_ipv4, sizeof(rfc5769_ipv4));
	buf[4] ^= 0x01;
	assert_false(stun_is_message(buf, sizeof(rfc5769_ipv4), false));
	assert_true(stun_is_message(buf, sizeof(rfc5769_ipv4), true));
	assert_int_equal(decode_exact(buf, sizeof(rfc5769_ipv4), &m), -NC_E_FINGERPRINT);

	/* Without FINGERPRINT it decodes as classic. */
	start(&b, buf, sizeof(buf), STUN_CLASS_SUCCESS);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a);
	n = stun_build_finish(&b, false);
	buf[7] = 0x00;
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_true(m.classic);
	assert_true(nc_addr_eq(&m.mapped, &a));

	/* RFC 3489 knows no indications and only methods 1 and 2: without the cookie these
	 * are not STUN at all. */
	buf[0] = 0x00, buf[1] = 0x11; /* Binding indication */
	assert_false(stun_is_message(buf, (size_t)n, true));
	assert_int_equal(decode_exact(buf, (size_t)n, &m), -NC_E_NOT_STUN);
	buf[0] = 0x00, buf[1] = 0x03; /* method 3 request */
	assert_int_equal(decode_exact(buf, (size_t)n, &m), -NC_E_NOT_STUN);
	buf[0] = 0x01, buf[1] = 0x12; /* Shared Secret error response: RFC 3489 §11.1 */
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, 0x002);
	assert_int_equal(m.cls, STUN_CLASS_ERROR);
	/* With the cookie any method and class are STUN (the suite's own methods). */
	buf[4] = 0x21, buf[5] = 0x12, buf[6] = 0xa4, buf[7] = 0x42;
	buf[0] = 0x3e, buf[1] = 0xef;
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, 0x0FFF);
	assert_false(m.classic);
}

static void test_fingerprint_corruption(void **state)
{
	struct stun_msg m;
	uint8_t buf[128];
	(void)state;

	/* CRC-32 catches every single-bit error in what it covers: a flipped bit fails the
	 * decode (with NC_E_FINGERPRINT, or earlier when it breaks the framing first). The one
	 * way through is a flipped length that swallows FINGERPRINT into the attribute before
	 * it (§2.1's USERNAME length 0x09 -> 0x29): then the message has no FINGERPRINT, which
	 * is optional, and nothing claims one was checked. */
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t len = vectors[i].len, passed = 0;

		for (size_t bit = 0; bit < 8 * len; bit++) {
			int rc;

			if (bit / 8 >= len - 8 && bit / 8 < len - 4)
				continue; /* FINGERPRINT's own header */
			memcpy(buf, vectors[i].msg, len);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			rc = decode_exact(buf, len, &m);
			assert_true(rc < 0 || !(m.has & STUN_HAS_FINGERPRINT));
			passed += rc == 0;
		}
		assert_int_equal(passed, i == 0 ? 1 : 0);
		memcpy(buf, vectors[i].msg, len);
		buf[len - 1] ^= 0x80;
		assert_int_equal(decode_exact(buf, len, &m), -NC_E_FINGERPRINT);
		assert_true(m.has & STUN_HAS_FINGERPRINT);
		assert_false(m.fingerprint_ok);
	}

	/* FINGERPRINT must hold exactly 4 bytes (RFC 8489 §14.7). */
	{
		static const uint8_t eight[8] = {0};
		int n = one_attr(buf, sizeof(buf), STUN_ATTR_FINGERPRINT, eight, sizeof(eight));
		assert_int_equal(decode_exact(buf, (size_t)n, &m), -NC_E_FINGERPRINT);
	}
}

static void test_after_fingerprint(void **state)
{
	/* FINGERPRINT "MUST be the last attribute" (RFC 8489 §14.7); what follows it is not
	 * decoded. Built by hand: header, SOFTWARE, FINGERPRINT, then SOFTWARE and an unknown
	 * comprehension-required attribute, with the CRC taken over the final header. */
	uint8_t buf[128];
	struct stun_builder b;
	struct stun_msg m;
	size_t fp, len;
	(void)state;

	start(&b, buf, sizeof(buf), STUN_CLASS_SUCCESS);
	stun_add_software(&b, "first");
	fp = b.len;
	stun_add_u32(&b, STUN_ATTR_FINGERPRINT, 0);
	stun_add_software(&b, "late");
	stun_add_u32(&b, 0x7777, 0);
	len = (size_t)stun_build_finish(&b, false);
	{
		uint32_t crc = stun_crc32(buf, fp) ^ STUN_FINGERPRINT_XOR;
		buf[fp + 4] = (uint8_t)(crc >> 24), buf[fp + 5] = (uint8_t)(crc >> 16);
		buf[fp + 6] = (uint8_t)(crc >> 8), buf[fp + 7] = (uint8_t)crc;
	}
	assert_int_equal(decode_exact(buf, len, &m), 0);
	assert_true(m.fingerprint_ok);
	assert_string_equal(m.software, "first");
	assert_int_equal(m.n_unknown_required, 0);

	/* Even bytes that are no valid attribute at all after it are ignored. */
	buf[fp + 8] = 0xFF, buf[fp + 9] = 0xFF;
	assert_int_equal(decode_exact(buf, len, &m), 0);
}

static void test_unknown_attributes(void **state)
{
	uint8_t buf[512];
	struct stun_builder b;
	struct stun_msg m;
	static const uint8_t twenty[20] = {0};
	int n;
	(void)state;

	/* Comprehension-required types (below 0x8000) this codec does not know are listed once
	 * each, in order, for the 420 answer (RFC 8489 §6.3.1.1, §14); optional ones vanish. */
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	stun_add_u32(&b, 0x0024, 1);
	stun_add_bytes(&b, 0x8029, "12345678", 8);
	stun_add_bytes(&b, 0x7FFF, NULL, 0);
	stun_add_u32(&b, 0x0024, 2);
	stun_add_bytes(&b, 0xFFFF, "x", 1);
	stun_add_bytes(&b, 0x0000, NULL, 0);
	/* Known attributes the codec does not use are not "unknown". */
	stun_add_bytes(&b, STUN_ATTR_REALM, "realm", 5);
	stun_add_bytes(&b, STUN_ATTR_NONCE, "nonce", 5);
	stun_add_bytes(&b, STUN_ATTR_RESPONSE_ADDRESS, "\0\x01\0\x01\1\2\3\4", 8);
	stun_add_bytes(&b, STUN_ATTR_ALTERNATE_SERVER, "\0\x01\0\x01\1\2\3\4", 8);
	n = stun_build_finish(&b, true);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_int_equal(m.n_unknown_required, 3);
	assert_int_equal(m.unknown_required[0], 0x0024);
	assert_int_equal(m.unknown_required[1], 0x7FFF);
	assert_int_equal(m.unknown_required[2], 0x0000);

	/* At most STUN_MAX_UNKNOWN are kept; the message still decodes. */
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	for (uint16_t t = 0x7000; t < 0x7000 + STUN_MAX_UNKNOWN + 4; t++)
		stun_add_bytes(&b, t, NULL, 0);
	n = stun_build_finish(&b, false);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_int_equal(m.n_unknown_required, STUN_MAX_UNKNOWN);
	assert_int_equal(m.unknown_required[STUN_MAX_UNKNOWN - 1], 0x7000 + STUN_MAX_UNKNOWN - 1);

	/* RFC 8489 §14.5: attributes after MESSAGE-INTEGRITY other than FINGERPRINT are
	 * ignored, unknown ones included. */
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	stun_add_software(&b, "before");
	stun_add_bytes(&b, STUN_ATTR_MESSAGE_INTEGRITY, twenty, sizeof(twenty));
	stun_add_u32(&b, 0x0024, 1);
	stun_add_software(&b, "after");
	stun_add_change_request(&b, STUN_CHANGE_IP);
	n = stun_build_finish(&b, true);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_true(m.has & STUN_HAS_INTEGRITY);
	assert_string_equal(m.software, "before");
	assert_int_equal(m.n_unknown_required, 0);
	assert_false(m.has & STUN_HAS_CHANGE_REQUEST);
	assert_true(m.fingerprint_ok);
}

static void test_duplicates_first_wins(void **state)
{
	uint8_t buf[512];
	struct stun_builder b;
	struct stun_msg m;
	struct nc_addr a = ep("203.0.113.9:4242"), c = ep("198.51.100.1:1");
	int n;
	(void)state;

	/* RFC 8489 §14: only the first occurrence is processed; a later copy, even a
	 * malformed one, is ignored. */
	start(&b, buf, sizeof(buf), STUN_CLASS_SUCCESS);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &c);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a);
	stun_add_bytes(&b, STUN_ATTR_MAPPED_ADDRESS, "\0\x03\0\0", 4); /* bad family */
	stun_add_software(&b, "one");
	stun_add_software(&b, "two");
	stun_add_change_request(&b, STUN_CHANGE_PORT);
	stun_add_bytes(&b, STUN_ATTR_CHANGE_REQUEST, "\0", 1); /* bad length */
	stun_add_error(&b, 400, "first");
	stun_add_bytes(&b, STUN_ATTR_ERROR_CODE, "\0\0\x09\x63", 4); /* class 9 */
	stun_add_response_port(&b, 7);
	stun_add_response_port(&b, 8);
	n = stun_build_finish(&b, true);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_true(nc_addr_eq(&m.xor_mapped, &a));
	assert_true(nc_addr_eq(&m.mapped, &a));
	assert_string_equal(m.software, "one");
	assert_int_equal(m.change_flags, STUN_CHANGE_PORT);
	assert_int_equal(m.error_code, 400);
	assert_string_equal(m.error_reason, "first");
	assert_int_equal(m.response_port, 7);
}

static void test_malformed_values(void **state)
{
	static const struct {
		uint16_t type;
		const char *v;
		size_t n;
	} bad[] = {
		{STUN_ATTR_MAPPED_ADDRESS, "\0\x00\x01\x02\1\2\3\4", 8},     /* family 0 */
		{STUN_ATTR_MAPPED_ADDRESS, "\0\x03\x01\x02\1\2\3\4", 8},     /* family 3 */
		{STUN_ATTR_XOR_MAPPED_ADDRESS, "\0\x04\x01\x02\1\2\3\4", 8}, /* family 4 */
		{STUN_ATTR_MAPPED_ADDRESS, "\0\x01\x01\x02\1\2\3", 7},       /* short IPv4 */
		{STUN_ATTR_MAPPED_ADDRESS, "\0\x01\x01\x02\1\2\3\4\5", 9},   /* long IPv4 */
		{STUN_ATTR_OTHER_ADDRESS, "\0\x02\x01\x02\1\2\3\4", 8},      /* IPv6, 4 bytes */
		{STUN_ATTR_RESPONSE_ORIGIN, "\0\x01", 2},                    /* no port */
		{STUN_ATTR_CHANGED_ADDRESS, "", 0},                          /* empty */
		{STUN_ATTR_SOURCE_ADDRESS, "\0\x01\0\0\0\0\0\0\0\0\0\0", 12},
		{STUN_ATTR_CHANGE_REQUEST, "\0\0\0", 3},
		{STUN_ATTR_CHANGE_REQUEST, "\0\0\0\0\0\0\0\0", 8},
		{STUN_ATTR_RESPONSE_PORT, "\x12\x34", 2},
		{STUN_ATTR_MESSAGE_INTEGRITY, "0123456789012345678", 19},
		{STUN_ATTR_UNKNOWN_ATTRIBUTES, "\0\x24\0", 3},
		{STUN_ATTR_ERROR_CODE, "\0\0\x04", 3},
		{STUN_ATTR_ERROR_CODE, "\0\0\x02\x00", 4},  /* class 2 */
		{STUN_ATTR_ERROR_CODE, "\0\0\x07\x00", 4},  /* class 7 */
		{STUN_ATTR_ERROR_CODE, "\0\0\x04\x64", 4},  /* number 100 */
	};
	uint8_t buf[128];
	struct stun_msg m;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = one_attr(buf, sizeof(buf), bad[i].type, bad[i].v, bad[i].n);
		assert_true(n > 0);
		assert_int_equal(decode_exact(buf, (size_t)n, &m), -NC_E_MALFORMED);
	}
	/* The boundaries that are fine: reserved bits ignored, class 6 number 99. */
	{
		int n = one_attr(buf, sizeof(buf), STUN_ATTR_ERROR_CODE, "\xff\xff\xfe\x63", 4);
		assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
		assert_int_equal(m.error_code, 699);
		assert_string_equal(m.error_reason, "");
		/* The first byte of an address attribute is ignored (RFC 8489 §14.1). */
		n = one_attr(buf, sizeof(buf), STUN_ATTR_MAPPED_ADDRESS, "\xff\x01\x01\x02\1\2\3\4",
			     8);
		assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
		assert_int_equal(m.mapped.port, 0x0102);
		n = one_attr(buf, sizeof(buf), STUN_ATTR_UNKNOWN_ATTRIBUTES, NULL, 0);
		assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
		assert_true(m.has & STUN_HAS_UNKNOWN_ATTRS);
		assert_int_equal(m.n_unknown_attrs, 0);
	}
}

/* What an error leaves in the message (stun.h): the header always, and with a stale
 * FINGERPRINT every attribute before it. natcheck reports a rewriting ALG and a server's
 * malformed answers from these; a server still rejects both. */
static void test_error_leaves_evidence(void **state)
{
	uint8_t buf[128];
	struct stun_builder b;
	struct stun_msg m;
	struct nc_addr pub, priv;
	int n;
	(void)state;

	assert_int_equal(nc_addr_parse("198.18.10.1:40000", 0, &pub), 0);
	assert_int_equal(nc_addr_parse("10.1.0.2:40000", 0, &priv), 0);
	start(&b, buf, sizeof(buf), STUN_CLASS_SUCCESS);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &pub);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &pub);
	n = stun_build_finish(&b, true);
	assert_true(n > 0);
	/* A naive ALG rewrites MAPPED-ADDRESS's IP (the last 4 bytes before FINGERPRINT). */
	memcpy(buf + n - 8 - 4, priv.ip, 4);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), -NC_E_FINGERPRINT);
	assert_true(m.has & STUN_HAS_FINGERPRINT);
	assert_false(m.fingerprint_ok);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_true(nc_addr_eq(&m.xor_mapped, &pub));
	assert_true(nc_addr_eq(&m.mapped, &priv));

	/* A malformed OTHER-ADDRESS (family 3): the header is still there to match. */
	n = one_attr(buf, sizeof(buf), STUN_ATTR_OTHER_ADDRESS, "\0\x03\x01\x02\1\2\3\4", 8);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), -NC_E_MALFORMED);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_memory_equal(m.tid, buf + 8, STUN_TID_LEN);
}

static void test_classic(void **state)
{
	/* An RFC 3489 request as Debian's `stun` client sends it: no cookie, a 16-byte id. */
	uint8_t req[20] = {0x00, 0x01, 0x00, 0x00, 1,  2,  3,  4,  5,  6,
			   7,    8,    9,    10,   11, 12, 13, 14, 15, 16};
	uint8_t buf[128];
	struct stun_builder b;
	struct stun_msg m;
	struct nc_addr a = ep("203.0.113.9:4242"), a6 = ep("[2001:db8::1]:5");
	int n;
	(void)state;

	assert_true(stun_is_message(req, sizeof(req), true));
	assert_false(stun_is_message(req, sizeof(req), false));
	assert_int_equal(decode_exact(req, sizeof(req), &m), 0);
	assert_true(m.classic);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_memory_equal(m.tid, req + 8, STUN_TID_LEN); /* bytes 8..19 */

	/* The reply echoes all 16 bytes, carries no cookie, and gets no FINGERPRINT even when
	 * asked (RFC 3489 has none). */
	stun_build_reply(&b, buf, sizeof(buf), req, sizeof(req), STUN_CLASS_SUCCESS);
	assert_true(b.classic);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a);
	stun_add_addr(&b, STUN_ATTR_SOURCE_ADDRESS, &a6);
	stun_add_addr(&b, STUN_ATTR_CHANGED_ADDRESS, &a);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a6);
	n = stun_build_finish(&b, true);
	assert_int_equal(n, 20 + 12 + 24 + 12 + 24);
	assert_int_equal(buf[0], 0x01);
	assert_int_equal(buf[1], 0x01);
	assert_memory_equal(buf + 4, req + 4, 16);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_true(m.classic);
	assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
	assert_false(m.has & STUN_HAS_FINGERPRINT);
	assert_true(nc_addr_eq(&m.mapped, &a));
	assert_true(nc_addr_eq(&m.source, &a6));
	assert_true(nc_addr_eq(&m.changed, &a));
	/* XOR-ing with the echoed id is symmetric, whatever an old peer makes of it. */
	assert_true(nc_addr_eq(&m.xor_mapped, &a6));

	/* A classic error response. */
	stun_build_reply(&b, buf, sizeof(buf), req, sizeof(req), STUN_CLASS_ERROR);
	stun_add_error(&b, 400, NULL);
	n = stun_build_finish(&b, true);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_true(m.classic);
	assert_int_equal(m.error_code, 400);
	assert_string_equal(m.error_reason, "Bad Request");

	/* A reply to an RFC 8489 request keeps the cookie and the 12-byte id. */
	stun_build_reply(&b, buf, sizeof(buf), rfc5769_request, sizeof(rfc5769_request),
			 STUN_CLASS_SUCCESS);
	assert_false(b.classic);
	n = stun_build_finish(&b, true);
	assert_int_equal(n, 28);
	assert_memory_equal(buf + 4, rfc5769_request + 4, 16);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_false(m.classic);
	assert_true(m.fingerprint_ok);

	/* A request too short to answer. */
	stun_build_reply(&b, buf, sizeof(buf), req, 19, STUN_CLASS_SUCCESS);
	assert_int_equal(stun_build_finish(&b, true), -NC_E_INVALID);
}

static void test_error_code(void **state)
{
	static const struct {
		uint16_t code;
		const char *reason, *want;
	} cases[] = {
		{300, NULL, "Try Alternate"},   {400, NULL, "Bad Request"},
		{401, NULL, "Unauthenticated"}, {420, NULL, "Unknown Attribute"},
		{438, NULL, "Stale Nonce"},     {500, NULL, "Server Error"},
		{599, NULL, "Error"},           {699, "custom reason", "custom reason"},
		{403, "", ""},
	};
	uint8_t buf[512];
	struct stun_builder b;
	struct stun_msg m;
	char longer[300];
	int n;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(&b, buf, sizeof(buf), STUN_CLASS_ERROR);
		stun_add_error(&b, cases[i].code, cases[i].reason);
		n = stun_build_finish(&b, true);
		assert_true(n > 0);
		/* RFC 8489 §14.8: class in bits 8-10 of the word, number modulo 100 below. */
		assert_int_equal(buf[26], cases[i].code / 100);
		assert_int_equal(buf[27], cases[i].code % 100);
		assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
		assert_true(m.has & STUN_HAS_ERROR);
		assert_int_equal(m.error_code, cases[i].code);
		assert_string_equal(m.error_reason, cases[i].want);
	}

	/* Out of range: the encoder refuses, and the builder stays failed. */
	for (uint16_t code = 0; code < 1000; code += 1) {
		if (code >= 300 && code <= 699)
			continue;
		start(&b, buf, sizeof(buf), STUN_CLASS_ERROR);
		stun_add_error(&b, code, NULL);
		assert_int_equal(stun_build_finish(&b, false), -NC_E_INVALID);
	}

	/* A long reason is cut below 128 bytes, never inside a UTF-8 character. */
	memset(longer, 'r', sizeof(longer));
	longer[sizeof(longer) - 1] = '\0';
	start(&b, buf, sizeof(buf), STUN_CLASS_ERROR);
	stun_add_error(&b, 500, longer);
	n = stun_build_finish(&b, false);
	assert_int_equal(n, 20 + 4 + 4 + 128);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_int_equal(strlen(m.error_reason), STUN_REASON_MAX - 1);
	memcpy(longer + 125, "\xe2\x82\xac", 3); /* a euro sign over bytes 125..127 */
	start(&b, buf, sizeof(buf), STUN_CLASS_ERROR);
	stun_add_error(&b, 500, longer);
	n = stun_build_finish(&b, false);
	assert_int_equal(buf[23], 4 + 125);
	assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
	assert_int_equal(strlen(m.error_reason), 125);
}

static void test_text_sanitising(void **state)
{
	/* SOFTWARE and reasons reach terminals and JSON: printable, valid UTF-8 only. */
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{"plain", 5, "plain"},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
		 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
		{"a\x01" "b\x1b[2Jc\x7f", 9, "a?b?[2Jc?"},   /* C0, ESC, DEL */
		{"x\xc2\x9by", 4, "x?y"},                   /* C1 CSI, one character */
		{"\xff\xfe", 2, "??"},                      /* never UTF-8 */
		{"\xc0\xaf", 2, "??"},                      /* overlong '/' */
		{"\xed\xa0\x80", 3, "???"},                 /* surrogate */
		{"\xf4\x90\x80\x80", 4, "????"},            /* above U+10FFFF */
		{"ab\xe2\x82", 4, "ab??"},                  /* cut sequence */
		{"Vovida.org 0.97\0\0\0\0\0", 20, "Vovida.org 0.97"}, /* NUL padding */
	};
	uint8_t buf[256];
	struct stun_msg m;
	char big[200];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = one_attr(buf, sizeof(buf), STUN_ATTR_SOFTWARE, cases[i].in, cases[i].n);
		assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
		assert_string_equal(m.software, cases[i].want);
	}

	/* 200 bytes of two-byte characters: at most 127 bytes kept, whole characters only. */
	for (size_t i = 0; i < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	{
		int n = one_attr(buf, sizeof(buf), STUN_ATTR_SOFTWARE, big, sizeof(big));
		assert_int_equal(decode_exact(buf, (size_t)n, &m), 0);
		assert_int_equal(strlen(m.software), 126);
	}
	/* The encoder cuts at a character boundary too. */
	big[sizeof(big) - 1] = '\0';
	{
		struct stun_builder b;
		start(&b, buf, sizeof(buf), STUN_CLASS_SUCCESS);
		stun_add_software(&b, big);
		assert_true(stun_build_finish(&b, false) > 0);
		assert_int_equal(buf[23], 126);
	}
}

static void test_builder_errors(void **state)
{
	uint8_t buf[64], before[64];
	struct stun_builder b;
	struct nc_addr a = ep("203.0.113.9:4242"), none = {0};
	static const uint16_t types[] = {1};
	(void)state;

	/* NC_E_NOSPACE: 12 bytes of MAPPED-ADDRESS do not fit in 4, and every add after the
	 * failure is a no-op: the bytes and the length stay as they were. */
	start(&b, buf, 24, STUN_CLASS_REQUEST);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &a);
	assert_int_equal(b.err, -NC_E_NOSPACE);
	memcpy(before, buf, 24);
	stun_add_u32(&b, STUN_ATTR_CHANGE_REQUEST, 0); /* would fit, but the builder failed */
	stun_add_response_port(&b, 1);
	stun_add_padding(&b, 0);
	stun_add_software(&b, "");
	stun_add_error(&b, 400, NULL);
	stun_add_unknown_attrs(&b, types, 1);
	stun_add_bytes(&b, 0x8000, NULL, 0);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
	assert_int_equal(b.len, STUN_HEADER_LEN);
	assert_memory_equal(buf, before, 24);
	assert_int_equal(stun_build_finish(&b, true), -NC_E_NOSPACE);
	assert_int_equal(b.len, STUN_HEADER_LEN);

	/* No room for FINGERPRINT. */
	start(&b, buf, 24, STUN_CLASS_REQUEST);
	assert_int_equal(stun_build_finish(&b, true), -NC_E_NOSPACE);
	start(&b, buf, 28, STUN_CLASS_REQUEST);
	assert_int_equal(stun_build_finish(&b, true), 28);

	/* The first error is the one reported. */
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &none);
	stun_add_padding(&b, 1000);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_FAMILY);
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, NULL);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_FAMILY);

	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	stun_add_error(&b, 200, "not an error code");
	assert_int_equal(stun_build_finish(&b, false), -NC_E_INVALID);
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	stun_add_software(&b, NULL);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_INVALID);
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	stun_add_bytes(&b, STUN_ATTR_USERNAME, NULL, 3);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_INVALID);
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	stun_add_unknown_attrs(&b, types, (size_t)1 << 62); /* 2n would wrap */
	assert_int_equal(stun_build_finish(&b, false), -NC_E_NOSPACE);
	start(&b, buf, sizeof(buf), STUN_CLASS_REQUEST);
	stun_add_bytes(&b, STUN_ATTR_PADDING, buf, 0x10000);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_NOSPACE);

	/* Header arguments: a 12-bit method, four classes, at least 20 bytes of buffer. */
	stun_build_init(&b, buf, 10, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, vector_tid);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_NOSPACE);
	stun_build_init(&b, buf, sizeof(buf), 0x1000, STUN_CLASS_REQUEST, vector_tid);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_INVALID);
	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, 4, vector_tid);
	assert_int_equal(stun_build_finish(&b, false), -NC_E_INVALID);
}

static void test_message_size_limit(void **state)
{
	/* The length field is 16 bits: attributes may fill 65532 bytes (the largest multiple
	 * of 4 it holds), not one more, whatever the buffer. */
	size_t cap = 70000;
	uint8_t *buf = malloc(cap);
	struct stun_builder b;
	struct stun_msg m;
	(void)state;

	assert_non_null(buf);
	start(&b, buf, cap, STUN_CLASS_REQUEST);
	stun_add_padding(&b, 65532 - 4 - 8);
	assert_int_equal(stun_build_finish(&b, true), 20 + 65532);
	assert_int_equal(decode_exact(buf, 20 + 65532, &m), 0);
	assert_int_equal(m.padding_len, 65520);
	assert_true(m.fingerprint_ok);

	start(&b, buf, cap, STUN_CLASS_REQUEST);
	stun_add_padding(&b, 65532 - 4);
	assert_int_equal(b.err, 0);
	stun_add_u32(&b, STUN_ATTR_CHANGE_REQUEST, 0); /* would make 65540 */
	assert_int_equal(b.err, -NC_E_NOSPACE);
	assert_int_equal(b.len, 20 + 65532);
	assert_int_equal(stun_build_finish(&b, true), -NC_E_NOSPACE);
	free(buf);
}

static void test_names(void **state)
{
	(void)state;

	assert_string_equal(stun_error_reason(420), "Unknown Attribute");
	assert_string_equal(stun_error_reason(401), "Unauthenticated");
	assert_string_equal(stun_error_reason(487), "Error");
	assert_string_equal(stun_attr_name(STUN_ATTR_XOR_MAPPED_ADDRESS), "XOR-MAPPED-ADDRESS");
	assert_string_equal(stun_attr_name(STUN_ATTR_FINGERPRINT), "FINGERPRINT");
	assert_string_equal(stun_attr_name(STUN_ATTR_OTHER_ADDRESS), "OTHER-ADDRESS");
	assert_string_equal(stun_attr_name(STUN_ATTR_PADDING), "PADDING");
	assert_null(stun_attr_name(0x0024));
	assert_null(stun_attr_name(0xFFFF));
}

/* The probes' request: CHANGE-REQUEST and RESPONSE-PORT only when asked, FINGERPRINT always. */
static void test_binding_request(void **state)
{
	static const uint8_t tid[STUN_TID_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
	uint8_t buf[64];
	struct stun_msg m;
	int n;
	(void)state;

	n = stun_binding_request(buf, sizeof(buf), tid, 0, 0);
	assert_int_equal(n, 28);
	assert_int_equal(stun_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, STUN_METHOD_BINDING);
	assert_int_equal(m.cls, STUN_CLASS_REQUEST);
	assert_memory_equal(m.tid, tid, STUN_TID_LEN);
	assert_false(m.has & (STUN_HAS_CHANGE_REQUEST | STUN_HAS_RESPONSE_PORT));
	assert_true(m.fingerprint_ok);

	n = stun_binding_request(buf, sizeof(buf), tid, STUN_CHANGE_IP | STUN_CHANGE_PORT, 40001);
	assert_int_equal(stun_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.change_flags, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	assert_int_equal(m.response_port, 40001);
	assert_true(m.fingerprint_ok);

	assert_int_equal(stun_binding_request(buf, 24, tid, STUN_CHANGE_PORT, 0), -NC_E_NOSPACE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_request),
		cmocka_unit_test(test_rfc5769_request),
		cmocka_unit_test(test_rfc5769_ipv4_response),
		cmocka_unit_test(test_rfc5769_ipv6_response),
		cmocka_unit_test(test_rfc5769_xor_encoding),
		cmocka_unit_test(test_rfc5769_fingerprint_encoding),
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_crc32_table),
		cmocka_unit_test(test_message_type),
		cmocka_unit_test(test_round_trip_all_attributes),
		cmocka_unit_test(test_encoder_layout),
		cmocka_unit_test(test_truncation_everywhere),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_bad_cookie),
		cmocka_unit_test(test_fingerprint_corruption),
		cmocka_unit_test(test_after_fingerprint),
		cmocka_unit_test(test_unknown_attributes),
		cmocka_unit_test(test_duplicates_first_wins),
		cmocka_unit_test(test_malformed_values),
		cmocka_unit_test(test_error_leaves_evidence),
		cmocka_unit_test(test_classic),
		cmocka_unit_test(test_error_code),
		cmocka_unit_test(test_text_sanitising),
		cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_message_size_limit),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
