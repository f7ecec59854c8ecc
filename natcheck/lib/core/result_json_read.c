/* The validating JSON reader: the reference implementation of the natcheck-result schema.
 * A document is either entirely valid and read, or rejected with the path of its first fault
 * and *r left untouched. */
#include <natcheck/result.h>

#include "result_names.h"

#include <natcheck/error.h>

#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrd.h"

/* --- JSON reader / validator ----------------------------------------------------------- */

/* Every error names the JSON path of the value at fault: "udp.mapping", "observations[3].dest",
 * "port_mapping.pcp.external". Only the first error is kept. */
#define PATH_LEN 96

static const char *sub_path(char buf[PATH_LEN], const char *path, const char *key)
{
	/* Paths are short and fixed by this file; a cut one would still name the place. */
	if (snprintf(buf, PATH_LEN, "%s%s%s", path, *path ? "." : "", key) >= PATH_LEN)
		buf[PATH_LEN - 1] = '\0';
	return buf;
}

static const char *idx_path(char buf[PATH_LEN], const char *path, size_t i)
{
	if (snprintf(buf, PATH_LEN, "%s[%zu]", path, i) >= PATH_LEN)
		buf[PATH_LEN - 1] = '\0';
	return buf;
}

enum { OPT = NC_JRD_OPT, REQ = NC_JRD_REQ, NULLABLE = NC_JRD_NULLABLE };

static void rd_bool(struct nc_jrd *d, json_t *obj, const char *path, const char *key, bool *out)
{
	json_t *v = nc_jrd_member(d, obj, path, key, OPT);

	*out = false;
	if (!v)
		return;
	if (json_is_boolean(v))
		*out = json_is_true(v);
	else
		nc_jrd_bad(d, path, key, "must be true or false");
}

static void rd_enum(struct nc_jrd *d, json_t *obj, const char *path, const char *key,
		    const struct nc_names *names, unsigned *out, int fl)
{
	json_t *v = nc_jrd_member(d, obj, path, key, fl);
	int i;

	*out = 0;
	if (!v)
		return;
	if (!json_is_string(v)) {
		nc_jrd_bad(d, path, key, "must be a string%s", fl & NULLABLE ? " or null" : "");
		return;
	}
	i = nc_names_index(names, json_string_value(v));
	if (i < 0)
		nc_jrd_bad(d, path, key, "unknown value \"%.40s\"", json_string_value(v));
	else
		*out = (unsigned)i;
}

/* JSON Schema counts 1.0 and 1e3 as integers (the value decides, not the spelling); so does
 * the reader. The writer always spells integers without a fraction. */
/* Any whole number a long long holds exactly through a double (|x| <= 2^53). */
static bool int_value(json_t *v, long long *out)
{
	return nc_jrd_whole(v, -9007199254740992.0, 9007199254740992.0, out);
}

static void rd_int(struct nc_jrd *d, json_t *obj, const char *path, const char *key, long long lo,
		   long long hi, long long *out, long long dflt, int fl)
{
	json_t *v = nc_jrd_member(d, obj, path, key, fl);
	long long x;

	*out = dflt;
	if (!v)
		return;
	if (!int_value(v, &x) || x < lo || x > hi) {
		nc_jrd_bad(d, path, key, "must be an integer from %lld to %lld%s", lo, hi,
		    fl & NULLABLE ? ", or null" : "");
		return;
	}
	*out = x;
}

static void rd_str(struct nc_jrd *d, json_t *obj, const char *path, const char *key, char *out,
		   size_t cap, int fl)
{
	json_t *v = nc_jrd_member(d, obj, path, key, fl);

	out[0] = '\0';
	if (!v)
		return;
	/* jansson has checked the UTF-8 and, without JSON_ALLOW_NUL, refused "\u0000". */
	if (!json_is_string(v) || json_string_length(v) >= cap) {
		nc_jrd_bad(d, path, key, "must be a string of at most %zu bytes%s", cap - 1,
		    fl & NULLABLE ? ", or null" : "");
		return;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
}

/* "ip:port" or "[ip6]:port", as nc_addr_str() writes them; the port is required and may be
 * 0 to 65535 (the writer prints whatever the probe recorded). */
static int parse_ep(const char *s, struct nc_addr *out)
{
	size_t n = strlen(s);
	char host[NC_ADDR_STRLEN];
	const char *colon = strrchr(s, ':');
	int err;

	if (!colon || colon[1] == '\0' || n >= sizeof(host))
		return -NC_E_PARSE;
	if (s[0] == '[') {
		if (colon == s || colon[-1] != ']')
			return -NC_E_PARSE;
	} else if (strchr(s, ':') != colon) {
		return -NC_E_PARSE; /* an IPv6 address needs brackets */
	}
	/* The port as the writer prints it: decimal, no sign, no leading zero. */
	if (strlen(colon + 1) > 5 || (colon[1] == '0' && colon[2] != '\0'))
		return -NC_E_PARSE;
	if (strcmp(colon, ":0") == 0) {
		/* nc_addr_parse() rejects port 0: parse the address alone. */
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		err = nc_addr_parse(host, 0, out);
	} else {
		err = nc_addr_parse(s, 0, out);
	}
	if (err == 0 && s[0] == '[' && out->family != AF_INET6)
		return -NC_E_PARSE; /* brackets are for IPv6 only */
	return err;
}

/* An endpoint ("ip:port") or, without with_port, an IP address; null reads as unset. */
static void rd_addr(struct nc_jrd *d, json_t *obj, const char *path, const char *key,
		    struct nc_addr *out, bool with_port)
{
	json_t *v = nc_jrd_member(d, obj, path, key, NULLABLE);

	memset(out, 0, sizeof(*out));
	if (!v)
		return;
	if (!json_is_string(v)) {
		nc_jrd_bad(d, path, key, "must be %s string or null",
		    with_port ? "an \"ip:port\"" : "an IP address");
		return;
	}
	if ((with_port ? parse_ep(json_string_value(v), out)
		       : nc_addr_parse_ip(json_string_value(v), out)) < 0) {
		memset(out, 0, sizeof(*out));
		nc_jrd_bad(d, path, key, "not %s: \"%.60s\"",
		    with_port ? "an ip:port endpoint" : "an IP address", json_string_value(v));
	}
}

static void rd_ep(struct nc_jrd *d, json_t *obj, const char *path, const char *key, struct nc_addr *out)
{
	rd_addr(d, obj, path, key, out, true);
}

static void rd_ip(struct nc_jrd *d, json_t *obj, const char *path, const char *key, struct nc_addr *out)
{
	rd_addr(d, obj, path, key, out, false);
}

static json_t *rd_obj(struct nc_jrd *d, json_t *obj, const char *path, const char *key, int fl)
{
	json_t *v = nc_jrd_member(d, obj, path, key, fl);

	if (v && !json_is_object(v)) {
		nc_jrd_bad(d, path, key, "must be an object");
		return NULL;
	}
	return v;
}

static json_t *rd_arr(struct nc_jrd *d, json_t *obj, const char *path, const char *key, size_t max)
{
	json_t *v = nc_jrd_member(d, obj, path, key, OPT);

	if (!v)
		return NULL;
	if (!json_is_array(v)) {
		nc_jrd_bad(d, path, key, "must be an array");
		return NULL;
	}
	if (json_array_size(v) > max) {
		nc_jrd_bad(d, path, key, "%zu entries, at most %zu allowed", json_array_size(v), max);
		return NULL;
	}
	return v;
}

/* ISO 8601 / RFC 3339 date-time: 2026-11-23T13:26:46Z, optional fraction, Z or +hh:mm. */
static bool iso8601(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	int mon, day, hh, mm, ss;

	for (size_t i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	mon = (s[5] - '0') * 10 + s[6] - '0';
	day = (s[8] - '0') * 10 + s[9] - '0';
	hh = (s[11] - '0') * 10 + s[12] - '0';
	mm = (s[14] - '0') * 10 + s[15] - '0';
	ss = (s[17] - '0') * 10 + s[18] - '0';
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return false;
	s += sizeof(shape) - 1;
	if (*s == '.') {
		if (s[1] < '0' || s[1] > '9')
			return false;
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	}
	if (strcmp(s, "Z") == 0)
		return true;
	return (s[0] == '+' || s[0] == '-') && s[1] >= '0' && s[1] <= '2' && s[2] >= '0' &&
	       s[2] <= '9' && s[3] == ':' && s[4] >= '0' && s[4] <= '5' && s[5] >= '0' &&
	       s[5] <= '9' && s[6] == '\0';
}

/* --- revision 2: mapping stability, TCP tests, bounce, hops, samples, derived notes ----- */

static void rd_udp_stability(struct nc_jrd *d, json_t *u, struct nc_udp_result *out)
{
	long long x;

	nc_jrd_tri(d, u, "udp", "mapping_stable", &out->mapping_stable);
	rd_int(d, u, "udp", "mapping_change_ms", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->mapping_change_ms = (uint32_t)x;
}

static void rd_tcp_obs(struct nc_jrd *d, json_t *o, const char *path, struct nc_tcp_obs *out)
{
	unsigned e;
	long long x;

	rd_enum(d, o, path, "test", &nc_names_tcp_test, &e, REQ);
	out->test = (uint8_t)e;
	rd_enum(d, o, path, "outcome", &nc_names_outcome, &e, REQ);
	out->outcome = (uint8_t)e;
	nc_jrd_tri(d, o, path, "arrived", &out->arrived);
	rd_enum(d, o, path, "report", &nc_names_cb_report, &e, NULLABLE);
	out->report = (uint8_t)e;
	rd_int(d, o, path, "error_code", 0, 65535, &x, 0, NULLABLE);
	out->error_code = (uint16_t)x;
	rd_int(d, o, path, "at_ms", 0, UINT32_MAX, &x, 0, OPT);
	out->at_ms = (uint32_t)x;
	rd_int(d, o, path, "wait_ms", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->wait_ms = (uint32_t)x;
	rd_int(d, o, path, "elapsed_ms", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->elapsed_ms = (uint32_t)x;
	rd_ep(d, o, path, "local", &out->local);
	rd_ep(d, o, path, "dest", &out->dest);
	rd_ep(d, o, path, "mapped", &out->mapped);
	rd_ep(d, o, path, "from", &out->from);
}

static void rd_tcp_probes(struct nc_jrd *d, json_t *t, struct nc_result *r)
{
	char path[PATH_LEN];
	json_t *arr = rd_arr(d, t, "tcp", "probes", NC_MAX_TCP_OBS), *v;
	size_t i;

	json_array_foreach(arr, i, v) {
		idx_path(path, "tcp.probes", i);
		if (!json_is_object(v)) {
			nc_jrd_bad(d, path, NULL, "must be an object");
			break;
		}
		rd_tcp_obs(d, v, path, &r->tcp_obs[i]);
		r->n_tcp_obs = (uint8_t)(i + 1);
	}
}

static void rd_bounce(struct nc_jrd *d, json_t *doc, struct nc_bounce *out)
{
	json_t *o = rd_obj(d, doc, "", "bounce", OPT | NULLABLE);

	if (!o)
		return;
	out->tested = true;
	rd_bool(d, o, "bounce", "offered", &out->offered);
	nc_jrd_tri(d, o, "bounce", "arrived", &out->arrived);
	rd_ep(d, o, "bounce", "from", &out->from);
}

static void rd_hops(struct nc_jrd *d, json_t *topo, struct nc_hops *out)
{
	static const char *const P = "topology.hops";
	char path[PATH_LEN];
	json_t *o = rd_obj(d, topo, "topology", "hops", OPT | NULLABLE), *arr, *v;
	long long x;
	size_t i;

	if (!o)
		return;
	rd_int(d, o, P, "probed", 1, NC_MAX_HOPS, &x, 0, REQ);
	out->n = (uint8_t)x;
	rd_int(d, o, P, "reached_at", 1, NC_MAX_HOPS, &x, 0, NULLABLE);
	out->reached_at = (uint8_t)x;
	arr = rd_arr(d, o, P, "routers", NC_MAX_HOPS);
	if (arr && json_array_size(arr) > out->n) {
		nc_jrd_bad(d, P, "routers", "%zu entries, but only %u hops probed", json_array_size(arr), out->n);
		return;
	}
	json_array_foreach(arr, i, v) {
		idx_path(path, "topology.hops.routers", i);
		if (json_is_null(v))
			continue;
		if (!json_is_string(v) || nc_addr_parse_ip(json_string_value(v), &out->hop[i]) < 0) {
			nc_jrd_bad(d, path, NULL, "must be an IP address string or null");
			break;
		}
	}
}

static void rd_track(struct nc_jrd *d, json_t *doc, struct nc_map_track *out)
{
	static const char *const P = "mapping_samples";
	char path[PATH_LEN];
	json_t *o = rd_obj(d, doc, "", P, OPT | NULLABLE), *arr, *v;
	long long x;
	size_t i;

	if (!o)
		return;
	rd_ep(d, o, P, "local", &out->local);
	arr = rd_arr(d, o, P, "samples", NC_MAX_MAP_SAMPLES);
	json_array_foreach(arr, i, v) {
		idx_path(path, "mapping_samples.samples", i);
		if (!json_is_object(v)) {
			nc_jrd_bad(d, path, NULL, "must be an object");
			break;
		}
		rd_int(d, v, path, "at_ms", 0, UINT32_MAX, &x, 0, REQ);
		out->s[i].at_ms = (uint32_t)x;
		rd_ep(d, v, path, "public", &out->s[i].public_ep);
		out->n = (uint8_t)(i + 1);
	}
}

/* Indices into notes[] of the notes the classifier wrote. */
static void rd_derived_notes(struct nc_jrd *d, json_t *doc, struct nc_result *r)
{
	char path[PATH_LEN];
	json_t *arr = rd_arr(d, doc, "", "derived_notes", NC_MAX_NOTES), *v;
	long long x;
	size_t i;

	json_array_foreach(arr, i, v) {
		if (!int_value(v, &x) || x < 0 || x >= r->n_notes) {
			nc_jrd_bad(d, idx_path(path, "derived_notes", i), NULL,
			    "must be the index of a note (0 to %d)", r->n_notes - 1);
			break;
		}
		r->notes_derived |= 1u << x;
	}
}

static void rd_udp(struct nc_jrd *d, json_t *u, struct nc_udp_result *out)
{
	static const char *const P = "udp";
	char path[PATH_LEN], ipath[PATH_LEN];
	json_t *alloc, *arr, *v;
	long long x;
	unsigned e;
	size_t i;

	nc_jrd_tri(d, u, P, "reachable", &out->reachable);
	nc_jrd_tri(d, u, P, "nat", &out->nat);
	rd_enum(d, u, P, "mapping", &nc_names_beh, &e, OPT);
	out->mapping = (enum nc_beh)e;
	rd_enum(d, u, P, "filtering", &nc_names_beh, &e, OPT);
	out->filtering = (enum nc_beh)e;
	rd_bool(d, u, P, "mapping_port_only", &out->mapping_port_only);
	rd_ep(d, u, P, "local", &out->local);
	rd_ep(d, u, P, "public", &out->public_ep);
	nc_jrd_tri(d, u, P, "port_preservation", &out->port_preserved);
	if ((alloc = rd_obj(d, u, P, "allocation", OPT))) {
		const char *ap = "udp.allocation";
		rd_enum(d, alloc, ap, "pattern", &nc_names_alloc, &e, OPT);
		out->alloc.pattern = (enum nc_alloc)e;
		rd_int(d, alloc, ap, "delta", -65535, 65535, &x, 0, NULLABLE);
		out->alloc.delta = (int32_t)x;
		nc_jrd_tri(d, alloc, ap, "parity", &out->alloc.parity);
		nc_jrd_tri(d, alloc, ap, "port_overloading", &out->alloc.port_overloading);
		arr = rd_arr(d, alloc, ap, "samples", NC_MAX_ALLOC);
		json_array_foreach(arr, i, v) {
			idx_path(path, "udp.allocation.samples", i);
			if (!json_is_object(v)) {
				nc_jrd_bad(d, path, NULL, "must be an object");
				break;
			}
			rd_int(d, v, path, "local_port", 0, 65535, &x, 0, REQ);
			out->alloc.s[i].local_port = (uint16_t)x;
			rd_ep(d, v, path, "public", &out->alloc.s[i].public_ep);
			out->alloc.n = (uint8_t)(i + 1);
		}
	}
	rd_enum(d, u, P, "pooling", &nc_names_pool, &e, OPT);
	out->pooling = (enum nc_pooling)e;
	arr = rd_arr(d, u, P, "public_addresses", NC_MAX_PUBLIC);
	json_array_foreach(arr, i, v) {
		idx_path(ipath, "udp.public_addresses", i);
		if (!json_is_string(v) ||
		    nc_addr_parse_ip(json_string_value(v), &out->public_ips[i]) < 0) {
			nc_jrd_bad(d, ipath, NULL, "must be an IP address string");
			break;
		}
		out->n_public = (uint8_t)(i + 1);
	}
	nc_jrd_tri(d, u, P, "hairpin", &out->hairpin);
	rd_enum(d, u, P, "hairpin_source", &nc_names_hp, &e, NULLABLE);
	out->hairpin_src = (enum nc_hairpin_src)e;
	rd_ep(d, u, P, "hairpin_from", &out->hairpin_from);
	nc_jrd_tri(d, u, P, "alg", &out->alg);
	rd_enum(d, u, P, "server_problem", &nc_names_srv_problem, &e, NULLABLE);
	out->server_problem = (enum nc_server_problem)e;
	if ((v = nc_jrd_member(d, u, P, "rtt_ms", NULLABLE))) {
		/* Kept in microseconds; the largest the writer produces is UINT32_MAX us. */
		double ms = json_is_number(v) ? json_number_value(v) : -1.0;
		if (!(ms >= 0 && ms <= 4294967.295))
			nc_jrd_bad(d, P, "rtt_ms", "must be a number from 0 to 4294967.295, or null");
		else
			out->rtt_us = (uint32_t)(ms * 1000.0 + 0.5);
	}
	rd_int(d, u, P, "lifetime_s", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->lifetime_s = (uint32_t)x;
	rd_int(d, u, P, "lifetime_upper_s", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->lifetime_upper_s = (uint32_t)x;
	nc_jrd_tri(d, u, P, "inbound_refresh", &out->inbound_refresh);
	rd_udp_stability(d, u, out);
}

static void rd_tcp(struct nc_jrd *d, json_t *t, struct nc_tcp_result *out)
{
	static const char *const P = "tcp";
	unsigned e;
	long long x;

	rd_bool(d, t, P, "tested", &out->tested);
	rd_enum(d, t, P, "mapping", &nc_names_beh, &e, OPT);
	out->mapping = (enum nc_beh)e;
	rd_enum(d, t, P, "filtering", &nc_names_beh, &e, OPT);
	out->filtering = (enum nc_beh)e;
	nc_jrd_tri(d, t, P, "consistent", &out->consistent);
	nc_jrd_tri(d, t, P, "simultaneous_open", &out->simultaneous_open);
	nc_jrd_tri(d, t, P, "hairpin", &out->hairpin);
	rd_str(d, t, P, "unsolicited", out->unsolicited, sizeof(out->unsolicited), NULLABLE);
	rd_int(d, t, P, "unsolicited_ms", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->unsolicited_ms = (uint32_t)x;
}

static void rd_portmap(struct nc_jrd *d, json_t *po, const char *path, struct nc_portmap_result *m)
{
	rd_bool(d, po, path, "tested", &m->tested);
	nc_jrd_tri(d, po, path, "present", &m->present);
	rd_ip(d, po, path, "external", &m->external);
	nc_jrd_tri(d, po, path, "test_mapping", &m->test_mapping);
	nc_jrd_tri(d, po, path, "deleted", &m->deleted);
	rd_str(d, po, path, "error", m->error, sizeof(m->error), NULLABLE);
}

static void rd_obs(struct nc_jrd *d, json_t *o, const char *path, struct nc_obs *out)
{
	char cpath[PATH_LEN];
	json_t *ch;
	unsigned e;
	long long x;

	rd_enum(d, o, path, "role", &nc_names_role, &e, REQ);
	out->role = (uint8_t)e;
	rd_int(d, o, path, "socket", 0, 255, &x, 0, OPT);
	out->socket = (uint8_t)x;
	rd_enum(d, o, path, "outcome", &nc_names_outcome, &e, REQ);
	out->outcome = (uint8_t)e;
	rd_int(d, o, path, "attempts", 0, 255, &x, 0, OPT);
	out->attempts = (uint8_t)x;
	out->change_flags = 0;
	if ((ch = rd_obj(d, o, path, "change", OPT))) {
		bool ip = false, port = false;
		sub_path(cpath, path, "change");
		rd_bool(d, ch, cpath, "ip", &ip);
		rd_bool(d, ch, cpath, "port", &port);
		out->change_flags = (ip ? 0x4u : 0) | (port ? 0x2u : 0);
	}
	rd_int(d, o, path, "response_port", 0, 65535, &x, 0, NULLABLE);
	out->response_port = (uint16_t)x;
	/* RFC 8489 §14.8: class 3 to 6, number 0 to 99; the STUN decoder enforces it too. */
	rd_int(d, o, path, "error_code", 300, 699, &x, 0, NULLABLE);
	out->error_code = (uint16_t)x;
	rd_int(d, o, path, "rtt_us", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->rtt_us = (uint32_t)x;
	rd_int(d, o, path, "sent_ms", 0, UINT32_MAX, &x, 0, OPT);
	out->sent_ms = (uint32_t)x;
	rd_int(d, o, path, "last_sent_us", 0, UINT32_MAX, &x, 0, OPT);
	out->last_sent_us = (uint32_t)x;
	rd_int(d, o, path, "given_up_us", 0, UINT32_MAX, &x, 0, OPT);
	out->given_up_us = (uint32_t)x;
	rd_bool(d, o, path, "fingerprint_stale", &out->fp_stale);
	rd_ep(d, o, path, "local", &out->local);
	rd_ep(d, o, path, "dest", &out->dest);
	rd_ep(d, o, path, "expect", &out->expect);
	rd_ep(d, o, path, "from", &out->from);
	rd_ep(d, o, path, "mapped", &out->mapped);
	rd_ep(d, o, path, "xor_mapped", &out->xor_mapped);
	rd_ep(d, o, path, "response_origin", &out->response_origin);
	rd_ep(d, o, path, "other", &out->other);
}

static void rd_doc(struct nc_jrd *d, json_t *doc, struct nc_result *r)
{
	char path[PATH_LEN];
	json_t *v, *o, *arr;
	long long x;
	unsigned e;
	size_t i;

	if (!json_is_object(doc)) {
		nc_jrd_bad(d, "$", NULL, "the document must be a JSON object");
		return;
	}
	/* Identity first: a document of another kind or a newer version gets that message, not
	 * a complaint about some field the newer version changed. */
	v = nc_jrd_member(d, doc, "", "schema", REQ);
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), NC_RESULT_SCHEMA) != 0))
		nc_jrd_bad(d, "", "schema", "must be \"%s\"", NC_RESULT_SCHEMA);
	v = nc_jrd_member(d, doc, "", "version", REQ);
	if (v && (!int_value(v, &x) || x < 1))
		nc_jrd_bad(d, "", "version", "must be a positive integer");
	else if (v && x > NC_RESULT_VERSION)
		nc_jrd_bad(d, "", "version",
		    "%lld is newer than this program reads (version %d); upgrade natcheck", x,
		    NC_RESULT_VERSION);
	if (d->failed)
		return;
	r->version = NC_RESULT_VERSION;

	if ((o = rd_obj(d, doc, "", "tool", OPT))) {
		char name[64];
		rd_str(d, o, "tool", "name", name, sizeof(name), OPT);
		rd_str(d, o, "tool", "version", r->tool_version, sizeof(r->tool_version), OPT);
	}
	rd_str(d, doc, "", "started", r->started, sizeof(r->started), NULLABLE);
	v = json_object_get(doc, "started");
	if (json_is_string(v) && !iso8601(json_string_value(v)))
		nc_jrd_bad(d, "", "started", "not an ISO 8601 date-time (e.g. 2026-11-23T13:26:46Z)");
	rd_int(d, doc, "", "duration_ms", 0, UINT32_MAX, &x, 0, OPT);
	r->duration_ms = (uint32_t)x;
	if ((o = rd_obj(d, doc, "", "server", OPT))) {
		rd_ep(d, o, "server", "primary", &r->server.primary);
		rd_ep(d, o, "server", "other", &r->server.other);
		rd_ep(d, o, "server", "secondary", &r->server.secondary);
		rd_bool(d, o, "server", "change_request", &r->server.change_supported);
		rd_str(d, o, "server", "software", r->server.software, sizeof(r->server.software),
		       NULLABLE);
		rd_ep(d, o, "server", "bogus_other", &r->server.bogus_other);
		arr = rd_arr(d, o, "server", "unreachable", NC_MAX_UNREACHABLE);
		json_array_foreach(arr, i, v) {
			idx_path(path, "server.unreachable", i);
			if (!json_is_string(v) ||
			    parse_ep(json_string_value(v), &r->server.unreachable[i]) < 0) {
				nc_jrd_bad(d, path, NULL, "must be an \"ip:port\" endpoint");
				break;
			}
			r->server.n_unreachable = (uint8_t)(i + 1);
		}
	}
	if ((o = rd_obj(d, doc, "", "udp", REQ)))
		rd_udp(d, o, &r->udp);
	/* A revision marker newer than this reader's is fine: revisions only add keys. */
	rd_int(d, doc, "", "revision", 1, INT32_MAX, &x, 1, OPT);
	r->revision = (uint32_t)x;
	if ((o = rd_obj(d, doc, "", "tcp", OPT))) {
		rd_tcp(d, o, &r->tcp);
		rd_tcp_probes(d, o, r);
	}
	rd_bounce(d, doc, &r->bounce);
	/* Protocols this version does not know are extra keys, allowed like any other. */
	if ((o = rd_obj(d, doc, "", "port_mapping", OPT))) {
		for (int p = 0; p < NC_PM_COUNT; p++) {
			json_t *po = rd_obj(d, o, "port_mapping", nc_names_pm.v[p], OPT);
			if (po)
				rd_portmap(d, po, sub_path(path, "port_mapping", nc_names_pm.v[p]),
					   &r->portmap[p]);
		}
	}
	if ((o = rd_obj(d, doc, "", "topology", OPT))) {
		rd_int(d, o, "topology", "nat_layers", 0, 127, &x, -1, NULLABLE);
		r->topology.nat_layers = (int8_t)x;
		nc_jrd_tri(d, o, "topology", "cgnat", &r->topology.cgnat);
		nc_jrd_tri(d, o, "topology", "double_nat", &r->topology.double_nat);
		rd_hops(d, o, &r->hops);
	}
	/* The summary is derived from the verdicts and recomputed on writing; it is checked,
	 * not stored. */
	if ((o = rd_obj(d, doc, "", "summary", OPT))) {
		rd_enum(d, o, "summary", "classic", &nc_names_classic, &e, OPT);
		v = nc_jrd_member(d, o, "summary", "udp_hole_punching", OPT);
		if (v && !json_is_string(v))
			nc_jrd_bad(d, "summary", "udp_hole_punching", "must be a string");
	}
	arr = rd_arr(d, doc, "", "notes", NC_MAX_NOTES);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) >= NC_NOTE_LEN) {
			nc_jrd_bad(d, idx_path(path, "notes", i), NULL,
			    "must be a string of at most %d bytes", NC_NOTE_LEN - 1);
			break;
		}
		memcpy(r->notes[i], json_string_value(v), json_string_length(v) + 1);
		r->n_notes = (uint8_t)(i + 1);
	}
	arr = rd_arr(d, doc, "", "observations", NC_MAX_OBS);
	json_array_foreach(arr, i, v) {
		idx_path(path, "observations", i);
		if (!json_is_object(v)) {
			nc_jrd_bad(d, path, NULL, "must be an object");
			break;
		}
		rd_obs(d, v, path, &r->obs[i]);
		r->n_obs = (uint16_t)(i + 1);
	}
	rd_derived_notes(d, doc, r);
	rd_track(d, doc, &r->track);
}

/* Reads an already parsed document: the collector parses a submission wrapper once and hands
 * its "result" member here, instead of printing it and parsing it again. */
int nc_result_from_json_value(struct json_t *doc, struct nc_result *r, char *err, size_t errlen)
{
	struct nc_jrd d = {.err = err, .errlen = errlen};
	struct nc_result *tmp;

	if (err && errlen)
		err[0] = '\0';
	if (!doc || !r) {
		if (err && errlen)
			snprintf(err, errlen, "no document");
		return -NC_E_INVALID;
	}
	tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return -NC_E_NOMEM;
	nc_result_init(tmp);
	rd_doc(&d, doc, tmp);
	if (!d.failed) /* commit only a document that is valid as a whole */
		memcpy(r, tmp, sizeof(*r));
	free(tmp);
	return d.failed ? -NC_E_SCHEMA : 0;
}

int nc_result_from_json(const char *text, size_t len, struct nc_result *r, char *err, size_t errlen)
{
	json_t *doc;
	int rc;

	/* A document with nowhere to go is as good as none. */
	if ((rc = nc_jrd_parse(r ? text : NULL, len, &doc, err, errlen)) < 0)
		return rc;
	rc = nc_result_from_json_value(doc, r, err, errlen);
	json_decref(doc);
	return rc;
}
