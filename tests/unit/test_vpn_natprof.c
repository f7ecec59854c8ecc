/* punchvpn's NAT profile: natcheck's result in short (from saved results and from results
 * built field by field), its one-line description, the rtnetlink change filter, the local
 * candidates (in a network namespace of the test's own, as root), and the measurement thread
 * against a port where nothing answers (no root needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <natcheck/result.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coord.h"
#include "key.h"
#include "natprof.h"
#include "strategy.h"

#ifndef NC_TEST_DATA
#error NC_TEST_DATA must point at tests/data
#endif

static struct nc_result *read_result(const char *path)
{
	struct nc_result *r = malloc(sizeof(*r));
	char err[256] = "";
	FILE *f = fopen(path, "r");
	char *text;
	long n;

	assert_non_null(r);
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = malloc((size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (nc_result_from_json(text, (size_t)n, r, err, sizeof(err)) != 0)
		fail_msg("%s: %s", path, err);
	free(text);
	return r;
}

static void set_ip(struct nc_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->port = port;
	assert_int_equal(inet_pton(AF_INET, ip, a->ip), 1);
}

static void test_from_saved_results(void **state)
{
	struct nc_result *r;
	struct coord_profile p;
	char s[160];
	(void)state;

	r = read_result(NC_TEST_DATA "/result-rev1/open-internet.json");
	natprof_from_result(r, &p);
	assert_true(p.measured);
	assert_int_equal(p.udp_blocked, NC_TRI_NO);
	assert_int_equal(p.mapping, NC_BEH_NONE);
	assert_int_equal(p.filtering, NC_BEH_NONE);
	assert_int_equal(p.allocation, NC_ALLOC_PRESERVING);
	assert_int_equal(p.portmap, COORD_PM_NONE);
	assert_int_equal(p.tcp_punchable, NC_TRI_UNKNOWN);
	natprof_describe(&p, s, sizeof(s));
	assert_string_equal(s, "no NAT, no filtering");
	free(r);

	/* NAT-PMP and UPnP-IGD present at the address the reflector saw: advertised, NAT-PMP
	 * first; the rev-1 document has no TCP evidence. */
	r = read_result(NC_TEST_DATA "/result-rev1/port-restricted-cone.json");
	natprof_from_result(r, &p);
	assert_int_equal(p.mapping, NC_BEH_EI);
	assert_int_equal(p.filtering, NC_BEH_APD);
	assert_int_equal(p.hairpin, NC_TRI_YES);
	assert_int_equal(p.portmap, COORD_PM_NATPMP);
	assert_true(nc_addr_ip_eq(&p.portmap_ep, &r->udp.public_ep));
	assert_int_equal(p.portmap_ep.port, 0);
	natprof_describe(&p, s, sizeof(s));
	assert_string_equal(s, "EI mapping, APD filtering, preserving, hairpin yes, NAT-PMP at "
			       "203.0.113.45");
	free(r);

	r = read_result(NC_TEST_DATA "/result-rev1/symmetric.json");
	natprof_from_result(r, &p);
	assert_int_equal(p.mapping, NC_BEH_APD);
	assert_int_equal(p.allocation, NC_ALLOC_RANDOM);
	assert_int_equal(p.hairpin, NC_TRI_NO);
	assert_int_equal(p.port_step, 0);
	free(r);
}

/* The published example has the TCP tests: consistent, simultaneous open through. */
static void test_from_example_with_tcp(void **state)
{
	struct nc_result *r;
	struct coord_profile p;
	char s[160];
	(void)state;

	r = read_result(NC_TEST_DATA "/../../results/schema/examples/port-restricted-cone.json");
	natprof_from_result(r, &p);
	assert_int_equal(p.tcp_punchable, NC_TRI_YES);
	natprof_describe(&p, s, sizeof(s));
	assert_non_null(strstr(s, "TCP punching yes"));
	r->tcp.simultaneous_open = NC_TRI_NO;
	natprof_from_result(r, &p);
	assert_int_equal(p.tcp_punchable, NC_TRI_NO);
	r->tcp.simultaneous_open = NC_TRI_YES;
	r->tcp.mapping = NC_BEH_APD;
	r->tcp.consistent = NC_TRI_NO;
	natprof_from_result(r, &p);
	assert_int_equal(p.tcp_punchable, NC_TRI_NO);
	free(r);
}

static struct nc_result *base_result(void)
{
	struct nc_result *r = malloc(sizeof(*r));

	assert_non_null(r);
	nc_result_init(r);
	r->udp.reachable = NC_TRI_YES;
	r->udp.nat = NC_TRI_YES;
	r->udp.mapping = NC_BEH_EI;
	r->udp.filtering = NC_BEH_APD;
	r->udp.alloc.pattern = NC_ALLOC_PRESERVING;
	set_ip(&r->udp.public_ep, "2.1.1.1", 40000);
	return r;
}

static void test_from_built_results(void **state)
{
	struct nc_result *r = base_result();
	struct coord_profile p;
	char s[160];
	(void)state;

	/* miniupnpd gateway: every protocol present at the observed address. */
	for (int i = 0; i < NC_PM_COUNT; i++) {
		r->portmap[i].tested = true;
		r->portmap[i].present = NC_TRI_YES;
		set_ip(&r->portmap[i].external, "2.1.1.1", 0);
	}
	natprof_from_result(r, &p);
	assert_int_equal(p.portmap, COORD_PM_NATPMP);
	/* NAT-PMP silent: PCP is next. */
	r->portmap[NC_PM_NATPMP].present = NC_TRI_NO;
	natprof_from_result(r, &p);
	assert_int_equal(p.portmap, COORD_PM_PCP);
	/* The gateway sits behind a carrier-grade NAT: its external address is not the one the
	 * reflector saw, so a mapping there is not reachable and not advertised. */
	for (int i = 0; i < NC_PM_COUNT; i++)
		set_ip(&r->portmap[i].external, "100.64.0.7", 0);
	natprof_from_result(r, &p);
	assert_int_equal(p.portmap, COORD_PM_NONE);
	assert_false(nc_addr_is_set(&p.portmap_ep));
	/* Present but no address claimed: not advertised either. */
	memset(&r->portmap[NC_PM_UPNP].external, 0, sizeof(struct nc_addr));
	natprof_from_result(r, &p);
	assert_int_equal(p.portmap, COORD_PM_NONE);
	/* No observed address at all: nothing to check the claim against. */
	set_ip(&r->portmap[NC_PM_PCP].external, "2.1.1.1", 0);
	memset(&r->udp.public_ep, 0, sizeof(struct nc_addr));
	natprof_from_result(r, &p);
	assert_int_equal(p.portmap, COORD_PM_NONE);
	free(r);

	/* Sequential allocator with its step, and a measured lifetime. */
	r = base_result();
	r->udp.mapping = NC_BEH_APD;
	r->udp.alloc.pattern = NC_ALLOC_SEQUENTIAL;
	r->udp.alloc.delta = -2;
	r->udp.lifetime_s = 5;
	natprof_from_result(r, &p);
	assert_int_equal(p.allocation, NC_ALLOC_SEQUENTIAL);
	assert_int_equal(p.port_step, -2);
	assert_int_equal(p.lifetime_s, 5);
	natprof_describe(&p, s, sizeof(s));
	assert_string_equal(s, "APD mapping, APD filtering, sequential -2, 5 s");
	assert_int_equal(strategy_keepalive_ms(&p, NULL), 2000);
	/* A step no int16 holds is no pattern a window of guesses follows. */
	r->udp.alloc.delta = 70000;
	r->udp.lifetime_s = 100000;
	natprof_from_result(r, &p);
	assert_int_equal(p.allocation, NC_ALLOC_RANDOM);
	assert_int_equal(p.port_step, 0);
	assert_int_equal(p.lifetime_s, UINT16_MAX);
	free(r);

	/* UDP blocked: nothing of the NAT is known, and nothing is made up. */
	r = base_result();
	r->udp.reachable = NC_TRI_NO;
	natprof_from_result(r, &p);
	assert_true(p.measured);
	assert_int_equal(p.udp_blocked, NC_TRI_YES);
	assert_int_equal(p.mapping, NC_BEH_UNKNOWN);
	assert_int_equal(p.portmap, COORD_PM_NONE);
	natprof_describe(&p, s, sizeof(s));
	assert_string_equal(s, "UDP blocked, TCP punching unknown");
	/* No verdict at all (the run never got that far): not measured. */
	r->udp.reachable = NC_TRI_UNKNOWN;
	natprof_from_result(r, &p);
	assert_false(p.measured);
	natprof_describe(&p, s, sizeof(s));
	assert_string_equal(s, "not measured");
	natprof_from_result(NULL, &p);
	assert_false(p.measured);
	free(r);
}

static void prof_equal(const struct coord_profile *a, const struct coord_profile *b)
{
	assert_int_equal(a->measured, b->measured);
	assert_int_equal(a->mapping, b->mapping);
	assert_int_equal(a->filtering, b->filtering);
	assert_int_equal(a->allocation, b->allocation);
	assert_int_equal(a->port_step, b->port_step);
	assert_int_equal(a->lifetime_s, b->lifetime_s);
	assert_int_equal(a->udp_blocked, b->udp_blocked);
	assert_int_equal(a->tcp_punchable, b->tcp_punchable);
	assert_int_equal(a->hairpin, b->hairpin);
	assert_int_equal(a->portmap, b->portmap);
	assert_true(nc_addr_eq(&a->portmap_ep, &b->portmap_ep));
	assert_int_equal(a->portmap_ep.family, b->portmap_ep.family);
}

/* What natprof makes, punchvpnd's codec carries: a REGISTER with the profile of every saved
 * result seals and opens to the same profile (port mapping endpoint with port 0 included). */
static void test_profile_through_coord(void **state)
{
	static const char *const files[] = {
		NC_TEST_DATA "/result-rev1/open-internet.json",
		NC_TEST_DATA "/result-rev1/port-restricted-cone.json",
		NC_TEST_DATA "/result-rev1/symmetric.json",
		NC_TEST_DATA "/../../results/schema/examples/port-restricted-cone.json",
	};
	uint8_t priv[VPN_KEY_LEN], pub[VPN_KEY_LEN], spriv[VPN_KEY_LEN], spub[VPN_KEY_LEN];
	uint8_t ck[32], sk[32], buf[COORD_MAX_DATAGRAM];
	(void)state;

	vpn_key_generate(priv);
	vpn_key_generate(spriv);
	assert_int_equal(vpn_key_public(pub, priv), 0);
	assert_int_equal(vpn_key_public(spub, spriv), 0);
	assert_int_equal(coord_shared_key(ck, priv, spub), 0);
	assert_int_equal(coord_shared_key(sk, spriv, pub), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct nc_result *r = read_result(files[i]);
		struct coord_msg m = {.kind = COORD_REGISTER, .ts_ms = 1}, got;
		int n;

		natprof_from_result(r, &m.u.reg.prof);
		m.u.reg.n_local = natprof_local_addrs(NULL, 51900, m.u.reg.local, COORD_MAX_LOCAL);
		n = coord_seal(ck, pub, &m, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(coord_unseal(sk, buf, (size_t)n, &got), 0);
		prof_equal(&got.u.reg.prof, &m.u.reg.prof);
		free(r);
	}
}

static void test_describe_bounds(void **state)
{
	struct coord_profile p = {.measured = true, .udp_blocked = NC_TRI_NO, .mapping = NC_BEH_EI,
				  .filtering = NC_BEH_AD, .allocation = NC_ALLOC_RANDOM,
				  .lifetime_s = 30};
	char s[160], tiny[12];
	(void)state;

	natprof_describe(&p, s, sizeof(s));
	assert_string_equal(s, "EI mapping, AD filtering, random, 30 s");
	memset(tiny, 'x', sizeof(tiny));
	natprof_describe(&p, tiny, sizeof(tiny)); /* truncated, still terminated */
	assert_true(memchr(tiny, '\0', sizeof(tiny)) != NULL);
	natprof_describe(NULL, s, sizeof(s));
	assert_string_equal(s, "not measured");
	natprof_describe(&p, s, 0); /* writes nothing */
}

/* rtnetlink messages, built as the kernel lays them out. */
struct nlbuf {
	char b[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
	size_t len;
};

static void nl_addr_scoped(struct nlbuf *nb, uint16_t type, int ifindex, uint8_t scope)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(nb->b + nb->len);
	struct ifaddrmsg *ifa;

	memset(h, 0, NLMSG_SPACE(sizeof(*ifa)));
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
	h->nlmsg_type = type;
	ifa = NLMSG_DATA(h);
	ifa->ifa_family = AF_INET;
	ifa->ifa_index = (unsigned)ifindex;
	ifa->ifa_scope = scope;
	nb->len += NLMSG_ALIGN(h->nlmsg_len);
}

static void nl_addr(struct nlbuf *nb, uint16_t type, int ifindex)
{
	nl_addr_scoped(nb, type, ifindex, RT_SCOPE_UNIVERSE);
}

static void nl_rta(struct nlmsghdr *h, uint16_t type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* A route message: family, type, flags, and RTA_DST (dst != NULL) and RTA_OIF (oif != 0). */
static void nl_route6(struct nlbuf *nb, uint16_t type, int family, uint8_t rtype, int oif,
		      unsigned flags, const char *dst)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(nb->b + nb->len);
	struct rtmsg *rtm;
	uint8_t a[16];

	memset(h, 0, NLMSG_SPACE(sizeof(*rtm) + 2 * RTA_SPACE(16)));
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*rtm));
	h->nlmsg_type = type;
	rtm = NLMSG_DATA(h);
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_type = rtype;
	rtm->rtm_flags = flags;
	if (dst) {
		assert_int_equal(inet_pton(family, dst, a), 1);
		nl_rta(h, RTA_DST, a, family == AF_INET ? 4 : 16);
	}
	if (oif)
		nl_rta(h, RTA_OIF, &oif, sizeof(oif));
	nb->len += NLMSG_ALIGN(h->nlmsg_len);
}

static void nl_route(struct nlbuf *nb, uint16_t type, int oif, unsigned flags)
{
	nl_route6(nb, type, AF_INET, RTN_UNICAST, oif, flags, "10.200.0.0");
}

static void test_netlink_filter(void **state)
{
	struct nlbuf nb = {.len = 0};
	(void)state;

	nl_addr(&nb, RTM_NEWADDR, 7);
	assert_true(natprof_nl_changed(nb.b, nb.len, 0));
	assert_true(natprof_nl_changed(nb.b, nb.len, 3));
	assert_false(natprof_nl_changed(nb.b, nb.len, 7)); /* the tunnel's own address */
	nl_route(&nb, RTM_NEWROUTE, 7, 0);
	assert_false(natprof_nl_changed(nb.b, nb.len, 7)); /* and its route */
	nl_route(&nb, RTM_DELROUTE, 2, RTM_F_CLONED);
	assert_false(natprof_nl_changed(nb.b, nb.len, 7)); /* a cache entry, not a change */
	nl_route(&nb, RTM_DELROUTE, 2, 0);
	assert_true(natprof_nl_changed(nb.b, nb.len, 7)); /* the uplink's route went away */

	nb.len = 0;
	nl_route(&nb, RTM_NEWROUTE, 0, 0); /* no RTA_OIF (a blackhole, a multipath route) */
	assert_true(natprof_nl_changed(nb.b, nb.len, 7));

	/* What the kernel derives by itself: a link-local address appearing after a link came
	 * up, its fe80::/64 and ff00::/8 routes, and the local and broadcast routes of an
	 * address. None of them is a change on its own. */
	nb.len = 0;
	nl_addr_scoped(&nb, RTM_NEWADDR, 2, RT_SCOPE_LINK);
	nl_route6(&nb, RTM_NEWROUTE, AF_INET6, RTN_UNICAST, 2, 0, "fe80::");
	nl_route6(&nb, RTM_NEWROUTE, AF_INET6, RTN_MULTICAST, 2, 0, "ff00::");
	nl_route6(&nb, RTM_NEWROUTE, AF_INET6, RTN_LOCAL, 2, 0, "fe80::1");
	nl_route6(&nb, RTM_NEWROUTE, AF_INET, RTN_BROADCAST, 2, 0, "10.1.0.255");
	nl_route6(&nb, RTM_NEWROUTE, AF_INET, RTN_LOCAL, 2, 0, "10.1.0.2");
	assert_false(natprof_nl_changed(nb.b, nb.len, 0));
	/* A global IPv6 prefix route is one. */
	nl_route6(&nb, RTM_NEWROUTE, AF_INET6, RTN_UNICAST, 2, 0, "2001:db8:1::");
	assert_true(natprof_nl_changed(nb.b, nb.len, 0));
	/* So is a default route with no destination attribute at all. */
	nb.len = 0;
	nl_route6(&nb, RTM_DELROUTE, AF_INET6, RTN_UNICAST, 2, 0, NULL);
	assert_true(natprof_nl_changed(nb.b, nb.len, 0));

	nb.len = 0;
	nl_addr(&nb, RTM_NEWLINK, 2); /* not subscribed to, not ours */
	assert_false(natprof_nl_changed(nb.b, nb.len, 0));

	/* A message whose body is shorter than its header counts as a change. */
	nb.len = 0;
	nl_addr(&nb, RTM_DELADDR, 2);
	((struct nlmsghdr *)nb.b)->nlmsg_len = NLMSG_LENGTH(2);
	assert_true(natprof_nl_changed(nb.b, nb.len, 2));
	/* A length past the buffer: the walk stops, nothing read out of bounds. */
	((struct nlmsghdr *)nb.b)->nlmsg_len = 4000;
	assert_false(natprof_nl_changed(nb.b, nb.len, 2));
	assert_false(natprof_nl_changed(nb.b, 3, 2));
	assert_false(natprof_nl_changed(nb.b, 0, 2));
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

/* In a network namespace of its own: lo only gives nothing; then a LAN interface with IPv4,
 * global and link-local IPv6, a tunnel interface to skip and an interface that is down. */
static void test_local_addrs(void **state)
{
	struct nc_addr a[8];
	char buf[NC_ADDR_STRLEN];
	size_t n;
	bool v4 = false, v6 = false;
	(void)state;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		skip();
		return;
	}
	n = natprof_local_addrs(NULL, 51900, a, 8);
	assert_int_equal(n, 0);
	assert_int_equal(sh("ip link set lo up"), 0);
	assert_int_equal(natprof_local_addrs(NULL, 51900, a, 8), 0);
	/* veth pairs (this kernel may have no dummy driver); the peer ends stay down, and one
	 * of them carries an address that must not count. */
	if (sh("ip link add lan0 type veth peer name lan1 && ip link set lan0 up && "
	       "ip addr add 10.1.0.2/24 dev lan0 && ip addr add 2001:db8:1::2/64 dev lan0 nodad && "
	       "ip link add pv0 type veth peer name pv1 && ip link set pv0 up && "
	       "ip addr add 10.100.0.1/24 dev pv0 && ip addr add 10.7.0.1/24 dev lan1") != 0) {
		skip(); /* no veth in this kernel */
		return;
	}
	n = natprof_local_addrs("pv0", 51900, a, 8);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		nc_addr_str(&a[i], buf);
		assert_int_equal(a[i].port, 51900);
		v4 |= strcmp(buf, "10.1.0.2:51900") == 0;
		v6 |= strcmp(buf, "[2001:db8:1::2]:51900") == 0;
	}
	assert_true(v4 && v6);
	/* Without a skip name the tunnel's address counts; max is honoured. */
	assert_int_equal(natprof_local_addrs(NULL, 1, a, 8), 3);
	assert_int_equal(natprof_local_addrs(NULL, 1, a, 1), 1);
	assert_int_equal(natprof_local_addrs(NULL, 1, a, 0), 0);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The thread against a loopback port where nothing answers: one measurement within its
 * budget says UDP does not get through, the eventfd says so, and stop cancels a second one
 * at once. */
static void test_thread_no_server(void **state)
{
	struct natprof_cfg cfg = {.budget_ms = 600};
	struct natprof_state st;
	struct natprof *np;
	struct pollfd pfd;
	uint64_t t0;
	(void)state;

	assert_int_equal(natprof_start(&np, &cfg), -NC_E_INVALID); /* no server */
	assert_null(np);
	set_ip(&cfg.stun, "127.0.0.1", 9); /* discard: nothing listens on UDP 9 here */
	t0 = ms_now();
	assert_int_equal(natprof_start(&np, &cfg), 0);
	pfd.fd = natprof_fd(np);
	pfd.events = POLLIN;
	for (;;) {
		assert_true(poll(&pfd, 1, 3000) == 1);
		natprof_state(np, &st);
		if (st.generation > 0)
			break;
	}
	assert_int_equal(st.generation, 1);
	assert_false(st.measuring);
	assert_true(st.prof.measured);
	assert_int_equal(st.prof.udp_blocked, NC_TRI_YES);
	assert_string_equal(st.summary, "UDP blocked, TCP punching unknown");
	assert_true(st.took_ms <= 600 + 300);
	assert_true(st.measured_at_ms >= t0);
	/* Drained: not readable again until something changes. */
	assert_int_equal(poll(&pfd, 1, 0), 0);
	t0 = ms_now();
	natprof_stop(np);
	assert_true(ms_now() - t0 < 1500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_saved_results),
		cmocka_unit_test(test_from_example_with_tcp),
		cmocka_unit_test(test_from_built_results),
		cmocka_unit_test(test_profile_through_coord),
		cmocka_unit_test(test_describe_bounds),
		cmocka_unit_test(test_netlink_filter),
		cmocka_unit_test(test_thread_no_server),
		/* last: it moves the process into a namespace of its own */
		cmocka_unit_test(test_local_addrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
