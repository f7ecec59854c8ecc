/* The report's punch outcome section: outcomes counted per unordered pair of mapping+filtering
 * classes and per method, read from documents, a store (SQLite, or NC_RESULTS_STORE's
 * PostgreSQL) and rendered as the same cells in Markdown and HTML. */
#include "../report/report.h"

#include <natcheck/error.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const struct nc_nat_class eim_apdf = {NC_BEH_EI, NC_BEH_APD, NC_ALLOC_PRESERVING, NC_TRI_NO,
					     NC_TRI_NO};
static const struct nc_nat_class apdm_apdf = {NC_BEH_APD, NC_BEH_APD, NC_ALLOC_RANDOM, NC_TRI_NO,
					      NC_TRI_NO};
static const struct nc_nat_class apdm_apdf_seq = {NC_BEH_APD, NC_BEH_APD, NC_ALLOC_SEQUENTIAL,
						  NC_TRI_YES, NC_TRI_NO};

static char *outcome_json(struct nc_nat_class l, struct nc_nat_class p, enum nc_punch_method m,
			  bool ok)
{
	struct nc_punch_outcome o;

	nc_punch_outcome_init(&o, time(NULL));
	o.local = l;
	o.peer = p;
	o.method = m;
	o.success = ok;
	o.first_packet_ms = ok ? 300 : -1;
	return nc_punch_outcome_to_json(&o, false);
}

static void add(struct rp_stats *st, struct nc_nat_class l, struct nc_nat_class p,
		enum nc_punch_method m, bool ok)
{
	char err[200], *j = outcome_json(l, p, m, ok);

	assert_non_null(j);
	assert_int_equal(rp_add_json(st, NULL, j, strlen(j), err, sizeof(err)), 0);
	free(j);
}

static char *render(struct rp_stats *st, bool html)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (html)
		assert_int_equal(rp_write_html(st, f, NULL), 0);
	else
		assert_int_equal(rp_write_markdown(st, f, "test"), 0);
	fclose(f);
	return buf;
}

static void test_cells(void **state)
{
	struct rp_stats *st = rp_new();
	struct rp_cell c;
	char *md, *html;

	(void)state;
	/* Both orders of one pair count in one cell; the allocation does not split a class. */
	add(st, eim_apdf, apdm_apdf, NC_METHOD_BIRTHDAY, true);
	add(st, apdm_apdf, eim_apdf, NC_METHOD_BIRTHDAY, true);
	add(st, apdm_apdf_seq, eim_apdf, NC_METHOD_BIRTHDAY, false);
	add(st, eim_apdf, apdm_apdf, NC_METHOD_UDP_PUNCH, false);
	add(st, apdm_apdf, apdm_apdf, NC_METHOD_RELAY, true);
	assert_int_equal(rp_outcomes(st), 5);
	assert_int_equal(rp_total(st), 0); /* outcomes are not NAT reports */
	c = rp_punch_cell(st, &apdm_apdf, &eim_apdf, NC_METHOD_BIRTHDAY);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.m, 3);
	c = rp_punch_cell(st, &eim_apdf, &apdm_apdf, NC_METHOD_BIRTHDAY);
	assert_int_equal(c.m, 3);
	c = rp_punch_cell(st, &eim_apdf, &apdm_apdf, NC_METHOD_UDP_PUNCH);
	assert_int_equal(c.n, 0);
	assert_int_equal(c.m, 1);
	c = rp_punch_cell(st, &apdm_apdf, &apdm_apdf, NC_METHOD_RELAY);
	assert_int_equal(c.n, 1);
	c = rp_punch_cell(st, &eim_apdf, &eim_apdf, NC_METHOD_RELAY);
	assert_int_equal(c.m, 0);

	md = render(st, false);
	assert_non_null(strstr(md, "| Class pair | Attempts | udp-punch | birthday | relay |\n"));
	assert_non_null(strstr(md, "| EIM+APDF x APDM+APDF | 4 | 0/1 (0%) | 2/3 (67%) | - |\n"));
	assert_non_null(strstr(md, "| APDM+APDF x APDM+APDF | 1 | - | - | 1/1 (100%) |\n"));
	assert_non_null(strstr(
	    md, "| **All pairs** | **5** | **0/1 (0%)** | **2/3 (67%)** | **1/1 (100%)** |"));
	html = render(st, true);
	assert_non_null(strstr(html, "<span id=\"outcomes\">5</span>"));
	assert_non_null(strstr(html, "<th>udp-punch</th><th>birthday</th><th>relay</th>"));
	assert_non_null(strstr(html, "<tr class=\"pair\"><td>EIM+APDF &#215; APDM+APDF</td>"
				     "<td class=\"n\">4</td>"));
	assert_non_null(strstr(html, ">2/3 (67%)</td>"));
	free(md);
	free(html);
	rp_free(st);
}

static void test_none(void **state)
{
	struct rp_stats *st = rp_new();
	char *md, *html;

	(void)state;
	md = render(st, false);
	html = render(st, true);
	assert_non_null(strstr(md, "No punch outcomes in these results yet"));
	assert_null(strstr(md, "| Class pair |"));
	assert_non_null(strstr(html, "No punch outcomes in these results yet"));
	assert_null(strstr(html, "id=\"punch\""));
	free(md);
	free(html);
	rp_free(st);
}

static void test_bad_outcome_document(void **state)
{
	struct rp_stats *st = rp_new();
	const char *bad = "{\"schema\":\"punch-outcome\",\"version\":1,\"local\":{},\"peer\":{},"
			  "\"method\":\"teleport\",\"success\":true}";
	char err[200];

	(void)state;
	assert_int_equal(rp_add_json(st, NULL, bad, strlen(bad), err, sizeof(err)), -NC_E_SCHEMA);
	assert_string_equal(err, "method: unknown value \"teleport\"");
	assert_int_equal(rp_outcomes(st), 0);
	rp_free(st);
}

/* From a store: the cells grow by exactly what was stored (a shared PostgreSQL may hold other
 * runs' rows, so the test compares before and after). */
static void test_from_store(void **state)
{
	const char *env = getenv("NC_RESULTS_STORE");
	char dir[] = "/tmp/test_punch.XXXXXX", uri[128], err[256], ids[3][40], *docs[3];
	struct rp_stats *before = rp_new(), *after = rp_new();
	struct rs_store *s;
	struct rs_sub subs[3];
	struct rp_cell c0, c1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "sqlite:%s/r.db", dir);
	if (env && *env)
		snprintf(uri, sizeof(uri), "%s", env);
	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	assert_int_equal(rp_load_store(before, s, err, sizeof(err)), 0);
	docs[0] = outcome_json(eim_apdf, apdm_apdf, NC_METHOD_PREDICTION, true);
	docs[1] = outcome_json(apdm_apdf, eim_apdf, NC_METHOD_PREDICTION, false);
	docs[2] = outcome_json(eim_apdf, eim_apdf, NC_METHOD_UDP_PUNCH, true);
	for (int i = 0; i < 3; i++) {
		snprintf(ids[i], sizeof(ids[i]), "punch%ldx%d",
			 (long)getpid() * 1000 + time(NULL) % 1000, i);
		subs[i] = (struct rs_sub){.kind = RS_OUTCOME, .sub_id = ids[i], .result = docs[i]};
	}
	assert_int_equal(rs_put(s, subs, 3, err, sizeof(err)), 0);
	assert_int_equal(rp_load_store(after, s, err, sizeof(err)), 0);
	assert_int_equal(rp_outcomes(after), rp_outcomes(before) + 3);
	c0 = rp_punch_cell(before, &apdm_apdf, &eim_apdf, NC_METHOD_PREDICTION);
	c1 = rp_punch_cell(after, &apdm_apdf, &eim_apdf, NC_METHOD_PREDICTION);
	assert_int_equal(c1.n, c0.n + 1);
	assert_int_equal(c1.m, c0.m + 2);
	c0 = rp_punch_cell(before, &eim_apdf, &eim_apdf, NC_METHOD_UDP_PUNCH);
	c1 = rp_punch_cell(after, &eim_apdf, &eim_apdf, NC_METHOD_UDP_PUNCH);
	assert_int_equal(c1.n, c0.n + 1);
	assert_int_equal(rp_total(after), rp_total(before)); /* no result rows from outcomes */
	rs_close(s);
	for (int i = 0; i < 3; i++)
		free(docs[i]);
	rp_free(before);
	rp_free(after);
	snprintf(uri, sizeof(uri), "rm -rf '%s'", dir);
	assert_int_equal(system(uri), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cells),
	    cmocka_unit_test(test_none),
	    cmocka_unit_test(test_bad_outcome_document),
	    cmocka_unit_test(test_from_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
