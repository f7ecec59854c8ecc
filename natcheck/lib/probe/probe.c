#include "probe.h"

#include "classify.h"
#include "netutil.h"
#include "stun.h"
#include "stun_txn.h"

#include <natcheck/cancel.h>
#include <natcheck/error.h>

#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_SOCKS (5 + NC_MAX_ALLOC) /* samples, S_map, two filter sockets, the port-sharing probe */
#define EV_PCAP MAX_SOCKS
#define EV_CANCEL (MAX_SOCKS + 1)
#define ATTEMPTS_POSITIVE 7 /* tests that should be answered: loss must not fail them */
/* A probe whose silence is a verdict retransmits like its control for as long as the control
 * is unanswered (it must try at least as long as the control needed), with room for the
 * redundant copies on top. */
#define ATTEMPTS_NEGATIVE (ATTEMPTS_POSITIVE + COPIES)
/* Copies of a negative probe sent within a few ms of each other once the path is known to
 * work: one lost packet must not read as "filtered". */
#define COPIES 3
#define COPY_GAP_MIN_US 1000u
#define COPY_GAP_MAX_US 10000u
/* The least silence after a negative probe's last copy, whatever the RTT (LAN jitter, the
 * server's own scheduling). */
#define SILENCE_MIN_US 20000u
#define DEFAULT_BUDGET_MS 5000u
/* Datagrams that belong to no transaction the run skips before it stops (a flood of junk or of
 * stale ids must not keep it reading forever). */
#define MAX_UNRELATED 1024
#define READ_BURST 64 /* datagrams read from one socket per loop turn */

struct psock {
	int fd;
	struct nc_addr local;
};

struct tx {
	struct stun_txn txn;
	int obs;     /* index into r->obs */
	int sock;    /* sender */
	int rx_sock; /* where the answer arrives (the hairpin target for NC_ROLE_HAIRPIN) */
	/* Negative probes (filtering, hairpin): silence is the verdict, so the wait follows the
	 * evidence: the positive control (a tx index; -1 = none) and the measured RTT. */
	bool negative;
	int control;
	bool control_seen;     /* the control's answer has been taken into account */
	unsigned copies_due;   /* redundant copies still to send */
	uint64_t copy_next_us;
	uint64_t sends[COPIES]; /* the last COPIES transmission times, newest first */
	uint64_t give_up_us;   /* when the silence is enough (0 = not known yet) */
	bool malformed;        /* an answer with our id from the expected source did not decode */
	bool recorded;         /* its observation holds the final outcome */
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
	struct stun_rtt rtt; /* shared by every transaction of the run */
	struct nc_addr src; /* the local address every socket binds */
	int s_map, s_f1, s_f2, s_alloc0;
	int tx_map_primary, tx_alloc0;
	bool alt_started, hairpin_started;
	unsigned unrelated;
	void *pcap; /* capture handle, from cfg->capture */
};

#define trace(e, ...) nc_tracef((e)->cfg->trace, (e)->cfg->trace_arg, (e)->t0, __VA_ARGS__)

static uint32_t rel_us(const struct engine *e, uint64_t t)
{
	uint64_t d = t > e->t0 ? t - e->t0 : 0;
	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
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

/* Queues a Binding request from sock to dest; it goes out on the next loop turn. A negative
 * probe names its positive control (a tx index, or -1). */
static int start_tx(struct engine *e, enum nc_role role, int sock, const struct nc_addr *dest,
		    uint32_t change, int control)
{
	bool negative = change != 0 || role == NC_ROLE_HAIRPIN;
	struct nc_obs *o;
	struct tx *t;
	int err;

	if (e->ntx >= NC_MAX_OBS || !(o = new_obs(e, role, sock)))
		return -NC_E_NOSPACE;
	t = &e->txs[e->ntx];
	memset(t, 0, sizeof(*t));
	err = stun_txn_init(&t->txn, dest, change, 0,
			    negative ? ATTEMPTS_NEGATIVE : ATTEMPTS_POSITIVE);
	if (err < 0) {
		e->r->n_obs--;
		return err;
	}
	/* A change request's answer comes from an address only OTHER-ADDRESS names, and the
	 * hairpin's is a request arriving elsewhere: their sources are the classifier's to
	 * check (it records where each came from). */
	if (negative)
		memset(&t->txn.expect, 0, sizeof(t->txn.expect));
	t->obs = (int)(o - e->r->obs);
	t->sock = sock;
	t->rx_sock = sock;
	t->negative = negative;
	t->control = control;
	o->dest = *dest;
	o->expect = *dest; /* change requests get theirs from the classifier */
	o->change_flags = change;
	o->outcome = NC_OUT_TIMEOUT; /* until an answer says otherwise */
	e->ntx++;
	return (int)(e->ntx - 1);
}

static void note_send(struct engine *e, struct tx *t, uint64_t now, const char *what)
{
	struct nc_obs *o = &e->r->obs[t->obs];
	char d[NC_ADDR_STRLEN], l[NC_ADDR_STRLEN];

	memmove(&t->sends[1], &t->sends[0], sizeof(t->sends) - sizeof(t->sends[0]));
	t->sends[0] = now;
	if (t->txn.state == STUN_TXN_SEND_FAILED) {
		trace(e, "send %-14s to %s failed: %s", nc_role_name(o->role),
		      nc_addr_str(&o->dest, d), strerror(-t->txn.send_err));
		return;
	}
	trace(e, "send %-14s %s -> %s%s%s (%s %u)", nc_role_name(o->role),
	      nc_addr_str(&e->socks[t->sock].local, l), nc_addr_str(&o->dest, d),
	      o->change_flags & STUN_CHANGE_IP ? " change-ip" : "",
	      o->change_flags & STUN_CHANGE_PORT ? " change-port" : "", what, t->txn.attempts);
}

/* Copies the transaction's state into its observation, once it is final. */
static void record(struct engine *e, struct tx *t, uint64_t now)
{
	struct nc_obs *o = &e->r->obs[t->obs];

	if (t->recorded)
		return;
	t->recorded = true;
	o->attempts = (uint8_t)(t->txn.attempts > 255 ? 255 : t->txn.attempts);
	o->sent_ms = t->txn.attempts ? rel_us(e, t->txn.first_us) / 1000 : 0;
	o->last_sent_us = t->txn.attempts ? rel_us(e, t->txn.last_us) : 0;
	switch (t->txn.state) {
	case STUN_TXN_SEND_FAILED:
		o->outcome = NC_OUT_SEND_FAILED;
		break;
	case STUN_TXN_ANSWERED:
		break; /* on_answer() filled it */
	default:
		if (t->malformed) {
			o->outcome = NC_OUT_MALFORMED;
		} else if (t->txn.wrong_source) {
			o->outcome = NC_OUT_WRONG_SOURCE;
			o->from = t->txn.wrong_from;
		} else {
			o->outcome = NC_OUT_TIMEOUT;
			/* The evidence behind the silence, for the classifier's rule. */
			o->given_up_us = rel_us(e, now);
			if (o->given_up_us == 0)
				o->given_up_us = 1;
			trace(e, "done %-14s no answer to %u transmissions, silent %.1f ms after the "
				 "last", nc_role_name(o->role), t->txn.attempts,
			      (o->given_up_us - o->last_sent_us) / 1000.0);
		}
		break;
	}
}

static void start_followups(struct engine *e);

static void on_answer(struct engine *e, struct tx *t, const struct stun_msg *m,
		      const struct nc_addr *from, bool fp_stale)
{
	struct nc_obs *o = &e->r->obs[t->obs];
	char f[NC_ADDR_STRLEN], a[NC_ADDR_STRLEN];

	o->from = *from;
	o->rtt_us = t->txn.rtt_us;
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
	o->fp_stale = fp_stale;
	o->outcome = NC_OUT_ANSWERED; /* the transaction checked the source it expects */
	trace(e, "recv %-14s from %s mapped %s%s", nc_role_name(o->role), nc_addr_str(from, f),
	      nc_addr_str(nc_obs_mapped(o), a), fp_stale ? "  (stale FINGERPRINT)" : "");
	if (t == &e->txs[e->tx_map_primary]) {
		snprintf(e->r->server.software, sizeof(e->r->server.software), "%s", m->software);
		if (nc_obs_usable(o) && nc_addr_is_set(&o->other)) {
			/* Validated before anything is sent there (issue 13 item 5). */
			if (nc_endpoint_problem(&o->other, &e->r->server.primary))
				e->r->server.bogus_other = o->other;
			else
				e->r->server.other = o->other;
		}
	}
	start_followups(e);
}

static void on_hairpin(struct engine *e, struct tx *t, const struct nc_addr *from, uint64_t now)
{
	struct nc_obs *o = &e->r->obs[t->obs];
	char f[NC_ADDR_STRLEN];

	if (t->txn.state == STUN_TXN_ANSWERED)
		return;
	t->txn.state = STUN_TXN_ANSWERED;
	t->txn.answered_us = now;
	o->outcome = NC_OUT_ANSWERED;
	o->from = *from;
	o->rtt_us = (uint32_t)(now - t->txn.last_us);
	record(e, t, now);
	trace(e, "recv hairpin        request arrived from %s", nc_addr_str(from, f));
}

static void start_followups(struct engine *e)
{
	struct nc_result *r = e->r;
	const struct nc_obs *prim = &r->obs[e->txs[e->tx_map_primary].obs];
	const struct nc_obs *a0;
	const char *why;
	struct nc_addr alt;
	char s[NC_ADDR_STRLEN];
	int ti, sock;

	if (!nc_obs_usable(prim))
		return;
	if (!e->alt_started) {
		e->alt_started = true;
		if (nc_addr_is_set(&r->server.other) &&
		    nc_addr_ip_eq(&r->server.other, &r->server.primary)) {
			nc_result_note(r, "server: its alternate address has the same IP as the "
					  "primary, so it cannot test address changes");
			memset(&r->server.other, 0, sizeof(r->server.other));
		}
		if (nc_addr_is_set(&r->server.other)) {
			alt = nc_expected_source(&r->server.primary, &r->server.other, STUN_CHANGE_IP);
			start_tx(e, NC_ROLE_MAP_ALT_IP, e->s_map, &alt, 0, -1);
			start_tx(e, NC_ROLE_MAP_ALT_BOTH, e->s_map, &r->server.other, 0, -1);
			alt = nc_expected_source(&r->server.primary, &r->server.other, STUN_CHANGE_PORT);
			start_tx(e, NC_ROLE_MAP_ALT_PORT, e->s_map, &alt, 0, -1);
			/* Port overloading shows only across remotes: a fresh socket towards A2:P2
			 * gets, from a NAT that shares its ports, one that a sample towards A1:P1
			 * already holds (RFC 4787 §4.2.3). */
			if ((sock = open_sock(e, &e->src, 0)) >= 0)
				start_tx(e, NC_ROLE_ALLOC_ALT, sock, &r->server.other, 0, -1);
		}
	}
	if (e->hairpin_started || e->cfg->no_hairpin || e->tx_alloc0 < 0 ||
	    e->txs[e->tx_alloc0].txn.state != STUN_TXN_ANSWERED)
		return;
	a0 = &r->obs[e->txs[e->tx_alloc0].obs];
	if (!nc_obs_usable(a0))
		return;
	e->hairpin_started = true;
	/* The target is what the server says S_map's public endpoint is: a lying server must not
	 * get the probe sent to a third party. */
	if ((why = nc_endpoint_problem(nc_obs_mapped(prim), &r->server.primary))) {
		nc_result_note(r, "hairpin: not tested: the server named %s as this host's public "
				  "endpoint (%s)", nc_addr_str(nc_obs_mapped(prim), s), why);
		return;
	}
	ti = start_tx(e, NC_ROLE_HAIRPIN, e->s_alloc0, nc_obs_mapped(prim), 0, e->tx_map_primary);
	if (ti >= 0) {
		struct nc_obs *h = &r->obs[e->txs[ti].obs];
		e->txs[ti].rx_sock = e->s_map;
		h->mapped = *nc_obs_mapped(a0); /* the sender's own public endpoint */
		h->expect = h->mapped;          /* RFC 4787 REQ-9: hairpin keeps it */
	}
}

static struct tx *find_tx(struct engine *e, int rx_sock, const struct stun_msg *m, bool hairpin)
{
	for (unsigned i = 0; i < e->ntx; i++) {
		struct tx *t = &e->txs[i];
		bool is_hp = e->r->obs[t->obs].role == NC_ROLE_HAIRPIN;
		if (t->rx_sock == rx_sock && is_hp == hairpin && stun_txn_owns(&t->txn, m))
			return t;
	}
	return NULL;
}

/* One datagram from socket si, decoded as far as it goes (rc from stun_txn_recv). Returns
 * true when it belonged to one of the run's transactions. */
static bool handle(struct engine *e, int si, int rc, const struct stun_msg *m,
		   const struct nc_addr *from, uint64_t now)
{
	char f[NC_ADDR_STRLEN];
	struct tx *t;
	bool fp_stale = false;

	if (rc == -NC_E_NOT_STUN || rc == -NC_E_FAMILY || !nc_addr_is_set(from) ||
	    m->method != STUN_METHOD_BINDING)
		return false;
	if (m->cls == STUN_CLASS_REQUEST) {
		t = rc == 0 ? find_tx(e, si, m, true) : NULL;
		if (!t)
			return false;
		on_hairpin(e, t, from, now);
		return true;
	}
	if (!(t = find_tx(e, si, m, false)) || t->recorded)
		return t != NULL; /* a late copy of a finished test's answer is ours, but moot */
	if (rc == -NC_E_FINGERPRINT && (m->has & STUN_HAS_FINGERPRINT)) {
		/* Whole, but changed on the way: the evidence of an ALG (issue 13 item 9). */
		fp_stale = true;
	} else if (rc < 0) {
		/* Our id, but an attribute that does not decode: from the expected source it is
		 * the server's answer, and a malformed one. */
		if (!nc_addr_is_set(&t->txn.expect) || nc_addr_eq(from, &t->txn.expect)) {
			t->malformed = true;
			stun_txn_expire(&t->txn);
			record(e, t, now);
			e->r->obs[t->obs].from = *from;
			trace(e, "recv %-14s from %s: malformed answer (%s)",
			      nc_role_name(e->r->obs[t->obs].role), nc_addr_str(from, f),
			      nc_strerror(rc));
		}
		return true;
	}
	switch (stun_txn_accept(&t->txn, &e->rtt, m, from, now)) {
	case STUN_TXN_MATCHED:
		on_answer(e, t, m, from, fp_stale);
		record(e, t, now);
		return true;
	case STUN_TXN_WRONG_SOURCE:
		trace(e, "recv %-14s from %s: not the source it was sent to; still waiting",
		      nc_role_name(e->r->obs[t->obs].role), nc_addr_str(from, f));
		return true;
	case STUN_TXN_DUPLICATE:
		return true;
	default:
		return false;
	}
}

/* Reads what waits on socket si (a bounded burst: the loop re-checks its limits between
 * bursts). Returns -NC_E_PROTOCOL once too many unrelated datagrams have been skipped. */
static int drain_sock(struct engine *e, int si)
{
	uint8_t buf[2048];
	struct stun_msg m;
	struct nc_addr from;
	char f[NC_ADDR_STRLEN];

	for (unsigned i = 0; i < READ_BURST; i++) {
		int rc;
		memset(&m, 0, sizeof(m)); /* an oversized datagram is not decoded at all */
		rc = stun_txn_recv(e->socks[si].fd, buf, sizeof(buf), &m, &from);
		if (rc == -EAGAIN || rc == -EWOULDBLOCK)
			return 0;
		if (!nc_addr_is_set(&from))
			continue; /* an ICMP error queued on the socket: retransmission copes */
		if (handle(e, si, rc, &m, &from, nc_now_us()))
			continue;
		trace(e, "drop datagram from %s: %s", nc_addr_str(&from, f),
		      rc < 0 ? nc_strerror(rc) : "no transaction of this run");
		if (++e->unrelated > MAX_UNRELATED)
			return -NC_E_PROTOCOL;
	}
	return 0;
}

/* The control's round trip as far as it is known: exact for an answer to a first transmission;
 * after retransmissions the answer may belong to any of them (Karn), so the time since the
 * first is the bound that is safe (a satellite link whose RTT exceeds the first RTO, a path
 * that woke up late). */
static uint64_t control_rtt_us(const struct tx *ctl)
{
	if (!ctl || ctl->txn.state != STUN_TXN_ANSWERED)
		return 0;
	return ctl->txn.attempts <= 1 ? ctl->txn.rtt_us : ctl->txn.answered_us - ctl->txn.first_us;
}

/* The silence after a negative probe's last copy that turns it into an answer: what an answer
 * would take at the measured RTT and jitter (and at least the control's own round trip). */
static uint64_t silence_us(const struct engine *e, const struct tx *ctl)
{
	uint64_t s = e->rtt.srtt_us * 2, v = e->rtt.srtt_us + 4 * e->rtt.rttvar_us;

	if (v > s)
		s = v;
	if (control_rtt_us(ctl) > s)
		s = control_rtt_us(ctl);
	return s < SILENCE_MIN_US ? SILENCE_MIN_US : s;
}

static uint64_t copy_gap_us(const struct engine *e)
{
	uint64_t g = e->rtt.srtt_us / 8;
	return g < COPY_GAP_MIN_US ? COPY_GAP_MIN_US : g > COPY_GAP_MAX_US ? COPY_GAP_MAX_US : g;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/* A negative probe: retransmits like its control while the control is unanswered; once the
 * control has answered, makes sure COPIES copies left no earlier than the control's answered
 * transmission, and gives up after a silence of silence_us() after the last one. Returns its
 * next deadline (0 = finished). */
static uint64_t service_negative(struct engine *e, struct tx *t, uint64_t now)
{
	struct tx *ctl = t->control >= 0 ? &e->txs[t->control] : NULL;
	int fd = e->socks[t->sock].fd;
	unsigned before = t->txn.attempts;

	/* Without a control (none today), the path is taken as proven from the start. */
	if ((!ctl || ctl->txn.state == STUN_TXN_ANSWERED) && !t->control_seen) {
		unsigned after = 0;
		t->control_seen = true;
		for (unsigned i = 0; i < COPIES && ctl; i++)
			after += t->sends[i] != 0 && t->sends[i] >= ctl->txn.last_us;
		t->copies_due = COPIES - after;
		t->copy_next_us = now;
	}
	if (ctl && ctl->txn.state != STUN_TXN_PENDING && ctl->txn.state != STUN_TXN_ANSWERED) {
		/* No control, no verdict: the probe's silence could prove nothing. */
		stun_txn_expire(&t->txn);
		return 0;
	}
	if (t->copies_due && now >= t->copy_next_us) {
		stun_txn_resend(&t->txn, fd, now);
		t->copies_due--;
		t->copy_next_us = now + copy_gap_us(e);
		note_send(e, t, now, "copy");
	}
	if (t->txn.state != STUN_TXN_PENDING)
		return 0;
	if (!t->control_seen) {
		/* Control pending (or none): the transaction's own schedule, with the first
		 * transmission followed by its redundant copies. */
		if (stun_txn_tick(&t->txn, fd, &e->rtt, now) > 0 || t->txn.state == STUN_TXN_SEND_FAILED) {
			note_send(e, t, now, "attempt");
			if (before == 0) {
				t->copies_due = COPIES - 1;
				t->copy_next_us = now + copy_gap_us(e);
			}
		}
		if (t->txn.state != STUN_TXN_PENDING)
			return 0;
		return earliest(stun_txn_next(&t->txn, &e->rtt), t->copies_due ? t->copy_next_us : 0);
	}
	if (t->copies_due)
		return t->copy_next_us;
	t->give_up_us = t->txn.last_us + silence_us(e, ctl);
	if (now >= t->give_up_us) {
		stun_txn_expire(&t->txn);
		return 0;
	}
	return t->give_up_us;
}

/* Sends what is due, retires what has waited long enough, and returns the next deadline
 * (0 when nothing is left to wait for). */
static uint64_t run_timers(struct engine *e, uint64_t now)
{
	uint64_t next = 0;

	for (unsigned i = 0; i < e->ntx; i++) {
		struct tx *t = &e->txs[i];
		uint64_t due;

		if (t->recorded)
			continue;
		if (t->negative) {
			due = service_negative(e, t, now);
		} else {
			if (stun_txn_tick(&t->txn, e->socks[t->sock].fd, &e->rtt, now) > 0 ||
			    t->txn.state == STUN_TXN_SEND_FAILED)
				note_send(e, t, now, "attempt");
			due = stun_txn_next(&t->txn, &e->rtt);
		}
		if (t->txn.state != STUN_TXN_PENDING) {
			record(e, t, now);
			continue;
		}
		next = earliest(next, due);
	}
	return next;
}

static int setup(struct engine *e, struct nc_addr *src)
{
	const struct nc_probe_cfg *c = e->cfg;
	unsigned samples = c->samples ? c->samples : NC_PROBE_DEFAULT_SAMPLES;
	int s, err, ctl;

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
		err = start_tx(e, NC_ROLE_ALLOC, s, &c->server, 0, -1);
		if (err < 0)
			return err;
		if (i == 0) {
			e->s_alloc0 = s;
			e->tx_alloc0 = err;
		}
	}
	if ((e->s_map = open_sock(e, src, c->map_port)) < 0)
		return e->s_map;
	e->tx_map_primary = start_tx(e, NC_ROLE_MAP_PRIMARY, e->s_map, &c->server, 0, -1);
	if (e->tx_map_primary < 0)
		return e->tx_map_primary;
	if (nc_addr_is_set(&c->server2))
		start_tx(e, NC_ROLE_MAP_SERVER2, e->s_map, &c->server2, 0, -1);
	/* Filtering: each probe on its own socket, with a plain request as positive control
	 * (its answer comes from A1:P1 and opens nothing for A2 or P2). The control goes first,
	 * so that the probe's first copies already leave after it. */
	if ((e->s_f1 = open_sock(e, src, 0)) < 0)
		return e->s_f1;
	if ((e->s_f2 = open_sock(e, src, 0)) < 0)
		return e->s_f2;
	ctl = start_tx(e, NC_ROLE_FILTER_CONTROL, e->s_f1, &c->server, 0, -1);
	if (ctl < 0)
		return ctl;
	start_tx(e, NC_ROLE_FILTER_IP_PORT, e->s_f1, &c->server, STUN_CHANGE_IP | STUN_CHANGE_PORT,
		 ctl);
	ctl = start_tx(e, NC_ROLE_FILTER_CONTROL, e->s_f2, &c->server, 0, -1);
	if (ctl < 0)
		return ctl;
	start_tx(e, NC_ROLE_FILTER_PORT, e->s_f2, &c->server, STUN_CHANGE_PORT, ctl);
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

static int watch(struct engine *e, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	if (fd < 0)
		return 0;
	return epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* The loop: timers, then a wait bounded by the next timer, the budget and the run's limits,
 * then the sockets that are readable. The limits are checked on every turn. */
static int run(struct engine *e, uint64_t budget_us)
{
	const struct nc_probe_cfg *cfg = e->cfg;
	struct epoll_event evs[MAX_SOCKS + 2];
	struct nc_limits lim = cfg->lim;
	uint64_t next;
	int err;

	if (!lim.deadline_us || lim.deadline_us > e->t0 + budget_us)
		lim.deadline_us = e->t0 + budget_us; /* the budget is one more deadline */
	next = run_timers(e, e->t0); /* sends the allocation burst, then the first probes */
	if (cfg->after_burst)
		cfg->after_burst(cfg->after_burst_arg);
	for (; next != 0; next = run_timers(e, nc_now_us())) {
		uint64_t now = nc_now_us();
		int n;

		if ((err = nc_limits_check(&lim, now)) < 0) {
			if (err == -NC_E_DEADLINE)
				nc_result_note(e->r, "run: stopped at its deadline (%u ms) with tests "
						     "unfinished", (unsigned)((now - e->t0) / 1000));
			return err;
		}
		n = epoll_wait(e->ep, evs, MAX_SOCKS + 2, nc_limits_timeout_ms(&lim, next, now));
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;
			if (tag == EV_PCAP) {
				cfg->capture->pump(e->pcap);
			} else if (tag < MAX_SOCKS && (err = drain_sock(e, (int)tag)) < 0) {
				nc_result_note(e->r, "run: stopped after %u datagrams that belong to "
						     "no test (a flood or a confused server)",
					       e->unrelated);
				return err;
			}
			/* EV_CANCEL: the limits check at the top of the loop ends the run. */
		}
	}
	return 0;
}

int nc_probe_udp(const struct nc_probe_cfg *cfg, struct nc_result *r)
{
	struct engine e;
	uint64_t budget_us, now;
	int err;

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
	if ((err = setup(&e, &e.src)) < 0)
		goto out;
	if (cfg->pcap_path) {
		if ((err = open_capture(&e)) < 0)
			goto out;
		if ((err = watch(&e, cfg->capture->fd(e.pcap), EV_PCAP)) < 0)
			goto out;
	}
	if ((err = watch(&e, nc_cancel_fd(cfg->lim.cancel), EV_CANCEL)) < 0)
		goto out;
	e.t0 = nc_now_us();
	err = run(&e, budget_us);
	/* Whatever is still pending has been cut short: record it as it stands, so the
	 * classifier can tell an unfinished silence from a verdict. */
	now = nc_now_us();
	for (unsigned i = 0; i < e.ntx; i++) {
		stun_txn_expire(&e.txs[i].txn);
		record(&e, &e.txs[i], now);
	}
	r->duration_ms = (uint32_t)((now - e.t0) / 1000);
	nc_classify_udp(r);
	/* Cancellation is the caller's answer; a deadline or a flood leaves a partial result. */
	if (err == -NC_E_DEADLINE || err == -NC_E_PROTOCOL)
		err = 0;
out:
	if (e.pcap)
		cfg->capture->close(e.pcap);
	for (unsigned i = 0; i < e.nsock; i++)
		close(e.socks[i].fd);
	close(e.ep);
	return err;
}
