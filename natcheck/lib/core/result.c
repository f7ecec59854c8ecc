/* The natcheck result model: names, derived verdicts, the JSON writer and the validating
 * reader. The reader is the schema's reference implementation: results/schema/
 * natcheck-result.v1.schema.json describes the same document, and results/README.md explains
 * it. Keep the three in step. */
#include <natcheck/result.h>

#include <natcheck/error.h>

#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- names ----------------------------------------------------------------------------- */

static const char *const beh_names[] = {"unknown", "none", "endpoint-independent",
					"address-dependent", "address-and-port-dependent"};
static const char *const alloc_names[] = {"unknown", "preserving", "sequential", "random"};
static const char *const pool_names[] = {"unknown", "single", "paired", "arbitrary"};
/* hairpin_source has no "unknown" word: JSON null stands for it. */
static const char *const hp_names[] = {NULL, "external", "internal", "other"};
static const char *const role_names[] = {"map-primary", "map-alt-ip", "map-alt-both",
					 "map-alt-port", "map-server2", "filter-control",
					 "filter-ip-port", "filter-port", "alloc", "hairpin",
					 "lifetime"};
static const char *const outcome_names[] = {"not-sent", "answered", "timeout", "wrong-source",
					    "error", "send-failed"};
static const char *const pm_names[] = {"nat-pmp", "pcp", "upnp-igd"};
/* Every value nc_result_classic_label() can return; summary.classic must be one of them. */
static const char *const classic_labels[] = {
	"unknown",         "open internet", "full cone",
	"restricted cone", "port-restricted cone", "symmetric",
	"symmetric (address-dependent)", "symmetric UDP firewall", "UDP blocked"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(COUNT(role_names) == NC_ROLE_COUNT_, "a role without a JSON name");
_Static_assert(COUNT(pm_names) == NC_PM_COUNT, "a port-mapping protocol without a JSON name");
_Static_assert(COUNT(outcome_names) == NC_OUT_SEND_FAILED + 1, "an outcome without a name");

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

const char *nc_beh_name(enum nc_beh b)
{
	return name_of(beh_names, COUNT(beh_names), b);
}

const char *nc_alloc_name(enum nc_alloc a)
{
	return name_of(alloc_names, COUNT(alloc_names), a);
}

const char *nc_pooling_name(enum nc_pooling p)
{
	return name_of(pool_names, COUNT(pool_names), p);
}

const char *nc_role_name(enum nc_role r)
{
	return (unsigned)r < COUNT(role_names) ? role_names[r] : "unknown";
}

const char *nc_outcome_name(enum nc_outcome o)
{
	return name_of(outcome_names, COUNT(outcome_names), o);
}

const char *nc_pm_proto_name(enum nc_pm_proto p)
{
	return (unsigned)p < NC_PM_COUNT ? pm_names[p] : "unknown";
}

const char *nc_hairpin_src_name(enum nc_hairpin_src h)
{
	return h > 0 && (unsigned)h < COUNT(hp_names) ? hp_names[h] : "unknown";
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

static bool no_nat(const struct nc_udp_result *u)
{
	return u->nat == NC_TRI_NO || u->mapping == NC_BEH_NONE;
}

const char *nc_result_classic_label(const struct nc_result *r)
{
	const struct nc_udp_result *u = &r->udp;

	if (u->reachable == NC_TRI_NO)
		return "UDP blocked";
	if (u->reachable != NC_TRI_YES)
		return "unknown";
	/* RFC 3489 §10.1: no NAT, and test II answered -> open internet, else a firewall. */
	if (no_nat(u)) {
		switch (u->filtering) {
		case NC_BEH_NONE:
		case NC_BEH_EI:
			return "open internet";
		case NC_BEH_AD:
		case NC_BEH_APD:
			return "symmetric UDP firewall";
		default:
			return "unknown";
		}
	}
	switch (u->mapping) {
	case NC_BEH_EI:
		switch (u->filtering) {
		case NC_BEH_NONE:
		case NC_BEH_EI:
			return "full cone";
		case NC_BEH_AD:
			return "restricted cone";
		case NC_BEH_APD:
			return "port-restricted cone";
		default:
			return "unknown";
		}
	case NC_BEH_AD:
		/* RFC 3489 has no name for it; it punches like symmetric (sim-recipes §8). */
		return "symmetric (address-dependent)";
	case NC_BEH_APD:
		return "symmetric";
	default:
		return "unknown";
	}
}

/* The sentences follow the punch matrix observed in the lab (sim-recipes §8):
 *  - EIM with EIF or ADF punches with every profile tested: directly with EIM peers, with
 *    endpoint-dependent (symmetric) peers once the software answers the source it was
 *    reached from (peer-reflexive learning, as ICE does);
 *  - EIM with APDF punches with every EIM peer but fails with every endpoint-dependent one,
 *    peer-reflexive learning or not;
 *  - endpoint-dependent mapping (ADM or APDM) punches only with EIM peers that filter by
 *    address at most (full cone, restricted cone), through peer-reflexive learning; port
 *    prediction against a sequential allocator was not tried in the lab, so it "may" help. */
const char *nc_result_punch_verdict(const struct nc_result *r, char *buf, size_t len)
{
	const struct nc_udp_result *u = &r->udp;
	const char *s;

	if (!buf || len == 0)
		return "";
	if (u->reachable == NC_TRI_NO) {
		s = "UDP hole punching is impossible: UDP does not reach the server, so only "
		    "TCP or a relay can connect this host";
	} else if (u->reachable != NC_TRI_YES) {
		s = "UDP hole punching cannot be predicted: no UDP test ran to completion";
	} else if (no_nat(u)) {
		switch (u->filtering) {
		case NC_BEH_NONE:
		case NC_BEH_EI:
			s = "UDP hole punching is not needed: this host is directly reachable, so "
			    "peers behind any NAT can connect to it";
			break;
		case NC_BEH_AD:
			s = "UDP hole punching works with every peer type tested: directly with "
			    "cone NATs, and with symmetric NATs when the peer software learns "
			    "peer-reflexive addresses";
			break;
		case NC_BEH_APD:
			s = "UDP hole punching works with most peers (no NAT, but a firewall "
			    "filters by address and port): it fails only with peers behind "
			    "symmetric NATs (endpoint-dependent mapping)";
			break;
		default:
			s = "UDP hole punching works with peers behind cone NATs; with "
			    "symmetric-NAT peers it depends on this host's filtering, which was "
			    "not determined";
			break;
		}
	} else if (u->mapping == NC_BEH_EI) {
		switch (u->filtering) {
		case NC_BEH_NONE:
		case NC_BEH_EI:
		case NC_BEH_AD:
			s = "UDP hole punching works with every peer type tested (EIM with lenient "
			    "filtering): directly with cone NATs, and with symmetric NATs when the "
			    "peer software learns peer-reflexive addresses";
			break;
		case NC_BEH_APD:
			s = "UDP hole punching works with most peers (EIM): it fails only with "
			    "peers behind symmetric NATs (endpoint-dependent mapping), even with "
			    "peer-reflexive learning";
			break;
		default:
			s = "UDP hole punching works with peers behind cone NATs (EIM); with "
			    "symmetric-NAT peers it depends on this NAT's filtering, which was not "
			    "determined";
			break;
		}
	} else if (u->mapping == NC_BEH_AD || u->mapping == NC_BEH_APD) {
		if (u->alloc.pattern == NC_ALLOC_SEQUENTIAL && u->alloc.delta != 0) {
			snprintf(buf, len,
				 "UDP hole punching fails with peers behind port-restricted or "
				 "symmetric NATs; works with full-cone and restricted-cone peers "
				 "via peer-reflexive learning (or port prediction: sequential %+d)",
				 (int)u->alloc.delta);
			return buf;
		}
		s = "UDP hole punching fails with peers behind port-restricted or symmetric NATs; "
		    "works with full-cone and restricted-cone peers via peer-reflexive learning";
	} else {
		s = "UDP hole punching cannot be predicted: the NAT's mapping behaviour was not "
		    "determined";
	}
	snprintf(buf, len, "%s", s);
	return buf;
}

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
	put(b, o, "rtt_ms", u->rtt_us ? json_real(u->rtt_us / 1000.0) : json_null());
	put(b, o, "lifetime_s", j_uint_or_null(u->lifetime_s));
	put(b, o, "lifetime_upper_s", j_uint_or_null(u->lifetime_upper_s));
	put(b, o, "inbound_refresh", j_tri(u->inbound_refresh));
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
	json_t *notes = json_array(), *obs = json_array();
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
	for (int p = 0; p < NC_PM_COUNT; p++)
		put(&b, pm, pm_names[p], portmap_json(&b, &r->portmap[p]));
	put(&b, topo, "nat_layers",
	    r->topology.nat_layers >= 0 ? json_integer(r->topology.nat_layers) : json_null());
	put(&b, topo, "cgnat", j_tri(r->topology.cgnat));
	put(&b, topo, "double_nat", j_tri(r->topology.double_nat));
	put(&b, summary, "classic", json_string(nc_result_classic_label(r)));
	put(&b, summary, "udp_hole_punching",
	    json_string(nc_result_punch_verdict(r, punch, sizeof(punch))));
	for (unsigned i = 0; i < r->n_notes && i < NC_MAX_NOTES; i++)
		push(&b, notes, j_text_n(r->notes[i], NC_NOTE_LEN));
	for (unsigned i = 0; i < r->n_obs && i < NC_MAX_OBS; i++)
		push(&b, obs, obs_json(&b, &r->obs[i]));

	/* Key order is the order of insertion (jansson >= 2.8), so the output is stable. */
	put(&b, doc, "schema", json_string(NC_RESULT_SCHEMA));
	put(&b, doc, "version", json_integer(NC_RESULT_VERSION));
	put(&b, doc, "tool", tool);
	put(&b, doc, "started", J_TEXT(r->started));
	put(&b, doc, "duration_ms", json_integer((json_int_t)r->duration_ms));
	put(&b, doc, "server", server);
	put(&b, doc, "udp", udp_json(&b, &r->udp));
	put(&b, doc, "tcp", tcp_json(&b, &r->tcp));
	put(&b, doc, "port_mapping", pm);
	put(&b, doc, "topology", topo);
	put(&b, doc, "summary", summary);
	put(&b, doc, "notes", notes);
	put(&b, doc, "observations", obs);
	/* rtt_ms is the only real: microseconds in milliseconds need 10 significant digits,
	 * and printing no more keeps 0.1 from becoming 0.10000000000000001. */
	if (b.ok)
		out = json_dumps(doc, (pretty ? JSON_INDENT(2) : JSON_COMPACT) |
					      JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(doc);
	return out;
}

/* --- JSON reader / validator ----------------------------------------------------------- */

/* Every error names the JSON path of the value at fault: "udp.mapping", "observations[3].dest",
 * "port_mapping.pcp.external". Only the first error is kept. */
#define PATH_LEN 96

struct rd {
	char *err;
	size_t errlen;
	bool failed;
};

static void bad(struct rd *d, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void bad(struct rd *d, const char *path, const char *key, const char *fmt, ...)
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

enum { OPT = 0, REQ = 1, NULLABLE = 2 };

/* The member, or NULL when it is absent (an error if required) or null (an error unless
 * nullable). */
static json_t *member(struct rd *d, json_t *obj, const char *path, const char *key, int fl)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (fl & REQ)
			bad(d, path, key, "required, but missing");
		return NULL;
	}
	if (json_is_null(v)) {
		if (!(fl & NULLABLE))
			bad(d, path, key, "must not be null");
		return NULL;
	}
	return v;
}

static void rd_tri(struct rd *d, json_t *obj, const char *path, const char *key, enum nc_tri *out)
{
	json_t *v = member(d, obj, path, key, NULLABLE);

	*out = NC_TRI_UNKNOWN;
	if (!v)
		return;
	if (json_is_boolean(v))
		*out = json_is_true(v) ? NC_TRI_YES : NC_TRI_NO;
	else
		bad(d, path, key, "must be true, false or null");
}

static void rd_bool(struct rd *d, json_t *obj, const char *path, const char *key, bool *out)
{
	json_t *v = member(d, obj, path, key, OPT);

	*out = false;
	if (!v)
		return;
	if (json_is_boolean(v))
		*out = json_is_true(v);
	else
		bad(d, path, key, "must be true or false");
}

static void rd_enum(struct rd *d, json_t *obj, const char *path, const char *key,
		    const char *const *names, size_t n, unsigned *out, int fl)
{
	json_t *v = member(d, obj, path, key, fl);
	int i;

	*out = 0;
	if (!v)
		return;
	if (!json_is_string(v)) {
		bad(d, path, key, "must be a string%s", fl & NULLABLE ? " or null" : "");
		return;
	}
	i = index_of(names, n, json_string_value(v));
	if (i < 0)
		bad(d, path, key, "unknown value \"%.40s\"", json_string_value(v));
	else
		*out = (unsigned)i;
}

/* JSON Schema counts 1.0 and 1e3 as integers (the value decides, not the spelling); so does
 * the reader. The writer always spells integers without a fraction. */
static bool int_value(json_t *v, long long *out)
{
	double x;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (!json_is_real(v))
		return false;
	x = json_real_value(v);
	if (!(x >= -9007199254740992.0 && x <= 9007199254740992.0) || x != (double)(long long)x)
		return false;
	*out = (long long)x;
	return true;
}

static void rd_int(struct rd *d, json_t *obj, const char *path, const char *key, long long lo,
		   long long hi, long long *out, long long dflt, int fl)
{
	json_t *v = member(d, obj, path, key, fl);
	long long x;

	*out = dflt;
	if (!v)
		return;
	if (!int_value(v, &x) || x < lo || x > hi) {
		bad(d, path, key, "must be an integer from %lld to %lld%s", lo, hi,
		    fl & NULLABLE ? ", or null" : "");
		return;
	}
	*out = x;
}

static void rd_str(struct rd *d, json_t *obj, const char *path, const char *key, char *out,
		   size_t cap, int fl)
{
	json_t *v = member(d, obj, path, key, fl);

	out[0] = '\0';
	if (!v)
		return;
	/* jansson has checked the UTF-8 and, without JSON_ALLOW_NUL, refused "\u0000". */
	if (!json_is_string(v) || json_string_length(v) >= cap) {
		bad(d, path, key, "must be a string of at most %zu bytes%s", cap - 1,
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
static void rd_addr(struct rd *d, json_t *obj, const char *path, const char *key,
		    struct nc_addr *out, bool with_port)
{
	json_t *v = member(d, obj, path, key, NULLABLE);

	memset(out, 0, sizeof(*out));
	if (!v)
		return;
	if (!json_is_string(v)) {
		bad(d, path, key, "must be %s string or null",
		    with_port ? "an \"ip:port\"" : "an IP address");
		return;
	}
	if ((with_port ? parse_ep(json_string_value(v), out)
		       : nc_addr_parse_ip(json_string_value(v), out)) < 0) {
		memset(out, 0, sizeof(*out));
		bad(d, path, key, "not %s: \"%.60s\"",
		    with_port ? "an ip:port endpoint" : "an IP address", json_string_value(v));
	}
}

static void rd_ep(struct rd *d, json_t *obj, const char *path, const char *key, struct nc_addr *out)
{
	rd_addr(d, obj, path, key, out, true);
}

static void rd_ip(struct rd *d, json_t *obj, const char *path, const char *key, struct nc_addr *out)
{
	rd_addr(d, obj, path, key, out, false);
}

static json_t *rd_obj(struct rd *d, json_t *obj, const char *path, const char *key, int fl)
{
	json_t *v = member(d, obj, path, key, fl);

	if (v && !json_is_object(v)) {
		bad(d, path, key, "must be an object");
		return NULL;
	}
	return v;
}

static json_t *rd_arr(struct rd *d, json_t *obj, const char *path, const char *key, size_t max)
{
	json_t *v = member(d, obj, path, key, OPT);

	if (!v)
		return NULL;
	if (!json_is_array(v)) {
		bad(d, path, key, "must be an array");
		return NULL;
	}
	if (json_array_size(v) > max) {
		bad(d, path, key, "%zu entries, at most %zu allowed", json_array_size(v), max);
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

static void rd_udp(struct rd *d, json_t *u, struct nc_udp_result *out)
{
	static const char *const P = "udp";
	char path[PATH_LEN], ipath[PATH_LEN];
	json_t *alloc, *arr, *v;
	long long x;
	unsigned e;
	size_t i;

	rd_tri(d, u, P, "reachable", &out->reachable);
	rd_tri(d, u, P, "nat", &out->nat);
	rd_enum(d, u, P, "mapping", beh_names, COUNT(beh_names), &e, OPT);
	out->mapping = (enum nc_beh)e;
	rd_enum(d, u, P, "filtering", beh_names, COUNT(beh_names), &e, OPT);
	out->filtering = (enum nc_beh)e;
	rd_bool(d, u, P, "mapping_port_only", &out->mapping_port_only);
	rd_ep(d, u, P, "local", &out->local);
	rd_ep(d, u, P, "public", &out->public_ep);
	rd_tri(d, u, P, "port_preservation", &out->port_preserved);
	if ((alloc = rd_obj(d, u, P, "allocation", OPT))) {
		const char *ap = "udp.allocation";
		rd_enum(d, alloc, ap, "pattern", alloc_names, COUNT(alloc_names), &e, OPT);
		out->alloc.pattern = (enum nc_alloc)e;
		rd_int(d, alloc, ap, "delta", -65535, 65535, &x, 0, NULLABLE);
		out->alloc.delta = (int32_t)x;
		rd_tri(d, alloc, ap, "parity", &out->alloc.parity);
		arr = rd_arr(d, alloc, ap, "samples", NC_MAX_ALLOC);
		json_array_foreach(arr, i, v) {
			idx_path(path, "udp.allocation.samples", i);
			if (!json_is_object(v)) {
				bad(d, path, NULL, "must be an object");
				break;
			}
			rd_int(d, v, path, "local_port", 0, 65535, &x, 0, REQ);
			out->alloc.s[i].local_port = (uint16_t)x;
			rd_ep(d, v, path, "public", &out->alloc.s[i].public_ep);
			out->alloc.n = (uint8_t)(i + 1);
		}
	}
	rd_enum(d, u, P, "pooling", pool_names, COUNT(pool_names), &e, OPT);
	out->pooling = (enum nc_pooling)e;
	arr = rd_arr(d, u, P, "public_addresses", NC_MAX_PUBLIC);
	json_array_foreach(arr, i, v) {
		idx_path(ipath, "udp.public_addresses", i);
		if (!json_is_string(v) ||
		    nc_addr_parse_ip(json_string_value(v), &out->public_ips[i]) < 0) {
			bad(d, ipath, NULL, "must be an IP address string");
			break;
		}
		out->n_public = (uint8_t)(i + 1);
	}
	rd_tri(d, u, P, "hairpin", &out->hairpin);
	rd_enum(d, u, P, "hairpin_source", hp_names, COUNT(hp_names), &e, NULLABLE);
	out->hairpin_src = (enum nc_hairpin_src)e;
	rd_ep(d, u, P, "hairpin_from", &out->hairpin_from);
	rd_tri(d, u, P, "alg", &out->alg);
	if ((v = member(d, u, P, "rtt_ms", NULLABLE))) {
		/* Kept in microseconds; the largest the writer produces is UINT32_MAX us. */
		double ms = json_is_number(v) ? json_number_value(v) : -1.0;
		if (!(ms >= 0 && ms <= 4294967.295))
			bad(d, P, "rtt_ms", "must be a number from 0 to 4294967.295, or null");
		else
			out->rtt_us = (uint32_t)(ms * 1000.0 + 0.5);
	}
	rd_int(d, u, P, "lifetime_s", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->lifetime_s = (uint32_t)x;
	rd_int(d, u, P, "lifetime_upper_s", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->lifetime_upper_s = (uint32_t)x;
	rd_tri(d, u, P, "inbound_refresh", &out->inbound_refresh);
}

static void rd_tcp(struct rd *d, json_t *t, struct nc_tcp_result *out)
{
	static const char *const P = "tcp";
	unsigned e;
	long long x;

	rd_bool(d, t, P, "tested", &out->tested);
	rd_enum(d, t, P, "mapping", beh_names, COUNT(beh_names), &e, OPT);
	out->mapping = (enum nc_beh)e;
	rd_enum(d, t, P, "filtering", beh_names, COUNT(beh_names), &e, OPT);
	out->filtering = (enum nc_beh)e;
	rd_tri(d, t, P, "consistent", &out->consistent);
	rd_tri(d, t, P, "simultaneous_open", &out->simultaneous_open);
	rd_tri(d, t, P, "hairpin", &out->hairpin);
	rd_str(d, t, P, "unsolicited", out->unsolicited, sizeof(out->unsolicited), NULLABLE);
	rd_int(d, t, P, "unsolicited_ms", 0, UINT32_MAX, &x, 0, NULLABLE);
	out->unsolicited_ms = (uint32_t)x;
}

static void rd_portmap(struct rd *d, json_t *po, const char *path, struct nc_portmap_result *m)
{
	rd_bool(d, po, path, "tested", &m->tested);
	rd_tri(d, po, path, "present", &m->present);
	rd_ip(d, po, path, "external", &m->external);
	rd_tri(d, po, path, "test_mapping", &m->test_mapping);
	rd_tri(d, po, path, "deleted", &m->deleted);
	rd_str(d, po, path, "error", m->error, sizeof(m->error), NULLABLE);
}

static void rd_obs(struct rd *d, json_t *o, const char *path, struct nc_obs *out)
{
	char cpath[PATH_LEN];
	json_t *ch;
	unsigned e;
	long long x;

	rd_enum(d, o, path, "role", role_names, COUNT(role_names), &e, REQ);
	out->role = (uint8_t)e;
	rd_int(d, o, path, "socket", 0, 255, &x, 0, OPT);
	out->socket = (uint8_t)x;
	rd_enum(d, o, path, "outcome", outcome_names, COUNT(outcome_names), &e, REQ);
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
	rd_ep(d, o, path, "local", &out->local);
	rd_ep(d, o, path, "dest", &out->dest);
	rd_ep(d, o, path, "expect", &out->expect);
	rd_ep(d, o, path, "from", &out->from);
	rd_ep(d, o, path, "mapped", &out->mapped);
	rd_ep(d, o, path, "xor_mapped", &out->xor_mapped);
	rd_ep(d, o, path, "response_origin", &out->response_origin);
	rd_ep(d, o, path, "other", &out->other);
}

static void rd_doc(struct rd *d, json_t *doc, struct nc_result *r)
{
	char path[PATH_LEN];
	json_t *v, *o, *arr;
	long long x;
	unsigned e;
	size_t i;

	if (!json_is_object(doc)) {
		bad(d, "$", NULL, "the document must be a JSON object");
		return;
	}
	/* Identity first: a document of another kind or a newer version gets that message, not
	 * a complaint about some field the newer version changed. */
	v = member(d, doc, "", "schema", REQ);
	if (v && (!json_is_string(v) || strcmp(json_string_value(v), NC_RESULT_SCHEMA) != 0))
		bad(d, "", "schema", "must be \"%s\"", NC_RESULT_SCHEMA);
	v = member(d, doc, "", "version", REQ);
	if (v && (!int_value(v, &x) || x < 1))
		bad(d, "", "version", "must be a positive integer");
	else if (v && x > NC_RESULT_VERSION)
		bad(d, "", "version",
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
		bad(d, "", "started", "not an ISO 8601 date-time (e.g. 2026-11-23T13:26:46Z)");
	rd_int(d, doc, "", "duration_ms", 0, UINT32_MAX, &x, 0, OPT);
	r->duration_ms = (uint32_t)x;
	if ((o = rd_obj(d, doc, "", "server", OPT))) {
		rd_ep(d, o, "server", "primary", &r->server.primary);
		rd_ep(d, o, "server", "other", &r->server.other);
		rd_ep(d, o, "server", "secondary", &r->server.secondary);
		rd_bool(d, o, "server", "change_request", &r->server.change_supported);
		rd_str(d, o, "server", "software", r->server.software, sizeof(r->server.software),
		       NULLABLE);
	}
	if ((o = rd_obj(d, doc, "", "udp", REQ)))
		rd_udp(d, o, &r->udp);
	if ((o = rd_obj(d, doc, "", "tcp", OPT)))
		rd_tcp(d, o, &r->tcp);
	/* Protocols this version does not know are extra keys, allowed like any other. */
	if ((o = rd_obj(d, doc, "", "port_mapping", OPT))) {
		for (int p = 0; p < NC_PM_COUNT; p++) {
			json_t *po = rd_obj(d, o, "port_mapping", pm_names[p], OPT);
			if (po)
				rd_portmap(d, po, sub_path(path, "port_mapping", pm_names[p]),
					   &r->portmap[p]);
		}
	}
	if ((o = rd_obj(d, doc, "", "topology", OPT))) {
		rd_int(d, o, "topology", "nat_layers", 0, 127, &x, -1, NULLABLE);
		r->topology.nat_layers = (int8_t)x;
		rd_tri(d, o, "topology", "cgnat", &r->topology.cgnat);
		rd_tri(d, o, "topology", "double_nat", &r->topology.double_nat);
	}
	/* The summary is derived from the verdicts and recomputed on writing; it is checked,
	 * not stored. */
	if ((o = rd_obj(d, doc, "", "summary", OPT))) {
		rd_enum(d, o, "summary", "classic", classic_labels, COUNT(classic_labels), &e, OPT);
		v = member(d, o, "summary", "udp_hole_punching", OPT);
		if (v && !json_is_string(v))
			bad(d, "summary", "udp_hole_punching", "must be a string");
	}
	arr = rd_arr(d, doc, "", "notes", NC_MAX_NOTES);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) >= NC_NOTE_LEN) {
			bad(d, idx_path(path, "notes", i), NULL,
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
			bad(d, path, NULL, "must be an object");
			break;
		}
		rd_obs(d, v, path, &r->obs[i]);
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
	if (!text || !r) {
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
