#include "tcpprobe.h"

#include "cursor.h"
#include <natcheck/error.h>
#include "classify_evidence.h"
#include "ncproto.h"
#include "stun.h"
#include "stun_txn.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG_CAP 1024

struct cb {
	bool asked;
	uint8_t ticket[NCP_TICKET_LEN];
	struct nc_addr origin;
	struct ncp_result res;
	bool have_res;
	struct nc_tcp_obs *obs; /* its record in r->tcp_obs */
	uint64_t asked_at;
	uint64_t report_at;     /* when the origin's final report came */
};

struct run {
	const struct nc_tcp_cfg *cfg;
	struct nc_result *r;
	uint64_t t0;
	unsigned to_ms;
	struct nc_addr local;
	struct nc_tcp_obs scratch; /* where records go when r->tcp_obs is full */
};

#define TRACE(run, ...) nc_tracef((run)->cfg->trace, (run)->cfg->trace_arg, (run)->t0, __VA_ARGS__)

/* The run's limits stop everything; a test's own timeout only ends that test. */
static bool stopped(int err)
{
	return err == -NC_E_CANCELLED || err == -NC_E_DEADLINE;
}

/* --- records ------------------------------------------------------------------------------ */

static struct nc_tcp_obs *rec(struct run *run, enum nc_tcp_test test, uint16_t port,
			      const struct nc_addr *dest)
{
	struct nc_result *r = run->r;
	struct nc_tcp_obs *o = r->n_tcp_obs < NC_MAX_TCP_OBS ? &r->tcp_obs[r->n_tcp_obs++]
							     : &run->scratch;

	memset(o, 0, sizeof(*o));
	o->test = (uint8_t)test;
	o->outcome = NC_OUT_TIMEOUT;
	o->at_ms = (uint32_t)((nc_now_us() - run->t0) / 1000);
	o->local = run->local;
	o->local.port = port;
	if (dest)
		o->dest = *dest;
	return o;
}

static enum nc_cb_report report_of(const struct ncp_result *res)
{
	switch (res->status) {
	case NCP_ST_PENDING: return NC_CB_PENDING;
	case NCP_ST_CONNECTED: return NC_CB_CONNECTED;
	case NCP_ST_RST: return NC_CB_RST;
	case NCP_ST_TIMEOUT: return NC_CB_TIMEOUT;
	case NCP_ST_ERROR: return NC_CB_ERROR;
	case NCP_ST_ICMP: {
		const char *w = ncp_unsolicited_word(res);
		return strcmp(w, "icmp-port-unreachable") == 0   ? NC_CB_ICMP_PORT
		       : strcmp(w, "icmp-admin-prohibited") == 0 ? NC_CB_ICMP_ADMIN
								 : NC_CB_ICMP_OTHER;
	}
	default: return NC_CB_NONE;
	}
}

/* --- sockets ------------------------------------------------------------------------------ */

static int tcp_sock(const struct nc_addr *local, uint16_t port)
{
	struct sockaddr_storage ss;
	struct nc_addr a = *local;
	socklen_t sl;
	int fd, one = 1;

	fd = socket(local->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* NAT Check's trick: a listener and several outgoing connections on one local port. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	a.port = port;
	sl = nc_addr_to_sockaddr(&a, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto fail;
	return fd;
fail:
	one = -errno;
	close(fd);
	return one;
}

/* A listener on a fresh random port from the dynamic range (RFC 6335). */
static int tcp_listener(const struct nc_addr *local, uint16_t *port)
{
	for (int tries = 0; tries < 64; tries++) {
		uint16_t p = (uint16_t)(49152 + randombytes_uniform(16384));
		int fd = tcp_sock(local, p);
		if (fd == -EADDRINUSE)
			continue;
		if (fd < 0)
			return fd;
		if (listen(fd, 16) < 0) {
			int err = -errno;
			close(fd);
			if (err == -EADDRINUSE)
				continue;
			return err;
		}
		*port = p;
		return fd;
	}
	return -EADDRINUSE;
}

static int tcp_connect_start(const struct nc_addr *local, uint16_t port, const struct nc_addr *to)
{
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(to, &ss);
	int fd = tcp_sock(local, port);

	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Waits for ev on fd until deadline_us, within the run's limits (checked on every turn, the
 * cancellation handle polled with fd). Returns the revents, -NC_E_TIMEOUT, or the limits'
 * error. */
static int wait_fd(const struct run *run, int fd, short ev, uint64_t deadline_us)
{
	const struct nc_limits *lim = &run->cfg->lim;

	for (;;) {
		uint64_t now = nc_now_us();
		struct pollfd p[2] = {{.fd = fd, .events = ev},
				      {.fd = nc_cancel_fd(lim->cancel), .events = POLLIN}};
		int n, err;

		if ((err = nc_limits_check(lim, now)) < 0)
			return err;
		if (now >= deadline_us)
			return -NC_E_TIMEOUT;
		n = poll(p, p[1].fd >= 0 ? 2 : 1, nc_limits_timeout_ms(lim, deadline_us, now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (p[0].revents)
			return p[0].revents;
	}
}

/* 0 when connected, else -errno, -NC_E_TIMEOUT or the limits' error. */
static int connect_finish(const struct run *run, int fd, uint64_t deadline_us)
{
	int err = 0, rv = wait_fd(run, fd, POLLOUT, deadline_us);
	socklen_t el = sizeof(err);

	if (rv < 0)
		return rv;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		return -errno;
	return err ? -err : 0;
}

static int write_all(const struct run *run, int fd, const uint8_t *buf, size_t len,
		     uint64_t deadline_us)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rv = wait_fd(run, fd, POLLOUT, deadline_us);
			if (rv < 0)
				return rv;
			continue;
		}
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* One STUN message off a stream (RFC 8489 §6.2.2): the header, then its declared length.
 * The deadline and the limits are checked on every turn, also while data keeps coming (a
 * server that streams without pause must not keep this loop reading). */
static int read_msg(const struct run *run, int fd, uint8_t *buf, size_t cap, uint64_t deadline_us)
{
	size_t have = 0, want = STUN_HEADER_LEN;

	while (have < want) {
		uint64_t now = nc_now_us();
		ssize_t n;
		int err;

		if ((err = nc_limits_check(&run->cfg->lim, now)) < 0)
			return err;
		if (now >= deadline_us)
			return -NC_E_TIMEOUT;
		n = read(fd, buf + have, want - have);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rv = wait_fd(run, fd, POLLIN, deadline_us);
			if (rv < 0)
				return rv;
			continue;
		}
		if (n < 0)
			return -errno;
		have += (size_t)n;
		if (have == STUN_HEADER_LEN && want == STUN_HEADER_LEN) {
			want += nc_get_n16(buf + 2);
			if (want > cap || (buf[0] & 0xC0))
				return -NC_E_MALFORMED;
		}
	}
	return (int)have;
}

/* Sends t's request (req: its bytes, carrying t's transaction id) on a connected stream and
 * reads until the response with that id, skipping at most STUN_TXN_MAX_SKIP other messages
 * (a server answering with ids that match nothing gets a protocol error, not a loop). */
static int tcp_transact(const struct run *run, int fd, const struct stun_txn *t,
			const uint8_t *req, size_t len, uint8_t *ans, size_t cap,
			uint64_t deadline_us, struct stun_msg *m)
{
	int n = write_all(run, fd, req, len, deadline_us);

	if (n < 0)
		return n;
	for (unsigned skipped = 0;; skipped++) {
		if (skipped > STUN_TXN_MAX_SKIP)
			return -NC_E_PROTOCOL;
		if ((n = read_msg(run, fd, ans, cap, deadline_us)) < 0)
			return n;
		if (stun_decode(ans, (size_t)n, m) < 0)
			return -NC_E_MALFORMED;
		if ((m->cls == STUN_CLASS_SUCCESS || m->cls == STUN_CLASS_ERROR) && stun_txn_owns(t, m))
			return n;
	}
}

/* A Binding over the connected stream fd; records what came back in o (dest set). */
static int binding(const struct run *run, int fd, uint64_t deadline_us, struct nc_tcp_obs *o,
		   struct nc_addr *other)
{
	uint8_t ans[MSG_CAP];
	struct stun_txn t;
	struct stun_msg m;
	int n;

	if ((n = stun_txn_init(&t, &o->dest, 0, 0, 1)) < 0)
		return n;
	n = tcp_transact(run, fd, &t, t.pkt, t.len, ans, sizeof(ans), deadline_us, &m);
	if (n < 0) {
		o->outcome = n == -NC_E_TIMEOUT || stopped(n) ? NC_OUT_TIMEOUT : NC_OUT_ERROR;
		return n;
	}
	if (m.cls != STUN_CLASS_SUCCESS) {
		o->outcome = NC_OUT_ERROR;
		o->error_code = m.error_code;
		return -NC_E_PROTOCOL;
	}
	o->mapped = (m.has & STUN_HAS_XOR_MAPPED) ? m.xor_mapped : m.mapped;
	if (other)
		*other = (m.has & STUN_HAS_OTHER) ? m.other : m.changed;
	if (!nc_addr_is_set(&o->mapped)) {
		o->outcome = NC_OUT_ERROR;
		return -NC_E_PROTOCOL;
	}
	o->outcome = NC_OUT_ANSWERED;
	return 0;
}

/* Opens a connection from local port `port` to dest, and a Binding over it, recorded as
 * test. Returns the connected descriptor (kept for later requests) or a negative error. */
static int connect_binding(struct run *run, enum nc_tcp_test test, uint16_t port,
			   const struct nc_addr *dest, uint64_t deadline_us, struct nc_addr *other)
{
	struct nc_tcp_obs *o = rec(run, test, port, dest);
	int fd = tcp_connect_start(&run->local, port, dest), err;

	if (fd < 0) {
		o->outcome = NC_OUT_SEND_FAILED;
		return fd;
	}
	if ((err = connect_finish(run, fd, deadline_us)) < 0) {
		o->outcome = err == -NC_E_TIMEOUT || stopped(err) ? NC_OUT_TIMEOUT : NC_OUT_SEND_FAILED;
		close(fd);
		return err;
	}
	if ((err = binding(run, fd, deadline_us, o, other)) < 0) {
		close(fd);
		return err;
	}
	return fd;
}

/* CONNECT-BACK over an established connection; fills cb on success. Recorded as test. */
static int ask_cb(struct run *run, int fd, enum nc_tcp_test test, uint8_t origin,
		  uint32_t cb_wait_ms, uint32_t wait_ms, const struct nc_tcp_obs *via,
		  struct cb *cb)
{
	struct ncp_cb_request q = {.origin = origin, .transport = NCP_PROTO_TCP,
				   .wait_ms = cb_wait_ms, .has_target = true, .target = via->mapped};
	uint8_t req[128], ans[MSG_CAP];
	struct ncp_cb_request got;
	struct stun_txn t;
	struct stun_msg m;
	int n;

	cb->obs = rec(run, test, via->local.port, &via->dest);
	cb->obs->mapped = via->mapped;
	cb->obs->wait_ms = wait_ms;
	cb->obs->outcome = NC_OUT_NONE;
	if (fd < 0)
		return -NC_E_INVALID;
	if ((n = stun_txn_init(&t, &via->dest, 0, 0, 1)) < 0 ||
	    (n = ncp_build_cb_request(req, sizeof(req), t.tid, &q)) < 0)
		return n;
	cb->asked_at = nc_now_us();
	n = tcp_transact(run, fd, &t, req, (size_t)n, ans, sizeof(ans),
			 nc_now_us() + run->to_ms * 1000ull, &m);
	if (n < 0) {
		cb->obs->outcome = n == -NC_E_TIMEOUT || stopped(n) ? NC_OUT_TIMEOUT : NC_OUT_ERROR;
		return n;
	}
	if (m.cls != STUN_CLASS_SUCCESS) {
		TRACE(run, "connect-back (origin %u) refused: %u %s", origin, m.error_code, m.error_reason);
		cb->obs->outcome = NC_OUT_ERROR;
		cb->obs->error_code = m.error_code;
		return -NC_E_UNSUPPORTED;
	}
	if (ncp_parse_attrs(ans, (size_t)n, &got, &cb->origin, NULL, NULL) < 0 || !got.has_ticket) {
		cb->obs->outcome = NC_OUT_ERROR;
		return -NC_E_PROTOCOL;
	}
	memcpy(cb->ticket, got.ticket, NCP_TICKET_LEN);
	cb->asked = true;
	cb->obs->outcome = NC_OUT_ANSWERED;
	cb->obs->arrived = NC_TRI_NO;
	cb->obs->from = cb->origin;
	return 0;
}

static int poll_cb(struct run *run, int fd, struct cb *cb)
{
	uint8_t req[64], ans[MSG_CAP];
	struct stun_txn t;
	struct stun_msg m;
	bool has = false;
	int n;

	if (!cb->asked || fd < 0)
		return -NC_E_INVALID;
	if ((n = stun_txn_init(&t, &cb->obs->dest, 0, 0, 1)) < 0 ||
	    (n = ncp_build_cb_poll(req, sizeof(req), t.tid, cb->ticket)) < 0)
		return n;
	n = tcp_transact(run, fd, &t, req, (size_t)n, ans, sizeof(ans),
			 nc_now_us() + run->to_ms * 1000ull, &m);
	if (n < 0)
		return n;
	if (m.cls != STUN_CLASS_SUCCESS ||
	    ncp_parse_attrs(ans, (size_t)n, NULL, NULL, &cb->res, &has) < 0 || !has)
		return -NC_E_PROTOCOL;
	cb->have_res = cb->res.status != NCP_ST_PENDING;
	/* The record keeps what the origin said; an arrival (set by the wait) outranks it. */
	cb->obs->report = (uint8_t)report_of(&cb->res);
	cb->obs->error_code = cb->res.status == NCP_ST_ERROR ? (uint16_t)cb->res.err : 0;
	if (cb->have_res && cb->obs->arrived != NC_TRI_YES)
		cb->obs->elapsed_ms = cb->res.elapsed_ms;
	return 0;
}

static void cb_arrived(struct cb *cb, uint64_t now)
{
	if (cb->obs->arrived == NC_TRI_YES)
		return;
	cb->obs->arrived = NC_TRI_YES;
	if (cb->report_at && cb->report_at < now)
		now = cb->report_at;
	cb->obs->elapsed_ms = (uint32_t)((now - cb->asked_at) / 1000);
}

/* --- the tests ---------------------------------------------------------------------------- */

/* The probe records each test in r->tcp_obs; the verdicts come from nc_classify_tcp(). */
int nc_probe_tcp(const struct nc_tcp_cfg *cfg, struct nc_result *r)
{
	struct run run = {.cfg = cfg, .r = r, .t0 = nc_now_us(),
			  .to_ms = cfg->timeout_ms ? cfg->timeout_ms : 1000};
	uint32_t wait_ms = cfg->full ? NC_TCP_WAIT_FULL_MS : NC_TCP_WAIT_FAST_MS;
	int lp = -1, lq = -1, c1 = -1, c2 = -1, c3 = -1, cq = -1, hp = -1, so = -1, err = 0;
	uint16_t pp = 0, pq = 0;
	struct nc_addr other = cfg->other, a2p1, learnt = {0};
	struct cb bnc = {0}, cport = {0}, caddr = {0};
	struct nc_tcp_obs *o1, *oq = NULL, *ohp = NULL;
	uint64_t dl, t_cb = 0;
	char s1[NC_ADDR_STRLEN], s2[NC_ADDR_STRLEN];

	r->n_tcp_obs = 0;
	if ((err = nc_route_source(&cfg->server, &run.local)) < 0)
		goto out;
	if ((lp = tcp_listener(&run.local, &pp)) < 0 || (lq = tcp_listener(&run.local, &pq)) < 0) {
		err = lp < 0 ? lp : lq;
		goto out;
	}

	/* T1: one local port to A1:P1, then A2:P1 and A2:P2. */
	dl = nc_now_us() + run.to_ms * 1000ull;
	cq = tcp_connect_start(&run.local, pq, &cfg->server);
	c1 = connect_binding(&run, NC_TCP_MAP_PRIMARY, pp, &cfg->server, dl, &learnt);
	o1 = &r->tcp_obs[0];
	if (c1 < 0) {
		err = stopped(c1) ? c1 : 0;
		goto out;
	}
	if (!nc_addr_is_set(&other))
		other = learnt;
	TRACE(&run, "tcp: %u -> %s mapped %s", pp, nc_addr_str(&cfg->server, s1), nc_addr_str(&o1->mapped, s2));
	if (nc_addr_is_set(&other)) {
		a2p1 = other;
		a2p1.port = cfg->server.port;
		c2 = connect_binding(&run, NC_TCP_MAP_ALT_IP, pp, &a2p1, dl, NULL);
		if (stopped(c2) || (c3 = connect_binding(&run, NC_TCP_MAP_ALT_BOTH, pp, &other, dl, NULL),
				    stopped(c3))) {
			err = stopped(c2) ? c2 : c3;
			goto out;
		}
	}

	/* T2: the bouncer's SYN toward p's mapping (wait + room for the simultaneous open). */
	err = ask_cb(&run, c1, NC_TCP_CB_BOUNCER, NCP_ORIGIN_BOUNCER, wait_ms + 3000, wait_ms, o1, &bnc);
	if (stopped(err))
		goto out;
	t_cb = nc_now_us();
	/* T5 on q, and T4 toward q's mapping. */
	oq = rec(&run, NC_TCP_FILTER_MAP, pq, &cfg->server);
	if (cq < 0) {
		oq->outcome = NC_OUT_SEND_FAILED;
	} else if ((err = connect_finish(&run, cq, dl)) < 0) {
		oq->outcome = NC_OUT_SEND_FAILED;
	} else if ((err = binding(&run, cq, dl, oq, NULL)) == 0) {
		if ((err = ask_cb(&run, cq, NC_TCP_CB_PORT, NCP_ORIGIN_PORT, wait_ms, wait_ms, oq,
				  &cport)) == 0)
			err = ask_cb(&run, cq, NC_TCP_CB_ADDR, NCP_ORIGIN_ADDR, wait_ms, wait_ms, oq,
				     &caddr);
		if (!cfg->no_hairpin) {
			ohp = rec(&run, NC_TCP_HAIRPIN, 0, &oq->mapped);
			hp = tcp_connect_start(&run.local, 0, &oq->mapped);
			ohp->outcome = hp < 0 ? NC_OUT_SEND_FAILED : NC_OUT_TIMEOUT;
			ohp->arrived = NC_TRI_NO;
		}
	}
	if (stopped(err))
		goto out;
	err = 0;

	/* The wait: who reaches the listeners, and what the bouncer saw. */
	dl = t_cb + wait_ms * 1000ull;
	for (uint64_t next_poll = 0;;) {
		uint64_t now = nc_now_us();
		struct pollfd p[3] = {{.fd = lp, .events = POLLIN}, {.fd = lq, .events = POLLIN},
				      {.fd = hp, .events = POLLOUT}};
		if ((err = nc_limits_check(&cfg->lim, now)) < 0)
			goto out;
		if (now >= dl)
			break;
		if (bnc.asked && !bnc.have_res && now >= next_poll) {
			if ((err = poll_cb(&run, c1, &bnc)) == 0 && bnc.have_res)
				bnc.report_at = nc_now_us(); /* may come before the accept below */
			if (stopped(err))
				goto out;
			next_poll = now + 100000;
		}
		err = 0;
		if (poll(p, 3, nc_limits_timeout_ms(&cfg->lim, now + 20000, now)) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			struct sockaddr_storage ss;
			socklen_t sl = sizeof(ss);
			struct nc_addr peer;
			int fd;

			if (!(p[i].revents & POLLIN))
				continue;
			fd = accept4(p[i].fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
			if (fd < 0 || nc_addr_from_sockaddr(&peer, (struct sockaddr *)&ss, sl) < 0) {
				if (fd >= 0)
					close(fd);
				continue;
			}
			TRACE(&run, "tcp: port %u accepted a connection from %s", i ? pq : pp,
			      nc_addr_str(&peer, s1));
			if (i == 0 && bnc.asked && nc_addr_eq(&peer, &bnc.origin)) {
				cb_arrived(&bnc, nc_now_us());
			} else if (i == 1 && cport.asked && nc_addr_eq(&peer, &cport.origin)) {
				cb_arrived(&cport, nc_now_us());
			} else if (i == 1 && caddr.asked && nc_addr_eq(&peer, &caddr.origin)) {
				cb_arrived(&caddr, nc_now_us());
			} else if (i == 1 && ohp) {
				ohp->arrived = NC_TRI_YES;
				ohp->from = peer;
			}
			close(fd);
		}
		if (hp >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			int e = 0;
			socklen_t el = sizeof(e);
			if (getsockopt(hp, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
				ohp->outcome = NC_OUT_ANSWERED;
			close(hp);
			hp = -1;
		}
	}
	if (bnc.asked && !bnc.have_res && stopped(err = poll_cb(&run, c1, &bnc)))
		goto out;
	err = 0;

	/* T3: p connects to the bouncer while its SYN is still pending (when it did not get
	 * through on its own and was not refused for another reason). */
	if (bnc.asked && bnc.obs->arrived != NC_TRI_YES &&
	    (!bnc.have_res || bnc.res.status == NCP_ST_TIMEOUT || bnc.res.status == NCP_ST_RST ||
	     bnc.res.status == NCP_ST_ICMP)) {
		struct nc_tcp_obs *os = rec(&run, NC_TCP_SIMOPEN, pp, &bnc.origin);
		so = tcp_connect_start(&run.local, pp, &bnc.origin);
		err = so < 0 ? so : connect_finish(&run, so, nc_now_us() + run.to_ms * 1000ull);
		os->outcome = err == 0 ? NC_OUT_ANSWERED : so < 0 ? NC_OUT_SEND_FAILED : NC_OUT_TIMEOUT;
		TRACE(&run, "tcp: simultaneous open %u -> %s: %s", pp, nc_addr_str(&bnc.origin, s1),
		      err == 0 ? "connected" : nc_strerror(err));
		err = stopped(err) ? err : 0;
	}
out:
	for (int *fd = (int[]){lp, lq, c1, c2, c3, cq, hp, so}, i = 0; i < 8; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	nc_classify_tcp(r);
	TRACE(&run, "tcp: done");
	return err;
}

/* --- third-party UDP ---------------------------------------------------------------------- */

/* The CONNECT-BACK request is one STUN transaction (stun_txn: id, retransmission, the answer
 * expected from A1:P1). The bouncer's datagram carries the same transaction id from another
 * address: this loop reads both, so it drives the transaction itself. */
int nc_probe_bounce_udp(const struct nc_bounce_cfg *cfg, int *arrived, struct nc_addr *from)
{
	struct ncp_cb_request q = {.origin = NCP_ORIGIN_BOUNCER, .transport = NCP_PROTO_UDP,
				   .wait_ms = NCP_WAIT_MIN_MS};
	struct stun_rtt rtt = {.initial_us = 500000}; /* the acknowledgement: 4 tries, 500 ms apart */
	uint8_t buf[MSG_CAP];
	struct nc_addr local, bound;
	struct stun_txn t;
	uint64_t t0 = nc_now_us(), dl = 0;
	unsigned wait = cfg->wait_ms ? cfg->wait_ms : 500, skipped = 0;
	int fd, n, err;

	*arrived = -1;
	memset(from, 0, sizeof(*from));
	if ((err = nc_route_source(&cfg->server, &local)) < 0)
		return err;
	if ((err = stun_txn_init(&t, &cfg->server, 0, 0, 4)) < 0)
		return err;
	if ((n = ncp_build_cb_request(t.pkt, sizeof(t.pkt), t.tid, &q)) < 0)
		return n;
	t.len = (size_t)n;
	t.linger_us = 500000;
	if ((fd = nc_udp_bind(&local, 0, &bound)) < 0)
		return fd;
	for (;;) {
		uint64_t now = nc_now_us(), next;
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = nc_cancel_fd(cfg->lim.cancel), .events = POLLIN}};
		struct nc_addr src;
		struct stun_msg m;
		int rc;

		if ((err = nc_limits_check(&cfg->lim, now)) < 0)
			break;
		if (t.state == STUN_TXN_PENDING && (err = stun_txn_tick(&t, fd, &rtt, now)) < 0)
			break;
		err = 0;
		/* Waiting for the acknowledgement, then for the datagram until dl. */
		next = t.state == STUN_TXN_PENDING ? stun_txn_next(&t, &rtt) : dl;
		if (next == 0 || (dl && now >= dl))
			break;
		if (poll(p, p[1].fd >= 0 ? 2 : 1, nc_limits_timeout_ms(&cfg->lim, next, now)) < 0 &&
		    errno != EINTR) {
			err = -errno;
			break;
		}
		if (!(p[0].revents & (POLLIN | POLLERR)))
			continue;
		rc = stun_txn_recv(fd, buf, sizeof(buf), &m, &src);
		if (rc == -EAGAIN)
			continue;
		if (rc < 0 || !stun_txn_owns(&t, &m)) {
			if (++skipped > STUN_TXN_MAX_SKIP) {
				err = -NC_E_PROTOCOL;
				break;
			}
			continue;
		}
		if (m.method == NCP_METHOD_CONNECT_BACK && nc_addr_eq(&src, &cfg->server)) {
			if (stun_txn_accept(&t, &rtt, &m, &src, nc_now_us()) != STUN_TXN_MATCHED)
				continue; /* a retransmission's echo */
			if (m.cls != STUN_CLASS_SUCCESS)
				break; /* no bouncer here: arrived stays -1 */
			*arrived = *arrived == 1 ? 1 : 0;
			dl = nc_now_us() + wait * 1000ull;
			if (*arrived == 1)
				break;
		} else if (m.method == STUN_METHOD_BINDING && m.cls == STUN_CLASS_SUCCESS &&
			   !nc_addr_ip_eq(&src, &cfg->server)) {
			/* The bouncer's datagram, from an address this socket never contacted. */
			*arrived = 1;
			*from = src;
			if (t.state == STUN_TXN_ANSWERED)
				break;
		}
	}
	nc_tracef(cfg->trace, cfg->trace_arg, t0, "bounce: %s",
		  *arrived == 1 ? "arrived" : *arrived == 0 ? "did not arrive" : "not offered");
	close(fd);
	return err;
}

void nc_bounce_fold(struct nc_result *r, int arrived, const struct nc_addr *from)
{
	struct nc_bounce *b = &r->bounce;

	memset(b, 0, sizeof(*b));
	b->tested = true;
	b->offered = arrived >= 0;
	b->arrived = arrived < 0 ? NC_TRI_UNKNOWN : arrived ? NC_TRI_YES : NC_TRI_NO;
	if (arrived == 1 && from)
		b->from = *from;
	nc_classify_bounce(r);
}
