/* Submission bodies: wrapper or bare result, checked field by field, then the result through
 * libnatcheck's own schema reader (nc_result_from_json), which is the validator. */
#include "submission.h"

#include <natcheck/error.h>
#include <natcheck/outcome.h>
#include <natcheck/submit.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int meta(json_t *doc, const char *key, char *out, size_t cap, char *err, size_t errlen)
{
	json_t *v = json_object_get(doc, key);
	const char *s;
	size_t n;

	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s: must be a string", key);
		return -NC_E_SCHEMA;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= cap) {
		snprintf(err, errlen, "%s: %zu bytes, at most %zu allowed", key, n, cap - 1);
		return -NC_E_SCHEMA;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(err, errlen, "%s: control characters are not allowed", key);
			return -NC_E_SCHEMA;
		}
	}
	memcpy(out, s, n + 1);
	return 0;
}

int col_submission_parse(const char *body, size_t len, const char *header_id,
			 struct col_submission *out, char *err, size_t errlen)
{
	/* Everything but the result is small: it is collected here and copied to out only when
	 * the result, read last and all-or-nothing, was accepted too. */
	struct col_meta {
		char sub_id[RS_SUBID_MAX + 1];
		char vendor[RS_META_MAX + 1], model[RS_META_MAX + 1], note[RS_META_MAX + 1];
	} m, *tmp = &m;
	json_error_t jerr;
	json_t *doc, *v, *res;
	const char *schema;
	char rerr[200];
	int rc = -NC_E_SCHEMA;

	err[0] = '\0';
	memset(&m, 0, sizeof(m));
	if (header_id && !rs_subid_valid(header_id)) {
		snprintf(err, errlen, "Idempotency-Key: must be 8 to 64 of [A-Za-z0-9_-]");
		return -NC_E_SCHEMA;
	}
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		snprintf(err, errlen, "not JSON: %s (line %d)", jerr.text, jerr.line);
		return -NC_E_PARSE;
	}
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "the body must be a JSON object");
		goto out;
	}
	schema = json_string_value(json_object_get(doc, "schema"));
	if (schema && strcmp(schema, NC_SUBMIT_SCHEMA) == 0) {
		json_int_t ver;
		v = json_object_get(doc, "version");
		ver = json_is_integer(v) ? json_integer_value(v) : -1;
		if (ver != NC_SUBMIT_VERSION) {
			snprintf(err, errlen, "version: must be %d", NC_SUBMIT_VERSION);
			goto out;
		}
		v = json_object_get(doc, "id");
		if (v && !json_is_null(v)) {
			if (!json_is_string(v) || !rs_subid_valid(json_string_value(v))) {
				snprintf(err, errlen, "id: must be 8 to 64 of [A-Za-z0-9_-]");
				goto out;
			}
			strcpy(tmp->sub_id, json_string_value(v));
		}
		if (meta(doc, "vendor", tmp->vendor, sizeof(tmp->vendor), err, errlen) < 0 ||
		    meta(doc, "model", tmp->model, sizeof(tmp->model), err, errlen) < 0 ||
		    meta(doc, "note", tmp->note, sizeof(tmp->note), err, errlen) < 0)
			goto out;
		res = json_object_get(doc, "result");
		if (!json_is_object(res)) {
			snprintf(err, errlen, "result: required, must be a natcheck-result object");
			goto out;
		}
	} else {
		res = doc; /* a bare natcheck-result document, e.g. from natcheck --json */
	}
	if (header_id) {
		if (tmp->sub_id[0] && strcmp(tmp->sub_id, header_id) != 0) {
			snprintf(err, errlen, "id: differs from the Idempotency-Key header");
			goto out;
		}
		strcpy(tmp->sub_id, header_id);
	}
	/* The result member is read where it lies: one parse of the body, no re-serialising. */
	rc = nc_result_from_json_value(res, &out->result, rerr, sizeof(rerr));
	if (rc < 0) {
		if (rc == -NC_E_NOMEM) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		snprintf(err, errlen, "%s%s", res == doc ? "" : "result.", rerr);
		rc = -NC_E_SCHEMA;
		goto out;
	}
	memcpy(out->sub_id, m.sub_id, sizeof(out->sub_id));
	memcpy(out->vendor, m.vendor, sizeof(out->vendor));
	memcpy(out->model, m.model, sizeof(out->model));
	memcpy(out->note, m.note, sizeof(out->note));
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* A string jansson allocated (maybe in the collector's request arena, jarena.h), as a malloc'd
 * copy that outlives the request; the original goes back to jansson's own free. */
static char *copy_out(char *text)
{
	json_malloc_t jmalloc;
	json_free_t jfree;
	char *copy;
	size_t n;

	if (!text)
		return NULL;
	n = strlen(text);
	copy = malloc(n + 1);
	if (copy)
		memcpy(copy, text, n + 1);
	json_get_alloc_funcs(&jmalloc, &jfree);
	jfree(text);
	return copy;
}

char *col_submission_result_json(struct col_submission *s)
{
	nc_result_anonymise(&s->result);
	return copy_out(nc_result_to_json(&s->result, false));
}

int col_outcome_parse(const char *body, size_t len, const char *header_id,
		      char sub_id[RS_SUBID_MAX + 1], char **json, char *err, size_t errlen)
{
	struct nc_punch_outcome o;
	json_error_t jerr;
	json_t *doc;
	int rc;

	err[0] = '\0';
	if (header_id && !rs_subid_valid(header_id)) {
		snprintf(err, errlen, "Idempotency-Key: must be 8 to 64 of [A-Za-z0-9_-]");
		return -NC_E_SCHEMA;
	}
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		snprintf(err, errlen, "not JSON: %s (line %d)", jerr.text, jerr.line);
		return -NC_E_PARSE;
	}
	rc = nc_punch_outcome_from_json_value(doc, &o, err, errlen);
	json_decref(doc);
	if (rc < 0)
		return rc == -NC_E_NOMEM ? rc : -NC_E_SCHEMA;
	/* What is stored is the writer's document: keys this collector does not know are not
	 * kept (they could carry what the schema keeps out). */
	*json = copy_out(nc_punch_outcome_to_json(&o, false));
	if (!*json) {
		snprintf(err, errlen, "out of memory");
		return -NC_E_NOMEM;
	}
	snprintf(sub_id, RS_SUBID_MAX + 1, "%s", header_id ? header_id : "");
	return 0;
}
