/* natcheck-report: the NAT Check report from a results store or a folder of result files.
 *
 *   natcheck-report --store sqlite:results.db --md report.md --html report.html
 *   natcheck-report --dir sim/out/20261205 --name-vendor --md -     (the lab's matrix)
 *
 * Exit status: 0 written, 1 an input or output failed, 2 usage. */
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: natcheck-report (--store URI | --dir DIR) [--name-vendor]\n"
		   "                       [--md FILE] [--html FILE] [--title TEXT]\n"
		   "  --store URI     sqlite:PATH, postgresql://... or postgres:CONNINFO\n"
		   "  --dir DIR       every *.json in DIR (natcheck --json, sim/run.sh --out, or\n"
		   "                  submission documents)\n"
		   "  --name-vendor   group files without vendor metadata by file name\n"
		   "  --md FILE       write Markdown ('-' = stdout)\n"
		   "  --html FILE     write the self-contained HTML page ('-' = stdout)\n"
		   "With neither --md nor --html, Markdown goes to stdout.\n");
}

static int write_out(struct rp_stats *st, const char *path, bool html, const char *title,
		     const char *source)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "we");
	struct rp_html_opts ho = {.title = title, .source = source};
	int rc;

	if (!f) {
		fprintf(stderr, "natcheck-report: %s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = html ? rp_write_html(st, f, &ho) : rp_write_markdown(st, f, source);
	if (f != stdout ? fclose(f) != 0 : fflush(f) != 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "natcheck-report: %s: write failed\n", path);
	return rc;
}

int main(int argc, char **argv)
{
	const char *store = NULL, *dir = NULL, *md = NULL, *html = NULL, *title = NULL;
	bool name_vendor = false;
	char err[512], source[600];
	struct rp_stats *st;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **dst = !strcmp(k, "--store")   ? &store
				   : !strcmp(k, "--dir")   ? &dir
				   : !strcmp(k, "--md")	   ? &md
				   : !strcmp(k, "--html")  ? &html
				   : !strcmp(k, "--title") ? &title
							   : NULL;
		if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(k, "--version")) {
			printf("natcheck-report %s\n", NC_VERSION);
			return 0;
		} else if (!strcmp(k, "--name-vendor")) {
			name_vendor = true;
		} else if (dst) {
			if (!v) {
				fprintf(stderr, "natcheck-report: %s needs a value\n", k);
				return 2;
			}
			*dst = v;
			i++;
		} else {
			fprintf(stderr, "natcheck-report: unknown argument '%s' (try --help)\n", k);
			return 2;
		}
	}
	if (!!store == !!dir) {
		fprintf(stderr, "natcheck-report: give one of --store or --dir\n");
		usage(stderr);
		return 2;
	}
	st = rp_new();
	if (!st)
		return 1;
	if (store) {
		struct rs_store *s;
		if (rs_open(store, &s, err, sizeof(err)) < 0 ||
		    rp_load_store(st, s, err, sizeof(err)) < 0) {
			fprintf(stderr, "natcheck-report: %s\n", err);
			return 1;
		}
		snprintf(source, sizeof(source), "%s store", rs_backend(s));
		rs_close(s);
	} else {
		if (rp_load_dir(st, dir, name_vendor, err, sizeof(err)) < 0) {
			fprintf(stderr, "natcheck-report: %s\n", err);
			return 1;
		}
		snprintf(source, sizeof(source), "result files in %s", dir);
	}
	if (!md && !html)
		md = "-";
	if (md && write_out(st, md, false, title, source) < 0)
		rc = 1;
	if (html && write_out(st, html, true, title, source) < 0)
		rc = 1;
	fprintf(stderr, "natcheck-report: %u reports, %u punch outcomes%s\n", rp_total(st),
		rp_outcomes(st), rp_skipped(st) ? " (some files skipped)" : "");
	rp_free(st);
	return rc;
}
