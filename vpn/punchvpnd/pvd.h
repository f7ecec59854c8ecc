/* punchvpnd: the rendezvous and blind relay of punchvpn (docs/punchvpn.md, "punchvpnd").
 *
 * One thread, one epoll loop. Per --listen address: a UDP socket and a TCP listener on the
 * same port number. Everything that arrives is a coordination datagram (type 5, coord.h), a
 * relay datagram (type 6), or dropped and counted. The modules:
 *
 *   peers.c     the registration table: peers by public key, relay id and UDP endpoint;
 *               bounded, least recently registered evicted first; wants with their TTL
 *   register.c  REGISTER -> REGISTERED, and the INTROs of mutually listing pairs
 *   relay.c     type-6 forwarding between mutual peers, per-peer token buckets
 *   tcp.c       TCP connections: 2-byte length framing, bounded buffers, idle/slow closing
 *   server.c    sockets, the event loop, dispatch, counters
 *   main.c      command line, key file, privilege drop */
#ifndef PVD_H
#define PVD_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/coord.h"
#include "bucket.h"
#include "hsrl.h"
#include "key.h"

#define PVD_MAX_LISTEN 16

struct pvd_cfg {
	struct nc_addr listen[PVD_MAX_LISTEN];
	size_t n_listen;
	uint8_t priv[VPN_KEY_LEN]; /* the server's static key (wiped by pvd_server_free) */
	uint8_t pub[VPN_KEY_LEN];
	unsigned max_peers; /* registration table size */
	unsigned reg_rate;  /* coordination datagrams per second per source IP */
	unsigned reg_burst;
	unsigned relay_pps;   /* relayed packets per second per source peer (bucket: one second) */
	unsigned relay_bps;   /* relayed bytes per second per source peer */
	unsigned max_tcp;     /* open TCP connections */
	unsigned tcp_idle_s;  /* a connection that sends nothing this long is closed */
	unsigned keepalive_s; /* what REGISTERED tells the peers */
};

/* Token bucket of one second's worth of rate (the core's bucket arithmetic); a zeroed one
 * starts full at its first use. */
struct pvd_bucket {
	struct nc_bucket b;
	bool started;
};

/* Takes cost tokens (refilling at rate per second, capped at rate): true if there were. */
bool pvd_bucket_take(struct pvd_bucket *b, unsigned rate, uint64_t cost, uint64_t now_ms);

/* Every event class the server counts; printed as one line (SIGUSR1 and at exit). */
#define PVD_COUNTERS(X)                                                                            \
	X(rx_datagrams)	 /* UDP datagrams and TCP frames received */                               \
	X(unknown_type)	 /* neither coordination nor relay: dropped */                             \
	X(malformed)	 /* coordination or relay datagram that does not decode */                 \
	X(rate_limited)	 /* coordination datagram over its source IP's rate, before DH */          \
	X(dh)		 /* X25519 computations (once per key in the table) */                     \
	X(auth_failed)	 /* box does not open: wrong server key, modified, unknown */              \
	X(not_register)	 /* a kind a server does not take (REGISTERED, INTRO) */                   \
	X(replayed)	 /* timestamp not above the key's last (or the server's start) */          \
	X(clock_skew)	 /* timestamp further than COORD_CLOCK_SKEW_MS from our clock */           \
	X(registered)	 /* REGISTER accepted and answered */                                      \
	X(new_peers)	 /* first registration of a key (or after it expired) */                   \
	X(expired)	 /* registrations that ran out (COORD_WANT_TTL_S) */                       \
	X(evicted)	 /* table full: least recently registered key dropped */                   \
	X(wants_dropped) /* over PVD_MAX_WANTS or the table's budget: not kept */                  \
	X(intros)	 /* INTRO messages sent */                                                 \
	X(relayed)	 /* relay datagrams forwarded */                                           \
	X(relayed_bytes)                                                                           \
	X(relay_unregistered) /* from an endpoint or connection no live peer registered */         \
	X(relay_no_peer)      /* destination relay id unknown or expired */                        \
	X(relay_not_mutual)   /* the two peers do not both list each other */                      \
	X(relay_rate)	      /* over the source peer's packet or byte rate */                     \
	X(relay_unreachable)  /* destination's TCP connection gone or full */                      \
	X(send_failed)	      /* sendto / TCP buffer failures */                                   \
	X(tcp_accepted)                                                                            \
	X(tcp_refused) /* over --max-tcp */                                                        \
	X(tcp_closed_idle)                                                                         \
	X(tcp_closed_slow) /* partial frame or unsent data stuck too long */                       \
	X(tcp_closed_bad)  /* frame length 0 or over PVD_MAX_FRAME (4096) */

struct pvd_counters {
#define PVD_CTR_FIELD_(name) uint64_t name;
	PVD_COUNTERS(PVD_CTR_FIELD_)
#undef PVD_CTR_FIELD_
};

/* "name=value ..." of every counter, plus the live peer count. */
void pvd_counters_format(const struct pvd_counters *c, size_t peers_live, char *buf, size_t len);

struct pvd_server;

/* Binds every listen address (UDP and TCP). err gets one line on failure. */
int pvd_server_open(struct pvd_server **out, const struct pvd_cfg *cfg, char *err, size_t errlen);
/* Runs until SIGTERM or SIGINT (blocked by the caller before; read through a signalfd).
 * SIGUSR1 logs the counters. Returns 0, or -errno of a failed epoll. */
int pvd_server_run(struct pvd_server *s);
const struct pvd_counters *pvd_server_counters(const struct pvd_server *s);
size_t pvd_server_peers_live(const struct pvd_server *s);
void pvd_server_free(struct pvd_server *s);

#endif
