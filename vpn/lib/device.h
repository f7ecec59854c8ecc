/* A running punchvpn interface: the TUN device, the UDP socket, the peers with their sessions,
 * and the two data-path threads.
 *
 *   TX thread: TUN read (a TCP super-packet up to 64 KiB) -> segment to the tunnel MTU ->
 *              seal each segment -> one UDP GSO send per super-packet
 *   RX thread: recvmmsg with UDP GRO (many datagrams per call) -> open, replay window, cryptokey
 *              check of the inner source -> userspace GRO -> one TUN write per merged flow run
 *   main:      timers (handshake initiation and retry, rekey, keepalives, expiry), the control
 *              socket, signals (punchvpn/main.c drives dev_tick); with a rendezvous server also
 *              registration, introductions, hole punching and the path per peer (devlink.c),
 *              the relay's TCP connection and the NAT profile's events
 *
 * A peer's datagrams go the way its path says (path.h): directly to an endpoint, or wrapped in a
 * relay header to punchvpnd (over UDP, or TCP when UDP is blocked). What comes back through the
 * relay is unwrapped and handled as if it came from the peer: it is authenticated end to end.
 *
 * Sessions are reference-counted: a thread takes one under the peer's lock, uses it without the
 * lock, and drops it; a replaced session is wiped when its last user lets go. */
#ifndef VPN_DEVICE_H
#define VPN_DEVICE_H

#include <natcheck/addr.h>

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bday.h"
#include "config.h"
#include "handshake.h"
#include "natprof.h"
#include "path.h"
#include "rdv.h"
#include "tcppunch.h"
#include "transport.h"
#include "tun.h"
#include "vpnmap.h"
#include "udp.h"

#define DEV_STAGED 32              /* packets held per peer while its handshake runs */
#define DEV_REKEY_TIMEOUT_MS 5000  /* retry an unanswered initiation */
#define DEV_KEEPALIVE_MS 10000     /* answer received traffic within this if we send none */

/* Why packets were dropped; the names are status's words. */
#define DEV_DROP_TABLE(X)                                                                   \
	X(BAD_TAG, "bad_tag")             /* AEAD or handshake authentication failed */     \
	X(REPLAY, "replay")               /* counter seen or too old; replayed initiation */  \
	X(UNKNOWN_KEY, "unknown_key")     /* no session for the index; unlisted static key */ \
	X(RATE, "rate")                   /* handshake over its rate */                       \
	X(SOURCE, "source")               /* inner source outside the peer's AllowedIPs */    \
	X(MALFORMED, "malformed")         /* not a punchvpn datagram, not an IP packet */     \
	X(NO_ROUTE, "no_route")           /* TUN packet to an address no peer holds */        \
	X(NO_SESSION, "no_session")       /* staging full or expired while handshaking */     \
	X(TOO_BIG, "too_big")             /* over the tunnel MTU (answered with ICMP) */     \
	X(NO_MEMORY, "no_memory")         /* the cipher's context could not be allocated */

enum dev_drop {
#define DEV_DROP_ENUM_(n, s) DEV_DROP_##n,
	DEV_DROP_TABLE(DEV_DROP_ENUM_)
#undef DEV_DROP_ENUM_
	DEV_DROP_COUNT
};

struct dev_stats {
	_Atomic uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
	_Atomic uint64_t drop[DEV_DROP_COUNT];
};

struct dev_sess {
	struct tp_session s;
	_Atomic int refs;
};

/* Where a datagram goes. */
struct dev_route {
	enum path_kind kind;
	struct nc_addr ep;  /* DIRECT */
	int sock;           /* DIRECT: 0 the tunnel socket, k > 0 the device's aux socket k - 1 */
	uint32_t relay_id;  /* RELAY: the peer's id at punchvpnd */
	struct tcpp *tcp;   /* TCP: the peer's connection */
};

/* Where a datagram came from. */
struct dev_from {
	struct nc_addr addr;
	int sock;          /* the socket it arrived on, as dev_route.sock (relay: 0) */
	bool from_server;  /* the rendezvous server's address, or its TCP connection */
	bool relayed;      /* unwrapped from a relay datagram */
	uint32_t relay_id; /* relayed: the sender's id */
	struct tcpp *tcp;  /* over this peer connection (TCP simultaneous open) */
};

struct dev_rx;
struct outlog;

struct dev_peer {
	const struct vpn_peer_cfg *cfg;
	char name[VPN_KEY_B64_LEN + 1];
	bool eager; /* initiates at start (static endpoint, and the lower key or a keepalive) */
	/* dev->hs_lock */
	struct hs_peer hs;
	uint64_t hs_sent_ms;
	unsigned hs_attempts; /* unanswered initiations in a row */
	/* lock */
	pthread_mutex_t lock;
	struct dev_sess *cur, *prev, *next;
	struct path path;
	struct coord_profile peer_prof; /* from the latest INTRO (measured = false before) */
	struct tcpp tcp;             /* the direct TCP path (its own lock) */
	uint32_t rtt_ms;             /* initiation to response, over rtt_path */
	enum path_kind rtt_path;
	bool rehs;                   /* a handshake over the new direct path is due */
	uint8_t *staged[DEV_STAGED];
	uint16_t staged_len[DEV_STAGED];
	unsigned n_staged;
	uint64_t staged_since_ms;
	/* atomics */
	_Atomic uint64_t last_rx_ms, last_tx_ms, last_hs_ms;
	_Atomic bool want_hs;
	struct dev_stats st;
	/* Birthday probing (bday.h, devbday.c), under lock: this side's role from the strategy
	 * table at the latest introduction, and the attempt of the current punching round. */
	enum bday_role bday_role;
	uint64_t bday_round_ms; /* the punching round the attempt belongs to */
	struct bday bday;
	struct dev_bday_io {
		int sock;             /* EASY: the socket the probes go from (0: the tunnel's) */
		uint8_t tid[12];      /* its STUN request's transaction id */
		unsigned stun_tries, targets_sent;
		uint64_t next_ms;     /* the next STUN request, or BDAY_TARGET */
		bool mapped;          /* its mapping is known */
		uint16_t mapped_port;
	} bio;
};

/* Extra UDP sockets: birthday probing's many sockets on the hard side, and the one that wins.
 * Opened by the main thread, read by the RX thread (in its epoll set), closed by the RX thread
 * only (so it never reads a descriptor that was closed and reused). */
#define DEV_AUX_MAX (BDAY_SOCKETS + 16)
enum { DEV_AUX_FREE = 0, DEV_AUX_OPEN, DEV_AUX_RETIRE };
struct dev_aux {
	struct udp u;
	_Atomic int state;
	struct dev_peer *owner; /* set before state becomes OPEN */
};

struct dev {
	struct vpn_cfg *cfg;
	struct tun tun;
	struct udp udp;
	struct tp_limits lim;
	pthread_mutex_t hs_lock;
	pthread_mutex_t tun_rd; /* held while reading a packet from the TUN device and sending it */
	struct hs_local hs;
	struct dev_peer *peers;
	size_t n_peers;
	struct dev_stats st; /* drops no peer can be charged with */
	struct rdv rdv;              /* the rendezvous client (off without Server) */
	struct natprof *np;          /* the NAT profile (with Server) */
	struct natprof_state nat;    /* its latest state, main thread */
	char nat_err[96];            /* why there is no profile */
	struct vpnmap *vm;           /* the gateway mapping of the tunnel's port (with Server) */
	struct vpnmap_state map;     /* its latest state, main thread */
	uint64_t net_changes;
	struct dev_rx *mrx;          /* the main thread's receive context (TCP connections) */
	struct outlog *outlog;       /* punch outcome reports (outlog.h); NULL: not asked for */
	int tcp_epfd;                /* epoll over the TCP connections: relay, showing, peers */
	struct dev_aux *aux;         /* DEV_AUX_MAX slots */
	_Atomic bool aux_retire;     /* a slot waits for the RX thread to close it */
	int rx_ep, rx_kick_fd;       /* the RX thread's epoll set; wakes it to close slots */
	int stop_fd, kick_fd; /* eventfds: threads stop; main wakes for a handshake */
	int tx_park_fd;       /* eventfd: wakes the TX thread when TUN is handed back to it */
	_Atomic bool tun_light; /* the RX thread reads TUN, the TX thread sleeps (tunmode.h) */
	pthread_t tx, rx;
	bool threads;
};

/* Creates the TUN device ifname and the socket, configures addresses and routes. On error
 * nothing is left behind and err says why. */
int dev_init(struct dev *d, struct vpn_cfg *cfg, const char *ifname, char *err, size_t errlen);
int dev_start(struct dev *d, char *err, size_t errlen);
/* Timers; call every 100 ms or so and whenever kick_fd is readable. */
void dev_tick(struct dev *d);
/* Stops the threads and removes the interface (and so its addresses and routes). */
void dev_stop(struct dev *d);
/* The NAT profile's eventfd (-1 without one); on readable call dev_nat_event: a network
 * change re-registers and re-punches at once, a new measurement re-registers. */
int dev_nat_fd(struct dev *d);
void dev_nat_event(struct dev *d);
/* The gateway mapping's eventfd (-1 without one); on readable call dev_map_event: a mapping
 * that came, went or changed is registered (advertised only when the gateway's external
 * address is the one punchvpnd observes). */
int dev_map_fd(struct dev *d);
void dev_map_event(struct dev *d);
/* The TCP connections (the relay's, the one that shows our TCP mapping, the peers' direct
 * ones) as one pollable descriptor (an epoll set; call again before each wait: it also brings
 * the set up to date), and their input. */
int dev_tcp_fd(struct dev *d);
/* A condition that ends `up` (the server never answered at start): true, with the message. */
bool dev_failed(struct dev *d, char *err, size_t errlen);
void dev_tcp_input(struct dev *d);

/* Every introduced peer falls back to the relay and punches again (`punchvpn repunch`). */
void dev_repunch(struct dev *d);

json_t *dev_status_json(struct dev *d);
/* The same as text, into a malloc'd string. */
char *dev_status_text(struct dev *d);

uint64_t dev_now_ms(void);
const char *dev_drop_name(enum dev_drop r);

#endif
