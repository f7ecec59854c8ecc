/* punchvpnd over TCP, for networks that block UDP: the same datagrams, each framed by a 2-byte
 * big-endian length (coord.h). What a connection may cost is bounded: one frame of receive
 * buffer, PVD_TCP_TXCAP of unsent bytes, --max-tcp connections; a connection that sends
 * nothing for --tcp-idle seconds, holds a partial frame or a full send buffer for
 * PVD_TCP_SLOW_MS (a slow reader, a slowloris) is closed. */
#include <natcheck/error.h>
#include <natcheck/log.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cursor.h"
#include "srv.h"

int pvd_tcp_init(struct pvd_server *s)
{
	s->conns = calloc(s->cfg.max_tcp ? s->cfg.max_tcp : 1, sizeof(*s->conns));
	if (!s->conns)
		return -NC_E_NOMEM;
	for (unsigned i = 0; i < s->cfg.max_tcp; i++)
		s->conns[i].fd = -1;
	return 0;
}

static void conn_close(struct pvd_server *s, unsigned idx, uint64_t *counter)
{
	struct pvd_conn *c = &s->conns[idx];
	char a[NC_ADDR_STRLEN];

	if (c->fd < 0)
		return;
	if (counter) {
		(*counter)++;
		nc_log_debug_limited("tcp %s closed", nc_addr_str(&c->remote, a));
	}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->tx);
	c->tx = NULL;
	c->fd = -1;
	c->gen++; /* peers that registered over it see it gone */
	s->n_conns--;
}

void pvd_tcp_free(struct pvd_server *s)
{
	if (!s->conns)
		return;
	for (unsigned i = 0; i < s->cfg.max_tcp; i++)
		conn_close(s, i, NULL);
	free(s->conns);
	s->conns = NULL;
}

void pvd_tcp_accept(struct pvd_server *s, int lidx)
{
	for (int burst = 0; burst < 64; burst++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct epoll_event ev = {.events = EPOLLIN};
		struct pvd_conn *c = NULL;
		unsigned idx;
		int one = 1;
		int fd = accept4(s->l[lidx].tcp_fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* EAGAIN, or an error of that one connection */
		if (s->n_conns >= s->cfg.max_tcp) {
			s->ctr.tcp_refused++;
			nc_log_debug_limited("tcp: connection limit (%u) reached, refusing one",
					     s->cfg.max_tcp);
			close(fd);
			continue;
		}
		for (idx = 0; idx < s->cfg.max_tcp; idx++)
			if (s->conns[idx].fd < 0)
				break;
		c = &s->conns[idx];
		c->fd = fd;
		c->broken = false;
		c->rx_len = c->tx_len = 0;
		c->last_rx_ms = s->now_ms;
		c->partial_since_ms = c->stuck_since_ms = 0;
		c->peer_idx = PVD_NONE;
		if (nc_addr_from_sockaddr(&c->remote, (struct sockaddr *)&ss, sl) != 0)
			memset(&c->remote, 0, sizeof(c->remote));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev.data.u64 = PVD_TAG(PVD_EV_CONN, idx);
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			c->fd = -1;
			continue;
		}
		s->n_conns++;
		s->ctr.tcp_accepted++;
	}
}

static void want_out(struct pvd_server *s, unsigned idx, bool on)
{
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u),
				 .data.u64 = PVD_TAG(PVD_EV_CONN, idx)};

	epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->conns[idx].fd, &ev);
}

static void flush(struct pvd_server *s, unsigned idx)
{
	struct pvd_conn *c = &s->conns[idx];

	while (c->tx_len > 0) {
		ssize_t n = send(c->fd, c->tx, c->tx_len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			c->broken = true;
			return;
		}
		memmove(c->tx, c->tx + n, c->tx_len - (size_t)n);
		c->tx_len -= (size_t)n;
		if (c->tx_len < PVD_TCP_TXCAP / 2)
			c->stuck_since_ms = 0;
	}
	want_out(s, idx, false);
}

int pvd_tcp_send(struct pvd_server *s, unsigned idx, uint32_t gen, const uint8_t *buf, size_t len)
{
	struct pvd_conn *c;
	uint8_t hdr[2];
	size_t done = 0, total = len + 2;

	if (idx >= s->cfg.max_tcp || s->conns[idx].fd < 0 || s->conns[idx].gen != gen ||
	    s->conns[idx].broken || len == 0 || len > 0xffff)
		return -NC_E_INVALID;
	c = &s->conns[idx];
	nc_put_n16(hdr, (uint16_t)len);
	if (c->tx_len == 0) {
		/* One frame, one send: header and datagram in one buffer (TCP_NODELAY is on). */
		uint8_t frame[2 + PVD_MAX_FRAME];
		ssize_t n;
		if (len > PVD_MAX_FRAME)
			return -NC_E_INVALID;
		memcpy(frame, hdr, 2);
		memcpy(frame + 2, buf, len);
		do
			n = send(c->fd, frame, total, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			c->broken = true;
			return -errno;
		}
		done = n > 0 ? (size_t)n : 0;
		if (done == total)
			return 0;
	}
	/* Queue the rest; a frame that does not fit whole is dropped whole (a partial frame
	 * would desynchronise the stream). */
	if (c->tx_len + (total - done) > PVD_TCP_TXCAP) {
		if (!c->stuck_since_ms)
			c->stuck_since_ms = s->now_ms;
		return -NC_E_NOSPACE;
	}
	if (!c->tx && !(c->tx = malloc(PVD_TCP_TXCAP))) {
		/* Part of the frame may be on the wire already: the stream is lost. */
		c->broken = true;
		return -NC_E_NOMEM;
	}
	for (size_t i = done; i < total; i++)
		c->tx[c->tx_len++] = i < 2 ? hdr[i] : buf[i - 2];
	want_out(s, idx, true);
	return 0;
}

/* Reads what is there (bounded per event, for fairness) and dispatches every whole frame. */
static void readable(struct pvd_server *s, unsigned idx)
{
	struct pvd_conn *c = &s->conns[idx];

	for (int round = 0; round < 16 && c->fd >= 0 && !c->broken; round++) {
		ssize_t n = read(c->fd, c->rx + c->rx_len, sizeof(c->rx) - c->rx_len);
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(s, idx, NULL);
			return;
		}
		c->rx_len += (size_t)n;
		c->last_rx_ms = s->now_ms;
		while (c->rx_len - off >= 2) {
			size_t flen = nc_get_n16(c->rx + off);
			struct pvd_src src = {.lidx = -1, .conn = (int)idx, .addr = c->remote};
			if (flen == 0 || flen > PVD_MAX_FRAME) {
				conn_close(s, idx, &s->ctr.tcp_closed_bad);
				return;
			}
			if (c->rx_len - off < 2 + flen)
				break;
			s->ctr.rx_datagrams++;
			pvd_dispatch(s, &src, c->rx + off + 2, flen);
			off += 2 + flen;
			if (c->fd < 0)
				return;
		}
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
		if (c->rx_len == 0)
			c->partial_since_ms = 0;
		else if (!c->partial_since_ms || off)
			c->partial_since_ms = s->now_ms;
	}
}

void pvd_tcp_event(struct pvd_server *s, unsigned idx, uint32_t events)
{
	if (idx >= s->cfg.max_tcp || s->conns[idx].fd < 0)
		return;
	if (events & EPOLLOUT)
		flush(s, idx);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		readable(s, idx);
	if (s->conns[idx].fd >= 0 && s->conns[idx].broken)
		conn_close(s, idx, &s->ctr.send_failed);
}

void pvd_tcp_sweep(struct pvd_server *s)
{
	uint64_t idle = (uint64_t)s->cfg.tcp_idle_s * 1000;

	for (unsigned i = 0; i < s->cfg.max_tcp; i++) {
		struct pvd_conn *c = &s->conns[i];
		if (c->fd < 0)
			continue;
		if (c->broken)
			conn_close(s, i, &s->ctr.send_failed);
		else if (s->now_ms - c->last_rx_ms >= idle)
			conn_close(s, i, &s->ctr.tcp_closed_idle);
		else if ((c->partial_since_ms &&
			  s->now_ms - c->partial_since_ms >= PVD_TCP_SLOW_MS) ||
			 (c->stuck_since_ms && s->now_ms - c->stuck_since_ms >= PVD_TCP_SLOW_MS))
			conn_close(s, i, &s->ctr.tcp_closed_slow);
	}
}
