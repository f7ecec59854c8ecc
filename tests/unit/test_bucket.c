/* The shared token bucket (natcheck/lib/core/bucket.c): exact refill per millisecond, the cap,
 * taking only whole costs that are there, a clock that goes back, a long idle time at a huge
 * rate (no overflow), spending below zero and giving back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bucket.h"

static void test_refill_and_take(void **state)
{
	struct nc_bucket b;

	(void)state;
	nc_bucket_init(&b, 5, 1000);
	for (int i = 0; i < 5; i++)
		assert_true(nc_bucket_take(&b, 10, 5, 1, 1000));
	assert_false(nc_bucket_take(&b, 10, 5, 1, 1000));
	/* 10 a second: one token every 100 ms, exactly. */
	assert_false(nc_bucket_take(&b, 10, 5, 1, 1099));
	assert_true(nc_bucket_take(&b, 10, 5, 1, 1100));
	/* Capped at the burst however long the wait. */
	assert_int_equal(nc_bucket_refill(&b, 10, 5, 60000), 5);
	/* A cost larger than what is there takes nothing. */
	assert_false(nc_bucket_take(&b, 10, 5, 6, 60000));
	assert_int_equal(nc_bucket_refill(&b, 10, 5, 60000), 5);
	assert_true(nc_bucket_take(&b, 10, 5, 5, 60000));
}

static void test_clock_back_and_overflow(void **state)
{
	struct nc_bucket b;

	(void)state;
	nc_bucket_init(&b, 0, 5000);
	assert_int_equal(nc_bucket_refill(&b, 1000, 100, 4000), 0); /* back in time: nothing */
	assert_int_equal(nc_bucket_refill(&b, 1000, 100, 5001), 1);
	/* An "unlimited" rate after a day idle: full, not wrapped around. */
	nc_bucket_init(&b, 0, 0);
	assert_int_equal(nc_bucket_refill(&b, UINT64_C(1000000000000), UINT64_C(1000000000000),
					  86400000), UINT64_C(1000000000000));
}

static void test_spend_give(void **state)
{
	struct nc_bucket b;

	(void)state;
	nc_bucket_init(&b, 2, 0);
	nc_bucket_spend(&b, 5);
	assert_int_equal(nc_bucket_refill(&b, 1, 10, 0), 0);
	nc_bucket_give(&b, 3);
	assert_int_equal(nc_bucket_refill(&b, 1, 10, 0), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refill_and_take),
		cmocka_unit_test(test_clock_back_and_overflow),
		cmocka_unit_test(test_spend_give),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
