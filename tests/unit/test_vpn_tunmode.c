/* The TX thread's judgement of its load (vpn/lib/tunmode.c) on a fake clock: a window with
 * fewer than TUNMODE_LIGHT_PKTS packets is light, one with that many is not, nothing is judged
 * before a window has ended, a busy window starts the next one, and a clock that reads earlier
 * than the window's start (another thread's reading) never ends a window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tunmode.h"

static void test_idle_window_is_light(void **state)
{
	struct tunmode_win w;

	(void)state;
	tunmode_start(&w, 1000);
	assert_false(tunmode_light(&w, 1000, 0));
	assert_false(tunmode_light(&w, 1000 + TUNMODE_WINDOW_MS - 1, 0));
	assert_true(tunmode_light(&w, 1000 + TUNMODE_WINDOW_MS, 0));
}

static void test_threshold(void **state)
{
	struct tunmode_win w;

	(void)state;
	/* One packet short of busy: light. */
	tunmode_start(&w, 0);
	assert_false(tunmode_light(&w, 10, TUNMODE_LIGHT_PKTS - 1));
	assert_true(tunmode_light(&w, TUNMODE_WINDOW_MS, 0));
	/* Exactly the threshold, counted over several calls: busy. */
	tunmode_start(&w, 0);
	for (unsigned i = 0; i < TUNMODE_LIGHT_PKTS; i++)
		assert_false(tunmode_light(&w, i % TUNMODE_WINDOW_MS, 1));
	assert_false(tunmode_light(&w, TUNMODE_WINDOW_MS, 0));
}

static void test_busy_window_starts_next(void **state)
{
	struct tunmode_win w;
	uint64_t t = 5000;

	(void)state;
	tunmode_start(&w, t);
	/* Ten busy windows in a row: never light. */
	for (int k = 0; k < 10; k++) {
		assert_false(tunmode_light(&w, t + 1, 200));
		t += TUNMODE_WINDOW_MS;
		assert_false(tunmode_light(&w, t, 0));
	}
	/* The packets reported with the call that ends a window count for the next one. */
	assert_false(tunmode_light(&w, t + 1, 200));
	assert_false(tunmode_light(&w, t + TUNMODE_WINDOW_MS, TUNMODE_LIGHT_PKTS));
	assert_false(tunmode_light(&w, t + 2 * TUNMODE_WINDOW_MS, 0));
	/* Then a quiet one: light. */
	assert_true(tunmode_light(&w, t + 3 * TUNMODE_WINDOW_MS, 0));
}

static void test_clock_behind(void **state)
{
	struct tunmode_win w;

	(void)state;
	tunmode_start(&w, 10000);
	assert_false(tunmode_light(&w, 9000, 0));
	assert_false(tunmode_light(&w, 0, 0));
	assert_true(tunmode_light(&w, 10000 + TUNMODE_WINDOW_MS, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_window_is_light),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_busy_window_starts_next),
		cmocka_unit_test(test_clock_behind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
