/* libFuzzer target for the punch outcome reader (natcheck/lib/core/outcome.c): the documents
 * the results collector takes from anyone at POST /api/v1/outcomes.
 *
 * Checks: a refused document leaves the output as it was and says why; an accepted one is
 * written again (the writer never refuses what the reader accepted) and reads back to the same
 * document byte for byte. */
#include <natcheck/outcome.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nc_punch_outcome o, untouched, back;
	char err[200], *a, *b, *copy;

	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size); /* exactly size bytes: the reader must not read past them */
	memset(&o, 0xA5, sizeof(o));
	memcpy(&untouched, &o, sizeof(o));
	if (nc_punch_outcome_from_json(copy, size, &o, err, sizeof(err)) != 0) {
		if (memcmp(&o, &untouched, sizeof(o)) != 0 || strlen(err) == 0)
			abort();
		free(copy);
		return 0;
	}
	a = nc_punch_outcome_to_json(&o, false);
	if (!a) {
		fprintf(stderr, "the writer refused what the reader accepted\n");
		abort();
	}
	if (nc_punch_outcome_from_json(a, strlen(a), &back, err, sizeof(err)) != 0) {
		fprintf(stderr, "written document rejected: %s\n%s\n", err, a);
		abort();
	}
	b = nc_punch_outcome_to_json(&back, false);
	if (!b || strcmp(a, b) != 0)
		abort(); /* round trip */
	free(a);
	free(b);
	free(copy);
	return 0;
}
