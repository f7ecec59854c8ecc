/* The classifier: a pure function from recorded probe observations to RFC 4787 verdicts.
 *
 * It reads r->obs[] and r->server and writes r->udp (and appends notes). Free of I/O, so a
 * result file can be re-classified when the classifier improves, and every rule below is
 * unit-tested from fixtures. */
#ifndef NC_CLASSIFY_H
#define NC_CLASSIFY_H

#include <natcheck/result.h>

/* Fills the UDP verdicts of r from r->obs and r->server (and sets expected sources). */
void nc_classify_udp(struct nc_result *r);

/* The address a reply reported for the requester: XOR-MAPPED-ADDRESS when present,
 * MAPPED-ADDRESS otherwise (RFC 3489 servers send only the latter). */
const struct nc_addr *nc_obs_mapped(const struct nc_obs *o);

/* Expected answer source for a request to dest with the given CHANGE-REQUEST flags, when the
 * server's alternate endpoint is other (RFC 5780 §6, Table 1). Unset if it cannot be known. */
struct nc_addr nc_expected_source(const struct nc_addr *dest, const struct nc_addr *other,
				  uint32_t change_flags);

#endif
