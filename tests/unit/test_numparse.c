/* Strict command-line numbers: plain decimals only, within range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include "numparse.h"

static void test_accepts(void **state)
{
	double v;
	(void)state;

	assert_int_equal(nc_parse_number("3478", 1, 65535, true, &v), 0);
	assert_true(v == 3478);
	assert_int_equal(nc_parse_number("2.5", 0, 10, false, &v), 0);
	assert_true(v == 2.5);
	assert_int_equal(nc_parse_number("0", 0, 0, true, &v), 0);
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {"", " 5", "+5", "-5", "0x10", "1e3", "inf", "nan",
					  "5 ", "5.", ".5", "1.2.3", "2.5x", "abc"};
	double v = 42;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(nc_parse_number(bad[i], 0, 1e12, false, &v), -NC_E_PARSE);
	assert_int_equal(nc_parse_number("2.5", 0, 10, true, &v), -NC_E_PARSE);
	assert_int_equal(nc_parse_number("65536", 1, 65535, true, &v), -NC_E_RANGE);
	assert_int_equal(nc_parse_number("0", 1, 65535, true, &v), -NC_E_RANGE);
	assert_true(v == 42); /* *out untouched on error */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
