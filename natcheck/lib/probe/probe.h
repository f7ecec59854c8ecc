/* The probe engine: runs the UDP tests against an RFC 5780 server, in parallel, and records
 * every probe as an observation in a result; nc_classify_udp() then draws the verdicts.
 *
 * Test plan (each state-dependent test on its own fresh random source port, RFC 5780 §4.1):
 *   t=0  allocation burst: K sockets -> A1:P1, back to back in socket order (pattern, parity)
 *        S_map -> A1:P1 (mapping test I; learns OTHER-ADDRESS = A2:P2)
 *        S_f1  -> A1:P1 plain (control) + CHANGE-REQUEST ip+port (filtering test II)
 *        S_f2  -> A1:P1 plain (control) + CHANGE-REQUEST port    (filtering test III)
 *        S_map -> second server, if one was given
 *   on test I's answer: S_map -> A2:P1, A2:P2, A1:P2 (mapping tests II, III, port-only)
 *   on test I's and the first allocation sample's answers: hairpin, sample 0 -> S_map's
 *        public endpoint; S_map must receive that very request.
 * Every request is one stun_txn (random id, RTO from the run's shared RFC 6298 estimator with
 * Karn's rule, match by id and expected source). Tests that should be answered retransmit on
 * the RTO. Tests whose silence is the verdict (filtering, hairpin) wait on evidence instead of
 * a retransmission schedule: they retransmit like their positive control while it is pending
 * (a start-up blackout must not make them give up first), send three copies a few ms apart
 * that leave no earlier than the control's answered transmission, and then wait a silence of
 * max(2 SRTT, SRTT + 4 RTTVAR, the control's RTT, 20 ms) after the last copy. A run costs about
 * two RTTs plus that silence (about 0.3 s at an 80 ms RTT). Each probe records its last
 * transmission and when it gave up, so the classifier states a negative verdict only when
 * the evidence holds (classify.c), also when it re-classifies a saved result.
 *
 * Endpoints learned from the server (OTHER-ADDRESS, the mapped address used as the hairpin
 * target) are checked with nc_endpoint_problem() before any packet goes there. The loop
 * checks cfg->lim (deadline, cancellation: its descriptor is in the epoll set) and the budget
 * on every turn, reads at most 64 datagrams per socket per turn, and stops after 1024 that
 * belong to no test. */
#ifndef NC_PROBE_H
#define NC_PROBE_H

#include "netutil.h"
#include <natcheck/result.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NC_PROBE_DEFAULT_SAMPLES 12

/* A packet capture the probe engine drives while it runs (natcheck --pcap). The probe layer
 * never links libpcap: the capture layer (capture/pcapture.h) provides nc_pcap_capture, and the
 * program that wants recording passes it in nc_probe_cfg.capture. */
struct nc_capture_ops {
	/* Starts recording the given local UDP ports to path; 0 or a negative error. */
	int (*open)(void **handle, const char *path, const uint16_t *ports, size_t n);
	int (*fd)(const void *handle); /* pollable descriptor, or -1 */
	void (*pump)(void *handle);    /* writes what has been captured so far */
	void (*close)(void *handle);   /* flushes the rest and closes the file */
};

struct nc_probe_cfg {
	struct nc_addr server;  /* A1:P1, required */
	struct nc_addr server2; /* optional second server (mapping across servers) */
	uint16_t map_port;      /* local port of S_map; 0 = fresh random port */
	unsigned samples;       /* allocation samples, 0 = default, at most NC_MAX_ALLOC */
	bool no_hairpin;        /* skip the hairpin probe (some firewalls call it an attack) */
	unsigned budget_ms;     /* hard cap on the run; 0 = 5000 */
	const char *pcap_path;  /* record the run's own probe traffic here (needs CAP_NET_RAW) */
	const struct nc_capture_ops *capture; /* how to record it; required with pcap_path */
	struct nc_limits lim;   /* deadline and cancellation, checked on every loop turn */
	nc_trace_fn trace;      /* called with one line per send/receive, if set */
	void *trace_arg;
	/* Called once, right after the first requests (the allocation burst first) have left:
	 * other traffic the caller starts from here on cannot come between the burst's samples
	 * (natcheck starts its port-mapping probe here). */
	void (*after_burst)(void *arg);
	void *after_burst_arg;
};

/* Runs the UDP tests and classifies them into r (which the caller has nc_result_init()ed).
 * Returns 0 when the run completed (whatever the verdicts; also when the deadline, the budget
 * or a flood of unrelated datagrams cut it short: a note says so and what is unfinished is
 * classified as such), -NC_E_CANCELLED when cancelled (r still holds what was seen), or a
 * negative error when it could not run at all (no route, sockets, pcap). */
int nc_probe_udp(const struct nc_probe_cfg *cfg, struct nc_result *r);

#endif
