#include "result.h"

#include "error.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- names ----------------------------------------------------------------------------- */

static const char *const beh_names[] = {"unknown", "none", "endpoint-independent",
					"address-dependent", "address-and-port-dependent"};
static const char *const alloc_names[] = {"unknown", "preserving", "sequential", "random"};
static const char *const pool_names[] = {"unknown", "single", "paired", "arbitrary"};
static const char *const hp_names[] = {NULL, "external", "internal", "other"};
static const char *const role_names[] = {"map-primary", "map-alt-ip", "map-alt-both",
					 "map-alt-port", "map-server2", "filter-control",
					 "filter-ip-port", "filter-port", "alloc", "hairpin",
					 "lifetime"};
static const char *const outcome_names[] = {"not-sent", "answered", "timeout", "wrong-source",
					    "error", "send-failed"};
static const char *const pm_names[] = {"nat-pmp", "pcp", "upnp-igd"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, unsigned v)
{
	return v < n && names[v] ? names[v] : names[0] ? names[0] : "unknown";
}

static int index_of(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

const char *nc_beh_name(enum nc_beh b) { return name_of(beh_names, COUNT(beh_names), b); }
const char *nc_alloc_name(enum nc_alloc a) { return name_of(alloc_names, COUNT(alloc_names), a); }
const char *nc_pooling_name(enum nc_pooling p) { return name_of(pool_names, COUNT(pool_names), p); }
const char *nc_role_name(enum nc_role r) { return r < COUNT(role_names) ? role_names[r] : "unknown"; }
const char *nc_outcome_name(enum nc_outcome o) { return name_of(outcome_names, COUNT(outcome_names), o); }
const char *nc_pm_proto_name(enum nc_pm_proto p) { return p < NC_PM_COUNT ? pm_names[p] : "unknown"; }

const char *nc_hairpin_src_name(enum nc_hairpin_src h)
{
	return h > 0 && h < COUNT(hp_names) ? hp_names[h] : "unknown";
}

int nc_beh_parse(const char *s, enum nc_beh *out)
{
	int i = index_of(beh_names, COUNT(beh_names), s);

	if (i < 0)
		return -NC_E_SCHEMA;
	*out = (enum nc_beh)i;
	return 0;
}

void nc_result_init(struct nc_result *r)
{
	memset(r, 0, sizeof(*r));
	r->version = NC_RESULT_VERSION;
	r->topology.nat_layers = -1;
}

void nc_result_note(struct nc_result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->n_notes >= NC_MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(r->notes[r->n_notes], NC_NOTE_LEN, fmt, ap);
	va_end(ap);
	/* The same sentence twice says nothing new (re-classification repeats notes). */
	for (unsigned i = 0; i < r->n_notes; i++)
		if (strcmp(r->notes[i], r->notes[r->n_notes]) == 0)
			return;
	r->n_notes++;
}

/* --- derived verdicts ------------------------------------------------------------------ */

const char *nc_result_classic_label(const struct nc_result *r)
{
	const struct nc_udp_result *u = &r->udp;

	if (u->reachable == NC_TRI_NO)
		return "UDP blocked";
	if (u->nat == NC_TRI_NO)
		return u->filtering == NC_BEH_NONE ? "open internet" :
		       u->filtering == NC_BEH_UNKNOWN ? "no NAT" : "symmetric UDP firewall";
	switch (u->mapping) {
	case NC_BEH_EI:
		switch (u->filtering) {
		case NC_BEH_EI: return "full cone";
		case NC_BEH_AD: return "restricted cone";
		case NC_BEH_APD: return "port-restricted cone";
		default: return "cone (filtering unknown)";
		}
	case NC_BEH_AD: return "symmetric (address-dependent mapping)";
	case NC_BEH_APD: return "symmetric";
	default: return "unknown";
	}
}

const char *nc_result_punch_verdict(const struct nc_result *r, char *buf, size_t len)
{
	const struct nc_udp_result *u = &r->udp;
	const char *s;

	/* From the punch matrix observed in the lab (sim-recipes §8): EIM on either side lets
	 * a punch succeed unless the other side is endpoint-dependent AND this side filters by
	 * port; endpoint-dependent mapping needs the peer's filtering to be lenient. */
	if (u->reachable == NC_TRI_NO)
		s = "UDP hole punching: impossible, UDP does not get through; only a TCP or relay "
		    "path can work";
	else if (u->nat == NC_TRI_NO && (u->filtering == NC_BEH_NONE))
		s = "UDP hole punching: not needed, this host is directly reachable";
	else if (u->nat == NC_TRI_NO)
		s = "UDP hole punching: works with every peer whose NAT keeps its mapping; a firewall "
		    "filters unsolicited traffic, so the peer must send first or at the same time";
	else if (u->mapping == NC_BEH_EI && (u->filtering == NC_BEH_EI || u->filtering == NC_BEH_AD))
		s = "UDP hole punching: works with almost every peer, including symmetric NATs (with "
		    "peer-reflexive learning)";
	else if (u->mapping == NC_BEH_EI)
		s = "UDP hole punching: works with cone NATs; fails with peers behind symmetric "
		    "(endpoint-dependent) NATs";
	else if (u->mapping == NC_BEH_AD || u->mapping == NC_BEH_APD) {
		if (u->alloc.pattern == NC_ALLOC_SEQUENTIAL) {
			snprintf(buf, len, "UDP hole punching: works only with full-cone and "
					   "restricted-cone peers; with others, port prediction (step %+d) "
					   "may work, else a relay is needed",
				 u->alloc.delta);
			return buf;
		}
		s = "UDP hole punching: works only with full-cone and restricted-cone peers; with "
		    "port-restricted or symmetric peers a relay is needed";
	} else
		s = "UDP hole punching: cannot tell, the mapping behaviour is unknown";
	snprintf(buf, len, "%s", s);
	return buf;
}

/* --- JSON writer ----------------------------------------------------------------------- */

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

static json_t *j_str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *j_uint_or_null(uint32_t v)
{
	return v ? json_integer(v) : json_null();
}

static json_t *udp_json(const struct nc_udp_result *u)
{
	json_t *alloc = json_object(), *samples = json_array(), *ips = json_array();

	for (unsigned i = 0; i < u->alloc.n && i < NC_MAX_ALLOC; i++)
		json_array_append_new(samples, json_pack("{s:i,s:o}", "local_port",
							 u->alloc.s[i].local_port, "public",
							 j_ep(&u->alloc.s[i].public_ep)));
	json_object_set_new(alloc, "pattern", json_string(nc_alloc_name(u->alloc.pattern)));
	json_object_set_new(alloc, "delta", u->alloc.pattern == NC_ALLOC_SEQUENTIAL
						   ? json_integer(u->alloc.delta) : json_null());
	json_object_set_new(alloc, "parity", j_tri(u->alloc.parity));
	json_object_set_new(alloc, "samples", samples);
	for (unsigned i = 0; i < u->n_public && i < NC_MAX_PUBLIC; i++)
		json_array_append_new(ips, j_ip(&u->public_ips[i]));

	return json_pack("{s:o,s:o,s:s,s:s,s:b,s:o,s:o,s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
			 "reachable", j_tri(u->reachable), "nat", j_tri(u->nat),
			 "mapping", nc_beh_name(u->mapping), "filtering", nc_beh_name(u->filtering),
			 "mapping_port_only", u->mapping_port_only,
			 "local", j_ep(&u->local), "public", j_ep(&u->public_ep),
			 "port_preservation", j_tri(u->port_preserved), "allocation", alloc,
			 "pooling", nc_pooling_name(u->pooling), "public_addresses", ips,
			 "hairpin", j_tri(u->hairpin),
			 "hairpin_source", u->hairpin_src ? json_string(nc_hairpin_src_name(u->hairpin_src)) : json_null(),
			 "hairpin_from", j_ep(&u->hairpin_from), "alg", j_tri(u->alg),
			 "rtt_ms", u->rtt_us ? json_real(u->rtt_us / 1000.0) : json_null(),
			 "lifetime_s", j_uint_or_null(u->lifetime_s),
			 "lifetime_upper_s", j_uint_or_null(u->lifetime_upper_s),
			 "inbound_refresh", j_tri(u->inbound_refresh));
}

static json_t *tcp_json(const struct nc_tcp_result *t)
{
	return json_pack("{s:b,s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "tested", t->tested,
			 "mapping", nc_beh_name(t->mapping), "filtering", nc_beh_name(t->filtering),
			 "consistent", j_tri(t->consistent),
			 "simultaneous_open", j_tri(t->simultaneous_open), "hairpin", j_tri(t->hairpin),
			 "unsolicited", j_str_or_null(t->unsolicited),
			 "unsolicited_ms", t->unsolicited[0] ? json_integer(t->unsolicited_ms) : json_null());
}

static json_t *obs_json(const struct nc_obs *o)
{
	return json_pack("{s:s,s:i,s:s,s:i,s:{s:b,s:b},s:o,s:o,s:o,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
			 "role", nc_role_name(o->role), "socket", o->socket,
			 "outcome", nc_outcome_name(o->outcome), "attempts", o->attempts,
			 "change", "ip", (o->change_flags & 0x4) != 0, "port", (o->change_flags & 0x2) != 0,
			 "response_port", o->response_port ? json_integer(o->response_port) : json_null(),
			 "error_code", o->error_code ? json_integer(o->error_code) : json_null(),
			 "rtt_us", o->outcome == NC_OUT_ANSWERED ? json_integer(o->rtt_us) : json_null(),
			 "sent_ms", o->sent_ms,
			 "local", j_ep(&o->local), "dest", j_ep(&o->dest), "expect", j_ep(&o->expect),
			 "from", j_ep(&o->from), "mapped", j_ep(&o->mapped),
			 "xor_mapped", j_ep(&o->xor_mapped), "response_origin", j_ep(&o->response_origin),
			 "other", j_ep(&o->other));
}

char *nc_result_to_json(const struct nc_result *r, bool pretty)
{
	json_t *doc, *pm = json_object(), *notes = json_array(), *obs = json_array();
	char punch[NC_NOTE_LEN];
	char *out;

	for (int p = 0; p < NC_PM_COUNT; p++) {
		const struct nc_portmap_result *m = &r->portmap[p];
		json_object_set_new(pm, pm_names[p],
				    json_pack("{s:b,s:o,s:o,s:o,s:o,s:o}", "tested", m->tested,
					      "present", j_tri(m->present), "external", j_ip(&m->external),
					      "test_mapping", j_tri(m->test_mapping),
					      "deleted", j_tri(m->deleted), "error", j_str_or_null(m->error)));
	}
	for (unsigned i = 0; i < r->n_notes && i < NC_MAX_NOTES; i++)
		json_array_append_new(notes, json_string(r->notes[i]));
	for (unsigned i = 0; i < r->n_obs && i < NC_MAX_OBS; i++)
		json_array_append_new(obs, obs_json(&r->obs[i]));

	doc = json_pack("{s:s,s:i,s:{s:s,s:s},s:o,s:i,s:{s:o,s:o,s:o,s:b,s:o},s:o,s:o,s:o,s:{s:o,s:o,s:o},s:{s:s,s:s},s:o,s:o}",
			"schema", NC_RESULT_SCHEMA, "version", NC_RESULT_VERSION,
			"tool", "name", "natcheck", "version", r->tool_version[0] ? r->tool_version : "unknown",
			"started", j_str_or_null(r->started), "duration_ms", r->duration_ms,
			"server", "primary", j_ep(&r->server.primary), "other", j_ep(&r->server.other),
			"secondary", j_ep(&r->server.secondary), "change_request", r->server.change_supported,
			"software", j_str_or_null(r->server.software),
			"udp", udp_json(&r->udp), "tcp", tcp_json(&r->tcp), "port_mapping", pm,
			"topology", "nat_layers", r->topology.nat_layers >= 0 ? json_integer(r->topology.nat_layers) : json_null(),
			"cgnat", j_tri(r->topology.cgnat), "double_nat", j_tri(r->topology.double_nat),
			"summary", "classic", nc_result_classic_label(r),
			"udp_hole_punching", nc_result_punch_verdict(r, punch, sizeof(punch)),
			"notes", notes, "observations", obs);
	if (!doc)
		return NULL;
	out = json_dumps(doc, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return out;
}

/* --- JSON reader / validator ----------------------------------------------------------- */

struct rd {
	char *err;
	size_t errlen;
	bool failed;
};

static void bad(struct rd *d, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void bad(struct rd *d, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->failed)
		return;
	d->failed = true;
	if (!d->err || d->errlen == 0)
		return;
	n = snprintf(d->err, d->errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= d->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static json_t *member(struct rd *d, json_t *obj, const char *path, const char *key, bool required)
{
	json_t *v = json_object_get(obj, key);

	if (!v && required)
		bad(d, path, "missing key \"%s\"", key);
	return v;
}

static void rd_tri(struct rd *d, json_t *obj, const char *path, const char *key, enum nc_tri *out)
{
	json_t *v = member(d, obj, path, key, false);

	if (!v || json_is_null(v))
		*out = NC_TRI_UNKNOWN;
	else if (json_is_boolean(v))
		*out = json_is_true(v) ? NC_TRI_YES : NC_TRI_NO;
	else
		bad(d, path, "\"%s\" must be true, false or null", key);
}

static void rd_bool(struct rd *d, json_t *obj, const char *path, const char *key, bool *out)
{
	json_t *v = member(d, obj, path, key, false);

	if (!v)
		*out = false;
	else if (json_is_boolean(v))
		*out = json_is_true(v);
	else
		bad(d, path, "\"%s\" must be true or false", key);
}

static void rd_enum(struct rd *d, json_t *obj, const char *path, const char *key,
		    const char *const *names, size_t n, unsigned *out, bool required)
{
	json_t *v = member(d, obj, path, key, required);
	int i;

	if (!v || (json_is_null(v) && !required)) {
		*out = 0;
		return;
	}
	if (!json_is_string(v)) {
		bad(d, path, "\"%s\" must be a string", key);
		return;
	}
	i = index_of(names, n, json_string_value(v));
	if (i < 0)
		bad(d, path, "\"%s\": unknown value \"%s\"", key, json_string_value(v));
	else
		*out = (unsigned)i;
}

static void rd_int(struct rd *d, json_t *obj, const char *path, const char *key, long long lo,
		   long long hi, long long *out, long long dflt)
{
	json_t *v = member(d, obj, path, key, false);

	*out = dflt;
	if (!v || json_is_null(v))
		return;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		bad(d, path, "\"%s\" must be an integer from %lld to %lld", key, lo, hi);
		return;
	}
	*out = json_integer_value(v);
}

static void rd_str(struct rd *d, json_t *obj, const char *path, const char *key, char *out,
		   size_t cap)
{
	json_t *v = member(d, obj, path, key, false);

	out[0] = '\0';
	if (!v || json_is_null(v))
		return;
	if (!json_is_string(v) || json_string_length(v) >= cap) {
		bad(d, path, "\"%s\" must be a string shorter than %zu bytes", key, cap);
		return;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
}

static void rd_addr(struct rd *d, json_t *obj, const char *path, const char *key,
		    struct nc_addr *out, bool with_port)
{
	json_t *v = member(d, obj, path, key, false);
	int err;

	memset(out, 0, sizeof(*out));
	if (!v || json_is_null(v))
		return;
	if (!json_is_string(v)) {
		bad(d, path, "\"%s\" must be an address string or null", key);
		return;
	}
	err = with_port ? nc_addr_parse(json_string_value(v), 0, out)
			: nc_addr_parse_ip(json_string_value(v), out);
	if (err < 0 || (with_port && out->port == 0 && !strchr(json_string_value(v), ':')))
		bad(d, path, "\"%s\": not an %s: \"%s\"", key, with_port ? "ip:port endpoint" : "IP address",
		    json_string_value(v));
}

static json_t *rd_obj(struct rd *d, json_t *obj, const char *path, const char *key, bool required)
{
	json_t *v = member(d, obj, path, key, required);

	if (v && !json_is_object(v)) {
		bad(d, path, "\"%s\" must be an object", key);
		return NULL;
	}
	return v;
}

static json_t *rd_arr(struct rd *d, json_t *obj, const char *path, const char *key, size_t max)
{
	json_t *v = member(d, obj, path, key, false);

	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_array(v)) {
		bad(d, path, "\"%s\" must be an array", key);
		return NULL;
	}
	if (json_array_size(v) > max) {
		bad(d, path, "\"%s\" has %zu entries, at most %zu allowed", key, json_array_size(v), max);
		return NULL;
	}
	return v;
}

static void rd_udp(struct rd *d, json_t *u, struct nc_udp_result *out)
{
	json_t *alloc, *arr, *v;
	long long x;
	unsigned e;
	size_t i;

	rd_tri(d, u, "udp", "reachable", &out->reachable);
	rd_tri(d, u, "udp", "nat", &out->nat);
	rd_enum(d, u, "udp", "mapping", beh_names, COUNT(beh_names), &e, true);
	out->mapping = (enum nc_beh)e;
	rd_enum(d, u, "udp", "filtering", beh_names, COUNT(beh_names), &e, true);
	out->filtering = (enum nc_beh)e;
	rd_bool(d, u, "udp", "mapping_port_only", &out->mapping_port_only);
	rd_addr(d, u, "udp", "local", &out->local, true);
	rd_addr(d, u, "udp", "public", &out->public_ep, true);
	rd_tri(d, u, "udp", "port_preservation", &out->port_preserved);
	if ((alloc = rd_obj(d, u, "udp", "allocation", false))) {
		rd_enum(d, alloc, "udp.allocation", "pattern", alloc_names, COUNT(alloc_names), &e, false);
		out->alloc.pattern = (enum nc_alloc)e;
		rd_int(d, alloc, "udp.allocation", "delta", -65535, 65535, &x, 0);
		out->alloc.delta = (int32_t)x;
		rd_tri(d, alloc, "udp.allocation", "parity", &out->alloc.parity);
		arr = rd_arr(d, alloc, "udp.allocation", "samples", NC_MAX_ALLOC);
		json_array_foreach(arr, i, v) {
			if (!json_is_object(v)) {
				bad(d, "udp.allocation.samples", "entries must be objects");
				break;
			}
			rd_int(d, v, "udp.allocation.samples", "local_port", 1, 65535, &x, 0);
			out->alloc.s[i].local_port = (uint16_t)x;
			rd_addr(d, v, "udp.allocation.samples", "public", &out->alloc.s[i].public_ep, true);
			out->alloc.n = (uint8_t)(i + 1);
		}
	}
	rd_enum(d, u, "udp", "pooling", pool_names, COUNT(pool_names), &e, false);
	out->pooling = (enum nc_pooling)e;
	arr = rd_arr(d, u, "udp", "public_addresses", NC_MAX_PUBLIC);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || nc_addr_parse_ip(json_string_value(v), &out->public_ips[i]) < 0) {
			bad(d, "udp.public_addresses", "entries must be IP addresses");
			break;
		}
		out->n_public = (uint8_t)(i + 1);
	}
	rd_tri(d, u, "udp", "hairpin", &out->hairpin);
	rd_enum(d, u, "udp", "hairpin_source", hp_names, COUNT(hp_names), &e, false);
	out->hairpin_src = (enum nc_hairpin_src)e;
	rd_addr(d, u, "udp", "hairpin_from", &out->hairpin_from, true);
	rd_tri(d, u, "udp", "alg", &out->alg);
	v = member(d, u, "udp", "rtt_ms", false);
	if (v && !json_is_null(v)) {
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 3.6e6)
			bad(d, "udp", "\"rtt_ms\" must be a non-negative number");
		else
			out->rtt_us = (uint32_t)(json_number_value(v) * 1000.0 + 0.5);
	}
	rd_int(d, u, "udp", "lifetime_s", 0, 86400 * 7, &x, 0);
	out->lifetime_s = (uint32_t)x;
	rd_int(d, u, "udp", "lifetime_upper_s", 0, 86400 * 7, &x, 0);
	out->lifetime_upper_s = (uint32_t)x;
	rd_tri(d, u, "udp", "inbound_refresh", &out->inbound_refresh);
}

static void rd_tcp(struct rd *d, json_t *t, struct nc_tcp_result *out)
{
	unsigned e;
	long long x;

	rd_bool(d, t, "tcp", "tested", &out->tested);
	rd_enum(d, t, "tcp", "mapping", beh_names, COUNT(beh_names), &e, false);
	out->mapping = (enum nc_beh)e;
	rd_enum(d, t, "tcp", "filtering", beh_names, COUNT(beh_names), &e, false);
	out->filtering = (enum nc_beh)e;
	rd_tri(d, t, "tcp", "consistent", &out->consistent);
	rd_tri(d, t, "tcp", "simultaneous_open", &out->simultaneous_open);
	rd_tri(d, t, "tcp", "hairpin", &out->hairpin);
	rd_str(d, t, "tcp", "unsolicited", out->unsolicited, sizeof(out->unsolicited));
	rd_int(d, t, "tcp", "unsolicited_ms", 0, 600000, &x, 0);
	out->unsolicited_ms = (uint32_t)x;
}

static void rd_obs(struct rd *d, json_t *o, struct nc_obs *out)
{
	static const char *const path = "observations[]";
	json_t *ch;
	unsigned e;
	long long x;

	rd_enum(d, o, path, "role", role_names, COUNT(role_names), &e, true);
	out->role = (uint8_t)e;
	rd_enum(d, o, path, "outcome", outcome_names, COUNT(outcome_names), &e, true);
	out->outcome = (uint8_t)e;
	rd_int(d, o, path, "socket", 0, 255, &x, 0);
	out->socket = (uint8_t)x;
	rd_int(d, o, path, "attempts", 0, 255, &x, 0);
	out->attempts = (uint8_t)x;
	if ((ch = rd_obj(d, o, path, "change", false))) {
		bool ip = false, port = false;
		rd_bool(d, ch, "observations[].change", "ip", &ip);
		rd_bool(d, ch, "observations[].change", "port", &port);
		out->change_flags = (ip ? 0x4u : 0) | (port ? 0x2u : 0);
	}
	rd_int(d, o, path, "response_port", 0, 65535, &x, 0);
	out->response_port = (uint16_t)x;
	rd_int(d, o, path, "error_code", 0, 699, &x, 0);
	out->error_code = (uint16_t)x;
	rd_int(d, o, path, "rtt_us", 0, UINT32_MAX, &x, 0);
	out->rtt_us = (uint32_t)x;
	rd_int(d, o, path, "sent_ms", 0, UINT32_MAX, &x, 0);
	out->sent_ms = (uint32_t)x;
	rd_addr(d, o, path, "local", &out->local, true);
	rd_addr(d, o, path, "dest", &out->dest, true);
	rd_addr(d, o, path, "expect", &out->expect, true);
	rd_addr(d, o, path, "from", &out->from, true);
	rd_addr(d, o, path, "mapped", &out->mapped, true);
	rd_addr(d, o, path, "xor_mapped", &out->xor_mapped, true);
	rd_addr(d, o, path, "response_origin", &out->response_origin, true);
	rd_addr(d, o, path, "other", &out->other, true);
}

static void rd_doc(struct rd *d, json_t *doc, struct nc_result *r)
{
	json_t *v, *o, *arr;
	long long x;
	size_t i;

	if (!json_is_object(doc)) {
		bad(d, "$", "the document must be a JSON object");
		return;
	}
	v = member(d, doc, "$", "schema", true);
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), NC_RESULT_SCHEMA) != 0))
		bad(d, "schema", "must be \"%s\"", NC_RESULT_SCHEMA);
	v = member(d, doc, "$", "version", true);
	if (v && (!json_is_integer(v) || json_integer_value(v) < 1))
		bad(d, "version", "must be a positive integer");
	else if (v && json_integer_value(v) > NC_RESULT_VERSION)
		bad(d, "version", "%lld is newer than this program understands (%d)",
		    (long long)json_integer_value(v), NC_RESULT_VERSION);
	if (d->failed)
		return;
	if ((o = rd_obj(d, doc, "$", "tool", false)))
		rd_str(d, o, "tool", "version", r->tool_version, sizeof(r->tool_version));
	rd_str(d, doc, "$", "started", r->started, sizeof(r->started));
	rd_int(d, doc, "$", "duration_ms", 0, UINT32_MAX, &x, 0);
	r->duration_ms = (uint32_t)x;
	if ((o = rd_obj(d, doc, "$", "server", false))) {
		rd_addr(d, o, "server", "primary", &r->server.primary, true);
		rd_addr(d, o, "server", "other", &r->server.other, true);
		rd_addr(d, o, "server", "secondary", &r->server.secondary, true);
		rd_bool(d, o, "server", "change_request", &r->server.change_supported);
		rd_str(d, o, "server", "software", r->server.software, sizeof(r->server.software));
	}
	if ((o = rd_obj(d, doc, "$", "udp", true)))
		rd_udp(d, o, &r->udp);
	if ((o = rd_obj(d, doc, "$", "tcp", false)))
		rd_tcp(d, o, &r->tcp);
	if ((o = rd_obj(d, doc, "$", "port_mapping", false))) {
		for (int p = 0; p < NC_PM_COUNT; p++) {
			struct nc_portmap_result *m = &r->portmap[p];
			json_t *po = rd_obj(d, o, "port_mapping", pm_names[p], false);
			if (!po)
				continue;
			rd_bool(d, po, pm_names[p], "tested", &m->tested);
			rd_tri(d, po, pm_names[p], "present", &m->present);
			rd_addr(d, po, pm_names[p], "external", &m->external, false);
			rd_tri(d, po, pm_names[p], "test_mapping", &m->test_mapping);
			rd_tri(d, po, pm_names[p], "deleted", &m->deleted);
			rd_str(d, po, pm_names[p], "error", m->error, sizeof(m->error));
		}
	}
	if ((o = rd_obj(d, doc, "$", "topology", false))) {
		rd_int(d, o, "topology", "nat_layers", 0, 16, &x, -1);
		r->topology.nat_layers = (int8_t)x;
		rd_tri(d, o, "topology", "cgnat", &r->topology.cgnat);
		rd_tri(d, o, "topology", "double_nat", &r->topology.double_nat);
	}
	arr = rd_arr(d, doc, "$", "notes", NC_MAX_NOTES);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) >= NC_NOTE_LEN) {
			bad(d, "notes", "entries must be strings shorter than %d bytes", NC_NOTE_LEN);
			break;
		}
		memcpy(r->notes[i], json_string_value(v), json_string_length(v) + 1);
		r->n_notes = (uint8_t)(i + 1);
	}
	arr = rd_arr(d, doc, "$", "observations", NC_MAX_OBS);
	json_array_foreach(arr, i, v) {
		if (!json_is_object(v)) {
			bad(d, "observations", "entries must be objects");
			break;
		}
		rd_obs(d, v, &r->obs[i]);
		r->n_obs = (uint16_t)(i + 1);
	}
}

int nc_result_from_json(const char *text, size_t len, struct nc_result *r, char *err, size_t errlen)
{
	json_error_t jerr;
	struct rd d = {.err = err, .errlen = errlen};
	struct nc_result *tmp;
	json_t *doc;

	if (err && errlen)
		err[0] = '\0';
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		if (err && errlen)
			snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return -NC_E_PARSE;
	}
	tmp = malloc(sizeof(*tmp));
	if (!tmp) {
		json_decref(doc);
		return -NC_E_NOMEM;
	}
	nc_result_init(tmp);
	rd_doc(&d, doc, tmp);
	json_decref(doc);
	if (!d.failed) /* commit only a document that is valid as a whole */
		memcpy(r, tmp, sizeof(*r));
	free(tmp);
	return d.failed ? -NC_E_SCHEMA : 0;
}
