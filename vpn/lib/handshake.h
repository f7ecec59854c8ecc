/* punchvpn's handshake around Noise IK (noise.h), in wire.h's framing:
 *
 *   initiator                                responder
 *   INIT (sender index, e, {s}, {TAI64N, flags}, mac1)  ->
 *                      mac1 ok? rate ok? Noise decrypts? peer known? timestamp newer?
 *                  <-  RESP (sender index, receiver index, e, {cipher}, mac1)
 *   mac1 ok? Noise decrypts?  -> both sides split keys into a tp_session
 *
 * Against replay: the initiation's timestamp must be newer than the last one accepted from that
 * peer (a recorded initiation replayed later is refused and cannot make the responder drop its
 * session). Against floods: mac1, keyed with the receiver's public key, is checked before any
 * DH; then a per-source-IP token bucket; then a per-peer minimum interval between initiations
 * (HS_MIN_INIT_INTERVAL_MS). */
#ifndef VPN_HANDSHAKE_H
#define VPN_HANDSHAKE_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stdint.h>

#include "noise.h"
#include "hsrl.h"
#include "transport.h"
#include "wire.h"

#define HS_MIN_INIT_INTERVAL_MS 20
#define HS_RATE_PER_SECOND 20
#define HS_RATE_BURST 10
#define HS_FLAG_AES 0x01

struct hs_local {
	uint8_t priv[32], pub[32];
	uint8_t mac1_key[32]; /* checks mac1 on messages sent to us */
	uint8_t last_ts[WIRE_TS_LEN]; /* last timestamp we sent (kept strictly increasing) */
	struct hsrl rl;
};

struct hs_peer {
	uint8_t pub[32];
	uint8_t mac1_key[32];              /* computes mac1 on messages to this peer */
	uint8_t last_ts[WIRE_TS_LEN];      /* newest initiation timestamp accepted from it */
	uint64_t last_init_ms;             /* when we last accepted one (0: never) */
	struct noise_hs hs;                /* our initiation in flight */
	bool hs_active;
	uint32_t hs_index;
};

/* The responder's view of an initiation that authenticated (not yet accepted). */
struct hs_init {
	uint8_t peer_pub[32];
	uint8_t ts[WIRE_TS_LEN];
	uint8_t flags;
	uint32_t sender;
	struct noise_hs hs;
};

int hs_local_init(struct hs_local *l, const uint8_t priv[32]);
void hs_local_wipe(struct hs_local *l);
void hs_peer_init(struct hs_peer *p, const uint8_t pub[32]);
void hs_peer_wipe(struct hs_peer *p);

/* Builds an initiation to p with our index; p keeps the handshake state until the response. */
int hs_initiation(struct hs_local *l, struct hs_peer *p, uint32_t sender_index,
		  uint8_t out[WIRE_INIT_LEN]);
/* First half of answering an initiation m (buf: the whole datagram) from src: -NC_E_AUTH
 * (bad mac1, or Noise does not decrypt), -NC_E_RATE_LIMITED (source over its rate). On 0,
 * out->peer_pub says who claims to be calling: the caller looks the peer up. */
int hs_consume_initiation(struct hs_local *l, const struct wire_msg *m, const uint8_t *buf,
			  const struct nc_addr *src, uint64_t now_ms, struct hs_init *out);
/* Second half, for a known peer: -NC_E_PROTOCOL for a replayed or old timestamp,
 * -NC_E_RATE_LIMITED for initiations too close together. On 0 the response is in out and
 * sess is ready (the responder sends on it once the initiator's first packet arrives). */
int hs_respond(struct hs_peer *p, struct hs_init *in, uint32_t local_index, uint64_t now_ms,
	       uint8_t out[WIRE_RESP_LEN], struct tp_session *sess);
/* The initiator's side of a response addressed to p's pending handshake: -NC_E_AUTH when
 * mac1 or Noise fail (the pending handshake stays), -NC_E_PROTOCOL when none is pending or the
 * cipher is one we cannot run. On 0 sess is ready and the pending state is wiped. */
int hs_consume_response(struct hs_local *l, struct hs_peer *p, const struct wire_msg *m,
			const uint8_t *buf, uint64_t now_ms, struct tp_session *sess);

/* TAI64N of the wall clock (12 bytes). */
void hs_tai64n(uint8_t out[WIRE_TS_LEN]);

#endif
