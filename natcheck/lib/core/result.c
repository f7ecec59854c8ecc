/* The natcheck result model: its words, initialisation and notes. The JSON writer and the
 * validating reader are result_json_write.c and result_json_read.c; derived plain-words
 * verdicts are verdict.c. The reader is the schema's reference implementation:
 * results/schema/natcheck-result.v1.schema.json describes the same document, and
 * results/README.md explains it. Keep the three in step. */
#include <natcheck/result.h>

#include "result_names.h"

#include <natcheck/error.h>

#include <stdarg.h>
#include <stdio.h>
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
					 "lifetime", "alloc-alt"};
static const char *const outcome_names[] = {"not-sent", "answered", "timeout", "wrong-source",
					    "error", "send-failed", "malformed"};
/* server_problem has no word for "no problem": JSON null stands for it. */
static const char *const srv_problem_names[] = {NULL, "error-responses", "wrong-source",
						"malformed-answers"};
static const char *const pm_names[] = {"nat-pmp", "pcp", "upnp-igd"};
static const char *const tcp_test_names[] = {"map-primary", "map-alt-ip", "map-alt-both",
					     "filter-map", "connect-back-bouncer",
					     "connect-back-port", "connect-back-addr", "hairpin",
					     "simultaneous-open"};
/* "none" is JSON null. */
static const char *const cb_report_names[] = {NULL, "pending", "connected", "rst",
					      "icmp-port-unreachable", "icmp-admin-prohibited",
					      "icmp-other", "timeout", "error"};
/* Every value nc_result_classic_label() can return; summary.classic must be one of them. */
static const char *const classic_labels[] = {
	"unknown",         "open internet", "full cone",
	"restricted cone", "port-restricted cone", "symmetric",
	"symmetric (address-dependent)", "symmetric UDP firewall", "UDP blocked"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(COUNT(role_names) == NC_ROLE_COUNT_, "a role without a JSON name");
_Static_assert(COUNT(pm_names) == NC_PM_COUNT, "a port-mapping protocol without a JSON name");
_Static_assert(COUNT(outcome_names) == NC_OUT_MALFORMED + 1, "an outcome without a name");
_Static_assert(COUNT(srv_problem_names) == NC_SRV_MALFORMED + 1, "a server problem without a name");
_Static_assert(COUNT(tcp_test_names) == NC_TCP_TEST_COUNT_, "a TCP test without a name");
_Static_assert(COUNT(cb_report_names) == NC_CB_COUNT_, "a connect-back report without a name");
_Static_assert(NC_MAX_NOTES <= 32, "notes_derived has one bit per note");

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

const char *nc_tcp_test_name(enum nc_tcp_test t)
{
	return (unsigned)t < COUNT(tcp_test_names) ? tcp_test_names[t] : "unknown";
}

const char *nc_cb_report_name(enum nc_cb_report c)
{
	return c > 0 && (unsigned)c < COUNT(cb_report_names) ? cb_report_names[c] : "none";
}

const char *nc_hairpin_src_name(enum nc_hairpin_src h)
{
	return h > 0 && (unsigned)h < COUNT(hp_names) ? hp_names[h] : "unknown";
}

const char *nc_server_problem_name(enum nc_server_problem p)
{
	return p > NC_SRV_OK && (unsigned)p < COUNT(srv_problem_names) ? srv_problem_names[p] : NULL;
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
	r->revision = NC_RESULT_REVISION;
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
	/* The same sentence twice says nothing new (re-classification repeats notes). A note
	 * the classifier writes is marked as its own, also when a document that predates the
	 * marks already holds it, so that the next re-classification replaces it. */
	for (unsigned i = 0; i < r->n_notes; i++)
		if (strcmp(r->notes[i], r->notes[r->n_notes]) == 0) {
			if (r->classifying)
				r->notes_derived |= 1u << i;
			return;
		}
	if (r->classifying)
		r->notes_derived |= 1u << r->n_notes;
	r->n_notes++;
}


#define TABLE(name, arr) const struct nc_names name = {arr, COUNT(arr)}
TABLE(nc_names_beh, beh_names);
TABLE(nc_names_alloc, alloc_names);
TABLE(nc_names_pool, pool_names);
TABLE(nc_names_hp, hp_names);
TABLE(nc_names_role, role_names);
TABLE(nc_names_outcome, outcome_names);
TABLE(nc_names_pm, pm_names);
TABLE(nc_names_classic, classic_labels);
TABLE(nc_names_srv_problem, srv_problem_names);
TABLE(nc_names_tcp_test, tcp_test_names);
TABLE(nc_names_cb_report, cb_report_names);
#undef TABLE

int nc_names_index(const struct nc_names *t, const char *s)
{
	return index_of(t->v, t->n, s);
}
