#include "tcpframe.h"

#include <natcheck/error.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Lock-free helpers for the owner: a socket toward `to` from local port lport. */
int tcpf_connect(const struct nc_addr *to, uint16_t lport)
{
	struct sockaddr_storage ss, ls;
	socklen_t sl = nc_addr_to_sockaddr(to, &ss), ll;
	int one = 1, fd, rc;

	if (!sl)
		return -EAFNOSUPPORT;
	for (int bound = lport ? 1 : 0; bound >= 0; bound--) {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		/* Datagrams, not a byte stream: each frame goes at once. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (bound) {
			/* Every connection from the tunnel's port number shares it (the relay's,
			 * the one that shows the mapping, the peers'): the NAT maps them all to
			 * the one endpoint the server observed. */
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
			memset(&ls, 0, sizeof(ls));
			ls.ss_family = ss.ss_family;
			if (ss.ss_family == AF_INET) {
				((struct sockaddr_in *)&ls)->sin_port = htons(lport);
				ll = sizeof(struct sockaddr_in);
			} else {
				((struct sockaddr_in6 *)&ls)->sin6_port = htons(lport);
				ll = sizeof(struct sockaddr_in6);
			}
			if (bind(fd, (struct sockaddr *)&ls, ll) != 0) {
				close(fd);
				continue; /* taken in a way we cannot share: any port */
			}
		}
		if (connect(fd, (struct sockaddr *)&ss, sl) == 0 || errno == EINPROGRESS)
			return fd;
		rc = -errno;
		close(fd);
		/* The same 4-tuple still in use (TIME_WAIT): any port rather than none. */
		if (!bound || (rc != -EADDRNOTAVAIL && rc != -EADDRINUSE))
			return rc;
	}
	return -EADDRINUSE;
}

int tcpf_connected(int fd)
{
	int err = 0;
	socklen_t el = sizeof(err);
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
		return -errno;
	if (err)
		return -err;
	return (pfd.revents & POLLOUT) ? 1 : 0;
}

int tcpf_init(struct tcpf *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->in = malloc(TCPF_IN_CAP);
	f->out = malloc(TCPF_OUT_MAX);
	if (!f->in || !f->out) {
		tcpf_free(f);
		return -NC_E_NOMEM;
	}
	return 0;
}

void tcpf_close(struct tcpf *f, bool abort)
{
	if (f->fd >= 0) {
		if (abort) {
			struct linger l = {.l_onoff = 1, .l_linger = 0};
			setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		}
		close(f->fd);
	}
	f->fd = -1;
	f->in_len = f->out_len = 0;
}

void tcpf_free(struct tcpf *f)
{
	tcpf_close(f, false);
	free(f->in);
	free(f->out);
	f->in = f->out = NULL;
}

void tcpf_attach(struct tcpf *f, int fd)
{
	tcpf_close(f, false);
	f->fd = fd;
}

int tcpf_flush(struct tcpf *f)
{
	ssize_t n;

	if (f->fd < 0)
		return -ENOTCONN;
	if (!f->out_len)
		return 0;
	n = send(f->fd, f->out, f->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	memmove(f->out, f->out + n, f->out_len - (size_t)n);
	f->out_len -= (size_t)n;
	return 0;
}

int tcpf_write(struct tcpf *f, const uint8_t *buf, size_t len)
{
	if (len > 65535)
		return -NC_E_RANGE;
	if (f->fd < 0)
		return -ENOTCONN;
	if (f->out_len + 2 + len > TCPF_OUT_MAX)
		return -ENOBUFS; /* a full pipe drops, as a full UDP buffer would */
	f->out[f->out_len] = (uint8_t)(len >> 8);
	f->out[f->out_len + 1] = (uint8_t)len;
	memcpy(f->out + f->out_len + 2, buf, len);
	f->out_len += 2 + len;
	return tcpf_flush(f);
}

bool tcpf_pending(const struct tcpf *f)
{
	return f->out_len > 0;
}

bool tcpf_recv(struct tcpf *f)
{
	ssize_t n;

	if (f->fd < 0)
		return false;
	if (f->in_len == TCPF_IN_CAP) /* cannot happen: a whole frame always fits */
		return true;
	n = recv(f->fd, f->in + f->in_len, TCPF_IN_CAP - f->in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		return false;
	if (n > 0)
		f->in_len += (size_t)n;
	return true;
}

bool tcpf_frames(struct tcpf *f, void (*fn)(void *ctx, const uint8_t *dgram, size_t len),
		 void *ctx)
{
	bool ok = true;
	size_t off = 0;

	for (;;) {
		size_t flen;

		if (f->in_len - off < 2)
			break;
		flen = (size_t)f->in[off] << 8 | f->in[off + 1];
		if (flen == 0) { /* no datagram is empty: the stream is not ours */
			ok = false;
			break;
		}
		if (f->in_len - off - 2 < flen)
			break;
		fn(ctx, f->in + off + 2, flen);
		off += 2 + flen;
		if (f->in_len < off) /* fn closed the stream (tcpf_close emptied the buffer) */
			return ok;
	}
	memmove(f->in, f->in + off, f->in_len - off);
	f->in_len -= off;
	return ok;
}
