/* The store's front: picks the backend from the URI, stamps the receive time, checks ids. */
#include "store_impl.h"

#include <natcheck/error.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rs_subid_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return n >= 8 && n <= RS_SUBID_MAX;
}

int rs_open(const char *uri, struct rs_store **out, char *err, size_t errlen)
{
	struct rs_store *s;
	int rc;

	*out = NULL;
	if (!uri) {
		snprintf(err, errlen, "no store given");
		return -NC_E_INVALID;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -NC_E_NOMEM;
	if (strncmp(uri, "sqlite:", 7) == 0)
		rc = rs_sqlite_open(uri + 7, s, err, errlen);
	else if (strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0)
		rc = rs_pg_open(uri, s, err, errlen);
	else if (strncmp(uri, "postgres:", 9) == 0)
		rc = rs_pg_open(uri + 9, s, err, errlen);
	else {
		snprintf(err, errlen,
			 "unknown store '%s' (sqlite:PATH, postgresql://... or postgres:CONNINFO)",
			 uri);
		rc = -NC_E_INVALID;
	}
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int rs_put(struct rs_store *s, struct rs_sub *subs, size_t n, char *err, size_t errlen)
{
	char now[32];
	time_t t = time(NULL);
	struct tm tm;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!rs_subid_valid(subs[i].sub_id) || !subs[i].result ||
		    (subs[i].kind != RS_RESULT && subs[i].kind != RS_OUTCOME)) {
			snprintf(err, errlen, "submission %zu: invalid id or no result", i);
			return -NC_E_INVALID;
		}
	}
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return s->ops->put(s, subs, n, now, err, errlen);
}

int rs_export(struct rs_store *s, int64_t since, size_t limit, rs_row_cb cb, void *ctx, char *err,
	      size_t errlen)
{
	return s->ops->export_rows(s, RS_RESULT, since, limit ? (int64_t)limit : INT64_MAX, cb, ctx,
				   err, errlen);
}

int rs_export_outcomes(struct rs_store *s, int64_t since, size_t limit, rs_row_cb cb, void *ctx,
		       char *err, size_t errlen)
{
	return s->ops->export_rows(s, RS_OUTCOME, since, limit ? (int64_t)limit : INT64_MAX, cb,
				   ctx, err, errlen);
}

int64_t rs_count(struct rs_store *s)
{
	return s->ops->count(s, RS_RESULT);
}

int64_t rs_count_outcomes(struct rs_store *s)
{
	return s->ops->count(s, RS_OUTCOME);
}

const char *rs_backend(const struct rs_store *s)
{
	return s->ops->name;
}

void rs_close(struct rs_store *s)
{
	if (!s)
		return;
	s->ops->close(s);
	free(s);
}
