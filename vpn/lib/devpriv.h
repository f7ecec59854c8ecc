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
/* This side's binding lifetime is still being measured (keepalives stay short). Main thread. */
bool dev_lifetime_pending(struct dev *d);
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

#endif
