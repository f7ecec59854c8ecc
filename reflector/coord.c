#include "coord.h"

#include <natcheck/error.h>
#include <natcheck/log.h>
#include "netutil.h"
#include "tcpback.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TICKETS 1024
#define TICKET_TTL_US (60ull * 1000000)
#define JOBS 256
#define BACKS 256

enum { EV_STOP = 1, EV_JOB, EV_COORD, EV_BACK = 0x100 };
enum { ORG_PRIMARY = 0, ORG_ALTERNATE, ORG_BOUNCER, ORG_N };

struct ticket {
	uint8_t id[NCP_TICKET_LEN];
	uint64_t created_us; /* 0 = free */
	struct ncp_result res;
};

/* An action this host performs: for a local client request (reply_to unset) or for a
 * partner's authenticated ACTION (reply_to = where the RESULT goes). */
struct job {
	uint8_t ticket[NCP_TICKET_LEN];
	struct nc_addr reply_to;
	struct nc_addr from, target;
	uint8_t transport;
	uint32_t wait_ms;
	uint8_t tid[STUN_TID_LEN];
};

struct back {
	bool used;
	struct job job;
	struct tcpback tb;
};

struct coord {
	struct coord_cfg cfg;
	struct coord_counters cnt;
	struct bouncer *bnc; /* receiving checks and the rate limits of every action */
	pthread_mutex_t mu;  /* tickets, job queue, bouncer */
	pthread_t thread;
	bool started;
	int ep, stopfd, jobfd, coordfd;
	int udp_origin[ORG_N];     /* bounce sockets at each origin's cb_port (-1 = none) */
	struct nc_addr origin[ORG_N];
	_Atomic int relay_fd[2];
	struct ticket tickets[TICKETS];
	struct job jobs[JOBS];
	unsigned job_head, job_n;
	struct back backs[BACKS];
};

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int bind_udp(const struct nc_addr *a, uint16_t port)
{
	struct sockaddr_storage ss;
	struct nc_addr b = *a;
	socklen_t sl;
	int fd, one = 1;

	b.port = port;
	sl = nc_addr_to_sockaddr(&b, &ss);
	fd = socket(a->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int ep_add(int ep, int fd, uint32_t events, uint32_t id)
{
	struct epoll_event ev = {.events = events, .data.u32 = id};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int coord_open(struct coord **out, const struct coord_cfg *cfg)
{
	struct coord *c = calloc(1, sizeof(*c));
	struct bouncer_cfg bc = {0};
	char a[NC_ADDR_STRLEN];
	int err;

	if (!c)
		return -NC_E_NOMEM;
	c->cfg = *cfg;
	if (!c->cfg.coord_port)
		c->cfg.coord_port = COORD_DEFAULT_PORT;
	if (!c->cfg.cb_port)
		c->cfg.cb_port = COORD_DEFAULT_CB_PORT;
	c->ep = c->stopfd = c->jobfd = c->coordfd = -1;
	for (int i = 0; i < ORG_N; i++)
		c->udp_origin[i] = -1;
	c->relay_fd[0] = c->relay_fd[1] = -1;
	pthread_mutex_init(&c->mu, NULL);
	memcpy(bc.key, cfg->key, NCP_KEY_LEN);
	bc.target_rate = cfg->target_rate;
	bc.target_burst = cfg->target_burst;
	bc.global_rate = cfg->global_rate;
	bc.global_burst = cfg->global_burst;
	err = bouncer_new(&c->bnc, &bc);
	sodium_memzero(bc.key, sizeof(bc.key));
	sodium_memzero(c->cfg.key, sizeof(c->cfg.key)); /* the bouncer holds the only copy */
	if (err < 0)
		goto fail;

	c->origin[ORG_PRIMARY] = cfg->primary;
	c->origin[ORG_ALTERNATE] = cfg->alternate;
	if (cfg->bouncer_local)
		c->origin[ORG_BOUNCER] = cfg->bouncer;
	for (int i = 0; i < ORG_N; i++) {
		if (!nc_addr_is_set(&c->origin[i]))
			continue;
		c->origin[i].port = c->cfg.cb_port;
		if ((c->udp_origin[i] = bind_udp(&c->origin[i], c->cfg.cb_port)) < 0) {
			err = c->udp_origin[i];
			nc_log_error("coordination: cannot bind UDP %s: %s", nc_addr_str(&c->origin[i], a),
				  nc_strerror(err));
			goto fail;
		}
	}
	if (cfg->has_key) {
		if ((c->coordfd = bind_udp(&cfg->primary, c->cfg.coord_port)) < 0) {
			err = c->coordfd;
			nc_log_error("coordination: cannot bind UDP port %u: %s", c->cfg.coord_port,
				  nc_strerror(err));
			goto fail;
		}
	}
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	c->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->jobfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->ep < 0 || c->stopfd < 0 || c->jobfd < 0) {
		err = -errno;
		goto fail;
	}
	if ((err = ep_add(c->ep, c->stopfd, EPOLLIN, EV_STOP)) < 0 ||
	    (err = ep_add(c->ep, c->jobfd, EPOLLIN, EV_JOB)) < 0 ||
	    (c->coordfd >= 0 && (err = ep_add(c->ep, c->coordfd, EPOLLIN, EV_COORD)) < 0))
		goto fail;
	*out = c;
	return 0;
fail:
	coord_free(c);
	return err;
}

void coord_set_relay_fds(struct coord *c, int fd_port, int fd_alt_port)
{
	c->relay_fd[0] = fd_port;
	c->relay_fd[1] = fd_alt_port;
}

const struct coord_counters *coord_counters(const struct coord *c)
{
	return &c->cnt;
}

const struct bouncer_counters *coord_bouncer_counters(const struct coord *c)
{
	return bouncer_counters(c->bnc);
}

void coord_format_counters(const struct coord *c, char *buf, size_t len)
{
	const struct coord_counters *k = &c->cnt;
	const struct bouncer_counters *b = bouncer_counters(c->bnc);
	int n = snprintf(buf, len,
			 "connect-back requests %llu (target refused %llu, unavailable %llu, rate "
			 "%llu), actions sent %llu, done %llu, results %llu, polls %llu (unknown "
			 "%llu), relays sent %llu done %llu refused %llu; coordination:",
			 (unsigned long long)k->requests, (unsigned long long)k->target_refused,
			 (unsigned long long)k->unavailable, (unsigned long long)k->local_rate,
			 (unsigned long long)k->actions_sent, (unsigned long long)k->actions_done,
			 (unsigned long long)k->results, (unsigned long long)k->polls,
			 (unsigned long long)k->unknown_ticket, (unsigned long long)k->relays_sent,
			 (unsigned long long)k->relays_done, (unsigned long long)k->relays_refused);
	for (int v = 0; v < BNC_VERDICT_COUNT && n > 0 && (size_t)n < len; v++)
		n += snprintf(buf + n, len - (size_t)n, " %s %llu", bouncer_verdict_name((enum bouncer_verdict)v),
			      (unsigned long long)b->v[v]);
}

/* --- tickets (under mu) ------------------------------------------------------------------ */

static struct ticket *ticket_find(struct coord *c, const uint8_t id[NCP_TICKET_LEN], uint64_t now)
{
	for (unsigned i = 0; i < TICKETS; i++) {
		struct ticket *t = &c->tickets[i];
		if (t->created_us && now - t->created_us < TICKET_TTL_US &&
		    sodium_memcmp(t->id, id, NCP_TICKET_LEN) == 0)
			return t;
	}
	return NULL;
}

static struct ticket *ticket_new(struct coord *c, uint64_t now)
{
	struct ticket *oldest = &c->tickets[0];

	for (unsigned i = 0; i < TICKETS; i++) {
		struct ticket *t = &c->tickets[i];
		if (!t->created_us || now - t->created_us >= TICKET_TTL_US) {
			oldest = t;
			break;
		}
		if (t->created_us < oldest->created_us)
			oldest = t;
	}
	memset(oldest, 0, sizeof(*oldest));
	randombytes_buf(oldest->id, NCP_TICKET_LEN);
	oldest->created_us = now;
	oldest->res.status = NCP_ST_PENDING;
	return oldest;
}

static void ticket_store(struct coord *c, const uint8_t id[NCP_TICKET_LEN],
			 const struct ncp_result *r)
{
	struct ticket *t;

	pthread_mutex_lock(&c->mu);
	if ((t = ticket_find(c, id, nc_now_us())))
		t->res = *r;
	pthread_mutex_unlock(&c->mu);
}

/* --- client requests --------------------------------------------------------------------- */

static size_t error_answer(const uint8_t *pkt, size_t len, uint8_t *out, size_t cap,
			   uint16_t code, const char *reason)
{
	struct stun_builder b;
	int n;

	stun_build_reply(&b, out, cap, pkt, len, STUN_CLASS_ERROR);
	stun_add_error(&b, code, reason);
	n = stun_build_finish(&b, true);
	return n > 0 ? (size_t)n : 0;
}

static bool queue_job(struct coord *c, const struct job *j)
{
	uint64_t one = 1;
	bool ok = false;

	/* under mu */
	if (c->job_n < JOBS) {
		c->jobs[(c->job_head + c->job_n) % JOBS] = *j;
		c->job_n++;
		ok = true;
	}
	if (ok && write(c->jobfd, &one, sizeof(one)) < 0)
		nc_log_debug_limited("coordination: job wakeup: %s", strerror(errno));
	return ok;
}

static bool send_coord(struct coord *c, struct ncp_coord *m, const struct nc_addr *to)
{
	uint8_t buf[NCP_COORD_MAX];
	struct sockaddr_storage ss;
	struct nc_addr dst = *to;
	socklen_t sl;
	int n;

	if (c->coordfd < 0)
		return false;
	if (!dst.port)
		dst.port = c->cfg.coord_port;
	n = bouncer_seal(c->bnc, m, wall_ms(), buf, sizeof(buf));
	if (n < 0)
		return false;
	sl = nc_addr_to_sockaddr(&dst, &ss);
	return sendto(c->coordfd, buf, (size_t)n, 0, (struct sockaddr *)&ss, sl) == n;
}

/* Where an origin is, and who acts for it: *remote set = a partner or the bouncer host. */
static bool resolve_origin(struct coord *c, uint8_t origin, const struct nc_addr *local,
			   struct nc_addr *from, struct nc_addr *remote)
{
	memset(remote, 0, sizeof(*remote));
	switch (origin) {
	case NCP_ORIGIN_PORT:
		*from = *local;
		break;
	case NCP_ORIGIN_ADDR:
		if (nc_addr_is_set(&c->cfg.alternate)) {
			*from = nc_addr_ip_eq(local, &c->cfg.primary) ? c->cfg.alternate : c->cfg.primary;
		} else if (nc_addr_is_set(&c->cfg.partner) && c->coordfd >= 0) {
			*from = c->cfg.partner;
			*remote = c->cfg.partner;
		} else {
			return false;
		}
		break;
	case NCP_ORIGIN_BOUNCER:
		if (c->cfg.bouncer_local) {
			*from = c->cfg.bouncer;
		} else if (nc_addr_is_set(&c->cfg.bouncer) && c->coordfd >= 0) {
			*from = c->cfg.bouncer;
			*remote = c->cfg.bouncer;
		} else {
			return false;
		}
		break;
	default:
		return false;
	}
	from->port = c->cfg.cb_port;
	return true;
}

static size_t handle_connect_back(struct coord *c, int transport, const struct nc_addr *local,
				  const struct nc_addr *src, const uint8_t *pkt, size_t len,
				  const struct stun_msg *m, const struct ncp_cb_request *req,
				  uint8_t *out, size_t cap)
{
	struct nc_addr from, remote;
	struct stun_builder b;
	struct ticket *t;
	struct job j;
	uint64_t now = nc_now_us();
	int n;

	atomic_fetch_add(&c->cnt.requests, 1);
	if (!req->origin)
		return error_answer(pkt, len, out, cap, 400, "NC-CB-REQUEST missing");
	/* The target is always the source this reflector observed: a client that names
	 * another endpoint is refused, never obeyed. */
	if (req->has_target && !nc_addr_eq(&req->target, src)) {
		atomic_fetch_add(&c->cnt.target_refused, 1);
		nc_log_debug_limited("connect-back from %s asked for another target: refused",
				  nc_addr_str(src, (char[NC_ADDR_STRLEN]){0}));
		return error_answer(pkt, len, out, cap, 403, "Target is not the observed source");
	}
	if (req->transport != transport && req->transport == NCP_PROTO_TCP) {
		/* A TCP connect-back must be asked over the TCP connection it tests. */
		atomic_fetch_add(&c->cnt.unavailable, 1);
		return error_answer(pkt, len, out, cap, 400, "TCP connect-back asked over UDP");
	}
	if (!resolve_origin(c, req->origin, local, &from, &remote) || from.family != src->family) {
		atomic_fetch_add(&c->cnt.unavailable, 1);
		return error_answer(pkt, len, out, cap, 403, "Origin not available here");
	}
	memset(&j, 0, sizeof(j));
	j.from = from;
	j.target = *src;
	j.transport = req->transport;
	j.wait_ms = req->wait_ms;
	memcpy(j.tid, m->tid, STUN_TID_LEN);

	pthread_mutex_lock(&c->mu);
	if (!nc_addr_is_set(&remote)) {
		/* Executed here: the same limits a partner's request meets. */
		enum bouncer_verdict v = BNC_OK;
		if (!bouncer_admit(c->bnc, &j.target, now, &v)) {
			pthread_mutex_unlock(&c->mu);
			atomic_fetch_add(&c->cnt.local_rate, 1);
			return error_answer(pkt, len, out, cap, v == BNC_BAD_TARGET ? 403 : 429,
					    v == BNC_BAD_TARGET ? "Bad target" : "Rate limited");
		}
	}
	t = ticket_new(c, now);
	memcpy(j.ticket, t->id, NCP_TICKET_LEN);
	if (!nc_addr_is_set(&remote)) {
		if (!queue_job(c, &j)) {
			t->created_us = 0;
			pthread_mutex_unlock(&c->mu);
			atomic_fetch_add(&c->cnt.local_rate, 1);
			return error_answer(pkt, len, out, cap, 429, "Busy");
		}
		pthread_mutex_unlock(&c->mu);
	} else {
		struct ncp_coord a;
		pthread_mutex_unlock(&c->mu);
		memset(&a, 0, sizeof(a));
		a.type = NCP_T_ACTION;
		memcpy(a.ticket, j.ticket, NCP_TICKET_LEN);
		a.u.action.origin = req->origin;
		a.u.action.transport = req->transport;
		a.u.action.wait_ms = req->wait_ms;
		a.u.action.target = j.target;
		memcpy(a.u.action.tid, j.tid, STUN_TID_LEN);
		if (!send_coord(c, &a, &remote)) {
			atomic_fetch_add(&c->cnt.unavailable, 1);
			return error_answer(pkt, len, out, cap, 503, "Partner unreachable");
		}
		atomic_fetch_add(&c->cnt.actions_sent, 1);
	}
	stun_build_reply(&b, out, cap, pkt, len, STUN_CLASS_SUCCESS);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, src);
	stun_add_bytes(&b, NCP_ATTR_CB_TICKET, j.ticket, NCP_TICKET_LEN);
	stun_add_xor_addr(&b, NCP_ATTR_CB_ORIGIN, &from);
	n = stun_build_finish(&b, true);
	return n > 0 ? (size_t)n : 0;
}

size_t coord_handle_stun(struct coord *c, int transport, const struct nc_addr *local,
			 const struct nc_addr *src, const uint8_t *pkt, size_t len, uint8_t *out,
			 size_t cap)
{
	struct ncp_cb_request req;
	struct stun_msg m;

	if (stun_decode(pkt, len, &m) < 0 || m.cls != STUN_CLASS_REQUEST || m.classic)
		return 0; /* never answer answers, indications or garbage */
	if (ncp_parse_attrs(pkt, len, &req, NULL, NULL, NULL) < 0)
		return error_answer(pkt, len, out, cap, 400, "Malformed suite attribute");
	if (m.method == NCP_METHOD_CONNECT_BACK)
		return handle_connect_back(c, transport, local, src, pkt, len, &m, &req, out, cap);
	if (m.method == NCP_METHOD_CB_RESULT) {
		struct stun_builder b;
		struct ticket *t;
		uint8_t v[NCP_RESULT_LEN];
		int n;

		atomic_fetch_add(&c->cnt.polls, 1);
		if (!req.has_ticket)
			return error_answer(pkt, len, out, cap, 400, "NC-CB-TICKET missing");
		pthread_mutex_lock(&c->mu);
		t = ticket_find(c, req.ticket, nc_now_us());
		if (t)
			ncp_result_put(v, &t->res);
		pthread_mutex_unlock(&c->mu);
		if (!t) {
			atomic_fetch_add(&c->cnt.unknown_ticket, 1);
			return error_answer(pkt, len, out, cap, 404, "Unknown ticket");
		}
		stun_build_reply(&b, out, cap, pkt, len, STUN_CLASS_SUCCESS);
		stun_add_bytes(&b, NCP_ATTR_CB_RESULT, v, sizeof(v));
		n = stun_build_finish(&b, true);
		return n > 0 ? (size_t)n : 0;
	}
	return 0;
}

bool coord_relay(struct coord *c, bool alt_port, const struct nc_addr *dest, const uint8_t *msg,
		 size_t len)
{
	struct ncp_coord m;

	if (!nc_addr_is_set(&c->cfg.partner) || c->coordfd < 0 || len > NCP_RELAY_MAX)
		return false;
	memset(&m, 0, sizeof(m));
	m.type = NCP_T_RELAY;
	m.u.relay.port_sel = alt_port ? 1 : 0;
	m.u.relay.dest = *dest;
	m.u.relay.len = (uint16_t)len;
	memcpy(m.u.relay.msg, msg, len);
	if (!send_coord(c, &m, &c->cfg.partner))
		return false;
	atomic_fetch_add(&c->cnt.relays_sent, 1);
	return true;
}

/* --- the service thread ------------------------------------------------------------------ */

static void deliver(struct coord *c, const struct job *j, const struct ncp_result *r)
{
	if (!nc_addr_is_set(&j->reply_to)) {
		ticket_store(c, j->ticket, r);
	} else {
		struct ncp_coord m;
		memset(&m, 0, sizeof(m));
		m.type = NCP_T_RESULT;
		memcpy(m.ticket, j->ticket, NCP_TICKET_LEN);
		m.u.result = *r;
		if (!send_coord(c, &m, &j->reply_to))
			nc_log_debug_limited("coordination: cannot send a result");
	}
}

static int origin_index(struct coord *c, const struct nc_addr *from)
{
	for (int i = 0; i < ORG_N; i++)
		if (nc_addr_is_set(&c->origin[i]) && nc_addr_eq(&c->origin[i], from))
			return i;
	return -1;
}

/* A UDP bounce: a Binding success response with the client's transaction id, from an
 * endpoint the client never contacted. */
static void bounce_udp(struct coord *c, const struct job *j)
{
	struct ncp_result r = {.status = NCP_ST_SENT};
	struct stun_builder b;
	struct sockaddr_storage ss;
	uint8_t buf[256];
	int oi = origin_index(c, &j->from), n;
	socklen_t sl;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, j->tid);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &j->target);
	stun_add_addr(&b, STUN_ATTR_RESPONSE_ORIGIN, &j->from);
	n = stun_build_finish(&b, true);
	sl = nc_addr_to_sockaddr(&j->target, &ss);
	if (oi < 0 || n < 0 || sendto(c->udp_origin[oi], buf, (size_t)n, 0, (struct sockaddr *)&ss, sl) != n) {
		r.status = NCP_ST_ERROR;
		r.err = oi < 0 ? EADDRNOTAVAIL : (uint32_t)errno;
	}
	atomic_fetch_add(&c->cnt.actions_done, 1);
	deliver(c, j, &r);
}

static void start_job(struct coord *c, const struct job *j)
{
	uint64_t now = nc_now_us();
	struct back *bk = NULL;
	unsigned i;

	if (j->transport == NCP_PROTO_UDP) {
		bounce_udp(c, j);
		return;
	}
	for (i = 0; i < BACKS; i++)
		if (!c->backs[i].used) {
			bk = &c->backs[i];
			break;
		}
	if (!bk) {
		struct ncp_result r = {.status = NCP_ST_ERROR, .err = EBUSY};
		deliver(c, j, &r);
		return;
	}
	atomic_fetch_add(&c->cnt.actions_done, 1);
	bk->job = *j;
	tcpback_start(&bk->tb, &j->from, &j->target, j->wait_ms, now);
	if (bk->tb.done || ep_add(c->ep, bk->tb.fd, EPOLLOUT, EV_BACK + i) < 0) {
		if (!bk->tb.done) {
			tcpback_close(&bk->tb);
			bk->tb.res.status = NCP_ST_ERROR;
		}
		deliver(c, j, &bk->tb.res);
		return;
	}
	bk->used = true;
}

static void back_done(struct coord *c, struct back *bk)
{
	deliver(c, &bk->job, &bk->tb.res);
	bk->used = false;
}

static void relay_recv(struct coord *c, const struct ncp_coord *m)
{
	struct stun_msg s;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = c->relay_fd[m->u.relay.port_sel];

	/* Only what a reflector would send anyway: a Binding success response addressed to
	 * the very endpoint its XOR-MAPPED-ADDRESS names. */
	if (fd < 0 || stun_decode(m->u.relay.msg, m->u.relay.len, &s) < 0 ||
	    s.method != STUN_METHOD_BINDING || s.cls != STUN_CLASS_SUCCESS ||
	    !(s.has & STUN_HAS_XOR_MAPPED) || !nc_addr_eq(&s.xor_mapped, &m->u.relay.dest)) {
		atomic_fetch_add(&c->cnt.relays_refused, 1);
		return;
	}
	sl = nc_addr_to_sockaddr(&m->u.relay.dest, &ss);
	if (sendto(fd, m->u.relay.msg, m->u.relay.len, 0, (struct sockaddr *)&ss, sl) == m->u.relay.len)
		atomic_fetch_add(&c->cnt.relays_done, 1);
}

static void coord_recv(struct coord *c)
{
	uint8_t buf[NCP_COORD_MAX + 1];
	static struct ncp_coord m; /* large (relay body); only this thread uses it */

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct nc_addr src;
		enum bouncer_verdict v;
		ssize_t n = recvfrom(c->coordfd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&ss, &sl);

		if (n < 0)
			return;
		if (nc_addr_from_sockaddr(&src, (struct sockaddr *)&ss, sl) < 0)
			continue;
		/* MSG_TRUNC: n is the real length, so an oversized datagram fails the length
		 * check instead of being read as its prefix. */
		pthread_mutex_lock(&c->mu);
		v = bouncer_handle_coord(c->bnc, nc_now_us(), wall_ms(), buf,
					 (size_t)n > sizeof(buf) ? sizeof(buf) + 1 : (size_t)n, &m);
		pthread_mutex_unlock(&c->mu);
		if (v != BNC_OK) {
			nc_log_debug_limited("coordination datagram from %s refused: %s",
					  nc_addr_str(&src, (char[NC_ADDR_STRLEN]){0}), bouncer_verdict_name(v));
			continue;
		}
		switch (m.type) {
		case NCP_T_ACTION: {
			struct job j;
			memset(&j, 0, sizeof(j));
			memcpy(j.ticket, m.ticket, NCP_TICKET_LEN);
			j.reply_to = src;
			j.target = m.u.action.target;
			j.transport = m.u.action.transport;
			j.wait_ms = m.u.action.wait_ms;
			memcpy(j.tid, m.u.action.tid, STUN_TID_LEN);
			/* A partner's request is executed here, from this host's own origins. */
			if (m.u.action.origin == NCP_ORIGIN_BOUNCER && c->cfg.bouncer_local)
				j.from = c->cfg.bouncer;
			else if (m.u.action.origin != NCP_ORIGIN_BOUNCER)
				j.from = c->cfg.primary;
			if (!nc_addr_is_set(&j.from)) {
				struct ncp_result r = {.status = NCP_ST_ERROR, .err = EADDRNOTAVAIL};
				deliver(c, &j, &r);
				break;
			}
			j.from.port = c->cfg.cb_port;
			if (j.from.family != j.target.family) {
				struct ncp_result r = {.status = NCP_ST_ERROR, .err = EAFNOSUPPORT};
				deliver(c, &j, &r);
				break;
			}
			start_job(c, &j);
			break;
		}
		case NCP_T_RESULT:
			atomic_fetch_add(&c->cnt.results, 1);
			ticket_store(c, m.ticket, &m.u.result);
			break;
		case NCP_T_RELAY:
			relay_recv(c, &m);
			break;
		}
	}
}

static void *coord_main(void *arg)
{
	struct coord *c = arg;
	struct epoll_event evs[32];

	for (;;) {
		uint64_t now = nc_now_us(), next = now + 1000000;
		int n, timeout;

		for (unsigned i = 0; i < BACKS; i++) {
			struct back *bk = &c->backs[i];
			if (!bk->used)
				continue;
			if (tcpback_timeout(&bk->tb, now))
				back_done(c, bk);
			else if (bk->tb.deadline_us < next)
				next = bk->tb.deadline_us;
		}
		timeout = (int)((next - now + 999) / 1000);
		n = epoll_wait(c->ep, evs, 32, timeout);
		if (n < 0 && errno != EINTR)
			break;
		now = nc_now_us();
		for (int i = 0; i < n; i++) {
			uint32_t id = evs[i].data.u32;
			if (id == EV_STOP)
				return NULL;
			if (id == EV_JOB) {
				uint64_t cntr;
				struct job j;
				if (read(c->jobfd, &cntr, sizeof(cntr)) < 0 && errno != EAGAIN)
					nc_log_debug_limited("coordination: job read: %s", strerror(errno));
				for (;;) {
					bool have = false;
					pthread_mutex_lock(&c->mu);
					if (c->job_n) {
						j = c->jobs[c->job_head];
						c->job_head = (c->job_head + 1) % JOBS;
						c->job_n--;
						have = true;
					}
					pthread_mutex_unlock(&c->mu);
					if (!have)
						break;
					start_job(c, &j);
				}
			} else if (id == EV_COORD) {
				coord_recv(c);
			} else if (id >= EV_BACK && id < EV_BACK + BACKS) {
				struct back *bk = &c->backs[id - EV_BACK];
				if (bk->used && tcpback_event(&bk->tb, now))
					back_done(c, bk);
			}
		}
	}
	return NULL;
}

int coord_start(struct coord *c)
{
	if (pthread_create(&c->thread, NULL, coord_main, c) != 0)
		return -NC_E_NOMEM;
	c->started = true;
	return 0;
}

void coord_stop(struct coord *c)
{
	uint64_t one = 1;

	if (!c || !c->started)
		return;
	if (write(c->stopfd, &one, sizeof(one)) < 0)
		nc_log_error("coordination: cannot stop: %s", strerror(errno));
	pthread_join(c->thread, NULL);
	c->started = false;
}

void coord_free(struct coord *c)
{
	if (!c)
		return;
	coord_stop(c);
	for (unsigned i = 0; i < BACKS; i++)
		if (c->backs[i].used)
			tcpback_close(&c->backs[i].tb);
	for (int i = 0; i < ORG_N; i++)
		if (c->udp_origin[i] >= 0)
			close(c->udp_origin[i]);
	if (c->coordfd >= 0)
		close(c->coordfd);
	if (c->jobfd >= 0)
		close(c->jobfd);
	if (c->stopfd >= 0)
		close(c->stopfd);
	if (c->ep >= 0)
		close(c->ep);
	bouncer_free(c->bnc);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
