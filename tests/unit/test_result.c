/* The result model: JSON writer and validating reader, derived verdicts, published examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <natcheck/result.h>
#include "testaddr.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct nc_obs *obs(struct nc_result *r, enum nc_role role, int sock, enum nc_outcome out,
			  const char *local, const char *dest, const char *from, const char *mapped)
{
	struct nc_obs *o = &r->obs[r->n_obs++];

	memset(o, 0, sizeof(*o));
	o->role = (uint8_t)role;
	o->socket = (uint8_t)sock;
	o->outcome = (uint8_t)out;
	o->attempts = 1;
	o->local = ep(local);
	o->dest = o->expect = ep(dest);
	if (from)
		o->from = o->response_origin = ep(from);
	if (mapped)
		o->mapped = o->xor_mapped = ep(mapped);
	o->other = ep("198.18.1.2:3479");
	o->rtt_us = 1234;
	o->sent_ms = (uint32_t)(r->n_obs * 10);
	return o;
}

/* A port-restricted cone home NAT with every part of the model filled in. */
static void full(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;

	nc_result_init(r);
	snprintf(r->tool_version, sizeof(r->tool_version), "0.1.0");
	snprintf(r->started, sizeof(r->started), "2026-11-23T13:26:46Z");
	r->duration_ms = 1840;
	r->server.primary = ep("198.18.1.1:3478");
	r->server.other = ep("198.18.1.2:3479");
	r->server.change_supported = true;
	snprintf(r->server.software, sizeof(r->server.software), "natcheck-reflector 0.1.0");
	u->reachable = NC_TRI_YES;
	u->nat = NC_TRI_YES;
	u->mapping = NC_BEH_EI;
	u->filtering = NC_BEH_APD;
	u->local = ep("10.1.0.2:40000");
	u->public_ep = ep("198.18.10.1:40000");
	u->port_preserved = NC_TRI_YES;
	u->alloc.pattern = NC_ALLOC_PRESERVING;
	u->alloc.parity = NC_TRI_YES;
	u->alloc.n = 3;
	for (unsigned i = 0; i < 3; i++) {
		u->alloc.s[i].local_port = (uint16_t)(41000 + i);
		u->alloc.s[i].public_ep = ep("198.18.10.1:41000");
		u->alloc.s[i].public_ep.port = (uint16_t)(41000 + i);
	}
	u->pooling = NC_POOL_SINGLE;
	u->n_public = 1;
	u->public_ips[0] = ip("198.18.10.1");
	u->hairpin = NC_TRI_YES;
	u->hairpin_src = NC_HP_EXTERNAL;
	u->hairpin_from = ep("198.18.10.1:41001");
	u->alg = NC_TRI_NO;
	u->rtt_us = 1234;
	u->lifetime_s = 120;
	u->lifetime_upper_s = 180;
	u->inbound_refresh = NC_TRI_YES;
	r->tcp.tested = true;
	r->tcp.mapping = NC_BEH_EI;
	r->tcp.consistent = NC_TRI_YES;
	r->tcp.simultaneous_open = NC_TRI_YES;
	r->tcp.hairpin = NC_TRI_NO;
	snprintf(r->tcp.unsolicited, sizeof(r->tcp.unsolicited), "dropped");
	r->tcp.unsolicited_ms = 5000;
	r->portmap[NC_PM_NATPMP].tested = true;
	r->portmap[NC_PM_NATPMP].present = NC_TRI_YES;
	r->portmap[NC_PM_NATPMP].external = ip("198.18.10.1");
	r->portmap[NC_PM_NATPMP].test_mapping = NC_TRI_YES;
	r->portmap[NC_PM_NATPMP].deleted = NC_TRI_YES;
	r->portmap[NC_PM_PCP].tested = true;
	r->portmap[NC_PM_PCP].present = NC_TRI_NO;
	snprintf(r->portmap[NC_PM_PCP].error, NC_NOTE_LEN, "no answer from 10.1.0.1:5351");
	r->topology.nat_layers = 1;
	r->topology.cgnat = NC_TRI_NO;
	r->topology.double_nat = NC_TRI_NO;
	nc_result_note(r, "hairpin: probe sent from a second socket");
	obs(r, NC_ROLE_MAP_PRIMARY, 0, NC_OUT_ANSWERED, "10.1.0.2:40000", "198.18.1.1:3478",
	    "198.18.1.1:3478", "198.18.10.1:40000");
	obs(r, NC_ROLE_FILTER_IP_PORT, 1, NC_OUT_TIMEOUT, "10.1.0.2:40001", "198.18.1.1:3478",
	    NULL, NULL)->change_flags = 0x6;
	r->obs[1].expect = ep("198.18.1.2:3479");
	r->obs[1].attempts = 4;
	obs(r, NC_ROLE_LIFETIME, 2, NC_OUT_ERROR, "10.1.0.2:40002", "198.18.1.1:3478",
	    "198.18.1.1:3478", NULL)->error_code = 420;
	r->obs[2].response_port = 40009;
}

static char *dump(const struct nc_result *r)
{
	char *s = nc_result_to_json(r, false);
	assert_non_null(s);
	return s;
}

/* to_json(from_json(to_json(r))) == to_json(r), and the reader accepts the writer's output. */
static void assert_round_trip(const struct nc_result *r)
{
	struct nc_result *back = malloc(sizeof(*back));
	char err[200];
	char *a = dump(r), *b;

	assert_non_null(back);
	assert_int_equal(nc_result_from_json(a, strlen(a), back, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	b = dump(back);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(back);
}

static void test_round_trip_empty(void **state)
{
	struct nc_result *r = malloc(sizeof(*r));

	nc_result_init(r);
	assert_round_trip(r);
	free(r);
}

static void test_round_trip_full(void **state)
{
	struct nc_result *r = malloc(sizeof(*r)), *back = malloc(sizeof(*back));
	char *s;

	full(r);
	assert_round_trip(r);
	s = dump(r);
	assert_int_equal(nc_result_from_json(s, strlen(s), back, NULL, 0), 0);
	/* The fields come back, not only the text. */
	assert_int_equal(back->udp.mapping, NC_BEH_EI);
	assert_int_equal(back->udp.filtering, NC_BEH_APD);
	assert_true(nc_addr_eq(&back->udp.public_ep, &r->udp.public_ep));
	assert_int_equal(back->udp.rtt_us, 1234);
	assert_int_equal(back->udp.alloc.n, 3);
	assert_int_equal(back->udp.alloc.s[2].local_port, 41002);
	assert_int_equal(back->n_obs, 3);
	assert_int_equal(back->obs[1].change_flags, 0x6);
	assert_int_equal(back->obs[2].error_code, 420);
	assert_int_equal(back->obs[2].response_port, 40009);
	assert_int_equal(back->obs[1].attempts, 4);
	assert_int_equal(back->topology.nat_layers, 1);
	assert_string_equal(back->portmap[NC_PM_PCP].error, "no answer from 10.1.0.1:5351");
	assert_string_equal(back->tcp.unsolicited, "dropped");
	assert_string_equal(back->notes[0], "hairpin: probe sent from a second socket");
	free(s);
	free(r);
	free(back);
}

/* Values at the edges of their types survive: uint32 times, port 0, IPv6, sequential deltas,
 * and text that is not UTF-8 (a server's SOFTWARE is untrusted bytes). */
static void test_round_trip_edges(void **state)
{
	struct nc_result *r = malloc(sizeof(*r)), *back = malloc(sizeof(*back));
	char *s;

	full(r);
	r->duration_ms = UINT32_MAX;
	r->udp.rtt_us = UINT32_MAX;
	r->udp.lifetime_s = UINT32_MAX;
	r->obs[0].sent_ms = UINT32_MAX;
	r->obs[0].rtt_us = UINT32_MAX;
	r->obs[0].local = ep("[2001:db8::2]:1");
	r->obs[0].local.port = 0;
	r->obs[0].dest = ep("[2001:db8::1]:3478");
	r->udp.local.port = 0;
	r->udp.alloc.pattern = NC_ALLOC_SEQUENTIAL;
	r->udp.alloc.delta = -2;
	r->udp.n_public = 2; /* the second slot is unset: it is left out */
	snprintf(r->server.software, sizeof(r->server.software), "%s",
		 "caf\xc3\xa9 \xff\xfe end\xe2\x82");
	memset(r->notes[0], 'x', NC_NOTE_LEN); /* no NUL inside the field */
	assert_round_trip(r);
	s = dump(r);
	assert_int_equal(nc_result_from_json(s, strlen(s), back, NULL, 0), 0);
	assert_int_equal(back->duration_ms, UINT32_MAX);
	assert_int_equal(back->udp.rtt_us, UINT32_MAX);
	assert_int_equal(back->obs[0].sent_ms, UINT32_MAX);
	assert_int_equal(back->obs[0].local.port, 0);
	assert_int_equal(back->obs[0].local.family, r->obs[0].local.family);
	assert_int_equal(back->udp.alloc.delta, -2);
	assert_int_equal(back->udp.n_public, 1);
	assert_string_equal(back->server.software, "caf\xc3\xa9 ?? end??");
	assert_int_equal(strlen(back->notes[0]), NC_NOTE_LEN - 1);
	free(s);
	free(r);
	free(back);
}

/* The smallest valid document, then one mutation at a time. */
#define MINIMAL "{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{}}"

static void expect_error(const char *doc, int code, const char *msg)
{
	struct nc_result *r = malloc(sizeof(*r)), *before = malloc(sizeof(*before));
	char err[200];

	full(r);
	memcpy(before, r, sizeof(*r));
	assert_int_equal(nc_result_from_json(doc, strlen(doc), r, err, sizeof(err)), code);
	/* jansson words its own messages; only their shape is ours. */
	if (code == -NC_E_PARSE ? strncmp(err, msg, strlen(msg)) != 0 : strcmp(err, msg) != 0)
		fail_msg("document %s\n  error    \"%s\"\n  expected \"%s\"", doc, err, msg);
	/* Nothing of a rejected document reaches the caller's result. */
	assert_memory_equal(r, before, sizeof(*r));
	free(r);
	free(before);
}

#define UDP(x) "{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{" x "}}"
#define DOC(x) "{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{}," x "}"

static void test_reader_errors(void **state)
{
	expect_error("", -NC_E_PARSE, "line 1 column 0: ");
	expect_error("[1]", -NC_E_SCHEMA, "$: the document must be a JSON object");
	expect_error("{\"schema\":\"natcheck-result\",\"version\":1}", -NC_E_SCHEMA,
		     "udp: required, but missing");
	expect_error("{\"version\":1,\"udp\":{}}", -NC_E_SCHEMA, "schema: required, but missing");
	expect_error("{\"schema\":\"natcheck-result\",\"udp\":{}}", -NC_E_SCHEMA,
		     "version: required, but missing");
	expect_error("{\"schema\":\"stun\",\"version\":1,\"udp\":{}}", -NC_E_SCHEMA,
		     "schema: must be \"natcheck-result\"");
	expect_error("{\"schema\":\"natcheck-result\",\"version\":2,\"udp\":\"new\"}", -NC_E_SCHEMA,
		     "version: 2 is newer than this program reads (version 1); upgrade natcheck");
	expect_error("{\"schema\":\"natcheck-result\",\"version\":0,\"udp\":{}}", -NC_E_SCHEMA,
		     "version: must be a positive integer");
	expect_error("{\"schema\":\"natcheck-result\",\"version\":1.5,\"udp\":{}}", -NC_E_SCHEMA,
		     "version: must be a positive integer");
	expect_error("{\"schema\":\"natcheck-result\",\"version\":\"1\",\"udp\":{}}", -NC_E_SCHEMA,
		     "version: must be a positive integer");
	expect_error(UDP("\"mapping\":\"cone\""), -NC_E_SCHEMA, "udp.mapping: unknown value \"cone\"");
	expect_error(UDP("\"mapping\":null"), -NC_E_SCHEMA, "udp.mapping: must not be null");
	expect_error(UDP("\"filtering\":3"), -NC_E_SCHEMA, "udp.filtering: must be a string");
	expect_error(UDP("\"nat\":\"yes\""), -NC_E_SCHEMA, "udp.nat: must be true, false or null");
	expect_error(UDP("\"mapping_port_only\":null"), -NC_E_SCHEMA,
		     "udp.mapping_port_only: must not be null");
	expect_error(UDP("\"public\":\"198.18.10.1\""), -NC_E_SCHEMA,
		     "udp.public: not an ip:port endpoint: \"198.18.10.1\"");
	expect_error(UDP("\"public\":\"2001:db8::1:5\""), -NC_E_SCHEMA,
		     "udp.public: not an ip:port endpoint: \"2001:db8::1:5\"");
	expect_error(UDP("\"local\":\"host.example:80\""), -NC_E_SCHEMA,
		     "udp.local: not an ip:port endpoint: \"host.example:80\"");
	expect_error(UDP("\"local\":\"1.2.3.4:65536\""), -NC_E_SCHEMA,
		     "udp.local: not an ip:port endpoint: \"1.2.3.4:65536\"");
	expect_error(UDP("\"local\":\"1.2.3.4:080\""), -NC_E_SCHEMA,
		     "udp.local: not an ip:port endpoint: \"1.2.3.4:080\"");
	expect_error(UDP("\"local\":\"1.2.3.4:00\""), -NC_E_SCHEMA,
		     "udp.local: not an ip:port endpoint: \"1.2.3.4:00\"");
	expect_error(UDP("\"local\":\"[1.2.3.4]:80\""), -NC_E_SCHEMA,
		     "udp.local: not an ip:port endpoint: \"[1.2.3.4]:80\"");
	expect_error(UDP("\"local\":\"01.2.3.4:80\""), -NC_E_SCHEMA,
		     "udp.local: not an ip:port endpoint: \"01.2.3.4:80\"");
	expect_error(UDP("\"hairpin_from\":5"), -NC_E_SCHEMA,
		     "udp.hairpin_from: must be an \"ip:port\" string or null");
	expect_error(UDP("\"hairpin_source\":\"unknown\""), -NC_E_SCHEMA,
		     "udp.hairpin_source: unknown value \"unknown\"");
	expect_error(UDP("\"allocation\":{\"pattern\":\"linear\"}"), -NC_E_SCHEMA,
		     "udp.allocation.pattern: unknown value \"linear\"");
	expect_error(UDP("\"allocation\":{\"delta\":70000}"), -NC_E_SCHEMA,
		     "udp.allocation.delta: must be an integer from -65535 to 65535, or null");
	expect_error(UDP("\"allocation\":{\"samples\":[{\"local_port\":1,\"public\":null},"
			 "{\"local_port\":-1}]}"),
		     -NC_E_SCHEMA, "udp.allocation.samples[1].local_port: must be an integer "
				   "from 0 to 65535");
	expect_error(UDP("\"allocation\":{\"samples\":[{\"public\":\"1.2.3.4:5\"}]}"), -NC_E_SCHEMA,
		     "udp.allocation.samples[0].local_port: required, but missing");
	expect_error(UDP("\"allocation\":[]"), -NC_E_SCHEMA, "udp.allocation: must be an object");
	expect_error(UDP("\"public_addresses\":[\"1.2.3.4\",\"1.2.3.4:5\"]"), -NC_E_SCHEMA,
		     "udp.public_addresses[1]: must be an IP address string");
	expect_error(UDP("\"public_addresses\":[\"1.1.1.1\",\"1.1.1.2\",\"1.1.1.3\",\"1.1.1.4\","
			 "\"1.1.1.5\",\"1.1.1.6\",\"1.1.1.7\",\"1.1.1.8\",\"1.1.1.9\"]"),
		     -NC_E_SCHEMA, "udp.public_addresses: 9 entries, at most 8 allowed");
	expect_error(UDP("\"rtt_ms\":-1"), -NC_E_SCHEMA,
		     "udp.rtt_ms: must be a number from 0 to 4294967.295, or null");
	expect_error(UDP("\"rtt_ms\":5000000"), -NC_E_SCHEMA,
		     "udp.rtt_ms: must be a number from 0 to 4294967.295, or null");
	expect_error(UDP("\"lifetime_s\":1.5"), -NC_E_SCHEMA,
		     "udp.lifetime_s: must be an integer from 0 to 4294967295, or null");
	expect_error(DOC("\"started\":\"yesterday\""), -NC_E_SCHEMA,
		     "started: not an ISO 8601 date-time (e.g. 2026-11-23T13:26:46Z)");
	expect_error(DOC("\"started\":\"2026-13-01T00:00:00Z\""), -NC_E_SCHEMA,
		     "started: not an ISO 8601 date-time (e.g. 2026-11-23T13:26:46Z)");
	expect_error(DOC("\"duration_ms\":4294967296"), -NC_E_SCHEMA,
		     "duration_ms: must be an integer from 0 to 4294967295");
	expect_error(DOC("\"tool\":{\"version\":\"0123456789012345678901234567890123\"}"),
		     -NC_E_SCHEMA, "tool.version: must be a string of at most 31 bytes");
	expect_error(DOC("\"server\":{\"primary\":\"1.2.3.4:3478\",\"change_request\":\"yes\"}"),
		     -NC_E_SCHEMA, "server.change_request: must be true or false");
	expect_error(DOC("\"tcp\":null"), -NC_E_SCHEMA, "tcp: must not be null");
	expect_error(DOC("\"tcp\":{\"unsolicited\":\"a-very-long-answer-name-x\"}"), -NC_E_SCHEMA,
		     "tcp.unsolicited: must be a string of at most 23 bytes, or null");
	expect_error(DOC("\"port_mapping\":{\"pcp\":{\"external\":\"1.2.3.4:5351\"}}"), -NC_E_SCHEMA,
		     "port_mapping.pcp.external: not an IP address: \"1.2.3.4:5351\"");
	expect_error(DOC("\"port_mapping\":{\"upnp-igd\":{\"present\":1}}"), -NC_E_SCHEMA,
		     "port_mapping.upnp-igd.present: must be true, false or null");
	expect_error(DOC("\"topology\":{\"nat_layers\":-1}"), -NC_E_SCHEMA,
		     "topology.nat_layers: must be an integer from 0 to 127, or null");
	expect_error(DOC("\"summary\":{\"classic\":\"cone\"}"), -NC_E_SCHEMA,
		     "summary.classic: unknown value \"cone\"");
	expect_error(DOC("\"notes\":[\"ok\",7]"), -NC_E_SCHEMA,
		     "notes[1]: must be a string of at most 199 bytes");
	expect_error(DOC("\"notes\":{}"), -NC_E_SCHEMA, "notes: must be an array");
	expect_error(DOC("\"observations\":[{\"role\":\"map-primary\",\"outcome\":\"answered\"},"
			 "{\"role\":\"stun\",\"outcome\":\"answered\"}]"),
		     -NC_E_SCHEMA, "observations[1].role: unknown value \"stun\"");
	expect_error(DOC("\"observations\":[{\"role\":\"alloc\"}]"), -NC_E_SCHEMA,
		     "observations[0].outcome: required, but missing");
	expect_error(DOC("\"observations\":[{\"role\":\"alloc\",\"outcome\":\"lost\"}]"),
		     -NC_E_SCHEMA, "observations[0].outcome: unknown value \"lost\"");
	expect_error(DOC("\"observations\":[{\"role\":\"alloc\",\"outcome\":\"timeout\","
			 "\"socket\":256}]"),
		     -NC_E_SCHEMA, "observations[0].socket: must be an integer from 0 to 255");
	expect_error(DOC("\"observations\":[{\"role\":\"alloc\",\"outcome\":\"error\","
			 "\"error_code\":200}]"),
		     -NC_E_SCHEMA, "observations[0].error_code: must be an integer from 300 to 699, "
				   "or null");
	expect_error(DOC("\"observations\":[{\"role\":\"alloc\",\"outcome\":\"timeout\","
			 "\"change\":{\"ip\":1}}]"),
		     -NC_E_SCHEMA, "observations[0].change.ip: must be true or false");
	expect_error(DOC("\"observations\":[{\"role\":\"alloc\",\"outcome\":\"timeout\","
			 "\"dest\":\"[::1]\"}]"),
		     -NC_E_SCHEMA, "observations[0].dest: not an ip:port endpoint: \"[::1]\"");
	expect_error(DOC("\"observations\":[7]"), -NC_E_SCHEMA, "observations[0]: must be an object");
	/* jansson's own checks: duplicate keys, "\u0000" inside strings. */
	expect_error("{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{},\"udp\":{}}",
		     -NC_E_PARSE, "line 1 column 54: duplicate object key");
	expect_error(DOC("\"notes\":[\"a\\u0000b\"]"), -NC_E_PARSE,
		     "line 1 column 68: \\u0000 is not allowed");
}

static void test_reader_too_many_obs(void **state)
{
	size_t cap = 64 + (NC_MAX_OBS + 1) * 48;
	char *doc = malloc(cap), *p = doc;

	p += sprintf(p, "{\"schema\":\"natcheck-result\",\"version\":1,\"udp\":{},\"observations\":[");
	for (int i = 0; i <= NC_MAX_OBS; i++)
		p += sprintf(p, "%s{\"role\":\"alloc\",\"outcome\":\"timeout\"}", i ? "," : "");
	strcpy(p, "]}");
	expect_error(doc, -NC_E_SCHEMA, "observations: 97 entries, at most 96 allowed");
	free(doc);
}

/* Within version 1, a newer writer may add keys: the reader ignores them. */
static void test_reader_forward_compatible(void **state)
{
	static const char doc[] =
		"{\"schema\":\"natcheck-result\",\"version\":1,\"future\":[1,2],"
		"\"udp\":{\"mapping\":\"endpoint-independent\",\"ipv6\":{\"x\":1}},"
		"\"port_mapping\":{\"new-proto\":{\"tested\":\"maybe\"}},"
		"\"observations\":[{\"role\":\"map-primary\",\"outcome\":\"answered\",\"ttl\":64}]}";
	struct nc_result *r = malloc(sizeof(*r));
	char err[200];

	assert_int_equal(nc_result_from_json(doc, sizeof(doc) - 1, r, err, sizeof(err)), 0);
	assert_int_equal(r->udp.mapping, NC_BEH_EI);
	assert_int_equal(r->udp.filtering, NC_BEH_UNKNOWN);
	assert_int_equal(r->n_obs, 1);
	assert_int_equal(r->topology.nat_layers, -1);
	assert_round_trip(r);
	free(r);
}

static void test_reader_accepts(void **state)
{
	static const char *const docs[] = {
		MINIMAL,
		DOC("\"started\":\"2026-11-23T13:26:46.123+01:00\""),
		DOC("\"started\":null,\"tcp\":{},\"topology\":{\"nat_layers\":null}"),
		UDP("\"public\":\"[2001:db8::1]:5\",\"local\":\"[::ffff:10.0.0.1]:1\""),
		UDP("\"rtt_ms\":0,\"hairpin_source\":null,\"allocation\":{\"delta\":null}"),
		/* JSON Schema's integers are values: 1.0 and 3e0 are integers. */
		"{\"schema\":\"natcheck-result\",\"version\":1.0,\"udp\":{\"lifetime_s\":3e0}}",
		UDP("\"rtt_ms\":4294967.295,\"local\":\"1.2.3.4:0\""),
	};
	struct nc_result *r = malloc(sizeof(*r));
	char err[200];

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		if (nc_result_from_json(docs[i], strlen(docs[i]), r, err, sizeof(err)) != 0)
			fail_msg("%s: %s", docs[i], err);
		assert_round_trip(r);
	}
	/* A short error buffer is cut, never overrun; NULL is fine too. */
	assert_int_equal(nc_result_from_json(UDP("\"mapping\":\"cone\""),
					     strlen(UDP("\"mapping\":\"cone\"")), r, err, 8),
			 -NC_E_SCHEMA);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(nc_result_from_json("{", 1, r, NULL, 0), -NC_E_PARSE);
	free(r);
}

static void test_names(void **state)
{
	enum nc_beh b;

	assert_string_equal(nc_beh_name(NC_BEH_APD), "address-and-port-dependent");
	assert_string_equal(nc_beh_name((enum nc_beh)99), "unknown");
	assert_int_equal(nc_beh_parse("address-dependent", &b), 0);
	assert_int_equal(b, NC_BEH_AD);
	assert_int_equal(nc_beh_parse("cone", &b), -NC_E_SCHEMA);
	assert_string_equal(nc_alloc_name(NC_ALLOC_SEQUENTIAL), "sequential");
	assert_string_equal(nc_pooling_name(NC_POOL_ARBITRARY), "arbitrary");
	assert_string_equal(nc_hairpin_src_name(NC_HP_INTERNAL), "internal");
	assert_string_equal(nc_hairpin_src_name(NC_HP_UNKNOWN), "unknown");
	assert_string_equal(nc_role_name(NC_ROLE_FILTER_IP_PORT), "filter-ip-port");
	assert_string_equal(nc_role_name(NC_ROLE_LIFETIME), "lifetime");
	assert_string_equal(nc_role_name(NC_ROLE_COUNT_), "unknown");
	assert_string_equal(nc_outcome_name(NC_OUT_WRONG_SOURCE), "wrong-source");
	assert_string_equal(nc_outcome_name(NC_OUT_NONE), "not-sent");
	assert_string_equal(nc_pm_proto_name(NC_PM_UPNP), "upnp-igd");
}

static void test_note(void **state)
{
	struct nc_result *r = malloc(sizeof(*r));

	nc_result_init(r);
	nc_result_note(r, "a %d", 1);
	nc_result_note(r, "a %d", 1); /* the same sentence again is dropped */
	assert_int_equal(r->n_notes, 1);
	for (int i = 0; i < NC_MAX_NOTES + 5; i++)
		nc_result_note(r, "note %d", i);
	assert_int_equal(r->n_notes, NC_MAX_NOTES);
	free(r);
}

static void verdicts(struct nc_result *r, enum nc_tri reach, enum nc_tri nat, enum nc_beh m,
		     enum nc_beh f)
{
	nc_result_init(r);
	r->udp.reachable = reach;
	r->udp.nat = nat;
	r->udp.mapping = m;
	r->udp.filtering = f;
}

static void test_classic_label(void **state)
{
	static const struct {
		enum nc_tri reach, nat;
		enum nc_beh m, f;
		const char *label;
	} cases[] = {
		{NC_TRI_UNKNOWN, NC_TRI_UNKNOWN, NC_BEH_UNKNOWN, NC_BEH_UNKNOWN, "unknown"},
		{NC_TRI_NO, NC_TRI_UNKNOWN, NC_BEH_UNKNOWN, NC_BEH_UNKNOWN, "UDP blocked"},
		{NC_TRI_YES, NC_TRI_NO, NC_BEH_NONE, NC_BEH_NONE, "open internet"},
		{NC_TRI_YES, NC_TRI_NO, NC_BEH_NONE, NC_BEH_EI, "open internet"},
		{NC_TRI_YES, NC_TRI_NO, NC_BEH_NONE, NC_BEH_APD, "symmetric UDP firewall"},
		{NC_TRI_YES, NC_TRI_NO, NC_BEH_NONE, NC_BEH_AD, "symmetric UDP firewall"},
		{NC_TRI_YES, NC_TRI_NO, NC_BEH_NONE, NC_BEH_UNKNOWN, "unknown"},
		{NC_TRI_YES, NC_TRI_YES, NC_BEH_EI, NC_BEH_EI, "full cone"},
		{NC_TRI_YES, NC_TRI_YES, NC_BEH_EI, NC_BEH_NONE, "full cone"},
		{NC_TRI_YES, NC_TRI_YES, NC_BEH_EI, NC_BEH_AD, "restricted cone"},
		{NC_TRI_YES, NC_TRI_YES, NC_BEH_EI, NC_BEH_APD, "port-restricted cone"},
		{NC_TRI_YES, NC_TRI_YES, NC_BEH_EI, NC_BEH_UNKNOWN, "unknown"},
		{NC_TRI_YES, NC_TRI_YES, NC_BEH_AD, NC_BEH_APD, "symmetric (address-dependent)"},
		{NC_TRI_YES, NC_TRI_YES, NC_BEH_APD, NC_BEH_APD, "symmetric"},
		{NC_TRI_YES, NC_TRI_YES, NC_BEH_APD, NC_BEH_UNKNOWN, "symmetric"},
		{NC_TRI_YES, NC_TRI_YES, NC_BEH_UNKNOWN, NC_BEH_APD, "unknown"},
	};
	struct nc_result *r = malloc(sizeof(*r));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		verdicts(r, cases[i].reach, cases[i].nat, cases[i].m, cases[i].f);
		assert_string_equal(nc_result_classic_label(r), cases[i].label);
		/* Every label is one the reader accepts in summary.classic. */
		assert_round_trip(r);
	}
	free(r);
}

static void test_punch_verdict(void **state)
{
	struct nc_result *r = malloc(sizeof(*r));
	char buf[NC_NOTE_LEN], tiny[12];

	verdicts(r, NC_TRI_YES, NC_TRI_YES, NC_BEH_EI, NC_BEH_APD);
	assert_string_equal(nc_result_punch_verdict(r, buf, sizeof(buf)),
			    "UDP hole punching works with most peers (EIM): it fails only with peers "
			    "behind symmetric NATs (endpoint-dependent mapping), even with "
			    "peer-reflexive learning");
	verdicts(r, NC_TRI_YES, NC_TRI_YES, NC_BEH_EI, NC_BEH_AD);
	assert_string_equal(nc_result_punch_verdict(r, buf, sizeof(buf)),
			    "UDP hole punching works with every peer type tested (EIM with lenient "
			    "filtering): directly with cone NATs, and with symmetric NATs when the "
			    "peer software learns peer-reflexive addresses");
	verdicts(r, NC_TRI_YES, NC_TRI_YES, NC_BEH_APD, NC_BEH_APD);
	assert_string_equal(nc_result_punch_verdict(r, buf, sizeof(buf)),
			    "UDP hole punching fails with peers behind port-restricted or symmetric "
			    "NATs; works with full-cone and restricted-cone peers via peer-reflexive "
			    "learning");
	r->udp.alloc.pattern = NC_ALLOC_SEQUENTIAL;
	r->udp.alloc.delta = 1;
	assert_string_equal(nc_result_punch_verdict(r, buf, sizeof(buf)),
			    "UDP hole punching fails with peers behind port-restricted or symmetric "
			    "NATs; works with full-cone and restricted-cone peers via peer-reflexive "
			    "learning (or port prediction: sequential +1)");
	verdicts(r, NC_TRI_YES, NC_TRI_YES, NC_BEH_AD, NC_BEH_UNKNOWN);
	assert_non_null(strstr(nc_result_punch_verdict(r, buf, sizeof(buf)), "fails with peers"));
	verdicts(r, NC_TRI_NO, NC_TRI_UNKNOWN, NC_BEH_UNKNOWN, NC_BEH_UNKNOWN);
	assert_non_null(strstr(nc_result_punch_verdict(r, buf, sizeof(buf)), "impossible"));
	verdicts(r, NC_TRI_YES, NC_TRI_NO, NC_BEH_NONE, NC_BEH_NONE);
	assert_non_null(strstr(nc_result_punch_verdict(r, buf, sizeof(buf)), "not needed"));
	verdicts(r, NC_TRI_YES, NC_TRI_YES, NC_BEH_UNKNOWN, NC_BEH_APD);
	assert_non_null(strstr(nc_result_punch_verdict(r, buf, sizeof(buf)), "cannot be predicted"));
	/* Every sentence fits the note-sized buffer the report uses, and a short one is cut. */
	for (int m = 0; m <= NC_BEH_APD; m++)
		for (int f = 0; f <= NC_BEH_APD; f++)
			for (int nat = 0; nat <= NC_TRI_YES; nat++) {
				verdicts(r, NC_TRI_YES, (enum nc_tri)nat, (enum nc_beh)m,
					 (enum nc_beh)f);
				r->udp.alloc.pattern = NC_ALLOC_SEQUENTIAL;
				r->udp.alloc.delta = -65535;
				assert_true(strlen(nc_result_punch_verdict(r, buf, sizeof(buf))) <
					    sizeof(buf) - 1);
			}
	assert_int_equal(strlen(nc_result_punch_verdict(r, tiny, sizeof(tiny))), sizeof(tiny) - 1);
	free(r);
}

/* The published examples validate, round-trip, and say what their names promise. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void examples_dir(char *out, size_t cap)
{
	/* __FILE__ is tests/unit/test_result.c as CMake passes it (an absolute path). */
	const char *slash = strrchr(__FILE__, '/');
	int n = slash ? (int)(slash - __FILE__) : 1;

	snprintf(out, cap, "%.*s/../../results/schema/examples", n, slash ? __FILE__ : ".");
}

static void test_examples(void **state)
{
	static const struct {
		const char *file, *classic;
		enum nc_beh m, f;
	} ex[] = {
		{"port-restricted-cone.json", "port-restricted cone", NC_BEH_EI, NC_BEH_APD},
		{"symmetric.json", "symmetric", NC_BEH_APD, NC_BEH_APD},
		{"open-internet.json", "open internet", NC_BEH_NONE, NC_BEH_NONE},
	};
	struct nc_result *r = malloc(sizeof(*r));
	char dir[512], path[700], err[200];
	unsigned seen = 0;
	DIR *dp;
	struct dirent *de;

	examples_dir(dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		size_t len;
		char *doc, *again;
		snprintf(path, sizeof(path), "%s/%s", dir, ex[i].file);
		doc = slurp(path, &len);
		if (nc_result_from_json(doc, len, r, err, sizeof(err)) != 0)
			fail_msg("%s: %s", path, err);
		assert_string_equal(nc_result_classic_label(r), ex[i].classic);
		assert_int_equal(r->udp.mapping, ex[i].m);
		assert_int_equal(r->udp.filtering, ex[i].f);
		assert_true(r->n_obs > 0);
		/* The examples are written as natcheck writes: pretty, same keys, same order. */
		again = nc_result_to_json(r, true);
		assert_non_null(again);
		if (len == strlen(again) + 1 && doc[len - 1] == '\n')
			doc[len - 1] = '\0';
		assert_string_equal(doc, again);
		free(again);
		free(doc);
	}
	/* Any other example that gets added must validate too. */
	dp = opendir(dir);
	assert_non_null(dp);
	while ((de = readdir(dp))) {
		size_t len, n = strlen(de->d_name);
		char *doc;
		if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(sizeof(path) / 2),
				     de->d_name) >= sizeof(path))
			fail_msg("example path too long: %s", de->d_name);
		doc = slurp(path, &len);
		if (nc_result_from_json(doc, len, r, err, sizeof(err)) != 0)
			fail_msg("%s: %s", path, err);
		free(doc);
		seen++;
	}
	closedir(dp);
	assert_true(seen >= 3);
	free(r);
}

/* The published schema states the same vocabulary and limits as the code. */
static json_t *at(json_t *v, const char *path)
{
	const char *whole = path;
	char key[64];

	while (v && *path) {
		size_t n = strcspn(path, "/");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		v = json_object_get(v, key);
		path += n + (path[n] == '/');
	}
	if (!v)
		fail_msg("schema: no %s", whole);
	return v;
}

static void assert_enum(json_t *schema, const char *path, const char *const *words, size_t n)
{
	json_t *e = at(schema, path);

	assert_true(json_is_array(e));
	assert_int_equal(json_array_size(e), n);
	for (size_t i = 0; i < n; i++) {
		size_t j;
		json_t *w;
		bool found = false;
		json_array_foreach(e, j, w)
			found |= json_is_string(w) && strcmp(json_string_value(w), words[i]) == 0;
		if (!found)
			fail_msg("schema %s lacks \"%s\"", path, words[i]);
	}
}

static void test_schema_matches_code(void **state)
{
	char dir[512], path[600];
	const char *beh[5], *roles[NC_ROLE_COUNT_], *outcomes[NC_OUT_MALFORMED + 1], *alloc[4], *pool[4];
	const char *problems[NC_SRV_MALFORMED];
	static const char *const classic[] = {
		"open internet", "full cone", "restricted cone", "port-restricted cone", "symmetric",
		"symmetric (address-dependent)", "symmetric UDP firewall", "UDP blocked", "unknown"};
	json_error_t jerr;
	json_t *s;

	examples_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/../natcheck-result.v1.schema.json", dir);
	s = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!s)
		fail_msg("%s: line %d: %s", path, jerr.line, jerr.text);
	assert_string_equal(json_string_value(at(s, "$schema")),
			    "https://json-schema.org/draft/2020-12/schema");
	assert_string_equal(json_string_value(at(s, "properties/schema/const")), NC_RESULT_SCHEMA);
	assert_int_equal(json_integer_value(at(s, "properties/version/const")), NC_RESULT_VERSION);
	for (int i = 0; i < 5; i++)
		beh[i] = nc_beh_name((enum nc_beh)i);
	for (int i = 0; i < NC_ROLE_COUNT_; i++)
		roles[i] = nc_role_name((enum nc_role)i);
	for (int i = 0; i <= NC_OUT_MALFORMED; i++)
		outcomes[i] = nc_outcome_name((enum nc_outcome)i);
	for (int i = 0; i < NC_SRV_MALFORMED; i++)
		problems[i] = nc_server_problem_name((enum nc_server_problem)(i + 1));
	for (int i = 0; i < 4; i++) {
		alloc[i] = nc_alloc_name((enum nc_alloc)i);
		pool[i] = nc_pooling_name((enum nc_pooling)i);
	}
	assert_enum(s, "$defs/behaviour/enum", beh, 5);
	assert_enum(s, "$defs/observation/properties/role/enum", roles, NC_ROLE_COUNT_);
	assert_enum(s, "$defs/observation/properties/outcome/enum", outcomes, NC_OUT_MALFORMED + 1);
	/* server_problem: its words, and null for "no problem". */
	{
		json_t *e = at(s, "properties/udp/properties/server_problem/enum");
		assert_int_equal(json_array_size(e), NC_SRV_MALFORMED + 1);
		assert_true(json_is_null(json_array_get(e, NC_SRV_MALFORMED)));
		json_array_remove(e, NC_SRV_MALFORMED);
		assert_enum(s, "properties/udp/properties/server_problem/enum", problems,
			    NC_SRV_MALFORMED);
	}
	assert_int_equal(json_integer_value(at(s, "properties/server/properties/unreachable/maxItems")),
			 NC_MAX_UNREACHABLE);
	assert_enum(s, "properties/udp/properties/allocation/properties/pattern/enum", alloc, 4);
	assert_enum(s, "properties/udp/properties/pooling/enum", pool, 4);
	assert_enum(s, "properties/summary/properties/classic/enum", classic, 9);
	assert_int_equal(json_integer_value(at(s, "properties/observations/maxItems")), NC_MAX_OBS);
	assert_int_equal(json_integer_value(at(s, "properties/notes/maxItems")), NC_MAX_NOTES);
	assert_int_equal(json_integer_value(at(s, "properties/notes/items/maxLength")),
			 NC_NOTE_LEN - 1);
	assert_int_equal(json_integer_value(at(s, "properties/udp/properties/public_addresses/maxItems")),
			 NC_MAX_PUBLIC);
	assert_int_equal(
		json_integer_value(at(s, "properties/udp/properties/allocation/properties/samples/maxItems")),
		NC_MAX_ALLOC);
	for (int p = 0; p < NC_PM_COUNT; p++) {
		snprintf(path, sizeof(path), "properties/port_mapping/properties/%s/$ref",
			 nc_pm_proto_name((enum nc_pm_proto)p));
		assert_string_equal(json_string_value(at(s, path)), "#/$defs/portmap");
	}
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_empty),
		cmocka_unit_test(test_round_trip_full),
		cmocka_unit_test(test_round_trip_edges),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_reader_too_many_obs),
		cmocka_unit_test(test_reader_forward_compatible),
		cmocka_unit_test(test_reader_accepts),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_classic_label),
		cmocka_unit_test(test_punch_verdict),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_schema_matches_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
