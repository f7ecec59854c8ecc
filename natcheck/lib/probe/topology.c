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

static const char *realm(const struct nc_addr *a)
{
	switch (nc_addr_scope(a)) {
	case NC_SCOPE_CGNAT: return "carrier shared space";
	case NC_SCOPE_PRIVATE: return "private";
	default: return "public";
	}
}

void nc_classify_topology(struct nc_result *r, const struct nc_hops *hops)
{
	struct nc_topology *t = &r->topology;
	const struct nc_udp_result *u = &r->udp;
	bool cgnat = false, extra_nat = false, single = false;
	char a[NC_ADDR_STRLEN], b[NC_ADDR_STRLEN], path[NC_NOTE_LEN] = "";

	t->nat_layers = -1;
	t->cgnat = t->double_nat = NC_TRI_UNKNOWN;
	if (u->nat == NC_TRI_NO) {
		t->nat_layers = 0;
		t->cgnat = t->double_nat = NC_TRI_NO;
		return;
	}
	if (u->nat != NC_TRI_YES)
		return;
	if (nc_addr_scope(&u->local) == NC_SCOPE_CGNAT) {
		cgnat = true;
		nc_result_note(r, "topology: this host's own address %s is in 100.64.0.0/10, the "
				  "space carriers give subscribers behind a carrier-grade NAT",
			       nc_addr_ip_str(&u->local, a));
	}

	/* The path: the first hop is the home gateway; private or shared-space routers after
	 * it, before the first public one, are further address realms. */
	if (hops && hops->n) {
		size_t off = 0;
		bool gateway_private = false, silent = false, public_seen = false;
		for (unsigned i = 0; i < hops->n && (!hops->reached_at || i + 1 < hops->reached_at); i++) {
			const struct nc_addr *h = &hops->hop[i];
			off += (size_t)snprintf(path + off, off < sizeof(path) ? sizeof(path) - off : 0, "%s%s",
						i ? ", " : "", nc_addr_is_set(h) ? nc_addr_ip_str(h, a) : "*");
			if (!nc_addr_is_set(h)) {
				silent = true;
				continue;
			}
			if (nc_addr_scope(h) == NC_SCOPE_PUBLIC) {
				public_seen = true;
				break;
			}
			if (i == 0) {
				gateway_private = true;
				continue;
			}
			if (nc_addr_scope(h) == NC_SCOPE_CGNAT)
				cgnat = true;
			else if (nc_addr_scope(h) == NC_SCOPE_PRIVATE)
				extra_nat = true;
		}
		/* Every router between the private gateway and the first public router (or the
		 * server itself) answered, and none was in another private realm: one NAT. */
		if (gateway_private && !silent && !cgnat && !extra_nat && (public_seen || hops->reached_at))
			single = true;
		if (off)
			nc_result_note(r, "topology: routers on the path to the server: %s", path);
	}

	/* Port-mapping gateways report the address they map to. */
	for (int p = 0; p < NC_PM_COUNT; p++) {
		const struct nc_portmap_result *m = &r->portmap[p];
		if (m->present != NC_TRI_YES || !nc_addr_is_set(&m->external))
			continue;
		if (nc_addr_scope(&m->external) == NC_SCOPE_CGNAT)
			cgnat = true;
		else if (nc_addr_scope(&m->external) == NC_SCOPE_PRIVATE)
			extra_nat = true;
		else if (!nc_addr_ip_eq(&m->external, &u->public_ep))
			extra_nat = true;
		else
			single = !cgnat && !extra_nat;
		if (!nc_addr_ip_eq(&m->external, &u->public_ep))
			nc_result_note(r, "topology: %s says the gateway's external address is %s (%s), but "
					  "servers see %s: another NAT sits above the gateway",
				       nc_pm_proto_name((enum nc_pm_proto)p), nc_addr_ip_str(&m->external, a),
				       realm(&m->external), nc_addr_ip_str(&u->public_ep, b));
	}

	if (cgnat || extra_nat) {
		t->cgnat = cgnat ? NC_TRI_YES : NC_TRI_NO;
		/* A host that itself sits in shared space has just the carrier's NAT. */
		t->nat_layers = (int8_t)(nc_addr_scope(&u->local) == NC_SCOPE_CGNAT && !extra_nat ? 1 : 2);
		t->double_nat = t->nat_layers >= 2 ? NC_TRI_YES : NC_TRI_NO;
	} else if (single) {
		t->nat_layers = 1;
		t->cgnat = t->double_nat = NC_TRI_NO;
	}
}
