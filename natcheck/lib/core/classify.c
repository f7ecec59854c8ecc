#include "classify.h"

#include "classify_evidence.h"

#include "stun.h"

#include <string.h>

const struct nc_addr *nc_obs_mapped(const struct nc_obs *o)
{
	return nc_addr_is_set(&o->xor_mapped) ? &o->xor_mapped : &o->mapped;
}

struct nc_addr nc_expected_source(const struct nc_addr *dest, const struct nc_addr *other,
				  uint32_t change_flags)
{
	struct nc_addr e = *dest;

	if (!change_flags)
		return e;
	if (!nc_addr_is_set(other)) {
		memset(&e, 0, sizeof(e));
		return e;
	}
	/* RFC 5780 §6 Table 1: change IP -> Ca, change port -> Cp. */
	if (change_flags & STUN_CHANGE_IP)
		memcpy(e.ip, other->ip, sizeof(e.ip));
	if (change_flags & STUN_CHANGE_PORT)
		e.port = other->port;
	return e;
}

static const struct nc_obs *find_role(const struct nc_result *r, enum nc_role role)
{
	for (unsigned i = 0; i < r->n_obs; i++)
		if (r->obs[i].role == role)
			return &r->obs[i];
	return NULL;
}

static bool answered(const struct nc_obs *o)
{
	return o && o->outcome == NC_OUT_ANSWERED && nc_addr_is_set(nc_obs_mapped(o));
}

/* The plain request that shares a socket with a filtering probe: its positive control. */
static const struct nc_obs *control_for(const struct nc_result *r, const struct nc_obs *probe)
{
	for (unsigned i = 0; i < r->n_obs; i++)
		if (r->obs[i].role == NC_ROLE_FILTER_CONTROL && r->obs[i].socket == probe->socket)
			return &r->obs[i];
	return NULL;
}

static void classify_reachability(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;
	bool any_sent = false;

	u->reachable = NC_TRI_UNKNOWN;
	for (unsigned i = 0; i < r->n_obs; i++) {
		const struct nc_obs *o = &r->obs[i];
		if (o->role == NC_ROLE_HAIRPIN || o->change_flags || o->response_port)
			continue; /* only plain requests can prove reachability */
		if (o->outcome != NC_OUT_NONE && o->outcome != NC_OUT_SEND_FAILED)
			any_sent = true;
		if (answered(o))
			u->reachable = NC_TRI_YES;
	}
	if (u->reachable != NC_TRI_YES && any_sent)
		u->reachable = NC_TRI_NO;
}

static void classify_alg(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;

	u->alg = NC_TRI_UNKNOWN;
	for (unsigned i = 0; i < r->n_obs; i++) {
		const struct nc_obs *o = &r->obs[i];
		if (!answered(o) || !nc_addr_is_set(&o->mapped) || !nc_addr_is_set(&o->xor_mapped))
			continue;
		/* RFC 5780 §3.6: a payload-rewriting ALG changes MAPPED-ADDRESS but cannot
		 * recognise the XOR-ed copy. */
		if (!nc_addr_eq(&o->mapped, &o->xor_mapped)) {
			u->alg = NC_TRI_YES;
			return;
		}
		u->alg = NC_TRI_NO;
	}
}

static void classify_mapping(struct nc_result *r, const struct nc_obs *prim)
{
	struct nc_udp_result *u = &r->udp;
	const struct nc_obs *alt_ip = find_role(r, NC_ROLE_MAP_ALT_IP);
	const struct nc_obs *alt_both = find_role(r, NC_ROLE_MAP_ALT_BOTH);
	const struct nc_obs *alt_port = find_role(r, NC_ROLE_MAP_ALT_PORT);
	const struct nc_obs *srv2 = find_role(r, NC_ROLE_MAP_SERVER2);
	const struct nc_addr *m1 = nc_obs_mapped(prim);
	bool port_eq = !answered(alt_port) || nc_addr_eq(nc_obs_mapped(alt_port), m1);

	u->mapping_port_only = false;
	if (u->nat == NC_TRI_NO) {
		u->mapping = NC_BEH_NONE;
		return;
	}
	if (answered(alt_ip)) {
		const struct nc_addr *m2 = nc_obs_mapped(alt_ip);
		if (nc_addr_eq(m2, m1)) {
			/* Same mapping towards another address (RFC 5780 §4.3 test II). A change
			 * with the port alone still makes it port-dependent. */
			if (port_eq && (!answered(alt_both) || nc_addr_eq(nc_obs_mapped(alt_both), m1))) {
				u->mapping = NC_BEH_EI;
			} else {
				u->mapping = NC_BEH_APD;
				u->mapping_port_only = true;
			}
		} else if (answered(alt_both)) {
			/* Test III: same as test II -> address-dependent (§4.3). */
			u->mapping = nc_addr_eq(nc_obs_mapped(alt_both), m2) && port_eq ? NC_BEH_AD
										    : NC_BEH_APD;
		} else if (answered(alt_port)) {
			u->mapping = port_eq ? NC_BEH_AD : NC_BEH_APD;
		} else {
			u->mapping = NC_BEH_UNKNOWN;
			nc_result_note(r, "mapping: changes with the destination address, but no "
					  "answer from the alternate port tells address-dependent "
					  "from address-and-port-dependent");
		}
		return;
	}
	if (answered(srv2)) {
		if (nc_addr_eq(nc_obs_mapped(srv2), m1) && port_eq) {
			u->mapping = NC_BEH_EI;
			nc_result_note(r, "mapping: compared across two servers only (no alternate "
					  "address): same mapping, so endpoint-independent");
		} else {
			u->mapping = NC_BEH_UNKNOWN;
			nc_result_note(r, "mapping: differs between the two servers (endpoint-"
					  "dependent); a server with an alternate address and port is "
					  "needed to tell address- from address-and-port-dependent");
		}
		return;
	}
	u->mapping = NC_BEH_UNKNOWN;
	if (!nc_addr_is_set(&r->server.other))
		nc_result_note(r, "mapping: not tested: the server has no alternate address "
				  "(single-address RFC 5780 server) and no second server was given");
	else
		nc_result_note(r, "mapping: not tested: no answer from the server's alternate "
				  "address");
}

/* Outcome of one filtering probe, with its positive control taken into account:
 * 1 = answered from the right source, 0 = no answer while the control got one,
 * -1 = inconclusive. */
static int filter_probe(struct nc_result *r, const struct nc_obs *o, const char *what)
{
	const struct nc_obs *ctl;
	char exp[NC_ADDR_STRLEN], got[NC_ADDR_STRLEN];

	if (!o || o->outcome == NC_OUT_NONE)
		return -1;
	switch (o->outcome) {
	case NC_OUT_ANSWERED:
		return 1;
	case NC_OUT_WRONG_SOURCE:
		nc_result_note(r, "filtering: the %s answer came from %s, not %s: the server does "
				  "not honour CHANGE-REQUEST", what, nc_addr_str(&o->from, got),
			       nc_addr_str(&o->expect, exp));
		return -1;
	case NC_OUT_ERROR:
		nc_result_note(r, "filtering: the server refused CHANGE-REQUEST (error %u)",
			       o->error_code);
		return -1;
	case NC_OUT_TIMEOUT:
		ctl = control_for(r, o);
		if (ctl && answered(ctl))
			return 0;
		nc_result_note(r, "filtering: no answer to the %s test and none to its control "
				  "request either: inconclusive", what);
		return -1;
	default:
		return -1;
	}
}

static void classify_filtering(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;
	int both = filter_probe(r, find_role(r, NC_ROLE_FILTER_IP_PORT), "change-address-and-port");
	int port = filter_probe(r, find_role(r, NC_ROLE_FILTER_PORT), "change-port");

	if (!nc_addr_is_set(&r->server.other)) {
		u->filtering = NC_BEH_UNKNOWN;
		nc_result_note(r, "filtering: not tested: the server has no alternate address, so "
				  "it cannot answer from an address this host never contacted");
		return;
	}
	/* The server offers CHANGE-REQUEST when it names an alternate endpoint and no change
	 * probe came back as an error or from the wrong source; silence is the NAT's doing. */
	r->server.change_supported = both >= 0 || port >= 0;
	/* RFC 5780 §4.4: an answer from Ca:Cp -> EIF; else one from Da:Cp -> ADF; else APDF. */
	if (both == 1)
		u->filtering = NC_BEH_EI;
	else if (both == 0 && port == 1)
		u->filtering = NC_BEH_AD;
	else if (both == 0 && port == 0)
		u->filtering = NC_BEH_APD;
	else
		u->filtering = NC_BEH_UNKNOWN;
	if (both == 1 && port == 0)
		nc_result_note(r, "filtering: answers from another address passed but one from "
				  "another port did not: not a behaviour RFC 4787 describes");
	/* A host without NAT that nothing filters is "none", not EIF (stuntman #61). */
	if (u->nat == NC_TRI_NO && u->filtering == NC_BEH_EI)
		u->filtering = NC_BEH_NONE;
}

static int16_t port_delta(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(b - a);
}

static void classify_allocation(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;
	int16_t deltas[NC_MAX_ALLOC];
	unsigned nd = 0, best = 0, preserved = 0, parity = 0;
	int16_t best_delta = 0;

	u->alloc.n = 0;
	for (unsigned i = 0; i < r->n_obs && u->alloc.n < NC_MAX_ALLOC; i++) {
		const struct nc_obs *o = &r->obs[i];
		if (o->role != NC_ROLE_ALLOC || !answered(o))
			continue;
		u->alloc.s[u->alloc.n].local_port = o->local.port;
		u->alloc.s[u->alloc.n].public_ep = *nc_obs_mapped(o);
		u->alloc.n++;
	}
	u->alloc.pattern = NC_ALLOC_UNKNOWN;
	u->alloc.delta = 0;
	u->alloc.parity = NC_TRI_UNKNOWN;
	if (u->alloc.n < 3)
		return;
	for (unsigned i = 0; i < u->alloc.n; i++) {
		uint16_t lp = u->alloc.s[i].local_port, pp = u->alloc.s[i].public_ep.port;
		preserved += lp == pp;
		parity += (lp & 1) == (pp & 1);
		if (i > 0)
			deltas[nd++] = port_delta(u->alloc.s[i - 1].public_ep.port, pp);
	}
	u->alloc.parity = parity == u->alloc.n ? NC_TRI_YES : NC_TRI_NO;
	if (preserved == u->alloc.n) {
		u->alloc.pattern = NC_ALLOC_PRESERVING;
		return;
	}
	/* The samples are sent back to back in socket order, so a sequential allocator shows
	 * one constant step. Accept a majority (another host may take a port in between). */
	for (unsigned i = 0; i < nd; i++) {
		unsigned c = 0;
		for (unsigned j = 0; j < nd; j++)
			c += deltas[j] == deltas[i];
		if (c > best) {
			best = c;
			best_delta = deltas[i];
		}
	}
	if (best_delta != 0 && best * 10 >= nd * 6 && best_delta >= -64 && best_delta <= 64) {
		u->alloc.pattern = NC_ALLOC_SEQUENTIAL;
		u->alloc.delta = best_delta;
	} else {
		u->alloc.pattern = NC_ALLOC_RANDOM;
	}
}

static void add_public_ip(struct nc_udp_result *u, const struct nc_addr *a)
{
	struct nc_addr ip = *a;

	ip.port = 0;
	for (unsigned i = 0; i < u->n_public; i++)
		if (nc_addr_ip_eq(&u->public_ips[i], &ip))
			return;
	if (u->n_public < NC_MAX_PUBLIC)
		u->public_ips[u->n_public++] = ip;
}

static void classify_pooling(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;
	bool arbitrary = false;

	u->n_public = 0;
	for (unsigned i = 0; i < r->n_obs; i++) {
		const struct nc_obs *o = &r->obs[i];
		if (o->role == NC_ROLE_HAIRPIN || !answered(o))
			continue;
		add_public_ip(u, nc_obs_mapped(o));
		/* One internal endpoint seen at two external addresses: arbitrary pooling. */
		for (unsigned j = 0; j < i; j++) {
			const struct nc_obs *p = &r->obs[j];
			if (p->socket == o->socket && p->role != NC_ROLE_HAIRPIN && answered(p) &&
			    !nc_addr_ip_eq(nc_obs_mapped(p), nc_obs_mapped(o)))
				arbitrary = true;
		}
	}
	if (u->n_public == 0)
		u->pooling = NC_POOL_UNKNOWN;
	else if (arbitrary)
		u->pooling = NC_POOL_ARBITRARY;
	else
		u->pooling = u->n_public == 1 ? NC_POOL_SINGLE : NC_POOL_PAIRED;
}

static void classify_hairpin(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;
	const struct nc_obs *hp = find_role(r, NC_ROLE_HAIRPIN);

	u->hairpin = NC_TRI_UNKNOWN;
	u->hairpin_src = NC_HP_UNKNOWN;
	memset(&u->hairpin_from, 0, sizeof(u->hairpin_from));
	if (!hp || hp->outcome == NC_OUT_NONE || hp->outcome == NC_OUT_SEND_FAILED)
		return;
	if (u->nat == NC_TRI_NO) {
		nc_result_note(r, "hairpin: not applicable without a NAT");
		return;
	}
	if (hp->outcome != NC_OUT_ANSWERED) {
		u->hairpin = NC_TRI_NO;
		return;
	}
	u->hairpin = NC_TRI_YES;
	u->hairpin_from = hp->from;
	/* RFC 4787 REQ-9: the hairpinned packet must carry the sender's external endpoint. */
	if (nc_addr_eq(&hp->from, &hp->mapped))
		u->hairpin_src = NC_HP_EXTERNAL;
	else if (nc_addr_eq(&hp->from, &hp->local))
		u->hairpin_src = NC_HP_INTERNAL;
	else
		u->hairpin_src = NC_HP_OTHER;
}

static void classify_rtt(struct nc_result *r)
{
	uint32_t best = 0;

	for (unsigned i = 0; i < r->n_obs; i++) {
		const struct nc_obs *o = &r->obs[i];
		if (o->role != NC_ROLE_MAP_PRIMARY && o->role != NC_ROLE_FILTER_CONTROL &&
		    o->role != NC_ROLE_ALLOC)
			continue;
		if (answered(o) && o->attempts == 1 && (best == 0 || o->rtt_us < best))
			best = o->rtt_us;
	}
	r->udp.rtt_us = best;
}

void nc_classify_udp(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;
	const struct nc_obs *prim = find_role(r, NC_ROLE_MAP_PRIMARY);

	/* Re-classification starts from the observations alone. */
	u->nat = NC_TRI_UNKNOWN;
	u->mapping = u->filtering = NC_BEH_UNKNOWN;
	u->port_preserved = NC_TRI_UNKNOWN;
	memset(&u->local, 0, sizeof(u->local));
	memset(&u->public_ep, 0, sizeof(u->public_ep));

	/* Expected sources are a function of the server's alternate address. */
	for (unsigned i = 0; i < r->n_obs; i++) {
		struct nc_obs *o = &r->obs[i];
		if (o->role == NC_ROLE_FILTER_IP_PORT || o->role == NC_ROLE_FILTER_PORT) {
			o->expect = nc_expected_source(&o->dest, &r->server.other, o->change_flags);
			if (o->outcome == NC_OUT_ANSWERED && !nc_addr_eq(&o->from, &o->expect))
				o->outcome = NC_OUT_WRONG_SOURCE;
		}
	}

	classify_reachability(r);
	classify_alg(r);
	classify_rtt(r);
	classify_allocation(r);
	classify_pooling(r);
	if (!answered(prim)) {
		u->hairpin = NC_TRI_UNKNOWN;
		if (u->reachable == NC_TRI_NO)
			nc_result_note(r, "udp: no answer from the server: UDP is blocked, or the "
					  "server is down");
		else
			nc_result_note(r, "udp: the primary mapping request got no usable answer");
		return;
	}
	u->local = prim->local;
	u->public_ep = *nc_obs_mapped(prim);
	u->nat = nc_addr_eq(&u->public_ep, &u->local) ? NC_TRI_NO : NC_TRI_YES;
	u->port_preserved = u->public_ep.port == u->local.port ? NC_TRI_YES : NC_TRI_NO;
	classify_mapping(r, prim);
	classify_filtering(r);
	classify_hairpin(r);
}

void nc_result_classify(struct nc_result *r)
{
	nc_classify_begin(r);
	nc_classify_udp(r);
	nc_classify_finish(r); /* bounce fold, TCP, topology, mapping stability */
}
