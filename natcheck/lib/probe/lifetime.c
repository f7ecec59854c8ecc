#include "lifetime.h"

#include "classify_evidence.h"

#include <natcheck/error.h>
#include "netutil.h"
#include "stun.h"
#include "stun_txn.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ROUND_K 8            /* parallel bindings per round */
#define PROBE_ATTEMPTS 4     /* RESPONSE-PORT requests per trial (loss) */
#define PROBE_GAP_US 100000u /* least RTO of these transactions, and of the wait after the last */
#define MAP_RTO_US 200000u   /* first RTO of the binding-creating request, before any sample */
#define MAP_ATTEMPTS 7
#define CONTROL_IDLE_US 250000u /* positive control of the first round */
#define TRACK_GAP_US 1000000u   /* the busy binding's requests (mapping stability) */
#define BURST 64                /* datagrams read per socket per turn */
#define MAX_SKIP (STUN_TXN_MAX_SKIP * ROUND_K) /* unrelated datagrams per round */

enum trial_state { T_MAPPING, T_IDLE, T_PROBING, T_ALIVE, T_DEAD, T_FAILED };

/* One binding under test: X's socket, its public endpoint, and when to probe it. */
struct trial {
	int fd;
	struct nc_addr local, pub;
	enum trial_state state;
	struct stun_txn map, probe; /* X's Binding, then Y's RESPONSE-PORT request */
	uint64_t idle_us;     /* how long to leave it idle */
	uint64_t idle_until;  /* X last heard from the server + idle_us */
	int obs;              /* observation index of the probe, -1 until probed */
	/* inbound-refresh trial: probe every idle_us, up to `refreshes` times */
	unsigned refreshes, refreshed;
};

/* Mapping stability: socket K stays busy (a Binding every TRACK_GAP_US) for the whole
 * measurement, and every answer's public endpoint goes into r->track. */
struct tracker {
	int fd;
	struct stun_txn txn;
	bool active;          /* txn in flight */
	uint64_t next_us;     /* next request */
	uint64_t first_us;    /* first answer: samples count from here */
};

struct lt {
	const struct nc_lifetime_cfg *cfg;
	struct nc_result *r;
	struct nc_addr src;
	int yfd; /* Y: sends the RESPONSE-PORT requests */
	struct nc_addr ylocal;
	struct trial t[ROUND_K];
	unsigned n;
	uint64_t t0;
	struct stun_rtt rtt;   /* shared by every transaction of the test */
	struct tracker k;
	bool no_response_port; /* the server answered Y instead of Pa:Pp */
};

#define ltrace(l, ...) nc_tracef((l)->cfg->trace, (l)->cfg->trace_arg, (l)->t0, "lifetime: " __VA_ARGS__)

static void close_trials(struct lt *l)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->t[i].fd >= 0)
			close(l->t[i].fd);
	l->n = 0;
}

static int open_trials(struct lt *l, const uint64_t *idle_us, unsigned n, unsigned refreshes)
{
	for (unsigned i = 0; i < n; i++) {
		struct trial *t = &l->t[i];
		int err;

		memset(t, 0, sizeof(*t));
		t->obs = -1;
		t->fd = nc_udp_bind(&l->src, 0, &t->local);
		err = t->fd < 0 ? t->fd : stun_txn_init(&t->map, &l->cfg->server, 0, 0, MAP_ATTEMPTS);
		if (err < 0) {
			l->n = t->fd < 0 ? i : i + 1;
			close_trials(l);
			return err;
		}
		t->idle_us = idle_us[i];
		t->refreshes = refreshes;
		t->state = T_MAPPING;
		l->n = i + 1;
	}
	return 0;
}

static void record_probe(struct lt *l, struct trial *t)
{
	struct nc_obs *o;

	if (t->obs >= 0 || l->r->n_obs >= NC_MAX_OBS)
		return;
	t->obs = l->r->n_obs++;
	o = &l->r->obs[t->obs];
	memset(o, 0, sizeof(*o));
	o->role = NC_ROLE_LIFETIME;
	o->socket = 0;
	o->local = l->ylocal;
	o->dest = l->cfg->server;
	o->expect = l->cfg->server;
	o->response_port = t->pub.port;
	o->outcome = NC_OUT_TIMEOUT;
	o->sent_ms = (uint32_t)(t->idle_us / 1000); /* for lifetime probes: the idle time tried */
}

/* One step of a trial's state machine at time now: the transactions send and retire
 * themselves (stun_txn_tick); this moves the trial on when one has finished. */
static void step(struct lt *l, struct trial *t, uint64_t now)
{
	switch (t->state) {
	case T_MAPPING:
		stun_txn_tick(&t->map, t->fd, &l->rtt, now);
		if (t->map.state == STUN_TXN_EXPIRED || t->map.state == STUN_TXN_SEND_FAILED)
			t->state = T_FAILED;
		return;
	case T_IDLE:
		if (now < t->idle_until)
			return;
		if (stun_txn_init(&t->probe, &l->cfg->server, 0, t->pub.port, PROBE_ATTEMPTS) < 0) {
			t->state = T_FAILED;
			return;
		}
		t->probe.linger_us = PROBE_GAP_US;
		t->state = T_PROBING;
		record_probe(l, t);
		/* fall through */
	case T_PROBING:
		stun_txn_tick(&t->probe, l->yfd, &l->rtt, now);
		if (t->obs >= 0)
			l->r->obs[t->obs].attempts = (uint8_t)t->probe.attempts;
		if (t->probe.state == STUN_TXN_SEND_FAILED) {
			t->state = T_FAILED;
		} else if (t->probe.state == STUN_TXN_EXPIRED) {
			t->state = T_DEAD;
			ltrace(l, "binding %u idle %.2f s: gone", t->local.port, (double)t->idle_us / 1e6);
		}
		return;
	default:
		return;
	}
}

/* When the trial next needs step() (0 = never). */
static uint64_t trial_next(const struct lt *l, const struct trial *t)
{
	switch (t->state) {
	case T_MAPPING: return stun_txn_next(&t->map, &l->rtt);
	case T_IDLE: return t->idle_until;
	case T_PROBING: return stun_txn_next(&t->probe, &l->rtt);
	default: return 0;
	}
}

/* An answer on X's socket: its own Binding's, or the RESPONSE-PORT probe's through it. */
static void on_x(struct lt *l, struct trial *t, const struct stun_msg *m,
		 const struct nc_addr *from, uint64_t now)
{
	if (t->state == T_MAPPING &&
	    stun_txn_accept(&t->map, &l->rtt, m, from, now) == STUN_TXN_MATCHED) {
		if (m->cls != STUN_CLASS_SUCCESS) {
			t->state = T_FAILED;
			return;
		}
		t->pub = (m->has & STUN_HAS_XOR_MAPPED) ? m->xor_mapped : m->mapped;
		t->state = T_IDLE;
		t->idle_until = now + t->idle_us; /* the idle time starts with X's last answer */
		return;
	}
	if (t->state == T_PROBING && m->cls == STUN_CLASS_SUCCESS &&
	    stun_txn_accept(&t->probe, &l->rtt, m, from, now) == STUN_TXN_MATCHED) {
		struct nc_obs *o = t->obs >= 0 ? &l->r->obs[t->obs] : NULL;
		if (o) {
			o->outcome = NC_OUT_ANSWERED;
			o->from = *from;
			o->xor_mapped = m->xor_mapped;
			o->mapped = m->mapped;
			o->rtt_us = t->probe.rtt_us;
		}
		if (t->refreshes && ++t->refreshed < t->refreshes) {
			/* The inbound-refresh trial: stay idle (no outbound) until the next one. */
			t->state = T_IDLE;
			t->idle_until = now + t->idle_us;
			t->obs = -1;
			return;
		}
		t->state = T_ALIVE;
		ltrace(l, "binding %u idle %.2f s: alive", t->local.port, (double)t->idle_us / 1e6);
	}
}

/* On Y, any answer to a probe means the server does not do RESPONSE-PORT: an error (420)
 * or, from servers that ignore the attribute, an answer sent to Y's own port. Either way the
 * trial says nothing about X's binding. */
static bool on_y(struct lt *l, const struct stun_msg *m)
{
	bool ours = false;

	for (unsigned i = 0; i < l->n; i++)
		if (l->t[i].state == T_PROBING && stun_txn_owns(&l->t[i].probe, m)) {
			l->t[i].state = T_FAILED;
			l->no_response_port = true;
			ours = true;
		}
	return ours;
}

/* Keeps the first and the last answer of every run of equal endpoints. */
static void track_sample(struct lt *l, const struct nc_addr *pub, uint64_t now)
{
	struct nc_map_track *tr = &l->r->track;
	struct nc_map_sample s = {.public_ep = *pub};

	if (!l->k.first_us)
		l->k.first_us = now;
	s.at_ms = (uint32_t)((now - l->k.first_us) / 1000);
	if (tr->n >= 2 && nc_addr_eq(&tr->s[tr->n - 1].public_ep, pub) &&
	    nc_addr_eq(&tr->s[tr->n - 2].public_ep, pub)) {
		tr->s[tr->n - 1] = s; /* the run goes on */
		return;
	}
	if (tr->n < NC_MAX_MAP_SAMPLES)
		tr->s[tr->n++] = s;
	else
		tr->s[NC_MAX_MAP_SAMPLES - 1] = s; /* full: the latest answer stays visible */
	if (tr->n >= 2 && !nc_addr_eq(&tr->s[tr->n - 2].public_ep, pub)) {
		char a[NC_ADDR_STRLEN];
		ltrace(l, "the busy binding %u is now at %s", tr->local.port, nc_addr_str(pub, a));
	}
}

static void track_step(struct lt *l, uint64_t now)
{
	struct tracker *k = &l->k;

	if (k->fd < 0)
		return;
	if (!k->active && now >= k->next_us) {
		if (stun_txn_init(&k->txn, &l->cfg->server, 0, 0, 3) < 0)
			return;
		k->active = true;
		k->next_us = now + TRACK_GAP_US;
	}
	if (k->active) {
		stun_txn_tick(&k->txn, k->fd, &l->rtt, now);
		if (k->txn.state != STUN_TXN_PENDING)
			k->active = false;
	}
}

static void on_k(struct lt *l, const struct stun_msg *m, const struct nc_addr *from, uint64_t now)
{
	struct tracker *k = &l->k;

	if (k->active && m->cls == STUN_CLASS_SUCCESS &&
	    stun_txn_accept(&k->txn, &l->rtt, m, from, now) == STUN_TXN_MATCHED) {
		k->active = false;
		track_sample(l, (m->has & STUN_HAS_XOR_MAPPED) ? &m->xor_mapped : &m->mapped, now);
	}
}

static bool round_done(const struct lt *l, bool stop_at_first_dead)
{
	bool pending = false;
	uint64_t dead_idle = UINT64_MAX;

	for (unsigned i = 0; i < l->n; i++)
		if (l->t[i].state == T_DEAD && l->t[i].idle_us < dead_idle)
			dead_idle = l->t[i].idle_us;
	for (unsigned i = 0; i < l->n; i++) {
		const struct trial *t = &l->t[i];
		bool open = t->state != T_ALIVE && t->state != T_DEAD && t->state != T_FAILED;
		/* Once a binding died, longer idle times cannot tell anything new. */
		if (open && (!stop_at_first_dead || t->idle_us < dead_idle))
			pending = true;
	}
	return !pending;
}

/* Reads what waits on fd (at most BURST datagrams, so the loop's checks come round): index
 * i < n is X of trial i, n is Y, n + 1 is K. Returns the unrelated datagrams it skipped. */
static unsigned drain(struct lt *l, int fd, unsigned i)
{
	uint8_t buf[1500];
	unsigned skipped = 0;

	for (unsigned b = 0; b < BURST; b++) {
		struct stun_msg m;
		struct nc_addr from;
		int rc = stun_txn_recv(fd, buf, sizeof(buf), &m, &from);

		if (rc == -EAGAIN || rc == -EWOULDBLOCK)
			break;
		if (rc < 0) {
			skipped++;
			continue;
		}
		if (i < l->n)
			on_x(l, &l->t[i], &m, &from, nc_now_us());
		else if (i == l->n)
			skipped += !on_y(l, &m);
		else
			on_k(l, &m, &from, nc_now_us());
	}
	return skipped;
}

/* Runs the current trials until done, within the run's limits (checked on every turn, the
 * cancellation handle polled with the sockets); returns 0 or a negative error. */
static int run_round(struct lt *l, bool stop_at_first_dead, double lo, double hi)
{
	struct pollfd pfd[ROUND_K + 3];
	const struct nc_limits *lim = &l->cfg->lim;
	unsigned last_progress = UINT32_MAX, skipped = 0, np;
	int err;

	while (!round_done(l, stop_at_first_dead)) {
		uint64_t now = nc_now_us(), next = now + 1000000u;
		unsigned elapsed = (unsigned)((now - l->t0) / 1000000u);

		if ((err = nc_limits_check(lim, now)) < 0)
			return err;
		if (l->cfg->progress && elapsed != last_progress) {
			last_progress = elapsed;
			l->cfg->progress(l->cfg->progress_arg, elapsed, lo, hi);
		}
		for (unsigned i = 0; i < l->n; i++) {
			uint64_t due;
			step(l, &l->t[i], now);
			due = trial_next(l, &l->t[i]);
			if (due && due < next)
				next = due;
		}
		track_step(l, now);
		if (l->k.fd >= 0) {
			uint64_t due = l->k.active ? stun_txn_next(&l->k.txn, &l->rtt) : l->k.next_us;
			if (due && due < next)
				next = due;
		}
		for (unsigned i = 0; i < l->n; i++)
			pfd[i] = (struct pollfd){.fd = l->t[i].fd, .events = POLLIN};
		pfd[l->n] = (struct pollfd){.fd = l->yfd, .events = POLLIN};
		pfd[l->n + 1] = (struct pollfd){.fd = l->k.fd, .events = POLLIN};
		pfd[l->n + 2] = (struct pollfd){.fd = nc_cancel_fd(lim->cancel), .events = POLLIN};
		np = pfd[l->n + 2].fd >= 0 ? l->n + 3 : l->n + 2;
		now = nc_now_us();
		if (poll(pfd, np, nc_limits_timeout_ms(lim, next > now ? next : now, now)) < 0 &&
		    errno != EINTR)
			return -errno;
		for (unsigned i = 0; i < l->n + 2; i++)
			if (pfd[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLERR)))
				skipped += drain(l, pfd[i].fd, i);
		if (skipped > MAX_SKIP)
			return -NC_E_PROTOCOL;
	}
	return 0;
}

/* Narrows [lo, hi] (seconds; hi 0 = no binding died yet) with this round's outcomes. */
static int narrow(struct lt *l, double *lo, double *hi)
{
	int usable = 0;

	for (unsigned i = 0; i < l->n; i++) {
		double s = (double)l->t[i].idle_us / 1e6;
		if (l->t[i].state == T_ALIVE && s > *lo)
			*lo = s;
		if (l->t[i].state == T_DEAD && (*hi == 0 || s < *hi))
			*hi = s;
		usable += l->t[i].state == T_ALIVE || l->t[i].state == T_DEAD;
	}
	if (*hi != 0 && *lo >= *hi) {
		nc_result_note(l->r, "lifetime: a binding survived %.1f s while another died "
				     "after %.1f s: the NAT is not deterministic (RFC 4787 REQ-11)",
			       *lo, *hi);
		*lo = *hi;
	}
	return usable;
}

static int measure_lifetime(struct lt *l, double *lo, double *hi)
{
	double max_s = l->cfg->max_s ? l->cfg->max_s : 120;
	double res = (l->cfg->resolution_ms ? l->cfg->resolution_ms : 500) / 1000.0;
	uint64_t idle[ROUND_K];
	int err;

	*lo = 0;
	*hi = 0;
	for (int round = 0; round < 12; round++) {
		unsigned n = 0;

		if (*hi == 0) {
			/* Geometric: 1, 2, 4, ... s from the longest survived time, up to max. The
			 * first round starts with a 0.25 s control that any binding survives: if
			 * even that gets no answer, the server does not do RESPONSE-PORT. */
			double s = *lo > 0 ? *lo * 2 : 1;
			if (round == 0)
				idle[n++] = CONTROL_IDLE_US;
			for (; n < ROUND_K && s <= max_s; s *= 2)
				idle[n++] = (uint64_t)(s * 1e6);
			if (n < ROUND_K && (n == 0 || idle[n - 1] < (uint64_t)(max_s * 1e6)))
				idle[n++] = (uint64_t)(max_s * 1e6);
		} else {
			for (; n < ROUND_K; n++)
				idle[n] = (uint64_t)((*lo + (*hi - *lo) * (n + 1) / (ROUND_K + 1)) * 1e6);
		}
		if (n == 0)
			break;
		if ((err = open_trials(l, idle, n, 0)) < 0)
			return err;
		err = run_round(l, *hi == 0, *lo, *hi);
		if (err == 0 && (narrow(l, lo, hi) == 0 || l->no_response_port ||
				 (round == 0 && *lo == 0))) {
			close_trials(l);
			*lo = *hi = 0;
			nc_result_note(l->r, "lifetime: not measured: no answer through a binding "
					     "even after 0.25 s idle: the server does not honour "
					     "RESPONSE-PORT (RFC 5780 §7.5), which this test needs");
			return -NC_E_UNSUPPORTED;
		}
		close_trials(l);
		if (err < 0)
			return err;
		if (*hi == 0 && *lo >= max_s) {
			nc_result_note(l->r, "lifetime: the binding outlived the upper bound of %.0f s "
					     "(--lifetime-max)", max_s);
			return 0;
		}
		if (*hi != 0 && *hi - *lo <= res)
			return 0;
	}
	return 0;
}

static int measure_refresh(struct lt *l, double lifetime)
{
	/* Probes at 0.5 L, 1.0 L and 1.5 L of outbound silence: the last one can only arrive if
	 * the inbound probes before it kept the binding alive. */
	uint64_t idle = (uint64_t)(lifetime * 0.5 * 1e6);
	int err;

	if ((err = open_trials(l, &idle, 1, 3)) < 0)
		return err;
	err = run_round(l, false, lifetime, lifetime);
	if (err == 0) {
		if (l->t[0].state == T_ALIVE)
			l->r->udp.inbound_refresh = NC_TRI_YES;
		else if (l->t[0].state == T_DEAD && l->t[0].refreshed >= 1)
			l->r->udp.inbound_refresh = NC_TRI_NO;
	}
	close_trials(l);
	return err;
}

int nc_probe_lifetime(const struct nc_lifetime_cfg *cfg, struct nc_result *r)
{
	struct lt l;
	double lo, hi;
	int err;

	if (!nc_addr_is_set(&cfg->server))
		return -NC_E_INVALID;
	if (sodium_init() < 0)
		return -NC_E_NOMEM;
	memset(&l, 0, sizeof(l));
	l.cfg = cfg;
	l.r = r;
	l.t0 = nc_now_us();
	if ((err = nc_route_source(&cfg->server, &l.src)) < 0)
		return err;
	if ((l.yfd = nc_udp_bind(&l.src, 0, &l.ylocal)) < 0)
		return l.yfd;
	l.rtt.initial_us = MAP_RTO_US;
	l.rtt.min_us = PROBE_GAP_US; /* a late answer must not read as a dead binding */
	memset(&r->track, 0, sizeof(r->track));
	l.k.fd = nc_udp_bind(&l.src, 0, &r->track.local); /* without it: no stability verdict */
	err = measure_lifetime(&l, &lo, &hi);
	if (err == 0 && lo > 0) {
		/* Report the middle of the final bracket: within resolution/2 of the truth. */
		r->udp.lifetime_s = (uint32_t)(hi > 0 ? (lo + hi) / 2 + 0.5 : lo);
		r->udp.lifetime_upper_s = (uint32_t)(hi + 0.999);
		if (!cfg->no_refresh_test && hi > 0)
			err = measure_refresh(&l, lo);
	} else if (err == 0 && hi > 0) {
		nc_result_note(r, "lifetime: the binding was gone after %.1f s of idle time", hi);
		r->udp.lifetime_upper_s = (uint32_t)(hi + 0.999);
	}
	close(l.yfd);
	if (l.k.fd >= 0)
		close(l.k.fd);
	if (r->track.n == 0)
		memset(&r->track, 0, sizeof(r->track));
	nc_classify_stability(r);
	return err == -NC_E_UNSUPPORTED ? 0 : err;
}
