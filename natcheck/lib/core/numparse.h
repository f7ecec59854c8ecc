/* Strict number parsing for the suite's command lines: plain decimals only. strtod/strtoul
 * alone also take " 5", "+5", "0x10", "1e3", "inf" and "nan" (which passes every range check). */
#ifndef NC_NUMPARSE_H
#define NC_NUMPARSE_H

#include <stdbool.h>

/* Digits, and unless whole is set optionally one '.' followed by more digits, within
 * [lo, hi]. Returns 0 and sets *out, -NC_E_PARSE (not such a number) or -NC_E_RANGE. */
int nc_parse_number(const char *s, double lo, double hi, bool whole, double *out);

#endif
