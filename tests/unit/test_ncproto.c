/* The suite's protocol codec (ncproto.h): coordination messages (layout, MAC, every
 * truncation, field checks, timestamp window), the CONNECT-BACK STUN attributes, key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cursor.h"
#include <natcheck/error.h>
#include "ncproto.h"
#include "testaddr.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1800000000000ull

static uint8_t key[NCP_KEY_LEN];

static void action(struct ncp_coord *m)
{
	memset(m, 0, sizeof(*m));
	m->type = NCP_T_ACTION;
	m->ts_ms = NOW;
	for (int i = 0; i < NCP_NONCE_LEN; i++)
		m->nonce[i] = (uint8_t)(0xA0 + i);
	for (int i = 0; i < NCP_TICKET_LEN; i++)
		m->ticket[i] = (uint8_t)(0x10 + i);
	m->u.action.origin = NCP_ORIGIN_BOUNCER;
	m->u.action.transport = NCP_PROTO_TCP;
	m->u.action.wait_ms = 4000;
	m->u.action.target = ep("198.18.10.1:40000");
	memset(m->u.action.tid, 0x5A, STUN_TID_LEN);
}

/* Golden layout of an ACTION message: every byte of the header and body, and the MAC is
 * HMAC-SHA512-256 of what precedes it. */
static void test_action_layout(void **state)
{
	static const uint8_t hdr[] = {'N', 'C', 'K', 1, NCP_T_ACTION, 0, 0, NCP_ACTION_LEN,
				      0x00, 0x00, 0x01, 0xA3, 0x18, 0x5C, 0x50, 0x00};
	static const uint8_t body[] = {3, 6, 0, 0, 0, 0, 0x0F, 0xA0, 4, 0, 0x9C, 0x40,
				       198, 18, 10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	struct ncp_coord m;
	uint8_t buf[NCP_COORD_MAX], mac[NCP_MAC_LEN];
	int n;

	(void)state;
	action(&m);
	n = ncp_coord_encode(&m, key, buf, sizeof(buf));
	assert_int_equal(n, NCP_HDR_LEN + NCP_ACTION_LEN + NCP_MAC_LEN);
	assert_memory_equal(buf, hdr, sizeof(hdr)); /* 1800000000000 = 0x1A3185C5000 */
	assert_memory_equal(buf + 16, m.nonce, NCP_NONCE_LEN);
	assert_memory_equal(buf + 32, m.ticket, NCP_TICKET_LEN);
	assert_memory_equal(buf + NCP_HDR_LEN, body, sizeof(body));
	for (int i = 0; i < STUN_TID_LEN; i++)
		assert_int_equal(buf[NCP_HDR_LEN + 28 + i], 0x5A);
	crypto_auth_hmacsha512256(mac, buf, (unsigned long long)n - NCP_MAC_LEN, key);
	assert_memory_equal(buf + n - NCP_MAC_LEN, mac, NCP_MAC_LEN);
	assert_true(ncp_coord_verify(buf, (size_t)n, key));
}

static void roundtrip(const struct ncp_coord *m)
{
	struct ncp_coord d;
	uint8_t buf[NCP_COORD_MAX];
	int n = ncp_coord_encode(m, key, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(ncp_coord_parse(buf, (size_t)n, NOW, &d), NCP_OK);
	assert_true(ncp_coord_verify(buf, (size_t)n, key));
	assert_int_equal(d.type, m->type);
	assert_memory_equal(d.nonce, m->nonce, NCP_NONCE_LEN);
	assert_memory_equal(d.ticket, m->ticket, NCP_TICKET_LEN);
	assert_true(d.ts_ms == m->ts_ms);
	/* Every truncation is refused, never read past. */
	for (int k = 0; k < n; k++)
		assert_int_not_equal(ncp_coord_parse(buf, (size_t)k, NOW, &d), NCP_OK);
	/* Any flipped bit breaks the MAC. */
	for (int k = 0; k < n; k++) {
		buf[k] ^= 0x01;
		assert_false(ncp_coord_verify(buf, (size_t)n, key));
		buf[k] ^= 0x01;
	}
}

static void test_roundtrips(void **state)
{
	struct ncp_coord m;

	(void)state;
	action(&m);
	roundtrip(&m);
	m.u.action.transport = NCP_PROTO_UDP;
	m.u.action.target = ep("[2001:db8::7]:5000");
	roundtrip(&m);
	m.type = NCP_T_RESULT;
	m.u.result = (struct ncp_result){.status = NCP_ST_ICMP, .icmp_type = 3, .icmp_code = 13,
					 .elapsed_ms = 12, .err = 113};
	roundtrip(&m);
	memset(&m.u, 0, sizeof(m.u));
	m.type = NCP_T_RELAY;
	m.u.relay.port_sel = 1;
	m.u.relay.dest = ep("198.18.10.1:40000");
	m.u.relay.len = 100;
	roundtrip(&m);
}

static void test_field_checks(void **state)
{
	struct ncp_coord m, d;
	uint8_t buf[NCP_COORD_MAX];
	int n;

	(void)state;
	action(&m);
	n = ncp_coord_encode(&m, key, buf, sizeof(buf));
	/* Timestamp window: +-30 s. */
	assert_int_equal(ncp_coord_parse(buf, (size_t)n, NOW + NCP_TS_WINDOW_MS, &d), NCP_OK);
	assert_int_equal(ncp_coord_parse(buf, (size_t)n, NOW + NCP_TS_WINDOW_MS + 1, &d), NCP_STALE);
	assert_int_equal(ncp_coord_parse(buf, (size_t)n, NOW - NCP_TS_WINDOW_MS - 1, &d), NCP_STALE);
	/* Magic, reserved byte, body length, type, origin, transport, wait, port 0, family. */
	struct { int off; uint8_t v; } bad[] = {
		{0, 'X'}, {3, 2}, {4, 9}, {5, 1}, {7, NCP_ACTION_LEN - 4},
		{NCP_HDR_LEN + 0, 0}, {NCP_HDR_LEN + 0, 4}, {NCP_HDR_LEN + 1, 7},
		{NCP_HDR_LEN + 2, 1}, {NCP_HDR_LEN + 4, 0xFF}, {NCP_HDR_LEN + 8, 5},
		{NCP_HDR_LEN + 9, 1}, {NCP_HDR_LEN + 20, 1},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t save = buf[bad[i].off];
		buf[bad[i].off] = bad[i].v;
		crypto_auth(buf + n - NCP_MAC_LEN, buf, (size_t)n - NCP_MAC_LEN, key);
		assert_int_equal(ncp_coord_parse(buf, (size_t)n, NOW, &d), NCP_BAD_FORMAT);
		buf[bad[i].off] = save;
	}
	/* Port zero: buf[NCP_HDR_LEN+10..11] = port. */
	m.u.action.target.port = 0;
	n = ncp_coord_encode(&m, key, buf, sizeof(buf));
	assert_int_equal(ncp_coord_parse(buf, (size_t)n, NOW, &d), NCP_BAD_FORMAT);
	/* Oversized relays are not encoded. */
	memset(&m, 0, sizeof(m));
	m.type = NCP_T_RELAY;
	m.u.relay.len = NCP_RELAY_MAX + 1;
	assert_int_equal(ncp_coord_encode(&m, key, buf, sizeof(buf)), -NC_E_INVALID);
	action(&m);
	assert_int_equal(ncp_coord_encode(&m, key, buf, 50), -NC_E_NOSPACE);
	/* Wrong key. */
	n = ncp_coord_encode(&m, key, buf, sizeof(buf));
	{
		uint8_t k2[NCP_KEY_LEN];
		memcpy(k2, key, sizeof(k2));
		k2[0] ^= 1;
		assert_false(ncp_coord_verify(buf, (size_t)n, k2));
	}
}

static void test_stun_attrs(void **state)
{
	struct ncp_cb_request q = {.origin = NCP_ORIGIN_ADDR, .transport = NCP_PROTO_TCP,
				   .wait_ms = 1000, .has_target = true};
	struct ncp_cb_request got;
	struct stun_msg m;
	uint8_t buf[256], tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	uint8_t ticket[NCP_TICKET_LEN] = {9, 8, 7, 6, 5, 4, 3, 2};
	int n;

	(void)state;
	q.target = ep("198.18.10.1:40000");
	n = ncp_build_cb_request(buf, sizeof(buf), tid, &q);
	assert_true(n > 0);
	assert_true(ncp_is_suite_method(buf, (size_t)n));
	assert_int_equal(stun_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.method, NCP_METHOD_CONNECT_BACK);
	assert_int_equal(m.n_unknown_required, 0); /* comprehension-optional attributes only */
	assert_int_equal(ncp_parse_attrs(buf, (size_t)n, &got, NULL, NULL, NULL), 0);
	assert_int_equal(got.origin, NCP_ORIGIN_ADDR);
	assert_int_equal(got.transport, NCP_PROTO_TCP);
	assert_int_equal(got.wait_ms, 1000);
	assert_true(got.has_target && nc_addr_eq(&got.target, &q.target));
	/* NC-CB-REQUEST value: origin 2, TCP, reserved, wait 1000 = 0x3E8. */
	assert_int_equal(nc_get_n16(buf + 20), NCP_ATTR_CB_REQUEST);
	assert_int_equal(nc_get_n16(buf + 22), 8);
	assert_int_equal(buf[24], 2);
	assert_int_equal(buf[25], 6);
	assert_int_equal(nc_get_n32(buf + 28), 1000);
	/* Out-of-range wait is malformed. */
	buf[30] = 0xFF;
	assert_int_equal(ncp_parse_attrs(buf, (size_t)n, &got, NULL, NULL, NULL), -NC_E_MALFORMED);

	n = ncp_build_cb_poll(buf, sizeof(buf), tid, ticket);
	assert_true(n > 0 && ncp_is_suite_method(buf, (size_t)n));
	assert_int_equal(ncp_parse_attrs(buf, (size_t)n, &got, NULL, NULL, NULL), 0);
	assert_true(got.has_ticket);
	assert_memory_equal(got.ticket, ticket, NCP_TICKET_LEN);
	/* Truncated attribute lists are refused. */
	for (int k = STUN_HEADER_LEN; k < n; k++) {
		uint8_t t[256];
		memcpy(t, buf, (size_t)k);
		assert_int_not_equal(ncp_parse_attrs(t, (size_t)k, &got, NULL, NULL, NULL), 0);
	}
	/* A plain Binding request is not the suite's. */
	{
		struct stun_builder b;
		stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
		n = stun_build_finish(&b, true);
		assert_false(ncp_is_suite_method(buf, (size_t)n));
	}
}

static void test_result_words(void **state)
{
	struct ncp_result r = {0};
	uint8_t p[NCP_RESULT_LEN];

	(void)state;
	r.status = NCP_ST_TIMEOUT;
	assert_string_equal(ncp_unsolicited_word(&r), "dropped");
	r.status = NCP_ST_RST;
	assert_string_equal(ncp_unsolicited_word(&r), "rst");
	r.status = NCP_ST_CONNECTED;
	assert_string_equal(ncp_unsolicited_word(&r), "accepted");
	r = (struct ncp_result){.status = NCP_ST_ICMP, .icmp_type = 3, .icmp_code = 3};
	assert_string_equal(ncp_unsolicited_word(&r), "icmp-port-unreachable");
	r.icmp_code = 13;
	assert_string_equal(ncp_unsolicited_word(&r), "icmp-admin-prohibited");
	r.icmp_code = 1;
	assert_string_equal(ncp_unsolicited_word(&r), "icmp-other");
	r = (struct ncp_result){.status = NCP_ST_ICMP, .icmp_type = 1, .icmp_code = 4};
	assert_string_equal(ncp_unsolicited_word(&r), "icmp-port-unreachable");
	ncp_result_put(p, &r);
	p[0] = NCP_ST_MAX_ + 1;
	assert_int_equal(ncp_result_get(p, sizeof(p), &r), -NC_E_MALFORMED);
	assert_int_equal(ncp_result_get(p, sizeof(p) - 1, &r), -NC_E_MALFORMED);
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static void test_key_files(void **state)
{
	char path[] = "/tmp/nc-keyXXXXXX";
	uint8_t k[NCP_KEY_LEN], raw[NCP_KEY_LEN];
	char hex[2 * NCP_KEY_LEN + 2];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (int i = 0; i < NCP_KEY_LEN; i++)
		raw[i] = (uint8_t)(i * 7 + 1);
	write_file(path, raw, sizeof(raw));
	assert_int_equal(ncp_key_load(path, k), 0);
	assert_memory_equal(k, raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	strcat(hex, "\n");
	write_file(path, hex, strlen(hex));
	assert_int_equal(ncp_key_load(path, k), 0);
	assert_memory_equal(k, raw, sizeof(raw));
	write_file(path, hex, 10);
	assert_int_equal(ncp_key_load(path, k), -NC_E_PARSE);
	hex[5] = 'z';
	write_file(path, hex, strlen(hex));
	assert_int_equal(ncp_key_load(path, k), -NC_E_PARSE);
	unlink(path);
	assert_true(ncp_key_load(path, k) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_action_layout), cmocka_unit_test(test_roundtrips),
		cmocka_unit_test(test_field_checks),  cmocka_unit_test(test_stun_attrs),
		cmocka_unit_test(test_result_words),  cmocka_unit_test(test_key_files),
	};
	if (sodium_init() < 0)
		return 1;
	for (int i = 0; i < NCP_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
