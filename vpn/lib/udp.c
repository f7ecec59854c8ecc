#include "udp.h"

#include <natcheck/error.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define UDP_BUF_BYTES (7 << 20) /* as wireguard-go: no drops at line rate in one burst */
#define UDP_MAX_SEGS 64         /* the kernel's UDP_MAX_SEGMENTS */

int udp_open(struct udp *u, uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, zero = 0, buf = UDP_BUF_BYTES, rc;

	memset(u, 0, sizeof(*u));
	memset(&ss, 0, sizeof(ss));
	u->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->fd >= 0 && setsockopt(u->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == 0) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		u->family = AF_INET6;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		if (u->fd >= 0)
			close(u->fd);
		u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		u->family = AF_INET;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	}
	if (u->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "UDP socket: %s", strerror(errno));
		return rc;
	}
	/* Forced sizes need CAP_NET_ADMIN; the plain ones are capped by rmem_max. */
	if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
		setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(u->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) != 0)
		setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(u->fd, (struct sockaddr *)&ss, sl) != 0) {
		rc = -errno;
		snprintf(err, errlen, "binding UDP port %u: %s", port, strerror(errno));
		udp_close(u);
		return rc;
	}
	sl = sizeof(ss);
	getsockname(u->fd, (struct sockaddr *)&ss, &sl);
	u->port = ntohs(u->family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
	u->gro = setsockopt(u->fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	/* GSO is per send (a control message); whether the kernel takes it shows on first use. */
	u->gso = true;
	return 0;
}

void udp_close(struct udp *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

socklen_t udp_sockaddr(const struct udp *u, const struct nc_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (u->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		if (a->family == AF_INET) {
			s6->sin6_addr.s6_addr[10] = 0xFF;
			s6->sin6_addr.s6_addr[11] = 0xFF;
			memcpy(&s6->sin6_addr.s6_addr[12], a->ip, 4);
		} else {
			memcpy(&s6->sin6_addr, a->ip, 16);
		}
		return sizeof(*s6);
	}
	if (a->family != AF_INET)
		return 0;
	return nc_addr_to_sockaddr(a, ss);
}

static int send_gso(struct udp *u, const struct sockaddr_storage *to, socklen_t tolen,
		    const uint8_t *buf, size_t total, size_t seg)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = total};
	struct msghdr mh = {.msg_name = (void *)(uintptr_t)to, .msg_namelen = tolen,
			    .msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	uint16_t s = (uint16_t)seg;

	if (total > seg) {
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(s));
		memcpy(CMSG_DATA(c), &s, sizeof(s));
	}
	for (;;) {
		ssize_t n = sendmsg(u->fd, &mh, 0);
		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int udp_send_batch(struct udp *u, const struct sockaddr_storage *to, socklen_t tolen,
		   const uint8_t *buf, size_t total, size_t seg)
{
	size_t per = seg ? 65000 / seg : 1, off = 0;
	int rc;

	if (per > UDP_MAX_SEGS)
		per = UDP_MAX_SEGS;
	if (per == 0)
		per = 1;
	while (off < total) {
		size_t n = total - off < per * seg ? total - off : per * seg;

		if (u->gso) {
			rc = send_gso(u, to, tolen, buf + off, n, seg);
			/* EIO: the device cannot checksum-offload GSO (wireguard-go's rule: stop
			 * using GSO on this socket and resend one by one). */
			if (rc == -EIO && n > seg) {
				u->gso = false;
				continue;
			}
			if (rc != 0 && rc != -EAGAIN && rc != -ENOBUFS)
				return rc;
		} else {
			struct mmsghdr mm[UDP_MAX_SEGS];
			struct iovec iov[UDP_MAX_SEGS];
			unsigned k = 0;

			for (size_t o = 0; o < n; o += seg, k++) {
				iov[k].iov_base = (void *)(uintptr_t)(buf + off + o);
				iov[k].iov_len = n - o < seg ? n - o : seg;
				memset(&mm[k], 0, sizeof(mm[k]));
				mm[k].msg_hdr.msg_name = (void *)(uintptr_t)to;
				mm[k].msg_hdr.msg_namelen = tolen;
				mm[k].msg_hdr.msg_iov = &iov[k];
				mm[k].msg_hdr.msg_iovlen = 1;
			}
			for (unsigned sent = 0; sent < k;) {
				int r = sendmmsg(u->fd, mm + sent, k - sent, 0);
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0)
					break; /* a full queue drops, as a router would */
				sent += (unsigned)r;
			}
		}
		off += n;
	}
	return 0;
}
