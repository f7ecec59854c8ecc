/* The classifier: a pure function from recorded probe observations to RFC 4787 verdicts.
 *
 * It reads r->obs[] and r->server and writes r->udp (and appends notes). Free of I/O, so a
 * result file can be re-classified when the classifier improves, and every rule below is
 * unit-tested from fixtures. */
#ifndef NC_CLASSIFY_H
#define NC_CLASSIFY_H

#include <natcheck/result.h>

#include <stdbool.h>

/* Fills the UDP verdicts of r from r->obs and r->server (and sets expected sources). */
void nc_classify_udp(struct nc_result *r);

/* The address a reply reported for the requester: XOR-MAPPED-ADDRESS when present,
 * MAPPED-ADDRESS otherwise (RFC 3489 servers send only the latter). */
const struct nc_addr *nc_obs_mapped(const struct nc_obs *o);

/* Expected answer source for a request to dest with the given CHANGE-REQUEST flags, when the
 * server's alternate endpoint is other (RFC 5780 §6, Table 1). Unset if it cannot be known. */
struct nc_addr nc_expected_source(const struct nc_addr *dest, const struct nc_addr *other,
				  uint32_t change_flags);

/* Whether an endpoint learned from a server (OTHER-ADDRESS, CHANGED-ADDRESS, RESPONSE-ORIGIN,
 * the mapped address used as the hairpin target) may receive natcheck's packets: a unicast,
 * non-zero address and port of the server's family, in a scope that makes sense next to the
 * server's (a public server's alternate is public; a loopback server's is loopback). NULL when
 * it may, else the reason in words. Nothing is sent to an endpoint that fails this check, so a
 * server cannot steer natcheck's traffic at third parties on other networks. */
const char *nc_endpoint_problem(const struct nc_addr *ep, const struct nc_addr *server);

/* Whether o is a usable answer from a server: answered from the expected source, with a
 * mapped address of the family the request was sent in. */
bool nc_obs_usable(const struct nc_obs *o);

#endif
