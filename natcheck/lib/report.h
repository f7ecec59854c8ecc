/* The human-readable natcheck report: RFC 4787 words first, the classic label second, then a
 * plain verdict on hole punching and what could not be tested. */
#ifndef NC_REPORT_H
#define NC_REPORT_H

#include "result.h"

#include <stdbool.h>
#include <stdio.h>

struct nc_report_opts {
	bool color;   /* ANSI colours; the caller decides (only on a terminal) */
	bool verbose; /* also a table of every probe */
};

/* Writes the report; returns 0 or -errno if the stream failed. */
int nc_report_write(FILE *f, const struct nc_result *r, const struct nc_report_opts *o);

#endif
