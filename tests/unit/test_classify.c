/* The classifier from recorded observations: one fixture per NAT behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "classify.h"
#include "stun.h"
#include "testaddr.h"

#include <stdio.h>
#include <string.h>

#define A1P1 "198.18.1.1:3478"
#define A1P2 "198.18.1.1:3479"
#define A2P1 "198.18.1.2:3478"
#define A2P2 "198.18.1.2:3479"

static struct nc_obs *add(struct nc_result *r, enum nc_role role, int sock, const char *local,
			  const char *dest, enum nc_outcome out, const char *from,
			  const char *mapped, uint32_t change)
{
	struct nc_obs *o = &r->obs[r->n_obs++];

	memset(o, 0, sizeof(*o));
	o->role = (uint8_t)role;
	o->socket = (uint8_t)sock;
	o->local = ep(local);
	o->dest = ep(dest);
	o->expect = o->dest;
	o->outcome = (uint8_t)out;
	o->attempts = 1;
	o->change_flags = change;
	if (from)
		o->from = ep(from);
	if (mapped)
		o->xor_mapped = o->mapped = ep(mapped);
	return o;
}

static void server(struct nc_result *r, bool alternate)
{
	nc_result_init(r);
	r->server.primary = ep(A1P1);
	if (alternate)
		r->server.other = ep(A2P2);
}

/* Mapping tests from S_map (socket 0): public endpoints for test I, II, III and port-only. */
static void mapping(struct nc_result *r, const char *local, const char *m1, const char *m2,
		    const char *m3, const char *m4)
{
	add(r, NC_ROLE_MAP_PRIMARY, 0, local, A1P1, NC_OUT_ANSWERED, A1P1, m1, 0);
	add(r, NC_ROLE_MAP_ALT_IP, 0, local, A2P1, NC_OUT_ANSWERED, A2P1, m2, 0);
	add(r, NC_ROLE_MAP_ALT_BOTH, 0, local, A2P2, NC_OUT_ANSWERED, A2P2, m3, 0);
	add(r, NC_ROLE_MAP_ALT_PORT, 0, local, A1P2, NC_OUT_ANSWERED, A1P2, m4, 0);
}

/* Filtering tests on sockets 1 and 2: did the change-ip+port / change-port answers arrive? */
static void filtering(struct nc_result *r, bool both, bool port)
{
	add(r, NC_ROLE_FILTER_CONTROL, 1, "10.1.0.2:50001", A1P1, NC_OUT_ANSWERED, A1P1,
	    "198.18.10.1:50001", 0);
	add(r, NC_ROLE_FILTER_IP_PORT, 1, "10.1.0.2:50001", A1P1,
	    both ? NC_OUT_ANSWERED : NC_OUT_TIMEOUT, both ? A2P2 : NULL,
	    both ? "198.18.10.1:50001" : NULL, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	add(r, NC_ROLE_FILTER_CONTROL, 2, "10.1.0.2:50002", A1P1, NC_OUT_ANSWERED, A1P1,
	    "198.18.10.1:50002", 0);
	add(r, NC_ROLE_FILTER_PORT, 2, "10.1.0.2:50002", A1P1, port ? NC_OUT_ANSWERED : NC_OUT_TIMEOUT,
	    port ? A1P2 : NULL, port ? "198.18.10.1:50002" : NULL, STUN_CHANGE_PORT);
}

static bool has_note(const struct nc_result *r, const char *needle)
{
	for (unsigned i = 0; i < r->n_notes; i++)
		if (strstr(r->notes[i], needle))
			return true;
	return false;
}

static struct nc_result R;

static void test_port_restricted_cone(void **state)
{
	(void)state;
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	filtering(&R, false, false);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.reachable, NC_TRI_YES);
	assert_int_equal(R.udp.nat, NC_TRI_YES);
	assert_int_equal(R.udp.mapping, NC_BEH_EI);
	assert_int_equal(R.udp.filtering, NC_BEH_APD);
	assert_int_equal(R.udp.port_preserved, NC_TRI_YES);
	assert_int_equal(R.udp.pooling, NC_POOL_SINGLE);
}

static void test_full_and_restricted_cone(void **state)
{
	(void)state;
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	filtering(&R, true, true);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_EI);

	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	filtering(&R, false, true);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_AD);
}

static void test_symmetric_and_adm(void **state)
{
	(void)state;
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:5000", "198.18.10.1:6001",
		"198.18.10.1:7002", "198.18.10.1:8003");
	filtering(&R, false, false);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.mapping, NC_BEH_APD);
	assert_int_equal(R.udp.port_preserved, NC_TRI_NO);

	/* ADM: one port per destination address, the same for both ports of an address. */
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:20116", "198.18.10.1:20049",
		"198.18.10.1:20049", "198.18.10.1:20116");
	filtering(&R, false, false);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.mapping, NC_BEH_AD);
	assert_false(R.udp.mapping_port_only);

	/* Port-only dependence is APD with the flag set. */
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:41000");
	nc_classify_udp(&R);
	assert_int_equal(R.udp.mapping, NC_BEH_APD);
	assert_true(R.udp.mapping_port_only);
}

static void test_open_internet_and_firewall(void **state)
{
	(void)state;
	server(&R, true);
	mapping(&R, "198.18.5.2:40000", "198.18.5.2:40000", "198.18.5.2:40000",
		"198.18.5.2:40000", "198.18.5.2:40000");
	add(&R, NC_ROLE_FILTER_CONTROL, 1, "198.18.5.2:50001", A1P1, NC_OUT_ANSWERED, A1P1,
	    "198.18.5.2:50001", 0);
	add(&R, NC_ROLE_FILTER_IP_PORT, 1, "198.18.5.2:50001", A1P1, NC_OUT_ANSWERED, A2P2,
	    "198.18.5.2:50001", STUN_CHANGE_IP | STUN_CHANGE_PORT);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.nat, NC_TRI_NO);
	assert_int_equal(R.udp.mapping, NC_BEH_NONE);
	/* Nothing filters: "none", never EIF for an un-NATed host (stuntman #61). */
	assert_int_equal(R.udp.filtering, NC_BEH_NONE);

	server(&R, true);
	mapping(&R, "198.18.5.2:40000", "198.18.5.2:40000", "198.18.5.2:40000",
		"198.18.5.2:40000", "198.18.5.2:40000");
	filtering(&R, false, false);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.nat, NC_TRI_NO);
	assert_int_equal(R.udp.filtering, NC_BEH_APD); /* a firewall filters */
}

static void test_udp_blocked(void **state)
{
	(void)state;
	server(&R, true);
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_TIMEOUT, NULL, NULL, 0);
	add(&R, NC_ROLE_FILTER_CONTROL, 1, "10.1.0.2:50001", A1P1, NC_OUT_TIMEOUT, NULL, NULL, 0);
	add(&R, NC_ROLE_FILTER_IP_PORT, 1, "10.1.0.2:50001", A1P1, NC_OUT_TIMEOUT, NULL, NULL,
	    STUN_CHANGE_IP | STUN_CHANGE_PORT);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.reachable, NC_TRI_NO);
	assert_int_equal(R.udp.mapping, NC_BEH_UNKNOWN);
	assert_int_equal(R.udp.filtering, NC_BEH_UNKNOWN);
	assert_true(has_note(&R, "UDP is blocked"));
}

static void test_wrong_source_is_not_trusted(void **state)
{
	(void)state;
	/* A server that ignores CHANGE-REQUEST answers from A1:P1: no filtering verdict. */
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	add(&R, NC_ROLE_FILTER_CONTROL, 1, "10.1.0.2:50001", A1P1, NC_OUT_ANSWERED, A1P1,
	    "198.18.10.1:50001", 0);
	add(&R, NC_ROLE_FILTER_IP_PORT, 1, "10.1.0.2:50001", A1P1, NC_OUT_ANSWERED, A1P1,
	    "198.18.10.1:50001", STUN_CHANGE_IP | STUN_CHANGE_PORT);
	nc_classify_udp(&R);
	assert_int_equal(R.obs[5].outcome, NC_OUT_WRONG_SOURCE);
	assert_int_equal(R.udp.filtering, NC_BEH_UNKNOWN);
	assert_true(has_note(&R, "does not honour CHANGE-REQUEST"));
}

static void test_lost_control_is_inconclusive(void **state)
{
	(void)state;
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	filtering(&R, false, false);
	R.obs[4].outcome = NC_OUT_TIMEOUT; /* control of the change-ip+port socket */
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_UNKNOWN);
}

static void test_single_address_server(void **state)
{
	(void)state;
	server(&R, false);
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_ANSWERED, A1P1,
	    "198.18.10.1:40000", 0);
	add(&R, NC_ROLE_FILTER_IP_PORT, 1, "10.1.0.2:50001", A1P1, NC_OUT_ERROR, A1P1, NULL,
	    STUN_CHANGE_IP | STUN_CHANGE_PORT)->error_code = 420;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.mapping, NC_BEH_UNKNOWN);
	assert_int_equal(R.udp.filtering, NC_BEH_UNKNOWN);
	assert_true(has_note(&R, "no alternate address"));

	/* With a second server, mapping across servers still gives an answer. */
	server(&R, false);
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_ANSWERED, A1P1,
	    "198.18.10.1:40000", 0);
	add(&R, NC_ROLE_MAP_SERVER2, 0, "10.1.0.2:40000", "198.18.3.1:3478", NC_OUT_ANSWERED,
	    "198.18.3.1:3478", "198.18.10.1:40000", 0);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.mapping, NC_BEH_EI);
}

static void alloc_fixture(const uint16_t *local, const uint16_t *pub, unsigned n)
{
	char l[32], p[32];

	server(&R, true);
	for (unsigned i = 0; i < n; i++) {
		snprintf(l, sizeof(l), "10.1.0.2:%u", local[i]);
		snprintf(p, sizeof(p), "198.18.10.1:%u", pub[i]);
		add(&R, NC_ROLE_ALLOC, (int)i + 3, l, A1P1, NC_OUT_ANSWERED, A1P1, p, 0);
	}
	nc_classify_udp(&R);
}

static void test_allocation_patterns(void **state)
{
	static const uint16_t local[6] = {51234, 60001, 49500, 55555, 62002, 50017};
	static const uint16_t seq[6] = {30000, 30001, 30002, 30003, 30004, 30005};
	static const uint16_t seq_noisy[6] = {30000, 30001, 30003, 30004, 30005, 30006};
	static const uint16_t rnd[6] = {5247, 53246, 22953, 1033, 40001, 17000};
	static const uint16_t par[6] = {20178, 20067, 20404, 20305, 20002, 20111};
	(void)state;

	alloc_fixture(local, local, 6);
	assert_int_equal(R.udp.alloc.pattern, NC_ALLOC_PRESERVING);
	assert_int_equal(R.udp.alloc.parity, NC_TRI_YES);

	alloc_fixture(local, seq, 6);
	assert_int_equal(R.udp.alloc.pattern, NC_ALLOC_SEQUENTIAL);
	assert_int_equal(R.udp.alloc.delta, 1);

	/* Another host took one port in between: still sequential, delta 1. */
	alloc_fixture(local, seq_noisy, 6);
	assert_int_equal(R.udp.alloc.pattern, NC_ALLOC_SEQUENTIAL);
	assert_int_equal(R.udp.alloc.delta, 1);

	alloc_fixture(local, rnd, 6);
	assert_int_equal(R.udp.alloc.pattern, NC_ALLOC_RANDOM);
	assert_int_equal(R.udp.alloc.parity, NC_TRI_NO);

	alloc_fixture(local, par, 6);
	assert_int_equal(R.udp.alloc.pattern, NC_ALLOC_RANDOM);
	assert_int_equal(R.udp.alloc.parity, NC_TRI_YES);
}

static void test_hairpin(void **state)
{
	struct nc_obs *h;
	(void)state;

	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	h = add(&R, NC_ROLE_HAIRPIN, 3, "10.1.0.2:51234", "198.18.10.1:40000", NC_OUT_ANSWERED,
		"198.18.10.1:51234", "198.18.10.1:51234", 0);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.hairpin, NC_TRI_YES);
	assert_int_equal(R.udp.hairpin_src, NC_HP_EXTERNAL);

	h->from = ep("10.1.0.2:51234");
	nc_classify_udp(&R);
	assert_int_equal(R.udp.hairpin_src, NC_HP_INTERNAL);

	h->outcome = NC_OUT_TIMEOUT;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.hairpin, NC_TRI_NO);
}

static void test_pooling_and_alg(void **state)
{
	(void)state;
	/* One internal endpoint seen at two external addresses: arbitrary pooling. */
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.2:40000",
		"198.18.10.2:40000", "198.18.10.1:40000");
	nc_classify_udp(&R);
	assert_int_equal(R.udp.pooling, NC_POOL_ARBITRARY);
	assert_int_equal(R.udp.n_public, 2);
	assert_int_equal(R.udp.alg, NC_TRI_NO);

	/* MAPPED-ADDRESS rewritten by an ALG while XOR-MAPPED-ADDRESS is intact. */
	R.obs[0].mapped = ep("10.1.0.2:40000");
	nc_classify_udp(&R);
	assert_int_equal(R.udp.alg, NC_TRI_YES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_restricted_cone),
		cmocka_unit_test(test_full_and_restricted_cone),
		cmocka_unit_test(test_symmetric_and_adm),
		cmocka_unit_test(test_open_internet_and_firewall),
		cmocka_unit_test(test_udp_blocked),
		cmocka_unit_test(test_wrong_source_is_not_trusted),
		cmocka_unit_test(test_lost_control_is_inconclusive),
		cmocka_unit_test(test_single_address_server),
		cmocka_unit_test(test_allocation_patterns),
		cmocka_unit_test(test_hairpin),
		cmocka_unit_test(test_pooling_and_alg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
