/* A direct path to one peer over TCP, made by TCP simultaneous open (issue 11 §1: "UDP blocked
 * on one side against a TCP-punchable peer"). The device keeps one per peer; the rendezvous
 * tells both sides the other's TCP-observed endpoint (coord.h: INTRO's TCP endpoint; rdv.h:
 * our own TCP mapping shown to punchvpnd) and both connect() to it at the same time, from the
 * tunnel's port number, the same local port as their connection to punchvpnd: behind an
 * endpoint-independent TCP mapping the NAT reuses the mapping the server observed, and each
 * side's outgoing SYN opens its own NAT's filter for the other's. The SYNs cross; Linux (and
 * RFC 793 §3.4) turns two crossing SYNs into one connection.
 *
 *   IDLE        no TCP endpoint for the peer, or the strategy table does not want TCP
 *   WAIT        the peer's endpoint is known; waiting until the server knows ours too
 *   CONNECTING  for TCPP_TRY_MS: connect(); a refused SYN (the peer's host answered before
 *               its own SYN left: RST) tries again after TCPP_RETRY_MS; a lost one is
 *               retransmitted by the kernel (and met by the peer's SYN in the meantime)
 *   UP          connected: the tunnel's datagrams travel framed as on the relay's TCP
 *               connection (tcpframe.h). Nothing trusts the connection itself: the first
 *               authenticated tunnel packet over it proves the path (path_tcp_rx), as an
 *               authenticated UDP packet proves a punched path
 *   FAILED      the attempt timed out, or the connection closed or was never proven within
 *               TCPP_PROVE_MS: the relay carries on; the next introduction tries again (both
 *               sides receive it at the same time, which keeps their SYNs together)
 *
 * Thread safety: one lock. The TX and RX threads send (tcpp_send); the main thread does the
 * rest, and is the only one that reads, connects or closes. */
#ifndef VPN_TCPPUNCH_H
#define VPN_TCPPUNCH_H

#include <natcheck/addr.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcpframe.h"

#define TCPP_TRY_MS 6000   /* one attempt: SYNs for this long (covers the kernel's 1 s and 3 s
			    * retransmissions) */
#define TCPP_RETRY_MS 200  /* a refused connect is made again after this */
#define TCPP_PROVE_MS 5000 /* connected but no authenticated packet this long: dropped */
#define TCPP_PROBE_MS 250  /* while unproven, the device probes this often */

enum tcpp_state { TCPP_IDLE, TCPP_WAIT, TCPP_CONNECTING, TCPP_UP, TCPP_FAILED };

/* What a tick or an event did. */
enum tcpp_ev { TCPP_EV_NONE, TCPP_EV_UP, TCPP_EV_DOWN };

struct tcpp {
	pthread_mutex_t lock;
	enum tcpp_state state;
	bool wanted;          /* the strategy table puts TCP first for the pair (so the server
			       * must know our TCP mapping, even before the peer's is known) */
	bool proven;          /* an authenticated packet came over the connection */
	struct tcpf f;        /* buffers allocated at the first attempt */
	struct nc_addr peer;  /* the peer's TCP-observed endpoint (latest INTRO) */
	uint16_t lport;       /* the tunnel's port number */
	uint64_t start_ms, next_ms, up_ms, probe_ms;
	unsigned syns;        /* connect() calls in the current attempt */
	unsigned attempts, ups;
	int err;              /* why the latest attempt or connection ended (errno) */
};

void tcpp_init(struct tcpp *t, uint16_t lport);
void tcpp_free(struct tcpp *t);

/* An introduction: the peer's TCP endpoint (unset: none) and whether the table wants TCP. A
 * new attempt waits (WAIT) unless one runs or a connection is up. */
void tcpp_intro(struct tcpp *t, const struct nc_addr *peer, bool wanted);
/* Timers (main thread). ready: the server knows our TCP mapping. Starts and repeats connects,
 * ends an attempt that ran out of time or a connection never proven: TCPP_EV_DOWN then. */
enum tcpp_ev tcpp_tick(struct tcpp *t, bool ready, uint64_t now);
/* The descriptor to poll and for what (EPOLLOUT while connecting; EPOLLIN, and EPOLLOUT while
 * bytes wait, once up); -1 when there is none. */
int tcpp_poll(struct tcpp *t, uint32_t *events);
/* The descriptor is ready (main thread): a connect completes (TCPP_EV_UP) or is refused (tried
 * again), waiting bytes go out, what arrived is read and every whole frame handed to fn
 * (without the lock: fn may send). TCPP_EV_DOWN when the connection ended. */
enum tcpp_ev tcpp_event(struct tcpp *t, uint32_t events,
			void (*fn)(void *ctx, const uint8_t *dgram, size_t len), void *ctx,
			uint64_t now);
/* One datagram as a frame (any thread). 0, 1 when bytes now wait for the socket (the caller
 * wakes the main thread, which polls for them), or negative (-ENOTCONN when not up). */
int tcpp_send(struct tcpp *t, const uint8_t *buf, size_t len);
/* An authenticated tunnel packet came over the connection. */
void tcpp_proven(struct tcpp *t);
/* Ends the connection or attempt (main thread): the path left TCP, or the network changed. */
void tcpp_close(struct tcpp *t, int err);

enum tcpp_state tcpp_state(struct tcpp *t);
const char *tcpp_state_name(enum tcpp_state s);

#endif
