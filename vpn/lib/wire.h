/* punchvpn's datagrams on the tunnel's UDP socket. Integers are network byte order; the
 * three reserved bytes are zero and checked. The first byte says what follows.
 *
 * Handshake initiation (type 1), 133 bytes:
 *   0       1       2       3
 *  +-------+-------+-------+-------+
 *  | type=1|      reserved (0)     |
 *  +-------+-------+-------+-------+
 *  |         sender index          |  the initiator's random id for this session
 *  +-------------------------------+
 *  |  Noise IK msg1: e (32), s under es (32+16), payload under es+ss (13+16)  |  109 bytes
 *  |  payload = TAI64N timestamp (12) | flags (1: bit 0 = can do AES-256-GCM) |
 *  +-------------------------------+
 *  |      mac1 (16)                |  keyed BLAKE2b over bytes 0..116, key = BLAKE2b-256(
 *  +-------------------------------+     "mac1----" || responder's static public key)
 *
 * Handshake response (type 2), 77 bytes:
 *  +-------+-------+-------+-------+
 *  | type=2|      reserved (0)     |
 *  +-------------------------------+
 *  |         sender index          |  the responder's id for this session
 *  +-------------------------------+
 *  |        receiver index         |  the initiator's sender index, echoed
 *  +-------------------------------+
 *  |  Noise IK msg2: e (32), payload under ee+se (1+16): the cipher chosen  |  49 bytes
 *  +-------------------------------+
 *  |      mac1 (16)                |  as above, keyed with the initiator's public key
 *  +-------------------------------+
 *
 * Transport data (type 4), 32 bytes + the inner IP packet (0 bytes: a keepalive):
 *  +-------+-------+-------+-------+
 *  | type=4|      reserved (0)     |
 *  +-------------------------------+
 *  |        receiver index         |  picks the session (and so the peer) at the receiver
 *  +-------------------------------+
 *  |     counter (64 bits)         |  AEAD nonce = 4 zero bytes || counter (little endian)
 *  |                               |
 *  +-------------------------------+
 *  |  ciphertext of the IP packet  |  AEAD associated data = these 16 header bytes
 *  |  ... | tag (16)               |
 *  +-------------------------------+
 *
 * Coordination (type 5) and relay (type 6) datagrams share the socket: coord.h describes them.
 * wire_decode recognises them (m->ct, m->ct_len = the whole datagram) and leaves their parsing
 * to coord_open and coord_relay_decode. */
#ifndef VPN_WIRE_H
#define VPN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "noise.h"

enum wire_type { WIRE_INIT = 1, WIRE_RESP = 2, WIRE_DATA = 4, WIRE_COORD = 5, WIRE_RELAY = 6 };

#define WIRE_MAC_LEN 16
#define WIRE_TS_LEN 12
#define WIRE_INIT_PAYLOAD (WIRE_TS_LEN + 1)
#define WIRE_INIT_NOISE (NOISE_MSG1_OVERHEAD + WIRE_INIT_PAYLOAD)
#define WIRE_INIT_LEN (8 + WIRE_INIT_NOISE + WIRE_MAC_LEN) /* 133 */
#define WIRE_RESP_PAYLOAD 1
#define WIRE_RESP_NOISE (NOISE_MSG2_OVERHEAD + WIRE_RESP_PAYLOAD)
#define WIRE_RESP_LEN (12 + WIRE_RESP_NOISE + WIRE_MAC_LEN) /* 77 */
#define WIRE_DATA_HDR 16
#define WIRE_TAG_LEN 16
#define WIRE_DATA_OVERHEAD (WIRE_DATA_HDR + WIRE_TAG_LEN)

struct wire_msg {
	enum wire_type type;
	uint32_t sender;   /* INIT, RESP */
	uint32_t receiver; /* RESP, DATA */
	uint64_t counter;  /* DATA */
	const uint8_t *noise; /* INIT, RESP: the Noise message */
	size_t noise_len;
	const uint8_t *mac1;  /* INIT, RESP */
	size_t mac_off;       /* INIT, RESP: bytes covered by mac1 */
	const uint8_t *ct;    /* DATA: ciphertext and tag; COORD, RELAY: the whole datagram */
	size_t ct_len;
};

/* Decodes one datagram (pointers into buf). Returns 0, -NC_E_TRUNCATED (short, or a
 * handshake message of the wrong length), or -NC_E_MALFORMED (unknown type, reserved bytes
 * set). Nothing is authenticated here. */
int wire_decode(const uint8_t *buf, size_t len, struct wire_msg *m);
/* The 16-byte transport header. */
void wire_put_data_hdr(uint8_t out[WIRE_DATA_HDR], uint32_t receiver, uint64_t counter);

#endif
