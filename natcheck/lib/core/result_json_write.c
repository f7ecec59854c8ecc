/* The result model written as JSON (schema natcheck-result v1, jansson). */
#include <natcheck/result.h>

#include "result_names.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- JSON writer ----------------------------------------------------------------------- */

/* Text from the network (the server's SOFTWARE, a router's error) or cut by snprintf may be
 * invalid UTF-8, which jansson refuses. Each byte that does not start a well-formed sequence
 * (RFC 3629 §4: no overlongs, no surrogates, nothing above U+10FFFF) becomes '?'. The result
 * is never longer than the input, so it still fits the field it came from. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 1;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 2;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 3;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* UTF-16 surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* above U+10FFFF */
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i <= need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need + 1;
}

static json_t *j_text_n(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap ? cap - 1 : 0);
	char *tmp = malloc(n + 1);
	json_t *v;

	if (!tmp)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq_len((const unsigned char *)s + i, n - i);
		if (k == 0) {
			tmp[i++] = '?';
		} else {
			memcpy(tmp + i, s + i, k);
			i += k;
		}
	}
	tmp[n] = '\0';
	v = json_stringn(tmp, n);
	free(tmp);
	return v;
}

/* A text field: null when empty. */
#define J_TEXT(field) ((field)[0] ? j_text_n((field), sizeof(field)) : json_null())

static json_t *j_tri(enum nc_tri t)
{
	return t == NC_TRI_UNKNOWN ? json_null() : json_boolean(t == NC_TRI_YES);
}

static json_t *j_ep(const struct nc_addr *a)
{
	char buf[NC_ADDR_STRLEN];
	return nc_addr_is_set(a) ? json_string(nc_addr_str(a, buf)) : json_null();
}

static json_t *j_ip(const struct nc_addr *a)
{
	char buf[NC_ADDR_STRLEN];
	return nc_addr_is_set(a) ? json_string(nc_addr_ip_str(a, buf)) : json_null();
}

static json_t *j_uint_or_null(uint32_t v)
{
	return v ? json_integer((json_int_t)v) : json_null();
}

/* Building an object key by key: json_object_set_new() takes (and on failure drops) the
 * value, and refuses NULL, so one flag records any allocation failure on the way. */
struct jb {
	bool ok;
};

static json_t *put(struct jb *b, json_t *obj, const char *key, json_t *v)
{
	if (!obj || json_object_set_new(obj, key, v) < 0)
		b->ok = false;
	return obj;
}

static void push(struct jb *b, json_t *arr, json_t *v)
{
	if (!arr || json_array_append_new(arr, v) < 0)
		b->ok = false;
}

/* --- revision 2: mapping stability, TCP tests, bounce, hops, samples, derived notes ----- */

static void udp_stability_json(struct jb *b, json_t *o, const struct nc_udp_result *u)
{
	put(b, o, "mapping_stable", j_tri(u->mapping_stable));
	put(b, o, "mapping_change_ms", u->mapping_stable == NC_TRI_NO
					       ? json_integer((json_int_t)u->mapping_change_ms)
					       : json_null());
}

static json_t *tcp_obs_json(struct jb *b, const struct nc_tcp_obs *t)
{
	json_t *o = json_object();

	put(b, o, "test", json_string(nc_tcp_test_name(t->test)));
	put(b, o, "outcome", json_string(nc_outcome_name(t->outcome)));
	put(b, o, "arrived", j_tri(t->arrived));
	put(b, o, "report", t->report ? json_string(nc_cb_report_name(t->report)) : json_null());
	put(b, o, "error_code", t->error_code ? json_integer(t->error_code) : json_null());
	put(b, o, "at_ms", json_integer((json_int_t)t->at_ms));
	put(b, o, "wait_ms", j_uint_or_null(t->wait_ms));
	put(b, o, "elapsed_ms", j_uint_or_null(t->elapsed_ms));
	put(b, o, "local", j_ep(&t->local));
	put(b, o, "dest", j_ep(&t->dest));
	put(b, o, "mapped", j_ep(&t->mapped));
	put(b, o, "from", j_ep(&t->from));
	return o;
}

static json_t *bounce_json(struct jb *b, const struct nc_bounce *bn)
{
	json_t *o;

	if (!bn->tested)
		return json_null();
	o = json_object();
	put(b, o, "offered", json_boolean(bn->offered));
	put(b, o, "arrived", j_tri(bn->arrived));
	put(b, o, "from", j_ep(&bn->from));
	return o;
}

static json_t *hops_json(struct jb *b, const struct nc_hops *h)
{
	json_t *o, *routers;

	if (h->n == 0)
		return json_null();
	o = json_object();
	routers = json_array();
	for (unsigned i = 0; i < h->n && i < NC_MAX_HOPS; i++)
		push(b, routers, j_ip(&h->hop[i]));
	put(b, o, "probed", json_integer(h->n));
	put(b, o, "routers", routers);
	put(b, o, "reached_at", h->reached_at ? json_integer(h->reached_at) : json_null());
	return o;
}

static json_t *track_json(struct jb *b, const struct nc_map_track *t)
{
	json_t *o, *arr;

	if (t->n == 0)
		return json_null();
	o = json_object();
	arr = json_array();
	for (unsigned i = 0; i < t->n && i < NC_MAX_MAP_SAMPLES; i++) {
		json_t *s = json_object();
		put(b, s, "at_ms", json_integer((json_int_t)t->s[i].at_ms));
		put(b, s, "public", j_ep(&t->s[i].public_ep));
		push(b, arr, s);
	}
	put(b, o, "local", j_ep(&t->local));
	put(b, o, "samples", arr);
	return o;
}

static json_t *udp_json(struct jb *b, const struct nc_udp_result *u)
{
	json_t *o = json_object(), *alloc = json_object(), *samples = json_array();
	json_t *ips = json_array();

	for (unsigned i = 0; i < u->alloc.n && i < NC_MAX_ALLOC; i++) {
		json_t *s = json_object();
		put(b, s, "local_port", json_integer(u->alloc.s[i].local_port));
		put(b, s, "public", j_ep(&u->alloc.s[i].public_ep));
		push(b, samples, s);
	}
	put(b, alloc, "pattern", json_string(nc_alloc_name(u->alloc.pattern)));
	put(b, alloc, "delta",
	    u->alloc.pattern == NC_ALLOC_SEQUENTIAL ? json_integer(u->alloc.delta) : json_null());
	put(b, alloc, "parity", j_tri(u->alloc.parity));
	/* The fields added after the first documents are optional: written when they say
	 * something, so that absent and null read alike. */
	if (u->alloc.port_overloading != NC_TRI_UNKNOWN)
		put(b, alloc, "port_overloading", j_tri(u->alloc.port_overloading));
	put(b, alloc, "samples", samples);
	/* An unset slot is not an address: leave it out rather than write null. */
	for (unsigned i = 0; i < u->n_public && i < NC_MAX_PUBLIC; i++)
		if (nc_addr_is_set(&u->public_ips[i]))
			push(b, ips, j_ip(&u->public_ips[i]));

	put(b, o, "reachable", j_tri(u->reachable));
	put(b, o, "nat", j_tri(u->nat));
	put(b, o, "mapping", json_string(nc_beh_name(u->mapping)));
	put(b, o, "filtering", json_string(nc_beh_name(u->filtering)));
	put(b, o, "mapping_port_only", json_boolean(u->mapping_port_only));
	put(b, o, "local", j_ep(&u->local));
	put(b, o, "public", j_ep(&u->public_ep));
	put(b, o, "port_preservation", j_tri(u->port_preserved));
	put(b, o, "allocation", alloc);
	put(b, o, "pooling", json_string(nc_pooling_name(u->pooling)));
	put(b, o, "public_addresses", ips);
	put(b, o, "hairpin", j_tri(u->hairpin));
	put(b, o, "hairpin_source", u->hairpin_src > NC_HP_UNKNOWN && u->hairpin_src <= NC_HP_OTHER
					    ? json_string(nc_hairpin_src_name(u->hairpin_src))
					    : json_null());
	put(b, o, "hairpin_from", j_ep(&u->hairpin_from));
	put(b, o, "alg", j_tri(u->alg));
	if (nc_server_problem_name(u->server_problem))
		put(b, o, "server_problem", json_string(nc_server_problem_name(u->server_problem)));
	put(b, o, "rtt_ms", u->rtt_us ? json_real(u->rtt_us / 1000.0) : json_null());
	put(b, o, "lifetime_s", j_uint_or_null(u->lifetime_s));
	put(b, o, "lifetime_upper_s", j_uint_or_null(u->lifetime_upper_s));
	put(b, o, "inbound_refresh", j_tri(u->inbound_refresh));
	udp_stability_json(b, o, u);
	return o;
}

static json_t *tcp_json(struct jb *b, const struct nc_tcp_result *t)
{
	json_t *o = json_object();

	put(b, o, "tested", json_boolean(t->tested));
	put(b, o, "mapping", json_string(nc_beh_name(t->mapping)));
	put(b, o, "filtering", json_string(nc_beh_name(t->filtering)));
	put(b, o, "consistent", j_tri(t->consistent));
	put(b, o, "simultaneous_open", j_tri(t->simultaneous_open));
	put(b, o, "hairpin", j_tri(t->hairpin));
	put(b, o, "unsolicited", J_TEXT(t->unsolicited));
	put(b, o, "unsolicited_ms",
	    t->unsolicited[0] ? json_integer((json_int_t)t->unsolicited_ms) : json_null());
	return o;
}

static json_t *tcp_probes_json(struct jb *b, const struct nc_result *r)
{
	json_t *arr = json_array();

	for (unsigned i = 0; i < r->n_tcp_obs && i < NC_MAX_TCP_OBS; i++)
		push(b, arr, tcp_obs_json(b, &r->tcp_obs[i]));
	return arr;
}

static json_t *portmap_json(struct jb *b, const struct nc_portmap_result *m)
{
	json_t *o = json_object();

	put(b, o, "tested", json_boolean(m->tested));
	put(b, o, "present", j_tri(m->present));
	put(b, o, "external", j_ip(&m->external));
	put(b, o, "test_mapping", j_tri(m->test_mapping));
	put(b, o, "deleted", j_tri(m->deleted));
	put(b, o, "error", J_TEXT(m->error));
	return o;
}

static json_t *obs_json(struct jb *b, const struct nc_obs *ob)
{
	json_t *o = json_object(), *ch = json_object();

	/* CHANGE-REQUEST bits, RFC 5780 §7.2: 0x4 change IP, 0x2 change port. */
	put(b, ch, "ip", json_boolean((ob->change_flags & 0x4) != 0));
	put(b, ch, "port", json_boolean((ob->change_flags & 0x2) != 0));
	put(b, o, "role", json_string(nc_role_name(ob->role)));
	put(b, o, "socket", json_integer(ob->socket));
	put(b, o, "outcome", json_string(nc_outcome_name(ob->outcome)));
	put(b, o, "attempts", json_integer(ob->attempts));
	put(b, o, "change", ch);
	put(b, o, "response_port",
	    ob->response_port ? json_integer(ob->response_port) : json_null());
	put(b, o, "error_code", ob->error_code ? json_integer(ob->error_code) : json_null());
	put(b, o, "rtt_us",
	    ob->outcome == NC_OUT_ANSWERED ? json_integer((json_int_t)ob->rtt_us) : json_null());
	put(b, o, "sent_ms", json_integer((json_int_t)ob->sent_ms));
	/* Written only when recorded, like results before them (which lack them) read. */
	if (ob->given_up_us) {
		put(b, o, "last_sent_us", json_integer((json_int_t)ob->last_sent_us));
		put(b, o, "given_up_us", json_integer((json_int_t)ob->given_up_us));
	}
	if (ob->fp_stale)
		put(b, o, "fingerprint_stale", json_true());
	put(b, o, "local", j_ep(&ob->local));
	put(b, o, "dest", j_ep(&ob->dest));
	put(b, o, "expect", j_ep(&ob->expect));
	put(b, o, "from", j_ep(&ob->from));
	put(b, o, "mapped", j_ep(&ob->mapped));
	put(b, o, "xor_mapped", j_ep(&ob->xor_mapped));
	put(b, o, "response_origin", j_ep(&ob->response_origin));
	put(b, o, "other", j_ep(&ob->other));
	return o;
}

char *nc_result_to_json(const struct nc_result *r, bool pretty)
{
	struct jb b = {.ok = true};
	json_t *doc = json_object(), *tool = json_object(), *server = json_object();
	json_t *pm = json_object(), *topo = json_object(), *summary = json_object();
	json_t *notes = json_array(), *obs = json_array(), *unreach = json_array();
	json_t *derived = json_array(), *tcp;
	char punch[NC_NOTE_LEN];
	char *out = NULL;

	put(&b, tool, "name", json_string("natcheck"));
	put(&b, tool, "version",
	    r->tool_version[0] ? J_TEXT(r->tool_version) : json_string("unknown"));
	put(&b, server, "primary", j_ep(&r->server.primary));
	put(&b, server, "other", j_ep(&r->server.other));
	put(&b, server, "secondary", j_ep(&r->server.secondary));
	put(&b, server, "change_request", json_boolean(r->server.change_supported));
	put(&b, server, "software", J_TEXT(r->server.software));
	if (nc_addr_is_set(&r->server.bogus_other))
		put(&b, server, "bogus_other", j_ep(&r->server.bogus_other));
	for (unsigned i = 0; i < r->server.n_unreachable && i < NC_MAX_UNREACHABLE; i++)
		push(&b, unreach, j_ep(&r->server.unreachable[i]));
	/* Always written (an empty list says every endpoint answered or none was tried). */
	put(&b, server, "unreachable", unreach);
	for (int p = 0; p < NC_PM_COUNT; p++)
		put(&b, pm, nc_names_pm.v[p], portmap_json(&b, &r->portmap[p]));
	put(&b, topo, "nat_layers",
	    r->topology.nat_layers >= 0 ? json_integer(r->topology.nat_layers) : json_null());
	put(&b, topo, "cgnat", j_tri(r->topology.cgnat));
	put(&b, topo, "double_nat", j_tri(r->topology.double_nat));
	put(&b, topo, "hops", hops_json(&b, &r->hops));
	put(&b, summary, "classic", json_string(nc_result_classic_label(r)));
	put(&b, summary, "udp_hole_punching",
	    json_string(nc_result_punch_verdict(r, punch, sizeof(punch))));
	for (unsigned i = 0; i < r->n_notes && i < NC_MAX_NOTES; i++) {
		push(&b, notes, j_text_n(r->notes[i], NC_NOTE_LEN));
		if (r->notes_derived & (1u << i))
			push(&b, derived, json_integer(i));
	}
	for (unsigned i = 0; i < r->n_obs && i < NC_MAX_OBS; i++)
		push(&b, obs, obs_json(&b, &r->obs[i]));

	/* Key order is the order of insertion (jansson >= 2.8), so the output is stable. */
	put(&b, doc, "schema", json_string(NC_RESULT_SCHEMA));
	put(&b, doc, "version", json_integer(NC_RESULT_VERSION));
	/* A revision-1 document read and written again still lacks revision 2's evidence. */
	put(&b, doc, "revision", json_integer(r->revision ? r->revision : NC_RESULT_REVISION));
	put(&b, doc, "tool", tool);
	put(&b, doc, "started", J_TEXT(r->started));
	put(&b, doc, "duration_ms", json_integer((json_int_t)r->duration_ms));
	put(&b, doc, "server", server);
	put(&b, doc, "udp", udp_json(&b, &r->udp));
	tcp = tcp_json(&b, &r->tcp);
	put(&b, tcp, "probes", tcp_probes_json(&b, r));
	put(&b, doc, "tcp", tcp);
	put(&b, doc, "bounce", bounce_json(&b, &r->bounce));
	put(&b, doc, "port_mapping", pm);
	put(&b, doc, "topology", topo);
	put(&b, doc, "summary", summary);
	put(&b, doc, "notes", notes);
	put(&b, doc, "derived_notes", derived);
	put(&b, doc, "observations", obs);
	put(&b, doc, "mapping_samples", track_json(&b, &r->track));
	/* rtt_ms is the only real: microseconds in milliseconds need 10 significant digits,
	 * and printing no more keeps 0.1 from becoming 0.10000000000000001. */
	if (b.ok)
		out = json_dumps(doc, (pretty ? JSON_INDENT(2) : JSON_COMPACT) |
					      JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(doc);
	return out;
}

