#include "topology.h"

#include <natcheck/error.h>
#include "netutil.h"
#include "stun.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ICMP_TIME_EXCEEDED_TYPE 11
#define ICMP6_TIME_EXCEEDED_TYPE 3

/* Reads one error-queue entry: the router that reported the datagram's TTL expiry. */
static bool read_time_exceeded(int fd, struct nc_addr *router)
{
	uint8_t data[64], ctl[512];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl)};
	bool found = false;

	if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		struct sock_extended_err ee;
		bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
		bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;

		if (!v4 && !v6)
			continue;
		if (c->cmsg_len < CMSG_LEN(sizeof(ee)))
			continue;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		if (ee.ee_origin != (v4 ? SO_EE_ORIGIN_ICMP : SO_EE_ORIGIN_ICMP6) ||
		    ee.ee_type != (v4 ? ICMP_TIME_EXCEEDED_TYPE : ICMP6_TIME_EXCEEDED_TYPE))
			continue;
		/* The offender address follows the extended error (SO_EE_OFFENDER). */
		{
			struct sockaddr_storage off;
			size_t avail = c->cmsg_len - CMSG_LEN(sizeof(ee));
			size_t len = avail < sizeof(off) ? avail : sizeof(off);
			memset(&off, 0, sizeof(off));
			memcpy(&off, CMSG_DATA(c) + sizeof(ee), len);
			if (nc_addr_from_sockaddr(router, (struct sockaddr *)&off, (socklen_t)len) == 0)
				found = true;
		}
	}
	return found;
}

int nc_probe_hops(const struct nc_addr *server, unsigned max_ttl, unsigned wait_ms,
		  const struct nc_limits *lim, struct nc_hops *out)
{
	struct pollfd pfd[NC_MAX_HOPS];
	uint8_t tid[NC_MAX_HOPS][STUN_TID_LEN];
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(server, &ss);
	struct nc_addr src, bound;
	uint64_t deadline;
	unsigned n = max_ttl < NC_MAX_HOPS ? max_ttl : NC_MAX_HOPS, open = 0;
	int err, one = 1;
	bool v6 = server->family == AF_INET6;

	memset(out, 0, sizeof(*out));
	if (sodium_init() < 0)
		return -NC_E_NOMEM;
	if ((err = nc_route_source(server, &src)) < 0)
		return err;
	/* One socket per TTL, so each error arrives where it can only mean one hop. */
	for (unsigned i = 0; i < n; i++) {
		uint8_t pkt[64];
		int ttl = (int)i + 1, len, fd = nc_udp_bind(&src, 0, &bound);

		pfd[i].fd = fd;
		pfd[i].events = POLLIN;
		if (fd < 0) {
			err = fd;
			goto out;
		}
		open = i + 1;
		if (setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVERR : IP_RECVERR, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, &ttl, sizeof(ttl)) < 0) {
			err = -errno;
			goto out;
		}
		randombytes_buf(tid[i], STUN_TID_LEN);
		len = stun_binding_request(pkt, sizeof(pkt), tid[i], 0, 0);
		if (len > 0)
			sendto(fd, pkt, (size_t)len, 0, (struct sockaddr *)&ss, sl);
	}
	out->n = (uint8_t)n;
	deadline = nc_now_us() + (uint64_t)wait_ms * 1000u;
	for (;;) {
		uint64_t now = nc_now_us();
		unsigned pending = 0;

		for (unsigned i = 0; i < n; i++)
			pending += !nc_addr_is_set(&out->hop[i]) && !(out->reached_at && i + 1 >= out->reached_at);
		if (pending == 0 || now >= deadline)
			break;
		if (poll(pfd, n, (int)((deadline - now + 999) / 1000)) < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; i < n; i++) {
			uint8_t buf[512];
			struct stun_msg m;
			ssize_t k;

			if (pfd[i].revents & POLLERR)
				read_time_exceeded(pfd[i].fd, &out->hop[i]);
			while ((k = recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
				if (stun_decode(buf, (size_t)k, &m) == 0 &&
				    sodium_memcmp(m.tid, tid[i], STUN_TID_LEN) == 0 &&
				    (!out->reached_at || i + 1 < out->reached_at))
					out->reached_at = (uint8_t)(i + 1);
			}
		}
	}
	err = 0;
out:
	for (unsigned i = 0; i < open; i++)
		close(pfd[i].fd);
	return err;
}
