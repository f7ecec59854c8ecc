/* NAT layers, carrier-grade NAT and double NAT from the host's address, the routers on the
 * path (r->hops, from nc_probe_hops()) and what port-mapping gateways claim (topology.h has
 * the signals). Pure: a saved result re-classifies to the same verdicts. */
#include "classify_evidence.h"

#include <stdio.h>
#include <string.h>

static const char *realm(const struct nc_addr *a)
{
	switch (nc_addr_scope(a)) {
	case NC_SCOPE_CGNAT: return "carrier shared space";
	case NC_SCOPE_PRIVATE: return "private";
	default: return "public";
	}
}

void nc_classify_hops(struct nc_result *r)
{
	struct nc_topology *t = &r->topology;
	const struct nc_udp_result *u = &r->udp;
	const struct nc_hops *hops = &r->hops;
	bool cgnat = false, extra_nat = false, single = false;
	char a[NC_ADDR_STRLEN], b[NC_ADDR_STRLEN], path[NC_NOTE_LEN] = "";

	t->nat_layers = -1;
	t->cgnat = t->double_nat = NC_TRI_UNKNOWN;
	if (u->nat == NC_TRI_NO) {
		t->nat_layers = 0;
		t->cgnat = t->double_nat = NC_TRI_NO;
		return;
	}
	if (u->nat != NC_TRI_YES)
		return;
	if (nc_addr_scope(&u->local) == NC_SCOPE_CGNAT) {
		cgnat = true;
		nc_result_note(r, "topology: this host's own address %s is in 100.64.0.0/10, the "
				  "space carriers give subscribers behind a carrier-grade NAT",
			       nc_addr_ip_str(&u->local, a));
	}

	/* The path: the first hop is the home gateway; private or shared-space routers after
	 * it, before the first public one, are further address realms. */
	if (hops->n) {
		size_t off = 0;
		bool gateway_private = false, silent = false, public_seen = false;
		for (unsigned i = 0; i < hops->n && i < NC_MAX_HOPS && (!hops->reached_at || i + 1 < hops->reached_at); i++) {
			const struct nc_addr *h = &hops->hop[i];
			off += (size_t)snprintf(path + off, off < sizeof(path) ? sizeof(path) - off : 0, "%s%s",
						i ? ", " : "", nc_addr_is_set(h) ? nc_addr_ip_str(h, a) : "*");
			if (!nc_addr_is_set(h)) {
				silent = true;
				continue;
			}
			if (nc_addr_scope(h) == NC_SCOPE_PUBLIC) {
				public_seen = true;
				break;
			}
			if (i == 0) {
				gateway_private = true;
				continue;
			}
			if (nc_addr_scope(h) == NC_SCOPE_CGNAT)
				cgnat = true;
			else if (nc_addr_scope(h) == NC_SCOPE_PRIVATE)
				extra_nat = true;
		}
		/* Every router between the private gateway and the first public router (or the
		 * server itself) answered, and none was in another private realm: one NAT. */
		if (gateway_private && !silent && !cgnat && !extra_nat && (public_seen || hops->reached_at))
			single = true;
		if (off)
			nc_result_note(r, "topology: routers on the path to the server: %s", path);
	}

	/* Port-mapping gateways report the address they map to. */
	for (int p = 0; p < NC_PM_COUNT; p++) {
		const struct nc_portmap_result *m = &r->portmap[p];
		if (m->present != NC_TRI_YES || !nc_addr_is_set(&m->external))
			continue;
		if (nc_addr_scope(&m->external) == NC_SCOPE_CGNAT)
			cgnat = true;
		else if (nc_addr_scope(&m->external) == NC_SCOPE_PRIVATE)
			extra_nat = true;
		else if (!nc_addr_ip_eq(&m->external, &u->public_ep))
			extra_nat = true;
		else
			single = !cgnat && !extra_nat;
		if (!nc_addr_ip_eq(&m->external, &u->public_ep))
			nc_result_note(r, "topology: %s says the gateway's external address is %s (%s), but "
					  "servers see %s: another NAT sits above the gateway",
				       nc_pm_proto_name((enum nc_pm_proto)p), nc_addr_ip_str(&m->external, a),
				       realm(&m->external), nc_addr_ip_str(&u->public_ep, b));
	}

	if (cgnat || extra_nat) {
		t->cgnat = cgnat ? NC_TRI_YES : NC_TRI_NO;
		/* A host that itself sits in shared space has just the carrier's NAT. */
		t->nat_layers = (int8_t)(nc_addr_scope(&u->local) == NC_SCOPE_CGNAT && !extra_nat ? 1 : 2);
		t->double_nat = t->nat_layers >= 2 ? NC_TRI_YES : NC_TRI_NO;
	} else if (single) {
		t->nat_layers = 1;
		t->cgnat = t->double_nat = NC_TRI_NO;
	}
}

void nc_classify_topology(struct nc_result *r, const struct nc_hops *hops)
{
	if (hops)
		memmove(&r->hops, hops, sizeof(r->hops));
	else
		memset(&r->hops, 0, sizeof(r->hops));
	nc_classify_hops(r);
}
