/* The store's contract: batches, idempotent ids, export order and paging, persistence across
 * reopen, all-or-nothing batches. On SQLite by default; with NC_RESULTS_STORE set (the
 * PostgreSQL integration test sets it to its throwaway server) the same tests run there. The
 * tests count from what the store held when they started, so a shared database is fine. */
#include "../store/store.h"

#include <natcheck/error.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64], uri[128];

static int setup(void **state)
{
	const char *env = getenv("NC_RESULTS_STORE");

	(void)state;
	strcpy(dir, "/tmp/test_store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(uri, sizeof(uri), "sqlite:%s/r.db", dir);
	if (env && *env)
		snprintf(uri, sizeof(uri), "%s", env);
	return 0;
}

static int64_t last_id(struct rs_store *s);

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

static char ids[6][40];

/* Ids unique to this run, so that a shared database does not see them as retries. */
/* Fresh ids for each test: unique across the tests of one run (a call counter) and across
 * runs on one database (pid and time), so no test meets another's rows by accident. */
static void make_ids(void)
{
	static int calls;

	calls++;
	for (int i = 0; i < 6; i++)
		snprintf(ids[i], sizeof(ids[i]), "t%ldc%dx%d",
			 (long)getpid() * 1000 + (long)time(NULL) % 1000, calls, i);
}

static void test_put_export(void **state)
{
	struct rs_store *s;
	char err[256];
	int64_t start, n0;
	struct rs_sub b1[3], b2[2];
	struct seen seen = {0};

	(void)state;
	make_ids();
	b1[0] = (struct rs_sub){.sub_id = ids[1], .vendor = "Linksys", .result = "{\"a\":1}"};
	b1[1] = (struct rs_sub){.sub_id = ids[2], .result = "{\"a\":2}"};
	b1[2] = (struct rs_sub){.sub_id = ids[3], .model = "X", .note = "n", .result = "{\"a\":3}"};
	b2[0] =
	    (struct rs_sub){.sub_id = ids[2], .vendor = "changed", .result = "{}"}; /* a retry */
	b2[1] = (struct rs_sub){.sub_id = ids[4], .result = "{\"a\":4}"};
	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	start = last_id(s);
	n0 = rs_count(s);
	assert_int_equal(rs_put(s, b1, 3, err, sizeof(err)), 0);
	assert_int_equal(b1[0].dup + b1[1].dup + b1[2].dup, 0);
	assert_true(b1[0].id < b1[1].id && b1[1].id < b1[2].id);
	assert_int_equal(rs_put(s, b2, 2, err, sizeof(err)), 0);
	assert_int_equal(b2[0].dup, 1);
	assert_int_equal(b2[0].id, b1[1].id); /* the retry gets the first row's id */
	assert_int_equal(b2[1].dup, 0);
	assert_int_equal(rs_count(s), n0 + 4);
	rs_close(s);

	/* Reopened: everything committed is there, in id order; the retry changed nothing. */
	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	assert_int_equal(rs_export(s, start, 0, collect, &seen, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.subs[1], ids[2]);
	assert_string_equal(seen.vendor[1], "(null)");
	assert_string_equal(seen.vendor[0], "Linksys");
	/* Paging: since the second id, at most 1 row. */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(rs_export(s, b1[1].id, 1, collect, &seen, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.subs[0], ids[3]);
	rs_close(s);
}

static int last(void *ctx, const struct rs_row *row)
{
	*(int64_t *)ctx = row->id;
	return 0;
}

static int64_t last_id(struct rs_store *s)
{
	int64_t id = 0;
	char err[256];

	assert_true(rs_export(s, 0, 0, last, &id, err, sizeof(err)) >= 0);
	return id;
}

/* A batch the database refuses in its middle stores nothing of it, and the handle goes on
 * working. PostgreSQL refuses text that is not UTF-8; SQLite stores bytes as given, so there
 * the same batch is simply stored. */
static void test_batch_all_or_nothing(void **state)
{
	struct rs_store *s;
	char err[256];
	int64_t n0;
	struct rs_sub b[3];

	(void)state;
	make_ids();
	b[0] = (struct rs_sub){.sub_id = ids[0], .result = "{}"};
	b[1] = (struct rs_sub){.sub_id = ids[5], .result = "{\"x\":\"\xff\xfe\"}"};
	b[2] = (struct rs_sub){.sub_id = ids[1], .result = "{}"};
	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	n0 = rs_count(s);
	if (strcmp(rs_backend(s), "postgresql") == 0) {
		assert_int_equal(rs_put(s, b, 3, err, sizeof(err)), -NC_E_PROTOCOL);
		assert_non_null(strstr(err, "UTF8"));
		assert_int_equal(rs_count(s), n0);
		b[1].result = "{}";
	}
	assert_int_equal(rs_put(s, b, 3, err, sizeof(err)), 0);
	assert_int_equal(rs_count(s), n0 + 3);
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

	int64_t n0;

	(void)state;
	assert_int_equal(rs_open("mysql://x", &s, err, sizeof(err)), -NC_E_INVALID);
	assert_non_null(strstr(err, "unknown store"));
	assert_true(rs_open("sqlite:/nonexistent/dir/r.db", &s, err, sizeof(err)) < 0);
	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	n0 = rs_count(s);
	assert_int_equal(rs_put(s, bad, 2, err, sizeof(err)), -NC_E_INVALID);
	assert_int_equal(rs_count(s), n0);
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

/* Punch outcomes live in their own table: a batch may mix both kinds, ids are unique per
 * kind (the same id as a result and as an outcome are two rows), a repeated outcome id gets
 * the first row, and each export sees only its own kind. */
static int64_t last_outcome_id(struct rs_store *s)
{
	int64_t id = 0;
	char err[256];

	assert_true(rs_export_outcomes(s, 0, 0, last, &id, err, sizeof(err)) >= 0);
	return id;
}

static void test_outcomes(void **state)
{
	struct rs_store *s;
	char err[256];
	int64_t r0, o0, start;
	struct rs_sub b[4], again[2];
	struct seen seen = {0};

	(void)state;
	make_ids();
	b[0] = (struct rs_sub){.kind = RS_OUTCOME, .sub_id = ids[0], .result = "{\"o\":1}"};
	b[1] = (struct rs_sub){.sub_id = ids[0], .vendor = "V", .result = "{\"r\":1}"};
	b[2] = (struct rs_sub){.kind = RS_OUTCOME, .sub_id = ids[1], .result = "{\"o\":2}"};
	b[3] = (struct rs_sub){.kind = RS_OUTCOME, .sub_id = ids[2], .result = "{\"o\":3}"};
	again[0] = (struct rs_sub){.kind = RS_OUTCOME, .sub_id = ids[1], .result = "{}"};
	again[1] = (struct rs_sub){.kind = RS_OUTCOME, .sub_id = ids[3], .result = "{\"o\":4}"};
	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	r0 = rs_count(s);
	o0 = rs_count_outcomes(s);
	start = last_outcome_id(s);
	assert_int_equal(rs_put(s, b, 4, err, sizeof(err)), 0);
	assert_int_equal(b[0].dup + b[1].dup + b[2].dup + b[3].dup, 0);
	assert_true(b[0].id < b[2].id && b[2].id < b[3].id);
	assert_int_equal(rs_put(s, again, 2, err, sizeof(err)), 0);
	assert_int_equal(again[0].dup, 1);
	assert_int_equal(again[0].id, b[2].id);
	assert_int_equal(again[1].dup, 0);
	assert_int_equal(rs_count(s), r0 + 1);
	assert_int_equal(rs_count_outcomes(s), o0 + 4);
	rs_close(s);

	assert_int_equal(rs_open(uri, &s, err, sizeof(err)), 0);
	assert_int_equal(rs_export_outcomes(s, start, 0, collect, &seen, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.subs[0], ids[0]);
	assert_string_equal(seen.subs[3], ids[3]);
	assert_string_equal(seen.vendor[0], "(null)"); /* outcomes carry no metadata */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(rs_export_outcomes(s, b[2].id, 1, collect, &seen, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.subs[0], ids[2]);
	/* A kind that does not exist is refused, and nothing of its batch is stored. */
	b[0] = (struct rs_sub){.kind = (enum rs_kind)7, .sub_id = ids[4], .result = "{}"};
	assert_int_equal(rs_put(s, b, 1, err, sizeof(err)), -NC_E_INVALID);
	assert_int_equal(rs_count_outcomes(s), o0 + 4);
	rs_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_export, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_all_or_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outcomes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
