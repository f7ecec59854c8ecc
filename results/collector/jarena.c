#include "jarena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* A 2.7 KB submission takes about 40 KB of tree; the largest accepted bodies (256 KiB) spill
 * into malloc, which is correct, only slower. */
#define JARENA_SIZE (512 * 1024)

struct jarena {
	char *base;
	size_t used;
	bool active;
};

static _Thread_local struct jarena arena;
static pthread_key_t arena_key; /* frees a thread's block when the thread ends */

static void *ja_malloc(size_t n)
{
	if (arena.active) {
		size_t need = (n + 15) & ~(size_t)15; /* max_align_t */
		if (need >= n && need <= JARENA_SIZE - arena.used) {
			void *p = arena.base + arena.used;
			arena.used += need;
			return p;
		}
	}
	return malloc(n);
}

static void ja_free(void *p)
{
	/* Only a pointer of this thread's block is the arena's: anything else came from malloc
	 * (before begin, after end, or a spill) and goes back to it. */
	if (arena.base && (uintptr_t)p >= (uintptr_t)arena.base &&
	    (uintptr_t)p < (uintptr_t)arena.base + JARENA_SIZE)
		return;
	free(p);
}

void col_jarena_install(void)
{
	pthread_key_create(&arena_key, free);
	json_set_alloc_funcs(ja_malloc, ja_free);
}

bool col_jarena_begin(void)
{
	if (!arena.base) {
		arena.base = malloc(JARENA_SIZE);
		if (!arena.base)
			return false;
		pthread_setspecific(arena_key, arena.base);
	}
	arena.used = 0;
	arena.active = true;
	return true;
}

void col_jarena_end(void)
{
	arena.active = false;
	arena.used = 0;
}

size_t col_jarena_used(void)
{
	return arena.used;
}
