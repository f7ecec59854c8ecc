/* The log module (natcheck/log.h): program prefix, levels, errno variants, journald priority
 * prefixes, fatal's exit status, and the debug rate limit's counting. stderr is redirected
 * into a temporary file for each check and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int cap_fd = -1, saved_stderr = -1;
static char cap_buf[16384];

static void capture_start(void)
{
	char path[] = "/tmp/nc-test-logXXXXXX";

	cap_fd = mkstemp(path);
	assert_true(cap_fd >= 0);
	unlink(path);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(cap_fd, STDERR_FILENO) >= 0);
}

/* Restores stderr and returns what was written meanwhile. */
static const char *capture_end(void)
{
	ssize_t n;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	n = pread(cap_fd, cap_buf, sizeof(cap_buf) - 1, 0);
	close(cap_fd);
	cap_buf[n > 0 ? n : 0] = '\0';
	return cap_buf;
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void test_prefix_and_levels(void **state)
{
	(void)state;
	nc_log_init("testprog");
	nc_log_set_level(NC_LOG_INFO);
	capture_start();
	nc_log_error("e%d", 1);
	nc_log_warnx("w%d", 1);
	nc_log_info("i%d", 1);
	nc_log_debug("d%d", 1);
	assert_string_equal(capture_end(), "testprog: error: e1\ntestprog: warning: w1\ntestprog: i1\n");

	nc_log_set_level(NC_LOG_ERROR);
	assert_int_equal(nc_log_get_level(), NC_LOG_ERROR);
	capture_start();
	nc_log_warnx("hidden");
	nc_log_info("hidden");
	nc_log_error("shown");
	assert_string_equal(capture_end(), "testprog: error: shown\n");

	nc_log_set_level(NC_LOG_DEBUG);
	capture_start();
	nc_log_debug("d%s", "2");
	assert_string_equal(capture_end(), "testprog: debug: d2\n");
	nc_log_set_level(NC_LOG_INFO);
}

static void test_errno_variants(void **state)
{
	char want[256];
	(void)state;
	nc_log_init("testprog");
	snprintf(want, sizeof(want), "testprog: warning: open %s: %s\n", "/x", strerror(ENOENT));
	capture_start();
	errno = ENOENT;
	nc_log_warn("open %s", "/x");
	assert_int_equal(errno, ENOENT); /* logging does not clobber the caller's errno */
	assert_string_equal(capture_end(), want);
}

static void test_fatal_exits_1(void **state)
{
	int status;
	pid_t pid;
	(void)state;
	nc_log_init("testprog");
	capture_start();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		errno = EACCES;
		nc_fatal("cannot %s", "go on");
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	{
		char want[256];
		snprintf(want, sizeof(want), "testprog: fatal: cannot go on: %s\n", strerror(EACCES));
		assert_string_equal(capture_end(), want);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
}

static void test_long_line_truncated(void **state)
{
	char big[3000];
	const char *out;
	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	nc_log_init("testprog");
	capture_start();
	nc_log_info("%s", big);
	nc_log_info("next");
	out = capture_end();
	/* One bounded line, still newline-terminated, and the next line intact after it. */
	assert_true(strlen(out) < 1100);
	assert_int_equal(count_lines(out, "\n"), 2);
	assert_non_null(strstr(out, "x\ntestprog: next\n"));
}

/* Under systemd, stderr is the journal stream named by JOURNAL_STREAM: lines carry the
 * sd-daemon priority prefix. On any other stderr they do not. */
static void test_journald_prefix(void **state)
{
	struct stat st;
	char js[64];
	(void)state;
	capture_start();
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	nc_log_init("svc");
	nc_log_error("bad");
	nc_log_info("fine");
	assert_string_equal(capture_end(), "<3>svc: error: bad\n<6>svc: fine\n");
	/* A JOURNAL_STREAM that names another stream (stderr redirected away from the journal):
	 * no prefixes. */
	capture_start();
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", js, 1);
	nc_log_init("svc");
	nc_log_error("bad");
	assert_string_equal(capture_end(), "svc: error: bad\n");
	unsetenv("JOURNAL_STREAM");
}

/* The limiter with a clock the test drives. */
static void test_limit_counting(void **state)
{
	struct nc_log_limit l = {0};
	uint64_t closed = 99;
	int passed = 0;
	(void)state;

	for (int i = 0; i < 25; i++) {
		passed += nc_log_limit_take(&l, 1000 + (uint64_t)i, 10, &closed);
		assert_int_equal(closed, 0);
	}
	assert_int_equal(passed, 10);
	/* Still inside the first second: counted, not passed. */
	assert_false(nc_log_limit_take(&l, 999999, 10, &closed));
	assert_int_equal(closed, 0);
	/* A second later: the new window's first line passes and reports the 16 suppressed. */
	assert_true(nc_log_limit_take(&l, 1000 + 1000000, 10, &closed));
	assert_int_equal(closed, 16);
	passed = 1;
	for (int i = 0; i < 12; i++)
		passed += nc_log_limit_take(&l, 1500000, 10, &closed);
	assert_int_equal(passed, 10);
	assert_true(nc_log_limit_take(&l, 5000000, 10, &closed));
	assert_int_equal(closed, 3);
	/* A window with nothing suppressed reports 0. */
	assert_true(nc_log_limit_take(&l, 7000000, 10, &closed));
	assert_int_equal(closed, 0);
}

/* The real thing: 30 debug lines in a burst print at most NC_LOG_LIMIT_PER_SEC per second;
 * every line is either printed or counted as suppressed. */
static void test_debug_limited(void **state)
{
	uint64_t before = nc_log_suppressed_total();
	const char *out;
	int printed, summaries;
	(void)state;
	nc_log_init("testprog");
	nc_log_set_level(NC_LOG_INFO);
	capture_start();
	nc_log_debug_limited("not at info level");
	assert_string_equal(capture_end(), "");
	assert_int_equal(nc_log_suppressed_total(), before);

	nc_log_set_level(NC_LOG_DEBUG);
	capture_start();
	for (int i = 0; i < 30; i++)
		nc_log_debug_limited("junk from %d", i);
	out = capture_end();
	nc_log_set_level(NC_LOG_INFO);
	printed = count_lines(out, "testprog: debug: junk from ");
	summaries = count_lines(out, "similar lines suppressed");
	assert_true(printed >= NC_LOG_LIMIT_PER_SEC);
	/* 30 lines in one burst fit in one second unless the machine stalled; then each new
	 * window passes ten more and says how many it dropped. */
	assert_true(printed <= NC_LOG_LIMIT_PER_SEC * (1 + summaries));
	assert_int_equal((uint64_t)printed + (nc_log_suppressed_total() - before), 30);
	if (summaries == 0)
		assert_int_equal(printed, NC_LOG_LIMIT_PER_SEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_and_levels), cmocka_unit_test(test_errno_variants),
		cmocka_unit_test(test_fatal_exits_1),     cmocka_unit_test(test_long_line_truncated),
		cmocka_unit_test(test_journald_prefix),   cmocka_unit_test(test_limit_counting),
		cmocka_unit_test(test_debug_limited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
