/* Statistics for the NAT Check report, and how they are read from a store or a folder. */
#include "report.h"
#include "report_impl.h"

#include "../collector/submission.h"

#include <natcheck/error.h>

#include <ctype.h>
#include <jansson.h>
#include <errno.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

const char *const rp_classic_words[RP_NCLASSIC] = {
    "open internet",	      "full cone",   "restricted cone",
    "port-restricted cone",   "symmetric",   "symmetric (address-dependent)",
    "symmetric UDP firewall", "UDP blocked", "unknown",
};

struct rp_stats *rp_new(void)
{
	struct rp_stats *st = calloc(1, sizeof(*st));

	if (st)
		snprintf(st->all.name, sizeof(st->all.name), "All vendors");
	return st;
}

void rp_free(struct rp_stats *st)
{
	if (!st)
		return;
	free(st->g);
	free(st);
}

static bool tcp_refused(const char *u)
{
	/* An answer to an unsolicited SYN that kills the other side's attempt: RST or ICMP. */
	return strncmp(u, "rst", 3) == 0 || strncmp(u, "icmp", 4) == 0;
}

void rp_table1_judge(const struct nc_result *r, bool tested[RP_NCOL], bool ok[RP_NCOL])
{
	const struct nc_udp_result *u = &r->udp;
	const struct nc_tcp_result *t = &r->tcp;
	bool nat = u->nat == NC_TRI_YES;
	bool beh = u->mapping == NC_BEH_EI || u->mapping == NC_BEH_AD || u->mapping == NC_BEH_APD;

	/* Ford et al. count NATs: a result without a NAT in front of it has no row to be in. */
	tested[RP_UDP_PUNCH] = nat && beh;
	ok[RP_UDP_PUNCH] = tested[RP_UDP_PUNCH] && u->mapping == NC_BEH_EI;
	tested[RP_UDP_HAIRPIN] = nat && u->hairpin != NC_TRI_UNKNOWN;
	ok[RP_UDP_HAIRPIN] = tested[RP_UDP_HAIRPIN] && u->hairpin == NC_TRI_YES;
	tested[RP_TCP_PUNCH] = nat && t->tested && t->consistent != NC_TRI_UNKNOWN;
	ok[RP_TCP_PUNCH] = tested[RP_TCP_PUNCH] && t->consistent == NC_TRI_YES &&
			   !tcp_refused(t->unsolicited) && t->simultaneous_open != NC_TRI_NO;
	tested[RP_TCP_HAIRPIN] = nat && t->tested && t->hairpin != NC_TRI_UNKNOWN;
	ok[RP_TCP_HAIRPIN] = tested[RP_TCP_HAIRPIN] && t->hairpin == NC_TRI_YES;
}

const char *rp_cell_str(struct rp_cell c, char *buf, size_t len)
{
	if (c.m == 0)
		snprintf(buf, len, "0/0");
	else
		snprintf(buf, len, "%u/%u (%u%%)", c.n, c.m, (c.n * 200 + c.m) / (2 * c.m));
	return buf;
}

/* Vendors group case-insensitively with surrounding space trimmed; the first spelling seen
 * names the row. */
static void vendor_key(const char *v, char key[RP_NAME_LEN], char name[RP_NAME_LEN])
{
	size_t n;

	while (v && isspace((unsigned char)*v))
		v++;
	if (!v || !*v)
		v = RP_NO_VENDOR;
	snprintf(name, RP_NAME_LEN, "%s", v);
	n = strlen(name);
	while (n > 0 && isspace((unsigned char)name[n - 1]))
		name[--n] = '\0';
	for (size_t i = 0; i <= n; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
}

static struct rp_group *group(struct rp_stats *st, const char *vendor)
{
	char key[RP_NAME_LEN], name[RP_NAME_LEN];

	vendor_key(vendor, key, name);
	for (size_t i = 0; i < st->ng; i++)
		if (strcmp(st->g[i].key, key) == 0)
			return &st->g[i];
	if (st->ng == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;
		struct rp_group *g = realloc(st->g, cap * sizeof(*g));
		if (!g)
			return NULL;
		st->g = g;
		st->cap = cap;
	}
	struct rp_group *g = &st->g[st->ng++];
	memset(g, 0, sizeof(*g));
	memcpy(g->key, key, sizeof(g->key));
	memcpy(g->name, name, sizeof(g->name));
	return g;
}

static unsigned tri_idx(enum nc_tri t)
{
	return t == NC_TRI_YES ? 0 : t == NC_TRI_NO ? 1 : 2;
}

int rp_add(struct rp_stats *st, const char *vendor, const struct nc_result *r)
{
	struct rp_group *g = group(st, vendor);
	const struct nc_udp_result *u = &r->udp;
	bool tested[RP_NCOL], ok[RP_NCOL];
	const char *classic = nc_result_classic_label(r);

	if (!g)
		return -NC_E_NOMEM;
	st->total++;
	g->reports++;
	st->all.reports++;
	rp_table1_judge(r, tested, ok);
	for (int c = 0; c < RP_NCOL; c++) {
		g->cell[c].m += tested[c];
		g->cell[c].n += ok[c];
		st->all.cell[c].m += tested[c];
		st->all.cell[c].n += ok[c];
	}
	if (u->nat == NC_TRI_YES)
		st->nat_reports++;
	st->mf[u->mapping < RP_NBEH ? u->mapping : 0][u->filtering < RP_NBEH ? u->filtering : 0]++;
	for (int i = 0; i < RP_NCLASSIC; i++)
		if (strcmp(classic, rp_classic_words[i]) == 0 || i == RP_NCLASSIC - 1) {
			st->classic[i]++;
			break;
		}
	st->alloc[u->alloc.pattern < 4 ? u->alloc.pattern : 0]++;
	if (u->alloc.pattern != NC_ALLOC_UNKNOWN)
		st->parity[tri_idx(u->alloc.parity)]++;
	if (u->nat == NC_TRI_YES)
		st->preserve[tri_idx(u->port_preserved)]++;
	for (int p = 0; p < NC_PM_COUNT; p++) {
		const struct nc_portmap_result *m = &r->portmap[p];
		st->pm[p][m->tested ? tri_idx(m->present) : 3]++;
	}
	int8_t layers = r->topology.nat_layers;
	st->layers[layers < 0 ? 4 : layers > 3 ? 3 : layers]++;
	st->cgnat[tri_idx(r->topology.cgnat)]++;
	st->double_nat[tri_idx(r->topology.double_nat)]++;
	if (u->lifetime_s == 0 && u->lifetime_upper_s == 0) {
		st->life[RP_NLIFE - 1]++;
	} else {
		/* The binding died somewhere in (lifetime_s, lifetime_upper_s]; the bucket of the
		 * longest idle time it survived is the safe keepalive. */
		static const uint32_t edge[RP_NLIFE - 2] = {30, 60, 120, 180, 300, 600};
		int b = 0;
		while (b < RP_NLIFE - 2 && u->lifetime_s >= edge[b])
			b++;
		st->life[b]++;
	}
	if (u->nat == NC_TRI_YES && u->hairpin == NC_TRI_YES)
		st->hp_src[u->hairpin_src < 4 ? u->hairpin_src : 0]++;
	if (r->tcp.tested) {
		const char *w = r->tcp.unsolicited;
		int i = !w[0]			 ? 5
			: !strcmp(w, "dropped")	 ? 0
			: !strncmp(w, "rst", 3)	 ? 1
			: !strncmp(w, "icmp", 4) ? 2
			: !strcmp(w, "accepted") ? 3
						 : 4;
		st->unsol[i]++;
	}
	return 0;
}

int rp_add_json(struct rp_stats *st, const char *vendor, const char *text, size_t len, char *err,
		size_t errlen)
{
	struct col_submission *s;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	const char *schema = json_string_value(json_object_get(doc, "schema"));
	int rc;

	if (schema && strcmp(schema, NC_OUTCOME_SCHEMA) == 0) {
		struct nc_punch_outcome o;
		rc = nc_punch_outcome_from_json_value(doc, &o, err, errlen);
		json_decref(doc);
		return rc < 0 ? rc : rp_add_outcome(st, &o);
	}
	json_decref(doc);
	s = malloc(sizeof(*s));
	if (!s)
		return -NC_E_NOMEM;
	rc = col_submission_parse(text, len, NULL, s, err, errlen);
	if (rc == 0)
		rc = rp_add(st, s->vendor[0] ? s->vendor : vendor, &s->result);
	free(s);
	return rc;
}

struct load_ctx {
	struct rp_stats *st;
	struct nc_result *r;
};

static int load_row(void *arg, const struct rs_row *row)
{
	struct load_ctx *c = arg;
	char err[200];

	/* The store holds documents the collector validated; one that no longer reads (a newer
	 * version written by a newer collector) is counted, not fatal. */
	if (nc_result_from_json(row->result, strlen(row->result), c->r, err, sizeof(err)) < 0) {
		c->st->skipped++;
		return 0;
	}
	return rp_add(c->st, row->vendor, c->r) < 0;
}

static int load_outcome_row(void *arg, const struct rs_row *row)
{
	struct load_ctx *c = arg;
	struct nc_punch_outcome o;
	char err[200];

	if (nc_punch_outcome_from_json(row->result, strlen(row->result), &o, err, sizeof(err)) <
	    0) {
		c->st->skipped++;
		return 0;
	}
	return rp_add_outcome(c->st, &o) < 0;
}

int rp_load_store(struct rp_stats *st, struct rs_store *s, char *err, size_t errlen)
{
	struct load_ctx c = {st, malloc(sizeof(struct nc_result))};
	int rc;

	if (!c.r)
		return -NC_E_NOMEM;
	rc = rs_export(s, 0, 0, load_row, &c, err, errlen);
	if (rc == 0)
		rc = rs_export_outcomes(s, 0, 0, load_outcome_row, &c, err, errlen);
	free(c.r);
	if (rc > 0) {
		snprintf(err, errlen, "out of memory");
		rc = -NC_E_NOMEM;
	}
	return rc;
}

static int is_json(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

int rp_load_dir(struct rp_stats *st, const char *dir, bool name_vendor, char *err, size_t errlen)
{
	struct dirent **list;
	int n = scandir(dir, &list, is_json, alphasort);

	if (n < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", dir, nc_strerror(-e));
		return -e;
	}
	for (int i = 0; i < n; i++) {
		char path[4096], name[RP_NAME_LEN], why[256];
		FILE *f;
		char *text = NULL;
		size_t cap = 0;
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(list[i]->d_name) - 5),
			 list[i]->d_name);
		free(list[i]);
		f = fopen(path, "re");
		len = f ? getdelim(&text, &cap, '\0', f) : -1;
		if (f)
			fclose(f);
		if (len < 0 || rp_add_json(st, name_vendor ? name : NULL, text, (size_t)len, why,
					   sizeof(why)) < 0) {
			fprintf(stderr, "natcheck-report: skipping %s: %s\n", path,
				len < 0 ? "cannot read" : why);
			st->skipped++;
		}
		free(text);
	}
	free(list);
	return 0;
}

unsigned rp_total(const struct rp_stats *st)
{
	return st->total;
}

unsigned rp_skipped(const struct rp_stats *st)
{
	return st->skipped;
}

static int by_reports(const void *a, const void *b)
{
	const struct rp_group *x = a, *y = b;

	/* Most reports first, "(vendor not given)" last, then by name: a stable order. */
	bool nx = strcmp(x->name, RP_NO_VENDOR) == 0, ny = strcmp(y->name, RP_NO_VENDOR) == 0;
	if (nx != ny)
		return nx - ny;
	if (x->reports != y->reports)
		return x->reports > y->reports ? -1 : 1;
	return strcmp(x->key, y->key);
}

void rp_sort(struct rp_stats *st)
{
	if (st->ng)
		qsort(st->g, st->ng, sizeof(*st->g), by_reports);
}

size_t rp_rows(const struct rp_stats *st)
{
	return st->ng;
}

const char *rp_row_name(const struct rp_stats *st, size_t i)
{
	return i < st->ng ? st->g[i].name : NULL;
}

struct rp_cell rp_row_cell(const struct rp_stats *st, size_t i, enum rp_col c)
{
	struct rp_cell none = {0, 0};

	return i < st->ng && c < RP_NCOL ? st->g[i].cell[c] : none;
}

struct rp_cell rp_overall(const struct rp_stats *st, enum rp_col c)
{
	struct rp_cell none = {0, 0};

	return c < RP_NCOL ? st->all.cell[c] : none;
}
