/* punchvpn's port mapping (vpn/lib/vpnmap.[ch], vpnmap_sm.c): the refresh and retry schedule
 * over a fake clock (half-lifetime refresh, backoff that never jumps over the expiry, a lapsed
 * mapping asked for anew, network changes, the retry cap), the judgement of a claimed external
 * address against the observed one, the profile fields, and the thread on loopback: a gateway
 * that refuses, one that never answers (stop stays within its bound), bad arguments. The real
 * gateway is tests/integration/test_vpn_portmap.sh (miniupnpd). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <natcheck/portmap.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../vpn/lib/vpnmap.h"
#include "testsock.h"

static struct nc_addr ip(const char *s)
{
	struct nc_addr a;

	assert_int_equal(nc_addr_parse(s, 0, &a), 0);
	return a;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- the schedule ---------------------------------------------------------------------- */

static void test_first_attempt_at_once(void **state)
{
	struct vpnmap_sm sm;

	(void)state;
	vpnmap_sm_init(&sm, 0, 0, 1000);
	assert_int_equal(sm.status, VPNMAP_SEARCHING);
	assert_int_equal(sm.ask_s, VPNMAP_LIFETIME_S);
	assert_int_equal(vpnmap_sm_next(&sm, 1000), VPNMAP_ACT_ACQUIRE);
}

static void test_refresh_at_half_lifetime(void **state)
{
	struct vpnmap_sm sm;

	(void)state;
	vpnmap_sm_init(&sm, 3600, 0, 0);
	vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_OK, 10, 100);
	assert_true(sm.mapped);
	assert_int_equal(sm.status, VPNMAP_MAPPED);
	assert_int_equal(sm.expires_ms, 10100);
	assert_int_equal(vpnmap_sm_next(&sm, 5099), VPNMAP_ACT_NONE);
	assert_int_equal(vpnmap_sm_next(&sm, 5100), VPNMAP_ACT_REFRESH);
	vpnmap_sm_done(&sm, VPNMAP_ACT_REFRESH, VPNMAP_OK, 10, 5100);
	assert_int_equal(sm.refreshes, 1);
	assert_int_equal(sm.expires_ms, 15100);
	assert_int_equal(sm.due_ms, 10100);
	/* The gateway may grant less than asked: the schedule follows what it granted. */
	vpnmap_sm_done(&sm, VPNMAP_ACT_REFRESH, VPNMAP_OK, 4, 10100);
	assert_int_equal(sm.due_ms, 12100);
	assert_int_equal(sm.refreshes, 2);
}

static void test_short_and_permanent_lifetimes(void **state)
{
	struct vpnmap_sm sm;

	(void)state;
	/* 1 s: never sooner than VPNMAP_REFRESH_MIN_MS */
	vpnmap_sm_init(&sm, 1, 0, 0);
	vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_OK, 1, 0);
	assert_int_equal(sm.due_ms, VPNMAP_REFRESH_MIN_MS);
	/* UPnP lease 0 (permanent): never lapses, re-asserted at half the lifetime asked */
	vpnmap_sm_init(&sm, 600, 0, 0);
	vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_OK, 0, 0);
	assert_int_equal(sm.expires_ms, UINT64_MAX);
	assert_int_equal(sm.due_ms, 300000);
	vpnmap_sm_done(&sm, VPNMAP_ACT_REFRESH, VPNMAP_FAILED, 0, 300000);
	assert_true(sm.mapped);
	assert_int_equal(sm.due_ms, 301000);
}

/* A 10 s mapping whose refreshes all fail: 1 s, then 2 s, then the waits shrink to half of
 * what is left (never under 0.5 s), the last try at the expiry; after it the mapping is lost
 * and a new attempt is due at once. */
static void test_refresh_backoff_stays_before_expiry(void **state)
{
	static const uint64_t want[] = {6000, 8000, 9000, 9500, 10000};
	struct vpnmap_sm sm;
	uint64_t t = 5000;

	(void)state;
	vpnmap_sm_init(&sm, 10, 0, 0);
	vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_OK, 10, 0);
	assert_int_equal(sm.due_ms, t);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(vpnmap_sm_next(&sm, t), VPNMAP_ACT_REFRESH);
		vpnmap_sm_done(&sm, VPNMAP_ACT_REFRESH, VPNMAP_FAILED, 0, t);
		assert_true(sm.mapped);
		assert_int_equal(sm.status, VPNMAP_MAPPED);
		assert_int_equal(sm.failures, i + 1);
		assert_int_equal(sm.due_ms, want[i]);
		t = sm.due_ms;
	}
	vpnmap_sm_done(&sm, VPNMAP_ACT_REFRESH, VPNMAP_FAILED, 0, t);
	assert_false(sm.mapped);
	assert_int_equal(sm.status, VPNMAP_SEARCHING);
	assert_int_equal(vpnmap_sm_next(&sm, t), VPNMAP_ACT_ACQUIRE);
	/* One refresh that works in between resets the failures. */
	vpnmap_sm_init(&sm, 10, 0, 0);
	vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_OK, 10, 0);
	vpnmap_sm_done(&sm, VPNMAP_ACT_REFRESH, VPNMAP_FAILED, 0, 5000);
	vpnmap_sm_done(&sm, VPNMAP_ACT_REFRESH, VPNMAP_OK, 10, 6000);
	assert_int_equal(sm.failures, 0);
	assert_int_equal(sm.due_ms, 11000);
}

static void test_attempt_backoff_and_cap(void **state)
{
	static const uint64_t waits[] = {1000, 2000, 4000, 8000, 10000, 10000};
	struct vpnmap_sm sm;
	uint64_t t = 0;

	(void)state;
	vpnmap_sm_init(&sm, 0, 10, 0);
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		assert_int_equal(vpnmap_sm_next(&sm, t), VPNMAP_ACT_ACQUIRE);
		vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, i < 3 ? VPNMAP_NO_GW : VPNMAP_FAILED, 0, t);
		assert_int_equal(sm.status, i < 3 ? VPNMAP_NO_GATEWAY : VPNMAP_UNAVAILABLE);
		assert_int_equal(sm.due_ms - t, waits[i]);
		assert_int_equal(vpnmap_sm_next(&sm, sm.due_ms - 1), VPNMAP_ACT_NONE);
		t = sm.due_ms;
	}
	/* Many more failures: still the cap, no overflow of the doubling. */
	for (int i = 0; i < 100; i++)
		vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_FAILED, 0, t);
	assert_int_equal(sm.due_ms - t, 10000);
	/* The default cap */
	vpnmap_sm_init(&sm, 0, 0, 0);
	for (int i = 0; i < 40; i++)
		vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_FAILED, 0, 0);
	assert_int_equal(sm.due_ms, VPNMAP_RETRY_MAX_S * 1000u);
}

static void test_network_change(void **state)
{
	struct vpnmap_sm sm;

	(void)state;
	/* Holding a mapping: released at once (not when the refresh is due), then asked anew. */
	vpnmap_sm_init(&sm, 0, 0, 0);
	vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_OK, 7200, 0);
	vpnmap_sm_net_changed(&sm, 1000);
	assert_int_equal(sm.status, VPNMAP_SEARCHING);
	assert_int_equal(vpnmap_sm_next(&sm, 1000), VPNMAP_ACT_RELEASE);
	vpnmap_sm_done(&sm, VPNMAP_ACT_RELEASE, VPNMAP_FAILED, 0, 1200);
	assert_false(sm.mapped);
	assert_int_equal(vpnmap_sm_next(&sm, 1200), VPNMAP_ACT_ACQUIRE);
	vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_OK, 7200, 1300);
	assert_int_equal(sm.status, VPNMAP_MAPPED);
	assert_int_equal(sm.refreshes, 0);
	/* Waiting out a long backoff: the change cuts it short and starts the backoff afresh. */
	vpnmap_sm_init(&sm, 0, 0, 0);
	for (int i = 0; i < 8; i++)
		vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_NO_GW, 0, 0);
	assert_int_equal(vpnmap_sm_next(&sm, 5000), VPNMAP_ACT_NONE);
	vpnmap_sm_net_changed(&sm, 5000);
	assert_int_equal(vpnmap_sm_next(&sm, 5000), VPNMAP_ACT_ACQUIRE);
	vpnmap_sm_done(&sm, VPNMAP_ACT_ACQUIRE, VPNMAP_NO_GW, 0, 5000);
	assert_int_equal(sm.failures, 1);
	assert_int_equal(sm.due_ms, 6000);
	assert_false(sm.net_changed);
}

/* --- the advertisement ------------------------------------------------------------------ */

static void test_judge(void **state)
{
	struct nc_addr ext = ip("2.1.1.1:40000"), same = ip("2.1.1.1:53211");
	struct nc_addr other = ip("198.18.30.1:1024"), v6 = ip("[2001:db8::1]:5");
	struct nc_addr unset = {0};
	char why[VPNMAP_WHY_LEN];

	(void)state;
	assert_true(vpnmap_judge(&ext, &same, why, sizeof(why)));
	assert_non_null(strstr(why, "2.1.1.1 is the one punchvpnd observes"));
	assert_false(vpnmap_judge(&ext, &other, why, sizeof(why)));
	assert_string_equal(why, "the gateway claims 2.1.1.1 but punchvpnd observes 198.18.30.1: "
				 "another NAT sits upstream (CGNAT or a second router), so the "
				 "mapping is not reachable from outside");
	assert_false(vpnmap_judge(&ext, &v6, why, sizeof(why)));
	assert_non_null(strstr(why, "of the other family"));
	assert_false(vpnmap_judge(&ext, &unset, why, sizeof(why)));
	assert_non_null(strstr(why, "not advertised until punchvpnd says"));
	assert_false(vpnmap_judge(&ext, NULL, why, sizeof(why)));
	assert_false(vpnmap_judge(&unset, &same, why, sizeof(why)));
	assert_string_equal(why, "the gateway did not say its external address");
	/* A short buffer is cut, never overrun. */
	char tiny[8];
	assert_false(vpnmap_judge(&ext, &other, tiny, sizeof(tiny)));
	assert_int_equal(strlen(tiny), 7);
}

static void test_fill_profile(void **state)
{
	struct vpnmap_state st = {
	    .status = VPNMAP_MAPPED, .proto = COORD_PM_PCP, .advertise = true};
	struct coord_profile p;

	(void)state;
	st.external = ip("2.1.1.1:40000");
	memset(&p, 0xaa, sizeof(p));
	vpnmap_fill_profile(&st, &p);
	assert_int_equal(p.portmap, COORD_PM_PCP);
	assert_true(nc_addr_eq(&p.portmap_ep, &st.external));
	/* Not advertised (behind a second NAT): nothing, and an address natprof put there goes. */
	st.advertise = false;
	vpnmap_fill_profile(&st, &p);
	assert_int_equal(p.portmap, COORD_PM_NONE);
	assert_false(nc_addr_is_set(&p.portmap_ep));
	/* Not mapped, or mapped without a port: nothing either. */
	st.advertise = true;
	st.status = VPNMAP_SEARCHING;
	vpnmap_fill_profile(&st, &p);
	assert_int_equal(p.portmap, COORD_PM_NONE);
	st.status = VPNMAP_MAPPED;
	st.external.port = 0;
	vpnmap_fill_profile(&st, &p);
	assert_int_equal(p.portmap, COORD_PM_NONE);
	vpnmap_fill_profile(NULL, &p);
	assert_int_equal(p.portmap, COORD_PM_NONE);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(vpnmap_status_name(VPNMAP_NO_GATEWAY), "no-gateway");
	assert_string_equal(vpnmap_status_name(VPNMAP_MAPPED), "mapped");
	assert_string_equal(vpnmap_status_name((enum vpnmap_status)99), "unknown");
	assert_string_equal(vpnmap_pm_name(COORD_PM_NATPMP), "nat-pmp");
	assert_string_equal(vpnmap_pm_name(COORD_PM_UPNP), "upnp-igd");
	/* The names pvmap prints are libnatcheck's, so --protos takes what the state shows. */
	assert_string_equal(vpnmap_pm_name(COORD_PM_PCP), nc_pm_proto_name(NC_PM_PCP));
}

/* --- the thread, on loopback ------------------------------------------------------------ */

static void test_start_refuses_bad_config(void **state)
{
	struct vpnmap_cfg cfg = {0};
	struct vpnmap *vm = (struct vpnmap *)1;

	(void)state;
	assert_int_equal(vpnmap_start(&vm, &cfg), -NC_E_INVALID);
	assert_null(vm);
	cfg.port = 40000;
	cfg.gateway = ip("::1");
	assert_int_equal(vpnmap_start(&vm, &cfg), -NC_E_INVALID);
	assert_int_equal(vpnmap_start(&vm, NULL), -NC_E_INVALID);
	assert_int_equal(vpnmap_stop(NULL, 0), 0);
}

/* Waits (bounded) until the state is st; returns it in out. */
static bool wait_state(struct vpnmap *vm, enum vpnmap_status want, struct vpnmap_state *out, int ms)
{
	uint64_t until = ms_now() + (uint64_t)ms;

	for (;;) {
		struct pollfd p = {.fd = vpnmap_fd(vm), .events = POLLIN};

		vpnmap_state(vm, out);
		if (out->status == want)
			return true;
		if (ms_now() >= until)
			return false;
		(void)poll(&p, 1, 100);
	}
}

/* A gateway that refuses (ICMP port unreachable on loopback): unavailable with the reason, the
 * observed address shown and the fd readable on each change, a quick stop. */
static void test_refusing_gateway(void **state)
{
	struct vpnmap_cfg cfg = {.port = 40000, .protos = 1u << NC_PM_NATPMP | 1u << NC_PM_PCP};
	struct nc_addr obs = ip("2.1.1.1");
	struct vpnmap_state st;
	struct vpnmap *vm;
	uint64_t gen, t;
	int fd = silent_udp(&cfg.gateway);

	(void)state;
	cfg.pmp_port = cfg.gateway.port;
	close(fd); /* nobody there now: the kernel answers with port unreachable */
	cfg.gateway.port = 0;
	assert_int_equal(vpnmap_start(&vm, &cfg), 0);
	assert_true(wait_state(vm, VPNMAP_UNAVAILABLE, &st, 5000));
	assert_int_equal(st.proto, COORD_PM_NONE);
	assert_false(st.advertise);
	assert_non_null(strstr(st.why, "granted no mapping: NAT-PMP"));
	assert_non_null(strstr(st.why, "; PCP"));
	assert_string_equal(nc_addr_ip_str(&st.gateway, (char[NC_ADDR_STRLEN]){0}), "127.0.0.1");
	gen = st.generation;
	vpnmap_set_observed(vm, &obs);
	struct pollfd p = {.fd = vpnmap_fd(vm), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 1000), 1);
	vpnmap_state(vm, &st);
	assert_true(st.generation > gen);
	assert_true(nc_addr_ip_eq(&st.observed, &obs));
	assert_false(st.advertise);
	/* A network change forgets the observed address: the next REGISTERED brings it again. */
	vpnmap_network_changed(vm);
	vpnmap_state(vm, &st);
	assert_false(nc_addr_is_set(&st.observed));
	t = ms_now();
	assert_int_equal(vpnmap_stop(vm, 0), 0);
	assert_true(ms_now() - t < 1000);
}

/* A gateway that drops everything: NAT-PMP's timeout does not stop PCP from being tried, and
 * since nothing was cut short by a stop, the stop has nothing to clean up and is quick. */
static void test_silent_gateway_tries_each(void **state)
{
	struct vpnmap_cfg cfg = {
	    .port = 40002, .protos = 1u << NC_PM_NATPMP | 1u << NC_PM_PCP, .map_timeout_ms = 300};
	struct vpnmap_state st;
	struct vpnmap *vm;
	uint64_t t;
	int fd = silent_udp(&cfg.gateway);

	(void)state;
	cfg.pmp_port = cfg.gateway.port;
	cfg.gateway.port = 0;
	assert_int_equal(vpnmap_start(&vm, &cfg), 0);
	assert_true(wait_state(vm, VPNMAP_UNAVAILABLE, &st, 5000));
	assert_non_null(strstr(st.why, "NAT-PMP: no answer"));
	assert_non_null(strstr(st.why, "; PCP"));
	assert_int_equal(st.failures, 1);
	t = ms_now();
	assert_int_equal(vpnmap_stop(vm, 0), 0);
	assert_true(ms_now() - t < 500);
	close(fd);
}

/* A gateway that never answers, with a 10 s exchange timeout: stop cancels the exchange and
 * returns within its bound anyway. */
static void test_stop_bounded_while_asking(void **state)
{
	struct vpnmap_cfg cfg = {
	    .port = 40001, .protos = 1u << NC_PM_NATPMP, .map_timeout_ms = 10000};
	struct vpnmap_state st;
	struct vpnmap *vm;
	uint64_t t;
	int fd = silent_udp(&cfg.gateway);

	(void)state;
	cfg.pmp_port = cfg.gateway.port;
	cfg.gateway.port = 0;
	assert_int_equal(vpnmap_start(&vm, &cfg), 0);
	vpnmap_state(vm, &st);
	assert_int_equal(st.status, VPNMAP_SEARCHING);
	(void)poll(NULL, 0, 300); /* let the request go out: the stop must cut an exchange short */
	t = ms_now();
	(void)vpnmap_stop(vm, 1500);
	t = ms_now() - t;
	print_message("stop while asking took %llu ms (bound 1500)\n", (unsigned long long)t);
	assert_true(t < 1500 + 300);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_attempt_at_once),
	    cmocka_unit_test(test_refresh_at_half_lifetime),
	    cmocka_unit_test(test_short_and_permanent_lifetimes),
	    cmocka_unit_test(test_refresh_backoff_stays_before_expiry),
	    cmocka_unit_test(test_attempt_backoff_and_cap),
	    cmocka_unit_test(test_network_change),
	    cmocka_unit_test(test_judge),
	    cmocka_unit_test(test_fill_profile),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_start_refuses_bad_config),
	    cmocka_unit_test(test_refusing_gateway),
	    cmocka_unit_test(test_silent_gateway_tries_each),
	    cmocka_unit_test(test_stop_bounded_while_asking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
