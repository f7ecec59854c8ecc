/* Anonymising a result before it leaves the machine: a pure function of the result.
 *
 * The report needs verdicts, not endpoints. An address is kept only as its network (IPv4 /24,
 * IPv6 /48: the usual analytics truncation, enough to tell networks and carriers apart, not
 * subscribers); addresses that are not public say nothing useful outside the user's network
 * and go. Free text (notes, port-mapping errors) can hold anything and goes too. */
#include <natcheck/submit.h>

#include <string.h>

bool nc_addr_anonymise(struct nc_addr *a)
{
	if (!nc_addr_is_set(a))
		return false;
	if (nc_addr_scope(a) != NC_SCOPE_PUBLIC) {
		memset(a, 0, sizeof(*a));
		return false;
	}
	/* IPv4 /24 keeps 3 bytes; IPv6 /48 keeps 6. */
	size_t keep = a->family == 2 /* AF_INET */ ? 3 : 6;
	memset(a->ip + keep, 0, sizeof(a->ip) - keep);
	a->port = 0;
	return true;
}

void nc_result_anonymise(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;
	uint8_t n = 0;

	nc_addr_anonymise(&u->local);
	nc_addr_anonymise(&u->public_ep);
	nc_addr_anonymise(&u->hairpin_from);
	/* The pattern, delta and parity stay; the samples are endpoints. */
	u->alloc.n = 0;
	memset(u->alloc.s, 0, sizeof(u->alloc.s));
	/* Distinct external addresses: their number is what pooling is about; keep each cut
	 * address once. */
	for (uint8_t i = 0; i < u->n_public && i < NC_MAX_PUBLIC; i++) {
		struct nc_addr a = u->public_ips[i];
		bool seen = false;
		if (!nc_addr_anonymise(&a))
			continue;
		for (uint8_t j = 0; j < n; j++)
			seen = seen || nc_addr_ip_eq(&u->public_ips[j], &a);
		if (!seen)
			u->public_ips[n++] = a;
	}
	for (uint8_t i = n; i < NC_MAX_PUBLIC; i++)
		memset(&u->public_ips[i], 0, sizeof(u->public_ips[i]));
	u->n_public = n;
	for (int p = 0; p < NC_PM_COUNT; p++) {
		nc_addr_anonymise(&r->portmap[p].external);
		r->portmap[p].error[0] = '\0';
	}
	r->n_notes = 0;
	memset(r->notes, 0, sizeof(r->notes));
	r->notes_derived = 0;
	r->n_obs = 0;
	memset(r->obs, 0, sizeof(r->obs));
	/* The evidence under the TCP, topology and mapping-stability verdicts is endpoints too:
	 * TCP probes (local and mapped endpoints), the routers on the path (the first is the
	 * user's own, the next ones name the access network), the mapping samples over time.
	 * The verdicts derived from them stay. */
	r->n_tcp_obs = 0;
	memset(r->tcp_obs, 0, sizeof(r->tcp_obs));
	memset(&r->hops, 0, sizeof(r->hops));
	memset(&r->track, 0, sizeof(r->track));
	/* The day is enough to follow NATs over time; the minute could tie a document to a
	 * connection log. */
	if (strlen(r->started) >= 10 && r->started[4] == '-' && r->started[7] == '-') {
		r->started[10] = '\0';
		strcat(r->started, "T00:00:00Z");
	}
}
