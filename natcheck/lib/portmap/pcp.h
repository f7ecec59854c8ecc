/* PCP, the Port Control Protocol (RFC 6887): a codec for the client side.
 *
 * Only what a client needs: encode ANNOUNCE and MAP requests, decode responses. Decoding goes
 * through the bounds-checked cursor (cursor.h) and never trusts a length it has not checked.
 *
 * Request header (RFC 6887 §7.1), 24 bytes:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Version = 2  |R|   Opcode    |         Reserved              |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 Requested Lifetime (32 bits)                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |            PCP Client's IP Address (128 bits)                 |
 *   |            (IPv4 as ::ffff:a.b.c.d, RFC 6887 §5)              |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   :             (optional) opcode-specific information            :
 *   :             (optional) PCP Options                            :
 *
 * Response header (RFC 6887 §7.2), 24 bytes:
 *
 *   |  Version = 2  |R|   Opcode    |   Reserved    |  Result Code  |
 *   |                      Lifetime (32 bits)                       |
 *   |                     Epoch Time (32 bits)                      |
 *   |                      Reserved (96 bits)                       |
 *   :             (optional) opcode-specific response data          :
 *   :             (optional) Options                                :
 *
 * MAP opcode-specific data (RFC 6887 §11.1), 36 bytes, same layout in request and response:
 *
 *   |                 Mapping Nonce (96 bits)                       |
 *   |   Protocol    |          Reserved (24 bits)                   |
 *   |        Internal Port          |    Suggested/Assigned         |
 *   |                               |    External Port              |
 *   |      Suggested/Assigned External IP Address (128 bits)        |
 *
 * Option (RFC 6887 §7.3): code (8), reserved (8), option length (16, padding excluded), data
 * padded to a multiple of 4 bytes.
 *
 * NAT-PMP (RFC 6886) shares port 5351. A NAT-PMP-only gateway answers a PCP request with a
 * version 0 "Unsupported Version" response (RFC 6887 §9, RFC 6886 §3.5), 8 bytes:
 *
 *   |  Version = 0  | Opcode + 128  |     Result Code (16) = 1      |
 *   |              Seconds Since Start of Epoch (32)                |
 */
#ifndef NC_PCP_H
#define NC_PCP_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCP_VERSION 2
#define PCP_SERVER_PORT 5351 /* RFC 6887 §19.1, shared with NAT-PMP */
#define PCP_MAX_MSG 1100     /* RFC 6887 §7: messages never exceed 1100 bytes */
#define PCP_HDR_LEN 24
#define PCP_MAP_LEN 36
#define PCP_NONCE_LEN 12
#define PCP_R_BIT 0x80
#define NATPMP_VERSION 0
#define NATPMP_ERR_RESP_LEN 8 /* version, opcode, result (16), epoch (32) */

enum pcp_opcode {
	PCP_OP_ANNOUNCE = 0, /* RFC 6887 §14.1 */
	PCP_OP_MAP = 1,      /* RFC 6887 §11 */
	PCP_OP_PEER = 2,     /* RFC 6887 §12 (not encoded here) */
};

/* RFC 6887 §7.4 result codes: X(value, NAME, plain-words message). */
#define PCP_RESULT_TABLE(X)                                                                       \
	X(0, SUCCESS, "success")                                                                  \
	X(1, UNSUPP_VERSION, "the gateway does not speak this PCP version")                       \
	X(2, NOT_AUTHORIZED, "the gateway refused the mapping")                                   \
	X(3, MALFORMED_REQUEST, "the gateway could not parse the request")                        \
	X(4, UNSUPP_OPCODE, "the gateway does not support this operation")                        \
	X(5, UNSUPP_OPTION, "the gateway does not support a mandatory option")                    \
	X(6, MALFORMED_OPTION, "the gateway found an option malformed")                           \
	X(7, NETWORK_FAILURE, "the gateway has a network failure (try again later)")              \
	X(8, NO_RESOURCES, "the gateway is out of mapping resources (try again later)")           \
	X(9, UNSUPP_PROTOCOL, "the gateway cannot map this transport protocol")                   \
	X(10, USER_EX_QUOTA, "this host has used up its mapping quota on the gateway")            \
	X(11, CANNOT_PROVIDE_EXTERNAL, "the gateway cannot provide the suggested external "       \
				       "address or port")                                         \
	X(12, ADDRESS_MISMATCH, "the client address in the request differs from the packet's "   \
				"source (another NAT between this host and the gateway)")         \
	X(13, EXCESSIVE_REMOTE_PEERS, "the gateway cannot filter that many remote peers")

enum pcp_result {
#define PCP_RESULT_ENUM_(v, name, msg) PCP_R_##name = v,
	PCP_RESULT_TABLE(PCP_RESULT_ENUM_)
#undef PCP_RESULT_ENUM_
};

/* "NOT_AUTHORIZED"; "UNKNOWN" for codes outside the table. Never NULL. */
const char *pcp_result_name(unsigned code);
/* "the gateway refused the mapping"; a generic sentence for unknown codes. Never NULL. */
const char *pcp_result_message(unsigned code);

/* MAP opcode data: what the client suggests in a request, what the server assigned in a
 * response. */
struct pcp_map {
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t protocol;           /* IANA protocol number: 17 = UDP, 6 = TCP, 0 = all */
	uint16_t internal_port;
	uint16_t external_port;     /* suggested (request) / assigned (response) */
	struct nc_addr external_ip; /* AF_INET for ::ffff:0:0/96, else AF_INET6; port 0 */
};

/* Fills nonce with 12 bytes from libsodium's randombytes_buf (RFC 6887 §11.2: the nonce is
 * random, so that an off-path attacker cannot guess it). */
void pcp_new_nonce(uint8_t nonce[PCP_NONCE_LEN]);

/* Encoders: return the number of bytes written or -NC_E_NOSPACE (nothing useful written),
 * -NC_E_FAMILY if client is neither IPv4 nor IPv6. The client address is the source address
 * the gateway will see (RFC 6887 §8.1: else ADDRESS_MISMATCH). */
int pcp_encode_announce(uint8_t *buf, size_t cap, const struct nc_addr *client);
/* A MAP request. An unset m->external_ip is sent as the IPv4 all-zeros address ::ffff:0.0.0.0
 * (RFC 6887 §11.1: "no preference"); lifetime 0 deletes the mapping with the same nonce,
 * protocol and internal port (§15). */
int pcp_encode_map(uint8_t *buf, size_t cap, uint32_t lifetime, const struct nc_addr *client,
		   const struct pcp_map *m);

/* A decoded response. */
struct pcp_response {
	uint8_t version;     /* 2 for PCP; 0 = a NAT-PMP answer; 1 = pre-RFC PCP */
	uint8_t opcode;      /* without the R bit */
	uint16_t result;     /* enum pcp_result for PCP; the NAT-PMP result code for version 0 */
	uint32_t lifetime;
	uint32_t epoch;
	bool has_map;        /* opcode MAP and the 36-byte MAP data present */
	struct pcp_map map;
	uint8_t n_options;   /* options seen (and skipped), saturating at 255 */
};

/* Decodes one datagram. Returns 0 and fills *out, or:
 *   -NC_E_TRUNCATED  shorter than the header (8 bytes for version 0, 24 otherwise) or than the
 *                    opcode data a successful response must carry, or an option running past
 *                    the end;
 *   -NC_E_MALFORMED  longer than 1100 bytes or not a multiple of 4 (RFC 6887 §8.3), bad option
 *                    padding;
 *   -NC_E_PROTOCOL   R bit clear (a request, not a response).
 * A version 0 datagram is a NAT-PMP answer: only version, opcode, result and epoch are filled;
 * RFC 6887 §9: result 1 there means "this gateway speaks NAT-PMP only". A version other than 0
 * and 2 decodes the common header only (the result is then usually UNSUPP_VERSION and version
 * names the highest version the server speaks). Does not match the response against a request;
 * see pcp_response_matches(). */
int pcp_decode_response(const uint8_t *buf, size_t len, struct pcp_response *out);

/* True when a decoded PCP (version 2) response answers this request: same opcode and, for MAP,
 * same nonce, protocol and internal port (RFC 6887 §11.4: "the PCP client MUST verify the
 * Mapping Nonce"). A MAP error response without MAP data matches on the opcode alone. */
bool pcp_response_matches(const struct pcp_response *r, uint8_t opcode, const struct pcp_map *req);

/* Error in words for a decoded response, e.g. "PCP: NOT_AUTHORIZED (the gateway refused the
 * mapping)" or "PCP: the gateway speaks NAT-PMP only (version 0 answer, RFC 6887 §9)".
 * Returns buf. */
char *pcp_response_str(const struct pcp_response *r, char *buf, size_t len);

#endif
