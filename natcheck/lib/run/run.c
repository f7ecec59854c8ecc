/* nc_run(): the order, parallelism and limits of a whole measurement (see <natcheck/run.h>).
 * Everything a run needs lives in a struct on this call's stack: no globals, re-entrant. */
#include <natcheck/run.h>

#include <natcheck/error.h>
#include "lifetime.h"
#include "netutil.h"
#include "pmtest.h"
#include "portmap.h"
#include "probe.h"
#include "tcpprobe.h"
#include "topology.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define FULL_PM_BUDGET_MS NC_PM_DEFAULT_BUDGET_MS
/* The fast preset asks for presence only: a gateway that speaks a protocol answers within a
 * LAN round trip, one that does not refuses at once (ICMP) or stays silent this long. */
#define FAST_PM_BUDGET_MS 200

_Static_assert(NC_RUN_DEFAULT_SAMPLES == NC_PROBE_DEFAULT_SAMPLES, "one default, two names");

/* The port-mapping probe runs on its own thread while the STUN tests run. */
struct pm_job {
	struct nc_pm_cfg cfg;
	struct nc_portmap_result out[NC_PM_COUNT];
	pthread_t tid;
	bool started;
};

struct run {
	const struct nc_run_cfg *cfg;
	struct nc_result *r;
	struct nc_limits lim;
	uint64_t t0;
	bool fast;
	int stop; /* first -NC_E_CANCELLED / -NC_E_DEADLINE seen */
};

unsigned nc_run_default_budget_ms(const struct nc_run_cfg *cfg)
{
	uint64_t ms;

	if (cfg->preset == NC_PRESET_FAST)
		return NC_RUN_FAST_BUDGET_MS;
	ms = NC_RUN_DEFAULT_BUDGET_MS;
	if (cfg->tcp)
		ms += cfg->tcp_full ? 10000 : 3000;
	if (cfg->lifetime)
		ms += 5000ull * (cfg->lifetime_max ? cfg->lifetime_max : 120);
	return ms > 86400000u ? 86400000u : (unsigned)ms;
}

/* True when a phase may start; otherwise notes (once) why the rest of the run is skipped. */
static bool may_go(struct run *st, const char *phase)
{
	int e = st->stop ? st->stop : nc_limits_check(&st->lim, nc_now_us());

	if (e == 0)
		return true;
	if (!st->stop)
		st->stop = e;
	nc_result_note(st->r, "%s: not run (%s)", phase,
		       e == -NC_E_CANCELLED ? "cancelled" : "the run's budget ran out");
	return false;
}

static void *pm_probe_thread(void *arg)
{
	struct pm_job *j = arg;

	nc_pm_probe(&j->cfg, j->out);
	return NULL;
}

/* Started by the probe engine once its allocation burst has left, so that the probe's own
 * packets never fall between the burst's samples (a userspace NAT sees them all). The thread
 * blocks every signal: they belong to the caller's threads. */
static void pm_start(void *arg)
{
	struct pm_job *j = arg;
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	j->started = pthread_create(&j->tid, NULL, pm_probe_thread, j) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The real test mappings; whatever the test leaves (stopped, or not deleted) is deleted here,
 * within NC_RUN_CLEANUP_MS whatever the limits say. */
static void pm_real_test(struct run *st, struct pm_job *j)
{
	struct nc_pm_registry reg;
	int left, e;

	memset(&reg, 0, sizeof(reg));
	e = nc_pm_test(&j->cfg, &st->cfg->server, &reg, st->r->portmap);
	if ((e == -NC_E_CANCELLED || e == -NC_E_DEADLINE) && !st->stop)
		st->stop = e;
	left = nc_pm_unmap_all_within(&reg, NC_RUN_CLEANUP_MS);
	/* A mapping the test left in the registry (stopped, or its delete failed) was deleted
	 * just now, or is still live: the result says which. */
	for (unsigned i = 0; i < NC_PM_MAX_LIVE; i++) {
		const struct nc_pm_mapping *m = &reg.m[i];
		struct nc_portmap_result *o;

		if (!m->internal.port || (unsigned)m->proto >= NC_PM_COUNT)
			continue; /* a slot never used */
		o = &st->r->portmap[m->proto];
		if (o->deleted == NC_TRI_YES)
			continue;
		if (!m->live && o->deleted == NC_TRI_NO)
			snprintf(o->error, sizeof(o->error),
				 "test mapping deleted on a second try, after the test");
		o->deleted = m->live ? NC_TRI_NO : NC_TRI_YES;
	}
	if (left > 0)
		nc_result_note(st->r, "port mapping: %d test mapping(s) could not be deleted; they "
				      "expire within a minute", left);
}

/* NAT Check's TCP suite and the third-party UDP test, after the UDP run. */
static void run_tcp(struct run *st)
{
	const struct nc_run_cfg *c = st->cfg;
	struct nc_result *r = st->r;
	struct nc_tcp_cfg tc = {.server = c->server, .other = r->server.other, .full = c->tcp_full,
				.no_hairpin = c->no_hairpin, .lim = st->lim, .trace = c->trace,
				.trace_arg = c->trace_arg};
	struct nc_bounce_cfg bc = {.server = c->server, .lim = st->lim, .trace = c->trace,
				   .trace_arg = c->trace_arg};
	struct nc_addr from;
	int arrived = -1, err;

	if ((err = nc_probe_tcp(&tc, r)) < 0)
		nc_result_note(r, "tcp: the tests could not run: %s", nc_strerror(err));
	if (!may_go(st, "third-party UDP test"))
		return;
	if (nc_probe_bounce_udp(&bc, &arrived, &from) == 0 && arrived >= 0)
		nc_bounce_fold(r, arrived, &from);
	else if (nc_limits_check(&st->lim, nc_now_us()) == 0)
		nc_result_note(r, "filtering: no third-party test (the server has no bouncer)");
}

static void run_topology(struct run *st)
{
	struct nc_result *r = st->r;
	struct nc_hops hops;
	/* Routers answer TTL expiry within a round trip; silent ones cost the wait. */
	unsigned wait = 4 * r->udp.rtt_us / 1000 + 50;

	int err = nc_probe_hops(&st->cfg->server, 6, wait, &st->lim, &hops);

	/* Stopped by the deadline or a cancel, the hops seen so far are still evidence. */
	if (err == 0 || err == -NC_E_DEADLINE || err == -NC_E_CANCELLED)
		nc_classify_topology(r, &hops);
	else
		nc_classify_topology(r, NULL);
}

static void run_lifetime(struct run *st)
{
	const struct nc_run_cfg *c = st->cfg;
	struct nc_lifetime_cfg lc = {
		.server = c->server,
		.max_s = c->lifetime_max,
		.progress = c->lifetime_progress,
		.progress_arg = c->progress_arg,
		.lim = st->lim,
		.trace = c->trace,
		.trace_arg = c->trace_arg,
	};
	int err = nc_probe_lifetime(&lc, st->r);

	if (err < 0)
		nc_result_note(st->r, "lifetime: the test stopped: %s", nc_strerror(err));
}

static void iso_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int nc_run(const struct nc_run_cfg *cfg, struct nc_result *r)
{
	struct run st = {.cfg = cfg, .r = r};
	struct nc_probe_cfg pc = {0};
	struct pm_job pm;
	unsigned budget;
	int err;

	if (!cfg || !r || !nc_addr_is_set(&cfg->server) ||
	    (nc_addr_is_set(&cfg->server2) && cfg->server2.family != cfg->server.family) ||
	    (cfg->pcap_path && !cfg->capture))
		return -NC_E_INVALID;
	st.fast = cfg->preset == NC_PRESET_FAST;
	budget = cfg->budget_ms ? cfg->budget_ms : nc_run_default_budget_ms(cfg);
	st.t0 = nc_now_us();
	st.lim.deadline_us = st.t0 + (uint64_t)budget * 1000;
	st.lim.cancel = cfg->cancel;
	nc_result_init(r);
	snprintf(r->tool_version, sizeof(r->tool_version), "%s", NC_VERSION);
	iso_now(r->started, sizeof(r->started));

	pc.server = cfg->server;
	pc.server2 = cfg->server2;
	pc.map_port = cfg->map_port;
	pc.samples = cfg->samples;
	pc.no_hairpin = cfg->no_hairpin || st.fast;
	pc.budget_ms = budget;
	pc.pcap_path = cfg->pcap_path;
	pc.capture = cfg->capture;
	pc.lim = st.lim;
	pc.trace = cfg->trace;
	pc.trace_arg = cfg->trace_arg;

	memset(&pm, 0, sizeof(pm));
	if (!cfg->no_portmap && cfg->server.family == AF_INET) {
		pm.cfg.budget_ms = st.fast ? FAST_PM_BUDGET_MS : FULL_PM_BUDGET_MS;
		pm.cfg.deadline_us = st.lim.deadline_us;
		pm.cfg.cancel = cfg->cancel;
		pm.cfg.trace = cfg->trace;
		pm.cfg.trace_arg = cfg->trace_arg;
		pc.after_burst = pm_start;
		pc.after_burst_arg = &pm;
	}
	err = nc_probe_udp(&pc, r);
	if (pm.started) {
		pthread_join(pm.tid, NULL);
		memcpy(r->portmap, pm.out, sizeof(r->portmap));
	}
	if (err == -NC_E_CANCELLED || err == -NC_E_DEADLINE) {
		st.stop = err;
		err = 0;
	}
	if (err < 0)
		return err;
	if (!st.fast && pm.started && r->udp.reachable == NC_TRI_YES &&
	    may_go(&st, "port mapping test"))
		pm_real_test(&st, &pm);
	if (!st.fast && cfg->tcp && r->udp.reachable == NC_TRI_YES && may_go(&st, "tcp"))
		run_tcp(&st);
	if (!st.fast && !cfg->no_topology && r->udp.nat == NC_TRI_YES && may_go(&st, "topology"))
		run_topology(&st);
	else
		nc_classify_topology(r, NULL); /* from the addresses and port mapping alone */
	if (!st.fast && cfg->lifetime && r->udp.reachable == NC_TRI_YES &&
	    may_go(&st, "lifetime"))
		run_lifetime(&st);
	if (!st.stop && nc_cancel_fired(cfg->cancel))
		st.stop = -NC_E_CANCELLED;
	r->duration_ms = (uint32_t)((nc_now_us() - st.t0) / 1000);
	if (st.stop == -NC_E_CANCELLED) {
		nc_result_note(r, "cancelled after %u ms: this result is partial", r->duration_ms);
		return -NC_E_CANCELLED;
	}
	if (st.stop == -NC_E_DEADLINE)
		nc_result_note(r, "the run's budget of %u ms ran out: this result is partial",
			       budget);
	return 0;
}
