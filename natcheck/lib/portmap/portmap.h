/* Port-mapping clients: NAT-PMP (RFC 6886, through libnatpmp), PCP (RFC 6887, our codec in
 * pcp.h) and UPnP-IGD (through miniupnpc), all spoken to the IPv4 default gateway.
 *
 * Two uses:
 *   - natcheck probes: nc_pm_probe() asks all three protocols at once, within a short budget,
 *     whether the gateway speaks them and which external address it claims;
 *   - programs that need a mapping (punchvpn, natcheck's real test): nc_pm_map() creates a UDP
 *     mapping to a local port, nc_pm_unmap() deletes it. A caller-owned registry remembers the
 *     live ones so that nc_pm_unmap_all() can delete them on exit.
 *
 * Errors reach the caller in words ("PCP: NOT_AUTHORIZED (the gateway refused the mapping)");
 * a gateway that answers garbage never makes a function fail harder than "absent".
 *
 * Threads: nc_pm_probe() runs UPnP discovery on a worker thread (SSDP and the HTTP fetches of
 * miniupnpc block); if the worker is still busy at the deadline it is left to finish on its own
 * and frees its state itself. Nothing here keeps global state. */
#ifndef NC_PORTMAP_H
#define NC_PORTMAP_H

#include <natcheck/addr.h>
#include "netutil.h"
#include "pcp.h"
#include <natcheck/result.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NC_PM_DEFAULT_BUDGET_MS 500
#define NC_PM_DEFAULT_MAP_TIMEOUT_MS 2000
#define NC_PM_FIRST_RTO_MS 250 /* RFC 6886 §3.1: 250 ms, doubling */
#define NC_PM_SSDP_PORT 1900
#define NC_PM_MAX_LIVE 16
#define NC_PM_URL_LEN 128 /* miniupnpc's MINIUPNPC_URL_MAXSIZE */
#define NC_PM_DESC "natcheck"

struct nc_pm_cfg {
	struct nc_addr gateway;  /* IPv4 gateway; unset: the default route's (/proc/net/route) */
	uint16_t pmp_port;       /* NAT-PMP and PCP server port; 0: 5351 */
	uint16_t ssdp_port;      /* SSDP port on the gateway; 0: 1900 */
	bool ssdp_unicast_only;  /* M-SEARCH only to the gateway, not also to 239.255.255.250 */
	uint32_t budget_ms;      /* nc_pm_probe's whole run; 0: 500 */
	uint32_t map_timeout_ms; /* each nc_pm_map / nc_pm_unmap exchange; 0: 2000 */
	unsigned protos;         /* bit (1u << enum nc_pm_proto) per protocol; 0: all three */
	struct nc_limits lim;    /* the run's deadline and cancellation */
	nc_trace_fn trace;       /* optional progress lines */
	void *trace_arg;
};

/* One mapping the gateway holds for us: everything needed to delete it later. */
struct nc_pm_mapping {
	bool live;
	enum nc_pm_proto proto;
	uint8_t ipproto;             /* 17 (UDP) */
	struct nc_addr server;       /* NAT-PMP/PCP server ip:port (UPnP: the gateway, port 0) */
	struct nc_addr internal;     /* local ip:port the gateway forwards to */
	struct nc_addr external;     /* public ip:port (ip unset if the gateway did not say) */
	uint32_t lifetime_s;         /* granted lifetime (0 = permanent, UPnP only) */
	uint32_t timeout_ms;         /* for the delete exchange */
	uint8_t nonce[PCP_NONCE_LEN];            /* PCP: deletes need the same nonce */
	char control_url[NC_PM_URL_LEN];         /* UPnP: WANIPConnection control URL */
	char service_type[NC_PM_URL_LEN];        /* UPnP: its service type */
};

/* Caller-owned list of live mappings (zero-initialise it). */
struct nc_pm_registry {
	struct nc_pm_mapping m[NC_PM_MAX_LIVE];
};

/* The gateway of the IPv4 default route with the lowest metric, from /proc/net/route.
 * -NC_E_UNSUPPORTED (no default route), -errno (file unreadable). gw->port is 0. */
int nc_pm_default_gateway(struct nc_addr *gw);
/* The same from the text of a /proc/net/route file (for tests). */
int nc_pm_parse_route(const char *text, struct nc_addr *gw);

/* Probes NAT-PMP, PCP and UPnP-IGD in parallel and fills out[NC_PM_NATPMP..NC_PM_UPNP]:
 * tested, present (yes: the gateway speaks it; no: no answer, refused or garbage), external
 * (the address it claims, port 0) and error in words. Returns within cfg->budget_ms (plus a few
 * ms) and 0, or a negative error only for unusable arguments. PCP's external address comes
 * from a short MAP of the probe socket's own port that the probe deletes again; a mapping it
 * could not confirm deleted is said in out[NC_PM_PCP].error (it expires by itself).
 * Leaves test_mapping and deleted unknown: those belong to a real test with nc_pm_map(). */
int nc_pm_probe(const struct nc_pm_cfg *cfg, struct nc_portmap_result out[NC_PM_COUNT]);

/* Asks the gateway, through proto, to forward UDP arriving at an external port to
 * internal_port on this host (the local address that routes to the gateway), for lifetime_s
 * seconds; the external port suggested is internal_port itself. On success fills *out,
 * records it in reg (if not NULL) and returns 0. On failure returns a negative error and, if
 * err is not NULL, writes the reason in words. -NC_E_NOSPACE if reg is full (the mapping is
 * deleted again). cfg may be NULL (defaults). */
int nc_pm_map(const struct nc_pm_cfg *cfg, struct nc_pm_registry *reg, enum nc_pm_proto proto,
	      uint16_t internal_port, uint32_t lifetime_s, struct nc_pm_mapping *out, char *err,
	      size_t errlen);

/* Deletes a mapping (NAT-PMP: lifetime 0; PCP: MAP with lifetime 0 and the same nonce;
 * UPnP: DeletePortMapping). A gateway that no longer knows it counts as deleted. On success
 * clears m->live and drops it from reg (if not NULL). */
int nc_pm_unmap(struct nc_pm_registry *reg, struct nc_pm_mapping *m, char *err, size_t errlen);

/* Deletes every live mapping in reg; returns how many could not be deleted (0 = all gone).
 * NOT async-signal-safe (it sends, waits and, for UPnP, allocates): a signal handler must only
 * set a flag, and the main loop calls this when it sees the flag (tests/unit/
 * test_portmap_live.c shows the pattern with sigsuspend). */
int nc_pm_unmap_all(struct nc_pm_registry *reg);

/* Number of live mappings in reg. */
unsigned nc_pm_registry_count(const struct nc_pm_registry *reg);

/* Extracts the LOCATION header's URL from an SSDP M-SEARCH response ("HTTP/1.1 200 OK" and
 * headers). The URL must start with "http://" and be printable ASCII shorter than cap.
 * Returns 0, -NC_E_MALFORMED (not a 200 response, no or bad LOCATION) or -NC_E_NOSPACE. */
int nc_pm_ssdp_location(const uint8_t *buf, size_t len, char *url, size_t cap);

/* NAT-PMP result code names and words (RFC 6886 §3.5); never NULL. */
const char *nc_pm_natpmp_result_name(unsigned code);
const char *nc_pm_natpmp_result_message(unsigned code);

#endif
