/* Third-party UDP filtering (Ford's server 3): a datagram from an address this host never
 * contacted either arrives (endpoint-independent filtering, whatever CHANGE-REQUEST said) or
 * does not (then the CHANGE-REQUEST verdict stands, with a note when the two disagree). */
#include "classify_evidence.h"

void nc_classify_bounce(struct nc_result *r)
{
	const struct nc_bounce *b = &r->bounce;
	struct nc_udp_result *u = &r->udp;
	char s[NC_ADDR_STRLEN];

	if (!b->tested)
		return;
	if (!b->offered) {
		nc_result_note(r, "filtering: no third-party test (the server has no bouncer)");
		return;
	}
	if (b->arrived == NC_TRI_YES) {
		if (u->filtering == NC_BEH_AD || u->filtering == NC_BEH_APD)
			nc_result_note(r, "filtering: a datagram from the third-party bouncer %s "
					  "arrived, but the CHANGE-REQUEST tests said %s: reporting "
					  "endpoint-independent",
				       nc_addr_str(&b->from, s), nc_beh_name(u->filtering));
		if (u->filtering == NC_BEH_UNKNOWN)
			nc_result_note(r, "filtering: endpoint-independent, from the third-party "
					  "bouncer %s", nc_addr_str(&b->from, s));
		if (u->filtering != NC_BEH_NONE)
			u->filtering = u->nat == NC_TRI_NO ? NC_BEH_NONE : NC_BEH_EI;
	} else if (b->arrived == NC_TRI_NO &&
		   (u->filtering == NC_BEH_EI || u->filtering == NC_BEH_NONE)) {
		nc_result_note(r, "filtering: the CHANGE-REQUEST test passed from the alternate "
				  "address, but the third-party bouncer's datagram did not arrive");
	}
}
