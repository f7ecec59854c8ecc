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

/* Issue 13 item 3: a silence counts only if the probe kept trying at least as long as its
 * control needed, and waited out a round trip after its last copy. */
static void test_negative_needs_evidence(void **state)
{
	(void)state;
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	filtering(&R, false, false);
	/* Start-up blackout: the controls were answered on their 6th try (at 500 ms, RTT
	 * 10 ms), after the probes had stopped at 400 ms. */
	for (unsigned i = 4; i < 8; i++) {
		R.obs[i].rtt_us = 10000;
		R.obs[i].last_sent_us = R.obs[i].role == NC_ROLE_FILTER_CONTROL ? 500000 : 400000;
		R.obs[i].given_up_us = R.obs[i].role == NC_ROLE_FILTER_CONTROL ? 0 : 600000;
	}
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_UNKNOWN);
	assert_true(has_note(&R, "stopped trying before its control request was answered"));

	/* The probes sent copies after the controls' answered tries, then waited 5 ms: less
	 * than the control's 10 ms round trip. */
	R.obs[5].last_sent_us = R.obs[7].last_sent_us = 510000;
	R.obs[5].given_up_us = R.obs[7].given_up_us = 515000;
	R.n_notes = 0;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_UNKNOWN);
	assert_true(has_note(&R, "less than one round trip"));

	/* And waited 30 ms: not enough either, as the controls were retransmitted: their
	 * answers may belong to their first tries (Karn), 510 ms before. */
	R.obs[5].given_up_us = R.obs[7].given_up_us = 540000;
	R.obs[4].attempts = R.obs[6].attempts = 6;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_UNKNOWN);
	/* Answered on their first try, 30 ms are three round trips: the silence is a verdict. */
	R.obs[4].attempts = R.obs[6].attempts = 1;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_APD);
	/* Retransmitted controls, and 520 ms of silence: a verdict too. */
	R.obs[4].attempts = R.obs[6].attempts = 6;
	R.obs[5].given_up_us = R.obs[7].given_up_us = 1030000;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_APD);

	/* A result written before the times were recorded is judged as before. */
	R.obs[5].given_up_us = R.obs[7].given_up_us = 0;
	R.obs[5].last_sent_us = R.obs[7].last_sent_us = 0;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_APD);
}

static void test_hairpin_negative_needs_evidence(void **state)
{
	struct nc_obs *h;
	(void)state;

	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	R.obs[0].rtt_us = 80000;
	R.obs[0].last_sent_us = 1000;
	h = add(&R, NC_ROLE_HAIRPIN, 3, "10.1.0.2:51234", "198.18.10.1:40000", NC_OUT_TIMEOUT,
		NULL, "198.18.10.1:51234", 0);
	h->last_sent_us = 90000;
	h->given_up_us = 120000; /* 30 ms of silence after an 80 ms control round trip */
	nc_classify_udp(&R);
	assert_int_equal(R.udp.hairpin, NC_TRI_UNKNOWN);
	assert_true(has_note(&R, "hairpin: no hairpinned packet arrived"));
	h->given_up_us = 260000;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.hairpin, NC_TRI_NO);
}

/* Issue 13 item 4: answers that are errors, from elsewhere, or malformed are not "UDP blocked". */
static void test_server_problems(void **state)
{
	(void)state;
	server(&R, true);
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_ERROR, A1P1, NULL, 0)
		->error_code = 500;
	add(&R, NC_ROLE_FILTER_CONTROL, 1, "10.1.0.2:50001", A1P1, NC_OUT_ERROR, A1P1, NULL, 0)
		->error_code = 400;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.reachable, NC_TRI_YES);
	assert_int_equal(R.udp.server_problem, NC_SRV_ERRORS);
	assert_int_equal(nc_result_exit_status(&R), NC_EXIT_SERVER);
	assert_string_equal(nc_server_problem_name(R.udp.server_problem), "error-responses");
	assert_true(has_note(&R, "500 Server Error"));
	assert_string_not_equal(nc_result_classic_label(&R), "UDP blocked");

	server(&R, true);
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_WRONG_SOURCE, A1P2, NULL, 0);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.server_problem, NC_SRV_WRONG_SOURCE);
	assert_true(has_note(&R, "came from " A1P2));
	assert_int_equal(nc_result_exit_status(&R), NC_EXIT_SERVER);

	server(&R, true);
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_MALFORMED, A1P1, NULL, 0);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.server_problem, NC_SRV_MALFORMED);
	assert_int_equal(nc_result_exit_status(&R), NC_EXIT_SERVER);

	/* Silence stays what it was: no answer at all. */
	server(&R, true);
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_TIMEOUT, NULL, NULL, 0);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.server_problem, NC_SRV_OK);
	assert_int_equal(nc_result_exit_status(&R), NC_EXIT_NO_ANSWER);

	/* A usable primary: errors elsewhere are no server problem. */
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	R.obs[1].outcome = NC_OUT_ERROR;
	R.obs[1].error_code = 400;
	nc_classify_udp(&R);
	assert_int_equal(R.udp.server_problem, NC_SRV_OK);
	assert_int_equal(nc_result_exit_status(&R), NC_EXIT_OK);
}

/* Issue 13 item 6: a mapped address of another family is malformed evidence. */
static void test_family_mismatch_is_malformed(void **state)
{
	(void)state;
	server(&R, true);
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_ANSWERED, A1P1,
	    "[2001:db8::1]:40000", 0);
	nc_classify_udp(&R);
	assert_int_equal(R.obs[0].outcome, NC_OUT_MALFORMED);
	assert_int_equal(R.udp.nat, NC_TRI_UNKNOWN);
	assert_int_equal(R.udp.mapping, NC_BEH_UNKNOWN);
	assert_false(nc_addr_is_set(&R.udp.public_ep));
	assert_int_equal(R.udp.server_problem, NC_SRV_MALFORMED);
	assert_true(has_note(&R, "not of the request's family"));
}

/* Issue 13 item 5: endpoints a server names for itself are checked before use. */
static void test_endpoint_problem(void **state)
{
	static const struct {
		const char *ep, *server;
		bool ok;
	} cases[] = {
		{"198.18.1.2:3479", A1P1, true},
		{"203.0.113.9:3479", "198.51.100.1:3478", true}, /* reserved next to reserved */
		{"0.0.0.0:3479", A1P1, false},
		{"198.18.1.2:1", A1P1, false}, /* port set to 0 below */
		{"224.0.0.1:3479", A1P1, false},
		{"255.255.255.255:3479", A1P1, false},
		{"10.9.9.9:3479", A1P1, false},      /* private alternate of a public server */
		{"127.0.0.1:3479", A1P1, false},
		{"169.254.1.1:3479", A1P1, false},
		{"192.0.2.1:3479", A1P1, false},     /* documentation */
		{"[2001:db8::1]:3479", A1P1, false}, /* another family */
		{"127.0.0.2:3479", "127.0.0.1:3478", true},
		{"10.0.0.2:3479", "127.0.0.1:3478", false},
		{"198.18.1.2:3479", "10.0.0.1:3478", true}, /* a private server may name a public one */
		{"127.0.0.1:3479", "10.0.0.1:3478", false},
		{"[2001:db9::2]:3479", "[2001:db9::1]:3478", true},
		{"[fe80::1]:3479", "[2001:db9::1]:3478", false},
		{"[ff02::1]:3479", "[2001:db9::1]:3478", false},
		{"[::]:3479", "[2001:db9::1]:3478", false},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nc_addr e = ep(cases[i].ep), s = ep(cases[i].server);
		const char *why;
		if (e.port == 1)
			e.port = 0; /* nc_addr_parse() refuses port 0 */
		why = nc_endpoint_problem(&e, &s);
		if ((why == NULL) != cases[i].ok)
			fail_msg("%s next to %s: %s", cases[i].ep, cases[i].server,
				 why ? why : "accepted");
	}
}

static void test_bogus_other(void **state)
{
	(void)state;
	server(&R, false);
	R.server.other = ep("10.9.9.9:3479");
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_ANSWERED, A1P1,
	    "198.18.10.1:40000", 0);
	nc_classify_udp(&R);
	assert_false(nc_addr_is_set(&R.server.other));
	assert_true(nc_addr_eq(&R.server.bogus_other, &(struct nc_addr){0}) == false);
	assert_int_equal(R.udp.mapping, NC_BEH_UNKNOWN);
	assert_int_equal(R.udp.filtering, NC_BEH_UNKNOWN);
	assert_true(has_note(&R, "10.9.9.9:3479 is bogus"));
	/* Re-classification keeps the verdict. */
	nc_classify_udp(&R);
	assert_true(has_note(&R, "is bogus"));
	assert_int_equal(R.udp.mapping, NC_BEH_UNKNOWN);
}

/* Issue 13 item 9: a stale FINGERPRINT with XOR-MAPPED-ADDRESS intact is an ALG. */
static void test_alg_stale_fingerprint(void **state)
{
	(void)state;
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	R.obs[0].fp_stale = true;
	R.obs[0].mapped = ep("10.1.0.2:40000");
	nc_classify_udp(&R);
	assert_int_equal(R.udp.alg, NC_TRI_YES);
	assert_int_equal(R.udp.mapping, NC_BEH_EI);
	assert_true(nc_addr_eq(&R.udp.public_ep, &R.obs[0].xor_mapped));
	assert_true(has_note(&R, "stale FINGERPRINT"));

	/* Without the XOR-ed copy nothing in it can be trusted. */
	server(&R, true);
	add(&R, NC_ROLE_MAP_PRIMARY, 0, "10.1.0.2:40000", A1P1, NC_OUT_ANSWERED, A1P1, NULL, 0)
		->mapped = ep("10.1.0.2:40000");
	R.obs[0].fp_stale = true;
	nc_classify_udp(&R);
	assert_int_equal(R.obs[0].outcome, NC_OUT_MALFORMED);
	assert_int_equal(R.udp.server_problem, NC_SRV_MALFORMED);
}

/* Issue 13 item 10: several local endpoints on one public endpoint. */
static void test_port_overloading(void **state)
{
	static const uint16_t local[8] = {51234, 60001, 49500, 55555, 62002, 50017, 50999, 61111};
	static const uint16_t pool[8] = {30000, 30001, 30002, 30003, 30000, 30001, 30002, 30003};
	static const uint16_t seq[8] = {30000, 30001, 30002, 30003, 30004, 30005, 30006, 30007};
	char buf[NC_NOTE_LEN];
	(void)state;

	alloc_fixture(local, pool, 8);
	assert_int_equal(R.udp.alloc.port_overloading, NC_TRI_YES);
	assert_true(has_note(&R, "8 local endpoints shared 4 public endpoints"));
	R.udp.mapping = NC_BEH_EI;
	R.udp.nat = NC_TRI_YES;
	assert_non_null(strstr(nc_result_punch_verdict(&R, buf, sizeof(buf)), "port overloading"));

	alloc_fixture(local, seq, 8);
	assert_int_equal(R.udp.alloc.port_overloading, NC_TRI_NO);

	alloc_fixture(local, seq, 1);
	assert_int_equal(R.udp.alloc.port_overloading, NC_TRI_UNKNOWN);
}

/* Issue 13 item 12: endpoints of the server that never answered are named. */
static void test_unreachable_endpoints(void **state)
{
	(void)state;
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	R.obs[2].outcome = NC_OUT_TIMEOUT; /* A2:P2 */
	R.obs[3].outcome = NC_OUT_TIMEOUT; /* A1:P2 */
	filtering(&R, true, true);
	nc_classify_udp(&R);
	assert_int_equal(R.server.n_unreachable, 2);
	assert_true(nc_addr_eq(&R.server.unreachable[0], &(struct nc_addr){0}) == false);
	assert_true(has_note(&R, "no answer from " A2P2 ", " A1P2));
	assert_int_equal(R.udp.mapping, NC_BEH_EI);
	assert_true(has_note(&R, "changes with the destination port alone would go unnoticed"));

	/* Silence on the change tests with the other port unreachable: the verdict stands, with
	 * a word on what else could explain it. */
	server(&R, true);
	mapping(&R, "10.1.0.2:40000", "198.18.10.1:40000", "198.18.10.1:40000",
		"198.18.10.1:40000", "198.18.10.1:40000");
	R.obs[2].outcome = NC_OUT_TIMEOUT;
	R.obs[3].outcome = NC_OUT_TIMEOUT;
	filtering(&R, false, false);
	nc_classify_udp(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_APD);
	assert_true(has_note(&R, "a firewall's on the path"));

	R.obs[2].outcome = R.obs[3].outcome = NC_OUT_ANSWERED;
	nc_classify_udp(&R);
	assert_int_equal(R.server.n_unreachable, 0);
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
		cmocka_unit_test(test_negative_needs_evidence),
		cmocka_unit_test(test_hairpin_negative_needs_evidence),
		cmocka_unit_test(test_server_problems),
		cmocka_unit_test(test_family_mismatch_is_malformed),
		cmocka_unit_test(test_endpoint_problem),
		cmocka_unit_test(test_bogus_other),
		cmocka_unit_test(test_alg_stale_fingerprint),
		cmocka_unit_test(test_port_overloading),
		cmocka_unit_test(test_unreachable_endpoints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
