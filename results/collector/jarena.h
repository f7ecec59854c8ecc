/* A per-thread bump allocator for jansson, for the collector's request threads.
 *
 * Reading a submission builds a jansson tree (every value, key and hashtable a malloc), reads
 * it and frees it; writing the stored document builds and frees another. All of it lives for
 * one request on one thread, so between col_jarena_begin() and col_jarena_end() jansson's
 * allocations are pointer bumps in a thread-local block and its frees are no-ops; the block is
 * reused by the next request. Outside a begin/end pair, on any thread, jansson uses malloc and
 * free as before (the report page, the export). An allocation the block cannot hold falls back
 * to malloc, and its free to free.
 *
 * Rule: nothing jansson allocates inside the pair may outlive col_jarena_end() (copy it out,
 * as col_submission_result_json does with the written document). */
#ifndef COL_JARENA_H
#define COL_JARENA_H

#include <stdbool.h>
#include <stddef.h>

/* Installs the allocator in jansson (json_set_alloc_funcs); once, before any jansson use and
 * before threads start. */
void col_jarena_install(void);
/* Starts a request's arena on this thread; false (and plain malloc) if none could be made. */
bool col_jarena_begin(void);
/* Ends it: everything allocated in it is released at once. */
void col_jarena_end(void);
/* Bytes of the block used so far on this thread (tests). */
size_t col_jarena_used(void);

#endif
