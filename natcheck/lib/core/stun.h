/* STUN codec: RFC 8489 framing with the RFC 5780 NAT-behaviour-discovery attributes and the
 * RFC 3489 attributes old servers still send.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0 0|     STUN Message Type     |         Message Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  Magic Cookie (0x2112A442)                    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                Transaction ID (96 bits)                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * then attributes, each: Type (16) | Length (16) | Value, padded to 4 bytes.
 *
 * Message type bits (RFC 8489 §5): M11..M0 method, C1 C0 class, interleaved as
 *   M11 M10 M9 M8 M7 C1 M6 M5 M4 C0 M3 M2 M1 M0.
 *
 * Decoding never trusts a declared length: every field is read through a bounds-checked cursor
 * (cursor.h). A message without the magic cookie is accepted as RFC 3489 ("classic") when its
 * framing is otherwise valid, because old servers (Vovida stund) answer that way. */
#ifndef NC_STUN_H
#define NC_STUN_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_HEADER_LEN 20
#define STUN_TID_LEN 12
#define STUN_FINGERPRINT_XOR 0x5354554Eu
#define STUN_MAX_MSG 1500 /* what this suite ever sends; decode accepts up to 65535+20 */

/* Methods. 0x001 is RFC 8489's Binding; the private-range methods are the suite's own
 * (documented in docs/protocol.md). */
enum stun_method {
	STUN_METHOD_BINDING = 0x001,
};

enum stun_class {
	STUN_CLASS_REQUEST = 0,
	STUN_CLASS_INDICATION = 1,
	STUN_CLASS_SUCCESS = 2,
	STUN_CLASS_ERROR = 3,
};

/* Attribute types. 0x0000-0x7FFF are comprehension-required, 0x8000-0xFFFF optional. */
enum stun_attr_type {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_RESPONSE_ADDRESS = 0x0002, /* RFC 3489, never sent by us */
	STUN_ATTR_CHANGE_REQUEST = 0x0003,   /* RFC 5780 §7.2 */
	STUN_ATTR_SOURCE_ADDRESS = 0x0004,   /* RFC 3489 */
	STUN_ATTR_CHANGED_ADDRESS = 0x0005,  /* RFC 3489; RFC 5780 OTHER-ADDRESS replaces it */
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	STUN_ATTR_REALM = 0x0014,
	STUN_ATTR_NONCE = 0x0015,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_PADDING = 0x0026,       /* RFC 5780 §7.6 */
	STUN_ATTR_RESPONSE_PORT = 0x0027, /* RFC 5780 §7.5 */
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_ALTERNATE_SERVER = 0x8023,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_RESPONSE_ORIGIN = 0x802B, /* RFC 5780 §7.3 */
	STUN_ATTR_OTHER_ADDRESS = 0x802C,   /* RFC 5780 §7.4 */
};

/* CHANGE-REQUEST flag bits (RFC 5780 §7.2). */
#define STUN_CHANGE_IP 0x4u
#define STUN_CHANGE_PORT 0x2u

#define STUN_MAX_UNKNOWN 8
#define STUN_SOFTWARE_MAX 128 /* RFC 8489 §14.14: fewer than 128 characters */
#define STUN_REASON_MAX 128

/* Which attributes a decoded message carried (bit per attribute). */
enum stun_has {
	STUN_HAS_MAPPED = 1u << 0,
	STUN_HAS_XOR_MAPPED = 1u << 1,
	STUN_HAS_CHANGE_REQUEST = 1u << 2,
	STUN_HAS_SOURCE = 1u << 3,
	STUN_HAS_CHANGED = 1u << 4,
	STUN_HAS_ERROR = 1u << 5,
	STUN_HAS_UNKNOWN_ATTRS = 1u << 6,
	STUN_HAS_PADDING = 1u << 7,
	STUN_HAS_RESPONSE_PORT = 1u << 8,
	STUN_HAS_SOFTWARE = 1u << 9,
	STUN_HAS_FINGERPRINT = 1u << 10,
	STUN_HAS_RESPONSE_ORIGIN = 1u << 11,
	STUN_HAS_OTHER = 1u << 12,
	STUN_HAS_INTEGRITY = 1u << 13,
	STUN_HAS_USERNAME = 1u << 14,
};

/* A decoded message. Plain values only: it holds no pointer into the input buffer. */
struct stun_msg {
	uint16_t method;
	uint8_t cls;           /* enum stun_class */
	bool classic;          /* no magic cookie: RFC 3489 message (16-byte id, tid = last 12) */
	uint8_t tid[STUN_TID_LEN];
	uint32_t has;          /* enum stun_has bits */

	struct nc_addr mapped;          /* MAPPED-ADDRESS */
	struct nc_addr xor_mapped;      /* XOR-MAPPED-ADDRESS, already un-XORed */
	struct nc_addr response_origin; /* RESPONSE-ORIGIN */
	struct nc_addr other;           /* OTHER-ADDRESS */
	struct nc_addr changed;         /* CHANGED-ADDRESS (RFC 3489) */
	struct nc_addr source;          /* SOURCE-ADDRESS (RFC 3489) */
	uint32_t change_flags;          /* CHANGE-REQUEST bits */
	uint16_t response_port;         /* RESPONSE-PORT */
	uint16_t padding_len;           /* PADDING value length */

	uint16_t error_code;            /* 300..699 */
	char error_reason[STUN_REASON_MAX]; /* NUL-terminated, truncated if longer */
	char software[STUN_SOFTWARE_MAX];   /* NUL-terminated, truncated if longer */

	uint16_t unknown_attrs[STUN_MAX_UNKNOWN]; /* UNKNOWN-ATTRIBUTES content */
	uint8_t n_unknown_attrs;

	/* Comprehension-required attributes this codec does not understand. A server answers a
	 * request that has any with 420 listing them (RFC 8489 §6.3.1). */
	uint16_t unknown_required[STUN_MAX_UNKNOWN];
	uint8_t n_unknown_required;

	bool fingerprint_ok; /* meaningful when has & STUN_HAS_FINGERPRINT */
};

/* Quick check used to demultiplex: top two bits zero, length a multiple of 4 matching len,
 * and the magic cookie (or, with allow_classic, a plausible RFC 3489 header: one of the six
 * message types of RFC 3489 §11.1, Binding or Shared Secret request/success/error). */
bool stun_is_message(const uint8_t *buf, size_t len, bool allow_classic);

/* Decodes buf[0..len). Returns 0 or a negative error:
 *   -NC_E_NOT_STUN     header does not look like STUN (first bits, length, cookie)
 *   -NC_E_TRUNCATED    an attribute runs past the end of the message
 *   -NC_E_MALFORMED    an attribute value is invalid for its type (bad family, length, ...)
 *   -NC_E_FINGERPRINT  FINGERPRINT present but wrong (CRC or length)
 * Unknown comprehension-required attributes are not an error: they are listed in
 * msg->unknown_required for the caller to answer 420. Attributes after FINGERPRINT, and
 * after MESSAGE-INTEGRITY other than FINGERPRINT, are ignored as RFC 8489 §14.5 says.
 * MESSAGE-INTEGRITY and USERNAME are recorded as present only: the HMAC is NOT verified (the
 * suite uses no STUN credentials), so STUN_HAS_INTEGRITY proves nothing about the sender.
 *
 * What an error leaves in *msg, for a client that must say what went wrong rather than drop
 * the answer (natcheck reports a server's malformed answers and a rewriting ALG as such):
 *   - on any error but -NC_E_NOT_STUN, the header fields (method, cls, classic, tid) are set;
 *   - on -NC_E_FINGERPRINT with STUN_HAS_FINGERPRINT set, every attribute before FINGERPRINT
 *     was decoded and fingerprint_ok is false: the message is whole but was changed after it
 *     was sent (a payload-rewriting ALG does this to MAPPED-ADDRESS). A server still treats it
 *     as an error; only a caller that wants the evidence may use the decoded attributes. */
int stun_decode(const uint8_t *buf, size_t len, struct stun_msg *msg);

/* STUN message type from method and class, and back. */
uint16_t stun_msg_type(uint16_t method, uint8_t cls);
void stun_type_split(uint16_t type, uint16_t *method, uint8_t *cls);

/* Encoder. Usage:
 *   struct stun_builder b;
 *   stun_build_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
 *   stun_add_change_request(&b, STUN_CHANGE_IP | STUN_CHANGE_PORT);
 *   int n = stun_build_finish(&b, true);   // n = length, or -NC_E_NOSPACE
 * Each add is a no-op once the builder has failed; stun_build_finish reports the first error.
 * The header length field is kept current after every add. */
struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
	bool classic; /* encode an RFC 3489 message: no cookie, MAPPED-ADDRESS only semantics */
};

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		     uint8_t cls, const uint8_t tid[STUN_TID_LEN]);
/* Starts a reply to req: same method, the given class, same transaction id (and, for an RFC
 * 3489 request, the same 16-byte id with no cookie). */
void stun_build_reply(struct stun_builder *b, uint8_t *buf, size_t cap, const uint8_t *req,
		      size_t req_len, uint8_t cls);
void stun_add_addr(struct stun_builder *b, uint16_t type, const struct nc_addr *a);
void stun_add_xor_addr(struct stun_builder *b, uint16_t type, const struct nc_addr *a);
void stun_add_u32(struct stun_builder *b, uint16_t type, uint32_t v);
void stun_add_bytes(struct stun_builder *b, uint16_t type, const void *v, size_t n);
void stun_add_change_request(struct stun_builder *b, uint32_t flags);
void stun_add_response_port(struct stun_builder *b, uint16_t port);
void stun_add_padding(struct stun_builder *b, size_t n);
void stun_add_software(struct stun_builder *b, const char *s);
void stun_add_error(struct stun_builder *b, uint16_t code, const char *reason);
void stun_add_unknown_attrs(struct stun_builder *b, const uint16_t *types, size_t n);
/* Appends FINGERPRINT if asked and returns the message length, or the first error. */
int stun_build_finish(struct stun_builder *b, bool fingerprint);

/* The Binding request every natcheck probe sends: CHANGE-REQUEST when change_flags is not 0,
 * RESPONSE-PORT when response_port is not 0, then FINGERPRINT. Returns its length or the
 * builder's error. */
int stun_binding_request(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
			 uint32_t change_flags, uint16_t response_port);

/* CRC-32 (ISO-HDLC) as FINGERPRINT uses it, before the XOR. */
uint32_t stun_crc32(const uint8_t *buf, size_t len);

/* Standard reason phrase for an error code ("Bad Request", "Unknown Attribute", ...). */
const char *stun_error_reason(uint16_t code);
/* Name of an attribute type for logs ("XOR-MAPPED-ADDRESS"), or NULL if unknown. */
const char *stun_attr_name(uint16_t type);

#endif
