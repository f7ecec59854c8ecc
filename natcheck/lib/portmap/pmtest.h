/* The real test of a port-mapping protocol: does traffic through the mapping arrive?
 *
 * For each protocol the probe found present: bind a fresh UDP socket on port P, ask the
 * gateway (nc_pm_map) to forward an external port E to P, then send the STUN server a Binding
 * request from P with RESPONSE-PORT = E (RFC 5780 §7.5). The server answers to the address it
 * saw us at, port E: only the port mapping can bring that answer to P. The mapping is deleted
 * again at once; the caller's registry still holds it if deletion failed or the run's limits
 * (cfg->deadline_us, cfg->cancel) stopped the test first, and the caller deletes what is left
 * (nc_pm_unmap_all_within). A gateway behind another NAT (the Tailscale #5236 case) fails this
 * test: the answer goes to the outer NAT's address, where nobody forwards E. */
#ifndef NC_PMTEST_H
#define NC_PMTEST_H

#include "portmap.h"

/* Runs the test for every protocol with out[p].present == YES, filling test_mapping, deleted
 * and error. server: an RFC 5780 server that supports RESPONSE-PORT. Returns 0,
 * -NC_E_CANCELLED / -NC_E_DEADLINE when the limits stopped it (what was done is in out), or a
 * negative error if nothing could be tried at all. */
int nc_pm_test(const struct nc_pm_cfg *cfg, const struct nc_addr *server,
	       struct nc_pm_registry *reg, struct nc_portmap_result out[NC_PM_COUNT]);

#endif
