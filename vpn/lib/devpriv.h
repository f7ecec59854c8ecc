/* What device.c, devlink.c and devstatus.c share inside the device (not for programs). */
#ifndef VPN_DEVPRIV_H
#define VPN_DEVPRIV_H

#include "device.h"
#include "ctrl.h"
#include "since.h"
#include "strategy.h"

struct dev_sess *dev_sess_ref(struct dev_sess *s);
void dev_sess_put(struct dev_sess *s);
void dev_kick(struct dev *d);
struct dev_peer *dev_peer_by_key(struct dev *d, const uint8_t pub[32]);
/* The peer's route now (under its lock). */
void dev_peer_route(struct dev_peer *p, struct dev_route *rt);
/* An empty transport packet on the current session, along rt (NULL: the peer's route). */
void dev_keepalive(struct dev *d, struct dev_peer *p, const struct dev_route *rt);
/* A control message (ctrl.h) the same way. */
void dev_send_ctrl(struct dev *d, struct dev_peer *p, const struct dev_route *rt,
		   const struct ctrl_msg *m);

/* The socket a route sends from: the tunnel's, or an open aux slot's; NULL when the slot
 * was closed meanwhile (the datagram is not sent). */
struct udp *dev_route_udp(struct dev *d, const struct dev_route *rt);

/* devaux.c: aux sockets (see struct dev_aux). */
int dev_aux_init(struct dev *d, char *err, size_t errlen);
/* Opens a slot for owner: its route/from sock number (> 0), or negative. Main thread. */
int dev_aux_open(struct dev *d, struct dev_peer *owner);
/* Closes (through the RX thread) every open slot of owner except sock keep (0: none). */
void dev_aux_retire(struct dev *d, struct dev_peer *owner, int keep);
/* RX thread: whether sock may be read; closing retired slots. */
bool dev_aux_readable(struct dev *d, int sock);
void dev_aux_reap(struct dev *d);
void dev_aux_free(struct dev *d);

/* devbday.c: birthday probing, from dev_link_tick and dev_peer_rx. */
/* This side's role by the strategy table at an introduction. Main thread. */
enum bday_role dev_bday_role(struct dev *d, const struct coord_intro *in);
/* Starts an attempt with each punching round, sends the due probes. Main thread. */
void dev_bday_tick(struct dev *d, struct dev_peer *p, uint64_t now);
/* Under p->lock: a direct path came (sock: where): the attempt won; the hard side keeps that
 * socket only. */
void dev_bday_direct(struct dev *d, struct dev_peer *p, int sock, uint64_t now);
/* Under p->lock: whether the current direct path came from birthday probing; the attempt as
 * status shows it. */
bool dev_bday_made(const struct dev_peer *p);
/* A STUN message on aux socket sock: the easy side's probing socket's mapping (RX thread). */
void dev_bday_stun(struct dev *d, int sock, const uint8_t *buf, size_t len);
/* An authenticated control message from p (RX thread, after dev_peer_rx). */
void dev_bday_ctrl(struct dev *d, struct dev_peer *p, const struct dev_from *from,
		   const struct ctrl_msg *m);
json_t *dev_bday_json(struct dev_peer *p, uint64_t now);

/* devlink.c */
/* The strategy table's plan between this host and a peer (peer: NULL when not measured). */
void dev_plan(struct dev *d, const struct coord_profile *peer, const struct nc_addr *observed,
	      size_t n_local, struct strat_plan *plan);
/* One datagram along rt: to the endpoint, or wrapped for the relay. Returns 0 or negative. */
/* This host's profile as registered: the measurement with the gateway mapping filled in.
 * Returns whether it is measured. Main thread. */
bool dev_my_profile(struct dev *d, struct coord_profile *prof);
/* This side's binding lifetime is still being measured (keepalives stay short). Main thread. */
bool dev_lifetime_pending(struct dev *d);
int dev_send_dgram(struct dev *d, const struct dev_route *rt, const uint8_t *buf, size_t len);
/* An authenticated packet from p arrived (src): path bookkeeping; a newly proven direct path
 * is answered at once so the peer proves it too. */
void dev_peer_rx(struct dev *d, struct dev_peer *p, const struct dev_from *src, uint64_t now);
/* A punching round that waited for a session goes now, from the thread that installed the
 * session (RX), not one thread wake-up later from dev_link_tick. */
void dev_punch_now(struct dev *d, struct dev_peer *p, uint64_t now);
/* A coordination datagram from the server. */
void dev_coord_input(struct dev *d, const uint8_t *buf, size_t len);
/* Registration, punching, path timers, direct keepalives: from dev_tick. */
void dev_link_tick(struct dev *d, uint64_t now);
int dev_link_start(struct dev *d, char *err, size_t errlen);
void dev_link_stop(struct dev *d);

/* devstatus.c (main thread) */
/* The method that made the path what it is, as status names it (path_method; prediction when
 * the table put it first; birthday when by_bday, dev_bday_made); NULL while there is no path.
 * peer: the peer's profile (from its introduction; measured = false when none). */
const char *dev_path_method(struct dev *d, const struct path *path,
			    const struct coord_profile *peer, bool by_bday);

/* device.c: the main thread's receive context (created at first use; NULL when out of
 * memory), one datagram through the receive path, and the end of a batch. */
struct dev_rx *dev_main_rx(struct dev *d);
void dev_rx_dgram(struct dev_rx *x, const uint8_t *dgram, size_t len, const struct dev_from *from);
void dev_rx_done(struct dev_rx *x);

/* devtcp.c: the TCP connections and the direct TCP path (TCP simultaneous open) */
int dev_tcp_init(struct dev *d, char *err, size_t errlen);
void dev_tcp_stop(struct dev *d);
/* An introduction with the peer's TCP endpoint (main or RX thread). */
void dev_tcp_intro(struct dev *d, struct dev_peer *p, const struct coord_intro *in);
/* Attempts, probes, keepalives over TCP, the connection that shows our TCP mapping: from
 * dev_link_tick. */
void dev_tcp_tick(struct dev *d, uint64_t now);
/* status: the peer's TCP path ({state, wanted, endpoint, attempts, connects, connections,
 * error}). */
json_t *dev_tcp_peer_json(struct dev_peer *p);

#endif
