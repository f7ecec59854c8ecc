/* libFuzzer target for the results collector's submission body parser (a wrapper or a bare
 * result document, results/collector/submission.c) and for natcheck's HTTP response parser
 * (natcheck/lib/submit/http.c): the bytes the collector takes from anyone, and the bytes the
 * submission client takes from a collector.
 *
 * First byte: bit 0 picks the parser; bit 1 gives an Idempotency-Key (submission) or says
 * the peer closed (response). Checks: a refused body leaves the output as it was and says
 * why; an accepted one's stored document is read back by libnatcheck's reader and does not
 * change when anonymised again; a parsed response's body lies inside the input. */
#include "../../results/collector/submission.h"
#include "fuzz_input.h"

#include <natcheck/submit.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void submission(const char *body, size_t len, bool key)
{
	static struct col_submission s, untouched;
	static struct nc_result back;
	char err[240], rerr[200], *a, *b;

	memset(&s, 0xA5, sizeof(s));
	memcpy(&untouched, &s, sizeof(s));
	if (col_submission_parse(body, len, key ? "fuzz-key-0001" : NULL, &s, err, sizeof(err)) !=
	    0) {
		if (memcmp(&s, &untouched, sizeof(s)) != 0 || strlen(err) == 0)
			abort();
		return;
	}
	if (key && strcmp(s.sub_id, "fuzz-key-0001") != 0)
		abort();
	a = col_submission_result_json(&s);
	if (!a)
		abort();
	if (nc_result_from_json(a, strlen(a), &back, rerr, sizeof(rerr)) != 0) {
		fprintf(stderr, "stored document rejected: %s\n%s\n", rerr, a);
		abort();
	}
	nc_result_anonymise(&back);
	b = nc_result_to_json(&back, false);
	if (!b || strcmp(a, b) != 0)
		abort(); /* anonymising is idempotent */
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *rest;
	size_t len;

	if (size < 1)
		return 0;
	rest = fuzz_rest_copy(data, size);
	if (!rest)
		return 0;
	len = size - 1;
	if ((data[0] & 1) == 0) {
		submission((const char *)rest, len, data[0] & 2);
	} else {
		struct nc_http_response r;
		int rc = nc_http_response_parse((const char *)rest, len, data[0] & 2, &r);
		if (rc == 0 && (r.body_off > len || r.body_len > len - r.body_off ||
				r.status < 100 || r.status > 999))
			abort();
	}
	free(rest);
	return 0;
}
