/* nc_run() (<natcheck/run.h>) against servers on 127.0.0.1 that never answer: it keeps its
 * budget, a cancel from another thread ends it at once with -NC_E_CANCELLED and a note, two runs
 * at the same time in two threads do not disturb each other (no global run state), and the
 * caller's signal mask and SIGINT disposition are what they were. Port mapping is off: no test
 * talks to this host's real gateway. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testsock.h"

#include <natcheck/cancel.h>
#include <natcheck/error.h>
#include <natcheck/result.h>
#include <natcheck/run.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLACK_MS 250

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool has_note(const struct nc_result *r, const char *needle)
{
	for (unsigned i = 0; i < r->n_notes; i++)
		if (strstr(r->notes[i], needle))
			return true;
	return false;
}

static void test_budget(void **state)
{
	struct nc_run_cfg cfg = {.no_portmap = true, .budget_ms = 400};
	struct nc_result *r = malloc(sizeof(*r));
	int fd = silent_udp(&cfg.server);
	uint64_t t0 = now_ms(), ms;
	(void)state;

	assert_non_null(r);
	assert_int_equal(nc_run(&cfg, r), 0);
	ms = now_ms() - t0;
	print_message("silent server, budget 400 ms: %llu ms, reachable %d\n",
		      (unsigned long long)ms, r->udp.reachable);
	assert_true(ms <= 400 + SLACK_MS);
	assert_true(r->duration_ms <= 400 + SLACK_MS);
	assert_int_not_equal(r->udp.reachable, NC_TRI_YES);
	assert_string_equal(r->tool_version, NC_VERSION);
	close(fd);
	free(r);
}

struct firer {
	struct nc_cancel *c;
	unsigned ms;
};

static void *fire_main(void *arg)
{
	struct firer *f = arg;

	usleep(f->ms * 1000);
	nc_cancel_fire(f->c);
	return NULL;
}

static void test_cancel(void **state)
{
	struct nc_run_cfg cfg = {.no_portmap = true, .budget_ms = 20000};
	struct nc_result *r = malloc(sizeof(*r));
	struct firer f = {.c = nc_cancel_new(), .ms = 200};
	int fd = silent_udp(&cfg.server), err;
	pthread_t t;
	uint64_t t0 = now_ms(), ms;
	(void)state;

	assert_non_null(r);
	assert_non_null(f.c);
	cfg.cancel = f.c;
	assert_int_equal(pthread_create(&t, NULL, fire_main, &f), 0);
	err = nc_run(&cfg, r);
	ms = now_ms() - t0;
	pthread_join(t, NULL);
	print_message("cancel at 200 ms of a 20 s budget: %d after %llu ms\n", err,
		      (unsigned long long)ms);
	assert_int_equal(err, -NC_E_CANCELLED);
	assert_true(ms >= 195 && ms <= 200 + 1000);
	assert_true(has_note(r, "cancelled"));
	/* the partial result is still a valid document */
	{
		char *doc = nc_result_to_json(r, false);
		struct nc_result *back = malloc(sizeof(*back));
		char why[200] = "";

		assert_non_null(doc);
		assert_non_null(back);
		assert_int_equal(nc_result_from_json(doc, strlen(doc), back, why, sizeof(why)), 0);
		free(doc);
		free(back);
	}
	nc_cancel_free(f.c);
	close(fd);
	free(r);
}

static void *run_main(void *arg)
{
	struct nc_run_cfg *cfg = arg;
	struct nc_result *r = malloc(sizeof(*r));
	intptr_t ok;

	if (!r)
		return (void *)0;
	ok = nc_run(cfg, r) == 0 && r->udp.reachable == NC_TRI_NO && r->n_obs > 0;
	free(r);
	return (void *)ok;
}

static void test_two_threads(void **state)
{
	/* 127.0.0.1:9: nothing listens, every request is refused at once (ICMP) */
	struct nc_run_cfg a = {.no_portmap = true, .budget_ms = 2000};
	struct nc_run_cfg b;
	pthread_t ta, tb;
	void *ra, *rb;
	(void)state;

	assert_int_equal(nc_addr_parse("127.0.0.1:9", 0, &a.server), 0);
	b = a;
	b.preset = NC_PRESET_FAST;
	assert_int_equal(pthread_create(&ta, NULL, run_main, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, run_main, &b), 0);
	pthread_join(ta, &ra);
	pthread_join(tb, &rb);
	assert_true((intptr_t)ra);
	assert_true((intptr_t)rb);
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void test_signals_untouched(void **state)
{
	struct nc_run_cfg cfg = {.no_portmap = true, .budget_ms = 300};
	struct nc_result *r = malloc(sizeof(*r));
	struct sigaction sa, before, after;
	sigset_t mask, mask_before, mask_after;
	int fd = silent_udp(&cfg.server);
	(void)state;

	assert_non_null(r);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	assert_int_equal(sigaction(SIGINT, &sa, &before), 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &mask, NULL), 0);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask_before), 0);
	assert_int_equal(sigaction(SIGINT, NULL, &before), 0);

	assert_int_equal(nc_run(&cfg, r), 0);

	assert_int_equal(sigaction(SIGINT, NULL, &after), 0);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask_after), 0);
	assert_ptr_equal(after.sa_handler, on_usr1);
	for (int s = 1; s < 32; s++)
		assert_int_equal(sigismember(&mask_before, s), sigismember(&mask_after, s));
	pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
	signal(SIGINT, SIG_DFL);
	close(fd);
	free(r);
}

static void test_bad_config(void **state)
{
	struct nc_run_cfg cfg = {0};
	struct nc_result r;
	(void)state;

	assert_int_equal(nc_run(&cfg, &r), -NC_E_INVALID); /* no server */
	assert_int_equal(nc_addr_parse("127.0.0.1:9", 0, &cfg.server), 0);
	cfg.pcap_path = "/tmp/x.pcap"; /* a path without capture operations */
	assert_int_equal(nc_run(&cfg, &r), -NC_E_INVALID);
	assert_int_equal(nc_run(NULL, &r), -NC_E_INVALID);
}

static void test_default_budgets(void **state)
{
	struct nc_run_cfg cfg = {0};
	(void)state;

	assert_int_equal(nc_run_default_budget_ms(&cfg), NC_RUN_DEFAULT_BUDGET_MS);
	cfg.tcp = true;
	assert_int_equal(nc_run_default_budget_ms(&cfg), NC_RUN_DEFAULT_BUDGET_MS + 3000);
	cfg.tcp_full = true;
	assert_int_equal(nc_run_default_budget_ms(&cfg), NC_RUN_DEFAULT_BUDGET_MS + 10000);
	cfg.lifetime = true;
	cfg.lifetime_max = 10;
	assert_int_equal(nc_run_default_budget_ms(&cfg), NC_RUN_DEFAULT_BUDGET_MS + 10000 + 50000);
	cfg.preset = NC_PRESET_FAST;
	assert_int_equal(nc_run_default_budget_ms(&cfg), NC_RUN_FAST_BUDGET_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_two_threads),
		cmocka_unit_test(test_signals_untouched),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_default_budgets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
