/* Punch outcome documents (natcheck/outcome.h): the writer and the validating reader, the
 * reference implementation of results/schema/punch-outcome.v1.schema.json. The NAT class words
 * are the natcheck-result schema's own (result_names.h), so both documents speak one language. */
#include <natcheck/outcome.h>

#include "jsonrd.h"
#include "result_names.h"

#include <natcheck/error.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[NC_METHOD_COUNT] = {
    "same-lan",	       "public-address", "port-mapping",	  "udp-punch",
    "port-prediction", "birthday",	 "tcp-simultaneous-open", "relay",
};

const char *nc_punch_method_name(enum nc_punch_method m)
{
	return (unsigned)m < NC_METHOD_COUNT ? method_names[m] : NULL;
}

int nc_punch_method_parse(const char *s)
{
	for (int i = 0; s && i < NC_METHOD_COUNT; i++)
		if (strcmp(s, method_names[i]) == 0)
			return i;
	return -1;
}

void nc_punch_outcome_init(struct nc_punch_outcome *o, time_t when)
{
	struct tm tm;

	memset(o, 0, sizeof(*o));
	o->local = o->peer = (struct nc_nat_class){NC_BEH_UNKNOWN, NC_BEH_UNKNOWN, NC_ALLOC_UNKNOWN,
						   NC_TRI_UNKNOWN, NC_TRI_UNKNOWN};
	o->method = NC_METHOD_UDP_PUNCH;
	o->first_packet_ms = -1;
	/* The day only: enough to follow NATs over time, too coarse to tie a document to a
	 * connection log (the rule natcheck's submissions follow). */
	if (when != 0 && gmtime_r(&when, &tm))
		strftime(o->started, sizeof(o->started), "%Y-%m-%dT00:00:00Z", &tm);
}

void nc_nat_class_from_result(const struct nc_result *r, struct nc_nat_class *out)
{
	bool tested = false, yes = false, maybe = false;

	out->mapping = r->udp.mapping;
	out->filtering = r->udp.filtering;
	out->allocation = r->udp.alloc.pattern;
	for (int p = 0; p < NC_PM_COUNT; p++) {
		const struct nc_portmap_result *pm = &r->portmap[p];
		if (!pm->tested)
			continue;
		tested = true;
		if (pm->present == NC_TRI_YES && pm->test_mapping != NC_TRI_NO)
			yes = true;
		else if (pm->present == NC_TRI_UNKNOWN)
			maybe = true;
	}
	out->port_mapping = yes ? NC_TRI_YES : (tested && !maybe) ? NC_TRI_NO : NC_TRI_UNKNOWN;
	out->udp_blocked = r->udp.reachable == NC_TRI_NO    ? NC_TRI_YES
			   : r->udp.reachable == NC_TRI_YES ? NC_TRI_NO
							    : NC_TRI_UNKNOWN;
}

/* --- shared checks ------------------------------------------------------------------------ */

static bool tool_str_ok(const char *s, size_t n)
{
	/* A program name or version, never free text: a document must not carry anything that
	 * could name a host or a person. */
	if (n == 0 || n >= NC_OUTCOME_TOOL_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '+' || c == '-'))
			return false;
	}
	return true;
}

static bool day_ok(const char *s)
{
	static const char shape[] = "dddd-dd-ddT00:00:00Z";
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mon, day;

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	y = atoi(s);
	mon = (s[5] - '0') * 10 + s[6] - '0';
	day = (s[8] - '0') * 10 + s[9] - '0';
	if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1])
		return false;
	return !(mon == 2 && day == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
}

static bool class_ok(const struct nc_nat_class *c)
{
	return (unsigned)c->mapping < nc_names_beh.n && (unsigned)c->filtering < nc_names_beh.n &&
	       (unsigned)c->allocation < nc_names_alloc.n && (unsigned)c->port_mapping <= 2 &&
	       (unsigned)c->udp_blocked <= 2;
}

/* --- writer -------------------------------------------------------------------------------- */

static json_t *tri_json(enum nc_tri t)
{
	return t == NC_TRI_UNKNOWN ? json_null() : json_boolean(t == NC_TRI_YES);
}

static json_t *class_json(const struct nc_nat_class *c)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:o}", "mapping", nc_names_beh.v[c->mapping],
			 "filtering", nc_names_beh.v[c->filtering], "allocation",
			 nc_names_alloc.v[c->allocation], "port_mapping", tri_json(c->port_mapping),
			 "udp_blocked", tri_json(c->udp_blocked));
}

char *nc_punch_outcome_to_json(const struct nc_punch_outcome *o, bool pretty)
{
	size_t nn = strnlen(o->tool_name, sizeof(o->tool_name));
	size_t nv = strnlen(o->tool_version, sizeof(o->tool_version));
	json_t *doc, *tool = NULL;
	char *out;

	if (!class_ok(&o->local) || !class_ok(&o->peer) || !nc_punch_method_name(o->method) ||
	    (nn && !tool_str_ok(o->tool_name, nn)) || (nv && !tool_str_ok(o->tool_version, nv)) ||
	    (o->started[0] && (strnlen(o->started, sizeof(o->started)) == sizeof(o->started) ||
			       !day_ok(o->started))) ||
	    o->first_packet_ms < -1 || o->first_packet_ms > UINT32_MAX ||
	    (!o->success && o->first_packet_ms != -1))
		return NULL;
	if (nn || nv)
		tool = json_pack("{s:s*, s:s*}", "name", nn ? o->tool_name : NULL, "version",
				 nv ? o->tool_version : NULL);
	/* Every key but "tool" is always written, "started" as null when unknown, like every
	 * unknown in natcheck's documents. */
	doc = json_pack("{s:s, s:i, s:o*, s:o, s:o, s:o, s:s, s:b, s:o}", "schema",
			NC_OUTCOME_SCHEMA, "version", NC_OUTCOME_VERSION, "tool", tool, "started",
			o->started[0] ? json_string(o->started) : json_null(), "local",
			class_json(&o->local), "peer", class_json(&o->peer), "method",
			method_names[o->method], "success", o->success, "first_packet_ms",
			o->first_packet_ms < 0 ? json_null()
					       : json_integer((json_int_t)o->first_packet_ms));
	if (!doc)
		return NULL;
	out = json_dumps(doc, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return out;
}

/* --- reader -------------------------------------------------------------------------------- */

static void rd_word(struct nc_jrd *d, json_t *obj, const char *path, const char *key,
		    const struct nc_names *t, unsigned *out)
{
	json_t *v = nc_jrd_member(d, obj, path, key, NC_JRD_OPT);
	int i;

	if (!v)
		return;
	if (!json_is_string(v)) {
		nc_jrd_bad(d, path, key, "must be a string");
		return;
	}
	i = nc_names_index(t, json_string_value(v));
	if (i < 0) {
		nc_jrd_bad(d, path, key, "unknown value \"%.40s\"", json_string_value(v));
		return;
	}
	*out = (unsigned)i;
}

static void rd_class(struct nc_jrd *d, json_t *doc, const char *key, struct nc_nat_class *c)
{
	json_t *o = nc_jrd_member(d, doc, "", key, NC_JRD_REQ);
	unsigned m = NC_BEH_UNKNOWN, f = NC_BEH_UNKNOWN, a = NC_ALLOC_UNKNOWN;

	if (!o)
		return;
	if (!json_is_object(o)) {
		nc_jrd_bad(d, "", key, "must be an object");
		return;
	}
	rd_word(d, o, key, "mapping", &nc_names_beh, &m);
	rd_word(d, o, key, "filtering", &nc_names_beh, &f);
	rd_word(d, o, key, "allocation", &nc_names_alloc, &a);
	c->mapping = (enum nc_beh)m;
	c->filtering = (enum nc_beh)f;
	c->allocation = (enum nc_alloc)a;
	nc_jrd_tri(d, o, key, "port_mapping", &c->port_mapping);
	nc_jrd_tri(d, o, key, "udp_blocked", &c->udp_blocked);
}

/* A whole number (1.0 counts, as in JSON Schema) in [lo, hi]. */
static void rd_tool(struct nc_jrd *d, json_t *doc, struct nc_punch_outcome *o)
{
	json_t *t = nc_jrd_member(d, doc, "", "tool", NC_JRD_NULLABLE), *v;
	static const char *const keys[2] = {"name", "version"};
	char *dst[2] = {o->tool_name, o->tool_version};

	if (!t)
		return;
	if (!json_is_object(t)) {
		nc_jrd_bad(d, "", "tool", "must be an object");
		return;
	}
	for (int k = 0; k < 2; k++) {
		v = nc_jrd_member(d, t, "tool", keys[k], NC_JRD_NULLABLE);
		if (!v)
			continue;
		if (!json_is_string(v) ||
		    !tool_str_ok(json_string_value(v), json_string_length(v))) {
			nc_jrd_bad(d, "tool", keys[k], "must be 1 to %d of [A-Za-z0-9._+-]",
			    NC_OUTCOME_TOOL_LEN - 1);
			return;
		}
		memcpy(dst[k], json_string_value(v), json_string_length(v) + 1);
	}
}

static void rd_doc(struct nc_jrd *d, json_t *doc, struct nc_punch_outcome *o)
{
	json_t *v;
	long long x;

	if (!json_is_object(doc)) {
		nc_jrd_bad(d, "$", NULL, "the document must be a JSON object");
		return;
	}
	/* Identity first, as in natcheck-result: another kind or a newer version says so. */
	v = nc_jrd_member(d, doc, "", "schema", NC_JRD_REQ);
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), NC_OUTCOME_SCHEMA) != 0))
		nc_jrd_bad(d, "", "schema", "must be \"%s\"", NC_OUTCOME_SCHEMA);
	v = nc_jrd_member(d, doc, "", "version", NC_JRD_REQ);
	if (v && !nc_jrd_whole(v, 1, 1e18, &x))
		nc_jrd_bad(d, "", "version", "must be a positive integer");
	else if (v && x > NC_OUTCOME_VERSION)
		nc_jrd_bad(d, "", "version",
		    "%lld is newer than this program reads (version %d); upgrade natcheck", x,
		    NC_OUTCOME_VERSION);
	if (d->failed)
		return;
	rd_tool(d, doc, o);
	v = nc_jrd_member(d, doc, "", "started", NC_JRD_NULLABLE);
	if (v) {
		if (!json_is_string(v) || !day_ok(json_string_value(v)))
			nc_jrd_bad(d, "", "started",
			    "must be a day, YYYY-MM-DDT00:00:00Z (outcomes keep no time of day)");
		else
			memcpy(o->started, json_string_value(v), json_string_length(v) + 1);
	}
	rd_class(d, doc, "local", &o->local);
	rd_class(d, doc, "peer", &o->peer);
	v = nc_jrd_member(d, doc, "", "method", NC_JRD_REQ);
	if (v) {
		int m = json_is_string(v) ? nc_punch_method_parse(json_string_value(v)) : -1;
		if (!json_is_string(v))
			nc_jrd_bad(d, "", "method", "must be a string");
		else if (m < 0)
			nc_jrd_bad(d, "", "method", "unknown value \"%.40s\"", json_string_value(v));
		else
			o->method = (enum nc_punch_method)m;
	}
	v = nc_jrd_member(d, doc, "", "success", NC_JRD_REQ);
	if (v && !json_is_boolean(v))
		nc_jrd_bad(d, "", "success", "must be true or false");
	else if (v)
		o->success = json_is_true(v);
	v = nc_jrd_member(d, doc, "", "first_packet_ms", NC_JRD_NULLABLE);
	if (v) {
		if (!nc_jrd_whole(v, 0, UINT32_MAX, &x))
			nc_jrd_bad(d, "", "first_packet_ms", "must be a whole number 0 to 4294967295");
		else if (!d->failed && !o->success)
			nc_jrd_bad(d, "", "first_packet_ms", "must be null when success is false");
		else
			o->first_packet_ms = x;
	}
}

int nc_punch_outcome_from_json_value(struct json_t *doc, struct nc_punch_outcome *o, char *err,
				     size_t errlen)
{
	struct nc_jrd d = {.err = err, .errlen = errlen};
	struct nc_punch_outcome tmp;

	if (err && errlen)
		err[0] = '\0';
	if (!doc || !o) {
		if (err && errlen)
			snprintf(err, errlen, "no document");
		return -NC_E_INVALID;
	}
	nc_punch_outcome_init(&tmp, 0);
	rd_doc(&d, doc, &tmp);
	if (d.failed)
		return -NC_E_SCHEMA;
	*o = tmp; /* all or nothing */
	return 0;
}

int nc_punch_outcome_from_json(const char *text, size_t len, struct nc_punch_outcome *o, char *err,
			       size_t errlen)
{
	json_t *doc;
	int rc;

	/* A document with nowhere to go is as good as none. */
	if ((rc = nc_jrd_parse(o ? text : NULL, len, &doc, err, errlen)) < 0)
		return rc;
	rc = nc_punch_outcome_from_json_value(doc, o, err, errlen);
	json_decref(doc);
	return rc;
}
