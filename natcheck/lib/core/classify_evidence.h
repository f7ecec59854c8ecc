/* The classifier's parts beyond the UDP tests: each a pure function of the result's recorded
 * evidence (result.h, revision 2), so that nc_result_classify() re-derives every verdict.
 *
 *   classify_bounce.c     the third-party datagram folded into udp.filtering   (r->bounce)
 *   classify_tcp.c        tcp.*: mapping, filtering, unsolicited SYN, ...       (r->tcp_obs)
 *   classify_topology.c   topology.*: NAT layers, CGNAT, double NAT  (r->hops, udp, portmap)
 *   classify_stability.c  udp.mapping_stable and its time                        (r->track)
 *   classify_result.c     the order, and the classifier's own notes */
#ifndef NC_CLASSIFY_EVIDENCE_H
#define NC_CLASSIFY_EVIDENCE_H

#include <natcheck/result.h>

/* After nc_classify_udp(): an arrival proves endpoint-independent filtering; a disagreement
 * with the CHANGE-REQUEST verdict is noted. Nothing when r->bounce.tested is false. */
void nc_classify_bounce(struct nc_result *r);

/* Fills r->tcp from r->tcp_obs (tcp.tested false and everything unknown without them). */
void nc_classify_tcp(struct nc_result *r);

/* Fills r->topology from r->udp, r->portmap and r->hops, and notes the evidence in words. */
void nc_classify_hops(struct nc_result *r);

/* Records hops (NULL = the path was not probed) in r->hops, then nc_classify_hops(): the
 * call the probe side makes after nc_probe_hops(). */
void nc_classify_topology(struct nc_result *r, const struct nc_hops *hops);

/* Fills udp.mapping_stable and mapping_change_ms from r->track. */
void nc_classify_stability(struct nc_result *r);

/* Brackets one whole classification: begin drops the notes the classifier wrote before and
 * marks the notes written until finish as the classifier's own. */
void nc_classify_begin(struct nc_result *r);
void nc_classify_finish(struct nc_result *r);

#endif
