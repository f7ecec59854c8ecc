/* natcheck --submit and --resend: the anonymised document, polite retries, the outbox. */
#include <natcheck/error.h>
#include <natcheck/submit.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool meta_ok(const char *s)
{
	if (!s)
		return true;
	if (strlen(s) > NC_SUBMIT_META_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

char *nc_submit_document(const struct nc_submit_cfg *cfg, const struct nc_result *r,
			 char id[NC_SUBMIT_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	const char *meta[3] = {cfg->vendor, cfg->model, cfg->note};
	static const char *const key[3] = {"vendor", "model", "note"};
	struct nc_result *anon;
	unsigned char rnd[16];
	json_t *doc = NULL, *res = NULL;
	char *text = NULL, *rtext = NULL;

	for (int i = 0; i < 3; i++) {
		json_t *probe = meta[i] ? json_string(meta[i]) : NULL; /* NULL: not UTF-8 */
		bool utf8 = !meta[i] || probe;

		json_decref(probe);
		if (!meta_ok(meta[i]) || !utf8) {
			errno = EINVAL;
			return NULL;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return NULL;
	for (int i = 0; i < 16; i++) {
		id[2 * i] = hex[rnd[i] >> 4];
		id[2 * i + 1] = hex[rnd[i] & 15];
	}
	id[32] = '\0';
	anon = malloc(sizeof(*anon));
	if (!anon)
		return NULL;
	memcpy(anon, r, sizeof(*anon));
	nc_result_anonymise(anon);
	rtext = nc_result_to_json(anon, false);
	free(anon);
	if (!rtext || !(res = json_loads(rtext, 0, NULL)))
		goto out;
	doc = json_pack("{s:s, s:i, s:s}", "schema", NC_SUBMIT_SCHEMA, "version", NC_SUBMIT_VERSION,
			"id", id);
	if (!doc)
		goto out;
	for (int i = 0; i < 3; i++)
		if (meta[i] && meta[i][0])
			json_object_set_new(doc, key[i], json_string(meta[i]));
	json_object_set(doc, "result", res);
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
	json_decref(doc);
	json_decref(res);
	free(rtext);
	if (!text)
		errno = ENOMEM;
	return text;
}

const char *nc_submit_outbox(const struct nc_submit_cfg *cfg, char *buf, size_t len)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (cfg->outbox)
		snprintf(buf, len, "%s", cfg->outbox);
	else if (x && x[0] == '/')
		snprintf(buf, len, "%s/natcheck/outbox", x);
	else
		snprintf(buf, len, "%s/.local/state/natcheck/outbox",
			 home && *home ? home : "/tmp");
	return buf;
}

static int mkdirs(const char *path)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The document's own id names its file, so saving a resent document again replaces it. */
static int save(const struct nc_submit_cfg *cfg, const char *doc, char *out, size_t outlen)
{
	char dir[512], tmp[600];
	const char *id = NULL;
	json_t *j = json_loads(doc, 0, NULL);
	int fd, rc;
	size_t n = strlen(doc);

	if (j)
		id = json_string_value(json_object_get(j, "id"));
	nc_submit_outbox(cfg, dir, sizeof(dir));
	if ((rc = mkdirs(dir)) < 0)
		goto done;
	if (snprintf(out, outlen, "%s/%s.json", dir, id ? id : "unnamed") >= (int)outlen ||
	    snprintf(tmp, sizeof(tmp), "%s/.tmp.%ld", dir, (long)getpid()) >= (int)sizeof(tmp)) {
		rc = -NC_E_NOSPACE;
		goto done;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto done;
	}
	rc = write(fd, doc, n) == (ssize_t)n && fsync(fd) == 0 ? 0 : -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, out) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
done:
	if (rc < 0)
		out[0] = '\0';
	json_decref(j);
	return rc;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *url_of(const struct nc_submit_cfg *cfg)
{
	const char *url = cfg->url ? cfg->url : getenv("NATCHECK_SUBMIT_URL");

	return url && *url ? url : NC_SUBMIT_DEFAULT_URL;
}

/* POST with bounded retries; no saving. */
static int post(const struct nc_submit_cfg *cfg, const char *doc, struct nc_submit_status *st)
{
	const char *url = url_of(cfg);
	unsigned attempts = cfg->attempts ? cfg->attempts : 4;
	unsigned wait = cfg->backoff_ms ? cfg->backoff_ms : 1000;
	struct nc_http_url u;
	char body[1024];
	int rc;

	if ((rc = nc_http_url_parse(url, &u)) < 0) {
		snprintf(st->message, sizeof(st->message), "%s: %s", url,
			 rc == -NC_E_UNSUPPORTED ? "only http:// URLs are supported"
						 : "not an http://host[:port]/path URL");
		return rc;
	}
	for (st->tries = 1;; st->tries++) {
		struct nc_http_response resp;
		unsigned pause = wait;

		body[0] = '\0';
		rc = nc_http_post(&u, cfg->idempotency_key, doc, strlen(doc), cfg->timeout_ms, &resp,
				  body, sizeof(body));
		if (rc == 0) {
			st->http_status = resp.status;
			if (resp.status == 200 || resp.status == 201) {
				json_t *j = json_loads(body, 0, NULL);
				json_t *id = j ? json_object_get(j, "id") : NULL;
				if (json_is_integer(id))
					snprintf(st->id, sizeof(st->id), "%lld",
						 (long long)json_integer_value(id));
				json_decref(j);
				snprintf(st->message, sizeof(st->message), "stored by %s as #%s",
					 url, st->id[0] ? st->id : "?");
				return 0;
			}
			/* The collector's error body is one JSON line {"error": "..."}. */
			json_t *j = json_loads(body, 0, NULL);
			const char *why = j ? json_string_value(json_object_get(j, "error")) : NULL;
			snprintf(st->message, sizeof(st->message), "%s answered %d%s%s", url,
				 resp.status, why ? ": " : "", why ? why : "");
			json_decref(j);
			if (resp.status != 408 && resp.status != 429 && resp.status < 500)
				return -NC_E_PROTOCOL; /* the document itself is refused: final */
			if (resp.retry_after_s)
				pause = resp.retry_after_s * 1000 > 60000
					    ? 60000
					    : resp.retry_after_s * 1000;
		} else {
			snprintf(st->message, sizeof(st->message), "%s: %s", url, nc_strerror(rc));
		}
		if (st->tries >= attempts)
			return rc < 0 ? rc : -NC_E_PROTOCOL;
		if (!cfg->quiet)
			fprintf(stderr, "%s: submit: %s; trying again in %u s\n",
				program_invocation_short_name, st->message, (pause + 999) / 1000);
		sleep_ms(pause);
		wait = wait * 2 > 60000 ? 60000 : wait * 2;
	}
}

int nc_submit_post(const struct nc_submit_cfg *cfg, const char *doc, struct nc_submit_status *st)
{
	memset(st, 0, sizeof(*st));
	return post(cfg, doc, st);
}

int nc_submit(const struct nc_submit_cfg *cfg, const char *doc, struct nc_submit_status *st)
{
	int rc;

	memset(st, 0, sizeof(*st));
	rc = post(cfg, doc, st);
	if (rc == 0)
		return 0;
	char why[128];
	snprintf(why, sizeof(why), "%.127s", st->message);
	if (save(cfg, doc, st->saved, sizeof(st->saved)) == 0)
		snprintf(st->message, sizeof(st->message),
			 "%s; the result is saved in %s: send it later with natcheck --resend", why,
			 st->saved);
	else
		snprintf(st->message, sizeof(st->message), "%s; and it could not be saved", why);
	return rc;
}

int nc_submit_interactive(const struct nc_submit_cfg *cfg, const struct nc_result *r, bool yes,
			  FILE *in, FILE *out, struct nc_submit_status *st)
{
	char id[NC_SUBMIT_ID_LEN], answer[16];
	char *doc;
	int rc;

	memset(st, 0, sizeof(*st));
	doc = nc_submit_document(cfg, r, id);
	if (!doc) {
		snprintf(st->message, sizeof(st->message), "%s",
			 errno == EINVAL ? "--vendor, --model and --note: at most 200 bytes of "
					   "UTF-8 text each, without control characters"
					 : "out of memory");
		return errno == EINVAL ? -NC_E_INVALID : -NC_E_NOMEM;
	}
	fprintf(out,
		"This is the document natcheck will send (anonymised; results/README.md "
		"says what is kept and why):\n%s\n",
		doc);
	if (!yes) {
		if (!in || !isatty(fileno(in))) {
			snprintf(
			    st->message, sizeof(st->message),
			    "not sent: no terminal to ask on; add --yes to send without asking");
			free(doc);
			return 1;
		}
		fprintf(out, "Send it to %s? [y/N] ", url_of(cfg));
		fflush(out);
		if (!fgets(answer, sizeof(answer), in) || (answer[0] != 'y' && answer[0] != 'Y')) {
			snprintf(st->message, sizeof(st->message), "not sent");
			free(doc);
			return 1;
		}
	}
	rc = nc_submit(cfg, doc, st);
	free(doc);
	return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_doc(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

int nc_submit_resend(const struct nc_submit_cfg *cfg,
		     void (*cb)(void *ctx, const char *file, int rc,
				const struct nc_submit_status *st),
		     void *ctx)
{
	char dir[512], path[800];
	struct dirent **list;
	int n, left = 0;

	nc_submit_outbox(cfg, dir, sizeof(dir));
	n = scandir(dir, &list, is_doc, by_name);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct nc_submit_status st = {0};
		FILE *f;
		char *doc = NULL;
		size_t cap = 0;
		int rc;

		int pl = snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		free(list[i]);
		if (pl >= (int)sizeof(path))
			continue;
		f = fopen(path, "re");
		if (!f || getdelim(&doc, &cap, '\0', f) < 0) {
			rc = f ? -EIO : -errno;
			snprintf(st.message, sizeof(st.message), "cannot read the file");
		} else {
			rc = post(cfg, doc, &st);
			if (rc == 0)
				unlink(path);
		}
		if (f)
			fclose(f);
		free(doc);
		if (rc < 0)
			left++;
		if (cb)
			cb(ctx, path, rc, &st);
	}
	free(list);
	return left;
}
