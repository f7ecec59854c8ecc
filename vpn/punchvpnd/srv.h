/* punchvpnd's internals shared by its modules (pvd.h is the face main.c uses). */
#ifndef PVD_SRV_H
#define PVD_SRV_H

#include <natcheck/log.h>

#include "peers.h"
#include "pvd.h"

/* The largest datagram or TCP frame taken: a relay header and a punchvpn datagram of a
 * tunnel MTU up to about 4000 bytes, or any coordination message. */
#define PVD_MAX_FRAME	 4096
#define PVD_TCP_TXCAP	 65536 /* unsent bytes per TCP connection */
#define PVD_TCP_SLOW_MS	 10000 /* a partial frame, or a full send buffer, this long: closed */
#define PVD_INTRO_MIN_MS 1000  /* INTROs of an unchanged pair: at most one a second */

struct pvd_conn {
	int fd; /* -1: slot free */
	uint32_t gen;
	bool broken; /* a write failed: closed at the next sweep or read */
	struct nc_addr remote;
	uint8_t rx[2 + PVD_MAX_FRAME];
	size_t rx_len;
	uint8_t *tx; /* allocated when a write is short */
	size_t tx_len;
	uint64_t last_rx_ms, partial_since_ms, stuck_since_ms;
	uint32_t peer_idx, peer_gen; /* the peer that registered over it last (PVD_NONE: none) */
};

/* Per-peer events logged at info level, each class held to NC_LOG_LIMIT_PER_SEC lines a
 * second (anyone can make keys: a flood of new keys must not become a flood of lines). */
enum pvd_event { PVD_LOG_REGISTERED, PVD_LOG_INTRODUCED, PVD_LOG_EXPIRED, PVD_LOG_N };

struct pvd_listen {
	struct nc_addr addr;
	int udp_fd, tcp_fd;
};

struct pvd_server {
	struct pvd_cfg cfg;
	struct pvd_listen l[PVD_MAX_LISTEN];
	size_t n_listen;
	int epfd, sigfd, timerfd;
	struct pvd_peers peers;
	struct hsrl rl;
	struct pvd_conn *conns;
	unsigned n_conns;
	struct pvd_counters ctr;
	uint64_t now_ms;	/* monotonic, cached per loop iteration */
	uint64_t wall_ms;	/* Unix ms, likewise */
	uint64_t start_wall_ms; /* registrations sealed before the start are refused */
	size_t live;		/* registered peers */
	struct nc_log_limit log_limit[PVD_LOG_N];
	bool stop;
};

void pvd_event(struct pvd_server *s, enum pvd_event c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Where a datagram came from, and so where its answer goes. */
struct pvd_src {
	int lidx; /* the listening address it arrived on */
	int conn; /* its TCP connection, or -1 for UDP */
	struct nc_addr addr;
};

/* Sends one datagram: to src over UDP, or as a frame on its TCP connection. 0 or an error
 * (counted by the caller). */
int pvd_send_src(struct pvd_server *s, const struct pvd_src *to, const uint8_t *buf, size_t len);
/* Sends to a registered peer over whatever it registered over last. */
int pvd_send_peer(struct pvd_server *s, struct pvd_peer *p, const uint8_t *buf, size_t len);

/* Every datagram or frame, from the UDP loop or a TCP connection. */
void pvd_dispatch(struct pvd_server *s, const struct pvd_src *src, uint8_t *buf, size_t len);
void pvd_handle_coord(struct pvd_server *s, const struct pvd_src *src, const uint8_t *buf,
		      size_t len);
void pvd_handle_relay(struct pvd_server *s, const struct pvd_src *src, uint8_t *buf, size_t len);

/* tcp.c */
int pvd_tcp_init(struct pvd_server *s);
void pvd_tcp_free(struct pvd_server *s);
void pvd_tcp_accept(struct pvd_server *s, int lidx);
void pvd_tcp_event(struct pvd_server *s, unsigned idx, uint32_t events);
int pvd_tcp_send(struct pvd_server *s, unsigned idx, uint32_t gen, const uint8_t *buf, size_t len);
void pvd_tcp_sweep(struct pvd_server *s);

/* epoll tags: kind in the high half, index in the low. */
enum { PVD_EV_UDP = 1, PVD_EV_LISTEN, PVD_EV_CONN, PVD_EV_SIGNAL, PVD_EV_TIMER };
#define PVD_TAG(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))

#endif
