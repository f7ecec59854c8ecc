#include "stun.h"

#include "cursor.h"
#include "error.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* RFC 8489 §5: the method's bits are split around the two class bits. */
uint16_t stun_msg_type(uint16_t method, uint8_t cls)
{
	return (uint16_t)(((method & 0x0F80) << 2) | ((method & 0x0070) << 1) | (method & 0x000F) |
			  ((cls & 0x2) << 7) | ((cls & 0x1) << 4));
}

void stun_type_split(uint16_t type, uint16_t *method, uint8_t *cls)
{
	*method = (uint16_t)(((type & 0x3E00) >> 2) | ((type & 0x00E0) >> 1) | (type & 0x000F));
	*cls = (uint8_t)(((type & 0x0100) >> 7) | ((type & 0x0010) >> 4));
}

uint32_t stun_crc32(const uint8_t *buf, size_t len)
{
	static uint32_t table[256];
	static int ready; /* idempotent fill: racing threads write identical values */
	uint32_t crc = 0xFFFFFFFFu;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
	return crc ^ 0xFFFFFFFFu;
}

bool stun_is_message(const uint8_t *buf, size_t len, bool allow_classic)
{
	uint16_t mlen;

	/* RFC 8489 §6.3: the two most significant bits are zero, the length is a multiple of
	 * four covering the rest of the datagram, and the cookie is present. */
	if (len < STUN_HEADER_LEN || (buf[0] & 0xC0) != 0)
		return false;
	mlen = nc_get_n16(buf + 2);
	if ((mlen & 3) != 0 || (size_t)mlen + STUN_HEADER_LEN != len)
		return false;
	return nc_get_n32(buf + 4) == STUN_MAGIC_COOKIE || allow_classic;
}

/* MAPPED-ADDRESS family (RFC 8489 §14.1): 0x01 IPv4, 0x02 IPv6. */
static int decode_addr(struct nc_rd *v, struct nc_addr *out, const uint8_t *xor_key)
{
	uint8_t family, ip[16];
	uint16_t port;
	size_t alen;

	nc_rd_u8(v); /* reserved */
	family = nc_rd_u8(v);
	port = nc_rd_n16(v);
	if (family == 0x01)
		alen = 4;
	else if (family == 0x02)
		alen = 16;
	else
		return -NC_E_MALFORMED;
	if (nc_rd_left(v) != alen)
		return -NC_E_MALFORMED;
	nc_rd_bytes(v, ip, alen);
	if (v->err)
		return -NC_E_MALFORMED;
	if (xor_key) {
		/* RFC 8489 §14.2: port XOR the cookie's top half, address XOR cookie||tid. */
		port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
		for (size_t i = 0; i < alen; i++)
			ip[i] ^= xor_key[i];
	}
	nc_addr_set(out, alen == 4 ? AF_INET : AF_INET6, ip, port);
	return 0;
}

static void copy_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	size_t k = n < cap - 1 ? n : cap - 1;

	for (size_t i = 0; i < k; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7F) || src[i] >= 0x80 ? (char)src[i] : '?';
	dst[k] = '\0';
}

/* Records the attribute in `has` unless it was seen already; first occurrence wins. */
static bool first(struct stun_msg *m, uint32_t bit)
{
	if (m->has & bit)
		return false;
	m->has |= bit;
	return true;
}

static int decode_attr(struct stun_msg *m, uint16_t type, struct nc_rd *v, const uint8_t *key)
{
	size_t n = nc_rd_left(v);
	const uint8_t *p;

	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
		return first(m, STUN_HAS_MAPPED) ? decode_addr(v, &m->mapped, NULL) : 0;
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
		return first(m, STUN_HAS_XOR_MAPPED) ? decode_addr(v, &m->xor_mapped, key) : 0;
	case STUN_ATTR_RESPONSE_ORIGIN:
		return first(m, STUN_HAS_RESPONSE_ORIGIN) ? decode_addr(v, &m->response_origin, NULL) : 0;
	case STUN_ATTR_OTHER_ADDRESS:
		return first(m, STUN_HAS_OTHER) ? decode_addr(v, &m->other, NULL) : 0;
	case STUN_ATTR_CHANGED_ADDRESS:
		return first(m, STUN_HAS_CHANGED) ? decode_addr(v, &m->changed, NULL) : 0;
	case STUN_ATTR_SOURCE_ADDRESS:
		return first(m, STUN_HAS_SOURCE) ? decode_addr(v, &m->source, NULL) : 0;
	case STUN_ATTR_CHANGE_REQUEST:
		if (n != 4)
			return -NC_E_MALFORMED;
		if (first(m, STUN_HAS_CHANGE_REQUEST))
			m->change_flags = nc_rd_n32(v);
		return 0;
	case STUN_ATTR_RESPONSE_PORT:
		/* RFC 5780 §7.5: a 16-bit port followed by two bytes of padding. */
		if (n != 4)
			return -NC_E_MALFORMED;
		if (first(m, STUN_HAS_RESPONSE_PORT))
			m->response_port = nc_rd_n16(v);
		return 0;
	case STUN_ATTR_PADDING:
		if (first(m, STUN_HAS_PADDING))
			m->padding_len = (uint16_t)n;
		return 0;
	case STUN_ATTR_SOFTWARE:
		if (first(m, STUN_HAS_SOFTWARE))
			copy_text(m->software, sizeof(m->software), nc_rd_ptr(v, n), n);
		return 0;
	case STUN_ATTR_USERNAME:
		first(m, STUN_HAS_USERNAME);
		return 0;
	case STUN_ATTR_ERROR_CODE:
		/* RFC 8489 §14.8: 21 reserved bits, class (3-6), number (0-99), reason. */
		if (n < 4)
			return -NC_E_MALFORMED;
		if (first(m, STUN_HAS_ERROR)) {
			uint32_t w = nc_rd_n32(v);
			unsigned cls = (w >> 8) & 0x7, num = w & 0xFF;
			if (cls < 3 || cls > 6 || num > 99)
				return -NC_E_MALFORMED;
			m->error_code = (uint16_t)(cls * 100 + num);
			p = nc_rd_ptr(v, n - 4);
			copy_text(m->error_reason, sizeof(m->error_reason), p, n - 4);
		}
		return 0;
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		if (n % 2 != 0)
			return -NC_E_MALFORMED;
		if (first(m, STUN_HAS_UNKNOWN_ATTRS))
			while (nc_rd_left(v) >= 2 && m->n_unknown_attrs < STUN_MAX_UNKNOWN)
				m->unknown_attrs[m->n_unknown_attrs++] = nc_rd_n16(v);
		return 0;
	case STUN_ATTR_MESSAGE_INTEGRITY:
		/* Presence only: this suite uses no STUN credentials. */
		if (n != 20)
			return -NC_E_MALFORMED;
		first(m, STUN_HAS_INTEGRITY);
		return 0;
	case STUN_ATTR_RESPONSE_ADDRESS:
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_ALTERNATE_SERVER:
		return 0;
	default:
		if (type < 0x8000 && m->n_unknown_required < STUN_MAX_UNKNOWN)
			m->unknown_required[m->n_unknown_required++] = type;
		return 0;
	}
}

int stun_decode(const uint8_t *buf, size_t len, struct stun_msg *m)
{
	struct nc_rd r;
	uint8_t key[16];
	uint16_t type;
	bool after_integrity = false;

	memset(m, 0, sizeof(*m));
	if (!stun_is_message(buf, len, true))
		return -NC_E_NOT_STUN;
	nc_rd_init(&r, buf, len);
	type = nc_rd_n16(&r);
	nc_rd_skip(&r, 2); /* length, checked by stun_is_message */
	m->classic = nc_rd_n32(&r) != STUN_MAGIC_COOKIE;
	nc_rd_bytes(&r, m->tid, STUN_TID_LEN);
	stun_type_split(type, &m->method, &m->cls);
	memcpy(key, buf + 4, 16); /* cookie || transaction id: the XOR key for addresses */

	while (nc_rd_left(&r) > 0) {
		size_t start = r.off;
		uint16_t atype = nc_rd_n16(&r), alen = nc_rd_n16(&r);
		struct nc_rd v = nc_rd_sub(&r, alen);
		int err;

		nc_rd_skip(&r, (4 - (alen & 3)) & 3); /* RFC 8489 §14: value padded to 4 bytes */
		if (r.err || v.err)
			return -NC_E_TRUNCATED;
		if (atype == STUN_ATTR_FINGERPRINT) {
			/* RFC 8489 §14.7: CRC-32 of everything before it, XOR 0x5354554e; it must be
			 * last, so the length field already counts it. */
			if (alen != 4 || nc_rd_left(&r) != 0)
				return -NC_E_FINGERPRINT;
			m->has |= STUN_HAS_FINGERPRINT;
			m->fingerprint_ok = (stun_crc32(buf, start) ^ STUN_FINGERPRINT_XOR) == nc_rd_n32(&v);
			if (!m->fingerprint_ok)
				return -NC_E_FINGERPRINT;
			break;
		}
		if (after_integrity)
			continue; /* §14.5: only FINGERPRINT may follow MESSAGE-INTEGRITY */
		if ((err = decode_attr(m, atype, &v, key)) < 0)
			return err;
		if (atype == STUN_ATTR_MESSAGE_INTEGRITY)
			after_integrity = true;
	}
	return 0;
}

/* --- encoder ------------------------------------------------------------------------- */

static void fail(struct stun_builder *b, int err)
{
	if (b->err == 0)
		b->err = err;
}

static void set_length(struct stun_builder *b)
{
	nc_put_n16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
}

/* Reserves an attribute header plus n padded value bytes; returns the value or NULL. */
static uint8_t *attr(struct stun_builder *b, uint16_t type, size_t n)
{
	size_t padded = (n + 3) & ~(size_t)3;
	uint8_t *p;

	if (b->err)
		return NULL;
	if (n > 0xFFFF || b->cap - b->len < 4 + padded || b->len + 4 + padded - STUN_HEADER_LEN > 0xFFFF) {
		fail(b, -NC_E_NOSPACE);
		return NULL;
	}
	p = b->buf + b->len;
	nc_put_n16(p, type);
	nc_put_n16(p + 2, (uint16_t)n);
	memset(p + 4, 0, padded);
	b->len += 4 + padded;
	set_length(b);
	return p + 4;
}

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		     uint8_t cls, const uint8_t tid[STUN_TID_LEN])
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	if (cap < STUN_HEADER_LEN || method > 0x0FFF || cls > 3) {
		b->err = cap < STUN_HEADER_LEN ? -NC_E_NOSPACE : -NC_E_INVALID;
		return;
	}
	nc_put_n16(buf, stun_msg_type(method, cls));
	nc_put_n32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	b->len = STUN_HEADER_LEN;
	set_length(b);
}

void stun_build_reply(struct stun_builder *b, uint8_t *buf, size_t cap, const uint8_t *req,
		      size_t req_len, uint8_t cls)
{
	uint16_t method;
	uint8_t rcls;

	if (req_len < STUN_HEADER_LEN) {
		memset(b, 0, sizeof(*b));
		b->err = -NC_E_INVALID;
		return;
	}
	stun_type_split(nc_get_n16(req), &method, &rcls);
	stun_build_init(b, buf, cap, method, cls, req + 8);
	if (b->err == 0 && nc_get_n32(req + 4) != STUN_MAGIC_COOKIE) {
		/* RFC 3489: a 128-bit transaction id and no cookie; echo all of it. */
		memcpy(buf + 4, req + 4, 16);
		b->classic = true;
	}
}

/* MAPPED-ADDRESS layout (RFC 8489 §14.1); XOR-ed with the cookie and transaction id as they
 * sit in the header when xor is set (§14.2). */
static void add_address(struct stun_builder *b, uint16_t type, const struct nc_addr *a, bool xor)
{
	size_t alen = a->family == AF_INET6 ? 16 : 4;
	uint8_t *p;

	if (!nc_addr_is_set(a)) {
		fail(b, -NC_E_FAMILY);
		return;
	}
	if (!(p = attr(b, type, 4 + alen)))
		return;
	p[1] = alen == 4 ? 0x01 : 0x02;
	nc_put_n16(p + 2, xor ? a->port ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16) : a->port);
	for (size_t i = 0; i < alen; i++)
		p[4 + i] = xor ? a->ip[i] ^ b->buf[4 + i] : a->ip[i];
}

void stun_add_addr(struct stun_builder *b, uint16_t type, const struct nc_addr *a)
{
	add_address(b, type, a, false);
}

void stun_add_xor_addr(struct stun_builder *b, uint16_t type, const struct nc_addr *a)
{
	add_address(b, type, a, true);
}

void stun_add_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t *p = attr(b, type, 4);
	if (p)
		nc_put_n32(p, v);
}

void stun_add_bytes(struct stun_builder *b, uint16_t type, const void *v, size_t n)
{
	uint8_t *p = attr(b, type, n);
	if (p && n)
		memcpy(p, v, n);
}

void stun_add_change_request(struct stun_builder *b, uint32_t flags)
{
	stun_add_u32(b, STUN_ATTR_CHANGE_REQUEST, flags & (STUN_CHANGE_IP | STUN_CHANGE_PORT));
}

void stun_add_response_port(struct stun_builder *b, uint16_t port)
{
	uint8_t *p = attr(b, STUN_ATTR_RESPONSE_PORT, 4);
	if (p)
		nc_put_n16(p, port);
}

void stun_add_padding(struct stun_builder *b, size_t n)
{
	(void)attr(b, STUN_ATTR_PADDING, n); /* zero-filled by attr() */
}

void stun_add_software(struct stun_builder *b, const char *s)
{
	size_t n = strlen(s);
	stun_add_bytes(b, STUN_ATTR_SOFTWARE, s, n < STUN_SOFTWARE_MAX - 1 ? n : STUN_SOFTWARE_MAX - 1);
}

void stun_add_error(struct stun_builder *b, uint16_t code, const char *reason)
{
	size_t n;
	uint8_t *p;

	if (code < 300 || code > 699) {
		fail(b, -NC_E_INVALID);
		return;
	}
	if (!reason)
		reason = stun_error_reason(code);
	n = strlen(reason);
	if (n > 763) /* RFC 8489 §14.8: fewer than 128 characters, at most 763 bytes */
		n = 763;
	if (!(p = attr(b, STUN_ATTR_ERROR_CODE, 4 + n)))
		return;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	memcpy(p + 4, reason, n);
}

void stun_add_unknown_attrs(struct stun_builder *b, const uint16_t *types, size_t n)
{
	uint8_t *p = attr(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);

	for (size_t i = 0; p && i < n; i++)
		nc_put_n16(p + 2 * i, types[i]);
}

int stun_build_finish(struct stun_builder *b, bool fingerprint)
{
	if (b->err)
		return b->err;
	if (fingerprint && !b->classic) {
		/* The CRC covers the header with a length that already includes FINGERPRINT. */
		uint8_t *p = attr(b, STUN_ATTR_FINGERPRINT, 4);
		if (!p)
			return b->err;
		nc_put_n32(p, stun_crc32(b->buf, b->len - 8) ^ STUN_FINGERPRINT_XOR);
	}
	return (int)b->len;
}

const char *stun_error_reason(uint16_t code)
{
	switch (code) {
	case 300: return "Try Alternate";
	case 400: return "Bad Request";
	case 401: return "Unauthenticated";
	case 420: return "Unknown Attribute";
	case 438: return "Stale Nonce";
	case 500: return "Server Error";
	default: return "Error";
	}
}

const char *stun_attr_name(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS: return "MAPPED-ADDRESS";
	case STUN_ATTR_RESPONSE_ADDRESS: return "RESPONSE-ADDRESS";
	case STUN_ATTR_CHANGE_REQUEST: return "CHANGE-REQUEST";
	case STUN_ATTR_SOURCE_ADDRESS: return "SOURCE-ADDRESS";
	case STUN_ATTR_CHANGED_ADDRESS: return "CHANGED-ADDRESS";
	case STUN_ATTR_USERNAME: return "USERNAME";
	case STUN_ATTR_MESSAGE_INTEGRITY: return "MESSAGE-INTEGRITY";
	case STUN_ATTR_ERROR_CODE: return "ERROR-CODE";
	case STUN_ATTR_UNKNOWN_ATTRIBUTES: return "UNKNOWN-ATTRIBUTES";
	case STUN_ATTR_REALM: return "REALM";
	case STUN_ATTR_NONCE: return "NONCE";
	case STUN_ATTR_XOR_MAPPED_ADDRESS: return "XOR-MAPPED-ADDRESS";
	case STUN_ATTR_PADDING: return "PADDING";
	case STUN_ATTR_RESPONSE_PORT: return "RESPONSE-PORT";
	case STUN_ATTR_SOFTWARE: return "SOFTWARE";
	case STUN_ATTR_ALTERNATE_SERVER: return "ALTERNATE-SERVER";
	case STUN_ATTR_FINGERPRINT: return "FINGERPRINT";
	case STUN_ATTR_RESPONSE_ORIGIN: return "RESPONSE-ORIGIN";
	case STUN_ATTR_OTHER_ADDRESS: return "OTHER-ADDRESS";
	default: return NULL;
	}
}
