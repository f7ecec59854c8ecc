#include "lifetime.h"

#include <natcheck/error.h>
#include "netutil.h"
#include "stun.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ROUND_K 8            /* parallel bindings per round */
#define PROBE_ATTEMPTS 4     /* RESPONSE-PORT requests per trial (loss) */
#define PROBE_GAP_US 100000u /* between those attempts, and the wait after the last */
#define MAP_RTO_US 200000u   /* retransmission of the binding-creating request */
#define MAP_ATTEMPTS 7
#define CONTROL_IDLE_US 250000u /* positive control of the first round */

enum trial_state { T_MAPPING, T_IDLE, T_PROBING, T_ALIVE, T_DEAD, T_FAILED };

/* One binding under test: X's socket, its public endpoint, and when to probe it. */
struct trial {
	int fd;
	struct nc_addr local, pub;
	enum trial_state state;
	uint8_t tid_map[STUN_TID_LEN], tid_probe[STUN_TID_LEN];
	uint64_t idle_us;     /* how long to leave it idle */
	uint64_t mapped_at;   /* when X last heard from the server: the idle time starts here */
	uint64_t next_us;     /* next send */
	unsigned attempts;
	int obs;              /* observation index of the probe, -1 until probed */
	/* inbound-refresh trial: probe every idle_us, up to `refreshes` times */
	unsigned refreshes, refreshed;
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
	bool no_response_port; /* the server answered Y instead of Pa:Pp */
};

#define ltrace(l, ...) nc_tracef((l)->cfg->trace, (l)->cfg->trace_arg, (l)->t0, "lifetime: " __VA_ARGS__)

static int send_binding(struct lt *l, int fd, const uint8_t *tid, uint16_t response_port)
{
	uint8_t buf[64];
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(&l->cfg->server, &ss);
	int n;

	if ((n = stun_binding_request(buf, sizeof(buf), tid, 0, response_port)) < 0)
		return n;
	if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&ss, sl) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static void close_trials(struct lt *l)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->t[i].fd >= 0)
			close(l->t[i].fd);
	l->n = 0;
}

static int open_trials(struct lt *l, const uint64_t *idle_us, unsigned n, unsigned refreshes)
{
	uint64_t now = nc_now_us();

	for (unsigned i = 0; i < n; i++) {
		struct trial *t = &l->t[i];
		memset(t, 0, sizeof(*t));
		t->obs = -1;
		t->fd = nc_udp_bind(&l->src, 0, &t->local);
		if (t->fd < 0) {
			int err = t->fd;
			l->n = i;
			close_trials(l);
			return err;
		}
		t->idle_us = idle_us[i];
		t->refreshes = refreshes;
		t->state = T_MAPPING;
		t->next_us = now;
		randombytes_buf(t->tid_map, STUN_TID_LEN);
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

/* One step of a trial's state machine at time now. */
static void step(struct lt *l, struct trial *t, uint64_t now)
{
	if (now < t->next_us)
		return;
	switch (t->state) {
	case T_MAPPING:
		if (t->attempts >= MAP_ATTEMPTS) {
			t->state = T_FAILED;
			return;
		}
		send_binding(l, t->fd, t->tid_map, 0);
		t->attempts++;
		t->next_us = now + MAP_RTO_US;
		return;
	case T_IDLE:
		t->state = T_PROBING;
		t->attempts = 0;
		randombytes_buf(t->tid_probe, STUN_TID_LEN);
		record_probe(l, t);
		/* fall through */
	case T_PROBING:
		if (t->attempts >= PROBE_ATTEMPTS) {
			t->state = T_DEAD;
			ltrace(l, "binding %u idle %.2f s: gone", t->local.port, (double)t->idle_us / 1e6);
			return;
		}
		send_binding(l, l->yfd, t->tid_probe, t->pub.port);
		t->attempts++;
		if (t->obs >= 0)
			l->r->obs[t->obs].attempts = (uint8_t)t->attempts;
		t->next_us = now + PROBE_GAP_US;
		return;
	default:
		return;
	}
}

static void on_packet(struct lt *l, struct trial *t, const uint8_t *buf, size_t len,
		      const struct nc_addr *from, uint64_t now)
{
	struct stun_msg m;

	if (stun_decode(buf, len, &m) < 0 || m.cls != STUN_CLASS_SUCCESS ||
	    !nc_addr_eq(from, &l->cfg->server))
		return;
	if (t->state == T_MAPPING && sodium_memcmp(m.tid, t->tid_map, STUN_TID_LEN) == 0) {
		t->pub = (m.has & STUN_HAS_XOR_MAPPED) ? m.xor_mapped : m.mapped;
		t->mapped_at = now;
		t->state = T_IDLE;
		t->next_us = now + t->idle_us;
		return;
	}
	if (t->state == T_PROBING && sodium_memcmp(m.tid, t->tid_probe, STUN_TID_LEN) == 0) {
		struct nc_obs *o = t->obs >= 0 ? &l->r->obs[t->obs] : NULL;
		if (o) {
			o->outcome = NC_OUT_ANSWERED;
			o->from = *from;
			o->xor_mapped = m.xor_mapped;
			o->mapped = m.mapped;
		}
		if (t->refreshes && ++t->refreshed < t->refreshes) {
			/* The inbound-refresh trial: stay idle (no outbound) until the next one. */
			t->state = T_IDLE;
			t->next_us = now + t->idle_us;
			t->obs = -1;
			return;
		}
		t->state = T_ALIVE;
		ltrace(l, "binding %u idle %.2f s: alive", t->local.port, (double)t->idle_us / 1e6);
	}
}

static void drain(struct lt *l, int fd, struct trial *t)
{
	uint8_t buf[1500];
	struct sockaddr_storage ss;
	struct nc_addr from;

	for (;;) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
		if (n < 0)
			return;
		if (t && nc_addr_from_sockaddr(&from, (struct sockaddr *)&ss, sl) == 0)
			on_packet(l, t, buf, (size_t)n, &from, nc_now_us());
		/* On Y, any answer to a probe means the server does not do RESPONSE-PORT:
		 * an error (420) or, from servers that ignore the attribute, an answer sent
		 * to Y's own port. Either way the trial says nothing about X's binding. */
		if (!t) {
			struct stun_msg m;
			if (stun_decode(buf, (size_t)n, &m) < 0)
				continue;
			for (unsigned i = 0; i < l->n; i++)
				if (l->t[i].state == T_PROBING &&
				    sodium_memcmp(m.tid, l->t[i].tid_probe, STUN_TID_LEN) == 0) {
					l->t[i].state = T_FAILED;
					l->no_response_port = true;
				}
		}
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

/* Runs the current trials until done; returns 0 or a negative error. */
static int run_round(struct lt *l, bool stop_at_first_dead, double lo, double hi)
{
	struct pollfd pfd[ROUND_K + 1];
	unsigned last_progress = UINT32_MAX;

	while (!round_done(l, stop_at_first_dead)) {
		uint64_t now = nc_now_us(), next = now + 1000000u;
		unsigned elapsed = (unsigned)((now - l->t0) / 1000000u);
		int timeout;

		if (l->cfg->progress && elapsed != last_progress) {
			last_progress = elapsed;
			l->cfg->progress(l->cfg->progress_arg, elapsed, lo, hi);
		}
		for (unsigned i = 0; i < l->n; i++) {
			step(l, &l->t[i], now);
			if (l->t[i].state <= T_PROBING && l->t[i].next_us < next)
				next = l->t[i].next_us;
		}
		for (unsigned i = 0; i < l->n; i++)
			pfd[i] = (struct pollfd){.fd = l->t[i].fd, .events = POLLIN};
		pfd[l->n] = (struct pollfd){.fd = l->yfd, .events = POLLIN};
		now = nc_now_us();
		timeout = next > now ? (int)((next - now + 999) / 1000) : 0;
		if (poll(pfd, l->n + 1, timeout) < 0 && errno != EINTR)
			return -errno;
		for (unsigned i = 0; i < l->n; i++)
			if (pfd[i].revents & POLLIN)
				drain(l, pfd[i].fd, &l->t[i]);
		if (pfd[l->n].revents & POLLIN)
			drain(l, l->yfd, NULL);
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
	return err == -NC_E_UNSUPPORTED ? 0 : err;
}
