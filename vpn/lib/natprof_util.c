/* The pure parts of punchvpn's NAT profile (natprof.h): natcheck's result in short, its
 * description, the host's local candidates and the rtnetlink change filter. Kept apart from
 * the threads in natprof.c so each is unit-tested (and fuzzed) on its own. */
#include "natprof.h"

#include <natcheck/result.h>

#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* --- natcheck's result in short ---------------------------------------------------------- */

static uint8_t tcp_punchable(const struct nc_tcp_result *t)
{
	if (!t->tested)
		return NC_TRI_UNKNOWN;
	/* Ford §5: TCP hole punching needs a consistent (endpoint-independent) mapping and a
	 * simultaneous open the NAT lets through. */
	if (t->simultaneous_open == NC_TRI_NO || t->consistent == NC_TRI_NO ||
	    t->mapping == NC_BEH_AD || t->mapping == NC_BEH_APD)
		return NC_TRI_NO;
	if (t->simultaneous_open == NC_TRI_YES &&
	    (t->consistent == NC_TRI_YES || t->mapping == NC_BEH_EI || t->mapping == NC_BEH_NONE))
		return NC_TRI_YES;
	return NC_TRI_UNKNOWN;
}

/* The port-mapping protocol to advertise, in the order the strategy prefers (the simplest
 * exchange first). A gateway whose claimed external address is not the address the reflector
 * saw sits behind another NAT (CGNAT, double NAT): a mapping there is not reachable from
 * outside, so it is not advertised (issue 11 §2). */
static void pick_portmap(const struct nc_result *r, struct coord_profile *out)
{
	static const struct {
		enum nc_pm_proto proto;
		enum coord_pm pm;
	} order[] = {
		{NC_PM_NATPMP, COORD_PM_NATPMP},
		{NC_PM_PCP, COORD_PM_PCP},
		{NC_PM_UPNP, COORD_PM_UPNP},
	};

	if (!nc_addr_is_set(&r->udp.public_ep))
		return;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct nc_portmap_result *pm = &r->portmap[order[i].proto];

		if (!pm->tested || pm->present != NC_TRI_YES || !nc_addr_is_set(&pm->external) ||
		    !nc_addr_ip_eq(&pm->external, &r->udp.public_ep))
			continue;
		out->portmap = (uint8_t)order[i].pm;
		/* The address only: the port is the device's, once it holds a mapping. */
		out->portmap_ep = pm->external;
		out->portmap_ep.port = 0;
		return;
	}
}

void natprof_from_result(const struct nc_result *r, struct coord_profile *out)
{
	memset(out, 0, sizeof(*out));
	if (!r)
		return;
	out->udp_blocked = r->udp.reachable == NC_TRI_YES  ? NC_TRI_NO
			   : r->udp.reachable == NC_TRI_NO ? NC_TRI_YES
							   : NC_TRI_UNKNOWN;
	out->tcp_punchable = tcp_punchable(&r->tcp);
	/* "measured": the run reached the server or found that UDP does not reach it. */
	out->measured = out->udp_blocked != NC_TRI_UNKNOWN;
	if (out->udp_blocked != NC_TRI_NO)
		return;
	out->mapping = (uint8_t)r->udp.mapping;
	out->filtering = (uint8_t)r->udp.filtering;
	out->allocation = (uint8_t)r->udp.alloc.pattern;
	if (r->udp.alloc.pattern == NC_ALLOC_SEQUENTIAL && r->udp.alloc.delta >= INT16_MIN &&
	    r->udp.alloc.delta <= INT16_MAX)
		out->port_step = (int16_t)r->udp.alloc.delta;
	else if (r->udp.alloc.pattern == NC_ALLOC_SEQUENTIAL)
		out->allocation = NC_ALLOC_RANDOM; /* a step no window of guesses can follow */
	out->lifetime_s = r->udp.lifetime_s > UINT16_MAX ? UINT16_MAX : (uint16_t)r->udp.lifetime_s;
	out->hairpin = (uint8_t)r->udp.hairpin;
	pick_portmap(r, out);
}

static const char *beh_short(uint8_t b)
{
	switch (b) {
	case NC_BEH_NONE: return "no";
	case NC_BEH_EI: return "EI";
	case NC_BEH_AD: return "AD";
	case NC_BEH_APD: return "APD";
	default: return "unknown";
	}
}

static const char *tri_word(uint8_t t)
{
	return t == NC_TRI_YES ? "yes" : t == NC_TRI_NO ? "no" : "unknown";
}

static const char *pm_name(uint8_t pm)
{
	switch (pm) {
	case COORD_PM_NATPMP: return "NAT-PMP";
	case COORD_PM_PCP: return "PCP";
	case COORD_PM_UPNP: return "UPnP-IGD";
	default: return "none";
	}
}

void natprof_describe(const struct coord_profile *p, char *out, size_t len)
{
	size_t n = 0;

#define APPEND(...)                                                                          \
	do {                                                                                 \
		int w_ = snprintf(out + n, len - n, __VA_ARGS__);                            \
		if (w_ < 0 || (size_t)w_ >= len - n)                                         \
			return;                                                              \
		n += (size_t)w_;                                                             \
	} while (0)

	if (!out || len == 0)
		return;
	out[0] = '\0';
	if (!p || !p->measured) {
		APPEND("not measured");
		return;
	}
	if (p->udp_blocked == NC_TRI_YES) {
		APPEND("UDP blocked, TCP punching %s", tri_word(p->tcp_punchable));
		return;
	}
	if (p->mapping == NC_BEH_NONE) {
		APPEND("no NAT, %s filtering", beh_short(p->filtering));
	} else {
		APPEND("%s mapping, %s filtering", beh_short(p->mapping), beh_short(p->filtering));
		if (p->allocation == NC_ALLOC_SEQUENTIAL)
			APPEND(", sequential %+d", p->port_step);
		else if (p->allocation != NC_ALLOC_UNKNOWN)
			APPEND(", %s", nc_alloc_name((enum nc_alloc)p->allocation));
	}
	if (p->lifetime_s)
		APPEND(", %u s", p->lifetime_s);
	if (p->hairpin != NC_TRI_UNKNOWN)
		APPEND(", hairpin %s", tri_word(p->hairpin));
	if (p->tcp_punchable != NC_TRI_UNKNOWN)
		APPEND(", TCP punching %s", tri_word(p->tcp_punchable));
	if (p->portmap != COORD_PM_NONE) {
		char ip[NC_ADDR_STRLEN];

		APPEND(", %s at %s", pm_name(p->portmap), nc_addr_ip_str(&p->portmap_ep, ip));
	}
#undef APPEND
}

/* --- local candidates ------------------------------------------------------------------- */

size_t natprof_local_addrs(const char *skip_ifname, uint16_t port, struct nc_addr *out,
			   size_t max)
{
	struct ifaddrs *ifs, *i;
	size_t n = 0;

	if (max == 0 || getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && n < max; i = i->ifa_next) {
		struct nc_addr a;
		enum nc_addr_scope sc;
		bool dup = false;

		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (skip_ifname && strcmp(i->ifa_name, skip_ifname) == 0)
			continue;
		if (nc_addr_from_sockaddr(&a, i->ifa_addr,
					  i->ifa_addr->sa_family == AF_INET6
						  ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in)) < 0)
			continue;
		sc = nc_addr_scope(&a);
		if (!nc_addr_ip_is_unicast(&a) || sc == NC_SCOPE_LOOPBACK || sc == NC_SCOPE_LINKLOCAL)
			continue;
		a.port = port;
		for (size_t k = 0; k < n && !dup; k++)
			dup = nc_addr_eq(&out[k], &a);
		if (!dup)
			out[n++] = a;
	}
	freeifaddrs(ifs);
	return n;
}

/* --- rtnetlink --------------------------------------------------------------------------- */

/* A route toward fe80::/10 or ff00::/8: IPv6's per-link routes, there on every interface. */
static bool v6_link_route(const struct rtmsg *rtm, const struct rtattr *dst)
{
	const uint8_t *a;

	if (rtm->rtm_family != AF_INET6 || !dst || RTA_PAYLOAD(dst) < 16)
		return false;
	a = RTA_DATA(dst);
	return (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff;
}

/* Whether a batch of rtnetlink messages says that the path to the internet may have changed:
 * an address or a route on another interface than the tunnel's own (its address and routes
 * come and go with the tunnel). Link-scoped addresses (IPv6 link-local, which appear a moment
 * after any link comes up) and the routes the kernel derives from addresses (local,
 * broadcast, anycast, multicast, IPv6 per-link) say nothing the address itself does not.
 * Walks the messages with the kernel's bounds checks (NLMSG_OK, RTA_OK); a message whose body
 * is shorter than its header counts as a change: one measurement too many, never one missed. */
bool natprof_nl_changed(const void *buf, size_t len, int skip_ifindex)
{
	const struct nlmsghdr *h;
	int rest = len > INT32_MAX ? INT32_MAX : (int)len;
	bool changed = false;

	for (h = buf; NLMSG_OK(h, rest); h = NLMSG_NEXT(h, rest)) {
		int oif = 0;

		if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_OVERRUN)
			return true;
		if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
			const struct ifaddrmsg *ifa = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
				return true;
			if (ifa->ifa_scope >= RT_SCOPE_LINK)
				continue;
			oif = (int)ifa->ifa_index;
		} else if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE) {
			const struct rtmsg *rtm = NLMSG_DATA(h);
			const struct rtattr *rta, *dst = NULL;
			int alen;

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
				return true;
			/* Routing-cache clones are lookups, not changes. */
			if ((rtm->rtm_flags & RTM_F_CLONED) || rtm->rtm_type == RTN_LOCAL ||
			    rtm->rtm_type == RTN_BROADCAST || rtm->rtm_type == RTN_ANYCAST ||
			    rtm->rtm_type == RTN_MULTICAST)
				continue;
			alen = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rtm));
			for (rta = RTM_RTA(rtm); RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
				if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) >= sizeof(int))
					memcpy(&oif, RTA_DATA(rta), sizeof(int));
				else if (rta->rta_type == RTA_DST)
					dst = rta;
			}
			if (v6_link_route(rtm, dst))
				continue;
		} else {
			continue; /* links, neighbours, NLMSG_DONE: not ours */
		}
		if (skip_ifindex > 0 && oif == skip_ifindex)
			continue;
		changed = true;
	}
	return changed;
}
