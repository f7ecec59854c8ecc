#include "classify.h"

#include "classify_evidence.h"

#include "stun.h"

#include <netinet/in.h>
#include <stdio.h>
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

static bool ip_is_zero(const struct nc_addr *a)
{
	static const uint8_t zero[16];
	return memcmp(a->ip, zero, a->family == AF_INET6 ? 16 : 4) == 0;
}

const char *nc_endpoint_problem(const struct nc_addr *ep, const struct nc_addr *server)
{
	enum nc_addr_scope se, ss;

	if (!nc_addr_is_set(ep))
		return "no address";
	if (nc_addr_is_set(server) && ep->family != server->family)
		return "not of the server's address family";
	if (ep->port == 0)
		return "port 0";
	if (ip_is_zero(ep))
		return "the unspecified address";
	if (ep->family == AF_INET && ep->ip[0] >= 224)
		return ep->ip[0] < 240 ? "a multicast address" : "a broadcast or reserved address";
	if (ep->family == AF_INET6 && ep->ip[0] == 0xff)
		return "a multicast address";
	if (!nc_addr_is_set(server))
		return NULL;
	se = nc_addr_scope(ep);
	ss = nc_addr_scope(server);
	if (se == ss)
		return NULL;
	switch (ss) {
	case NC_SCOPE_PUBLIC:
		return "not a public address, though the server's is";
	case NC_SCOPE_LOOPBACK:
		return "not a loopback address, though the server's is";
	case NC_SCOPE_LINKLOCAL:
		return "not a link-local address, though the server's is";
	case NC_SCOPE_PRIVATE:
	case NC_SCOPE_CGNAT:
	case NC_SCOPE_OTHER_RESERVED:
		/* A server in private space may name a public alternate; never this host's
		 * own loopback or link. */
		if (se == NC_SCOPE_LOOPBACK || se == NC_SCOPE_LINKLOCAL)
			return "a loopback or link-local address, though the server's is not";
		if (se == NC_SCOPE_OTHER_RESERVED)
			return "a reserved address (documentation, benchmarking, ...)";
		return NULL;
	}
	return NULL;
}

bool nc_obs_usable(const struct nc_obs *o)
{
	const struct nc_addr *m = nc_obs_mapped(o);
	uint8_t fam = nc_addr_is_set(&o->local) ? o->local.family : o->dest.family;

	return o->outcome == NC_OUT_ANSWERED && nc_addr_is_set(m) && m->family == fam;
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
	return o && nc_obs_usable(o);
}

/* A plain Binding request (no CHANGE-REQUEST, no RESPONSE-PORT, not the hairpin): only its
 * answers say whether UDP reaches the server and what the server makes of it. */
static bool plain(const struct nc_obs *o)
{
	return o->role != NC_ROLE_HAIRPIN && o->role != NC_ROLE_LIFETIME && !o->change_flags &&
	       !o->response_port;
}

/* The server answered o, usable or not. */
static bool responded(const struct nc_obs *o)
{
	return o->outcome == NC_OUT_ANSWERED || o->outcome == NC_OUT_ERROR ||
	       o->outcome == NC_OUT_WRONG_SOURCE || o->outcome == NC_OUT_MALFORMED;
}

/* Negative evidence (RFC 4787 tests whose silence is the verdict): the probe must have kept
 * trying at least as long as its positive control needed to succeed (its last copy left no
 * earlier than the control's answered one) and waited at least the control's round trip after
 * its last copy. A result written before these times were recorded (given_up_us 0) is judged
 * as it was then. Returns NULL when the silence counts, else why it does not. */
static const char *silence_problem(const struct nc_obs *probe, const struct nc_obs *ctl)
{
	uint64_t rtt = ctl->rtt_us, first_us = (uint64_t)ctl->sent_ms * 1000u;

	if (probe->given_up_us == 0)
		return NULL;
	if (probe->last_sent_us < ctl->last_sent_us)
		return "it stopped trying before its control request was answered (a slow or "
		       "lossy path at the start)";
	/* A control answered after retransmissions may have been answered for any of them
	 * (Karn): its round trip is only bounded by the time since its first transmission. */
	if (ctl->attempts > 1 && ctl->last_sent_us + rtt > first_us)
		rtt = ctl->last_sent_us + rtt - first_us;
	if (probe->given_up_us - probe->last_sent_us < rtt)
		return "it waited less than one round trip after its last try";
	return NULL;
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
		if (!plain(o))
			continue; /* only plain requests can prove reachability */
		if (o->outcome != NC_OUT_NONE && o->outcome != NC_OUT_SEND_FAILED)
			any_sent = true;
		/* Any answer, even an error or a malformed one, shows that UDP gets through. */
		if (responded(o))
			u->reachable = NC_TRI_YES;
	}
	if (u->reachable != NC_TRI_YES && any_sent)
		u->reachable = NC_TRI_NO;
}

static void classify_alg(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;

	char m[NC_ADDR_STRLEN], x[NC_ADDR_STRLEN];

	u->alg = NC_TRI_UNKNOWN;
	for (unsigned i = 0; i < r->n_obs; i++) {
		const struct nc_obs *o = &r->obs[i];
		bool both = nc_addr_is_set(&o->mapped) && nc_addr_is_set(&o->xor_mapped);
		if (!answered(o))
			continue;
		/* RFC 5780 §3.6: a payload-rewriting ALG changes MAPPED-ADDRESS but cannot
		 * recognise the XOR-ed copy; a naive one leaves FINGERPRINT as it was. */
		if ((both && !nc_addr_eq(&o->mapped, &o->xor_mapped)) || o->fp_stale) {
			u->alg = NC_TRI_YES;
			if (o->fp_stale)
				nc_result_note(r, "alg: answers arrived with a stale FINGERPRINT%s%s%s%s: "
						  "something on the path rewrote them (a STUN ALG); "
						  "XOR-MAPPED-ADDRESS, which it left alone, is used",
					       both ? " and MAPPED-ADDRESS " : "",
					       both ? nc_addr_str(&o->mapped, m) : "",
					       both ? " instead of " : "",
					       both ? nc_addr_str(&o->xor_mapped, x) : "");
			return;
		}
		if (both)
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
				if (!answered(alt_port) && !answered(alt_both))
					nc_result_note(r, "mapping: the same towards both server addresses, "
							  "but the server's other port never answered: a "
							  "mapping that changes with the destination port "
							  "alone would go unnoticed");
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
	case NC_OUT_TIMEOUT: {
		const char *why;
		ctl = control_for(r, o);
		if (!ctl || !answered(ctl)) {
			nc_result_note(r, "filtering: no answer to the %s test and none to its "
					  "control request either: inconclusive", what);
			return -1;
		}
		if ((why = silence_problem(o, ctl))) {
			nc_result_note(r, "filtering: no answer to the %s test, but %s: "
					  "inconclusive", what, why);
			return -1;
		}
		return 0;
	}
	case NC_OUT_MALFORMED:
		nc_result_note(r, "filtering: the %s answer was malformed", what);
		return -1;
	default:
		return -1;
	}
}

/* Whether a plain request to the server's alternate port went unanswered. */
static bool unreachable_port(const struct nc_result *r)
{
	for (unsigned i = 0; i < r->server.n_unreachable; i++)
		if (r->server.unreachable[i].port == r->server.other.port &&
		    r->server.other.port != r->server.primary.port)
			return true;
	return false;
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
	/* Answers from the server's other port (A1:P2, A2:P2) are what the filtering tests wait
	 * for: when plain requests to that port went unanswered too, the path may drop that port
	 * whatever the NAT does. */
	if ((u->filtering == NC_BEH_AD || u->filtering == NC_BEH_APD) && unreachable_port(r))
		nc_result_note(r, "filtering: the server's other port was unreachable for plain "
				  "requests too, so the silence may be a firewall's on the path rather "
				  "than the NAT's filtering");
	/* A host without NAT that nothing filters is "none", not EIF (stuntman #61). */
	if (u->nat == NC_TRI_NO && u->filtering == NC_BEH_EI)
		u->filtering = NC_BEH_NONE;
}

static int16_t port_delta(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(b - a);
}

/* Port overloading (RFC 4787 §4.2.3): two internal endpoints seen on one public endpoint.
 * The NAT then tells their flows apart by the remote endpoint alone. */
static void classify_overloading(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;
	struct nc_addr locals[NC_MAX_OBS], publics[NC_MAX_OBS];
	unsigned n = 0, shared = 0, distinct_pub = 0;

	u->alloc.port_overloading = NC_TRI_UNKNOWN;
	for (unsigned i = 0; i < r->n_obs; i++) {
		const struct nc_obs *o = &r->obs[i];
		bool seen = false;
		if (!plain(o) || !answered(o))
			continue;
		for (unsigned j = 0; j < n && !seen; j++)
			seen = nc_addr_eq(&locals[j], &o->local) &&
			       nc_addr_eq(&publics[j], nc_obs_mapped(o));
		if (seen)
			continue;
		locals[n] = o->local;
		publics[n++] = *nc_obs_mapped(o);
	}
	if (n < 2)
		return;
	for (unsigned i = 0; i < n; i++) {
		bool first = true, shares = false;
		for (unsigned j = 0; j < n; j++) {
			if (j == i || !nc_addr_eq(&publics[j], &publics[i]))
				continue;
			if (j < i)
				first = false;
			if (!nc_addr_eq(&locals[j], &locals[i]))
				shares = true;
		}
		distinct_pub += first;
		shared += shares;
	}
	u->alloc.port_overloading = shared ? NC_TRI_YES : NC_TRI_NO;
	if (shared)
		nc_result_note(r, "allocation: %u local endpoints shared %u public endpoints (port "
				  "overloading): the NAT tells their flows apart only by the remote "
				  "endpoint, so a peer reaches this host only through a path this host "
				  "opened to that very peer, and port prediction does not apply",
			       n, distinct_pub);
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
	classify_overloading(r);
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
		const struct nc_obs *prim = find_role(r, NC_ROLE_MAP_PRIMARY);
		const char *why = hp->outcome == NC_OUT_TIMEOUT && prim
					  ? silence_problem(hp, prim)
					  : "the probe did not run to the end";
		if (why) {
			nc_result_note(r, "hairpin: no hairpinned packet arrived, but %s: "
					  "inconclusive", why);
			return;
		}
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

/* Server endpoints that never answered a plain request while the primary did. */
static void classify_unreachable(struct nc_result *r)
{
	struct nc_server_info *sv = &r->server;
	char list[NC_NOTE_LEN / 2] = "", a[NC_ADDR_STRLEN], p[NC_ADDR_STRLEN];
	size_t off = 0;

	sv->n_unreachable = 0;
	for (unsigned i = 0; i < r->n_obs; i++) {
		const struct nc_obs *o = &r->obs[i];
		bool dup = false;
		if ((o->role != NC_ROLE_MAP_ALT_IP && o->role != NC_ROLE_MAP_ALT_BOTH &&
		     o->role != NC_ROLE_MAP_ALT_PORT && o->role != NC_ROLE_MAP_SERVER2) ||
		    o->outcome != NC_OUT_TIMEOUT)
			continue;
		for (unsigned j = 0; j < sv->n_unreachable; j++)
			dup = dup || nc_addr_eq(&sv->unreachable[j], &o->dest);
		if (dup || sv->n_unreachable >= NC_MAX_UNREACHABLE)
			continue;
		sv->unreachable[sv->n_unreachable++] = o->dest;
		if (off < sizeof(list)) {
			int k = snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "",
					 nc_addr_str(&o->dest, a));
			off += k > 0 ? (size_t)k : 0;
		}
	}
	if (sv->n_unreachable)
		nc_result_note(r, "server: no answer from %s while %s answered: something on the "
				  "path (a firewall passing only some ports or addresses) drops that "
				  "traffic; mapping was compared only across the endpoints that "
				  "answered", list, nc_addr_str(&sv->primary, p));
}

/* When the primary mapping request got no usable answer although the server answered: why. */
static void classify_server_problem(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;
	unsigned n[NC_SRV_MALFORMED + 1] = {0};
	const struct nc_obs *first[NC_SRV_MALFORMED + 1] = {0};
	const struct nc_obs *o;
	char a[NC_ADDR_STRLEN], b[NC_ADDR_STRLEN];
	enum nc_server_problem best = NC_SRV_OK;

	u->server_problem = NC_SRV_OK;
	for (unsigned i = 0; i < r->n_obs; i++) {
		enum nc_server_problem p;
		o = &r->obs[i];
		if (!plain(o))
			continue;
		if (o->outcome == NC_OUT_ERROR)
			p = NC_SRV_ERRORS;
		else if (o->outcome == NC_OUT_WRONG_SOURCE)
			p = NC_SRV_WRONG_SOURCE;
		else if (o->outcome == NC_OUT_MALFORMED)
			p = NC_SRV_MALFORMED;
		else
			continue;
		if (n[p]++ == 0)
			first[p] = o;
		if (best == NC_SRV_OK || n[p] > n[best])
			best = p;
	}
	if (best == NC_SRV_OK)
		return;
	u->server_problem = best;
	o = first[best];
	switch (best) {
	case NC_SRV_ERRORS:
		nc_result_note(r, "udp: the server answered with STUN errors (%u %s) instead of "
				  "mapped addresses: UDP reaches it, but it refused the tests",
			       o->error_code, stun_error_reason(o->error_code));
		break;
	case NC_SRV_WRONG_SOURCE:
		nc_result_note(r, "udp: the server's answers came from %s, not from %s where the "
				  "requests went: UDP reaches it, but its answers cannot be trusted "
				  "for the tests (a multi-homed server or a balancer in front of it)",
			       nc_addr_str(&o->from, a), nc_addr_str(&o->dest, b));
		break;
	default:
		nc_result_note(r, "udp: the server's answers were malformed (no valid mapped "
				  "address of this host's family): UDP reaches it, but nothing usable "
				  "came back");
		break;
	}
}

/* Answers whose mapped address cannot be this host's are malformed evidence, not an
 * address: none at all, another family than the request's (an IPv6 XOR-MAPPED-ADDRESS for
 * an IPv4 request), or a stale FINGERPRINT without the XOR-ed copy an ALG leaves alone. */
static void mark_malformed(struct nc_result *r)
{
	char a[NC_ADDR_STRLEN];

	for (unsigned i = 0; i < r->n_obs; i++) {
		struct nc_obs *o = &r->obs[i];
		const struct nc_addr *m = nc_obs_mapped(o);
		if (o->role == NC_ROLE_HAIRPIN || o->role == NC_ROLE_LIFETIME ||
		    o->outcome != NC_OUT_ANSWERED)
			continue;
		if (o->fp_stale && !nc_addr_is_set(&o->xor_mapped)) {
			o->outcome = NC_OUT_MALFORMED;
			nc_result_note(r, "udp: a %s answer had a stale FINGERPRINT and no "
					  "XOR-MAPPED-ADDRESS: rewritten on the way, not used",
				       nc_role_name(o->role));
		} else if (!nc_obs_usable(o)) {
			o->outcome = NC_OUT_MALFORMED;
			nc_result_note(r, "udp: a %s answer named %s as this host's address: not of "
					  "the request's family, so malformed evidence, not used",
				       nc_role_name(o->role),
				       nc_addr_is_set(m) ? nc_addr_str(m, a) : "nothing");
		}
	}
}

/* Endpoints the server named for itself must be plausible (see nc_endpoint_problem). */
static void check_server_endpoints(struct nc_result *r, const struct nc_obs *prim)
{
	struct nc_server_info *sv = &r->server;
	char a[NC_ADDR_STRLEN];
	const char *why;

	if (nc_addr_is_set(&sv->other) && (why = nc_endpoint_problem(&sv->other, &sv->primary))) {
		sv->bogus_other = sv->other;
		memset(&sv->other, 0, sizeof(sv->other));
	}
	if (nc_addr_is_set(&sv->bogus_other)) {
		why = nc_endpoint_problem(&sv->bogus_other, &sv->primary);
		nc_result_note(r, "server: its alternate address %s is bogus (%s): nothing was sent "
				  "there, and the tests that need it are unknown",
			       nc_addr_str(&sv->bogus_other, a), why ? why : "refused");
	}
	if (prim && nc_addr_is_set(&prim->response_origin) &&
	    (why = nc_endpoint_problem(&prim->response_origin, &sv->primary)))
		nc_result_note(r, "server: its RESPONSE-ORIGIN %s is bogus (%s); ignored",
			       nc_addr_str(&prim->response_origin, a), why);
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

	mark_malformed(r);
	check_server_endpoints(r, prim);
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
	u->server_problem = NC_SRV_OK;
	if (!answered(prim)) {
		classify_server_problem(r);
		u->hairpin = NC_TRI_UNKNOWN;
		r->server.n_unreachable = 0;
		/* With a server problem, its note already says what the server did. */
		if (u->server_problem == NC_SRV_OK && u->reachable == NC_TRI_NO)
			nc_result_note(r, "udp: no answer from the server: UDP is blocked, or the "
					  "server is down");
		else if (u->server_problem == NC_SRV_OK)
			nc_result_note(r, "udp: the primary mapping request got no usable answer");
		return;
	}
	u->local = prim->local;
	u->public_ep = *nc_obs_mapped(prim);
	u->nat = nc_addr_eq(&u->public_ep, &u->local) ? NC_TRI_NO : NC_TRI_YES;
	u->port_preserved = u->public_ep.port == u->local.port ? NC_TRI_YES : NC_TRI_NO;
	classify_unreachable(r);
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
