/* Submitting a result to a natcheck results collector (results/collector), anonymised.
 *
 * What natcheck --submit does, in library calls:
 *
 *   nc_submit_interactive(&cfg, &result, yes, stdin, stdout, &st)   // all of the below
 *
 *   char id[NC_SUBMIT_ID_LEN];
 *   char *doc = nc_submit_document(&cfg, &result, id);  // anonymised wrapper, shown to the user
 *   ... print doc; ask "Send this to URL? [y/N]" unless --yes ...
 *   rc = nc_submit(&cfg, doc, &st);                      // POST with polite retries; on
 *                                                        // failure the doc is saved in the
 *                                                        // outbox and st.saved names the file
 *   natcheck --resend:  nc_submit_resend(&cfg, cb, ctx)  // every saved doc, same ids
 *
 * The wire document ("natcheck-submission", version 1):
 *   {"schema": "natcheck-submission", "version": 1, "id": "<random, 32 hex>",
 *    "vendor": "...", "model": "...", "note": "...", "result": { natcheck-result v1 }}
 * The id makes a retry or a resend idempotent: the collector stores one copy per id.
 *
 * This layer (natcheck_submit) links natcheck_core and plain sockets only. http:// only: put
 * a collector on the internet behind a TLS-terminating proxy and give natcheck its http URL
 * on a trusted path, or add TLS here later. */
#ifndef NC_SUBMIT_H
#define NC_SUBMIT_H

#include <natcheck/result.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define NC_SUBMIT_SCHEMA   "natcheck-submission"
#define NC_SUBMIT_VERSION  1
#define NC_SUBMIT_ID_LEN   33  /* 32 hex digits + NUL */
#define NC_SUBMIT_META_MAX 200 /* bytes of vendor, model, note (without NUL) */
/* Where --submit without a URL sends (the environment's NATCHECK_SUBMIT_URL wins). */
#define NC_SUBMIT_DEFAULT_URL "http://127.0.0.1:8080/api/v1/results"

struct nc_submit_cfg {
	const char *url;    /* NULL: $NATCHECK_SUBMIT_URL, else NC_SUBMIT_DEFAULT_URL */
	const char *vendor; /* NULL or "" = not given */
	const char *model;
	const char *note;
	const char *outbox;  /* NULL: $XDG_STATE_HOME/natcheck/outbox or
				~/.local/state/natcheck/outbox */
	unsigned attempts;   /* total tries per document; 0 = 4 */
	unsigned timeout_ms; /* per try (connect + send + answer); 0 = 10000 */
	unsigned backoff_ms; /* wait before the 2nd try, doubled each time (capped at 60 s,
				a Retry-After up to 60 s is honoured); 0 = 1000 */
	bool quiet;	     /* no progress lines on stderr */
	/* Sent as the Idempotency-Key header, for documents without an id of their own (punch
	 * outcomes: the collector stores one copy per key). 8-64 of [A-Za-z0-9_-]; NULL: none. */
	const char *idempotency_key;
};

struct nc_submit_status {
	int http_status; /* last HTTP status (0: none received) */
	unsigned tries;
	char id[64];	   /* the collector's row id, when stored */
	char message[768]; /* what happened, in words */
	char saved[512];   /* file the document was saved to, "" when not saved */
};

/* Anonymises r in place (pure: no I/O). What is kept and why is in results/README.md:
 *   - public IPv4 addresses are cut to their /24, IPv6 to their /48, with port 0;
 *   - private, CGNAT, loopback, link-local and reserved addresses are removed (the verdicts
 *     that needed them, nat / cgnat / hairpin source, are kept);
 *   - allocation samples, observations, TCP probe records, the routers on the path
 *     (topology hops), mapping-stability samples, notes and port-mapping error texts are
 *     removed: they carry full endpoints and free text, and the report uses only the
 *     verdicts;
 *     the patterns (preserving / sequential + delta / random, parity) are kept;
 *   - "started" is cut to the day.
 * Applying it twice changes nothing more. */
void nc_result_anonymise(struct nc_result *r);
/* Cuts one address as above: returns false (and unsets *a) when it must be dropped. */
bool nc_addr_anonymise(struct nc_addr *a);

/* The anonymised submission document for r (pretty-printed, so the user can read exactly
 * what will be sent); writes a fresh random id to id. malloc'd; NULL with errno on failure
 * (EINVAL: vendor, model or note too long or with control characters). */
char *nc_submit_document(const struct nc_submit_cfg *cfg, const struct nc_result *r,
			 char id[NC_SUBMIT_ID_LEN]);

/* POSTs doc with bounded retries (network errors, 5xx, 429 and 408 are retried with
 * exponential backoff; other 4xx are final). If it is not stored, doc is saved in the outbox
 * (st->saved) so nothing measured is lost. Returns 0 when stored, a negative NC_E_* or -errno
 * otherwise; st->message says what happened and how to resend. */
int nc_submit(const struct nc_submit_cfg *cfg, const char *doc, struct nc_submit_status *st);

/* The POST alone, with the same bounded retries: nothing is saved on failure (the caller keeps
 * the document; punchvpn submit-outcomes posts files it deletes once stored). Returns 0 when
 * the collector stored it (201) or had it already (200), else as nc_submit(). */
int nc_submit_post(const struct nc_submit_cfg *cfg, const char *doc, struct nc_submit_status *st);

/* The whole of natcheck --submit in one call: builds the document, prints it to out exactly as
 * it will be sent, asks "Send it to URL? [y/N]" and reads the answer from in unless yes (no
 * terminal on in and no yes: nothing is sent, "use --yes" is said), then nc_submit(). Returns
 * 0 stored, 1 declined (nothing sent, nothing saved), or nc_submit()'s negative code (the
 * document is then in the outbox, st->message says so). */
int nc_submit_interactive(const struct nc_submit_cfg *cfg, const struct nc_result *r, bool yes,
			  FILE *in, FILE *out, struct nc_submit_status *st);

/* Resends every document in the outbox (in file name order); a stored one is deleted from it. cb
 * (may be NULL) is told about each file. Returns the number still unsent (0 = outbox empty) or a
 * negative code when the outbox cannot be read. */
int nc_submit_resend(const struct nc_submit_cfg *cfg,
		     void (*cb)(void *ctx, const char *file, int rc,
				const struct nc_submit_status *st),
		     void *ctx);

/* The outbox directory in effect for cfg, written to buf. */
const char *nc_submit_outbox(const struct nc_submit_cfg *cfg, char *buf, size_t len);

/* --- lower level, exposed for tests and the collector's own tools --------------------- */

struct nc_http_url {
	char host[256];
	char port[8];
	char path[1024];
};
/* Parses "http://host[:port][/path]" (host: name, IPv4, or [IPv6]). -NC_E_UNSUPPORTED for
 * https, -NC_E_PARSE otherwise. */
int nc_http_url_parse(const char *url, struct nc_http_url *out);

struct nc_http_response {
	int status;
	unsigned retry_after_s; /* 0 when absent */
	size_t body_off;	/* where the body starts in the buffer */
	size_t body_len;
};
/* Parses a complete HTTP/1.1 response in buf[0..len): status line, headers (Content-Length
 * required unless the connection closed, chunked refused). Returns 0, -NC_E_TRUNCATED when
 * more bytes are needed, or -NC_E_MALFORMED. closed: the peer closed after len bytes. */
int nc_http_response_parse(const char *buf, size_t len, bool closed, struct nc_http_response *out);

/* One POST of body to url (with an Idempotency-Key header when idem_key is not NULL; -NC_E_INVALID
 * unless it is 8-64 of [A-Za-z0-9_-]); fills resp and copies up to bodycap-1 bytes of the
 * answer's body (NUL-terminated) into bodybuf. 0 when an answer arrived (any status), else
 * negative. */
int nc_http_post(const struct nc_http_url *url, const char *idem_key, const char *body, size_t len,
		 unsigned timeout_ms, struct nc_http_response *resp, char *bodybuf, size_t bodycap);

#endif
