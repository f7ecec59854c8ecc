/* The path to one peer: direct at an endpoint, through punchvpnd's relay, or none yet. A pure
 * state machine over a caller's clock (unit-tested with a fake one); the device keeps one per
 * peer under the peer's lock.
 *
 *   no server, no Endpoint      NONE   (waits for the peer to reach us)
 *   Endpoint = in the config    DIRECT at it, for good (roams on authenticated packets)
 *   INTRO from punchvpnd        RELAY at once (the peer's relay id), punching every candidate:
 *                               every PATH_PUNCH_FAST_MS for PATH_PUNCH_FAST_FOR_MS, then
 *                               backing off to PATH_PUNCH_MAX_MS, for PATH_PUNCH_GIVEUP_MS
 *   authenticated packet        DIRECT at its source, whether or not it was a candidate
 *   arriving directly           (peer-reflexive: a symmetric peer's new mapping is learnt)
 *   direct silent               RELAY (NONE without a relay) and punching again
 *   (path_silence_ms without an authenticated direct packet: 2 x the peer's keepalive interval
 *   + 1 s. Both ends send a keepalive on a punched path at their interval, which the device
 *   sets from both sides' measured binding lifetimes (path_set_keepalive), so silence means
 *   the path is gone: two keepalives in a row lost, or a binding the NAT dropped anyway)
 *   network changed             RELAY and punching again (the old mapping is likely dead)
 *   relayed packet, direct      RELAY and punching again: the peer left the direct path
 *   quiet PATH_RELAYED_QUIET_MS (its network changed, or it stopped hearing us)
 *   authenticated packet over   TCP (direct over a TCP connection made by simultaneous open,
 *   the peer's TCP connection   tcppunch.h), unless a UDP direct path is alive: UDP is
 *                               preferred, and one that proves itself later takes over
 *   TCP connection closed       RELAY and punching again (silence, a network change and the
 *                               peer relaying end a TCP path as they end a UDP one) */
#ifndef VPN_PATH_H
#define VPN_PATH_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"

/* Guesses at a sequential allocator's next ports. Wide enough for what the peer itself
 * allocates between its registration and its first packet to us: its own fast measurement
 * opens some 20 sockets, and each of its probes to another candidate takes a port too. */
#define PATH_PREDICT_WINDOW 32
#define PATH_MAX_CANDS (2 + COORD_MAX_LOCAL + PATH_PREDICT_WINDOW)
#define PATH_PUNCH_FAST_MS 100
#define PATH_PUNCH_FAST_FOR_MS 1000
#define PATH_PUNCH_MAX_MS 5000
#define PATH_PUNCH_GIVEUP_MS 30000
/* The keepalive interval until the device sets one (path_set_keepalive), and the silence
 * limit that follows from an interval: two keepalives lost in a row, plus 1 s for jitter. */
#define PATH_KEEPALIVE_MS 2000
#define PATH_SILENCE_OF(ka_ms) (2 * (uint64_t)(ka_ms) + 1000)
#define PATH_SILENCE_MS PATH_SILENCE_OF(PATH_KEEPALIVE_MS)
/* A relayed packet from the peer after this long without a direct one: back to the relay. */
#define PATH_RELAYED_QUIET_MS 500

/* PATH_TCP is direct too (status says "direct", method "tcp"): over the peer's own TCP
 * connection rather than to a UDP endpoint. */
enum path_kind { PATH_NONE, PATH_RELAY, PATH_DIRECT, PATH_TCP };

/* Why the path is what it is; the words are status's. */
#define PATH_WHY_TABLE(X)                                                                   \
	X(NO_INTRO, "no introduction yet")                                                  \
	X(STATIC, "static endpoint")                                                        \
	X(PUNCHING, "relay while punching")                                                 \
	X(PROVEN, "authenticated packet from a candidate")                                  \
	X(REFLEXIVE, "authenticated packet from a peer-reflexive endpoint")                 \
	X(LEARNED, "authenticated packet (the peer reached us)")                            \
	X(SILENT, "direct path went silent")                                                \
	X(NET_CHANGE, "network changed")                                                    \
	X(PEER_RELAYS, "the peer sends through the relay")                                  \
	X(NO_DIRECT, "punching found no direct path")                                       \
	X(REPUNCH, "asked to punch again")                                                  \
	X(TCP, "authenticated packet over TCP simultaneous open")                           \
	X(TCP_CLOSED, "the direct TCP connection closed")

enum path_why {
#define PATH_WHY_ENUM_(n, s) PATH_WHY_##n,
	PATH_WHY_TABLE(PATH_WHY_ENUM_)
#undef PATH_WHY_ENUM_
};

struct path {
	bool fixed;            /* a static Endpoint: always direct there */
	enum path_kind kind;
	enum path_why why;
	struct nc_addr ep;     /* the direct endpoint (static, or proven) */
	int ep_sock;           /* the local socket it was proven on (the caller's numbering; 0 the
				* main one): a mapping belongs to the socket that made it */
	struct nc_addr observed; /* the peer's endpoint as punchvpnd saw it (last INTRO) */
	bool relay;            /* an introduction gave a relay id */
	uint32_t relay_id;
	struct nc_addr cand[PATH_MAX_CANDS];
	size_t n_cand;
	uint64_t intro_ms;          /* the first introduction since the last (re)start of punching */
	uint64_t first_direct_ms;   /* first authenticated direct packet after it; 0 = none yet */
	uint64_t gaveup_round_ms;   /* intro_ms of the latest round that gave up (0 = none): it
				     * stays known when the next round starts at once */
	uint64_t last_direct_rx_ms;
	bool punching;
	uint64_t punch_start_ms, next_punch_ms;
	unsigned switches;          /* relay <-> direct changes, for status and tests */
	uint64_t switch_ms;         /* when the latest of them happened */
	/* Keepalives (path_set_keepalive): this side's interval on a direct path, the peer's
	 * (which the silence limit follows), and after the peer's interval shrank, the longer
	 * limit that still holds until old_until_ms (the peer may not have switched yet). */
	unsigned ka_ms, peer_ka_ms;
	uint64_t silence_ms, old_silence_ms, old_until_ms;
};

void path_init(struct path *p, const struct nc_addr *static_ep);
/* An introduction: the peer's relay id, its observed endpoint and local endpoints. Candidates
 * are the observed one first, then the local ones (deduplicated, unset and port 0 dropped).
 * Starts punching unless a direct path is alive; a path that was NONE becomes RELAY. */
void path_intro(struct path *p, uint32_t relay_id, const struct nc_addr *observed,
		const struct nc_addr *local, size_t n_local, uint64_t now);
/* An authenticated packet from the peer, received on local socket sock; relayed = it came
 * through punchvpnd. The direct path sends from the socket it was proven on. Returns true
 * when it newly made the path direct (the caller answers at once, so the peer learns it
 * too). */
bool path_rx_on(struct path *p, const struct nc_addr *from, int sock, bool relayed, uint64_t now);
/* path_rx_on the main socket (0). */
bool path_rx(struct path *p, const struct nc_addr *from, bool relayed, uint64_t now);
/* An authenticated packet over the peer's TCP connection. Returns true when it newly made the
 * path TCP (the caller answers at once). */
bool path_tcp_rx(struct path *p, uint64_t now);
/* The peer's TCP connection closed: a TCP path falls back to the relay. Returns true when the
 * path changed. */
bool path_tcp_down(struct path *p, uint64_t now);
/* Where to send now: the kind, with the endpoint (DIRECT) or relay id (RELAY); TCP: the peer's
 * TCP connection. */
enum path_kind path_route(const struct path *p, struct nc_addr *ep, uint32_t *relay_id);
/* The candidates to probe now (at most max), or 0 when no round is due. */
size_t path_punch_due(struct path *p, uint64_t now, struct nc_addr *out, size_t max);
/* Timers: a silent direct path falls back. Returns true when the path changed. */
bool path_tick(struct path *p, uint64_t now);
/* Keepalive intervals: ka_ms = how often this side sends on a direct path when it has nothing
 * else to send; peer_ka_ms = how often the peer does. The silence limit becomes
 * PATH_SILENCE_OF(peer_ka_ms); when that shrinks, the old limit holds for one more old limit
 * from now (the peer learns the profile that shrank it a round trip or a registration later).
 * Zero leaves a value as it is. */
void path_set_keepalive(struct path *p, unsigned ka_ms, unsigned peer_ka_ms, uint64_t now);
/* How long the direct path may stay silent at `now` before it falls back. */
uint64_t path_silence_ms(const struct path *p, uint64_t now);
/* The host's addresses or routes changed: fall back to the relay and punch again. */
void path_net_change(struct path *p, uint64_t now);
/* The same on request (`punchvpn repunch`): the direct path is left even while alive. */
void path_repunch(struct path *p, uint64_t now);
/* The method that made the path what it is, in strategy.h's words: "relay", "static", "lan"
 * (a local candidate), "public" (a side without NAT), "port-mapping" (a side's advertised
 * gateway mapping), "punch" (simultaneous punching, peer-reflexive learning included), "tcp"
 * (TCP simultaneous open); NULL
 * while there is no path. Profiles may be NULL (not known yet). */
const char *path_method(const struct path *p, const struct coord_profile *mine,
			const struct coord_profile *peer);
/* Milliseconds from the introduction to the first direct packet; -1 when there is none. */
int64_t path_intro_to_direct_ms(const struct path *p);

const char *path_kind_name(enum path_kind k);
const char *path_why_text(enum path_why w);

#endif
