/* Birthday probing's pure part (vpn/lib/bday.c) on a fake clock: the pace (at most 1.1 x
 * BDAY_PPS in any second, no catching up after a hold), the hard side's socket budget, the
 * easy side's ports (in range, never twice in an attempt), giving up, a reported hit that
 * stops the spray for BDAY_CONFIRM_TRIES re-probes, and the control messages' codec
 * (vpn/lib/ctrl.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <stdlib.h>
#include <string.h>

#include "bday.h"
#include "ctrl.h"

static struct nc_addr target(void)
{
	struct nc_addr a;
	uint8_t ip[4] = {198, 18, 20, 1};

	nc_addr_set(&a, AF_INET, ip, 4242);
	return a;
}

/* Sends whatever is due at every 100 ms tick for ms; returns the most sent in any 1 s. */
static unsigned run_ticks(struct bday *b, uint64_t from, uint64_t ms, unsigned *total)
{
	unsigned per_tick[1000] = {0}, best = 0, n = 0;

	for (uint64_t t = 0; t <= ms; t += 100, n++) {
		unsigned due = bday_due(b, from + t);

		for (unsigned i = 0; i < due; i++) {
			if (b->role == BDAY_EASY)
				assert_int_not_equal(bday_next_port(b), 0);
			bday_sent(b);
		}
		per_tick[n] = due;
		*total += due;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned w = 0;

		for (unsigned j = i; j < n && j < i + 10; j++) /* ticks within one second */
			w += per_tick[j];
		if (w > best)
			best = w;
	}
	return best;
}

static void test_pace(void **state)
{
	struct bday *b = calloc(1, sizeof(*b));
	struct nc_addr t = target();
	unsigned total = 0, best;

	(void)state;
	bday_start(b, BDAY_EASY, &t, 1, 1000);
	best = run_ticks(b, 1000, 5000, &total);
	assert_true(best <= BDAY_PPS * 11 / 10);
	assert_true(best >= BDAY_PPS * 9 / 10); /* and it does use the pace */
	assert_true(total <= BDAY_PPS * 5 + BDAY_PPS / 10 + 1);
	/* A hold of 2 s: no burst after it (the bucket holds 0.1 s). */
	bday_hold(b, true);
	assert_int_equal(bday_due(b, 6100), 0);
	assert_int_equal(bday_due(b, 7900), 0);
	bday_hold(b, false);
	assert_true(bday_due(b, 8000) <= BDAY_PPS / 10);
	free(b);
}

static void test_hard_budget_and_give_up(void **state)
{
	struct bday *b = calloc(1, sizeof(*b));
	struct nc_addr t = target();
	unsigned total = 0;

	(void)state;
	bday_start(b, BDAY_HARD, &t, 7, 0);
	run_ticks(b, 0, BDAY_FOR_MS - 100, &total);
	assert_int_equal(total, BDAY_SOCKETS);
	assert_int_equal(b->result, BDAY_RUNNING);
	assert_int_equal(bday_due(b, BDAY_FOR_MS), 0);
	assert_int_equal(b->result, BDAY_GAVE_UP);
	assert_int_equal(bday_elapsed_ms(b, BDAY_FOR_MS + 5000), BDAY_FOR_MS);
	/* A win after giving up does not count. */
	bday_won(b, BDAY_FOR_MS + 1);
	assert_int_equal(b->wins, 0);
	free(b);
}

static void test_ports_distinct(void **state)
{
	struct bday *b = calloc(1, sizeof(*b));
	struct nc_addr t = target();
	uint8_t *seen = calloc(65536, 1);
	const unsigned span = 65536 - BDAY_PORT_MIN;

	(void)state;
	bday_start(b, BDAY_EASY, &t, 12345, 0);
	/* Every port of the range once, then none. */
	for (unsigned i = 0; i < span; i++) {
		uint16_t p = bday_next_port(b);

		assert_true(p >= BDAY_PORT_MIN);
		assert_int_equal(seen[p], 0);
		seen[p] = 1;
		bday_sent(b);
	}
	assert_int_equal(bday_next_port(b), 0);
	/* A new attempt forgets what was tried. */
	bday_start(b, BDAY_EASY, &t, 99, 0);
	assert_int_not_equal(bday_next_port(b), 0);
	assert_int_equal(b->attempts, 2);
	free(seen);
	free(b);
}

static void test_hit_confirm(void **state)
{
	struct bday *b = calloc(1, sizeof(*b));
	struct nc_addr t = target();

	(void)state;
	bday_start(b, BDAY_EASY, &t, 3, 0);
	assert_int_equal(bday_confirm_due(b, 0), 0);
	bday_hit(b, 40000, 500);
	assert_int_equal(b->hits, 1);
	/* No spraying while the hit is confirmed, one re-probe per BDAY_CONFIRM_MS. */
	assert_int_equal(bday_due(b, 500), 0);
	assert_int_equal(bday_confirm_due(b, 500), 40000);
	assert_int_equal(bday_confirm_due(b, 550), 0);
	for (unsigned i = 1; i < BDAY_CONFIRM_TRIES; i++)
		assert_int_equal(bday_confirm_due(b, 500 + i * BDAY_CONFIRM_MS), 40000);
	/* Then back to spraying. */
	assert_int_equal(bday_confirm_due(b, 500 + BDAY_CONFIRM_TRIES * BDAY_CONFIRM_MS), 0);
	assert_true(bday_due(b, 600 + BDAY_CONFIRM_TRIES * BDAY_CONFIRM_MS) > 0);
	bday_won(b, 2000);
	assert_int_equal(b->result, BDAY_WON);
	assert_int_equal(b->wins, 1);
	assert_int_equal(bday_confirm_due(b, 3000), 0);
	/* The hard side takes no hit reports. */
	bday_start(b, BDAY_HARD, &t, 3, 0);
	bday_hit(b, 40000, 10);
	assert_int_equal(b->hit_port, 0);
	free(b);
}

static void test_ctrl_codec(void **state)
{
	struct ctrl_msg m = {.type = CTRL_BDAY_HIT, .port = 51900}, out;
	uint8_t buf[CTRL_LEN], bad[CTRL_LEN + 1];

	(void)state;
	ctrl_encode(buf, &m);
	assert_true(ctrl_is(buf, sizeof(buf)));
	assert_int_equal(ctrl_decode(buf, sizeof(buf), &out), 0);
	assert_int_equal(out.type, CTRL_BDAY_HIT);
	assert_int_equal(out.port, 51900);
	/* An IP packet is never one. */
	buf[0] = 0x45;
	assert_false(ctrl_is(buf, sizeof(buf)));
	assert_int_equal(ctrl_decode(buf, sizeof(buf), &out), -NC_E_MALFORMED);
	/* Wrong length, unknown type, port 0. */
	ctrl_encode(buf, &m);
	memcpy(bad, buf, sizeof(buf));
	bad[CTRL_LEN] = 0;
	assert_int_equal(ctrl_decode(bad, sizeof(bad), &out), -NC_E_MALFORMED);
	assert_int_equal(ctrl_decode(buf, CTRL_LEN - 1, &out), -NC_E_MALFORMED);
	buf[1] = 9;
	assert_int_equal(ctrl_decode(buf, sizeof(buf), &out), -NC_E_MALFORMED);
	buf[1] = CTRL_BDAY_PROBE;
	buf[2] = buf[3] = 0;
	assert_int_equal(ctrl_decode(buf, sizeof(buf), &out), -NC_E_MALFORMED);
	assert_false(ctrl_is(buf, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pace),
		cmocka_unit_test(test_hard_budget_and_give_up),
		cmocka_unit_test(test_ports_distinct),
		cmocka_unit_test(test_hit_confirm),
		cmocka_unit_test(test_ctrl_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
