/* libFuzzer target for the result reader, the validator the results collector and the lab
 * replay trust with files from anywhere.
 *
 * Any input the reader accepts must survive the writer and be accepted again, unchanged:
 * to_json(from_json(to_json(r))) == to_json(r). The accepted result also goes through the
 * human report, whose text comes from the same untrusted fields. */
#include "report.h"
#include <natcheck/result.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nc_result r, again, untouched;
	static FILE *null_out;
	struct nc_report_opts opts = {.color = true, .verbose = true};
	char err[256], *a, *b;

	/* A rejected document leaves the caller's result as it was. */
	memset(&r, 0xA5, sizeof(r));
	memcpy(&untouched, &r, sizeof(r));
	if (nc_result_from_json((const char *)data, size, &r, err, sizeof(err)) != 0) {
		if (memcmp(&r, &untouched, sizeof(r)) != 0)
			abort();
		if (strlen(err) == 0)
			abort(); /* every rejection says why */
		return 0;
	}
	a = nc_result_to_json(&r, false);
	if (!a)
		abort();
	if (nc_result_from_json(a, strlen(a), &again, err, sizeof(err)) != 0) {
		fprintf(stderr, "the reader rejects the writer's output: %s\n%s\n", err, a);
		abort();
	}
	b = nc_result_to_json(&again, false);
	if (!b || strcmp(a, b) != 0) {
		fprintf(stderr, "not a fixed point:\n%s\n%s\n", a, b ? b : "(null)");
		abort();
	}
	free(a);
	free(b);
	if (!null_out)
		null_out = fopen("/dev/null", "w");
	if (null_out)
		nc_report_write(null_out, &r, &opts);
	return 0;
}
