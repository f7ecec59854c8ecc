/* The TUN device: IFF_TUN | IFF_NO_PI | IFF_VNET_HDR with checksum and TCP segmentation
 * offloads, its MTU, addresses and routes (ioctl), brought up. The device is not persistent:
 * closing its descriptor deletes it, and with it every address and route (the teardown). */
#ifndef VPN_TUN_H
#define VPN_TUN_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct tun {
	int fd;
	char name[16];
	unsigned mtu;
	bool offload; /* TSO/CSUM accepted by the kernel */
};

/* Creates name (which must not exist yet), with offloads when the kernel takes them.
 * Errors name the step in err. */
int tun_open(struct tun *t, const char *name, char *err, size_t errlen);
/* MTU, addresses, up, then a route for each peer prefix not already covered by an address's
 * own subnet. */
int tun_configure(struct tun *t, const struct vpn_cfg *cfg, char *err, size_t errlen);
void tun_close(struct tun *t);
/* Whether an interface of that name exists. */
bool tun_exists(const char *name);

#endif
