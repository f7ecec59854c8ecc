/* What every schema reader of the core layer shares (the result reader, the punch-outcome
 * reader): the first error kept with the JSON path of the value at fault ("udp.mapping",
 * "observations[3].dest"), members that are required, optional or nullable, tri-state
 * booleans, and whole numbers that JSON may spell as reals. */
#ifndef NC_JSONRD_H
#define NC_JSONRD_H

#include <natcheck/result.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct nc_jrd {
	char *err; /* where the first error goes (may be NULL) */
	size_t errlen;
	bool failed;
};

/* Member flags. */
enum { NC_JRD_OPT = 0, NC_JRD_REQ = 1, NC_JRD_NULLABLE = 2 };

/* Parses a whole document (duplicate keys refused). err is cleared first. Returns 0 with *doc
 * (the caller's to json_decref); -NC_E_INVALID without text ("no document"); -NC_E_PARSE
 * with the line and column in err. */
int nc_jrd_parse(const char *text, size_t len, json_t **doc, char *err, size_t errlen);
/* Records "<path>.<key>: <message>" unless an error is already recorded. */
void nc_jrd_bad(struct nc_jrd *d, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The member, or NULL when it is absent (an error if NC_JRD_REQ) or null (an error unless
 * NC_JRD_NULLABLE). */
json_t *nc_jrd_member(struct nc_jrd *d, json_t *obj, const char *path, const char *key, int fl);
/* true / false / null (or absent) -> NC_TRI_YES / NO / UNKNOWN. */
void nc_jrd_tri(struct nc_jrd *d, json_t *obj, const char *path, const char *key, enum nc_tri *out);
/* A JSON integer, or a real with no fraction, within [lo, hi] (checked before any cast, so
 * the conversion is always defined). */
bool nc_jrd_whole(json_t *v, double lo, double hi, long long *out);

#endif
