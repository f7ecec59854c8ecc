#include "server.h"

#include "coord.h"
#include <natcheck/error.h>
#include "fastpath.h"
#include "frame.h"
#include <natcheck/log.h>
#include "netutil.h"
#include "ratelimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_THREADS 64
#define TCP_BUF 2048
#define SOCK_BUF (4 << 20)
#define COALESCE_MIN 4   /* datagrams in one wakeup that count as load */
#define COALESCE_US 1000

struct tcp_conn {
	int fd;
	enum refl_sock in;
	struct nc_addr peer;
	uint64_t last_us;
	size_t have;
	uint8_t buf[TCP_BUF];
};

struct worker {
	struct refl_server *srv;
	pthread_t tid;
	int ep;
	int udp[REFL_NSOCK]; /* -1 where the endpoint does not exist */
	uint8_t (*rbuf)[REFL_MAX_REQUEST]; /* BATCH receive buffers (padded requests are large) */
	struct fp_ring fp;                 /* the fast path's rings (fp.fd < 0 without) */
	/* thread 0 only: TCP */
	struct tcp_conn *conns;
	unsigned nconns;
};

struct refl_server {
	struct refl_server_cfg cfg;
	struct refl_ctx ctx;
	struct refl_counters cnt;
	int stopfd; /* eventfd: readable once stop was asked */
	struct ratelimit *rl; /* shared by the workers; NULL = no limits */
	int tcp[REFL_NSOCK];
	unsigned nworkers;
	struct worker w[MAX_THREADS];
};

enum { EV_STOP = REFL_NSOCK * 2, EV_FAST, EV_TCP_LISTEN = REFL_NSOCK, EV_TCP_CONN = 0x10000 };

static int bind_sock(const struct nc_addr *a, int type)
{
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(a, &ss);
	int one = 1, fd, err;

	fd = socket(a->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (type == SOCK_DGRAM) {
		/* Room for the batches that build up between polls under load; FORCE works
		 * while we are still root, the plain option is the fallback. */
		int sz = SOCK_BUF;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (type == SOCK_DGRAM && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int epoll_add(int ep, int fd, uint32_t id)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = id};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* One ring pair per worker, on the endpoints this host has, and the filter on every IPv4 UDP
 * socket that leaves the fast path's datagrams to it (fastpath.h). */
static int fast_path_open(struct refl_server *s)
{
	struct nc_addr mine[REFL_NSOCK] = {0};
	uint16_t group = 0; /* the first worker's rings create it */
	int err;

	for (int i = 0; i < REFL_NSOCK; i++)
		if (s->w[0].udp[i] >= 0)
			mine[i] = s->ctx.local[i];
	for (unsigned t = 0; t < s->nworkers; t++) {
		struct worker *w = &s->w[t];
		if ((err = fp_open(&w->fp, s->cfg.fast_path_if, mine, &group)) < 0) {
			nc_log_error("fast path on %s: %s", s->cfg.fast_path_if,
				  err == -NC_E_FAMILY ? "needs an Ethernet interface and an IPv4 address"
						      : nc_strerror(err));
			return err;
		}
		for (int i = 0; i < REFL_NSOCK; i++)
			if (w->udp[i] >= 0 && mine[i].family == AF_INET &&
			    (err = fp_udp_socket_filter(w->udp[i], w->fp.ifindex)) < 0) {
				nc_log_error("fast path: cannot filter the UDP sockets: %s", nc_strerror(err));
				return err;
			}
	}
	return 0;
}

int refl_server_open(struct refl_server **out, const struct refl_server_cfg *cfg)
{
	struct refl_server *s;
	int err = 0;

	if (cfg->threads < 1 || cfg->threads > MAX_THREADS)
		return -NC_E_RANGE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -NC_E_NOMEM;
	s->cfg = *cfg;
	s->stopfd = -1;
	s->ctx.software = cfg->software;
	s->ctx.has_alternate = nc_addr_is_set(&cfg->alternate);
	s->ctx.local[REFL_PP] = cfg->primary;
	s->ctx.local[REFL_PP].port = cfg->port;
	s->ctx.local[REFL_PA] = cfg->primary;
	s->ctx.local[REFL_PA].port = cfg->alt_port;
	if (s->ctx.has_alternate) {
		s->ctx.local[REFL_AP] = cfg->alternate;
		s->ctx.local[REFL_AP].port = cfg->port;
		s->ctx.local[REFL_AA] = cfg->alternate;
		s->ctx.local[REFL_AA].port = cfg->alt_port;
	}
	for (int i = 0; i < REFL_NSOCK; i++)
		s->tcp[i] = -1;
	s->nworkers = cfg->threads;
	for (unsigned t = 0; t < s->nworkers; t++) {
		for (int i = 0; i < REFL_NSOCK; i++)
			s->w[t].udp[i] = -1;
		s->w[t].fp.fd = -1;
	}

	s->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stopfd < 0) {
		err = -errno;
		goto fail;
	}
	for (int i = 0; i < REFL_NSOCK; i++) {
		if (!nc_addr_is_set(&s->ctx.local[i]) || (cfg->alternate_remote && i >= REFL_AP))
			continue;
		for (unsigned t = 0; t < s->nworkers; t++) {
			if ((s->w[t].udp[i] = bind_sock(&s->ctx.local[i], SOCK_DGRAM)) < 0) {
				err = s->w[t].udp[i];
				nc_log_error("cannot bind UDP %s: %s", nc_addr_str(&s->ctx.local[i], (char[NC_ADDR_STRLEN]){0}),
					  nc_strerror(err));
				goto fail;
			}
		}
		if ((s->tcp[i] = bind_sock(&s->ctx.local[i], SOCK_STREAM)) < 0) {
			err = s->tcp[i];
			nc_log_error("cannot listen on TCP %s: %s", nc_addr_str(&s->ctx.local[i], (char[NC_ADDR_STRLEN]){0}),
				  nc_strerror(err));
			goto fail;
		}
	}
	if (cfg->fast_path_if && (err = fast_path_open(s)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	refl_server_free(s);
	return err;
}

void refl_server_stop(struct refl_server *s)
{
	uint64_t one = 1;
	ssize_t n = write(s->stopfd, &one, sizeof(one));
	(void)n;
}

const struct refl_counters *refl_server_counters(struct refl_server *s)
{
	for (unsigned t = 0; t < s->nworkers; t++)
		if (s->w[t].fp.fd >= 0)
			atomic_fetch_add(&s->cnt.ring_drops, fp_rx_drops(&s->w[t].fp));
	return &s->cnt;
}

const struct refl_ctx *refl_server_ctx(const struct refl_server *s)
{
	return &s->ctx;
}

int refl_server_udp_fd(const struct refl_server *s, enum refl_sock i)
{
	return s->w[0].udp[i];
}

/* --- UDP ------------------------------------------------------------------------------ */

struct batch_out {
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage addr[BATCH];
	unsigned n;
};

static void flush_out(struct worker *w, int sock, struct batch_out *o)
{
	unsigned done = 0;

	while (done < o->n) {
		int n = sendmmsg(w->udp[sock], o->msg + done, o->n - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN (buffer full) or an unreachable destination: drop that one. */
			atomic_fetch_add(&w->srv->cnt.send_failed, 1);
			n = 1;
		}
		done += (unsigned)n;
	}
	o->n = 0;
}

/* The decision for one datagram, shared by the socket path and the fast path: true when *a is
 * to be sent from local endpoint a->out; false when it was dropped (counted) or relayed. */
static bool answer_datagram(struct worker *w, enum refl_sock in, const struct nc_addr *src,
			   const uint8_t *buf, size_t len, uint64_t now, struct refl_answer *a)
{
	struct refl_server *s = w->srv;
	enum refl_drop why;

	if (s->cfg.coord && ncp_is_suite_method(buf, len)) {
		/* The suite's own methods (ncproto.h) go to the coordination service. */
		a->len = coord_handle_stun(s->cfg.coord, NCP_PROTO_UDP, &s->ctx.local[in], src, buf, len,
					   a->buf, sizeof(a->buf));
		a->out = in;
		a->dest = *src;
		why = a->len ? REFL_ANSWER : REFL_DROP_MALFORMED;
	} else {
		why = refl_handle(&s->ctx, in, src, buf, len, a);
	}
	if (why != REFL_ANSWER) {
		atomic_fetch_add(&s->cnt.malformed, 1);
		nc_log_debug_limited("dropped %zu bytes from %s: %s", len,
				  nc_addr_str(src, (char[NC_ADDR_STRLEN]){0}),
				  why == REFL_DROP_MALFORMED ? "malformed" : "not a request");
		return false;
	}
	if (s->rl && !rl_allow(s->rl, src, now, (unsigned)a->len)) {
		atomic_fetch_add(&s->cnt.rate_limited, 1);
		return false;
	}
	if (w->udp[a->out] < 0) {
		/* The answer must leave from the partner host's address (three hosts). */
		if (s->cfg.coord && coord_relay(s->cfg.coord, a->out == REFL_AA, &a->dest, a->buf, a->len))
			atomic_fetch_add(&s->cnt.answered, 1);
		else
			atomic_fetch_add(&s->cnt.malformed, 1);
		return false;
	}
	atomic_fetch_add(&s->cnt.answered, 1);
	if ((a->buf[0] & 0x01) && (a->buf[1] & 0x10)) /* class bits C1 C0 = error */
		atomic_fetch_add(&s->cnt.errors_sent, 1);
	return true;
}

static int udp_ready(struct worker *w, enum refl_sock in)
{
	static _Thread_local struct refl_answer ans[BATCH];
	static _Thread_local struct batch_out out[REFL_NSOCK];
	struct refl_server *s = w->srv;
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	uint8_t (*bufs)[REFL_MAX_REQUEST] = w->rbuf;
	int n;

	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof(bufs[i])};
		msg[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
						 .msg_iov = &iov[i], .msg_iovlen = 1};
	}
	n = recvmmsg(w->udp[in], msg, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	uint64_t now = nc_now_us();
	for (int i = 0; i < n; i++) {
		struct nc_addr src;
		struct refl_answer *a = &ans[i];
		struct batch_out *o;

		/* A datagram larger than any STUN message this server answers is dropped, not
		 * read as a truncated prefix (MSG_TRUNC). */
		if ((msg[i].msg_hdr.msg_flags & MSG_TRUNC) ||
		    nc_addr_from_sockaddr(&src, (struct sockaddr *)&from[i], msg[i].msg_hdr.msg_namelen) < 0) {
			atomic_fetch_add(&s->cnt.malformed, 1);
			continue;
		}
		if (!answer_datagram(w, in, &src, bufs[i], msg[i].msg_len, now, a))
			continue;
		o = &out[a->out];
		o->iov[o->n] = (struct iovec){.iov_base = a->buf, .iov_len = a->len};
		o->msg[o->n].msg_hdr = (struct msghdr){
			.msg_name = &o->addr[o->n],
			.msg_namelen = nc_addr_to_sockaddr(&a->dest, &o->addr[o->n]),
			.msg_iov = &o->iov[o->n], .msg_iovlen = 1};
		o->n++;
	}
	for (int i = 0; i < REFL_NSOCK; i++)
		if (out[i].n)
			flush_out(w, i, &out[i]);
	return n;
}

/* The endpoint a fast-path request was addressed to, or REFL_NSOCK. */
static enum refl_sock endpoint_of(const struct refl_server *s, const struct nc_addr *dst)
{
	for (int i = 0; i < REFL_NSOCK; i++)
		if (s->w[0].udp[i] >= 0 && nc_addr_eq(&s->ctx.local[i], dst))
			return (enum refl_sock)i;
	return REFL_NSOCK;
}

/* Answers up to BATCH frames from the receive ring; returns how many were read. */
static int fast_ready(struct worker *w)
{
	static _Thread_local struct refl_answer ans;
	struct refl_server *s = w->srv;
	uint64_t now = nc_now_us();
	int n = 0;

	for (; n < BATCH; n++) {
		struct frame_udp4 req;
		enum frame_verdict v;
		enum refl_sock in;
		const uint8_t *f;
		uint8_t *slot;
		size_t len, cap;
		bool trusted;
		int flen;

		if (!(f = fp_rx_next(&w->fp, &len, &trusted)))
			break;
		v = frame_parse_udp4(f, len, trusted, &req);
		if (v != FRAME_OK || (in = endpoint_of(s, &req.dst)) == REFL_NSOCK) {
			atomic_fetch_add(&s->cnt.malformed, 1);
			nc_log_debug_limited("fast path: dropped a %zu-byte frame: %s", len,
					  v != FRAME_OK ? frame_verdict_name(v) : "not to an endpoint");
			fp_rx_release(&w->fp);
			continue;
		}
		bool send = answer_datagram(w, in, &req.src, req.payload, req.len, now, &ans);
		fp_rx_release(&w->fp);
		if (!send)
			continue;
		if (!(slot = fp_tx_slot(&w->fp, &cap)) ||
		    (flen = frame_build_udp4(slot, cap, req.src_mac, w->fp.mac, &s->ctx.local[ans.out],
					     &ans.dest, ans.buf, ans.len)) < 0) {
			atomic_fetch_add(&s->cnt.send_failed, 1);
			continue;
		}
		fp_tx_commit(&w->fp, (size_t)flen);
		atomic_fetch_add(&s->cnt.fast_path, 1);
	}
	if (fp_tx_flush(&w->fp) < 0)
		atomic_fetch_add(&s->cnt.send_failed, 1);
	return n;
}

/* --- TCP (thread 0) ---------------------------------------------------------------------- */

static void tcp_close(struct worker *w, unsigned idx)
{
	close(w->conns[idx].fd);
	w->conns[idx].fd = -1;
}

static void tcp_accept(struct worker *w, enum refl_sock in)
{
	struct refl_server *s = w->srv;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->tcp[in], (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned idx;

		if (fd < 0)
			return;
		for (idx = 0; idx < s->cfg.tcp_max_conns && w->conns[idx].fd >= 0; idx++)
			;
		if (idx == s->cfg.tcp_max_conns) {
			/* Full: the connection idle for longest makes room. A real client sends its
			 * request at once and is answered at once, so whoever holds connections open
			 * without asking (slow loris) loses them to newcomers instead of locking
			 * everyone out until the idle timeout. */
			idx = 0;
			for (unsigned i = 1; i < s->cfg.tcp_max_conns; i++)
				if (w->conns[i].last_us < w->conns[idx].last_us)
					idx = i;
			tcp_close(w, idx);
			atomic_fetch_add(&s->cnt.tcp_refused, 1);
		}
		memset(&w->conns[idx], 0, sizeof(w->conns[idx]));
		w->conns[idx].fd = fd;
		w->conns[idx].in = in;
		w->conns[idx].last_us = nc_now_us();
		nc_addr_from_sockaddr(&w->conns[idx].peer, (struct sockaddr *)&ss, sl);
		if (epoll_add(w->ep, fd, EV_TCP_CONN + idx) < 0)
			tcp_close(w, idx);
		else
			atomic_fetch_add(&s->cnt.tcp_conns, 1);
	}
}

/* STUN over TCP is a stream of messages (RFC 8489 §6.2.2): each one is a 20-byte header
 * plus its declared length. Answers go back on the same connection; an answer that would
 * have to leave from another endpoint (CHANGE-REQUEST) cannot, so it is refused with 420. */
static void tcp_readable(struct worker *w, unsigned idx)
{
	struct refl_server *s = w->srv;
	struct tcp_conn *c = &w->conns[idx];
	struct refl_answer a;

	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			tcp_close(w, idx);
			return;
		}
		if (n < 0)
			break;
		c->have += (size_t)n;
		c->last_us = nc_now_us();
		while (c->have >= STUN_HEADER_LEN) {
			size_t mlen = STUN_HEADER_LEN + (((size_t)c->buf[2] << 8) | c->buf[3]);
			struct refl_ctx tcp_ctx = s->ctx;

			if ((c->buf[0] & 0xC0) || mlen > sizeof(c->buf)) {
				atomic_fetch_add(&s->cnt.malformed, 1);
				tcp_close(w, idx);
				return;
			}
			if (c->have < mlen)
				break;
			tcp_ctx.refuse_change = true;
			if (s->cfg.coord && ncp_is_suite_method(c->buf, mlen)) {
				a.len = coord_handle_stun(s->cfg.coord, NCP_PROTO_TCP, &s->ctx.local[c->in],
							  &c->peer, c->buf, mlen, a.buf, sizeof(a.buf));
				if (a.len && write(c->fd, a.buf, a.len) != (ssize_t)a.len) {
					tcp_close(w, idx);
					return;
				}
				atomic_fetch_add(a.len ? &s->cnt.answered : &s->cnt.malformed, 1);
			} else if (refl_handle(&tcp_ctx, c->in, &c->peer, c->buf, mlen, &a) == REFL_ANSWER &&
			    a.dest.port == c->peer.port) {
				if (write(c->fd, a.buf, a.len) != (ssize_t)a.len) {
					tcp_close(w, idx);
					return;
				}
				atomic_fetch_add(&s->cnt.answered, 1);
			} else {
				atomic_fetch_add(&s->cnt.malformed, 1);
			}
			memmove(c->buf, c->buf + mlen, c->have - mlen);
			c->have -= mlen;
		}
		if (c->have == sizeof(c->buf)) {
			tcp_close(w, idx);
			return;
		}
	}
}

static void tcp_expire(struct worker *w, uint64_t now)
{
	for (unsigned i = 0; i < w->srv->cfg.tcp_max_conns; i++)
		if (w->conns[i].fd >= 0 && now - w->conns[i].last_us > w->srv->cfg.tcp_idle_ms * 1000ull)
			tcp_close(w, i);
}

/* --- threads ----------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct refl_server *s = w->srv;
	struct epoll_event evs[16];
	bool tcp = w == &s->w[0];

	for (;;) {
		int n = epoll_wait(w->ep, evs, 16, tcp ? 1000 : -1), got = 0;
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			uint32_t id = evs[i].data.u32;
			if (id == EV_STOP)
				return NULL;
			if (id < REFL_NSOCK) {
				/* Drain: a full batch means more may be waiting. */
				int k;
				while ((k = udp_ready(w, (enum refl_sock)id)) == BATCH)
					got += k;
				got += k;
			}
			else if (id == EV_FAST) {
				int k;
				/* An interface going down leaves an error pending, which keeps the
				 * socket ready until read. */
				if (evs[i].events & EPOLLERR)
					nc_log_info("fast path: %s", nc_strerror(fp_take_error(&w->fp)));
				while ((k = fast_ready(w)) == BATCH)
					got += k;
				got += k;
			}
			else if (id < EV_TCP_LISTEN + REFL_NSOCK)
				tcp_accept(w, (enum refl_sock)(id - EV_TCP_LISTEN));
			else if (id >= EV_TCP_CONN)
				tcp_readable(w, id - EV_TCP_CONN);
		}
		if (tcp)
			tcp_expire(w, nc_now_us());
		/* Interrupt moderation: under load, let a batch build up before the next poll
		 * instead of waking up for every few datagrams; an idle server still answers at
		 * once. COALESCE_US (1 ms) bounds the latency added under load. */
		if (got >= COALESCE_MIN)
			nanosleep(&(struct timespec){.tv_nsec = COALESCE_US * 1000}, NULL);
	}
	return NULL;
}

static int worker_setup(struct refl_server *s, struct worker *w, bool tcp)
{
	int err;

	w->srv = s;
	w->rbuf = malloc(BATCH * sizeof(*w->rbuf));
	if (!w->rbuf)
		return -NC_E_NOMEM;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0)
		return -errno;
	if ((err = epoll_add(w->ep, s->stopfd, EV_STOP)) < 0)
		return err;
	for (int i = 0; i < REFL_NSOCK; i++) {
		if (w->udp[i] >= 0 && (err = epoll_add(w->ep, w->udp[i], (uint32_t)i)) < 0)
			return err;
		if (tcp && s->tcp[i] >= 0 && (err = epoll_add(w->ep, s->tcp[i], EV_TCP_LISTEN + (uint32_t)i)) < 0)
			return err;
	}
	if (w->fp.fd >= 0 && (err = epoll_add(w->ep, w->fp.fd, EV_FAST)) < 0)
		return err;
	if (tcp) {
		w->conns = calloc(s->cfg.tcp_max_conns, sizeof(*w->conns));
		if (!w->conns)
			return -NC_E_NOMEM;
		for (unsigned i = 0; i < s->cfg.tcp_max_conns; i++)
			w->conns[i].fd = -1;
	}
	return 0;
}

int refl_server_run(struct refl_server *s)
{
	int err = 0;
	unsigned started = 0;

	if (s->cfg.rate_pps > 0 || s->cfg.byte_budget > 0) {
		s->rl = malloc(sizeof(*s->rl));
		if (!s->rl)
			return -NC_E_NOMEM;
		rl_init(s->rl, s->cfg.rate_pps > 0 ? s->cfg.rate_pps : 1e12,
			s->cfg.rate_burst > 0 ? s->cfg.rate_burst : 1e12,
			s->cfg.byte_budget > 0 ? s->cfg.byte_budget : 1e15);
	}
	for (unsigned t = 0; t < s->nworkers; t++) {
		s->w[t].ep = -1;
		if ((err = worker_setup(s, &s->w[t], t == 0)) < 0)
			goto stop;
	}
	for (unsigned t = 1; t < s->nworkers; t++) {
		if (pthread_create(&s->w[t].tid, NULL, worker_main, &s->w[t]) != 0) {
			err = -NC_E_NOMEM;
			goto stop;
		}
		started = t;
	}
	worker_main(&s->w[0]);
stop:
	refl_server_stop(s);
	for (unsigned t = 1; t <= started; t++)
		pthread_join(s->w[t].tid, NULL);
	return err;
}

void refl_server_free(struct refl_server *s)
{
	if (!s)
		return;
	for (unsigned t = 0; t < s->nworkers; t++) {
		struct worker *w = &s->w[t];
		for (int i = 0; i < REFL_NSOCK; i++)
			if (w->udp[i] >= 0)
				close(w->udp[i]);
		if (w->conns) {
			for (unsigned i = 0; i < s->cfg.tcp_max_conns; i++)
				if (w->conns[i].fd >= 0)
					close(w->conns[i].fd);
			free(w->conns);
		}
		if (w->ep > 0)
			close(w->ep);
		if (w->fp.fd >= 0)
			fp_close(&w->fp);
		free(w->rbuf);
	}
	for (int i = 0; i < REFL_NSOCK; i++)
		if (s->tcp[i] >= 0)
			close(s->tcp[i]);
	if (s->stopfd >= 0)
		close(s->stopfd);
	if (s->rl) {
		rl_destroy(s->rl);
		free(s->rl);
	}
	free(s);
}
