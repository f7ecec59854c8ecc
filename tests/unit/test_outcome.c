/* Punch outcome documents (natcheck/outcome.h): the writer, the validating reader, the
 * published examples, every refusal by field, unknown keys, and the class of a result. */
#include <natcheck/error.h>
#include <natcheck/outcome.h>

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef NC_SRC_DIR
#define NC_SRC_DIR NC_TEST_DATA "/../.."
#endif

static struct nc_punch_outcome sample(void)
{
	struct nc_punch_outcome o;

	nc_punch_outcome_init(&o, 1796558405); /* 2026-12-06T12:00:05Z */
	snprintf(o.tool_name, sizeof(o.tool_name), "punchvpn");
	snprintf(o.tool_version, sizeof(o.tool_version), "0.1.0");
	o.local =
	    (struct nc_nat_class){NC_BEH_APD, NC_BEH_APD, NC_ALLOC_RANDOM, NC_TRI_NO, NC_TRI_NO};
	o.peer = (struct nc_nat_class){NC_BEH_EI, NC_BEH_APD, NC_ALLOC_PRESERVING, NC_TRI_UNKNOWN,
				       NC_TRI_NO};
	o.method = NC_METHOD_BIRTHDAY;
	o.success = true;
	o.first_packet_ms = 812;
	return o;
}

static void test_init_rounds_to_the_day(void **state)
{
	struct nc_punch_outcome o;

	(void)state;
	nc_punch_outcome_init(&o, 1796558405);
	assert_string_equal(o.started, "2026-12-06T00:00:00Z");
	assert_int_equal(o.first_packet_ms, -1);
	assert_false(o.success);
	assert_int_equal(o.local.mapping, NC_BEH_UNKNOWN);
	assert_int_equal(o.peer.udp_blocked, NC_TRI_UNKNOWN);
	nc_punch_outcome_init(&o, 0);
	assert_string_equal(o.started, "");
}

static void test_round_trip(void **state)
{
	struct nc_punch_outcome o = sample(), back;
	char err[200], *a, *b;

	(void)state;
	a = nc_punch_outcome_to_json(&o, false);
	assert_non_null(a);
	assert_string_equal(
	    a, "{\"schema\":\"punch-outcome\",\"version\":1,\"tool\":{\"name\":\"punchvpn\","
	       "\"version\":\"0.1.0\"},\"started\":\"2026-12-06T00:00:00Z\",\"local\":{\"mapping\":"
	       "\"address-and-port-dependent\",\"filtering\":\"address-and-port-dependent\","
	       "\"allocation\":\"random\",\"port_mapping\":false,\"udp_blocked\":false},\"peer\":{"
	       "\"mapping\":\"endpoint-independent\",\"filtering\":\"address-and-port-dependent\","
	       "\"allocation\":\"preserving\",\"port_mapping\":null,\"udp_blocked\":false},"
	       "\"method\":\"birthday\",\"success\":true,\"first_packet_ms\":812}");
	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(nc_punch_outcome_from_json(a, strlen(a), &back, err, sizeof(err)), 0);
	b = nc_punch_outcome_to_json(&back, false);
	assert_string_equal(a, b);
	assert_int_equal(back.first_packet_ms, 812);
	assert_int_equal(back.method, NC_METHOD_BIRTHDAY);
	free(a);
	free(b);

	/* A failure, no time, no tool: tool is left out, started and first_packet_ms null. */
	nc_punch_outcome_init(&o, 0);
	o.method = NC_METHOD_RELAY;
	a = nc_punch_outcome_to_json(&o, false);
	assert_non_null(a);
	assert_non_null(strstr(a, "\"started\":null"));
	assert_non_null(strstr(a, "\"first_packet_ms\":null"));
	assert_null(strstr(a, "tool"));
	assert_int_equal(nc_punch_outcome_from_json(a, strlen(a), &back, err, sizeof(err)), 0);
	b = nc_punch_outcome_to_json(&back, false);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

static void test_writer_refuses_invalid(void **state)
{
	struct nc_punch_outcome o;

	(void)state;
	o = sample();
	o.method = NC_METHOD_COUNT;
	assert_null(nc_punch_outcome_to_json(&o, false));
	o = sample();
	o.local.mapping = 9;
	assert_null(nc_punch_outcome_to_json(&o, false));
	o = sample();
	o.peer.port_mapping = 3;
	assert_null(nc_punch_outcome_to_json(&o, false));
	o = sample();
	o.success = false; /* a time without success */
	assert_null(nc_punch_outcome_to_json(&o, false));
	o = sample();
	o.first_packet_ms = -2;
	assert_null(nc_punch_outcome_to_json(&o, false));
	o = sample();
	snprintf(o.tool_name, sizeof(o.tool_name), "host 10.0.0.1");
	assert_null(nc_punch_outcome_to_json(&o, false));
	o = sample();
	snprintf(o.started, sizeof(o.started), "2026-12-06T11:20:05Z");
	assert_null(nc_punch_outcome_to_json(&o, false));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	assert_non_null(f);
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	assert_true(n > 0);
	return buf;
}

/* The published examples read, and the pretty writer prints them back byte for byte. */
static void test_examples(void **state)
{
	static const char *const names[] = {"punch-outcome/birthday.json",
					    "punch-outcome/relay.json"};
	char path[512], err[200], *text, *again;
	struct nc_punch_outcome o;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/results/schema/examples/%s", NC_SRC_DIR, names[i]);
		text = slurp(path);
		assert_int_equal(
		    nc_punch_outcome_from_json(text, strlen(text), &o, err, sizeof(err)), 0);
		again = nc_punch_outcome_to_json(&o, true);
		assert_non_null(again);
		assert_int_equal(strncmp(text, again, strlen(again)), 0);
		free(again);
		free(text);
	}
}

/* Each case: a change to the sample document, and the start of the message it must give. */
struct refusal {
	const char *path;  /* "a.b": the member to set; "-a.b": to delete */
	const char *value; /* JSON */
	const char *msg;
};

static const struct refusal refusals[] = {
    {"schema", "\"natcheck-result\"", "schema: must be \"punch-outcome\""},
    {"-schema", NULL, "schema: required, but missing"},
    {"version", "2", "version: 2 is newer than this program reads"},
    {"version", "0", "version: must be a positive integer"},
    {"version", "\"1\"", "version: must be a positive integer"},
    {"-version", NULL, "version: required, but missing"},
    {"tool", "[]", "tool: must be an object"},
    {"tool.name", "\"punch vpn\"", "tool.name: must be 1 to 31 of"},
    {"tool.name", "\"\"", "tool.name: must be 1 to 31 of"},
    {"tool.name", "7", "tool.name: must be 1 to 31 of"},
    {"tool.version", "\"0123456789012345678901234567890123\"", "tool.version: must be 1 to 31"},
    {"started", "\"2026-12-06T11:20:05Z\"", "started: must be a day"},
    {"started", "\"2026-02-30T00:00:00Z\"", "started: must be a day"},
    {"started", "\"2027-02-29T00:00:00Z\"", "started: must be a day"},
    {"started", "1796558405", "started: must be a day"},
    {"-local", NULL, "local: required, but missing"},
    {"local", "null", "local: must not be null"},
    {"local", "\"EIM\"", "local: must be an object"},
    {"local.mapping", "\"cone\"", "local.mapping: unknown value \"cone\""},
    {"local.mapping", "null", "local.mapping: must not be null"},
    {"local.filtering", "3", "local.filtering: must be a string"},
    {"local.allocation", "\"endpoint-independent\"", "local.allocation: unknown value"},
    {"local.port_mapping", "\"yes\"", "local.port_mapping: must be true, false or null"},
    {"local.udp_blocked", "0", "local.udp_blocked: must be true, false or null"},
    {"-peer", NULL, "peer: required, but missing"},
    {"peer.mapping", "\"symmetric\"", "peer.mapping: unknown value \"symmetric\""},
    {"peer.filtering", "\"\"", "peer.filtering: unknown value"},
    {"peer.allocation", "null", "peer.allocation: must not be null"},
    {"peer.port_mapping", "1", "peer.port_mapping: must be true, false or null"},
    {"peer.udp_blocked", "[]", "peer.udp_blocked: must be true, false or null"},
    {"-method", NULL, "method: required, but missing"},
    {"method", "\"stun\"", "method: unknown value \"stun\""},
    {"method", "4", "method: must be a string"},
    {"method", "null", "method: must not be null"},
    {"-success", NULL, "success: required, but missing"},
    {"success", "\"true\"", "success: must be true or false"},
    {"success", "1", "success: must be true or false"},
    {"success", "false", "first_packet_ms: must be null when success is false"},
    {"first_packet_ms", "-1", "first_packet_ms: must be a whole number"},
    {"first_packet_ms", "4294967296", "first_packet_ms: must be a whole number"},
    {"first_packet_ms", "1.5", "first_packet_ms: must be a whole number"},
    {"first_packet_ms", "\"812\"", "first_packet_ms: must be a whole number"},
};

static json_t *sample_doc(void)
{
	struct nc_punch_outcome o = sample();
	char *text = nc_punch_outcome_to_json(&o, false);
	json_t *doc = json_loads(text, 0, NULL);

	free(text);
	assert_non_null(doc);
	return doc;
}

static void apply(json_t *doc, const char *path, const char *value)
{
	char p[64], *dot;
	json_t *obj = doc;
	bool del = path[0] == '-';

	snprintf(p, sizeof(p), "%s", path + del);
	dot = strchr(p, '.');
	if (dot) {
		*dot = '\0';
		obj = json_object_get(doc, p);
		assert_non_null(obj);
		memmove(p, dot + 1, strlen(dot + 1) + 1);
	}
	if (del) {
		assert_int_equal(json_object_del(obj, p), 0);
	} else {
		json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		assert_int_equal(json_object_set_new(obj, p, v), 0);
	}
}

static void test_refusals(void **state)
{
	char err[200], *text;
	struct nc_punch_outcome o, untouched;

	(void)state;
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		json_t *doc = sample_doc();
		apply(doc, refusals[i].path, refusals[i].value);
		text = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		memset(&o, 0x33, sizeof(o));
		untouched = o;
		int rc = nc_punch_outcome_from_json(text, strlen(text), &o, err, sizeof(err));
		if (rc != -NC_E_SCHEMA || strncmp(err, refusals[i].msg, strlen(refusals[i].msg)))
			fail_msg("%s = %s: rc %d, \"%s\", expected \"%s\"", refusals[i].path,
				 refusals[i].value ? refusals[i].value : "(deleted)", rc, err,
				 refusals[i].msg);
		assert_memory_equal(&o, &untouched, sizeof(o)); /* all or nothing */
		free(text);
	}
}

static void test_not_json(void **state)
{
	static const char *const bodies[] = {"", "{", "[]x", "{\"schema\":1,\"schema\":2}"};
	struct nc_punch_outcome o;
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		assert_int_equal(
		    nc_punch_outcome_from_json(bodies[i], strlen(bodies[i]), &o, err, sizeof(err)),
		    -NC_E_PARSE);
	assert_int_equal(nc_punch_outcome_from_json("[1]", 3, &o, err, sizeof(err)), -NC_E_SCHEMA);
	assert_string_equal(err, "$: the document must be a JSON object");
	assert_int_equal(nc_punch_outcome_from_json(NULL, 0, &o, err, sizeof(err)), -NC_E_INVALID);
}

/* Forward compatibility: keys this version does not know are ignored everywhere, and the
 * writer (so the collector's store) does not carry them on. Optional members may be missing. */
static void test_unknown_and_missing_keys(void **state)
{
	struct nc_punch_outcome o, ref = sample();
	char err[200], *text, *canon, *expect;
	json_t *doc = sample_doc();

	(void)state;
	apply(doc, "extra", "{\"addr\":\"192.0.2.1:4242\"}");
	apply(doc, "local.extra", "\"x\"");
	apply(doc, "peer.nat_layers", "2");
	apply(doc, "tool.build", "\"abc\"");
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_int_equal(nc_punch_outcome_from_json(text, strlen(text), &o, err, sizeof(err)), 0);
	canon = nc_punch_outcome_to_json(&o, false);
	expect = nc_punch_outcome_to_json(&ref, false);
	assert_string_equal(canon, expect);
	assert_null(strstr(canon, "192.0.2.1"));
	free(text);
	free(canon);

	/* Missing optional members read as unknown / null. */
	doc = sample_doc();
	apply(doc, "-tool", NULL);
	apply(doc, "-started", NULL);
	apply(doc, "-first_packet_ms", NULL);
	apply(doc, "-local.mapping", NULL);
	apply(doc, "-peer.port_mapping", NULL);
	apply(doc, "-peer.allocation", NULL);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_int_equal(nc_punch_outcome_from_json(text, strlen(text), &o, err, sizeof(err)), 0);
	assert_string_equal(o.tool_name, "");
	assert_string_equal(o.started, "");
	assert_int_equal(o.first_packet_ms, -1);
	assert_int_equal(o.local.mapping, NC_BEH_UNKNOWN);
	assert_int_equal(o.peer.port_mapping, NC_TRI_UNKNOWN);
	assert_int_equal(o.peer.allocation, NC_ALLOC_UNKNOWN);
	assert_int_equal(o.local.filtering, NC_BEH_APD);
	free(text);
	free(expect);

	/* 812.0 is the integer 812, as in JSON Schema. */
	doc = sample_doc();
	apply(doc, "first_packet_ms", "812.0");
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	assert_int_equal(nc_punch_outcome_from_json(text, strlen(text), &o, err, sizeof(err)), 0);
	assert_int_equal(o.first_packet_ms, 812);
	free(text);
}

static void test_value_entry_point(void **state)
{
	struct nc_punch_outcome o;
	char err[200];
	json_t *doc = sample_doc();

	(void)state;
	assert_int_equal(nc_punch_outcome_from_json_value(doc, &o, err, sizeof(err)), 0);
	assert_int_equal(o.method, NC_METHOD_BIRTHDAY);
	json_decref(doc);
	assert_int_equal(nc_punch_outcome_from_json_value(NULL, &o, err, sizeof(err)),
			 -NC_E_INVALID);
}

static void test_methods(void **state)
{
	(void)state;
	for (int m = 0; m < NC_METHOD_COUNT; m++)
		assert_int_equal(nc_punch_method_parse(nc_punch_method_name(m)), m);
	assert_null(nc_punch_method_name(NC_METHOD_COUNT));
	assert_int_equal(nc_punch_method_parse("punch"), -1);
	assert_int_equal(nc_punch_method_parse(NULL), -1);
}

static void test_class_from_result(void **state)
{
	struct nc_result r;
	struct nc_nat_class c;

	(void)state;
	nc_result_init(&r);
	nc_nat_class_from_result(&r, &c);
	assert_int_equal(c.mapping, NC_BEH_UNKNOWN);
	assert_int_equal(c.port_mapping, NC_TRI_UNKNOWN); /* nothing tested */
	assert_int_equal(c.udp_blocked, NC_TRI_UNKNOWN);

	r.udp.reachable = NC_TRI_YES;
	r.udp.mapping = NC_BEH_EI;
	r.udp.filtering = NC_BEH_AD;
	r.udp.alloc.pattern = NC_ALLOC_SEQUENTIAL;
	for (int p = 0; p < NC_PM_COUNT; p++) {
		r.portmap[p].tested = true;
		r.portmap[p].present = NC_TRI_NO;
	}
	nc_nat_class_from_result(&r, &c);
	assert_int_equal(c.mapping, NC_BEH_EI);
	assert_int_equal(c.filtering, NC_BEH_AD);
	assert_int_equal(c.allocation, NC_ALLOC_SEQUENTIAL);
	assert_int_equal(c.port_mapping, NC_TRI_NO);
	assert_int_equal(c.udp_blocked, NC_TRI_NO);

	r.portmap[1].present = NC_TRI_YES;
	r.portmap[1].test_mapping = NC_TRI_YES;
	nc_nat_class_from_result(&r, &c);
	assert_int_equal(c.port_mapping, NC_TRI_YES);
	r.portmap[1].test_mapping = NC_TRI_NO; /* present, but its mapping carried nothing */
	nc_nat_class_from_result(&r, &c);
	assert_int_equal(c.port_mapping, NC_TRI_NO);

	r.udp.reachable = NC_TRI_NO;
	nc_nat_class_from_result(&r, &c);
	assert_int_equal(c.udp_blocked, NC_TRI_YES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_rounds_to_the_day),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_writer_refuses_invalid),
	    cmocka_unit_test(test_examples),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_not_json),
	    cmocka_unit_test(test_unknown_and_missing_keys),
	    cmocka_unit_test(test_value_entry_point),
	    cmocka_unit_test(test_methods),
	    cmocka_unit_test(test_class_from_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
