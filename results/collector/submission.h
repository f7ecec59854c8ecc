/* The submission body parsers (results and punch outcomes): the collector's only readers of
 * untrusted bytes (with libnatcheck's result and outcome readers under them). Pure: no I/O, no
 * global state. */
#ifndef COL_SUBMISSION_H
#define COL_SUBMISSION_H

#include "../store/store.h"

#include <natcheck/result.h>

#include <stddef.h>

struct col_submission {
	char sub_id[RS_SUBID_MAX + 1]; /* "" when the client gave none */
	char vendor[RS_META_MAX + 1];  /* "" when not given */
	char model[RS_META_MAX + 1];
	char note[RS_META_MAX + 1];
	struct nc_result result; /* validated by nc_result_from_json */
};

/* Parses a body that is either a "natcheck-submission" wrapper (natcheck/submit.h) or a bare
 * "natcheck-result" document. header_id (NULL if absent) is the Idempotency-Key header; when
 * both it and the wrapper's id are given they must agree. Returns 0, -NC_E_PARSE (not JSON),
 * or -NC_E_SCHEMA, with a one-line message in err. out is changed only on success. */
int col_submission_parse(const char *body, size_t len, const char *header_id,
			 struct col_submission *out, char *err, size_t errlen);

/* The document to store: s's result anonymised again, in place (the collector keeps no more
 * than a natcheck client would send), written compactly by libnatcheck's writer. malloc'd
 * (free()), also when jansson allocates from the collector's request arena. */
char *col_submission_result_json(struct col_submission *s);

/* Parses a punch outcome body (natcheck/outcome.h, a bare document; header_id as above).
 * On success sub_id is the header's id ("" without one) and *json the outcome as libnatcheck's
 * writer prints it (malloc'd; unknown keys dropped). Returns 0, -NC_E_PARSE, -NC_E_SCHEMA or
 * -NC_E_NOMEM with a one-line message in err; nothing is written on failure. */
int col_outcome_parse(const char *body, size_t len, const char *header_id,
		      char sub_id[RS_SUBID_MAX + 1], char **json, char *err, size_t errlen);

#endif
