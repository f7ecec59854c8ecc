#include "topology.h"

#include <natcheck/error.h>
#include "netutil.h"
#include "stun.h"
#include "stun_txn.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
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

/* Is TTL i+1 still worth an answer? Not once the server answered at or below it, nor once a
 * public router answered below it: the classifier reads the path only up to there. */
static bool hop_needed(const struct nc_hops *h, unsigned i)
{
	if (nc_addr_is_set(&h->hop[i]) || (h->reached_at && i + 1 >= h->reached_at))
		return false;
	for (unsigned j = 0; j < i; j++)
		if (nc_addr_is_set(&h->hop[j]) && nc_addr_scope(&h->hop[j]) == NC_SCOPE_PUBLIC)
			return false;
	return true;
}

int nc_probe_hops(const struct nc_addr *server, unsigned max_ttl, unsigned wait_ms,
		  const struct nc_limits *lim, struct nc_hops *out)
{
	struct pollfd pfd[NC_MAX_HOPS + 1];
	struct stun_txn txn[NC_MAX_HOPS];
	/* Retransmissions wait out the routers' ICMP token bucket (see topology.h). */
	struct stun_rtt pace = {.initial_us = NC_HOPS_PACE_MS * 1000ull};
	struct nc_addr src, bound;
	unsigned n = max_ttl < NC_MAX_HOPS ? max_ttl : NC_MAX_HOPS, open = 0;
	int err, one = 1;
	bool v6 = server->family == AF_INET6;

	memset(out, 0, sizeof(*out));
	if ((err = nc_route_source(server, &src)) < 0)
		return err;
	/* One socket per TTL, so each error arrives where it can only mean one hop. */
	for (unsigned i = 0; i < n; i++) {
		int ttl = (int)i + 1, fd = nc_udp_bind(&src, 0, &bound);

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
		if ((err = stun_txn_init(&txn[i], server, 0, 0, NC_HOPS_ATTEMPTS)) < 0)
			goto out;
		txn[i].linger_us = (uint64_t)wait_ms * 1000u; /* the last try: a round trip or so */
	}
	out->n = (uint8_t)n;
	pfd[n] = (struct pollfd){.fd = nc_cancel_fd(lim ? lim->cancel : NULL), .events = POLLIN};
	for (unsigned skipped = 0;;) {
		uint64_t now = nc_now_us(), next = 0;

		if ((err = nc_limits_check(lim, now)) < 0)
			goto out;
		for (unsigned i = 0; i < n; i++) {
			uint64_t due;
			if (!hop_needed(out, i) || txn[i].state != STUN_TXN_PENDING)
				continue;
			stun_txn_tick(&txn[i], pfd[i].fd, &pace, now); /* a failed send: that hop is silent */
			due = stun_txn_next(&txn[i], &pace);
			if (due && (!next || due < next))
				next = due;
		}
		if (!next)
			break; /* every hop that matters answered, or was tried out */
		if (poll(pfd, pfd[n].fd >= 0 ? n + 1 : n, nc_limits_timeout_ms(lim, next, now)) < 0 &&
		    errno != EINTR) {
			err = -errno;
			goto out;
		}
		for (unsigned i = 0; i < n; i++) {
			if (pfd[i].revents & POLLERR)
				read_time_exceeded(pfd[i].fd, &out->hop[i]);
			for (unsigned b = 0; b < 16 && (pfd[i].revents & POLLIN); b++) {
				uint8_t buf[512];
				struct stun_msg m;
				struct nc_addr from;
				int rc = stun_txn_recv(pfd[i].fd, buf, sizeof(buf), &m, &from);

				if (rc == -EAGAIN || rc == -EWOULDBLOCK)
					break;
				if (rc == 0 && stun_txn_accept(&txn[i], NULL, &m, &from, nc_now_us()) ==
						       STUN_TXN_MATCHED) {
					if (!out->reached_at || i + 1 < out->reached_at)
						out->reached_at = (uint8_t)(i + 1);
				} else if (rc != 0 || !stun_txn_owns(&txn[i], &m)) {
					if (++skipped > STUN_TXN_MAX_SKIP) {
						err = -NC_E_PROTOCOL;
						goto out;
					}
				}
			}
		}
	}
	err = 0;
out:
	for (unsigned i = 0; i < open; i++)
		close(pfd[i].fd);
	return err;
}
