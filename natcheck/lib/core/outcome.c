/* Punch outcome documents (natcheck/outcome.h): the writer and the validating reader, the
 * reference implementation of results/schema/punch-outcome.v1.schema.json. The NAT class words
 * are the natcheck-result schema's own (result_names.h), so both documents speak one language. */
#include <natcheck/outcome.h>

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

struct ord {
	char *err;
	size_t errlen;
	bool failed;
};

static void bad(struct ord *d, const char *path, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void bad(struct ord *d, const char *path, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->failed)
		return;
	d->failed = true;
	if (!d->err || d->errlen == 0)
		return;
	n = snprintf(d->err, d->errlen, "%s%s%s: ", path, *path && key ? "." : "", key ? key : "");
	if (n < 0 || (size_t)n >= d->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* The member; NULL when absent (an error if required) or null (an error unless nullable). */
static json_t *member(struct ord *d, json_t *obj, const char *path, const char *key, bool req,
		      bool nullable)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (req)
			bad(d, path, key, "required, but missing");
		return NULL;
	}
	if (json_is_null(v)) {
		if (!nullable)
			bad(d, path, key, "must not be null");
		return NULL;
	}
	return v;
}

static void rd_word(struct ord *d, json_t *obj, const char *path, const char *key,
		    const struct nc_names *t, unsigned *out)
{
	json_t *v = member(d, obj, path, key, false, false);
	int i;

	if (!v)
		return;
	if (!json_is_string(v)) {
		bad(d, path, key, "must be a string");
		return;
	}
	i = nc_names_index(t, json_string_value(v));
	if (i < 0) {
		bad(d, path, key, "unknown value \"%.40s\"", json_string_value(v));
		return;
	}
	*out = (unsigned)i;
}

static void rd_tri(struct ord *d, json_t *obj, const char *path, const char *key, enum nc_tri *out)
{
	json_t *v = member(d, obj, path, key, false, true);

	if (!v)
		return;
	if (!json_is_boolean(v)) {
		bad(d, path, key, "must be true, false or null");
		return;
	}
	*out = json_is_true(v) ? NC_TRI_YES : NC_TRI_NO;
}

static void rd_class(struct ord *d, json_t *doc, const char *key, struct nc_nat_class *c)
{
	json_t *o = member(d, doc, "", key, true, false);
	unsigned m = NC_BEH_UNKNOWN, f = NC_BEH_UNKNOWN, a = NC_ALLOC_UNKNOWN;

	if (!o)
		return;
	if (!json_is_object(o)) {
		bad(d, "", key, "must be an object");
		return;
	}
	rd_word(d, o, key, "mapping", &nc_names_beh, &m);
	rd_word(d, o, key, "filtering", &nc_names_beh, &f);
	rd_word(d, o, key, "allocation", &nc_names_alloc, &a);
	c->mapping = (enum nc_beh)m;
	c->filtering = (enum nc_beh)f;
	c->allocation = (enum nc_alloc)a;
	rd_tri(d, o, key, "port_mapping", &c->port_mapping);
	rd_tri(d, o, key, "udp_blocked", &c->udp_blocked);
}

/* A whole number (1.0 counts, as in JSON Schema) in [lo, hi]. */
static bool whole(json_t *v, double lo, double hi, long long *out)
{
	double x;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if ((double)i < lo || (double)i > hi)
			return false;
		*out = i;
		return true;
	}
	if (!json_is_real(v))
		return false;
	x = json_real_value(v);
	/* In range first: only then is the cast to long long defined (the result reader's test). */
	if (!(x >= lo && x <= hi) || x != (double)(long long)x)
		return false;
	*out = (long long)x;
	return true;
}

static void rd_tool(struct ord *d, json_t *doc, struct nc_punch_outcome *o)
{
	json_t *t = member(d, doc, "", "tool", false, true), *v;
	static const char *const keys[2] = {"name", "version"};
	char *dst[2] = {o->tool_name, o->tool_version};

	if (!t)
		return;
	if (!json_is_object(t)) {
		bad(d, "", "tool", "must be an object");
		return;
	}
	for (int k = 0; k < 2; k++) {
		v = member(d, t, "tool", keys[k], false, true);
		if (!v)
			continue;
		if (!json_is_string(v) ||
		    !tool_str_ok(json_string_value(v), json_string_length(v))) {
			bad(d, "tool", keys[k], "must be 1 to %d of [A-Za-z0-9._+-]",
			    NC_OUTCOME_TOOL_LEN - 1);
			return;
		}
		memcpy(dst[k], json_string_value(v), json_string_length(v) + 1);
	}
}

static void rd_doc(struct ord *d, json_t *doc, struct nc_punch_outcome *o)
{
	json_t *v;
	long long x;

	if (!json_is_object(doc)) {
		bad(d, "$", NULL, "the document must be a JSON object");
		return;
	}
	/* Identity first, as in natcheck-result: another kind or a newer version says so. */
	v = member(d, doc, "", "schema", true, false);
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), NC_OUTCOME_SCHEMA) != 0))
		bad(d, "", "schema", "must be \"%s\"", NC_OUTCOME_SCHEMA);
	v = member(d, doc, "", "version", true, false);
	if (v && !whole(v, 1, 1e18, &x))
		bad(d, "", "version", "must be a positive integer");
	else if (v && x > NC_OUTCOME_VERSION)
		bad(d, "", "version",
		    "%lld is newer than this program reads (version %d); upgrade natcheck", x,
		    NC_OUTCOME_VERSION);
	if (d->failed)
		return;
	rd_tool(d, doc, o);
	v = member(d, doc, "", "started", false, true);
	if (v) {
		if (!json_is_string(v) || !day_ok(json_string_value(v)))
			bad(d, "", "started",
			    "must be a day, YYYY-MM-DDT00:00:00Z (outcomes keep no time of day)");
		else
			memcpy(o->started, json_string_value(v), json_string_length(v) + 1);
	}
	rd_class(d, doc, "local", &o->local);
	rd_class(d, doc, "peer", &o->peer);
	v = member(d, doc, "", "method", true, false);
	if (v) {
		int m = json_is_string(v) ? nc_punch_method_parse(json_string_value(v)) : -1;
		if (!json_is_string(v))
			bad(d, "", "method", "must be a string");
		else if (m < 0)
			bad(d, "", "method", "unknown value \"%.40s\"", json_string_value(v));
		else
			o->method = (enum nc_punch_method)m;
	}
	v = member(d, doc, "", "success", true, false);
	if (v && !json_is_boolean(v))
		bad(d, "", "success", "must be true or false");
	else if (v)
		o->success = json_is_true(v);
	v = member(d, doc, "", "first_packet_ms", false, true);
	if (v) {
		if (!whole(v, 0, UINT32_MAX, &x))
			bad(d, "", "first_packet_ms", "must be a whole number 0 to 4294967295");
		else if (!d->failed && !o->success)
			bad(d, "", "first_packet_ms", "must be null when success is false");
		else
			o->first_packet_ms = x;
	}
}

int nc_punch_outcome_from_json_value(struct json_t *doc, struct nc_punch_outcome *o, char *err,
				     size_t errlen)
{
	struct ord d = {.err = err, .errlen = errlen};
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
	json_error_t jerr;
	json_t *doc;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!text || !o) {
		if (err && errlen)
			snprintf(err, errlen, "no document");
		return -NC_E_INVALID;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		if (err && errlen)
			snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column,
				 jerr.text);
		return -NC_E_PARSE;
	}
	rc = nc_punch_outcome_from_json_value(doc, o, err, errlen);
	json_decref(doc);
	return rc;
}
