/* Mapping stability: a NAT that moves a binding in use to another public endpoint (seen
 * behind some firewalls a few seconds after the binding was made) breaks every peer that
 * learnt the first one. The lifetime test keeps one binding busy and samples its endpoint. */
#include "classify_evidence.h"

void nc_classify_stability(struct nc_result *r)
{
	const struct nc_map_track *t = &r->track;
	struct nc_udp_result *u = &r->udp;
	char a[NC_ADDR_STRLEN], b[NC_ADDR_STRLEN];

	u->mapping_stable = NC_TRI_UNKNOWN;
	u->mapping_change_ms = 0;
	if (t->n < 2)
		return;
	for (unsigned i = 1; i < t->n && i < NC_MAX_MAP_SAMPLES; i++) {
		if (nc_addr_eq(&t->s[i].public_ep, &t->s[0].public_ep))
			continue;
		u->mapping_stable = NC_TRI_NO;
		u->mapping_change_ms = t->s[i].at_ms;
		nc_result_note(r, "mapping: the binding in use moved from %s to %s %.1f s after it "
				  "was made (last seen at the old one after %.1f s): peers that "
				  "learnt the first endpoint lose the path",
			       nc_addr_str(&t->s[0].public_ep, a), nc_addr_str(&t->s[i].public_ep, b),
			       t->s[i].at_ms / 1000.0, t->s[i - 1].at_ms / 1000.0);
		return;
	}
	u->mapping_stable = NC_TRI_YES;
}
