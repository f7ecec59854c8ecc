/* The result model's words, shared by the JSON writer and the reader (private to the core).
 * Each table is indexed by its enum; the JSON uses these exact strings. */
#ifndef NC_RESULT_NAMES_H
#define NC_RESULT_NAMES_H

#include <natcheck/result.h>

#include <stddef.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct nc_names {
	const char *const *v;
	size_t n;
};

extern const struct nc_names nc_names_beh, nc_names_alloc, nc_names_pool, nc_names_hp,
	nc_names_role, nc_names_outcome, nc_names_pm, nc_names_classic, nc_names_srv_problem,
	nc_names_tcp_test, nc_names_cb_report;

/* The index of s in t, or -1. */
int nc_names_index(const struct nc_names *t, const char *s);

#endif
