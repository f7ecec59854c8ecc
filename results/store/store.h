/* The results store: one small interface, two backends with the same SQL.
 *
 *   rs_open("sqlite:/var/lib/natcheck/results.db")   embedded default (WAL)
 *   rs_open("postgresql://user@host/db")              or any libpq conninfo ("postgres:..."
 *                                                     strips the prefix), for several
 *                                                     collector instances on one database
 *
 * A submission is a validated result document plus the metadata the submitter gave; a punch
 * outcome (natcheck/outcome.h) is a document alone, in a table of its own. Its
 * submission id is chosen by the client: storing the same id twice stores it once (INSERT ...
 * ON CONFLICT DO NOTHING), so a retry after a lost answer is harmless, on either backend and
 * across collector instances. rs_put() stores a batch in one transaction (group commit) and
 * returns only after the commit: what it reports stored is durable.
 *
 * A handle is used by one thread at a time. */
#ifndef RS_STORE_H
#define RS_STORE_H

#include <stddef.h>
#include <stdint.h>

#define RS_SUBID_MAX 64	 /* bytes of a submission id, without NUL */
#define RS_META_MAX  200 /* bytes of vendor, model, note */

struct rs_store;

/* What a row holds: a natcheck result with its submission metadata (table nc_submission), or
 * a punch outcome document (table nc_outcome; no metadata). Ids are unique per kind. */
enum rs_kind { RS_RESULT = 0, RS_OUTCOME = 1 };

struct rs_sub {
	enum rs_kind kind;  /* RS_RESULT (the zero value) or RS_OUTCOME */
	const char *sub_id; /* [A-Za-z0-9_-]{8,64} (rs_subid_valid) */
	const char *vendor; /* NULL = not given */
	const char *model;
	const char *note;
	const char *result; /* the result (or outcome) document, compact JSON; outcomes have
			       no vendor, model or note */
	int64_t id;	    /* out: the row id (the first one for a repeated sub_id) */
	int dup;	    /* out: 1 when sub_id was already stored */
};

/* One stored row, as rs_export() hands it to its callback (valid during the call). */
struct rs_row {
	int64_t id;
	const char *sub_id;
	const char *received; /* ISO 8601 UTC */
	const char *vendor;   /* NULL when not given */
	const char *model;
	const char *note;
	const char *result;
};

typedef int (*rs_row_cb)(void *ctx, const struct rs_row *row);

/* Opens (and creates the table in) the store named by uri; err gets a message on failure.
 * Returns 0 or a negative NC_E_* code. */
int rs_open(const char *uri, struct rs_store **out, char *err, size_t errlen);
/* Stores subs[0..n) in one transaction and fills their id and dup. 0 or a negative code; on
 * failure nothing of the batch is stored. */
int rs_put(struct rs_store *s, struct rs_sub *subs, size_t n, char *err, size_t errlen);
/* Calls cb for every row with id > since, in id order, at most limit rows (0 = all); stops
 * early when cb returns nonzero (returned). */
int rs_export(struct rs_store *s, int64_t since, size_t limit, rs_row_cb cb, void *ctx, char *err,
	      size_t errlen);
/* The same for the punch outcomes (rs_row.result is the outcome document; vendor, model and
 * note are NULL). */
int rs_export_outcomes(struct rs_store *s, int64_t since, size_t limit, rs_row_cb cb, void *ctx,
		       char *err, size_t errlen);
/* Number of stored rows (results), or a negative code. */
int64_t rs_count(struct rs_store *s);
/* Number of stored punch outcomes, or a negative code. */
int64_t rs_count_outcomes(struct rs_store *s);
void rs_close(struct rs_store *s);
/* "sqlite" or "postgresql". */
const char *rs_backend(const struct rs_store *s);

/* Whether s is an acceptable submission id. */
int rs_subid_valid(const char *s);

#endif
