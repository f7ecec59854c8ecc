/* punchvpn <-> punchvpnd: registration, introductions and the blind relay.
 *
 * These messages share the tunnel's UDP socket with the handshake and transport messages
 * (wire.h): the first byte tells them apart. A peer registers from the tunnel socket itself,
 * so the server observes the mapping the tunnel really uses. Over TCP (when UDP is blocked) the
 * same datagrams travel framed by a 2-byte big-endian length.
 *
 * Coordination message (type 5), client -> server and server -> client:
 *  +-------+-------+-------+-------+
 *  | type=5|      reserved (0)     |
 *  +-------------------------------+
 *  |  sender's static public key (32): the client's key, or the server's key              |
 *  +-------------------------------+
 *  |  nonce (24, random)           |
 *  +-------------------------------+
 *  |  XSalsa20-Poly1305 box of the body (16-byte tag first, crypto_box_easy_afternm),     |
 *  |  key = crypto_box_beforenm(their public, my private): X25519 between the peer's and |
 *  |  the server's static keys, so a box that opens proves both sides (the server is the  |
 *  |  one the config names; the peer holds the key it registers)                          |
 *  +-------------------------------+
 *
 *  Body: kind (1) | flags (1, 0 unless said) | count A (1) | count B (1) | timestamp ms (8) | ...
 *    REGISTER (client -> server): A = local endpoints, B = wanted peers;
 *        profile (COORD_PROFILE_LEN) | A x endpoint (COORD_EP_LEN) | B x public key (32)
 *        flags bit 0 (COORD_REG_TCP_SHOW): sent over a TCP connection whose only job is to
 *        show the server the sender's TCP mapping (for TCP simultaneous open); the server
 *        records that endpoint and the wants, and keeps relaying over the transport of the
 *        sender's other registrations. Only over TCP; other bits must be zero.
 *        The timestamp (client's Unix ms) must grow per client key and lie within
 *        COORD_CLOCK_SKEW_MS of the server's clock: a replayed registration is refused.
 *        A client with more peers than COORD_MAX_WANTS sends several (each refreshes its own
 *        wants). A want expires after COORD_WANT_TTL_S unless refreshed.
 *    REGISTERED (server -> client): A = 0, B = 0; timestamp = the REGISTER's, echoed;
 *        observed endpoint (COORD_EP_LEN) | relay id (4) | keepalive s (2)
 *    INTRO (server -> client): A = the peer's local endpoints, B = 0 or 1; timestamp = server
 *        ms; peer public key (32) | peer relay id (4) | observed endpoint (COORD_EP_LEN) |
 *        profile (COORD_PROFILE_LEN) | A x endpoint | B x endpoint
 *        B = 1: the peer's TCP-observed endpoint (the source of the TCP connection it
 *        registered over, while that connection lives; a set endpoint): where a TCP
 *        simultaneous open meets it. Without one, B = 0 and the layout is the original.
 *        Sent to both when each lists the other (both wants live), again when either's
 *        endpoints or profile change, at most once per second per pair otherwise.
 *
 *  Endpoint (COORD_EP_LEN = 19): family (1: 4 or 6) | port (2) | address (16; IPv4 in the
 *  first 4, the rest zero). Family 0 = none (all zero).
 *  Profile (COORD_PROFILE_LEN = 32), natcheck's fast measurement in short:
 *    version (1, = 1) | measured (1) | mapping (1, enum nc_beh) | filtering (1, enum nc_beh) |
 *    allocation (1, enum nc_alloc) | port step (2, signed) | lifetime s (2, 0 unknown) |
 *    udp blocked (1, enum nc_tri) | tcp punchable (1, enum nc_tri) | hairpin (1, enum nc_tri) |
 *    port mapping (1, enum coord_pm) | mapping endpoint (COORD_EP_LEN)
 *  (13 + 19 = 32 bytes: no reserved byte. Decoding refuses a version other than 1, measured
 *  other than 0/1, and enum values past their last name, so what a peer receives in an INTRO
 *  is always in range.)
 *
 * Relay (type 6):
 *  +-------+-------+-------+-------+
 *  | type=6|      reserved (0)     |
 *  +-------------------------------+
 *  |          relay id             |  client -> server: the destination's id (from INTRO);
 *  +-------------------------------+  server -> client: the source's id
 *  |  one punchvpn datagram (handshake or transport), end-to-end encrypted: the server   |
 *  |  cannot open it                                                                    |
 *  +-------------------------------+
 *  The server forwards only from a registered peer's observed endpoint (UDP) or its
 *  registered TCP connection, only between two peers that list each other, and within per-peer
 *  packet and byte rates. */
#ifndef VPN_COORD_H
#define VPN_COORD_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define COORD_TYPE 5
#define COORD_RELAY_TYPE 6
#define COORD_HDR_LEN (4 + 32 + 24)          /* type, reserved, sender key, nonce */
#define COORD_TAG_LEN 16
#define COORD_BODY_HDR_LEN 12                /* kind, reserved, counts, timestamp */
#define COORD_EP_LEN 19
#define COORD_PROFILE_LEN 32
#define COORD_MAX_LOCAL 8
#define COORD_MAX_WANTS 24
#define COORD_RELAY_HDR_LEN 8
#define COORD_MAX_DATAGRAM 1400              /* any coordination message fits */
#define COORD_CLOCK_SKEW_MS (120 * 1000)
#define COORD_WANT_TTL_S 90
#define COORD_KEEPALIVE_S 15                 /* what REGISTERED says unless configured */

enum coord_kind { COORD_REGISTER = 1, COORD_REGISTERED = 2, COORD_INTRO = 3 };

/* Which port-mapping protocol gave the peer a mapping. */
enum coord_pm { COORD_PM_NONE = 0, COORD_PM_NATPMP, COORD_PM_PCP, COORD_PM_UPNP };

/* natcheck's fast measurement in short; enum values are libnatcheck's (result.h). */
struct coord_profile {
	bool measured;
	uint8_t mapping;    /* enum nc_beh */
	uint8_t filtering;  /* enum nc_beh */
	uint8_t allocation; /* enum nc_alloc */
	int16_t port_step;  /* sequential allocation: the measured delta */
	uint16_t lifetime_s;
	uint8_t udp_blocked;   /* enum nc_tri */
	uint8_t tcp_punchable; /* enum nc_tri */
	uint8_t hairpin;       /* enum nc_tri */
	uint8_t portmap;       /* enum coord_pm */
	struct nc_addr portmap_ep; /* the mapping's external endpoint (portmap != NONE) */
};

/* REGISTER flags (the body's second byte). */
#define COORD_REG_TCP_SHOW 0x01

struct coord_register {
	bool tcp_show; /* COORD_REG_TCP_SHOW */
	struct coord_profile prof;
	struct nc_addr local[COORD_MAX_LOCAL];
	size_t n_local;
	uint8_t wants[COORD_MAX_WANTS][VPN_KEY_LEN];
	size_t n_wants;
};

struct coord_registered {
	struct nc_addr observed;
	uint32_t relay_id;
	uint16_t keepalive_s;
};

struct coord_intro {
	uint8_t peer[VPN_KEY_LEN];
	uint32_t relay_id;
	struct nc_addr observed;
	struct coord_profile prof;
	struct nc_addr local[COORD_MAX_LOCAL];
	size_t n_local;
	struct nc_addr tcp; /* the peer's TCP-observed endpoint (family 0: none) */
};

struct coord_msg {
	enum coord_kind kind;
	uint64_t ts_ms;
	union {
		struct coord_register reg;
		struct coord_registered ack;
		struct coord_intro intro;
	} u;
};

/* The box key between my static private key and their static public key
 * (crypto_box_beforenm). Returns 0, or -NC_E_MALFORMED for a low-order public key. */
int coord_shared_key(uint8_t key[32], const uint8_t my_priv[VPN_KEY_LEN],
		     const uint8_t their_pub[VPN_KEY_LEN]);

/* Encodes and seals m from sender_pub under key into out. Returns the datagram's length, or
 * -NC_E_RANGE when cap is too small or a count is over its maximum, -NC_E_INVALID for a value
 * coord_unseal would refuse (unknown kind, endpoint family, profile enum): what seals opens. */
int coord_seal(const uint8_t key[32], const uint8_t sender_pub[VPN_KEY_LEN],
	       const struct coord_msg *m, uint8_t *out, size_t cap);

/* The sender's public key of a coordination datagram, without opening it (the server needs it
 * to pick the box key). Returns 0, -NC_E_TRUNCATED, -NC_E_MALFORMED (not type 5, reserved
 * bytes set). */
int coord_peek_sender(const uint8_t *buf, size_t len, uint8_t sender_pub[VPN_KEY_LEN]);

/* Opens and decodes a coordination datagram. (Not "coord_open": the reflector's coord module
 * has that name, and test binaries link both cores.) Returns 0; -NC_E_AUTH (the box does not open:
 * wrong key, modified); -NC_E_TRUNCATED / -NC_E_MALFORMED (a body that does not decode:
 * unknown kind, counts over their maximum, length not matching the counts, bad endpoint
 * family, reserved bytes set). m is only written on success. */
int coord_unseal(const uint8_t key[32], const uint8_t *buf, size_t len, struct coord_msg *m);

/* Relay header: writes the 8 bytes (type 6, relay id). */
void coord_put_relay_hdr(uint8_t out[COORD_RELAY_HDR_LEN], uint32_t relay_id);
/* Parses a relay datagram: its relay id and the inner datagram. Returns 0, -NC_E_TRUNCATED
 * (no inner byte), -NC_E_MALFORMED. */
int coord_relay_decode(const uint8_t *buf, size_t len, uint32_t *relay_id, const uint8_t **inner,
		       size_t *inner_len);

#endif
