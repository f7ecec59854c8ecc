#include "numparse.h"

#include <natcheck/error.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int nc_parse_number(const char *s, double lo, double hi, bool whole, double *out)
{
	size_t digits = strspn(s, "0123456789");
	char *end;
	double v;

	if (digits == 0)
		return -NC_E_PARSE;
	if (s[digits] != '\0') {
		const char *frac = s + digits + 1;
		if (whole || s[digits] != '.' || *frac == '\0' || frac[strspn(frac, "0123456789")] != '\0')
			return -NC_E_PARSE;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end != '\0')
		return -NC_E_PARSE;
	if (v < lo || v > hi)
		return -NC_E_RANGE;
	*out = v;
	return 0;
}
