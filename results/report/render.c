/* The report's two renderings. Every section is one "chart" (a title, labels and counts) that
 * becomes a Markdown table or an inline SVG bar chart, so both say the same numbers. */
#include "report_impl.h"

#include <natcheck/error.h>

#include <stdio.h>
#include <string.h>

#define MAX_BARS 10

struct chart {
	const char *id;
	const char *title;
	const char *note; /* one sentence under the title, or NULL */
	size_t n;
	const char *label[MAX_BARS];
	unsigned v[MAX_BARS];
};

static const char *const col_title[RP_NCOL] = {"UDP hole punching", "UDP hairpin",
					       "TCP hole punching", "TCP hairpin"};
static const char *const beh_short[RP_NBEH] = {"unknown", "none", "EI", "AD", "APD"};

static void add(struct chart *c, const char *label, unsigned v)
{
	if (c->n < MAX_BARS) {
		c->label[c->n] = label;
		c->v[c->n++] = v;
	}
}

/* The charts every rendering shows, in order. */
static size_t charts(const struct rp_stats *st, struct chart *out, size_t cap)
{
	static const char *const tri3[3] = {"yes", "no", "unknown"};
	static const char *const pm4[4] = {"present", "absent", "unknown", "not tested"};
	static const char *const life[RP_NLIFE] = {"< 30 s",	"30-59 s",     "60-119 s",
						   "120-179 s", "180-299 s",   "300-599 s",
						   ">= 600 s",	"not measured"};
	static const char *const layers[5] = {"0 (no NAT)", "1", "2", "3 or more", "unknown"};
	static const char *const unsol[6] = {
	    "dropped", "RST", "ICMP", "accepted (reaches the host)", "other", "TCP not tested"};
	static const char *const pm_title[NC_PM_COUNT] = {"NAT-PMP (RFC 6886)", "PCP (RFC 6887)",
							  "UPnP-IGD"};
	size_t n = 0;
	struct chart *c;

	memset(out, 0, cap * sizeof(*out));
	c = &out[n++];
	c->id = "classic";
	c->title = "NAT types (classic names)";
	for (int i = 0; i < RP_NCLASSIC; i++)
		add(c, rp_classic_words[i], st->classic[i]);
	c = &out[n++];
	c->id = "alloc";
	c->title = "Port allocation patterns (RFC 4787 section 4.2)";
	for (int i = 1; i < 4; i++)
		add(c, nc_alloc_name((enum nc_alloc)i), st->alloc[i]);
	add(c, "unknown", st->alloc[0]);
	c = &out[n++];
	c->id = "preserve";
	c->title = "Port preservation (NAT reports)";
	for (int i = 0; i < 3; i++)
		add(c, tri3[i], st->preserve[i]);
	c = &out[n++];
	c->id = "parity";
	c->title = "Port parity kept (reports with an allocation pattern)";
	for (int i = 0; i < 3; i++)
		add(c, tri3[i], st->parity[i]);
	for (int p = 0; p < NC_PM_COUNT && n < cap; p++) {
		c = &out[n++];
		c->id = nc_pm_proto_name((enum nc_pm_proto)p);
		c->title = pm_title[p];
		for (int i = 0; i < 4; i++)
			add(c, pm4[i], st->pm[p][i]);
	}
	c = &out[n++];
	c->id = "layers";
	c->title = "NAT layers on the path";
	for (int i = 0; i < 5; i++)
		add(c, layers[i], st->layers[i]);
	c = &out[n++];
	c->id = "cgnat";
	c->title = "Carrier-grade NAT (RFC 6598 space) on the path";
	for (int i = 0; i < 3; i++)
		add(c, tri3[i], st->cgnat[i]);
	c = &out[n++];
	c->id = "lifetime";
	c->title = "UDP binding lifetime (longest idle time a binding survived)";
	c->note = "natcheck --lifetime measures it; most runs do not.";
	for (int i = 0; i < RP_NLIFE; i++)
		add(c, life[i], st->life[i]);
	c = &out[n++];
	c->id = "hairpin-source";
	c->title = "Source address of hairpinned UDP (REQ-9 wants external)";
	add(c, "external", st->hp_src[NC_HP_EXTERNAL]);
	add(c, "internal", st->hp_src[NC_HP_INTERNAL]);
	add(c, "other", st->hp_src[NC_HP_OTHER]);
	add(c, "unknown", st->hp_src[NC_HP_UNKNOWN]);
	c = &out[n++];
	c->id = "unsolicited";
	c->title = "What an unsolicited TCP SYN met";
	for (int i = 0; i < 6; i++)
		add(c, unsol[i], st->unsol[i]);
	return n;
}

/* --- Markdown ------------------------------------------------------------------------ */

static void md_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (strchr("\\`*_[]<>|#", *s))
			fputc('\\', f);
		fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
	}
}

static void md_definitions(FILE *f)
{
	fputs("A report counts in a column only when it is behind a NAT (`udp.nat` true) and the "
	      "column's property was measured:\n\n"
	      "* **UDP hole punching**: measured when `udp.mapping` is endpoint-independent, "
	      "address-dependent or address-and-port-dependent; supported when it is "
	      "endpoint-independent (Ford's \"consistent endpoint translation\").\n"
	      "* **UDP hairpin**: measured when `udp.hairpin` is true or false; supported when "
	      "true.\n"
	      "* **TCP hole punching**: measured when `tcp.tested` and `tcp.consistent` is true "
	      "or false; supported when the translation is consistent, the unsolicited SYN met "
	      "no RST or ICMP (`tcp.unsolicited`), and a simultaneous open did not fail.\n"
	      "* **TCP hairpin**: measured when `tcp.tested` and `tcp.hairpin` is true or false; "
	      "supported when true.\n\n",
	      f);
}

int rp_write_markdown(struct rp_stats *st, FILE *f, const char *source)
{
	struct chart ch[16];
	size_t nc;
	char cell[48];

	rp_sort(st);
	fprintf(f, "# NAT Check report\n\n");
	if (source) {
		fputs("Source: ", f);
		md_text(f, source);
		fputs(". ", f);
	}
	fprintf(f, "%u reports, %u behind a NAT", st->total, st->nat_reports);
	if (st->skipped)
		fprintf(f, "; %u documents skipped (not readable as results)", st->skipped);
	fprintf(f, ".\n\nThe sample is self-selected: these are the NATs of people who chose to "
		   "run natcheck and submit, not a survey of all NATs (NAT Check's data had the "
		   "same limit).\n\n");
	fprintf(f, "## Table 1: NAT support for UDP and TCP hole punching\n\n");
	fprintf(f, "| Vendor | Reports |");
	for (int c = 0; c < RP_NCOL; c++)
		fprintf(f, " %s |", col_title[c]);
	fprintf(f, "\n|---|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i <= st->ng; i++) {
		const struct rp_group *g = i < st->ng ? &st->g[i] : &st->all;
		fputs(i < st->ng ? "| " : "| **", f);
		md_text(f, g->name);
		fprintf(f, i < st->ng ? " | %u |" : "** | %u |", g->reports);
		for (int c = 0; c < RP_NCOL; c++)
			fprintf(f, i < st->ng ? " %s |" : " **%s** |",
				rp_cell_str(g->cell[c], cell, sizeof(cell)));
		fputc('\n', f);
	}
	fputc('\n', f);
	md_definitions(f);

	fprintf(
	    f,
	    "## Mapping x filtering (RFC 4787)\n\nRows: mapping; columns: filtering "
	    "(EI endpoint-independent, AD address-dependent, APD address-and-port-dependent).\n\n"
	    "| mapping \\\\ filtering |");
	for (int j = 1; j <= RP_NBEH; j++)
		fprintf(f, " %s |", beh_short[j % RP_NBEH]);
	fprintf(f, "\n|---|---:|---:|---:|---:|---:|\n");
	for (int i = 1; i <= RP_NBEH; i++) {
		fprintf(f, "| %s |", beh_short[i % RP_NBEH]);
		for (int j = 1; j <= RP_NBEH; j++)
			fprintf(f, " %u |", st->mf[i % RP_NBEH][j % RP_NBEH]);
		fputc('\n', f);
	}
	fputc('\n', f);
	nc = charts(st, ch, sizeof(ch) / sizeof(ch[0]));
	for (size_t k = 0; k < nc; k++) {
		fprintf(f, "## %s\n\n", ch[k].title);
		if (ch[k].note)
			fprintf(f, "%s\n\n", ch[k].note);
		fprintf(f, "| | reports |\n|---|---:|\n");
		for (size_t i = 0; i < ch[k].n; i++)
			fprintf(f, "| %s | %u |\n", ch[k].label[i], ch[k].v[i]);
		fputc('\n', f);
	}
	rp_write_punch_markdown(st, f);
	return ferror(f) ? -NC_E_NOSPACE : 0;
}

/* --- HTML ---------------------------------------------------------------------------- */

static void h(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
		}
	}
}

static void svg_bars(FILE *f, const struct chart *c)
{
	const int label_w = 230, bar_w = 360, row = 24, top = 8;
	unsigned max = 1;
	int height = top * 2 + (int)c->n * row;

	for (size_t i = 0; i < c->n; i++)
		max = c->v[i] > max ? c->v[i] : max;
	fprintf(f,
		"<svg class=\"chart\" id=\"chart-%s\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
		c->id, label_w + bar_w + 70, height);
	h(f, c->title);
	fprintf(f, "\">\n");
	for (size_t i = 0; i < c->n; i++) {
		int y = top + (int)i * row;
		int w = (int)((double)c->v[i] * bar_w / max + 0.5);
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 16);
		h(f, c->label[i]);
		fprintf(
		    f,
		    "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#3b6ea8\">"
		    "<title>%u</title></rect><text x=\"%d\" y=\"%d\">%u</text>\n",
		    label_w, y + 3, w, row - 6, c->v[i], label_w + w + 6, y + 16, c->v[i]);
	}
	fprintf(f, "</svg>\n");
}

static void svg_heatmap(FILE *f, const struct rp_stats *st)
{
	const int cell = 70, left = 90, top = 40;
	unsigned max = 1;

	for (int i = 0; i < RP_NBEH; i++)
		for (int j = 0; j < RP_NBEH; j++)
			max = st->mf[i][j] > max ? st->mf[i][j] : max;
	fprintf(f,
		"<svg class=\"chart\" id=\"chart-mapping-filtering\" "
		"xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\" "
		"aria-label=\"mapping x filtering\">\n",
		left + RP_NBEH * cell + 10, top + RP_NBEH * cell + 10);
	fprintf(f,
		"<text x=\"%d\" y=\"14\">filtering &#8594;</text>"
		"<text x=\"4\" y=\"%d\">mapping &#8595;</text>\n",
		left, top - 6);
	for (int j = 1; j <= RP_NBEH; j++)
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
			left + (j - 1) * cell + cell / 2, top - 6, beh_short[j % RP_NBEH]);
	for (int i = 1; i <= RP_NBEH; i++) {
		int y = top + (i - 1) * cell;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", left - 8,
			y + cell / 2 + 5, beh_short[i % RP_NBEH]);
		for (int j = 1; j <= RP_NBEH; j++) {
			unsigned v = st->mf[i % RP_NBEH][j % RP_NBEH];
			double a = v ? 0.15 + 0.85 * v / max : 0.0;
			int x = left + (j - 1) * cell;
			fprintf(
			    f,
			    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#3b6ea8\" "
			    "fill-opacity=\"%.2f\" stroke=\"#ccc\"/><text x=\"%d\" y=\"%d\" "
			    "text-anchor=\"middle\"%s>%u</text>\n",
			    x, y, cell, cell, a, x + cell / 2, y + cell / 2 + 5,
			    a > 0.5 ? " style=\"fill:#fff\"" : "", v);
		}
	}
	fprintf(f, "</svg>\n");
}

int rp_write_html(struct rp_stats *st, FILE *f, const struct rp_html_opts *o)
{
	const char *title = o && o->title ? o->title : "NAT Check report";
	struct chart ch[16];
	size_t nc;
	char cell[48];

	rp_sort(st);
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
	if (o && o->refresh_s)
		fprintf(f, "<meta http-equiv=\"refresh\" content=\"%u\">\n", o->refresh_s);
	fputs("<title>", f);
	h(f, title);
	fputs("</title>\n<style>\n"
	      "body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;"
	      "color:#222}\n"
	      "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;"
	      "padding:4px 8px}td.n{text-align:right}tr.all{font-weight:bold;background:#eef}\n"
	      "svg.chart text{font-size:13px;font-family:sans-serif;fill:#222}\n"
	      ".note{color:#555;font-size:90%}section{margin-bottom:2em}\n"
	      "</style></head><body>\n<h1>",
	      f);
	h(f, title);
	fputs("</h1>\n<p id=\"summary\">", f);
	if (o && o->source) {
		fputs("Source: ", f);
		h(f, o->source);
		fputs(". ", f);
	}
	fprintf(f,
		"<span id=\"total\">%u</span> reports, <span id=\"nat-reports\">%u</span> behind "
		"a NAT",
		st->total, st->nat_reports);
	if (st->skipped)
		fprintf(f, "; %u documents skipped (not readable as results)", st->skipped);
	fputs(".</p>\n<p class=\"note\">The sample is self-selected: these are the NATs of people "
	      "who chose to run natcheck and submit, not a survey of all NATs (NAT Check's data "
	      "had the same limit).</p>\n",
	      f);
	fputs("<section><h2>Table 1: NAT support for UDP and TCP hole punching</h2>\n"
	      "<table id=\"table1\"><thead><tr><th>Vendor</th><th>Reports</th>",
	      f);
	for (int c = 0; c < RP_NCOL; c++)
		fprintf(f, "<th>%s</th>", col_title[c]);
	fputs("</tr></thead><tbody>\n", f);
	for (size_t i = 0; i <= st->ng; i++) {
		const struct rp_group *g = i < st->ng ? &st->g[i] : &st->all;
		fputs(i < st->ng ? "<tr class=\"vendor\"><td>" : "<tr class=\"all\"><td>", f);
		h(f, g->name);
		fprintf(f, "</td><td class=\"n\">%u</td>", g->reports);
		for (int c = 0; c < RP_NCOL; c++)
			fprintf(f, "<td class=\"n\">%s</td>",
				rp_cell_str(g->cell[c], cell, sizeof(cell)));
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table>\n<div class=\"note\">", f);
	fputs("A report counts in a column only when it is behind a NAT and the property was "
	      "measured. UDP hole punching: supported when the mapping is endpoint-independent "
	      "(consistent endpoint translation). UDP hairpin: a packet to the NAT's own mapping "
	      "came back in. TCP hole punching: consistent translation, no RST or ICMP answer to "
	      "an unsolicited SYN, and no failed simultaneous open. TCP hairpin: as for UDP. "
	      "Details: results/README.md.</div></section>\n",
	      f);
	fputs("<section><h2>Mapping x filtering (RFC 4787)</h2>\n", f);
	svg_heatmap(f, st);
	fputs("</section>\n", f);
	nc = charts(st, ch, sizeof(ch) / sizeof(ch[0]));
	for (size_t k = 0; k < nc; k++) {
		fputs("<section><h2>", f);
		h(f, ch[k].title);
		fputs("</h2>\n", f);
		if (ch[k].note) {
			fputs("<p class=\"note\">", f);
			h(f, ch[k].note);
			fputs("</p>\n", f);
		}
		svg_bars(f, &ch[k]);
		fputs("</section>\n", f);
	}
	rp_write_punch_html(st, f);
	fputs("</body></html>\n", f);
	return ferror(f) ? -NC_E_NOSPACE : 0;
}
