/* punchvpnd's sockets and event loop: one thread, epoll, a clock read once per wakeup, a
 * one-second timer for expiry and TCP sweeps, signals through a signalfd. */
#include <natcheck/error.h>
#include <natcheck/log.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "srv.h"

#define PVD_BATCH 16

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tick_clocks(struct pvd_server *s)
{
	s->now_ms = clock_ms(CLOCK_MONOTONIC);
	s->wall_ms = clock_ms(CLOCK_REALTIME);
}

void pvd_counters_format(const struct pvd_counters *c, size_t peers_live, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "peers=%zu", peers_live);

#define PVD_CTR_FMT_(name)                                                                         \
	if (off < len)                                                                             \
		off += (size_t)snprintf(buf + off, len - off, " " #name "=%llu",                   \
					(unsigned long long)c->name);
	PVD_COUNTERS(PVD_CTR_FMT_)
#undef PVD_CTR_FMT_
}

void pvd_event(struct pvd_server *s, enum pvd_event c, const char *fmt, ...)
{
	static const char *const names[PVD_LOG_N] = {"registration", "introduction", "expiry"};
	char line[512];
	uint64_t closed;
	bool take =
	    nc_log_limit_take(&s->log_limit[c], s->now_ms * 1000, NC_LOG_LIMIT_PER_SEC, &closed);
	va_list ap;

	if (closed)
		nc_log_info("%llu %s lines suppressed", (unsigned long long)closed, names[c]);
	if (!take)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	nc_log_info("%s", line);
}

int pvd_send_src(struct pvd_server *s, const struct pvd_src *to, const uint8_t *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (to->conn >= 0)
		return pvd_tcp_send(s, (unsigned)to->conn, s->conns[to->conn].gen, buf, len);
	sl = nc_addr_to_sockaddr(&to->addr, &ss);
	if (to->lidx < 0 || sl == 0)
		return -NC_E_INVALID;
	if (sendto(s->l[to->lidx].udp_fd, buf, len, 0, (struct sockaddr *)&ss, sl) != (ssize_t)len)
		return -errno;
	return 0;
}

int pvd_send_peer(struct pvd_server *s, struct pvd_peer *p, const uint8_t *buf, size_t len)
{
	if (p->last_tcp)
		return pvd_tcp_send(s, (unsigned)p->tcp_idx, p->tcp_gen, buf, len);
	if (!p->udp_ep.family)
		return -NC_E_INVALID;
	struct pvd_src to = {.lidx = p->udp_lidx, .conn = -1, .addr = p->udp_ep};
	return pvd_send_src(s, &to, buf, len);
}

void pvd_dispatch(struct pvd_server *s, const struct pvd_src *src, uint8_t *buf, size_t len)
{
	if (len > 0 && buf[0] == COORD_TYPE)
		pvd_handle_coord(s, src, buf, len);
	else if (len > 0 && buf[0] == COORD_RELAY_TYPE)
		pvd_handle_relay(s, src, buf, len);
	else
		s->ctr.unknown_type++;
}

static void udp_readable(struct pvd_server *s, int lidx)
{
	static uint8_t bufs[PVD_BATCH][PVD_MAX_FRAME];
	struct mmsghdr msgs[PVD_BATCH];
	struct iovec iov[PVD_BATCH];
	struct sockaddr_storage from[PVD_BATCH];

	/* A bounded number of batches per wakeup, so TCP connections get their turn. */
	for (int round = 0; round < 8; round++) {
		int n;

		for (int i = 0; i < PVD_BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
			msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
							  .msg_namelen = sizeof(from[i]),
							  .msg_iov = &iov[i],
							  .msg_iovlen = 1};
		}
		n = recvmmsg(s->l[lidx].udp_fd, msgs, PVD_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct pvd_src src = {.lidx = lidx, .conn = -1};
			s->ctr.rx_datagrams++;
			/* Longer than any datagram we take: cut short by the kernel, not ours. */
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				s->ctr.malformed++;
				continue;
			}
			if (nc_addr_from_sockaddr(&src.addr, (struct sockaddr *)&from[i],
						  msgs[i].msg_hdr.msg_namelen) != 0)
				continue;
			pvd_dispatch(s, &src, bufs[i], msgs[i].msg_len);
		}
		if (n < PVD_BATCH)
			return;
	}
}

/* Once a second: registrations that ran out, and TCP connections that idle or crawl. */
static void sweep(struct pvd_server *s)
{
	const uint64_t ttl = COORD_WANT_TTL_S * 1000ull;
	size_t live = 0;
	char k[VPN_KEY_B64_LEN + 1];

	for (uint32_t i = 0; i < s->peers.cap; i++) {
		struct pvd_peer *p = &s->peers.p[i];
		if (!p->in_use || !p->registered)
			continue;
		if (s->now_ms - p->last_reg_ms >= ttl) {
			vpn_key_to_b64(k, p->pub);
			pvd_event(s, PVD_LOG_EXPIRED, "peer %s expired (no registration for %u s)",
				  k, COORD_WANT_TTL_S);
			pvd_peer_unregister(&s->peers, p);
			s->ctr.expired++;
			continue;
		}
		live++;
	}
	s->live = live;
	pvd_tcp_sweep(s);
}

static void log_counters(const struct pvd_server *s)
{
	char line[2048];

	pvd_counters_format(&s->ctr, s->live, line, sizeof(line));
	nc_log_info("counters: %s", line);
}

static int open_listen(struct pvd_server *s, size_t i, char *err, size_t errlen)
{
	struct pvd_listen *l = &s->l[i];
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(&l->addr, &ss);
	char a[NC_ADDR_STRLEN];
	int one = 1, rcvbuf = 4 << 20;

	l->udp_fd = socket(l->addr.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	l->tcp_fd = socket(l->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->udp_fd < 0 || l->tcp_fd < 0)
		goto fail;
	if (l->addr.family == AF_INET6) {
		setsockopt(l->udp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		setsockopt(l->tcp_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	setsockopt(l->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A relay burst should queue, not drop, while the loop serves TCP. */
	setsockopt(l->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(l->udp_fd, (struct sockaddr *)&ss, sl) != 0 ||
	    bind(l->tcp_fd, (struct sockaddr *)&ss, sl) != 0 || listen(l->tcp_fd, 128) != 0)
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = PVD_TAG(PVD_EV_UDP, i)};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, l->udp_fd, &ev) != 0)
		goto fail;
	ev.data.u64 = PVD_TAG(PVD_EV_LISTEN, i);
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, l->tcp_fd, &ev) != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "--listen %s: %s", nc_addr_str(&l->addr, a), strerror(errno));
	return -errno;
}

int pvd_server_open(struct pvd_server **out, const struct pvd_cfg *cfg, char *err, size_t errlen)
{
	struct pvd_server *s = calloc(1, sizeof(*s));
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
	sigset_t mask;
	int rc;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -NC_E_NOMEM;
	}
	s->cfg = *cfg;
	s->epfd = s->sigfd = s->timerfd = -1;
	for (size_t i = 0; i < PVD_MAX_LISTEN; i++)
		s->l[i].udp_fd = s->l[i].tcp_fd = -1;
	tick_clocks(s);
	s->start_wall_ms = s->wall_ms;
	hsrl_init(&s->rl, cfg->reg_rate, cfg->reg_burst);
	if ((rc = pvd_peers_init(&s->peers, cfg->max_peers)) != 0 || (rc = pvd_tcp_init(s)) != 0) {
		snprintf(err, errlen, "registration table of %u peers: %s", cfg->max_peers,
			 nc_strerror(rc));
		goto fail;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->sigfd < 0 || s->timerfd < 0 ||
	    timerfd_settime(s->timerfd, 0, &its, NULL) != 0) {
		rc = -errno;
		snprintf(err, errlen, "event loop setup: %s", strerror(errno));
		goto fail;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = PVD_TAG(PVD_EV_SIGNAL, 0)};
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &ev);
	ev.data.u64 = PVD_TAG(PVD_EV_TIMER, 0);
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timerfd, &ev);
	for (size_t i = 0; i < cfg->n_listen; i++) {
		s->l[i].addr = cfg->listen[i];
		s->n_listen = i + 1;
		if ((rc = open_listen(s, i, err, errlen)) != 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	pvd_server_free(s);
	return rc ? rc : -NC_E_INVALID;
}

int pvd_server_run(struct pvd_server *s)
{
	struct epoll_event evs[64];

	while (!s->stop) {
		int n = epoll_wait(s->epfd, evs, 64, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		tick_clocks(s);
		for (int i = 0; i < n && !s->stop; i++) {
			uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32),
				 idx = (uint32_t)evs[i].data.u64;
			switch (kind) {
			case PVD_EV_UDP:
				udp_readable(s, (int)idx);
				break;
			case PVD_EV_LISTEN:
				pvd_tcp_accept(s, (int)idx);
				break;
			case PVD_EV_CONN:
				pvd_tcp_event(s, idx, evs[i].events);
				break;
			case PVD_EV_TIMER: {
				uint64_t v;
				if (read(s->timerfd, &v, sizeof(v)) == sizeof(v))
					sweep(s);
				break;
			}
			case PVD_EV_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGUSR1) {
						log_counters(s);
					} else {
						nc_log_info("signal %u: stopping", si.ssi_signo);
						s->stop = true;
					}
				}
				break;
			}
			default:
				break;
			}
		}
	}
	log_counters(s);
	return 0;
}

const struct pvd_counters *pvd_server_counters(const struct pvd_server *s)
{
	return &s->ctr;
}

size_t pvd_server_peers_live(const struct pvd_server *s)
{
	return s->live;
}

void pvd_server_free(struct pvd_server *s)
{
	if (!s)
		return;
	pvd_tcp_free(s);
	for (size_t i = 0; i < PVD_MAX_LISTEN; i++) {
		if (s->l[i].udp_fd >= 0)
			close(s->l[i].udp_fd);
		if (s->l[i].tcp_fd >= 0)
			close(s->l[i].tcp_fd);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->timerfd >= 0)
		close(s->timerfd);
	pvd_peers_free(&s->peers);
	sodium_memzero(s->cfg.priv, sizeof(s->cfg.priv));
	free(s);
}
