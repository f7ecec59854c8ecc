/* TCP behaviour (NAT Check's TCP suite, RFC 5382) and the third-party tests, against a
 * natcheck-reflector that offers CONNECT-BACK (ncproto.h).
 *
 * Test plan, each test on its own fresh local port (SO_REUSEADDR + SO_REUSEPORT, so a
 * listening and several connecting sockets share it as NAT Check did):
 *   port p: listen; STUN Binding over TCP to A1:P1, A2:P1, A2:P2 -> TCP mapping class and
 *           "consistent translation" (T1); on the A1:P1 connection CONNECT-BACK from the
 *           bouncer: its SYN toward p's mapping is accepted by p's listener, refused (RST or
 *           ICMP, which the bouncer reports with the time it took) or lost (T2); after the
 *           wait (1 s, --tcp-full 8 s: RFC 5382 REQ-4 says a NAT must not answer for 6 s)
 *           p connects out to the bouncer while its SYN is still pending: simultaneous open,
 *           i.e. whether a TCP hole punch works (T3).
 *   port q: listen; Binding to A1:P1; CONNECT-BACK from A1:Pcb (another port) and A2:Pcb
 *           (another address) -> TCP filtering class (T5).
 *   port h: connects to q's public endpoint -> TCP hairpin (T4).
 * The default run adds about 1.1 s (the 1 s wait plus round trips) and at most about 2 s; the
 * full mode about 8.1 s, at most about 9 s. */
#ifndef NC_TCPPROBE_H
#define NC_TCPPROBE_H

#include "netutil.h"
#include <natcheck/result.h>

#include <stdbool.h>
#include <stdint.h>

#define NC_TCP_WAIT_FAST_MS 1000
#define NC_TCP_WAIT_FULL_MS 8000

struct nc_tcp_cfg {
	struct nc_addr server; /* A1:P1, required */
	struct nc_addr other;  /* A2:P2 (e.g. r->server.other after nc_probe_udp); unset = learn
				* it from OTHER-ADDRESS in the TCP answer */
	bool full;             /* wait NC_TCP_WAIT_FULL_MS for the unsolicited SYN's fate */
	bool no_hairpin;
	unsigned timeout_ms;   /* connect / answer timeout, 0 = 1000 */
	struct nc_limits lim;  /* deadline and cancellation, checked on every loop turn */
	nc_trace_fn trace;
	void *trace_arg;
};

/* Runs the TCP tests, records each in r->tcp_obs and fills r->tcp from them with the core
 * classifier (nc_classify_tcp). Returns 0 when it ran (whatever the verdicts; r->tcp.tested
 * says whether the server could be reached over TCP), the limits' error (-NC_E_CANCELLED,
 * -NC_E_DEADLINE: what was recorded so far is classified), or a negative error when it could
 * not run at all. */
int nc_probe_tcp(const struct nc_tcp_cfg *cfg, struct nc_result *r);

struct nc_bounce_cfg {
	struct nc_addr server; /* A1:P1 */
	unsigned wait_ms;      /* how long to wait for the bouncer's datagram, 0 = 500 */
	struct nc_limits lim;
	nc_trace_fn trace;
	void *trace_arg;
};

/* Third-party UDP filtering (Ford's server 3): from a fresh socket, asks A1:P1 to have the
 * bouncer send a Binding success response (same transaction id) to this socket's mapping,
 * from an address it never contacted. *arrived is set to 1 if it came, 0 if not, -1 if the
 * server cannot bounce. Returns 0 or a negative error. */
int nc_probe_bounce_udp(const struct nc_bounce_cfg *cfg, int *arrived, struct nc_addr *from);

/* Records a bounce result in r->bounce (arrived -1 = the server offers no bouncer) and folds
 * it into r->udp.filtering with the core classifier (nc_classify_bounce; call after
 * nc_probe_udp): an arrival proves endpoint-independent filtering; a disagreement with the
 * CHANGE-REQUEST verdict is noted. nc_result_classify() does the same fold again. */
void nc_bounce_fold(struct nc_result *r, int arrived, const struct nc_addr *from);

#endif
