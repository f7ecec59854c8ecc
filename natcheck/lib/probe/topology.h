/* How many NATs, and is one of them a carrier-grade NAT?
 *
 * Signals (none is proof alone; together they rarely disagree):
 *   - the host's own address: public (no NAT), private, or in 100.64.0.0/10 (RFC 6598, the
 *     shared space carriers put subscribers in);
 *   - the routers on the path: Binding requests to the server with TTL 1, 2, ... die at each
 *     hop, whose ICMP Time Exceeded names it. Private or shared-space routers after the
 *     home gateway mean more address realms before the public Internet: a CGN when the
 *     space is 100.64/10, another NAT when it is RFC 1918. No root needed: the errors come
 *     back on the socket's error queue (IP_RECVERR);
 *   - the external address a NAT-PMP, PCP or UPnP gateway claims: private, shared or just
 *     different from the STUN-observed public address means another NAT above it (the
 *     Tailscale #5236 case).
 * The probes are STUN Binding requests, so a server that does get one just answers it. */
#ifndef NC_TOPOLOGY_H
#define NC_TOPOLOGY_H

#include "netutil.h"

#include <natcheck/result.h>

#define NC_MAX_HOPS 8

struct nc_hops {
	uint8_t n;                       /* hops probed (TTL 1..n) */
	struct nc_addr hop[NC_MAX_HOPS]; /* router that answered TTL i+1 (unset: silent) */
	uint8_t reached_at;              /* TTL at which the server answered (0: never) */
};

/* Sends TTL-limited Binding requests (TTL 1..max_ttl) towards server and collects who
 * answers, waiting at most wait_ms. Returns 0 or a negative error. */
int nc_probe_hops(const struct nc_addr *server, unsigned max_ttl, unsigned wait_ms,
		  const struct nc_limits *lim, struct nc_hops *out);

/* Pure: fills r->topology from r->udp, r->portmap and the hops (may be NULL), and notes
 * the evidence in words. */
void nc_classify_topology(struct nc_result *r, const struct nc_hops *hops);

#endif
