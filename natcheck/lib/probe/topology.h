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

#include "classify_evidence.h"
#include "netutil.h"

#include <natcheck/result.h>

/* struct nc_hops, the record of the path, is part of the result model (result.h). */

/* Sends TTL-limited Binding requests (TTL 1..max_ttl) towards server and collects who
 * answers, waiting at most wait_ms. Returns 0 or a negative error. */
int nc_probe_hops(const struct nc_addr *server, unsigned max_ttl, unsigned wait_ms,
		  const struct nc_limits *lim, struct nc_hops *out);

/* nc_classify_topology(r, hops) records the hops in the result and classifies them: it is
 * the core classifier's (classify_evidence.h), declared there. */

#endif
