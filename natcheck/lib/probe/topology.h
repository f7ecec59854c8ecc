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

/* Routers rate-limit the ICMP errors they send to each host: Linux by default
 * (net.ipv4.icmp_ratelimit = 1000 ms, icmp_ratemask covering Time Exceeded and Destination
 * Unreachable) keeps one token bucket per destination address, 6 errors of burst and then
 * one a second (inet_peer_xrlim_allow, XRLIM_BURST_FACTOR 6), plus a global bucket of 1000 a
 * second (icmp_msgs_per_sec, burst 50). natcheck's own earlier packets spend that budget
 * (NAT-PMP and PCP to a gateway without them, SSDP, hairpin probes to a NAT that does not
 * hairpin each cost one port unreachable): the first Time Exceeded is then suppressed. So a
 * hop that stays silent, and still matters for the verdict, is asked again every
 * NC_HOPS_PACE_MS until its router has earned a token again (at most a second after its last
 * error), NC_HOPS_ATTEMPTS tries in all: 1.5 s, a little more than one token's time. A
 * suppressed error costs the router no token, so asking often only finds the token sooner. */
#define NC_HOPS_PACE_MS 250
#define NC_HOPS_ATTEMPTS 7

/* Sends TTL-limited Binding requests (TTL 1..max_ttl, each a STUN transaction) towards
 * server and collects who answers. Hops that matter (below the server and below the first
 * public router) and stay silent are retried on the pace above; wait_ms is the wait after
 * the last try. A run where every hop answers at once takes one round trip; a silent hop
 * that matters costs up to (NC_HOPS_ATTEMPTS - 1) x NC_HOPS_PACE_MS + wait_ms. The limits are checked on every
 * turn. Returns 0 or a negative error (-NC_E_CANCELLED, -NC_E_DEADLINE, ...). */
int nc_probe_hops(const struct nc_addr *server, unsigned max_ttl, unsigned wait_ms,
		  const struct nc_limits *lim, struct nc_hops *out);

/* nc_classify_topology(r, hops) records the hops in the result and classifies them: it is
 * the core classifier's (classify_evidence.h), declared there. */

#endif
