/* Port mapping through the gateway: NAT-PMP (RFC 6886), PCP (RFC 6887) and UPnP-IGD, all
 * spoken to the IPv4 default gateway. What a program that needs an inbound UDP port (punchvpn,
 * natcheck's real test) calls:
 *
 *   nc_pm_probe()       which protocols the gateway speaks, and the external address each claims
 *   nc_pm_map()         ask for a mapping external port -> local port, remembered in a registry
 *   nc_pm_refresh()     renew it before its lifetime runs out (RFC 6886 §3.3: at half of it)
 *   nc_pm_unmap()       delete it; nc_pm_unmap_all() deletes every one the registry holds
 *
 * Bounded and stoppable: every call returns within its own timeout, never later than
 * cfg->deadline_us, and within about a second of nc_cancel_fire() on cfg->cancel. UPnP's HTTP
 * exchanges (miniupnpc, which blocks up to 5 s per byte) run on a worker thread that the call
 * abandons when its time is up; a worker abandoned after it created a mapping deletes that
 * mapping itself. A mapping whose deletion could not be confirmed expires with its lifetime.
 *
 * Threads and signals: no global state; workers block all signals in their own mask so that
 * signals reach the caller's threads; the caller's signal dispositions and mask are never
 * changed. Errors reach the caller in words ("PCP: NOT_AUTHORIZED (the gateway refused the
 * mapping)"); a gateway that answers garbage never makes a call fail harder than "absent". */
#ifndef NATCHECK_PORTMAP_H
#define NATCHECK_PORTMAP_H

#include <natcheck/addr.h>
#include <natcheck/cancel.h>
#include <natcheck/result.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NC_PM_DEFAULT_BUDGET_MS 500
#define NC_PM_DEFAULT_MAP_TIMEOUT_MS 2000
#define NC_PM_MAX_LIVE 16
#define NC_PM_URL_LEN 128 /* miniupnpc's MINIUPNPC_URL_MAXSIZE */
#define NC_PM_NONCE_LEN 12 /* PCP mapping nonce (RFC 6887 §11.1) */

struct nc_pm_cfg {
	struct nc_addr gateway;  /* IPv4 gateway; unset: the default route's (/proc/net/route) */
	uint16_t pmp_port;       /* NAT-PMP and PCP server port; 0: 5351 */
	uint16_t ssdp_port;      /* SSDP port on the gateway; 0: 1900 */
	bool ssdp_unicast_only;  /* M-SEARCH only to the gateway, not also to 239.255.255.250 */
	uint32_t budget_ms;      /* nc_pm_probe's whole run; 0: 500 */
	uint32_t map_timeout_ms; /* each nc_pm_map / refresh / unmap exchange; 0: 2000 */
	unsigned protos;         /* bit (1u << enum nc_pm_proto) per protocol; 0: all three */
	uint64_t deadline_us;    /* absolute CLOCK_MONOTONIC time in µs no call outlives; 0: none */
	const struct nc_cancel *cancel; /* stops any call within about a second; NULL: none */
	void (*trace)(void *arg, const char *line); /* optional progress lines */
	void *trace_arg;
};

/* One mapping the gateway holds for us: everything needed to refresh or delete it later. */
struct nc_pm_mapping {
	bool live;
	enum nc_pm_proto proto;
	uint8_t ipproto;             /* 17 (UDP) */
	struct nc_addr server;       /* NAT-PMP/PCP server ip:port (UPnP: the gateway, port 0) */
	struct nc_addr internal;     /* local ip:port the gateway forwards to */
	struct nc_addr external;     /* public ip:port (ip unset if the gateway did not say) */
	uint32_t lifetime_s;         /* granted lifetime (0 = permanent, UPnP only) */
	uint32_t timeout_ms;         /* for the refresh and delete exchanges */
	uint8_t nonce[NC_PM_NONCE_LEN];          /* PCP: refreshes and deletes need the same nonce */
	char control_url[NC_PM_URL_LEN];         /* UPnP: WANIPConnection control URL */
	char service_type[NC_PM_URL_LEN];        /* UPnP: its service type */
};

/* Caller-owned list of live mappings (zero-initialise it). Not locked: one thread at a time. */
struct nc_pm_registry {
	struct nc_pm_mapping m[NC_PM_MAX_LIVE];
};

/* The gateway of the IPv4 default route with the lowest metric, from /proc/net/route.
 * -NC_E_UNSUPPORTED (no default route), -errno (file unreadable). gw->port is 0. */
int nc_pm_default_gateway(struct nc_addr *gw);

/* Probes NAT-PMP, PCP and UPnP-IGD in parallel and fills out[NC_PM_NATPMP..NC_PM_UPNP]:
 * tested, present (yes: the gateway speaks it; no: no answer within the budget, refused or
 * garbage; unknown: cancelled or the deadline came first), external (the address it claims,
 * port 0) and error in words. Returns within cfg->budget_ms (plus a few ms) and 0, or a
 * negative error only for unusable arguments. PCP's external address comes from a short MAP of
 * the probe socket's own port that the probe deletes again. test_mapping and deleted stay
 * unknown: those belong to a real test with nc_pm_map(). */
int nc_pm_probe(const struct nc_pm_cfg *cfg, struct nc_portmap_result out[NC_PM_COUNT]);

/* Asks the gateway, through proto, to forward UDP arriving at an external port to
 * internal_port on this host (the local address that routes to the gateway), for lifetime_s
 * seconds; the external port suggested is internal_port itself. On success fills *out,
 * records it in reg (if not NULL) and returns 0. On failure returns a negative error
 * (-NC_E_CANCELLED, -NC_E_DEADLINE included) and, if err is not NULL, writes the reason in
 * words. -NC_E_NOSPACE if reg is full (the mapping is deleted again). cfg may be NULL. */
int nc_pm_map(const struct nc_pm_cfg *cfg, struct nc_pm_registry *reg, enum nc_pm_proto proto,
	      uint16_t internal_port, uint32_t lifetime_s, struct nc_pm_mapping *out, char *err,
	      size_t errlen);

/* Renews a live mapping for lifetime_s seconds, asking for the same external port (PCP: same
 * nonce). Updates m->external and m->lifetime_s (the gateway may move the port). The entry in
 * reg, if m is not the registry's own slot, is updated too. cfg may be NULL. */
int nc_pm_refresh(const struct nc_pm_cfg *cfg, struct nc_pm_registry *reg,
		  struct nc_pm_mapping *m, uint32_t lifetime_s, char *err, size_t errlen);

/* Deletes a mapping (NAT-PMP: lifetime 0; PCP: MAP with lifetime 0 and the same nonce;
 * UPnP: DeletePortMapping) within m->timeout_ms. A gateway that no longer knows it counts as
 * deleted. On success clears m->live and drops it from reg (if not NULL). */
int nc_pm_unmap(struct nc_pm_registry *reg, struct nc_pm_mapping *m, char *err, size_t errlen);

/* Deletes every live mapping in reg, all within within_ms (0: each within its own timeout);
 * returns how many could not be deleted (0 = all gone). Ignores cancellation on purpose: it is
 * what a program calls after a cancel. NOT async-signal-safe (it sends, waits and, for UPnP,
 * allocates): a signal handler only fires an nc_cancel or sets a flag, and the thread that
 * sees it calls this. */
int nc_pm_unmap_all(struct nc_pm_registry *reg);
int nc_pm_unmap_all_within(struct nc_pm_registry *reg, uint32_t within_ms);

/* Number of live mappings in reg. */
unsigned nc_pm_registry_count(const struct nc_pm_registry *reg);

#endif
