/* natcheck-collector: receives natcheck results over HTTP, validates them with libnatcheck's
 * schema reader, stores them (SQLite or PostgreSQL) with group commit, exports them as JSON
 * lines and serves the live NAT Check report.
 *
 *   POST /api/v1/results          a submission (natcheck/submit.h) or a bare result document;
 *                                 optional Idempotency-Key header. 201 {"id": N, ...} when
 *                                 stored, 200 with the same id for a repeated id.
 *   GET  /api/v1/results?since=ID&limit=N   stored rows as JSON lines (application/x-ndjson)
 *   POST /api/v1/outcomes         a punch outcome document (natcheck/outcome.h), the same
 *                                 limits, answers and Idempotency-Key; stored in its own table
 *   GET  /api/v1/outcomes?since=ID&limit=N  stored outcomes as JSON lines
 *   GET  /                        the live report page (HTML, inline SVG)
 *   GET  /healthz                 "ok"
 *
 * Refusals: 400 not JSON, 422 not a valid result, 413 body over --max-body (answered as soon
 * as the declared length passes it; a chunked body that passes it is cut off), 429 per-source
 * rate limit with Retry-After, 503 queue full or store failing, 404 / 405. Slow clients are cut
 * off after --timeout seconds of silence, or when a body takes longer than --deadline. The log has
 * one line per request class and interval, never one per bad request. */
#include "../report/report.h"
#include "../store/store.h"
#include "jarena.h"
#include "ratelimit.h"
#include "submission.h"
#include "writer.h"

#include <natcheck/addr.h>
#include <natcheck/error.h>
#include <natcheck/log.h>
#include <natcheck/privdrop.h>

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum cls {
	C_STORED,
	C_DUP,
	C_BAD_JSON,
	C_INVALID,
	C_TOO_LARGE,
	C_RATE,
	C_BUSY,
	C_STORE_ERR,
	C_EXPORT,
	C_PAGE,
	C_NOT_FOUND,
	C_METHOD,
	C_HTTP,
	C_COUNT
};
static const char *const cls_name[C_COUNT] = {
    "201 stored",
    "200 already stored",
    "400 not JSON",
    "422 invalid result",
    "413 body too large",
    "429 rate limited",
    "503 busy",
    "503 store error",
    "200 export",
    "200 report page",
    "404 not found",
    "405 method not allowed",
    "connection errors (timeouts, resets, protocol)",
};

struct opts {
	const char *store, *listen, *user, *port_file;
	size_t max_body, batch, queue;
	double rate, burst;
	unsigned timeout_s, deadline_s, threads, connections, per_ip, log_interval;
};

struct app {
	struct opts o;
	struct col_writer *writer;
	struct col_ratelimit *rl;
	struct rs_store *reader; /* exports and the page, under reader_lock */
	pthread_mutex_t reader_lock;
	char *page; /* cached report page */
	size_t page_len;
	int64_t page_at;
	atomic_ulong count[C_COUNT];
	pthread_mutex_t last_lock;
	char last[C_COUNT][160]; /* the last reason of each class, for the log line */
};

struct conn {
	struct app *app;
	struct MHD_Connection *mc;
	char *buf;
	size_t len, cap;
	enum rs_kind kind; /* which document the POST carries */
	bool queued;
	atomic_bool done;
	int64_t started_ms;
	char hdr_id[RS_SUBID_MAX + 1];
	char sub_id[RS_SUBID_MAX + 1];
	char vendor[RS_META_MAX + 1], model[RS_META_MAX + 1], note[RS_META_MAX + 1];
	char *result;
	struct col_job job;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count(struct app *a, enum cls c, const char *why)
{
	atomic_fetch_add(&a->count[c], 1);
	if (why) {
		pthread_mutex_lock(&a->last_lock);
		snprintf(a->last[c], sizeof(a->last[c]), "%s", why);
		pthread_mutex_unlock(&a->last_lock);
	}
}

static enum MHD_Result reply(struct MHD_Connection *mc, unsigned status, const char *type,
			     const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	rc = MHD_queue_response(mc, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply_error(struct app *a, struct MHD_Connection *mc, unsigned status,
				   enum cls c, const char *why, unsigned retry_after)
{
	json_t *j = json_pack("{s:s}", "error", why);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	struct MHD_Response *r;
	enum MHD_Result rc;

	json_decref(j);
	count(a, c, why);
	if (!text)
		return MHD_NO;
	size_t n = strlen(text);
	text[n] = '\n'; /* one JSON line; the NUL is not sent */
	r = MHD_create_response_from_buffer(n + 1, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (retry_after) {
		char s[16];
		snprintf(s, sizeof(s), "%u", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, s);
	}
	rc = MHD_queue_response(mc, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* --- POST /api/v1/results ------------------------------------------------------------ */

static void job_done(struct col_job *job)
{
	struct conn *c = (struct conn *)((char *)job - offsetof(struct conn, job));

	atomic_store(&c->done, true);
	MHD_resume_connection(c->mc);
}

static void suspend_cb(void *arg)
{
	struct conn *c = arg;

	MHD_suspend_connection(c->mc);
}

static void random_id(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		/* Practically unreachable; a time-based id still avoids collisions in one process.
		 */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(b, &ts, sizeof(b) < sizeof(ts) ? sizeof(b) : sizeof(ts));
	}
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
}

static enum MHD_Result post_finish(struct app *a, struct conn *c)
{
	/* 27 KB, per HTTP thread and reused: no large malloc per request. */
	static _Thread_local struct col_submission s;
	bool arena = col_jarena_begin();
	const char *hdr = c->hdr_id[0] ? c->hdr_id : NULL;
	char err[240];
	int rc;

	if (c->kind == RS_OUTCOME) {
		s.vendor[0] = s.model[0] = s.note[0] = '\0'; /* outcomes have no metadata */
		rc = col_outcome_parse(c->buf ? c->buf : "", c->len, hdr, s.sub_id, &c->result, err,
				       sizeof(err));
	} else {
		rc = col_submission_parse(c->buf ? c->buf : "", c->len, hdr, &s, err, sizeof(err));
		if (rc == 0 && !(c->result = col_submission_result_json(&s)))
			rc = -NC_E_NOMEM;
	}
	if (arena)
		col_jarena_end();
	if (rc == -NC_E_NOMEM)
		return reply_error(a, c->mc, 503, C_BUSY, "out of memory", 1);
	if (rc < 0)
		return reply_error(a, c->mc, rc == -NC_E_PARSE ? 400 : 422,
				   rc == -NC_E_PARSE ? C_BAD_JSON : C_INVALID, err, 0);
	if (s.sub_id[0])
		memcpy(c->sub_id, s.sub_id, sizeof(c->sub_id));
	else
		random_id(c->sub_id); /* no id, no idempotency: every retry is a new row */
	memcpy(c->vendor, s.vendor, sizeof(c->vendor));
	memcpy(c->model, s.model, sizeof(c->model));
	memcpy(c->note, s.note, sizeof(c->note));
	free(c->buf);
	c->buf = NULL;
	if (!c->result)
		return reply_error(a, c->mc, 503, C_BUSY, "out of memory", 1);
	c->job.sub = (struct rs_sub){
	    .kind = c->kind,
	    .sub_id = c->sub_id,
	    .vendor = c->vendor[0] ? c->vendor : NULL,
	    .model = c->model[0] ? c->model : NULL,
	    .note = c->note[0] ? c->note : NULL,
	    .result = c->result,
	};
	c->job.done = job_done;
	if (col_writer_submit(a->writer, &c->job, suspend_cb, c) < 0)
		return reply_error(a, c->mc, 503, C_BUSY, "too many submissions waiting", 1);
	c->queued = true;
	return MHD_YES;
}

static enum MHD_Result post_answer(struct app *a, struct conn *c)
{
	char body[200];
	int n;

	if (c->job.rc < 0)
		return reply_error(a, c->mc, 503, C_STORE_ERR, "the store failed; try again", 5);
	n = snprintf(body, sizeof(body), "{\"id\":%lld,\"submission_id\":\"%s\",\"stored\":%s}\n",
		     (long long)c->job.sub.id, c->sub_id, c->job.sub.dup ? "false" : "true");
	count(a, c->job.sub.dup ? C_DUP : C_STORED, NULL);
	return reply(c->mc, c->job.sub.dup ? 200 : 201, "application/json", body, (size_t)n,
		     MHD_RESPMEM_MUST_COPY);
}

/* --- GET ------------------------------------------------------------------------------ */

struct export_ctx {
	FILE *f;
	enum rs_kind kind;
};

static int export_row(void *arg, const struct rs_row *row)
{
	struct export_ctx *e = arg;
	bool out = e->kind == RS_OUTCOME;
	json_t *m = out ? json_pack("{s:I, s:s, s:s}", "id", (json_int_t)row->id, "submission_id",
				    row->sub_id, "received", row->received)
			: json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:s?}", "id", (json_int_t)row->id,
				    "submission_id", row->sub_id, "received", row->received,
				    "vendor", row->vendor, "model", row->model, "note", row->note);
	char *text = m ? json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	size_t n;

	json_decref(m);
	if (!text)
		return 1;
	/* The stored result is libnatcheck's own compact output: spliced in as it is. */
	n = strlen(text);
	text[n - 1] = '\0';
	fprintf(e->f, "%s,\"%s\":%s}\n", text, out ? "outcome" : "result", row->result);
	free(text);
	return 0;
}

static long long query_num(struct MHD_Connection *mc, const char *key, long long dflt, bool *ok)
{
	const char *v = MHD_lookup_connection_value(mc, MHD_GET_ARGUMENT_KIND, key);
	char *end;
	long long x;

	if (!v)
		return dflt;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < 0)
		*ok = false;
	return x;
}

static enum MHD_Result get_export(struct app *a, struct MHD_Connection *mc, enum rs_kind kind)
{
	bool ok = true;
	long long since = query_num(mc, "since", 0, &ok);
	long long limit = query_num(mc, "limit", 10000, &ok);
	struct export_ctx e;
	char *buf = NULL, err[256];
	size_t len = 0;
	int rc;

	if (!ok || limit < 1 || limit > 100000)
		return reply_error(a, mc, 400, C_BAD_JSON,
				   "since and limit must be whole numbers (limit 1 to 100000)", 0);
	e.kind = kind;
	e.f = open_memstream(&buf, &len);
	if (!e.f)
		return reply_error(a, mc, 503, C_BUSY, "out of memory", 1);
	pthread_mutex_lock(&a->reader_lock);
	rc = kind == RS_OUTCOME
		 ? rs_export_outcomes(a->reader, since, (size_t)limit, export_row, &e, err,
				      sizeof(err))
		 : rs_export(a->reader, since, (size_t)limit, export_row, &e, err, sizeof(err));
	pthread_mutex_unlock(&a->reader_lock);
	fclose(e.f);
	if (rc != 0) {
		free(buf);
		return reply_error(a, mc, 503, C_STORE_ERR, rc > 0 ? "out of memory" : err, 5);
	}
	count(a, C_EXPORT, NULL);
	return reply(mc, 200, "application/x-ndjson", buf, len, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result get_page(struct app *a, struct MHD_Connection *mc)
{
	char err[256], *copy;
	size_t len;

	pthread_mutex_lock(&a->reader_lock);
	/* One rendering serves every viewer for a second: a crowd on the page costs one read. */
	if (!a->page || now_ms() - a->page_at >= 1000) {
		struct rp_stats *st = rp_new();
		char *buf = NULL, src[256];
		size_t blen = 0;
		FILE *f = st ? open_memstream(&buf, &blen) : NULL;
		snprintf(src, sizeof(src),
			 "live from this collector's %s store, refreshed every 30 s",
			 rs_backend(a->reader));
		struct rp_html_opts ho = {.refresh_s = 30, .source = src};
		if (f && rp_load_store(st, a->reader, err, sizeof(err)) == 0 &&
		    rp_write_html(st, f, &ho) == 0 && fclose(f) == 0) {
			free(a->page);
			a->page = buf;
			a->page_len = blen;
			a->page_at = now_ms();
		} else {
			if (f)
				fclose(f);
			free(buf);
		}
		rp_free(st);
	}
	copy = a->page ? malloc(a->page_len) : NULL;
	len = a->page_len;
	if (copy)
		memcpy(copy, a->page, len);
	pthread_mutex_unlock(&a->reader_lock);
	if (!copy)
		return reply_error(a, mc, 503, C_STORE_ERR, "the report cannot be rendered now", 5);
	count(a, C_PAGE, NULL);
	return reply(mc, 200, "text/html; charset=utf-8", copy, len, MHD_RESPMEM_MUST_FREE);
}

/* --- the request handler ---------------------------------------------------------------- */

static enum MHD_Result handler(void *cls, struct MHD_Connection *mc, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct app *a = cls;
	struct conn *c = *con_cls;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, "HEAD") == 0;

	if (!c) {
		enum rs_kind kind = RS_RESULT;
		if (strcmp(url, "/api/v1/results") == 0 ||
		    (strcmp(url, "/api/v1/outcomes") == 0 && (kind = RS_OUTCOME))) {
			if (get)
				return get_export(a, mc, kind);
			if (!post)
				return reply_error(a, mc, 405, C_METHOD, "POST or GET", 0);
		} else if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
			return get ? get_page(a, mc)
				   : reply_error(a, mc, 405, C_METHOD, "GET only", 0);
		} else if (strcmp(url, "/healthz") == 0) {
			return reply(mc, 200, "text/plain", "ok\n", 3, MHD_RESPMEM_PERSISTENT);
		} else {
			return reply_error(a, mc, 404, C_NOT_FOUND, "no such resource", 0);
		}
		/* A POST of a submission: the source's rate and the declared size decide before a
		 * byte of the body is read. */
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		unsigned retry = 1;
		if (ci && !col_ratelimit_take(a->rl, ci->client_addr, now_ms(), &retry))
			return reply_error(a, mc, 429, C_RATE,
					   "too many submissions from this source", retry);
		const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			if (errno || end == cl || n > a->o.max_body)
				return reply_error(a, mc, 413, C_TOO_LARGE,
						   "the body is larger than this collector accepts",
						   0);
		}
		const char *key =
		    MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Idempotency-Key");
		if (key && strlen(key) > RS_SUBID_MAX)
			return reply_error(a, mc, 422, C_INVALID,
					   "Idempotency-Key: must be 8 to 64 of [A-Za-z0-9_-]", 0);
		c = calloc(1, sizeof(*c));
		if (!c)
			return MHD_NO;
		c->app = a;
		c->mc = mc;
		c->kind = kind;
		c->started_ms = now_ms();
		if (key)
			snprintf(c->hdr_id, sizeof(c->hdr_id), "%s", key);
		*con_cls = c;
		return MHD_YES;
	}
	if (*upload_size) {
		if (c->queued)
			return MHD_NO; /* body after the body: not HTTP we speak */
		/* A client that trickles its body, a byte before each --timeout, is never idle:
		 * the whole body must arrive within --deadline. */
		if (now_ms() - c->started_ms > (int64_t)a->o.deadline_s * 1000) {
			count(a, C_HTTP, "a body took longer than --deadline: connection closed");
			return MHD_NO;
		}
		if (*upload_size > a->o.max_body - c->len) {
			/* A chunked body past the limit: there is no declared length to refuse up
			 * front, so the connection is cut here, before more is buffered. */
			count(a, C_TOO_LARGE, "chunked body over the limit: connection closed");
			return MHD_NO;
		}
		if (c->len + *upload_size + 1 > c->cap) {
			size_t cap = c->cap ? c->cap : 4096;
			while (cap < c->len + *upload_size + 1)
				cap *= 2;
			char *nb = realloc(c->buf, cap);
			if (!nb)
				return MHD_NO;
			c->buf = nb;
			c->cap = cap;
		}
		memcpy(c->buf + c->len, upload, *upload_size);
		c->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (atomic_load(&c->done))
		return post_answer(a, c);
	if (!c->queued)
		return post_finish(a, c);
	return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *mc, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct conn *c = *con_cls;
	struct app *a = cls;

	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
	    toe != MHD_REQUEST_TERMINATED_CLIENT_ABORT)
		count(a, C_HTTP,
		      toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED
			  ? "a client went silent past --timeout"
			  : NULL);
	if (!c)
		return;
	/* A suspended connection is never terminated by MHD, so a queued job is finished here. */
	free(c->buf);
	free(c->result);
	free(c);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct app *a = cls;
	char msg[160];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	count(a, C_HTTP, msg);
}

/* --- setup ------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: natcheck-collector [options]\n"
		"  --store URI            sqlite:PATH (default sqlite:natcheck-results.db),\n"
		"                         postgresql://... or postgres:CONNINFO\n"
		"  --listen ADDR:PORT     where to listen (default 127.0.0.1:8080; port 0 = any)\n"
		"  --port-file FILE       write the port listened on to FILE\n"
		"  --user NAME            drop to this user after binding (when started as root)\n"
		"  --max-body BYTES       largest submission accepted (default 262144)\n"
		"  --rate N --burst N     submissions per second and burst per source (default 1,\n"
		"                         20; --rate 0 = no limit)\n"
		"  --timeout S            cut off a client silent this long (default 10)\n"
		"  --deadline S           cut off a client whose body takes longer (default 30)\n"
		"  --threads N            HTTP threads (default 2)\n"
		"  --connections N        open connections at most (default 1024)\n"
		"  --per-ip-connections N per client address (default 32)\n"
		"  --batch N --queue N    rows per commit (1024), waiting submissions (20000)\n"
		"  --log-interval S       seconds between the per-class log lines (default 10)\n"
		"  -h, --help, --version\n");
}

static bool num(const char *opt, const char *v, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = v ? strtod(v, &end) : 0;
	if (!v || errno || end == v || *end || *out < lo || *out > hi) {
		fprintf(stderr, "natcheck-collector: %s: invalid value '%s' (%g to %g)\n", opt,
			v ? v : "", lo, hi);
		return false;
	}
	return true;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.store = "sqlite:natcheck-results.db",
			   .listen = "127.0.0.1:8080",
			   .max_body = 262144,
			   .batch = 1024,
			   .queue = 20000,
			   .rate = 1,
			   .burst = 20,
			   .timeout_s = 10,
			   .deadline_s = 30,
			   .threads = 2,
			   .connections = 1024,
			   .per_ip = 32,
			   .log_interval = 10};
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		double x;
		if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(k, "--version")) {
			printf("natcheck-collector %s\n", NC_VERSION);
			exit(0);
		}
#define STR(name, field)                                                                           \
	else if (!strcmp(k, name))                                                                 \
	{                                                                                          \
		if (!v)                                                                            \
			goto missing;                                                              \
		o->field = v;                                                                      \
		i++;                                                                               \
	}
#define NUM(name, field, lo, hi, T)                                                                \
	else if (!strcmp(k, name))                                                                 \
	{                                                                                          \
		if (!num(k, v, lo, hi, &x))                                                        \
			return -1;                                                                 \
		o->field = (T)x;                                                                   \
		i++;                                                                               \
	}
		STR("--store", store)
		STR("--listen", listen)
		STR("--user", user)
		STR("--port-file", port_file)
		NUM("--max-body", max_body, 64, 64 << 20, size_t)
		NUM("--rate", rate, 0, 1e6, double)
		NUM("--burst", burst, 1, 1e6, double)
		NUM("--timeout", timeout_s, 1, 3600, unsigned)
		NUM("--deadline", deadline_s, 1, 3600, unsigned)
		NUM("--threads", threads, 1, 64, unsigned)
		NUM("--connections", connections, 1, 100000, unsigned)
		NUM("--per-ip-connections", per_ip, 1, 100000, unsigned)
		NUM("--batch", batch, 1, 100000, size_t)
		NUM("--queue", queue, 1, 1000000, size_t)
		NUM("--log-interval", log_interval, 1, 86400, unsigned)
		else
		{
			fprintf(stderr, "natcheck-collector: unknown argument '%s' (try --help)\n",
				k);
			return -1;
		}
		continue;
	missing:
		fprintf(stderr, "natcheck-collector: %s needs a value\n", k);
		return -1;
	}
	return 0;
}

static int bind_listen(const char *spec, uint16_t *port)
{
	struct nc_addr addr;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	size_t n = strlen(spec);
	bool any_port = n > 2 && strcmp(spec + n - 2, ":0") == 0;
	char host[NC_ADDR_STRLEN];

	/* Port 0 (the kernel picks, for tests) is not an endpoint the address parser takes. */
	if (any_port)
		snprintf(host, sizeof(host), "%.*s", (int)(n - 2 - (spec[0] == '[') * 2),
			 spec + (spec[0] == '['));
	if (any_port ? nc_addr_parse_ip(host, &addr) < 0 : nc_addr_parse(spec, 8080, &addr) < 0) {
		fprintf(stderr, "natcheck-collector: --listen: invalid value '%s' (ADDR:PORT)\n",
			spec);
		return -1;
	}
	sl = nc_addr_to_sockaddr(&addr, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
		nc_log_error("listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	nc_addr_from_sockaddr(&addr, (struct sockaddr *)&ss, sl);
	*port = addr.port;
	return fd;
}

static void log_counts(struct app *a, unsigned long *prev, unsigned interval)
{
	static unsigned long long rows0, txns0; /* main thread only */
	unsigned long long rows, txns;

	if (a->writer) {
		col_writer_counts(a->writer, &rows, &txns);
		if (rows != rows0)
			nc_log_info("%u s: committed %llu rows in %llu "
				    "transactions",
				    interval, rows - rows0, txns - txns0);
		rows0 = rows;
		txns0 = txns;
	}
	for (int c = 0; c < C_COUNT; c++) {
		unsigned long now = atomic_load(&a->count[c]);
		if (now == prev[c])
			continue;
		pthread_mutex_lock(&a->last_lock);
		if (a->last[c][0])
			nc_log_info("%u s: %s x%lu (last: %s)", interval, cls_name[c],
				    now - prev[c], a->last[c]);
		else
			nc_log_info("%u s: %s x%lu", interval, cls_name[c], now - prev[c]);
		a->last[c][0] = '\0';
		pthread_mutex_unlock(&a->last_lock);
		prev[c] = now;
	}
}

int main(int argc, char **argv)
{
	static struct app a; /* the one instance, shared with the HTTP threads */
	struct MHD_Daemon *d;
	struct rs_store *ws = NULL;
	unsigned long prev[C_COUNT] = {0};
	char err[512];
	uint16_t port;
	sigset_t sigs;
	int fd, sig;

	nc_log_init("natcheck-collector");
	col_jarena_install();
	if (parse_args(argc, argv, &a.o) < 0)
		return 2;
	pthread_mutex_init(&a.reader_lock, NULL);
	pthread_mutex_init(&a.last_lock, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = bind_listen(a.o.listen, &port);
	if (fd < 0)
		return 1;
	if (a.o.user && nc_drop_privileges(a.o.user) < 0)
		return 1;
	if (rs_open(a.o.store, &ws, err, sizeof(err)) < 0 ||
	    rs_open(a.o.store, &a.reader, err, sizeof(err)) < 0) {
		nc_log_error("%s", err);
		return 1;
	}
	a.rl = col_ratelimit_new(a.o.rate, a.o.burst);
	if (!a.rl || col_writer_start(ws, a.o.batch, a.o.queue, &a.writer) < 0) {
		nc_log_error("out of memory");
		return 1;
	}
	/* Signals become a loop event of the main thread: blocked here, before any thread starts,
	 * so every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
				 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO,
			     0, NULL, NULL, handler, &a, MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_THREAD_POOL_SIZE, a.o.threads, MHD_OPTION_CONNECTION_LIMIT,
			     a.o.connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, a.o.per_ip,
			     MHD_OPTION_CONNECTION_TIMEOUT, a.o.timeout_s,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, &a, MHD_OPTION_EXTERNAL_LOGGER,
			     mhd_log, &a, MHD_OPTION_END);
	if (!d) {
		nc_log_error("the HTTP server did not start");
		return 1;
	}
	if (a.o.port_file) {
		FILE *pf = fopen(a.o.port_file, "we");
		if (!pf || fprintf(pf, "%u\n", port) < 0 || fclose(pf) != 0) {
			nc_log_error("%s: %s", a.o.port_file, strerror(errno));
			return 1;
		}
	}
	nc_log_info("%s listening on %s (port %u), %s store", NC_VERSION, a.o.listen, port,
		    rs_backend(a.reader));
	for (;;) {
		struct timespec ts = {a.o.log_interval, 0};
		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		log_counts(&a, prev, a.o.log_interval);
	}
	nc_log_info("%s: stopping", strsignal(sig));
	/* No new connections; the writer commits and answers what is queued (resuming those
	 * connections) before the HTTP side stops, so nothing acknowledged is cut short. */
	MHD_quiesce_daemon(d);
	log_counts(&a, prev, a.o.log_interval);
	col_writer_stop(a.writer);
	a.writer = NULL;
	MHD_stop_daemon(d);
	close(fd);
	log_counts(&a, prev, a.o.log_interval);
	rs_close(a.reader);
	col_ratelimit_free(a.rl);
	free(a.page);
	return 0;
}
