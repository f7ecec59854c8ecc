/* The NAT Check report: Ford, Srisuresh and Kegel's Table 1 (per vendor and overall: UDP and
 * TCP hole punching and hairpin, "n/m (p%)") and the RFC 4787 view around it, as Markdown
 * and as one self-contained HTML page with inline SVG charts. The same page is what the
 * collector serves live.
 *
 * Statistics are accumulated one result at a time (rp_add), so a large store is read once
 * without holding its documents. What counts as "supported" is rp_table1_judge(), documented
 * in results/README.md. */
#ifndef RP_REPORT_H
#define RP_REPORT_H

#include "../store/store.h"

#include <natcheck/outcome.h>
#include <natcheck/result.h>

#include <stdbool.h>
#include <stdio.h>

enum rp_col { RP_UDP_PUNCH, RP_UDP_HAIRPIN, RP_TCP_PUNCH, RP_TCP_HAIRPIN, RP_NCOL };

struct rp_cell {
	unsigned n; /* supported */
	unsigned m; /* could be tested */
};

struct rp_stats;

struct rp_stats *rp_new(void);
void rp_free(struct rp_stats *st);

/* Table 1's definitions for one result: tested[c] and ok[c] per column (pure). */
void rp_table1_judge(const struct nc_result *r, bool tested[RP_NCOL], bool ok[RP_NCOL]);
/* "310/380 (82%)"; "0/0" when nothing was tested. */
const char *rp_cell_str(struct rp_cell c, char *buf, size_t len);

/* Adds one result; vendor NULL or "" groups under "(vendor not given)". */
int rp_add(struct rp_stats *st, const char *vendor, const struct nc_result *r);
/* Adds one punch outcome to the per-class-pair table. */
int rp_add_outcome(struct rp_stats *st, const struct nc_punch_outcome *o);
/* Outcomes added, and the cell of one unordered class pair (mapping and filtering of x and y
 * count; the rest of the class does not) and method. */
unsigned rp_outcomes(const struct rp_stats *st);
struct rp_cell rp_punch_cell(const struct rp_stats *st, const struct nc_nat_class *x,
			     const struct nc_nat_class *y, enum nc_punch_method m);
/* Adds a body as the collector accepts it (submission wrapper, bare result, or a punch outcome
 * document); the wrapper's vendor wins over vendor. */
int rp_add_json(struct rp_stats *st, const char *vendor, const char *text, size_t len, char *err,
		size_t errlen);
/* Every row of a store: results and punch outcomes. */
int rp_load_store(struct rp_stats *st, struct rs_store *s, char *err, size_t errlen);
/* Every *.json in dir (sorted); files that are not result documents are skipped and counted.
 * name_vendor: a file without vendor metadata is grouped under its file name (the lab's
 * profile name), so the lab's matrix becomes the table's rows. */
int rp_load_dir(struct rp_stats *st, const char *dir, bool name_vendor, char *err, size_t errlen);

/* Orders the vendor rows: most reports first, "(vendor not given)" last (the writers call it;
 * call it before reading rows). */
void rp_sort(struct rp_stats *st);
unsigned rp_total(const struct rp_stats *st);
unsigned rp_skipped(const struct rp_stats *st);
/* Table 1 rows: index 0 .. rp_rows()-1 are vendors (most reports first); the overall row is
 * rp_overall(). */
size_t rp_rows(const struct rp_stats *st);
const char *rp_row_name(const struct rp_stats *st, size_t i);
struct rp_cell rp_row_cell(const struct rp_stats *st, size_t i, enum rp_col c);
struct rp_cell rp_overall(const struct rp_stats *st, enum rp_col c);

struct rp_html_opts {
	const char *title;  /* NULL = "NAT Check report" */
	unsigned refresh_s; /* > 0: the page reloads itself (the live page) */
	const char *source; /* where the data came from, in words */
};

int rp_write_markdown(struct rp_stats *st, FILE *f, const char *source);
int rp_write_html(struct rp_stats *st, FILE *f, const struct rp_html_opts *o);

#endif
