/* STUN codec: RFC 8489 framing, RFC 5780 NAT-behaviour-discovery attributes, RFC 3489 leftovers.
 *
 * The decoder reads only through the bounds-checked cursor (cursor.h) and copies values out, so
 * a decoded struct stun_msg never points into the packet. The encoder writes attributes in
 * place behind a header whose length field is kept current, so a message is valid (without
 * FINGERPRINT) after every add. MESSAGE-INTEGRITY is recognised but not verified: the suite
 * uses no STUN credentials (its own authenticated messages use libsodium, see ncproto.h). */
#include "stun.h"

#include "cursor.h"
#include <natcheck/error.h>

#include <netinet/in.h>
#include <string.h>

/* RFC 8489 §5: the method's bits are split around the two class bits,
 * M11..M7 C1 M6..M4 C0 M3..M0. */
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

/* CRC-32 of ISO-HDLC / IEEE 802.3 (reflected polynomial 0xEDB88320), a byte at a time. The
 * reflector computes one per answer, where the former nibble-wide loop was 6% of its CPU; the
 * table is constant (entry b is the CRC register after shifting b through eight steps of the
 * polynomial), so there is no lazily built global state, and test_stun.c checks every entry
 * against the bitwise definition. */
static const uint32_t crc_table[256] = {
	0x00000000, 0x77073096, 0xEE0E612C, 0x990951BA, 0x076DC419, 0x706AF48F,
	0xE963A535, 0x9E6495A3, 0x0EDB8832, 0x79DCB8A4, 0xE0D5E91E, 0x97D2D988,
	0x09B64C2B, 0x7EB17CBD, 0xE7B82D07, 0x90BF1D91, 0x1DB71064, 0x6AB020F2,
	0xF3B97148, 0x84BE41DE, 0x1ADAD47D, 0x6DDDE4EB, 0xF4D4B551, 0x83D385C7,
	0x136C9856, 0x646BA8C0, 0xFD62F97A, 0x8A65C9EC, 0x14015C4F, 0x63066CD9,
	0xFA0F3D63, 0x8D080DF5, 0x3B6E20C8, 0x4C69105E, 0xD56041E4, 0xA2677172,
	0x3C03E4D1, 0x4B04D447, 0xD20D85FD, 0xA50AB56B, 0x35B5A8FA, 0x42B2986C,
	0xDBBBC9D6, 0xACBCF940, 0x32D86CE3, 0x45DF5C75, 0xDCD60DCF, 0xABD13D59,
	0x26D930AC, 0x51DE003A, 0xC8D75180, 0xBFD06116, 0x21B4F4B5, 0x56B3C423,
	0xCFBA9599, 0xB8BDA50F, 0x2802B89E, 0x5F058808, 0xC60CD9B2, 0xB10BE924,
	0x2F6F7C87, 0x58684C11, 0xC1611DAB, 0xB6662D3D, 0x76DC4190, 0x01DB7106,
	0x98D220BC, 0xEFD5102A, 0x71B18589, 0x06B6B51F, 0x9FBFE4A5, 0xE8B8D433,
	0x7807C9A2, 0x0F00F934, 0x9609A88E, 0xE10E9818, 0x7F6A0DBB, 0x086D3D2D,
	0x91646C97, 0xE6635C01, 0x6B6B51F4, 0x1C6C6162, 0x856530D8, 0xF262004E,
	0x6C0695ED, 0x1B01A57B, 0x8208F4C1, 0xF50FC457, 0x65B0D9C6, 0x12B7E950,
	0x8BBEB8EA, 0xFCB9887C, 0x62DD1DDF, 0x15DA2D49, 0x8CD37CF3, 0xFBD44C65,
	0x4DB26158, 0x3AB551CE, 0xA3BC0074, 0xD4BB30E2, 0x4ADFA541, 0x3DD895D7,
	0xA4D1C46D, 0xD3D6F4FB, 0x4369E96A, 0x346ED9FC, 0xAD678846, 0xDA60B8D0,
	0x44042D73, 0x33031DE5, 0xAA0A4C5F, 0xDD0D7CC9, 0x5005713C, 0x270241AA,
	0xBE0B1010, 0xC90C2086, 0x5768B525, 0x206F85B3, 0xB966D409, 0xCE61E49F,
	0x5EDEF90E, 0x29D9C998, 0xB0D09822, 0xC7D7A8B4, 0x59B33D17, 0x2EB40D81,
	0xB7BD5C3B, 0xC0BA6CAD, 0xEDB88320, 0x9ABFB3B6, 0x03B6E20C, 0x74B1D29A,
	0xEAD54739, 0x9DD277AF, 0x04DB2615, 0x73DC1683, 0xE3630B12, 0x94643B84,
	0x0D6D6A3E, 0x7A6A5AA8, 0xE40ECF0B, 0x9309FF9D, 0x0A00AE27, 0x7D079EB1,
	0xF00F9344, 0x8708A3D2, 0x1E01F268, 0x6906C2FE, 0xF762575D, 0x806567CB,
	0x196C3671, 0x6E6B06E7, 0xFED41B76, 0x89D32BE0, 0x10DA7A5A, 0x67DD4ACC,
	0xF9B9DF6F, 0x8EBEEFF9, 0x17B7BE43, 0x60B08ED5, 0xD6D6A3E8, 0xA1D1937E,
	0x38D8C2C4, 0x4FDFF252, 0xD1BB67F1, 0xA6BC5767, 0x3FB506DD, 0x48B2364B,
	0xD80D2BDA, 0xAF0A1B4C, 0x36034AF6, 0x41047A60, 0xDF60EFC3, 0xA867DF55,
	0x316E8EEF, 0x4669BE79, 0xCB61B38C, 0xBC66831A, 0x256FD2A0, 0x5268E236,
	0xCC0C7795, 0xBB0B4703, 0x220216B9, 0x5505262F, 0xC5BA3BBE, 0xB2BD0B28,
	0x2BB45A92, 0x5CB36A04, 0xC2D7FFA7, 0xB5D0CF31, 0x2CD99E8B, 0x5BDEAE1D,
	0x9B64C2B0, 0xEC63F226, 0x756AA39C, 0x026D930A, 0x9C0906A9, 0xEB0E363F,
	0x72076785, 0x05005713, 0x95BF4A82, 0xE2B87A14, 0x7BB12BAE, 0x0CB61B38,
	0x92D28E9B, 0xE5D5BE0D, 0x7CDCEFB7, 0x0BDBDF21, 0x86D3D2D4, 0xF1D4E242,
	0x68DDB3F8, 0x1FDA836E, 0x81BE16CD, 0xF6B9265B, 0x6FB077E1, 0x18B74777,
	0x88085AE6, 0xFF0F6A70, 0x66063BCA, 0x11010B5C, 0x8F659EFF, 0xF862AE69,
	0x616BFFD3, 0x166CCF45, 0xA00AE278, 0xD70DD2EE, 0x4E048354, 0x3903B3C2,
	0xA7672661, 0xD06016F7, 0x4969474D, 0x3E6E77DB, 0xAED16A4A, 0xD9D65ADC,
	0x40DF0B66, 0x37D83BF0, 0xA9BCAE53, 0xDEBB9EC5, 0x47B2CF7F, 0x30B5FFE9,
	0xBDBDF21C, 0xCABAC28A, 0x53B39330, 0x24B4A3A6, 0xBAD03605, 0xCDD70693,
	0x54DE5729, 0x23D967BF, 0xB3667A2E, 0xC4614AB8, 0x5D681B02, 0x2A6F2B94,
	0xB40BBE37, 0xC30C8EA1, 0x5A05DF1B, 0x2D02EF8D,
};

uint32_t stun_crc32(const uint8_t *buf, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
	return crc ^ 0xFFFFFFFFu;
}

/* RFC 3489 §11.1 defines six message types only: Binding and Shared Secret, each as request,
 * success and error response. Without the magic cookie this is all there is to tell an old
 * STUN message from other traffic. */
static bool classic_type_ok(uint16_t type)
{
	uint16_t method;
	uint8_t cls;

	stun_type_split(type, &method, &cls);
	return (method == STUN_METHOD_BINDING || method == 0x002) && cls != STUN_CLASS_INDICATION;
}

bool stun_is_message(const uint8_t *buf, size_t len, bool allow_classic)
{
	uint16_t mlen;

	/* RFC 8489 §6.3: "the most significant 2 bits of every STUN message MUST be zeroes",
	 * the length "MUST contain the size of the message in bytes, not including the 20-byte
	 * STUN header" and is a multiple of 4 (§5); the cookie "MUST contain the fixed value
	 * 0x2112A442". */
	if (len < STUN_HEADER_LEN || (buf[0] & 0xC0) != 0)
		return false;
	mlen = nc_get_n16(buf + 2);
	if ((mlen & 3) != 0 || (size_t)mlen + STUN_HEADER_LEN != len)
		return false;
	if (nc_get_n32(buf + 4) == STUN_MAGIC_COOKIE)
		return true;
	return allow_classic && classic_type_ok(nc_get_n16(buf));
}

/* MAPPED-ADDRESS layout (RFC 8489 §14.1), shared by every address attribute:
 *   0 (8 bits) | family (8 bits, 0x01 IPv4, 0x02 IPv6) | port (16) | address (32 or 128).
 * With xor_key (the 16 header bytes after the type and length: cookie || transaction id) the
 * XOR-MAPPED-ADDRESS rules of §14.2 apply. */
static int decode_addr(struct nc_rd *v, struct nc_addr *out, const uint8_t *xor_key)
{
	uint8_t family, ip[16];
	uint16_t port;
	size_t alen;

	nc_rd_u8(v); /* §14.1: "MUST be set to 0 and MUST be ignored by receivers" */
	family = nc_rd_u8(v);
	port = nc_rd_n16(v);
	if (family == 0x01)
		alen = 4;
	else if (family == 0x02)
		alen = 16;
	else
		return -NC_E_MALFORMED;
	/* The value holds exactly one address of the family it names. */
	if (v->err || nc_rd_left(v) != alen)
		return -NC_E_MALFORMED;
	nc_rd_bytes(v, ip, alen);
	if (xor_key) {
		/* §14.2: X-Port is the port XOR the most significant 16 bits of the cookie;
		 * X-Address is the address XOR the cookie (IPv4) or cookie || tid (IPv6). */
		port ^= nc_get_n16(xor_key);
		for (size_t i = 0; i < alen; i++)
			ip[i] ^= xor_key[i];
	}
	nc_addr_set(out, alen == 4 ? AF_INET : AF_INET6, ip, port);
	return 0;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 §4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 if there is none. */
static size_t utf8_seq(const uint8_t *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xE0) == 0xC0)
		len = 2, c = p[0] & 0x1Fu, min = 0x80;
	else if ((p[0] & 0xF0) == 0xE0)
		len = 3, c = p[0] & 0x0Fu, min = 0x800;
	else if ((p[0] & 0xF8) == 0xF0)
		len = 4, c = p[0] & 0x07u, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3Fu);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* SOFTWARE and the ERROR-CODE reason are UTF-8 text (RFC 8489 §14.14, §14.8) that ends up in
 * reports, logs and JSON. Keep it printable valid UTF-8: a control character (C0, DEL, C1) or
 * a byte that starts no valid sequence becomes '?', a NUL ends the text (old servers pad
 * with NULs), and truncation never splits a character. Sanitising twice changes nothing,
 * which the fuzz target's re-encoding check relies on. */
static void copy_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
	size_t i = 0, o = 0;

	while (i < n && src[i] != 0) {
		uint32_t cp = 0;
		size_t k = utf8_seq(src + i, n - i, &cp);
		bool printable = k > 0 && cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp < 0xA0);

		if (o + (printable ? k : 1) > cap - 1)
			break;
		if (printable)
			memcpy(dst + o, src + i, k);
		else
			dst[o] = '?';
		o += printable ? k : 1;
		i += k ? k : 1;
	}
	dst[o] = '\0';
}

/* The `has` bit of each attribute this codec decodes, 0 for the rest. */
static uint32_t has_bit(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS: return STUN_HAS_MAPPED;
	case STUN_ATTR_XOR_MAPPED_ADDRESS: return STUN_HAS_XOR_MAPPED;
	case STUN_ATTR_CHANGE_REQUEST: return STUN_HAS_CHANGE_REQUEST;
	case STUN_ATTR_SOURCE_ADDRESS: return STUN_HAS_SOURCE;
	case STUN_ATTR_CHANGED_ADDRESS: return STUN_HAS_CHANGED;
	case STUN_ATTR_ERROR_CODE: return STUN_HAS_ERROR;
	case STUN_ATTR_UNKNOWN_ATTRIBUTES: return STUN_HAS_UNKNOWN_ATTRS;
	case STUN_ATTR_PADDING: return STUN_HAS_PADDING;
	case STUN_ATTR_RESPONSE_PORT: return STUN_HAS_RESPONSE_PORT;
	case STUN_ATTR_SOFTWARE: return STUN_HAS_SOFTWARE;
	case STUN_ATTR_FINGERPRINT: return STUN_HAS_FINGERPRINT;
	case STUN_ATTR_RESPONSE_ORIGIN: return STUN_HAS_RESPONSE_ORIGIN;
	case STUN_ATTR_OTHER_ADDRESS: return STUN_HAS_OTHER;
	case STUN_ATTR_MESSAGE_INTEGRITY: return STUN_HAS_INTEGRITY;
	case STUN_ATTR_USERNAME: return STUN_HAS_USERNAME;
	default: return 0;
	}
}

/* Records a comprehension-required type this codec does not know, once, for the 420 answer. */
static void note_unknown(struct stun_msg *m, uint16_t type)
{
	for (size_t i = 0; i < m->n_unknown_required; i++)
		if (m->unknown_required[i] == type)
			return;
	if (m->n_unknown_required < STUN_MAX_UNKNOWN)
		m->unknown_required[m->n_unknown_required++] = type;
}

/* Decodes one attribute value v (its padding already skipped). key is cookie || tid. */
static int decode_attr(struct stun_msg *m, uint16_t type, struct nc_rd *v, const uint8_t *key)
{
	size_t n = nc_rd_left(v);
	uint32_t bit = has_bit(type);
	int err = 0;

	/* RFC 8489 §14: "only the first occurrence needs to be processed by a receiver, and any
	 * duplicates MAY be ignored" - ignored whole, so a broken duplicate cannot spoil a
	 * message the first copy made valid. */
	if (bit & m->has)
		return 0;

	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
		err = decode_addr(v, &m->mapped, NULL);
		break;
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
		err = decode_addr(v, &m->xor_mapped, key);
		break;
	case STUN_ATTR_RESPONSE_ORIGIN:
		err = decode_addr(v, &m->response_origin, NULL);
		break;
	case STUN_ATTR_OTHER_ADDRESS:
		err = decode_addr(v, &m->other, NULL);
		break;
	case STUN_ATTR_CHANGED_ADDRESS:
		err = decode_addr(v, &m->changed, NULL);
		break;
	case STUN_ATTR_SOURCE_ADDRESS:
		err = decode_addr(v, &m->source, NULL);
		break;
	case STUN_ATTR_CHANGE_REQUEST:
		/* RFC 5780 §7.2: one 32-bit word of flags. */
		if (n != 4)
			return -NC_E_MALFORMED;
		m->change_flags = nc_rd_n32(v);
		break;
	case STUN_ATTR_RESPONSE_PORT:
		/* RFC 5780 §7.5: a 16-bit port followed by two bytes of padding. */
		if (n != 4)
			return -NC_E_MALFORMED;
		m->response_port = nc_rd_n16(v);
		break;
	case STUN_ATTR_PADDING:
		/* RFC 5780 §7.6: the content is meaningless, only its size matters. */
		m->padding_len = (uint16_t)n;
		break;
	case STUN_ATTR_SOFTWARE:
		copy_text(m->software, sizeof(m->software), nc_rd_ptr(v, n), n);
		break;
	case STUN_ATTR_ERROR_CODE: {
		/* RFC 8489 §14.8: 21 reserved bits (ignored), class 3..6, number 0..99, then
		 * the reason phrase. */
		uint32_t w;
		unsigned cls, num;

		if (n < 4)
			return -NC_E_MALFORMED;
		w = nc_rd_n32(v);
		cls = (w >> 8) & 0x7;
		num = w & 0xFF;
		if (cls < 3 || cls > 6 || num > 99)
			return -NC_E_MALFORMED;
		m->error_code = (uint16_t)(cls * 100 + num);
		copy_text(m->error_reason, sizeof(m->error_reason), nc_rd_ptr(v, n - 4), n - 4);
		break;
	}
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		/* RFC 8489 §14.9: a list of 16-bit attribute types. */
		if (n % 2 != 0)
			return -NC_E_MALFORMED;
		while (nc_rd_left(v) >= 2 && m->n_unknown_attrs < STUN_MAX_UNKNOWN)
			m->unknown_attrs[m->n_unknown_attrs++] = nc_rd_n16(v);
		break;
	case STUN_ATTR_MESSAGE_INTEGRITY:
		/* RFC 8489 §14.5: an HMAC-SHA1, 20 bytes. Presence only: no credentials here,
		 * so the HMAC is not checked. */
		if (n != 20)
			return -NC_E_MALFORMED;
		break;
	case STUN_ATTR_USERNAME:
		break; /* presence only, for the same reason */
	case STUN_ATTR_RESPONSE_ADDRESS:
		/* RFC 3489 §11.2.2 asks to answer elsewhere; RFC 5780 dropped it because it
		 * turns a server into a traffic reflector. Understood, never obeyed. */
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_ALTERNATE_SERVER:
		break;
	default:
		/* RFC 8489 §14: types below 0x8000 are comprehension-required; the caller
		 * answers a request carrying one with 420 (§6.3.1.1), so it is listed, not an
		 * error. Unknown comprehension-optional types are ignored. */
		if (type < 0x8000)
			note_unknown(m, type);
		break;
	}
	if (err == 0)
		m->has |= bit;
	return err;
}

int stun_decode(const uint8_t *buf, size_t len, struct stun_msg *m)
{
	struct nc_rd r;
	const uint8_t *key;
	uint16_t type;
	bool after_integrity = false;

	memset(m, 0, sizeof(*m));
	if (!stun_is_message(buf, len, true))
		return -NC_E_NOT_STUN;
	nc_rd_init(&r, buf, len);
	type = nc_rd_n16(&r);
	nc_rd_skip(&r, 2); /* length: stun_is_message checked it against len */
	key = nc_rd_ptr(&r, 16); /* cookie || tid: the XOR key of §14.2 */
	m->classic = nc_get_n32(key) != STUN_MAGIC_COOKIE;
	memcpy(m->tid, key + 4, STUN_TID_LEN); /* RFC 3489: the last 12 of its 16-byte id */
	stun_type_split(type, &m->method, &m->cls);

	while (nc_rd_left(&r) > 0) {
		size_t start = r.off;
		uint16_t atype = nc_rd_n16(&r), alen = nc_rd_n16(&r);
		struct nc_rd v = nc_rd_sub(&r, alen);
		int err;

		/* §14: "the value ... is padded to a multiple of 4 bytes"; the padding must be
		 * inside the message too. */
		nc_rd_skip(&r, (4 - (alen & 3)) & 3);
		if (r.err || v.err)
			return -NC_E_TRUNCATED;
		if (atype == STUN_ATTR_FINGERPRINT) {
			/* §14.7: CRC-32 of the message up to (excluding) this attribute, XOR
			 * 0x5354554e. It "MUST be the last attribute": whatever follows it is
			 * not part of the message and is ignored, undecoded. */
			uint32_t want;

			if (alen != 4)
				return -NC_E_FINGERPRINT;
			want = stun_crc32(buf, start) ^ STUN_FINGERPRINT_XOR;
			m->has |= STUN_HAS_FINGERPRINT;
			m->fingerprint_ok = nc_rd_n32(&v) == want;
			return m->fingerprint_ok ? 0 : -NC_E_FINGERPRINT;
		}
		/* §14.5: "agents MUST ignore all other attributes that follow
		 * MESSAGE-INTEGRITY", except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT. */
		if (after_integrity)
			continue;
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

/* Reserves an attribute header plus n value bytes, zero-padded to 4 (RFC 8489 §14), and
 * updates the header's length field; returns the value, or NULL once the builder failed. */
static uint8_t *attr(struct stun_builder *b, uint16_t type, size_t n)
{
	size_t padded;
	uint8_t *p;

	if (b->err)
		return NULL;
	/* The attribute and the message lengths are 16-bit fields. */
	if (n > 0xFFFF) {
		fail(b, -NC_E_NOSPACE);
		return NULL;
	}
	padded = (n + 3) & ~(size_t)3;
	if (b->cap - b->len < 4 + padded || b->len - STUN_HEADER_LEN + 4 + padded > 0xFFFF) {
		fail(b, -NC_E_NOSPACE);
		return NULL;
	}
	p = b->buf + b->len;
	nc_put_n16(p, type);
	nc_put_n16(p + 2, (uint16_t)n);
	memset(p + 4, 0, padded);
	b->len += 4 + padded;
	nc_put_n16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
	return p + 4;
}

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		     uint8_t cls, const uint8_t tid[STUN_TID_LEN])
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	if (cap < STUN_HEADER_LEN || !buf) {
		b->err = -NC_E_NOSPACE;
		return;
	}
	if (method > 0x0FFF || cls > STUN_CLASS_ERROR || !tid) { /* §5: 12-bit method */
		b->err = -NC_E_INVALID;
		return;
	}
	nc_put_n16(buf, stun_msg_type(method, cls));
	nc_put_n16(buf + 2, 0);
	nc_put_n32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	b->len = STUN_HEADER_LEN;
}

void stun_build_reply(struct stun_builder *b, uint8_t *buf, size_t cap, const uint8_t *req,
		      size_t req_len, uint8_t cls)
{
	uint16_t method;
	uint8_t rcls;

	if (!req || req_len < STUN_HEADER_LEN) {
		memset(b, 0, sizeof(*b));
		b->err = -NC_E_INVALID;
		return;
	}
	stun_type_split(nc_get_n16(req), &method, &rcls);
	stun_build_init(b, buf, cap, method, cls, req + 8);
	if (b->err == 0 && nc_get_n32(req + 4) != STUN_MAGIC_COOKIE) {
		/* RFC 3489 §11.1: a 128-bit transaction id and no cookie; the response
		 * "MUST" carry the request's id, so echo all 16 bytes. */
		memcpy(buf + 4, req + 4, 16);
		b->classic = true;
	}
}

/* The MAPPED-ADDRESS layout (RFC 8489 §14.1); with xor, XOR-ed with the header's cookie and
 * transaction id as they sit in the buffer (§14.2), the mirror of decode_addr. */
static void add_address(struct stun_builder *b, uint16_t type, const struct nc_addr *a, bool xor)
{
	size_t alen;
	uint8_t *p;

	if (b->err)
		return;
	if (!a || !nc_addr_is_set(a)) {
		fail(b, -NC_E_FAMILY);
		return;
	}
	alen = a->family == AF_INET6 ? 16 : 4;
	if (!(p = attr(b, type, 4 + alen)))
		return;
	p[1] = alen == 4 ? 0x01 : 0x02;
	nc_put_n16(p + 2, xor ? a->port ^ nc_get_n16(b->buf + 4) : a->port);
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
	uint8_t *p;

	if (n && !v) {
		fail(b, -NC_E_INVALID);
		return;
	}
	if ((p = attr(b, type, n)) && n)
		memcpy(p, v, n);
}

void stun_add_change_request(struct stun_builder *b, uint32_t flags)
{
	stun_add_u32(b, STUN_ATTR_CHANGE_REQUEST, flags & (STUN_CHANGE_IP | STUN_CHANGE_PORT));
}

void stun_add_response_port(struct stun_builder *b, uint16_t port)
{
	uint8_t *p = attr(b, STUN_ATTR_RESPONSE_PORT, 4); /* port, then 2 zero bytes */
	if (p)
		nc_put_n16(p, port);
}

void stun_add_padding(struct stun_builder *b, size_t n)
{
	(void)attr(b, STUN_ATTR_PADDING, n); /* zero-filled by attr() */
}

/* Length of the longest prefix of s, at most max bytes, that does not split a UTF-8
 * character; keeps the decoder's limits (STUN_SOFTWARE_MAX, STUN_REASON_MAX) on the wire. */
static size_t utf8_prefix(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

void stun_add_software(struct stun_builder *b, const char *s)
{
	if (!s) {
		fail(b, -NC_E_INVALID);
		return;
	}
	/* RFC 8489 §14.14: "fewer than 128 characters". */
	stun_add_bytes(b, STUN_ATTR_SOFTWARE, s, utf8_prefix(s, STUN_SOFTWARE_MAX - 1));
}

void stun_add_error(struct stun_builder *b, uint16_t code, const char *reason)
{
	size_t n;
	uint8_t *p;

	/* RFC 8489 §14.8: "the Class MUST be between 3 and 6". */
	if (code < 300 || code > 699) {
		fail(b, -NC_E_INVALID);
		return;
	}
	if (!reason)
		reason = stun_error_reason(code);
	n = utf8_prefix(reason, STUN_REASON_MAX - 1); /* "fewer than 128 characters" */
	if (!(p = attr(b, STUN_ATTR_ERROR_CODE, 4 + n)))
		return;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	memcpy(p + 4, reason, n);
}

void stun_add_unknown_attrs(struct stun_builder *b, const uint16_t *types, size_t n)
{
	uint8_t *p;

	if (n > 0xFFFF / 2 || (n && !types)) {
		fail(b, n > 0xFFFF / 2 ? -NC_E_NOSPACE : -NC_E_INVALID);
		return;
	}
	p = attr(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
	for (size_t i = 0; p && i < n; i++)
		nc_put_n16(p + 2 * i, types[i]);
}

int stun_build_finish(struct stun_builder *b, bool fingerprint)
{
	if (b->err)
		return b->err;
	/* RFC 3489 has no FINGERPRINT: an old peer would reject it as unknown. */
	if (fingerprint && !b->classic) {
		/* RFC 8489 §14.7: the CRC covers the header with a length that already
		 * includes FINGERPRINT, which attr() has set by the time it returns. */
		uint8_t *p = attr(b, STUN_ATTR_FINGERPRINT, 4);
		if (!p)
			return b->err;
		nc_put_n32(p, stun_crc32(b->buf, b->len - 8) ^ STUN_FINGERPRINT_XOR);
	}
	return (int)b->len;
}

int stun_binding_request(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
			 uint32_t change_flags, uint16_t response_port)
{
	struct stun_builder b;

	stun_build_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
	if (change_flags)
		stun_add_change_request(&b, change_flags);
	if (response_port)
		stun_add_response_port(&b, response_port);
	return stun_build_finish(&b, true);
}

const char *stun_error_reason(uint16_t code)
{
	/* RFC 8489 §14.8, and RFC 5780 §6 uses 420 for an unsupported CHANGE-REQUEST. */
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
