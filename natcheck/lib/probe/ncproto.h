/* The suite's own protocol: what natcheck asks of a reflector beyond RFC 5780 (TCP connect-back,
 * third-party UDP "bounce"), and the authenticated coordination link between reflector hosts.
 * docs/protocol.md tells the same story with the deployment pictures.
 *
 * 1. Client <-> reflector: STUN (RFC 8489) with two methods from the range RFC 8489 §18.2
 *    leaves to expert review (0x800-0xFFF; used here privately) and attributes from the
 *    private-use, comprehension-optional range 0xC000-0xFFFF (RFC 8489 §18.3), so a stock STUN
 *    server answers 400 and a stock client ignores them.
 *
 *   CONNECT-BACK (0x0801) request, over TCP on the connection whose mapping is tested, or over
 *   UDP from the socket whose mapping is tested:
 *     NC-CB-REQUEST (0xC001)
 *      0                   1                   2                   3
 *     +---------------+---------------+-------------------------------+
 *     |    origin     |   transport   |           reserved (0)        |
 *     +---------------+---------------+-------------------------------+
 *     |                        wait (ms, 100..20000)                  |
 *     +---------------------------------------------------------------+
 *       origin: 1 = same address, another port (A1:Pcb: address-dependent filtering test)
 *               2 = the other address           (A2:Pcb: endpoint-independent filtering test)
 *               3 = the bouncer                 (A3:Pcb, a host the client never contacted)
 *       transport: 6 = TCP (connect to the client's mapping and report what came back)
 *                  17 = UDP (send a Binding success response carrying the request's
 *                       transaction id to the client's mapping, from the origin)
 *     NC-CB-TARGET (0xC002, optional, XOR-MAPPED-ADDRESS encoding): the mapping the client
 *       believes it has. If present it must equal the source the reflector observed, or the
 *       request is refused with 403 (and counted): the target is ALWAYS the observed source.
 *   Success answer: XOR-MAPPED-ADDRESS (the observed source = the target), NC-CB-TICKET
 *   (0xC003, 8 opaque bytes), NC-CB-ORIGIN (0xC004, XOR-MAPPED-ADDRESS encoding: the endpoint
 *   the connect or datagram will come from). Errors: 400 malformed, 403 target mismatch or
 *   origin not available here, 429 rate limited, 503 no coordination configured.
 *
 *   CONNECT-BACK-RESULT (0x0802) request: NC-CB-TICKET. Success answer: NC-CB-RESULT
 *   (0xC005, the 12-byte result below); 404 for an unknown or expired ticket.
 *
 * 2. Reflector <-> reflector (UDP, --coord-port, default 3480): one datagram per message,
 *    authenticated with crypto_auth (HMAC-SHA512-256) under a 32-byte shared key file.
 *
 *      0                   1                   2                   3
 *     +---------------+---------------+---------------+---------------+
 *     |  'N' 0x4E     |  'C' 0x43     |  'K' 0x4B     |  version = 1  |
 *     +---------------+---------------+-------------------------------+
 *     |     type      |   reserved    |          body length          |
 *     +---------------+---------------+-------------------------------+
 *     |                timestamp (unix time, ms, 64 bits)             |
 *     +---------------------------------------------------------------+
 *     |                    nonce (16 random bytes)                    |
 *     +---------------------------------------------------------------+
 *     |                ticket (8 bytes, from the client answer)       |
 *     +---------------------------------------------------------------+
 *     |                body (body length bytes, by type)              |
 *     +---------------------------------------------------------------+
 *     |  MAC: crypto_auth(key, everything above), 32 bytes            |
 *     +---------------------------------------------------------------+
 *
 *   Endpoint (20 bytes, used in bodies):
 *     | family (4 or 6) | 0 | port (16) | address (16 bytes; IPv4 in the first 4, rest 0) |
 *
 *   ACTION (1), body 40 bytes: origin (u8), transport (u8), reserved (u16), wait ms (u32),
 *     target endpoint (20): the client's source as the REQUESTER observed it, and the STUN
 *     transaction id (12) for a UDP bounce. The receiver connects to / sends to the target.
 *   RESULT (2), body 12 bytes: the result below, for the ticket in the header.
 *   RELAY (3), body 24 + n bytes: port selector (u8: 0 primary, 1 alternate), reserved (u8),
 *     length n (u16), destination endpoint (20), then a STUN Binding success response of n
 *     bytes that the receiver sends from its own address (three-host deployments: answers to
 *     CHANGE-REQUEST that must come from the partner's address). The receiver sends it only
 *     when it decodes as a Binding success response whose XOR-MAPPED-ADDRESS is the
 *     destination: a relay can only answer the observed requester.
 *
 *   Receiver order (STYLE.md §6): length, magic, version, type, body length and timestamp
 *   window (+-30 s) first; then the MAC (recomputed and compared with sodium_memcmp, constant
 *   time); then the nonce replay cache; then rate limits; only then act.
 *
 *   Result (12 bytes):
 *     | status (u8) | icmp type (u8) | icmp code (u8) | reserved | elapsed ms (u32) | errno (u32) |
 */
#ifndef NC_NCPROTO_H
#define NC_NCPROTO_H

#include <natcheck/addr.h>
#include "stun.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_METHOD_CONNECT_BACK 0x0801
#define NCP_METHOD_CB_RESULT 0x0802

#define NCP_ATTR_CB_REQUEST 0xC001
#define NCP_ATTR_CB_TARGET 0xC002
#define NCP_ATTR_CB_TICKET 0xC003
#define NCP_ATTR_CB_ORIGIN 0xC004
#define NCP_ATTR_CB_RESULT 0xC005

#define NCP_TICKET_LEN 8
#define NCP_WAIT_MIN_MS 100
#define NCP_WAIT_MAX_MS 20000

enum ncp_origin {
	NCP_ORIGIN_PORT = 1,    /* same address, another port */
	NCP_ORIGIN_ADDR = 2,    /* the other address (and another port) */
	NCP_ORIGIN_BOUNCER = 3, /* the third-party bouncer */
};

#define NCP_PROTO_TCP 6
#define NCP_PROTO_UDP 17

enum ncp_status {
	NCP_ST_PENDING = 0,   /* still waiting */
	NCP_ST_CONNECTED = 1, /* the connect completed (SYN passed, or simultaneous open) */
	NCP_ST_RST = 2,       /* connection refused without an ICMP error: a TCP RST */
	NCP_ST_ICMP = 3,      /* an ICMP error (type/code say which) */
	NCP_ST_TIMEOUT = 4,   /* nothing came back before the wait ended */
	NCP_ST_ERROR = 5,     /* the origin could not even try (errno says why) */
	NCP_ST_SENT = 6,      /* UDP bounce sent */
	NCP_ST_MAX_ = NCP_ST_SENT,
};

struct ncp_result {
	uint8_t status; /* enum ncp_status */
	uint8_t icmp_type, icmp_code;
	uint32_t elapsed_ms;
	uint32_t err; /* errno of the failed connect, 0 if none */
};

#define NCP_RESULT_LEN 12

/* --- client STUN requests ---------------------------------------------------------------- */

struct ncp_cb_request {
	uint8_t origin;    /* enum ncp_origin */
	uint8_t transport; /* NCP_PROTO_TCP / NCP_PROTO_UDP */
	uint32_t wait_ms;
	bool has_target;
	struct nc_addr target; /* NC-CB-TARGET, un-XORed */
	bool has_ticket;
	uint8_t ticket[NCP_TICKET_LEN];
};

/* Builds a CONNECT-BACK request (tid given) into buf; returns its length or a negative error. */
int ncp_build_cb_request(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
			 const struct ncp_cb_request *req);
/* Builds a CONNECT-BACK-RESULT request for a ticket. */
int ncp_build_cb_poll(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
		      const uint8_t ticket[NCP_TICKET_LEN]);

/* True when buf is a STUN message whose method is one of the suite's (cheap demultiplexer for
 * the reflector's packet path). */
bool ncp_is_suite_method(const uint8_t *buf, size_t len);

/* Reads the suite's attributes out of a STUN message (request or answer) that stun_decode()
 * accepted. Fills *req (NC-CB-REQUEST, -TARGET, -TICKET), *origin (NC-CB-ORIGIN, unset if
 * absent) and *res (NC-CB-RESULT; has_res says whether present). Any of them may be NULL.
 * Returns 0, or -NC_E_MALFORMED when one of them has the wrong length or an invalid value. */
int ncp_parse_attrs(const uint8_t *buf, size_t len, struct ncp_cb_request *req,
		    struct nc_addr *origin, struct ncp_result *res, bool *has_res);

/* --- coordination messages --------------------------------------------------------------- */

#define NCP_KEY_LEN 32 /* crypto_auth_KEYBYTES */
#define NCP_MAC_LEN 32 /* crypto_auth_BYTES */
#define NCP_NONCE_LEN 16
#define NCP_HDR_LEN 40
#define NCP_ENDPOINT_LEN 20
#define NCP_ACTION_LEN 40
#define NCP_RELAY_FIXED 24
#define NCP_RELAY_MAX 1400
#define NCP_COORD_MAX (NCP_HDR_LEN + NCP_RELAY_FIXED + NCP_RELAY_MAX + NCP_MAC_LEN)
#define NCP_TS_WINDOW_MS 30000

enum ncp_type { NCP_T_ACTION = 1, NCP_T_RESULT = 2, NCP_T_RELAY = 3 };

struct ncp_coord {
	uint8_t type; /* enum ncp_type */
	uint64_t ts_ms;
	uint8_t nonce[NCP_NONCE_LEN];
	uint8_t ticket[NCP_TICKET_LEN];
	union {
		struct {
			uint8_t origin, transport;
			uint32_t wait_ms;
			struct nc_addr target;
			uint8_t tid[STUN_TID_LEN];
		} action;
		struct ncp_result result;
		struct {
			uint8_t port_sel; /* 0 primary port, 1 alternate port */
			struct nc_addr dest;
			uint16_t len;
			uint8_t msg[NCP_RELAY_MAX];
		} relay;
	} u;
};

/* Encodes m (fresh nonce and timestamp are the caller's: see ncp_coord_stamp) and appends the
 * MAC under key. Returns the length or a negative error. */
int ncp_coord_encode(const struct ncp_coord *m, const uint8_t key[NCP_KEY_LEN], uint8_t *buf,
		     size_t cap);
/* Fills ts_ms (now_ms) and a random nonce. */
void ncp_coord_stamp(struct ncp_coord *m, uint64_t now_ms);

/* Why a coordination message was refused (counters are indexed by this). */
enum ncp_verdict {
	NCP_OK = 0,
	NCP_BAD_FORMAT, /* length, magic, version, type, body length, field values */
	NCP_STALE,      /* timestamp outside the window */
	NCP_BAD_MAC,
	NCP_REPLAY,
	NCP_VERDICT_COUNT_,
};

/* Step 1: structure and timestamp only, no key (cheap; what a fuzzer drives). Fills *m. */
enum ncp_verdict ncp_coord_parse(const uint8_t *buf, size_t len, uint64_t now_ms,
				 struct ncp_coord *m);
/* Step 2: the MAC over buf[0..len-32) (constant-time comparison). */
bool ncp_coord_verify(const uint8_t *buf, size_t len, const uint8_t key[NCP_KEY_LEN]);

void ncp_result_put(uint8_t p[NCP_RESULT_LEN], const struct ncp_result *r);
int ncp_result_get(const uint8_t *p, size_t len, struct ncp_result *r);

/* Reads a key file: 32 raw bytes, or 64 hex digits (surrounding whitespace allowed), through
 * nc_read_secret_file() (natcheck/keyfile.h: a regular file of mode 0600 or stricter).
 * Returns 0, -NC_E_PARSE for other contents, or that reader's error (nc_secret_file_error()
 * words it). The caller wipes the key. */
int ncp_key_load(const char *path, uint8_t key[NCP_KEY_LEN]);

/* Status name as natcheck reports it ("connected", "rst", "icmp", "timeout", ...). */
const char *ncp_status_name(uint8_t status);
/* natcheck's tcp.unsolicited word for a result of an unsolicited SYN. */
const char *ncp_unsolicited_word(const struct ncp_result *r);

#endif
