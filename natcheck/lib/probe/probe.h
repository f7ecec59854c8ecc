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
 * Retransmission intervals and the wait that turns silence into a negative answer follow the
 * RTT measured on the first answers (RFC 6298 style estimator, Karn's rule), so a run costs
 * about one RTT plus a few RTOs instead of the fixed seconds other tools wait. */
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
 * Returns 0 when the run completed (whatever the verdicts), or a negative error when it could
 * not run at all (no route, sockets, pcap). */
int nc_probe_udp(const struct nc_probe_cfg *cfg, struct nc_result *r);

#endif
