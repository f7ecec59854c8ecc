/* The store's contract on SQLite (PostgreSQL runs the same statements in the integration
 * tests): batches, idempotent ids, export order and paging, persistence across reopen. */
#include "../store/store.h"

#include <natcheck/error.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64], uri[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(uri, sizeof(uri), "sqlite:%s/r.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct seen {
	int n;
	int64_t ids[16];
	char subs[16][70];
	char vendor[16][32];
};

static int collect(void *ctx, const struct rs_row *row)
{
	struct seen *s = ctx;

	if (s->n == 16)
		return 1;
	s->ids[s->n] = row->id;
	snprintf(s->subs[s->n], sizeof(s->subs[0]), "%s", row->sub_id);
	snprintf(s->vendor[s->n], sizeof(s->vendor[0]), "%s", row->vendor ? row->vendor : "(null)");
	assert_non_null(row->received);
	assert_int_equal(strlen(row->received), 20);
	s->n++;
	return 0;
}

static void test_put_export(void **state)
{
	struct rs_store *s;
	char err[256];
	struct rs_sub b1[3] = {
		{.sub_id = "aaaaaaaa1", .vendor = "Linksys", .result = "{\"a\":1}"},
		{.sub_id = "aaaaaaaa2", .result = "{\"a\":2}"},
		{.sub_id = "aaaaaaaa3", .model = "X", .note = "n", .result = "{\"a\":3}"},
	};
	struct rs_sub b2[2] = {
		{.sub_id = "aaaaaaaa2", .vendor = "changed", .result = "{\"a\":22}"}, /* a retry */
		{.sub_id = "aaaaaaaa4", .result = "{\"a\":4}"},
	};
	struct seen seen = {0};

	(void)state;
	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	assert_string_equal(rs_backend(s), "sqlite");
	assert_int_equal(rs_put(s, b1, 3, err, sizeof(err)), 0);
	assert_int_equal(b1[0].dup + b1[1].dup + b1[2].dup, 0);
	assert_true(b1[0].id < b1[1].id && b1[1].id < b1[2].id);
	assert_int_equal(rs_put(s, b2, 2, err, sizeof(err)), 0);
	assert_int_equal(b2[0].dup, 1);
	assert_int_equal(b2[0].id, b1[1].id); /* the retry gets the first row's id */
	assert_int_equal(b2[1].dup, 0);
	assert_int_equal(rs_count(s), 4);
	rs_close(s);

	/* Reopened: everything committed is there, in id order; the retry changed nothing. */
	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	assert_int_equal(rs_export(s, 0, 0, collect, &seen, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.subs[1], "aaaaaaaa2");
	assert_string_equal(seen.vendor[1], "(null)");
	assert_string_equal(seen.vendor[0], "Linksys");
	/* Paging: since the second id, at most 1 row. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(rs_export(s, b1[1].id, 1, collect, &seen, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.subs[0], "aaaaaaaa3");
	rs_close(s);
}

static void test_refusals(void **state)
{
	struct rs_store *s;
	char err[256];
	struct rs_sub bad[2] = {
		{.sub_id = "okokokok1", .result = "{}"},
		{.sub_id = "short", .result = "{}"}, /* invalid id: the whole batch is refused */
	};

	(void)state;
	assert_int_equal(rs_open("mysql://x", &s, err, sizeof(err)), -NC_E_INVALID);
	assert_non_null(strstr(err, "unknown store"));
	assert_true(rs_open("sqlite:/nonexistent/dir/r.db", &s, err, sizeof(err)) < 0);
	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	assert_int_equal(rs_put(s, bad, 2, err, sizeof(err)), -NC_E_INVALID);
	assert_int_equal(rs_count(s), 0);
	rs_close(s);
	assert_true(rs_subid_valid("abcdefgh"));
	assert_true(rs_subid_valid("A-b_9012"));
	assert_false(rs_subid_valid("abcdefg"));
	assert_false(rs_subid_valid("abcdefgh'; DROP"));
	assert_false(rs_subid_valid(NULL));
	char long_id[70];
	memset(long_id, 'a', 65);
	long_id[65] = '\0';
	assert_false(rs_subid_valid(long_id));
	long_id[64] = '\0';
	assert_true(rs_subid_valid(long_id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_export, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
