/* Table 1 from a fixture built to the published totals of Ford, Srisuresh and Kegel (USENIX
 * 2005, Table 1, "All Vendors"): UDP hole punching 310/380, UDP hairpin 80/335 (24%), TCP hole
 * punching 184/286, TCP hairpin 37/286 (13%). The per-vendor rows are the fixture's own; they
 * add up to those totals. Every document goes through libnatcheck's writer, a submission
 * wrapper with its vendor, a file, the folder loader and both renderings, and the cells are
 * checked as text. */
#include "../report/report.h"

#include <natcheck/result.h>
#include <natcheck/submit.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct vrow {
	const char *vendor;
	unsigned udp_n, udp_m, hp_n, hp_m, tcp_n, tcp_m, thp_n, thp_m;
	const char *md; /* the Markdown row expected */
};

static const struct vrow rows[] = {
    {"Linksys", 45, 46, 5, 42, 33, 38, 3, 38,
     "| Linksys | 53 | 45/46 (98%) | 5/42 (12%) | 33/38 (87%) | 3/38 (8%) |"},
    {"Netgear", 31, 37, 3, 35, 19, 30, 0, 30,
     "| Netgear | 37 | 31/37 (84%) | 3/35 (9%) | 19/30 (63%) | 0/30 (0%) |"},
    {"D-Link", 16, 21, 11, 21, 9, 19, 2, 19,
     "| D-Link | 21 | 16/21 (76%) | 11/21 (52%) | 9/19 (47%) | 2/19 (11%) |"},
    {"Draytek", 2, 17, 3, 12, 2, 7, 0, 7,
     "| Draytek | 17 | 2/17 (12%) | 3/12 (25%) | 2/7 (29%) | 0/7 (0%) |"},
    {"Belkin", 14, 14, 1, 14, 11, 11, 0, 11, NULL},
    {"Cisco", 12, 12, 3, 9, 6, 7, 2, 7, NULL},
    {"SMC", 12, 12, 3, 10, 8, 9, 2, 9, NULL},
    {"ZyXEL", 7, 9, 1, 8, 0, 7, 0, 7, NULL},
    {"3Com", 7, 7, 1, 7, 5, 6, 0, 6, NULL},
    {"Windows", 31, 33, 11, 32, 16, 31, 11, 31,
     "| Windows | 33 | 31/33 (94%) | 11/32 (34%) | 16/31 (52%) | 11/31 (35%) |"},
    {"Linux", 26, 32, 3, 25, 16, 24, 0, 24, NULL},
    {"FreeBSD", 7, 9, 3, 6, 2, 3, 1, 3,
     "| FreeBSD | 9 | 7/9 (78%) | 3/6 (50%) | 2/3 (67%) | 1/3 (33%) |"},
    {"Other vendors", 100, 131, 32, 114, 57, 94, 16, 94, NULL},
};

static char dir[64];
static unsigned nfiles;

static void write_doc(const char *vendor, const struct nc_result *r)
{
	char path[128], *res = nc_result_to_json(r, false);
	FILE *f;

	assert_non_null(res);
	snprintf(path, sizeof(path), "%s/%05u.json", dir, nfiles++);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
		"{\"schema\":\"natcheck-submission\",\"version\":1,\"id\":\"fixture%05u\","
		"\"vendor\":\"%s\",\"result\":%s}\n",
		nfiles, vendor, res);
	fclose(f);
	free(res);
}

static void build_fixture(void)
{
	static struct nc_result r;

	strcpy(dir, "/tmp/test_table1.XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (size_t v = 0; v < sizeof(rows) / sizeof(rows[0]); v++) {
		const struct vrow *w = &rows[v];
		for (unsigned i = 0; i < w->udp_m; i++) {
			nc_result_init(&r);
			r.udp.reachable = NC_TRI_YES;
			r.udp.nat = NC_TRI_YES;
			r.udp.mapping = i < w->udp_n ? NC_BEH_EI : NC_BEH_APD;
			r.udp.filtering = NC_BEH_APD;
			if (i < w->hp_m)
				r.udp.hairpin = i < w->hp_n ? NC_TRI_YES : NC_TRI_NO;
			if (i < w->tcp_m) {
				r.tcp.tested = true;
				r.tcp.consistent = i < w->tcp_n ? NC_TRI_YES : NC_TRI_NO;
				r.tcp.simultaneous_open = NC_TRI_YES;
				strcpy(r.tcp.unsolicited, "dropped");
				if (i < w->thp_m)
					r.tcp.hairpin = i < w->thp_n ? NC_TRI_YES : NC_TRI_NO;
			}
			write_doc(w->vendor, &r);
		}
	}
	/* Reports that are in no column: hosts without a NAT, UDP blocked, and a NAT whose
	 * consistent TCP translation is spoiled by RSTs (in TCP's m, not its n: see below). */
	for (int i = 0; i < 6; i++) {
		nc_result_init(&r);
		r.udp.reachable = i < 5 ? NC_TRI_YES : NC_TRI_NO;
		r.udp.nat = i < 5 ? NC_TRI_NO : NC_TRI_UNKNOWN;
		r.udp.mapping = i < 5 ? NC_BEH_NONE : NC_BEH_UNKNOWN;
		r.udp.filtering = i < 5 ? NC_BEH_NONE : NC_BEH_UNKNOWN;
		r.udp.hairpin = NC_TRI_YES;
		r.tcp.tested = true;
		r.tcp.consistent = NC_TRI_YES;
		write_doc("Linksys", &r);
	}
	/* Linksys' 53 reports: 46 NATs, 6 without a NAT in front, and 1 more below. */
	nc_result_init(&r);
	r.udp.reachable = NC_TRI_YES;
	r.udp.nat = NC_TRI_YES;
	r.udp.mapping = NC_BEH_UNKNOWN; /* a NAT whose mapping test did not finish */
	write_doc("  linksys ", &r);	/* grouped with "Linksys" */
}

static void remove_fixture(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static char *render(struct rp_stats *st, bool html)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct rp_html_opts o = {.source = "fixture"};

	assert_non_null(f);
	assert_int_equal(html ? rp_write_html(st, f, &o) : rp_write_markdown(st, f, "fixture"), 0);
	fclose(f);
	return buf;
}

static void test_paper_totals(void **state)
{
	struct rp_stats *st = rp_new();
	char err[256], *md, *html;
	char cell[48];

	(void)state;
	build_fixture();
	assert_int_equal(rp_load_dir(st, dir, false, err, sizeof(err)), 0);
	assert_int_equal(rp_skipped(st), 0);
	assert_int_equal(rp_total(st), 380 + 6 + 1);
	assert_string_equal(rp_cell_str(rp_overall(st, RP_UDP_PUNCH), cell, sizeof(cell)),
			    "310/380 (82%)");
	assert_string_equal(rp_cell_str(rp_overall(st, RP_UDP_HAIRPIN), cell, sizeof(cell)),
			    "80/335 (24%)");
	assert_string_equal(rp_cell_str(rp_overall(st, RP_TCP_PUNCH), cell, sizeof(cell)),
			    "184/286 (64%)");
	assert_string_equal(rp_cell_str(rp_overall(st, RP_TCP_HAIRPIN), cell, sizeof(cell)),
			    "37/286 (13%)");

	md = render(st, false);
	assert_non_null(strstr(md, "| **All vendors** | 387 | **310/380 (82%)** | **80/335 (24%)** "
				   "| **184/286 (64%)** | **37/286 (13%)** |\n"));
	for (size_t v = 0; v < sizeof(rows) / sizeof(rows[0]); v++) {
		char line[200];
		if (!rows[v].md)
			continue;
		snprintf(line, sizeof(line), "%s\n", rows[v].md);
		if (!strstr(md, line))
			fail_msg("missing row: %s\n%s", rows[v].md, md);
	}
	/* Most reports first: Other vendors (131), Linksys (53), Netgear (37), Windows (33). */
	assert_string_equal(rp_row_name(st, 0), "Other vendors");
	assert_string_equal(rp_row_name(st, 1), "Linksys");
	assert_string_equal(rp_row_name(st, 2), "Netgear");
	assert_int_equal(rp_rows(st), sizeof(rows) / sizeof(rows[0]));

	html = render(st, true);
	assert_non_null(strstr(html,
			       "<tr class=\"all\"><td>All vendors</td><td class=\"n\">387</td>"
			       "<td class=\"n\">310/380 (82%)</td><td class=\"n\">80/335 (24%)"
			       "</td><td class=\"n\">184/286 (64%)</td><td class=\"n\">37/286 "
			       "(13%)</td></tr>"));
	assert_non_null(strstr(html, "<tr class=\"vendor\"><td>Linksys</td><td class=\"n\">53</td>"
				     "<td class=\"n\">45/46 (98%)</td>"));
	assert_non_null(strstr(html, "<svg class=\"chart\" id=\"chart-mapping-filtering\""));
	assert_non_null(strstr(html, "<svg class=\"chart\" id=\"chart-lifetime\""));
	/* The mapping x filtering cell EI x APD holds the 310 consistent NATs. */
	assert_non_null(strstr(md, "| EI | 0 | 0 | 0 | 310 | 0 |"));
	free(md);
	free(html);
	rp_free(st);
	remove_fixture();
}

/* The definitions, one property at a time. */
static void test_judge(void **state)
{
	static struct nc_result r;
	bool t[RP_NCOL], ok[RP_NCOL];

	(void)state;
	nc_result_init(&r);
	r.udp.nat = NC_TRI_YES;
	r.udp.mapping = NC_BEH_AD;
	r.tcp.tested = true;
	r.tcp.consistent = NC_TRI_YES;
	strcpy(r.tcp.unsolicited, "rst");
	rp_table1_judge(&r, t, ok);
	assert_true(t[RP_UDP_PUNCH] && !ok[RP_UDP_PUNCH]); /* ADM: no consistent translation */
	assert_false(t[RP_UDP_HAIRPIN]);		   /* hairpin unknown: not tested */
	assert_true(t[RP_TCP_PUNCH] && !ok[RP_TCP_PUNCH]); /* RST kills the other side's SYN */
	strcpy(r.tcp.unsolicited, "icmp-port-unreachable");
	rp_table1_judge(&r, t, ok);
	assert_false(ok[RP_TCP_PUNCH]);
	strcpy(r.tcp.unsolicited, "accepted");
	rp_table1_judge(&r, t, ok);
	assert_true(ok[RP_TCP_PUNCH]);
	r.tcp.simultaneous_open = NC_TRI_NO;
	rp_table1_judge(&r, t, ok);
	assert_false(ok[RP_TCP_PUNCH]);
	r.udp.nat = NC_TRI_NO; /* no NAT: in no column at all */
	rp_table1_judge(&r, t, ok);
	for (int c = 0; c < RP_NCOL; c++)
		assert_false(t[c]);
}

static void test_cell_format(void **state)
{
	char b[48];

	(void)state;
	assert_string_equal(rp_cell_str((struct rp_cell){0, 0}, b, sizeof(b)), "0/0");
	assert_string_equal(rp_cell_str((struct rp_cell){1, 2}, b, sizeof(b)), "1/2 (50%)");
	assert_string_equal(rp_cell_str((struct rp_cell){1, 3}, b, sizeof(b)), "1/3 (33%)");
	assert_string_equal(rp_cell_str((struct rp_cell){2, 3}, b, sizeof(b)), "2/3 (67%)");
	assert_string_equal(rp_cell_str((struct rp_cell){1, 8}, b, sizeof(b)),
			    "1/8 (13%)"); /* 12.5 up */
	assert_string_equal(rp_cell_str((struct rp_cell){7, 7}, b, sizeof(b)), "7/7 (100%)");
}

/* Vendor names are untrusted: escaped in both renderings. */
static void test_escaping(void **state)
{
	static struct nc_result r;
	struct rp_stats *st = rp_new();
	char *md, *html;

	(void)state;
	nc_result_init(&r);
	r.udp.nat = NC_TRI_YES;
	r.udp.mapping = NC_BEH_EI;
	assert_int_equal(rp_add(st, "<script>alert(1)</script>|x", &r), 0);
	md = render(st, false);
	html = render(st, true);
	assert_null(strstr(html, "<script>"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;|x"));
	assert_non_null(strstr(md, "\\<script\\>alert(1)\\</script\\>\\|x"));
	free(md);
	free(html);
	rp_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paper_totals),
	    cmocka_unit_test(test_judge),
	    cmocka_unit_test(test_cell_format),
	    cmocka_unit_test(test_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
