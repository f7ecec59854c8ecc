/* The collector's request arena for jansson (collector/jarena.h): inside a begin/end pair the
 * submission is parsed and written with the same results as with malloc; what does not fit
 * spills to malloc; frees of arena memory (also late ones) are harmless; threads keep their
 * own blocks. */
#include "../collector/jarena.h"
#include "../collector/submission.h"

#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef NC_SRC_DIR
#error NC_SRC_DIR
#endif

static char *slurp(const char *name)
{
	char path[512], *buf = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/results/schema/examples/%s", NC_SRC_DIR, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(getdelim(&buf, &cap, '\0', f) > 0);
	fclose(f);
	return buf;
}

/* The stored document of body, parsed and written with or without the arena. */
static char *stored(const char *body, bool arena)
{
	static _Thread_local struct col_submission s;
	char err[240], *out = NULL;

	if (arena)
		assert_true(col_jarena_begin());
	if (col_submission_parse(body, strlen(body), "arena-test-1", &s, err, sizeof(err)) == 0)
		out = col_submission_result_json(&s);
	if (arena) {
		assert_true(col_jarena_used() > 0); /* jansson did allocate from it */
		col_jarena_end();
		assert_int_equal(col_jarena_used(), 0);
	}
	return out;
}

static void test_same_results(void **state)
{
	char *body = slurp("port-restricted-cone.json"), *a, *b, *c;

	(void)state;
	a = stored(body, false);
	b = stored(body, true);
	c = stored(body, true); /* the block reused */
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a, b);
	assert_string_equal(a, c);
	free(a); /* plain malloc'd copies, also from inside the arena */
	free(b);
	free(c);
	/* A refused body leaves nothing behind either. */
	assert_null(stored("{\"schema\":\"natcheck-result\",\"version\":1}", true));
	free(body);
}

static void test_spill_and_late_free(void **state)
{
	size_t big = 600 * 1024; /* more than the block */
	char *text = malloc(big + 1);
	json_t *inside, *spilled;

	(void)state;
	memset(text, 'a', big);
	text[big] = '\0';
	assert_true(col_jarena_begin());
	inside = json_string("small");
	spilled = json_string(text); /* its copy cannot fit: malloc */
	assert_non_null(inside);
	assert_non_null(spilled);
	assert_int_equal(json_string_length(spilled), big);
	json_decref(spilled); /* freed to malloc inside the pair */
	col_jarena_end();
	/* A late free of arena memory after the end is a no-op, not a crash (the rule says it
	 * must not happen; this is the safety net). */
	json_decref(inside);
	free(text);
}

static void *worker(void *arg)
{
	const char *body = arg;
	char *ref = stored(body, false);

	for (int i = 0; i < 200; i++) {
		char *x = stored(body, true);
		if (!x || strcmp(x, ref) != 0)
			return (void *)1;
		free(x);
	}
	free(ref);
	return NULL;
}

static void test_threads(void **state)
{
	char *a = slurp("symmetric.json"), *b = slurp("open-internet.json");
	pthread_t t1, t2;
	void *r1, *r2;

	(void)state;
	assert_int_equal(pthread_create(&t1, NULL, worker, a), 0);
	assert_int_equal(pthread_create(&t2, NULL, worker, b), 0);
	pthread_join(t1, &r1);
	pthread_join(t2, &r2);
	assert_null(r1);
	assert_null(r2);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_results),
	    cmocka_unit_test(test_spill_and_late_free),
	    cmocka_unit_test(test_threads),
	};
	col_jarena_install();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
