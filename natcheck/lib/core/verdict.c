/* Derived, plain-words verdicts: the classic NAT label and the hole-punching sentence. Pure
 * functions of a result's verdicts. */
#include <natcheck/result.h>

#include <stdio.h>
#include <string.h>

/* --- derived verdicts ------------------------------------------------------------------ */

static bool no_nat(const struct nc_udp_result *u)
{
	return u->nat == NC_TRI_NO || u->mapping == NC_BEH_NONE;
}

const char *nc_result_classic_label(const struct nc_result *r)
{
	const struct nc_udp_result *u = &r->udp;

	if (u->reachable == NC_TRI_NO)
		return "UDP blocked";
	if (u->reachable != NC_TRI_YES)
		return "unknown";
	/* RFC 3489 §10.1: no NAT, and test II answered -> open internet, else a firewall. */
	if (no_nat(u)) {
		switch (u->filtering) {
		case NC_BEH_NONE:
		case NC_BEH_EI:
			return "open internet";
		case NC_BEH_AD:
		case NC_BEH_APD:
			return "symmetric UDP firewall";
		default:
			return "unknown";
		}
	}
	switch (u->mapping) {
	case NC_BEH_EI:
		switch (u->filtering) {
		case NC_BEH_NONE:
		case NC_BEH_EI:
			return "full cone";
		case NC_BEH_AD:
			return "restricted cone";
		case NC_BEH_APD:
			return "port-restricted cone";
		default:
			return "unknown";
		}
	case NC_BEH_AD:
		/* RFC 3489 has no name for it; it punches like symmetric (sim-recipes §8). */
		return "symmetric (address-dependent)";
	case NC_BEH_APD:
		return "symmetric";
	default:
		return "unknown";
	}
}

/* The sentences follow the punch matrix observed in the lab (sim-recipes §8):
 *  - EIM with EIF or ADF punches with every profile tested: directly with EIM peers, with
 *    endpoint-dependent (symmetric) peers once the software answers the source it was
 *    reached from (peer-reflexive learning, as ICE does);
 *  - EIM with APDF punches with every EIM peer but fails with every endpoint-dependent one,
 *    peer-reflexive learning or not;
 *  - endpoint-dependent mapping (ADM or APDM) punches only with EIM peers that filter by
 *    address at most (full cone, restricted cone), through peer-reflexive learning; port
 *    prediction against a sequential allocator was not tried in the lab, so it "may" help. */
const char *nc_result_punch_verdict(const struct nc_result *r, char *buf, size_t len)
{
	const struct nc_udp_result *u = &r->udp;
	const char *s;

	if (!buf || len == 0)
		return "";
	if (u->server_problem != NC_SRV_OK) {
		snprintf(buf, len,
			 "UDP hole punching cannot be predicted: the server answered, but unusably "
			 "(%s); try another server", nc_server_problem_name(u->server_problem));
		return buf;
	}
	if (u->reachable == NC_TRI_NO) {
		s = "UDP hole punching is impossible: UDP does not reach the server, so only "
		    "TCP or a relay can connect this host";
	} else if (u->reachable != NC_TRI_YES) {
		s = "UDP hole punching cannot be predicted: no UDP test ran to completion";
	} else if (no_nat(u)) {
		switch (u->filtering) {
		case NC_BEH_NONE:
		case NC_BEH_EI:
			s = "UDP hole punching is not needed: this host is directly reachable, so "
			    "peers behind any NAT can connect to it";
			break;
		case NC_BEH_AD:
			s = "UDP hole punching works with every peer type tested: directly with "
			    "cone NATs, and with symmetric NATs when the peer software learns "
			    "peer-reflexive addresses";
			break;
		case NC_BEH_APD:
			s = "UDP hole punching works with most peers (no NAT, but a firewall "
			    "filters by address and port): it fails only with peers behind "
			    "symmetric NATs (endpoint-dependent mapping)";
			break;
		default:
			s = "UDP hole punching works with peers behind cone NATs; with "
			    "symmetric-NAT peers it depends on this host's filtering, which was "
			    "not determined";
			break;
		}
	} else if (u->alloc.port_overloading == NC_TRI_YES) {
		s = "UDP hole punching is unreliable: the NAT shares public ports between internal "
		    "endpoints (port overloading), so a peer gets through only on a path this host "
		    "opened to that very peer; it can work with cone-NAT peers, fails with "
		    "symmetric ones, and port prediction does not apply";
	} else if (u->mapping == NC_BEH_EI) {
		switch (u->filtering) {
		case NC_BEH_NONE:
		case NC_BEH_EI:
		case NC_BEH_AD:
			s = "UDP hole punching works with every peer type tested (EIM with lenient "
			    "filtering): directly with cone NATs, and with symmetric NATs when the "
			    "peer software learns peer-reflexive addresses";
			break;
		case NC_BEH_APD:
			s = "UDP hole punching works with most peers (EIM): it fails only with "
			    "peers behind symmetric NATs (endpoint-dependent mapping), even with "
			    "peer-reflexive learning";
			break;
		default:
			s = "UDP hole punching works with peers behind cone NATs (EIM); with "
			    "symmetric-NAT peers it depends on this NAT's filtering, which was not "
			    "determined";
			break;
		}
	} else if (u->mapping == NC_BEH_AD || u->mapping == NC_BEH_APD) {
		if (u->alloc.pattern == NC_ALLOC_SEQUENTIAL && u->alloc.delta != 0) {
			snprintf(buf, len,
				 "UDP hole punching fails with peers behind port-restricted or "
				 "symmetric NATs; works with full-cone and restricted-cone peers "
				 "via peer-reflexive learning (or port prediction: sequential %+d)",
				 (int)u->alloc.delta);
			return buf;
		}
		s = "UDP hole punching fails with peers behind port-restricted or symmetric NATs; "
		    "works with full-cone and restricted-cone peers via peer-reflexive learning";
	} else {
		s = "UDP hole punching cannot be predicted: the NAT's mapping behaviour was not "
		    "determined";
	}
	snprintf(buf, len, "%s", s);
	return buf;
}

int nc_result_exit_status(const struct nc_result *r)
{
	/* Set only when the primary mapping request got no usable answer but the server did
	 * answer: "UDP blocked" would be a lie. */
	if (r->udp.server_problem != NC_SRV_OK)
		return NC_EXIT_SERVER;
	if (r->udp.reachable == NC_TRI_NO)
		return NC_EXIT_NO_ANSWER;
	return NC_EXIT_OK;
}
