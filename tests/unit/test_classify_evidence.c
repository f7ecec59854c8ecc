/* The classifier beyond the UDP tests, from fixtures: TCP verdicts from recorded TCP tests,
 * the third-party fold, mapping stability, and nc_result_classify() as a whole (every verdict
 * re-derived, the classifier's notes regenerated and never duplicated, revision-1 documents
 * keeping what they cannot re-derive, the evidence surviving JSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "classify_evidence.h"
#include "testaddr.h"

#include <natcheck/error.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static struct nc_result R;

static struct nc_tcp_obs *tobs(enum nc_tcp_test test, enum nc_outcome out, const char *local,
			       const char *dest, const char *mapped)
{
	struct nc_tcp_obs *o = &R.tcp_obs[R.n_tcp_obs++];

	memset(o, 0, sizeof(*o));
	o->test = (uint8_t)test;
	o->outcome = (uint8_t)out;
	if (local)
		o->local = ep(local);
	if (dest)
		o->dest = ep(dest);
	if (mapped)
		o->mapped = ep(mapped);
	return o;
}

static struct nc_tcp_obs *cb(enum nc_tcp_test test, const char *origin, enum nc_tri arrived,
			     enum nc_cb_report report, uint32_t elapsed)
{
	struct nc_tcp_obs *o = tobs(test, NC_OUT_ANSWERED, "10.1.0.2:50001", "198.18.1.1:3478",
				    "198.18.10.1:50001");
	o->from = ep(origin);
	o->arrived = arrived;
	o->report = (uint8_t)report;
	o->wait_ms = 1000;
	o->elapsed_ms = elapsed;
	return o;
}

/* A port-restricted NAT: TCP mapping EI, the bouncer's SYN dropped, the simultaneous open
 * works, no origin reaches q, no hairpin. */
static void port_restricted_tcp(void)
{
	nc_result_init(&R);
	tobs(NC_TCP_MAP_PRIMARY, NC_OUT_ANSWERED, "10.1.0.2:50001", "198.18.1.1:3478", "198.18.10.1:50001");
	tobs(NC_TCP_MAP_ALT_IP, NC_OUT_ANSWERED, "10.1.0.2:50001", "198.18.1.2:3478", "198.18.10.1:50001");
	tobs(NC_TCP_MAP_ALT_BOTH, NC_OUT_ANSWERED, "10.1.0.2:50001", "198.18.1.2:3479", "198.18.10.1:50001");
	cb(NC_TCP_CB_BOUNCER, "198.18.2.1:3480", NC_TRI_NO, NC_CB_PENDING, 0);
	tobs(NC_TCP_FILTER_MAP, NC_OUT_ANSWERED, "10.1.0.2:50002", "198.18.1.1:3478", "198.18.10.1:50002");
	cb(NC_TCP_CB_PORT, "198.18.1.1:3480", NC_TRI_NO, NC_CB_TIMEOUT, 1000);
	cb(NC_TCP_CB_ADDR, "198.18.1.2:3480", NC_TRI_NO, NC_CB_TIMEOUT, 1000);
	tobs(NC_TCP_HAIRPIN, NC_OUT_TIMEOUT, NULL, "198.18.10.1:50002", NULL)->arrived = NC_TRI_NO;
	tobs(NC_TCP_SIMOPEN, NC_OUT_ANSWERED, "10.1.0.2:50001", "198.18.2.1:3480", NULL);
}

static bool has_note(const char *part)
{
	for (unsigned i = 0; i < R.n_notes; i++)
		if (strstr(R.notes[i], part))
			return true;
	return false;
}

static void test_tcp_port_restricted(void **state)
{
	(void)state;
	port_restricted_tcp();
	nc_classify_tcp(&R);
	assert_true(R.tcp.tested);
	assert_int_equal(R.tcp.mapping, NC_BEH_EI);
	assert_int_equal(R.tcp.consistent, NC_TRI_YES);
	assert_int_equal(R.tcp.filtering, NC_BEH_APD);
	assert_string_equal(R.tcp.unsolicited, "dropped");
	assert_int_equal(R.tcp.unsolicited_ms, 1000);
	assert_int_equal(R.tcp.simultaneous_open, NC_TRI_YES);
	assert_int_equal(R.tcp.hairpin, NC_TRI_NO);
}

static void test_tcp_variants(void **state)
{
	(void)state;
	/* The bouncer's SYN gets through: EI filtering, no simultaneous open needed. */
	port_restricted_tcp();
	R.tcp_obs[3].arrived = NC_TRI_YES;
	R.tcp_obs[3].elapsed_ms = 7;
	nc_classify_tcp(&R);
	assert_int_equal(R.tcp.filtering, NC_BEH_EI);
	assert_string_equal(R.tcp.unsolicited, "accepted");
	assert_int_equal(R.tcp.unsolicited_ms, 7);
	assert_int_equal(R.tcp.simultaneous_open, NC_TRI_YES);
	assert_true(has_note("without a simultaneous open"));

	/* Only another port reaches q: address-dependent; an ICMP answer within 6 s is noted. */
	port_restricted_tcp();
	R.tcp_obs[5].arrived = NC_TRI_YES;
	R.tcp_obs[3].report = NC_CB_ICMP_PORT;
	R.tcp_obs[3].elapsed_ms = 2;
	R.tcp_obs[8].outcome = NC_OUT_TIMEOUT;
	nc_classify_tcp(&R);
	assert_int_equal(R.tcp.filtering, NC_BEH_AD);
	assert_string_equal(R.tcp.unsolicited, "icmp-port-unreachable");
	assert_int_equal(R.tcp.unsolicited_ms, 2);
	assert_int_equal(R.tcp.simultaneous_open, NC_TRI_NO);
	assert_true(has_note("REQ-4"));

	/* The mapping moves with the destination port: APD, not consistent. */
	port_restricted_tcp();
	R.tcp_obs[2].mapped = ep("198.18.10.1:50999");
	nc_classify_tcp(&R);
	assert_int_equal(R.tcp.mapping, NC_BEH_APD);
	assert_int_equal(R.tcp.consistent, NC_TRI_NO);

	/* No TCP answer at all: not tested, said in words. */
	nc_result_init(&R);
	tobs(NC_TCP_MAP_PRIMARY, NC_OUT_ERROR, "10.1.0.2:50001", "198.18.1.1:3478", NULL);
	nc_classify_tcp(&R);
	assert_false(R.tcp.tested);
	assert_int_equal(R.tcp.mapping, NC_BEH_UNKNOWN);
	assert_true(has_note("TCP not tested"));

	/* Never run: nothing, and no note. */
	nc_result_init(&R);
	nc_classify_tcp(&R);
	assert_false(R.tcp.tested);
	assert_int_equal(R.n_notes, 0);
}

static void test_bounce(void **state)
{
	(void)state;
	nc_result_init(&R);
	R.udp.nat = NC_TRI_YES;
	R.udp.filtering = NC_BEH_APD;
	R.bounce = (struct nc_bounce){.tested = true, .offered = true, .arrived = NC_TRI_YES,
				      .from = ep("198.18.2.1:3478")};
	nc_classify_bounce(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_EI);
	assert_true(has_note("reporting endpoint-independent"));

	nc_result_init(&R);
	R.udp.nat = NC_TRI_YES;
	R.udp.filtering = NC_BEH_EI;
	R.bounce = (struct nc_bounce){.tested = true, .offered = true, .arrived = NC_TRI_NO};
	nc_classify_bounce(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_EI);
	assert_true(has_note("did not arrive"));

	nc_result_init(&R);
	R.udp.filtering = NC_BEH_APD;
	R.bounce = (struct nc_bounce){.tested = true};
	nc_classify_bounce(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_APD);
	assert_true(has_note("no bouncer"));
}

static void sample(uint32_t at_ms, const char *pub)
{
	R.track.s[R.track.n].at_ms = at_ms;
	R.track.s[R.track.n++].public_ep = ep(pub);
}

static void test_stability(void **state)
{
	(void)state;
	nc_result_init(&R);
	nc_classify_stability(&R);
	assert_int_equal(R.udp.mapping_stable, NC_TRI_UNKNOWN);
	sample(0, "198.18.10.1:40000");
	nc_classify_stability(&R);
	assert_int_equal(R.udp.mapping_stable, NC_TRI_UNKNOWN); /* one answer proves nothing */
	sample(20000, "198.18.10.1:40000");
	nc_classify_stability(&R);
	assert_int_equal(R.udp.mapping_stable, NC_TRI_YES);
	assert_int_equal(R.udp.mapping_change_ms, 0);

	/* The NAT moved the busy binding 3 s after it was made. */
	nc_result_init(&R);
	sample(0, "198.18.10.1:40000");
	sample(2004, "198.18.10.1:40000");
	sample(3006, "198.18.10.1:51234");
	sample(20000, "198.18.10.1:51234");
	nc_classify_stability(&R);
	assert_int_equal(R.udp.mapping_stable, NC_TRI_NO);
	assert_int_equal(R.udp.mapping_change_ms, 3006);
	assert_true(has_note("moved from 198.18.10.1:40000 to 198.18.10.1:51234 3.0 s"));
}

/* A whole result: UDP observations of a port-restricted NAT, TCP tests, a bounce that
 * arrived (EIF by fold), hops, samples with a change. */
static void whole(void)
{
	static const struct {
		enum nc_role role;
		uint8_t sock;
		uint32_t change;
		const char *dest, *mapped;
		enum nc_outcome out;
	} o[] = {
		{NC_ROLE_MAP_PRIMARY, 0, 0, "198.18.1.1:3478", "198.18.10.1:40000", NC_OUT_ANSWERED},
		{NC_ROLE_MAP_ALT_IP, 0, 0, "198.18.1.2:3478", "198.18.10.1:40000", NC_OUT_ANSWERED},
		{NC_ROLE_MAP_ALT_BOTH, 0, 0, "198.18.1.2:3479", "198.18.10.1:40000", NC_OUT_ANSWERED},
		{NC_ROLE_FILTER_CONTROL, 1, 0, "198.18.1.1:3478", "198.18.10.1:40001", NC_OUT_ANSWERED},
		{NC_ROLE_FILTER_IP_PORT, 1, 6, "198.18.1.1:3478", NULL, NC_OUT_TIMEOUT},
		{NC_ROLE_FILTER_PORT, 1, 2, "198.18.1.1:3478", NULL, NC_OUT_TIMEOUT},
	};
	struct nc_tcp_obs tcp[NC_MAX_TCP_OBS];
	uint8_t n;

	port_restricted_tcp();
	memcpy(tcp, R.tcp_obs, sizeof(tcp));
	n = R.n_tcp_obs;
	nc_result_init(&R);
	memcpy(R.tcp_obs, tcp, sizeof(tcp));
	R.n_tcp_obs = n;
	R.server.primary = ep("198.18.1.1:3478");
	R.server.other = ep("198.18.1.2:3479");
	for (unsigned i = 0; i < sizeof(o) / sizeof(o[0]); i++) {
		struct nc_obs *b = &R.obs[R.n_obs++];
		b->role = (uint8_t)o[i].role;
		b->socket = o[i].sock;
		b->change_flags = o[i].change;
		b->outcome = (uint8_t)o[i].out;
		b->attempts = 1;
		b->local = ep(o[i].sock ? "10.1.0.2:40001" : "10.1.0.2:40000");
		b->dest = ep(o[i].dest);
		b->from = b->expect = b->dest;
		if (o[i].mapped)
			b->xor_mapped = b->mapped = ep(o[i].mapped);
	}
	R.bounce = (struct nc_bounce){.tested = true, .offered = true, .arrived = NC_TRI_YES,
				      .from = ep("198.18.2.1:3478")};
	R.hops.n = 6;
	R.hops.hop[0] = ip("10.1.0.1");
	R.hops.hop[1] = ip("198.18.0.1");
	R.hops.reached_at = 3;
	sample(0, "198.18.10.1:40100");
	sample(3000, "198.18.10.1:40555");
	nc_result_note(&R, "port mapping: an I/O note the probes wrote");
}

static void test_result_classify_all(void **state)
{
	static struct nc_result first;
	(void)state;
	whole();
	nc_result_classify(&R);
	assert_int_equal(R.udp.mapping, NC_BEH_EI);
	assert_int_equal(R.udp.filtering, NC_BEH_EI); /* APDF by CHANGE-REQUEST, folded */
	assert_true(R.tcp.tested);
	assert_int_equal(R.tcp.filtering, NC_BEH_APD);
	assert_int_equal(R.topology.nat_layers, 1);
	assert_int_equal(R.udp.mapping_stable, NC_TRI_NO);
	assert_true(has_note("I/O note"));
	assert_true(has_note("third-party bouncer"));
	assert_false(R.notes_derived & 1u); /* the probes' note is not the classifier's */
	assert_true(R.notes_derived != 0);
	assert_false(R.classifying);

	/* Idempotent: a second run gives the same result, byte for byte. */
	memcpy(&first, &R, sizeof(R));
	nc_result_classify(&R);
	assert_memory_equal(&first, &R, sizeof(R));

	/* A classifier note that no longer applies goes; the probes' note stays. */
	R.bounce.arrived = NC_TRI_NO;
	nc_result_classify(&R);
	assert_int_equal(R.udp.filtering, NC_BEH_APD);
	assert_false(has_note("reporting endpoint-independent"));
	assert_true(has_note("I/O note"));
}

static void test_json_keeps_evidence(void **state)
{
	static struct nc_result back;
	char err[200], *doc, *again;
	(void)state;

	whole();
	nc_result_classify(&R);
	doc = nc_result_to_json(&R, false);
	assert_non_null(doc);
	assert_int_equal(nc_result_from_json(doc, strlen(doc), &back, err, sizeof(err)), 0);
	assert_int_equal(back.revision, NC_RESULT_REVISION);
	assert_int_equal(back.n_tcp_obs, R.n_tcp_obs);
	assert_memory_equal(back.tcp_obs, R.tcp_obs, sizeof(R.tcp_obs[0]) * R.n_tcp_obs);
	assert_memory_equal(&back.bounce, &R.bounce, sizeof(R.bounce));
	assert_memory_equal(&back.hops, &R.hops, sizeof(R.hops));
	assert_memory_equal(&back.track, &R.track, sizeof(R.track));
	assert_int_equal(back.notes_derived, R.notes_derived);
	/* Re-classified after the trip: the same document. */
	nc_result_classify(&back);
	again = nc_result_to_json(&back, false);
	assert_string_equal(doc, again);
	free(again);
	free(doc);

	/* Bad evidence is refused with its path. */
	{
		static const char *bad[] = {
			"{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{},\"derived_notes\":[0]}",
			"{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{},\"tcp\":{\"probes\":[{\"test\":\"x\",\"outcome\":\"answered\"}]}}",
			"{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{},\"topology\":{\"hops\":{\"probed\":9}}}",
			"{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{},\"topology\":{\"hops\":{\"probed\":1,\"routers\":[null,null]}}}",
			"{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{},\"bounce\":{\"arrived\":1}}",
			"{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{},\"mapping_samples\":{\"samples\":[{\"public\":\"1.2.3.4:5\"}]}}",
		};
		static const char *where[] = {"derived_notes[0]", "tcp.probes[0].test",
					      "topology.hops.probed", "topology.hops.routers", "bounce.arrived",
					      "mapping_samples.samples[0].at_ms"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(nc_result_from_json(bad[i], strlen(bad[i]), &back, err, sizeof(err)),
					 -NC_E_SCHEMA);
			if (strncmp(err, where[i], strlen(where[i])) != 0)
				fail_msg("%s: %s", where[i], err);
		}
	}
}

static void test_revision1_keeps_verdicts(void **state)
{
	static const char doc[] =
		"{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{\"nat\":true},"
		"\"tcp\":{\"tested\":true,\"mapping\":\"endpoint-independent\","
		"\"filtering\":\"address-dependent\"},"
		"\"topology\":{\"nat_layers\":2,\"cgnat\":true,\"double_nat\":true}}";
	char err[200];
	(void)state;

	assert_int_equal(nc_result_from_json(doc, strlen(doc), &R, err, sizeof(err)), 0);
	assert_int_equal(R.revision, 1);
	nc_result_classify(&R);
	assert_true(R.tcp.tested);
	assert_int_equal(R.tcp.filtering, NC_BEH_AD);
	assert_int_equal(R.topology.nat_layers, 2);
	assert_int_equal(R.topology.cgnat, NC_TRI_YES);
	assert_true(has_note("revision 1"));
}

/* The schema lists the words the code writes (results/schema, revision 2 parts). */
static void test_schema_words(void **state)
{
	json_error_t jerr;
	json_t *s, *e;
	size_t i;
	(void)state;

	s = json_load_file(NC_TEST_DATA "/../../results/schema/natcheck-result.v1.schema.json", 0, &jerr);
	if (!s)
		fail_msg("schema: %s", jerr.text);
	e = json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(s, "$defs"),
		"tcp_probe"), "properties"), "test"), "enum");
	assert_int_equal(json_array_size(e), NC_TCP_TEST_COUNT_);
	for (i = 0; i < NC_TCP_TEST_COUNT_; i++)
		assert_string_equal(json_string_value(json_array_get(e, i)), nc_tcp_test_name((enum nc_tcp_test)i));
	e = json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(s, "$defs"),
		"tcp_probe"), "properties"), "report"), "anyOf");
	e = json_object_get(json_array_get(e, 0), "enum");
	assert_int_equal(json_array_size(e), NC_CB_COUNT_ - 1);
	for (i = 1; i < NC_CB_COUNT_; i++)
		assert_string_equal(json_string_value(json_array_get(e, i - 1)), nc_cb_report_name((enum nc_cb_report)i));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(json_object_get(
		json_object_get(s, "properties"), "tcp"), "properties"), "probes"), "maxItems")), NC_MAX_TCP_OBS);
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_port_restricted),
		cmocka_unit_test(test_tcp_variants),
		cmocka_unit_test(test_bounce),
		cmocka_unit_test(test_stability),
		cmocka_unit_test(test_result_classify_all),
		cmocka_unit_test(test_json_keeps_evidence),
		cmocka_unit_test(test_revision1_keeps_verdicts),
		cmocka_unit_test(test_schema_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
