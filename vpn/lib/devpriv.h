/* What device.c, devlink.c and devstatus.c share inside the device (not for programs). */
#ifndef VPN_DEVPRIV_H
#define VPN_DEVPRIV_H

#include "device.h"
#include "since.h"

struct dev_sess *dev_sess_ref(struct dev_sess *s);
void dev_sess_put(struct dev_sess *s);
void dev_kick(struct dev *d);
struct dev_peer *dev_peer_by_key(struct dev *d, const uint8_t pub[32]);
/* The peer's route now (under its lock). */
void dev_peer_route(struct dev_peer *p, struct dev_route *rt);
/* An empty transport packet on the current session, along rt (NULL: the peer's route). */
void dev_keepalive(struct dev *d, struct dev_peer *p, const struct dev_route *rt);

/* devlink.c */
/* One datagram along rt: to the endpoint, or wrapped for the relay. Returns 0 or negative. */
/* This host's profile as registered: the measurement with the gateway mapping filled in.
 * Returns whether it is measured. Main thread. */
bool dev_my_profile(struct dev *d, struct coord_profile *prof);
int dev_send_dgram(struct dev *d, const struct dev_route *rt, const uint8_t *buf, size_t len);
/* An authenticated packet from p arrived (src): path bookkeeping; a newly proven direct path
 * is answered at once so the peer proves it too. */
void dev_peer_rx(struct dev *d, struct dev_peer *p, const struct dev_from *src, uint64_t now);
/* A coordination datagram from the server. */
void dev_coord_input(struct dev *d, const uint8_t *buf, size_t len);
/* Registration, punching, path timers, direct keepalives: from dev_tick. */
void dev_link_tick(struct dev *d, uint64_t now);
int dev_link_start(struct dev *d, char *err, size_t errlen);
void dev_link_stop(struct dev *d);

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
