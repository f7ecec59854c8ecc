/* One measurement: nc_run() runs every test natcheck knows, in the order and with the
 * parallelism that keeps them from disturbing each other, inside one time budget, and fills a
 * result (<natcheck/result.h>) that prints as a report or JSON.
 *
 *   t=0   UDP tests (probe engine: mapping, filtering, allocation, hairpin, ALG)
 *         port-mapping probe (NAT-PMP, PCP, UPnP-IGD presence) on its own thread, started
 *         once the allocation burst has left so its packets never fall between the samples
 *   then  the real test mappings (full preset), deleted again before nc_run returns, also
 *         when cancelled or at the deadline
 *   then  TCP + the third-party bounce (tcp), topology (TTL-limited probes), binding lifetime
 *
 * Presets: NC_PRESET_FULL is what `natcheck` does; NC_PRESET_FAST (`natcheck --fast`, what
 * punchvpn measures at start and on every network change) keeps mapping, filtering,
 * allocation and port-mapping presence only: no hairpin, topology probes, TCP, lifetime or
 * real test mapping; a few hundred milliseconds behind a NAT on a LAN-scale RTT.
 *
 * Bounded and stoppable: every phase honours the run's deadline (budget_ms from the start) and
 * the cancel handle; nc_cancel_fire() (async-signal-safe, e.g. from the caller's SIGINT
 * handler) ends the run within about a second. Test mappings that exist are deleted within a
 * short grace after the deadline or the cancel (at most NC_RUN_CLEANUP_MS).
 *
 * Threads: re-entrant (no global state); callable from any thread of a long-running program.
 * The library never installs signal handlers and never changes the caller's signal mask; its
 * worker threads block every signal in their own mask. */
#ifndef NATCHECK_RUN_H
#define NATCHECK_RUN_H

#include <natcheck/addr.h>
#include <natcheck/cancel.h>
#include <natcheck/result.h>

#include <stdbool.h>
#include <stdint.h>

enum nc_preset {
	NC_PRESET_FULL = 0, /* every test the options ask for */
	NC_PRESET_FAST,     /* mapping, filtering, allocation, port-mapping presence */
};

/* Default budgets (budget_ms = 0): the full run 5 s, plus 3 s with tcp, 10 s with tcp_full,
 * plus 5 x lifetime_max with lifetime (it costs 2-3x the lifetime, plus the refresh test);
 * the fast preset 1 s. */
#define NC_RUN_DEFAULT_BUDGET_MS 5000
#define NC_RUN_FAST_BUDGET_MS 1000
#define NC_RUN_DEFAULT_SAMPLES 12 /* allocation samples */
#define NC_RUN_CLEANUP_MS 500 /* deleting test mappings after the deadline or a cancel */

/* How a run records its own packets (natcheck --pcap); <natcheck/capture.h> has libpcap's. */
struct nc_capture_ops;

struct nc_run_cfg {
	enum nc_preset preset;
	struct nc_addr server;    /* an RFC 5780 server (natcheck-reflector): A1:P1, required */
	struct nc_addr server2;   /* optional second server, for mapping across servers */
	unsigned budget_ms;       /* the whole run, every phase; 0 = the defaults above */
	uint16_t map_port;        /* local port of the mapping test; 0 = fresh random */
	unsigned samples;         /* allocation samples, 3..NC_MAX_ALLOC; 0 = default (12) */
	bool no_hairpin;
	bool no_topology;
	bool no_portmap;          /* no NAT-PMP, PCP, UPnP-IGD at all */
	bool tcp, tcp_full;       /* NAT Check's TCP tests + third-party bounce (full: 8 s wait) */
	bool lifetime;            /* binding lifetime (minutes) */
	unsigned lifetime_max;    /* longest idle time tried, s; 0 = 120 */
	const char *pcap_path;    /* record the run's probe traffic here */
	const struct nc_capture_ops *capture; /* required with pcap_path */
	struct nc_cancel *cancel; /* optional: nc_cancel_fire() stops the run */
	void (*trace)(void *arg, const char *line); /* every probe as it happens, if set */
	void *trace_arg;
	/* Lifetime progress: seconds elapsed, the bracket so far (hi 0 = none yet). */
	void (*lifetime_progress)(void *arg, unsigned elapsed_s, double lo_s, double hi_s);
	void *progress_arg;
};

/* Runs the measurement into r (initialised here; its started, tool_version and duration_ms set).
 * Returns 0 when the run completed (whatever the verdicts; a phase stopped by the budget is
 * said in r's notes), -NC_E_CANCELLED when cancelled (r holds what was measured until then and
 * a note says so; test mappings are deleted), or a negative error when it could not run at all
 * (bad arguments, sockets, capture). */
int nc_run(const struct nc_run_cfg *cfg, struct nc_result *r);

/* The budget a run with these options gets when budget_ms is 0. */
unsigned nc_run_default_budget_ms(const struct nc_run_cfg *cfg);

#endif
