#include "jsonrd.h"

#include <natcheck/error.h>

#include <stdarg.h>
#include <stdio.h>

int nc_jrd_parse(const char *text, size_t len, json_t **doc, char *err, size_t errlen)
{
	json_error_t jerr;

	if (err && errlen)
		err[0] = '\0';
	if (!text) {
		if (err && errlen)
			snprintf(err, errlen, "no document");
		return -NC_E_INVALID;
	}
	*doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*doc) {
		if (err && errlen)
			snprintf(err, errlen, "line %d column %d: %s", jerr.line, jerr.column,
				 jerr.text);
		return -NC_E_PARSE;
	}
	return 0;
}

void nc_jrd_bad(struct nc_jrd *d, const char *path, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->failed)
		return;
	d->failed = true;
	if (!d->err || d->errlen == 0)
		return;
	n = snprintf(d->err, d->errlen, "%s%s%s: ", path, *path && key ? "." : "", key ? key : "");
	if (n < 0 || (size_t)n >= d->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

json_t *nc_jrd_member(struct nc_jrd *d, json_t *obj, const char *path, const char *key, int fl)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		if (fl & NC_JRD_REQ)
			nc_jrd_bad(d, path, key, "required, but missing");
		return NULL;
	}
	if (json_is_null(v)) {
		if (!(fl & NC_JRD_NULLABLE))
			nc_jrd_bad(d, path, key, "must not be null");
		return NULL;
	}
	return v;
}

void nc_jrd_tri(struct nc_jrd *d, json_t *obj, const char *path, const char *key, enum nc_tri *out)
{
	json_t *v = nc_jrd_member(d, obj, path, key, NC_JRD_NULLABLE);

	*out = NC_TRI_UNKNOWN;
	if (!v)
		return;
	if (json_is_boolean(v))
		*out = json_is_true(v) ? NC_TRI_YES : NC_TRI_NO;
	else
		nc_jrd_bad(d, path, key, "must be true, false or null");
}

bool nc_jrd_whole(json_t *v, double lo, double hi, long long *out)
{
	double x;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if ((double)i < lo || (double)i > hi)
			return false;
		*out = i;
		return true;
	}
	if (!json_is_real(v))
		return false;
	x = json_real_value(v);
	if (!(x >= lo && x <= hi) || x != (double)(long long)x)
		return false;
	*out = (long long)x;
	return true;
}
