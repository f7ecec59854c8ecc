#include "tcpback.h"

#include <natcheck/error.h>

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void tcpback_classify(int so_error, int ee_origin, uint8_t type, uint8_t code,
		      struct ncp_result *r)
{
	r->err = (uint32_t)so_error;
	r->icmp_type = r->icmp_code = 0;
	if (so_error == 0) {
		r->status = NCP_ST_CONNECTED;
	} else if (ee_origin == SO_EE_ORIGIN_ICMP || ee_origin == SO_EE_ORIGIN_ICMP6) {
		r->status = NCP_ST_ICMP;
		r->icmp_type = type;
		r->icmp_code = code;
	} else if (so_error == ECONNREFUSED) {
		r->status = NCP_ST_RST;
	} else if (so_error == EHOSTUNREACH || so_error == ENETUNREACH || so_error == EACCES ||
		   so_error == EPERM) {
		/* An ICMP error the queue did not keep: report it, type unknown (3/255 for IPv4
		 * "unreachable, code unknown" reads as icmp-other). */
		r->status = NCP_ST_ICMP;
		r->icmp_type = 3;
		r->icmp_code = 255;
	} else if (so_error == ETIMEDOUT) {
		r->status = NCP_ST_TIMEOUT;
	} else {
		r->status = NCP_ST_ERROR;
	}
}

/* The first ICMP error the kernel queued for this socket, if any. */
static void read_errqueue(int fd, int *origin, uint8_t *type, uint8_t *code)
{
	uint8_t cbuf[512], data[64];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct sockaddr_storage from;
	struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
			    .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};

	*origin = 0;
	if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		struct sock_extended_err ee;

		if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
			continue;
		if (c->cmsg_len < CMSG_LEN(sizeof(ee)))
			continue;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		*origin = ee.ee_origin;
		*type = ee.ee_type;
		*code = ee.ee_code;
		return;
	}
}

static void finish(struct tcpback *t, int so_error, uint64_t now_us)
{
	int origin = 0;
	uint8_t type = 0, code = 0;

	if (so_error && t->fd >= 0)
		read_errqueue(t->fd, &origin, &type, &code);
	tcpback_classify(so_error, origin, type, code, &t->res);
	t->res.elapsed_ms = (uint32_t)((now_us - t->start_us) / 1000);
	t->done = true;
	tcpback_close(t);
}

int tcpback_start(struct tcpback *t, const struct nc_addr *from, const struct nc_addr *to,
		  uint32_t wait_ms, uint64_t now_us)
{
	struct sockaddr_storage fs, ts;
	socklen_t fl, tl;
	int one = 1;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->start_us = now_us;
	t->deadline_us = now_us + (uint64_t)wait_ms * 1000;
	if (!nc_addr_is_set(from) || !nc_addr_is_set(to) || from->family != to->family)
		return -NC_E_INVALID;
	fl = nc_addr_to_sockaddr(from, &fs);
	tl = nc_addr_to_sockaddr(to, &ts);
	t->fd = socket(from->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		finish(t, errno, now_us);
		t->res.status = NCP_ST_ERROR;
		return 0;
	}
	/* Many connect-backs leave from one origin port toward different clients; the kernel
	 * tells them apart by the 4-tuple. */
	setsockopt(t->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (from->family == AF_INET)
		setsockopt(t->fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
	else
		setsockopt(t->fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
	if (bind(t->fd, (struct sockaddr *)&fs, fl) < 0) {
		int e = errno;
		finish(t, e, now_us);
		t->res.status = NCP_ST_ERROR;
		return 0;
	}
	if (connect(t->fd, (struct sockaddr *)&ts, tl) == 0) {
		finish(t, 0, now_us);
		return 0;
	}
	if (errno != EINPROGRESS) {
		int e = errno;
		finish(t, e, now_us);
		if (t->res.status == NCP_ST_TIMEOUT)
			t->res.status = NCP_ST_ERROR;
		return 0;
	}
	return 0;
}

bool tcpback_event(struct tcpback *t, uint64_t now_us)
{
	int err = 0;
	socklen_t el = sizeof(err);

	if (t->done)
		return true;
	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return false;
	finish(t, err, now_us);
	return true;
}

bool tcpback_timeout(struct tcpback *t, uint64_t now_us)
{
	if (t->done)
		return true;
	if (now_us < t->deadline_us)
		return false;
	/* Nothing came back: the SYNs were dropped silently. */
	t->res.status = NCP_ST_TIMEOUT;
	t->res.err = 0;
	t->res.elapsed_ms = (uint32_t)((now_us - t->start_us) / 1000);
	t->done = true;
	tcpback_close(t);
	return true;
}

void tcpback_close(struct tcpback *t)
{
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
}
