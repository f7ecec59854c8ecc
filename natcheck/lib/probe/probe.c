#include "probe.h"

#include "classify.h"
#include <natcheck/error.h>
#include "netutil.h"
#include "stun.h"

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_SOCKS (4 + NC_MAX_ALLOC)
#define RTO_INITIAL_US 100000u /* before any RTT sample (Tailscale uses 100 ms too) */
#define RTO_MIN_US 15000u
#define RTO_MAX_US 1000000u
#define ATTEMPTS_POSITIVE 7 /* tests that should be answered: loss must not fail them */
#define ATTEMPTS_NEGATIVE 5 /* tests whose silence is a verdict */
#define DEFAULT_BUDGET_MS 5000u

struct psock {
	int fd;
	struct nc_addr local;
};

struct tx {
	int obs;  /* index into r->obs */
	int sock; /* sender */
	int rx_sock; /* where the answer arrives (the hairpin target for NC_ROLE_HAIRPIN) */
	uint8_t tid[STUN_TID_LEN];
	uint8_t pkt[64];
	size_t len;
	uint64_t first_us, last_us, next_us;
	unsigned max_attempts;
	bool answered;
	bool finished; /* answered, failed to send, or attempts exhausted and waited out */
};

struct engine {
	const struct nc_probe_cfg *cfg;
	struct nc_result *r;
	int ep;
	struct psock socks[MAX_SOCKS];
	unsigned nsock;
	struct tx txs[NC_MAX_OBS];
	unsigned ntx;
	uint64_t t0;
	uint64_t srtt, rttvar; /* microseconds; srtt 0 = no sample yet */
	int s_map, s_f1, s_f2, s_alloc0;
	int tx_map_primary, tx_alloc0;
	bool alt_started, hairpin_started;
	void *pcap; /* capture handle, from cfg->capture */
};

#define trace(e, ...) nc_tracef((e)->cfg->trace, (e)->cfg->trace_arg, (e)->t0, __VA_ARGS__)

static uint64_t rto_us(const struct engine *e)
{
	uint64_t rto;

	if (e->srtt == 0)
		return RTO_INITIAL_US;
	rto = 2 * e->srtt + 4 * e->rttvar; /* RFC 6298 uses srtt + 4 rttvar; doubled for jitter */
	if (rto < RTO_MIN_US)
		rto = RTO_MIN_US;
	if (rto > RTO_MAX_US)
		rto = RTO_MAX_US;
	return rto;
}

static void rtt_sample(struct engine *e, uint64_t rtt)
{
	/* RFC 6298 §2: alpha 1/8, beta 1/4. */
	if (e->srtt == 0) {
		e->srtt = rtt;
		e->rttvar = rtt / 2;
	} else {
		uint64_t diff = rtt > e->srtt ? rtt - e->srtt : e->srtt - rtt;
		e->rttvar = (3 * e->rttvar + diff) / 4;
		e->srtt = (7 * e->srtt + rtt) / 8;
	}
}

/* Opens a socket on a fresh random port (or the given one) and registers it with epoll. */
static int open_sock(struct engine *e, const struct nc_addr *src, uint16_t port)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct psock *s;
	int fd;

	if (e->nsock >= MAX_SOCKS)
		return -NC_E_NOSPACE;
	s = &e->socks[e->nsock];
	fd = nc_udp_bind(src, port, &s->local);
	if (fd < 0)
		return fd;
	ev.data.u32 = e->nsock;
	if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	s->fd = fd;
	return (int)e->nsock++;
}

static struct nc_obs *new_obs(struct engine *e, enum nc_role role, int sock)
{
	struct nc_obs *o;

	if (e->r->n_obs >= NC_MAX_OBS)
		return NULL;
	o = &e->r->obs[e->r->n_obs++];
	memset(o, 0, sizeof(*o));
	o->role = (uint8_t)role;
	o->socket = (uint8_t)sock;
	o->local = e->socks[sock].local;
	return o;
}

/* Queues a Binding request from sock to dest; it goes out on the next loop turn. */
static int start_tx(struct engine *e, enum nc_role role, int sock, const struct nc_addr *dest,
		    uint32_t change, unsigned max_attempts)
{
	struct nc_obs *o;
	struct tx *t;
	int n;

	if (e->ntx >= NC_MAX_OBS || !(o = new_obs(e, role, sock)))
		return -NC_E_NOSPACE;
	t = &e->txs[e->ntx];
	memset(t, 0, sizeof(*t));
	t->obs = (int)(o - e->r->obs);
	t->sock = sock;
	t->rx_sock = sock;
	t->max_attempts = max_attempts;
	randombytes_buf(t->tid, sizeof(t->tid)); /* unguessable: off-path spoofing is moot */
	n = stun_binding_request(t->pkt, sizeof(t->pkt), t->tid, change, 0);
	if (n < 0)
		return n;
	t->len = (size_t)n;
	t->next_us = nc_now_us();
	o->dest = *dest;
	o->expect = *dest; /* change requests get theirs from the classifier */
	o->change_flags = change;
	o->outcome = NC_OUT_TIMEOUT; /* until an answer says otherwise */
	e->ntx++;
	return (int)(e->ntx - 1);
}

static void send_tx(struct engine *e, struct tx *t, uint64_t now)
{
	struct nc_obs *o = &e->r->obs[t->obs];
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(&o->dest, &ss);
	char d[NC_ADDR_STRLEN];

	if (o->attempts == 0) {
		t->first_us = now;
		o->sent_ms = (uint32_t)((now - e->t0) / 1000);
	}
	o->attempts++;
	t->last_us = now;
	t->next_us = now + rto_us(e);
	if (sendto(e->socks[t->sock].fd, t->pkt, t->len, 0, (struct sockaddr *)&ss, sl) < 0 &&
	    errno != EAGAIN && errno != EINTR && errno != ENOBUFS) {
		trace(e, "send %-14s to %s failed: %s", nc_role_name(o->role),
		      nc_addr_str(&o->dest, d), strerror(errno));
		o->outcome = NC_OUT_SEND_FAILED;
		t->finished = true;
		return;
	}
	trace(e, "send %-14s %s -> %s%s%s (attempt %u)", nc_role_name(o->role),
	      nc_addr_str(&e->socks[t->sock].local, (char[NC_ADDR_STRLEN]){0}),
	      nc_addr_str(&o->dest, d), o->change_flags & STUN_CHANGE_IP ? " change-ip" : "",
	      o->change_flags & STUN_CHANGE_PORT ? " change-port" : "", o->attempts);
}

static void start_followups(struct engine *e);

static void on_answer(struct engine *e, struct tx *t, const struct stun_msg *m,
		      const struct nc_addr *from, uint64_t now)
{
	struct nc_obs *o = &e->r->obs[t->obs];
	char f[NC_ADDR_STRLEN], a[NC_ADDR_STRLEN];

	if (t->answered)
		return; /* a retransmission's duplicate */
	t->answered = true;
	t->finished = true;
	o->from = *from;
	o->rtt_us = (uint32_t)(now - t->last_us);
	if (o->attempts == 1)
		rtt_sample(e, now - t->first_us); /* Karn: no samples from retransmissions */
	if (m->cls == STUN_CLASS_ERROR) {
		o->outcome = NC_OUT_ERROR;
		o->error_code = m->error_code;
		trace(e, "recv %-14s error %u %s from %s", nc_role_name(o->role), m->error_code,
		      m->error_reason, nc_addr_str(from, f));
		return;
	}
	o->mapped = m->mapped;
	o->xor_mapped = m->xor_mapped;
	o->response_origin = m->response_origin;
	o->other = (m->has & STUN_HAS_OTHER) ? m->other : m->changed;
	/* Every answer's source is checked against where the test sent it; a change request's
	 * expected source is only known from OTHER-ADDRESS, so the classifier checks those. */
	o->outcome = (!o->change_flags && !nc_addr_eq(from, &o->dest)) ? NC_OUT_WRONG_SOURCE
									: NC_OUT_ANSWERED;
	trace(e, "recv %-14s from %s mapped %s%s", nc_role_name(o->role), nc_addr_str(from, f),
	      nc_addr_str(nc_obs_mapped(o), a),
	      o->outcome == NC_OUT_WRONG_SOURCE ? "  (unexpected source)" : "");
	if (t->obs == e->txs[e->tx_map_primary].obs && o->outcome == NC_OUT_ANSWERED) {
		e->r->server.other = o->other;
		snprintf(e->r->server.software, sizeof(e->r->server.software), "%s", m->software);
	}
	start_followups(e);
}

static void on_hairpin(struct engine *e, struct tx *t, const struct nc_addr *from, uint64_t now)
{
	struct nc_obs *o = &e->r->obs[t->obs];
	char f[NC_ADDR_STRLEN];

	if (t->answered)
		return;
	t->answered = t->finished = true;
	o->outcome = NC_OUT_ANSWERED;
	o->from = *from;
	o->rtt_us = (uint32_t)(now - t->last_us);
	trace(e, "recv hairpin        request arrived from %s", nc_addr_str(from, f));
}

static void start_followups(struct engine *e)
{
	struct nc_result *r = e->r;
	const struct nc_obs *prim = &r->obs[e->txs[e->tx_map_primary].obs];
	const struct nc_obs *a0;
	struct nc_addr alt;
	int ti;

	if (prim->outcome != NC_OUT_ANSWERED || !e->txs[e->tx_map_primary].answered)
		return;
	if (!e->alt_started) {
		e->alt_started = true;
		if (nc_addr_is_set(&r->server.other) && nc_addr_ip_eq(&r->server.other, &r->server.primary)) {
			nc_result_note(r, "server: its alternate address has the same IP as the "
					  "primary, so it cannot test address changes");
			memset(&r->server.other, 0, sizeof(r->server.other));
		}
		if (nc_addr_is_set(&r->server.other) && r->server.other.family == r->server.primary.family) {
			alt = nc_expected_source(&r->server.primary, &r->server.other, STUN_CHANGE_IP);
			start_tx(e, NC_ROLE_MAP_ALT_IP, e->s_map, &alt, 0, ATTEMPTS_POSITIVE);
			start_tx(e, NC_ROLE_MAP_ALT_BOTH, e->s_map, &r->server.other, 0, ATTEMPTS_POSITIVE);
			alt = nc_expected_source(&r->server.primary, &r->server.other, STUN_CHANGE_PORT);
			start_tx(e, NC_ROLE_MAP_ALT_PORT, e->s_map, &alt, 0, ATTEMPTS_POSITIVE);
		}
	}
	if (e->hairpin_started || e->cfg->no_hairpin || e->tx_alloc0 < 0 ||
	    !e->txs[e->tx_alloc0].answered)
		return;
	a0 = &r->obs[e->txs[e->tx_alloc0].obs];
	if (a0->outcome != NC_OUT_ANSWERED)
		return;
	e->hairpin_started = true;
	ti = start_tx(e, NC_ROLE_HAIRPIN, e->s_alloc0, nc_obs_mapped(prim), 0, ATTEMPTS_NEGATIVE);
	if (ti >= 0) {
		struct nc_obs *h = &r->obs[e->txs[ti].obs];
		e->txs[ti].rx_sock = e->s_map;
		h->mapped = *nc_obs_mapped(a0); /* the sender's own public endpoint */
		h->expect = h->mapped;          /* RFC 4787 REQ-9: hairpin keeps it */
	}
}

static struct tx *find_tx(struct engine *e, int rx_sock, const uint8_t *tid, bool hairpin)
{
	for (unsigned i = 0; i < e->ntx; i++) {
		struct tx *t = &e->txs[i];
		bool is_hp = e->r->obs[t->obs].role == NC_ROLE_HAIRPIN;
		if (t->rx_sock == rx_sock && is_hp == hairpin &&
		    sodium_memcmp(t->tid, tid, STUN_TID_LEN) == 0)
			return t;
	}
	return NULL;
}

static void drain_sock(struct engine *e, int si)
{
	uint8_t buf[2048];
	struct sockaddr_storage ss;
	struct stun_msg m;
	struct nc_addr from;
	char f[NC_ADDR_STRLEN];

	for (;;) {
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(e->socks[si].fd, buf, sizeof(buf), MSG_TRUNC,
				     (struct sockaddr *)&ss, &sl);
		uint64_t now = nc_now_us();
		struct tx *t;

		if (n < 0)
			return; /* EAGAIN, or an ICMP error queued on the socket: nothing to read */
		if ((size_t)n > sizeof(buf) || nc_addr_from_sockaddr(&from, (struct sockaddr *)&ss, sl) < 0 ||
		    stun_decode(buf, (size_t)n, &m) < 0 || m.method != STUN_METHOD_BINDING) {
			trace(e, "drop %zd bytes from %s: not a STUN Binding message", n,
			      nc_addr_str(&from, f));
			continue;
		}
		if (m.cls == STUN_CLASS_REQUEST)
			t = find_tx(e, si, m.tid, true);
		else
			t = find_tx(e, si, m.tid, false);
		if (!t) {
			trace(e, "drop message from %s: unknown transaction", nc_addr_str(&from, f));
			continue;
		}
		if (m.cls == STUN_CLASS_REQUEST)
			on_hairpin(e, t, &from, now);
		else if (m.cls == STUN_CLASS_SUCCESS || m.cls == STUN_CLASS_ERROR)
			on_answer(e, t, &m, &from, now);
	}
}

/* Sends what is due, retires what has waited long enough, and returns the next deadline
 * (0 when nothing is left to wait for). */
static uint64_t run_timers(struct engine *e, uint64_t now)
{
	uint64_t next = 0, rto = rto_us(e);

	for (unsigned i = 0; i < e->ntx; i++) {
		struct tx *t = &e->txs[i];
		struct nc_obs *o = &e->r->obs[t->obs];
		uint64_t due;

		if (t->finished)
			continue;
		/* An RTT measured since the last send shortens the wait. */
		if (o->attempts > 0 && t->next_us > t->last_us + rto)
			t->next_us = t->last_us + rto;
		if (o->attempts < t->max_attempts) {
			if (now >= t->next_us)
				send_tx(e, t, now);
			due = t->next_us;
		} else {
			due = t->last_us + 2 * rto; /* the last attempt gets two RTOs */
			if (now >= due) {
				t->finished = true;
				continue;
			}
		}
		if (!t->finished && (next == 0 || due < next))
			next = due;
	}
	return next;
}

static int setup(struct engine *e, struct nc_addr *src)
{
	const struct nc_probe_cfg *c = e->cfg;
	unsigned samples = c->samples ? c->samples : NC_PROBE_DEFAULT_SAMPLES;
	int s, err;

	if (samples > NC_MAX_ALLOC)
		samples = NC_MAX_ALLOC;
	if ((err = nc_route_source(&c->server, src)) < 0)
		return err;
	/* The allocation burst goes first, before any other new flow, so that a sequential
	 * allocator shows its step undisturbed by the other tests' mappings. */
	e->s_alloc0 = -1;
	e->tx_alloc0 = -1;
	for (unsigned i = 0; i < samples; i++) {
		if ((s = open_sock(e, src, 0)) < 0)
			return s;
		err = start_tx(e, NC_ROLE_ALLOC, s, &c->server, 0, ATTEMPTS_POSITIVE);
		if (err < 0)
			return err;
		if (i == 0) {
			e->s_alloc0 = s;
			e->tx_alloc0 = err;
		}
	}
	if ((e->s_map = open_sock(e, src, c->map_port)) < 0)
		return e->s_map;
	e->tx_map_primary = start_tx(e, NC_ROLE_MAP_PRIMARY, e->s_map, &c->server, 0, ATTEMPTS_POSITIVE);
	if (e->tx_map_primary < 0)
		return e->tx_map_primary;
	if (nc_addr_is_set(&c->server2))
		start_tx(e, NC_ROLE_MAP_SERVER2, e->s_map, &c->server2, 0, ATTEMPTS_POSITIVE);
	/* Filtering: each probe on its own socket, with a plain request as positive control
	 * (its answer comes from A1:P1 and opens nothing for A2 or P2). */
	if ((e->s_f1 = open_sock(e, src, 0)) < 0)
		return e->s_f1;
	if ((e->s_f2 = open_sock(e, src, 0)) < 0)
		return e->s_f2;
	start_tx(e, NC_ROLE_FILTER_CONTROL, e->s_f1, &c->server, 0, ATTEMPTS_POSITIVE);
	start_tx(e, NC_ROLE_FILTER_IP_PORT, e->s_f1, &c->server, STUN_CHANGE_IP | STUN_CHANGE_PORT,
		 ATTEMPTS_NEGATIVE);
	start_tx(e, NC_ROLE_FILTER_CONTROL, e->s_f2, &c->server, 0, ATTEMPTS_POSITIVE);
	start_tx(e, NC_ROLE_FILTER_PORT, e->s_f2, &c->server, STUN_CHANGE_PORT, ATTEMPTS_NEGATIVE);
	return 0;
}

static int open_capture(struct engine *e)
{
	uint16_t ports[MAX_SOCKS];

	for (unsigned i = 0; i < e->nsock; i++)
		ports[i] = e->socks[i].local.port;
	if (!e->cfg->capture)
		return -NC_E_UNSUPPORTED;
	return e->cfg->capture->open(&e->pcap, e->cfg->pcap_path, ports, e->nsock);
}

int nc_probe_udp(const struct nc_probe_cfg *cfg, struct nc_result *r)
{
	struct engine e;
	struct nc_addr src;
	struct epoll_event evs[MAX_SOCKS + 1];
	uint64_t budget_us, next;
	int err, pfd = -1;

	if (!nc_addr_is_set(&cfg->server))
		return -NC_E_INVALID;
	if (sodium_init() < 0)
		return -NC_E_NOMEM;
	memset(&e, 0, sizeof(e));
	e.cfg = cfg;
	e.r = r;
	e.t0 = nc_now_us();
	budget_us = (uint64_t)(cfg->budget_ms ? cfg->budget_ms : DEFAULT_BUDGET_MS) * 1000u;
	r->server.primary = cfg->server;
	r->server.secondary = cfg->server2;
	e.ep = epoll_create1(EPOLL_CLOEXEC);
	if (e.ep < 0)
		return -errno;
	if ((err = setup(&e, &src)) < 0)
		goto out;
	if (cfg->pcap_path) {
		if ((err = open_capture(&e)) < 0)
			goto out;
		pfd = cfg->capture->fd(e.pcap);
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = MAX_SOCKS};
		if (pfd >= 0)
			epoll_ctl(e.ep, EPOLL_CTL_ADD, pfd, &ev);
	}
	e.t0 = nc_now_us();
	next = run_timers(&e, e.t0); /* sends the allocation burst, then the first probes */
	if (cfg->after_burst)
		cfg->after_burst(cfg->after_burst_arg);
	for (; next != 0; next = run_timers(&e, nc_now_us())) {
		uint64_t now = nc_now_us();
		int timeout_ms, n;

		if (now - e.t0 > budget_us) {
			nc_result_note(r, "run: stopped at the %u ms budget with tests unfinished",
				       (unsigned)(budget_us / 1000));
			break;
		}
		timeout_ms = next > now ? (int)((next - now + 999) / 1000) : 0;
		n = epoll_wait(e.ep, evs, MAX_SOCKS + 1, timeout_ms);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			goto out;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == MAX_SOCKS)
				cfg->capture->pump(e.pcap);
			else
				drain_sock(&e, (int)evs[i].data.u32);
		}
	}
	r->duration_ms = (uint32_t)((nc_now_us() - e.t0) / 1000);
	nc_classify_udp(r);
	err = 0;
out:
	if (e.pcap)
		cfg->capture->close(e.pcap);
	for (unsigned i = 0; i < e.nsock; i++)
		close(e.socks[i].fd);
	close(e.ep);
	return err;
}
