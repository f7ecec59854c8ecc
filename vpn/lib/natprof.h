/* This host's NAT profile for punchvpn: libnatcheck's fast measurement (nc_run with the FAST
 * preset) on a thread of its own, at start and again whenever the host's addresses or routes
 * change (an rtnetlink subscription, debounced). The measurement uses its own sockets, so the
 * tunnel's socket keeps serving traffic while it runs.
 *
 * The device polls change_fd (an eventfd) from its main loop: it becomes readable when the
 * network changed (re-register and re-punch at once, before the new measurement is in) and
 * again when a measurement finished (re-register with the new profile). */
#ifndef VPN_NATPROF_H
#define VPN_NATPROF_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"

struct nc_result;

struct natprof_cfg {
	struct nc_addr stun;      /* natcheck-reflector (RFC 5780, two addresses) */
	const char *skip_ifname;  /* the tunnel's own interface: not a local candidate */
	unsigned budget_ms;       /* per measurement; 0 = NC_RUN_FAST_BUDGET_MS */
	bool portmap;             /* also probe NAT-PMP/PCP/UPnP (strategy issue) */
	/* After each fast measurement that reached the server, measure the binding lifetime too
	 * (nc_run with lifetime; about 5x the lifetime, in the background: 26 s for 5 s), so the
	 * keepalive can follow it (strategy_keepalive_ms). Its result is one more generation;
	 * a network change cancels it and starts over with the fast measurement. */
	bool lifetime;
	unsigned lifetime_max_s;  /* longest idle time tried; 0 = 60 */
};

struct natprof_state {
	uint64_t net_generation;  /* grows on every (debounced) address or route change */
	uint64_t generation;      /* grows on every finished measurement */
	bool measuring;
	/* With cfg.lifetime: the profile's lifetime is still to come (the fast measurement or the
	 * lifetime stage runs, or the lifetime stage follows the fast result just published).
	 * Cleared when the stage ends: with a lifetime, as one more generation; without one, the
	 * eventfd fires all the same. */
	bool lifetime_pending;
	struct coord_profile prof;
	char summary[160];        /* "EI mapping, APD filtering, preserving, 30 s" or the error */
	uint64_t measured_at_ms;  /* monotonic */
	unsigned took_ms;
};

struct natprof;

/* Starts the watcher and the first measurement. Returns 0 or a negative NC_E_* / -errno. */
int natprof_start(struct natprof **np, const struct natprof_cfg *cfg);
/* The eventfd to poll (readable on a change; natprof_state drains it). */
int natprof_fd(const struct natprof *np);
void natprof_state(struct natprof *np, struct natprof_state *out);
/* Stops the threads (cancels a running measurement) and frees np. */
void natprof_stop(struct natprof *np);

/* natcheck's result in short, for registration (pure; unit-tested). */
void natprof_from_result(const struct nc_result *r, struct coord_profile *out);
/* One line in words. */
void natprof_describe(const struct coord_profile *p, char *out, size_t len);

/* The host's usable local addresses (up, not loopback, not link-local, not skip_ifname), IPv4
 * and global IPv6, with port = port: the same-LAN candidates. Returns how many were written. */
size_t natprof_local_addrs(const char *skip_ifname, uint16_t port, struct nc_addr *out,
			   size_t max);

/* Whether a batch of rtnetlink messages (as read from the subscription) reports an address
 * or route change on another interface than skip_ifindex (0 = none). Bounds-checked; what
 * does not decode counts as a change. Exposed for the unit test. */
bool natprof_nl_changed(const void *buf, size_t len, int skip_ifindex);

#endif
