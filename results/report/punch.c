/* Punch outcomes per pair of NAT classes (issue 11 §4): how often each method carried a packet
 * between a mapping+filtering class and another, from punchvpn's outcome documents. A pair is
 * unordered (A with B is B with A: each side writes its own document, both count). */
#include "report_impl.h"

#include <natcheck/error.h>

#include <stdio.h>
#include <string.h>

static const char *const map_short[RP_NBEH] = {"unknown mapping", "no NAT", "EIM", "ADM", "APDM"};
static const char *const filt_short[RP_NBEH] = {"unknown filtering", "no filter", "EIF", "ADF",
						"APDF"};

static unsigned class_idx(const struct nc_nat_class *c)
{
	unsigned m = (unsigned)c->mapping < RP_NBEH ? (unsigned)c->mapping : 0;
	unsigned f = (unsigned)c->filtering < RP_NBEH ? (unsigned)c->filtering : 0;

	return m * RP_NBEH + f;
}

int rp_add_outcome(struct rp_stats *st, const struct nc_punch_outcome *o)
{
	unsigned a = class_idx(&o->local), b = class_idx(&o->peer);
	struct rp_cell *c;

	if ((unsigned)o->method >= NC_METHOD_COUNT)
		return -NC_E_INVALID;
	c = &st->punch[a < b ? a : b][a < b ? b : a][o->method];
	c->m++;
	c->n += o->success;
	st->outcomes++;
	return 0;
}

unsigned rp_outcomes(const struct rp_stats *st)
{
	return st->outcomes;
}

struct rp_cell rp_punch_cell(const struct rp_stats *st, const struct nc_nat_class *x,
			     const struct nc_nat_class *y, enum nc_punch_method m)
{
	unsigned a = class_idx(x), b = class_idx(y);
	struct rp_cell none = {0, 0};

	return (unsigned)m < NC_METHOD_COUNT ? st->punch[a < b ? a : b][a < b ? b : a][m] : none;
}

static void class_label(unsigned idx, char *buf, size_t len)
{
	snprintf(buf, len, "%s+%s", map_short[idx / RP_NBEH], filt_short[idx % RP_NBEH]);
}

/* The methods any outcome used, in the header's order; returns how many. */
static int used_methods(const struct rp_stats *st, int out[NC_METHOD_COUNT])
{
	int n = 0;

	for (int m = 0; m < NC_METHOD_COUNT; m++) {
		bool any = false;
		for (int i = 0; i < RP_NCLASS && !any; i++)
			for (int j = i; j < RP_NCLASS && !any; j++)
				any = st->punch[i][j][m].m > 0;
		if (any)
			out[n++] = m;
	}
	return n;
}

static unsigned pair_total(const struct rp_stats *st, int i, int j)
{
	unsigned t = 0;

	for (int m = 0; m < NC_METHOD_COUNT; m++)
		t += st->punch[i][j][m].m;
	return t;
}

static struct rp_cell method_total(const struct rp_stats *st, int m)
{
	struct rp_cell t = {0, 0};

	for (int i = 0; i < RP_NCLASS; i++)
		for (int j = i; j < RP_NCLASS; j++) {
			t.n += st->punch[i][j][m].n;
			t.m += st->punch[i][j][m].m;
		}
	return t;
}

static const char *cell_or_dash(struct rp_cell c, char *buf, size_t len)
{
	return c.m ? rp_cell_str(c, buf, len) : "-";
}

static const char punch_intro[] =
    "Each cell is n/m: m connection attempts between the two classes (mapping+filtering, "
    "RFC 4787: EIM/ADM/APDM endpoint-independent, address-dependent, "
    "address-and-port-dependent mapping; EIF/ADF/APDF the same for filtering) used the "
    "method, and n of them carried a packet from the peer. From punchvpn's anonymised "
    "outcome documents (results/schema/punch-outcome.v1.schema.json); a pair is unordered "
    "and each side's document counts.";

void rp_write_punch_markdown(const struct rp_stats *st, FILE *f)
{
	int meth[NC_METHOD_COUNT], nm = used_methods(st, meth);
	char a[40], b[40], cell[48];

	fprintf(f, "## Hole punching per pair of NAT classes\n\n");
	if (!st->outcomes) {
		fprintf(f, "No punch outcomes in these results yet (punchvpn reports them).\n");
		return;
	}
	fprintf(f, "%s\n\n%u outcomes.\n\n| Class pair | Attempts |", punch_intro, st->outcomes);
	for (int k = 0; k < nm; k++)
		fprintf(f, " %s |", nc_punch_method_name((enum nc_punch_method)meth[k]));
	fprintf(f, "\n|---|---:|");
	for (int k = 0; k < nm; k++)
		fprintf(f, "---:|");
	fputc('\n', f);
	for (int i = 0; i < RP_NCLASS; i++)
		for (int j = i; j < RP_NCLASS; j++) {
			unsigned t = pair_total(st, i, j);
			if (!t)
				continue;
			class_label((unsigned)i, a, sizeof(a));
			class_label((unsigned)j, b, sizeof(b));
			fprintf(f, "| %s x %s | %u |", a, b, t);
			for (int k = 0; k < nm; k++)
				fprintf(f, " %s |",
					cell_or_dash(st->punch[i][j][meth[k]], cell, sizeof(cell)));
			fputc('\n', f);
		}
	fprintf(f, "| **All pairs** | **%u** |", st->outcomes);
	for (int k = 0; k < nm; k++)
		fprintf(f, " **%s** |",
			cell_or_dash(method_total(st, meth[k]), cell, sizeof(cell)));
	fputc('\n', f);
}

void rp_write_punch_html(const struct rp_stats *st, FILE *f)
{
	int meth[NC_METHOD_COUNT], nm = used_methods(st, meth);
	char a[40], b[40], cell[48];

	fputs("<section><h2>Hole punching per pair of NAT classes</h2>\n", f);
	if (!st->outcomes) {
		fputs("<p>No punch outcomes in these results yet (punchvpn reports them).</p>"
		      "</section>\n",
		      f);
		return;
	}
	fprintf(f,
		"<p class=\"note\">%s</p>\n<p><span id=\"outcomes\">%u</span> outcomes.</p>\n"
		"<table id=\"punch\"><thead><tr><th>Class pair</th><th>Attempts</th>",
		punch_intro, st->outcomes);
	for (int k = 0; k < nm; k++)
		fprintf(f, "<th>%s</th>", nc_punch_method_name((enum nc_punch_method)meth[k]));
	fputs("</tr></thead><tbody>\n", f);
	for (int i = 0; i < RP_NCLASS; i++)
		for (int j = i; j < RP_NCLASS; j++) {
			unsigned t = pair_total(st, i, j);
			if (!t)
				continue;
			class_label((unsigned)i, a, sizeof(a));
			class_label((unsigned)j, b, sizeof(b));
			fprintf(f,
				"<tr class=\"pair\"><td>%s &#215; %s</td><td class=\"n\">%u</td>",
				a, b, t);
			for (int k = 0; k < nm; k++) {
				struct rp_cell c = st->punch[i][j][meth[k]];
				/* Green to red by success rate, so the table reads at a glance. */
				if (c.m)
					fprintf(f,
						"<td class=\"n\" "
						"style=\"background:hsl(%u,60%%,85%%)\">"
						"%s</td>",
						c.n * 120 / c.m,
						rp_cell_str(c, cell, sizeof(cell)));
				else
					fputs("<td class=\"n\">-</td>", f);
			}
			fputs("</tr>\n", f);
		}
	fprintf(f, "<tr class=\"all\"><td>All pairs</td><td class=\"n\">%u</td>", st->outcomes);
	for (int k = 0; k < nm; k++)
		fprintf(f, "<td class=\"n\">%s</td>",
			cell_or_dash(method_total(st, meth[k]), cell, sizeof(cell)));
	fputs("</tr>\n</tbody></table></section>\n", f);
}
