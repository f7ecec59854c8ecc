/* For fuzz targets whose first input byte picks a mode: the rest of the input as a heap copy of
 * exactly its size, so that a read one byte past the end is an AddressSanitizer report instead
 * of going unnoticed inside libFuzzer's larger buffer. size must be at least 1; free() the
 * result (NULL when out of memory). */
#ifndef NC_FUZZ_INPUT_H
#define NC_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint8_t *fuzz_rest_copy(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size - 1 ? size - 1 : 1);

	if (copy)
		memcpy(copy, data + 1, size - 1);
	return copy;
}

#endif
