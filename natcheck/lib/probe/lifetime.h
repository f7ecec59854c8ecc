/* Binding lifetime (natcheck --lifetime), RFC 5780 §4.6, and whether inbound traffic keeps a
 * binding alive (RFC 4787 REQ-6).
 *
 * A socket X sends a Binding request and learns its public endpoint Pa:Pp; the binding is then
 * left idle for T. A second socket Y asks the same server address for an answer with
 * RESPONSE-PORT = Pp: it goes to Pa:Pp from the very address X talked to, so any filtering lets
 * it through while the binding lives. An answer on X means the binding survived T.
 *
 * Instead of one X per trial in sequence, each round runs K sockets in parallel with different
 * idle times, and the rounds narrow [longest survived, shortest not survived] until it is
 * narrower than the resolution: geometric times (1, 2, 4, ... s) until a binding dies, then
 * evenly spaced times inside the bracket.
 * Then a socket Z is left without outbound traffic while Y sends it answers every L/2; if one
 * still arrives after 1.5 L, inbound traffic refreshes bindings.
 *
 * Meanwhile a socket K keeps one binding busy (a Binding request every second) and records
 * the public endpoint of every answer in r->track: a NAT that moves a binding in use to a new
 * public port shows as udp.mapping_stable false, with the time (nc_classify_stability).
 * Every request is a stun_txn transaction; every loop honours cfg->lim on every turn.
 *
 * Wall time for a lifetime L, about 4L-6L in all: the geometric round ends when its first
 * binding dies (the next power of two above L, L..2L), each bracket round lasts about its
 * longest idle time (up to 2L; one to three rounds, each narrowing the bracket ninefold down to
 * the 0.5 s resolution), and the refresh test 1.5 L. Measured in the lab: 26 s for L = 5 s,
 * 61 s for L = 10 s. */
#ifndef NC_LIFETIME_H
#define NC_LIFETIME_H

#include "probe.h"
#include <natcheck/result.h>

struct nc_lifetime_cfg {
	struct nc_addr server;   /* A1:P1 of a server that supports RESPONSE-PORT */
	unsigned max_s;          /* upper bound on the idle times tried; 0 = 120 */
	unsigned resolution_ms;  /* stop when the bracket is this narrow; 0 = 500 */
	bool no_refresh_test;
	/* Progress: seconds elapsed, the current bracket (hi 0 = none yet). */
	void (*progress)(void *arg, unsigned elapsed_s, double lo_s, double hi_s);
	void *progress_arg;
	struct nc_limits lim;   /* deadline and cancellation, checked on every loop turn */
	nc_trace_fn trace;
	void *trace_arg;
};

/* Measures and writes r->udp.lifetime_s, lifetime_upper_s and inbound_refresh, appending one
 * observation per probe, and r->track with udp.mapping_stable. Returns 0, the limits' error
 * (-NC_E_CANCELLED, -NC_E_DEADLINE), or a negative error if it could not run at all. */
int nc_probe_lifetime(const struct nc_lifetime_cfg *cfg, struct nc_result *r);

#endif
