/* punchvpn submit-outcomes --collector URL PATH...: posts the punch outcome documents that
 * `up` wrote (OutcomeLog, --outcomes; vpn/lib/outlog.h) to a results collector's
 * /api/v1/outcomes, through libnatcheck's submit layer (its HTTP client and bounded retries).
 *
 * PATH is a document or a directory of them (every *.json not starting with '.', in name order).
 * Each document is read by the core's own reader first: what would not validate is not sent.
 * A document the collector stored (201), or already had (200, the same Idempotency-Key), is
 * deleted; every other one stays where it is, so running the command again resends exactly the
 * rest. The key is a hash of the file's name and bytes: a retry after a lost answer is stored
 * once, and two files never share one.
 *
 * Exit codes: 0 every document stored, 1 some kept (each named with why), 2 usage error. */
#include <natcheck/error.h>
#include <natcheck/log.h>
#include <natcheck/outcome.h>
#include <natcheck/submit.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "outlog.h"

#define OUTCOMES_PATH "/api/v1/outcomes"

struct run {
	struct nc_submit_cfg cfg;
	unsigned sent, kept;
};

static int usage_submit(FILE *f)
{
	fprintf(f, "usage: punchvpn submit-outcomes --collector URL PATH...\n"
		   "       (URL: http://HOST[:PORT] or the full .../api/v1/outcomes;\n"
		   "        PATH: a document or a directory of them, as OutcomeLog writes)\n");
	return f == stderr ? 2 : 0;
}

/* The whole file, NUL-terminated; at most OUTLOG_MAX_DOC bytes (a document is far smaller). */
static char *slurp(const char *path, size_t *len, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char *buf = NULL;
	struct stat st;
	ssize_t n;

	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > OUTLOG_MAX_DOC) {
		snprintf(why, whylen, "not a regular file of at most %d bytes", OUTLOG_MAX_DOC);
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		snprintf(why, whylen, "short read");
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = (size_t)n;
out:
	close(fd);
	return buf;
}

/* 32 hex digits of BLAKE2b over the file's name and bytes. */
static void doc_key(const char *path, const char *doc, size_t len, char key[33])
{
	crypto_generichash_state h;
	unsigned char d[16];
	char copy[4096], *base;

	snprintf(copy, sizeof(copy), "%s", path);
	base = basename(copy);
	crypto_generichash_init(&h, NULL, 0, sizeof(d));
	crypto_generichash_update(&h, (const unsigned char *)base, strlen(base) + 1);
	crypto_generichash_update(&h, (const unsigned char *)doc, len);
	crypto_generichash_final(&h, d, sizeof(d));
	sodium_bin2hex(key, 33, d, sizeof(d));
}

static void one(struct run *r, const char *path)
{
	struct nc_punch_outcome o;
	struct nc_submit_status st;
	char why[256], key[33];
	size_t len = 0;
	char *doc = slurp(path, &len, why, sizeof(why));
	int rc;

	if (doc && nc_punch_outcome_from_json(doc, len, &o, why, sizeof(why)) != 0) {
		free(doc);
		doc = NULL;
	}
	if (!doc) {
		printf("%s: kept, not sent: %s\n", path, why);
		r->kept++;
		return;
	}
	doc_key(path, doc, len, key);
	r->cfg.idempotency_key = key;
	rc = nc_submit_post(&r->cfg, doc, &st);
	free(doc);
	if (rc != 0) {
		printf("%s: kept: %s\n", path, st.message);
		r->kept++;
		return;
	}
	r->sent++;
	if (unlink(path) != 0) {
		printf("%s: %s, but not deleted (%s): sending it again stores nothing new\n", path,
		       st.message, strerror(errno));
		return;
	}
	printf("%s: %s, deleted\n", path, st.message);
}

static int is_doc(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 5 && !strcmp(e->d_name + n - 5, ".json");
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void each(struct run *r, const char *path)
{
	struct dirent **list;
	struct stat st;
	char file[4096];
	int n;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		one(r, path); /* says why when it is neither a file nor there */
		return;
	}
	n = scandir(path, &list, is_doc, by_name);
	if (n < 0) {
		printf("%s: kept, not read: %s\n", path, strerror(errno));
		r->kept++;
		return;
	}
	for (int i = 0; i < n; i++) {
		if (snprintf(file, sizeof(file), "%s/%s", path, list[i]->d_name) <
		    (int)sizeof(file))
			one(r, file);
		free(list[i]);
	}
	free(list);
}

int cmd_submit_outcomes(int argc, char **argv)
{
	static char url[1400];
	struct run r = {.cfg = {.quiet = false}};
	const char *collector = NULL;
	struct nc_http_url u;
	int first = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--collector") && i + 1 < argc) {
			collector = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			return usage_submit(stdout);
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "punchvpn: submit-outcomes: unknown option '%s'\n",
				argv[i]);
			return usage_submit(stderr);
		} else {
			first = i;
			break;
		}
	}
	if (!collector || !first)
		return usage_submit(stderr);
	if (nc_http_url_parse(collector, &u) != 0) {
		fprintf(stderr,
			"punchvpn: --collector: '%s' is not an http://HOST[:PORT][/PATH] URL\n",
			collector);
		return 2;
	}
	/* The collector's base URL names the outcomes endpoint; a full URL is taken as it is. */
	if (strcmp(u.path, "/"))
		snprintf(url, sizeof(url), "%s", collector);
	else
		snprintf(url, sizeof(url), "%.*s%s", (int)strcspn(collector + 7, "/") + 7, collector,
			 OUTCOMES_PATH);
	r.cfg.url = url;
	for (int i = first; i < argc; i++)
		each(&r, argv[i]);
	printf("%u sent, %u kept\n", r.sent, r.kept);
	return r.kept ? 1 : 0;
}
