/* The TCP, bounce, topology and lifetime probes stop at the run's limits (nc_limits: a
 * deadline and a cancellation handle) whatever they are waiting for: loopback servers that
 * never answer, a cancellation fired from another thread mid-wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lifetime.h"
#include "tcpprobe.h"
#include "testaddr.h"
#include "testsock.h"
#include "topology.h"

#include <natcheck/cancel.h>
#include <natcheck/error.h>

#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct nc_result R;

/* A TCP listener that accepts (the kernel completes the handshake) but never answers. */
static int silent_tcp(struct nc_addr *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(nc_addr_from_sockaddr(a, (struct sockaddr *)&sin, sl), 0);
	return fd;
}

static struct nc_limits deadline_in(unsigned ms)
{
	return (struct nc_limits){.deadline_us = nc_now_us() + ms * 1000ull};
}

/* Elapsed ms of a call. */
#define TIMED(ms, call)                                          \
	do {                                                     \
		uint64_t t0_ = nc_now_us();                      \
		call;                                            \
		ms = (unsigned)((nc_now_us() - t0_) / 1000);     \
	} while (0)

static void test_deadline(void **state)
{
	struct nc_addr u, t;
	int ufd = silent_udp(&u), tfd = silent_tcp(&t), err, arrived;
	unsigned ms;
	(void)state;

	{
		struct nc_hops h;
		struct nc_limits lim = deadline_in(150);
		TIMED(ms, err = nc_probe_hops(&u, 3, 5000, &lim, &h));
		assert_int_equal(err, -NC_E_DEADLINE);
		assert_true(ms < 600);
	}
	{
		struct nc_lifetime_cfg c = {.server = u, .max_s = 4, .lim = deadline_in(150)};
		nc_result_init(&R);
		TIMED(ms, err = nc_probe_lifetime(&c, &R));
		assert_int_equal(err, -NC_E_DEADLINE);
		assert_true(ms < 600);
	}
	{
		struct nc_tcp_cfg c = {.server = t, .timeout_ms = 5000, .lim = deadline_in(150)};
		nc_result_init(&R);
		TIMED(ms, err = nc_probe_tcp(&c, &R));
		assert_int_equal(err, -NC_E_DEADLINE);
		assert_true(ms < 600);
		assert_false(R.tcp.tested);
		assert_int_equal(R.n_tcp_obs, 1); /* what ran is recorded */
		assert_int_equal(R.tcp_obs[0].outcome, NC_OUT_TIMEOUT);
	}
	{
		struct nc_bounce_cfg c = {.server = u, .wait_ms = 5000, .lim = deadline_in(150)};
		struct nc_addr from;
		TIMED(ms, err = nc_probe_bounce_udp(&c, &arrived, &from));
		assert_int_equal(err, -NC_E_DEADLINE);
		assert_int_equal(arrived, -1);
		assert_true(ms < 600);
	}
	close(ufd);
	close(tfd);
}

static void *fire_later(void *arg)
{
	usleep(150000);
	nc_cancel_fire(arg);
	return NULL;
}

static void test_cancel(void **state)
{
	struct nc_addr u, t;
	int ufd = silent_udp(&u), tfd = silent_tcp(&t), err;
	struct nc_cancel *c = nc_cancel_new();
	pthread_t th;
	unsigned ms;
	(void)state;

	assert_non_null(c);
	/* The lifetime test at its longest waits (idle bindings) ends at once. */
	{
		struct nc_lifetime_cfg lc = {.server = u, .max_s = 60, .lim = {.cancel = c}};
		nc_result_init(&R);
		assert_int_equal(pthread_create(&th, NULL, fire_later, c), 0);
		TIMED(ms, err = nc_probe_lifetime(&lc, &R));
		pthread_join(th, NULL);
		assert_int_equal(err, -NC_E_CANCELLED);
		assert_true(ms < 600);
	}
	nc_cancel_free(c);
	c = nc_cancel_new();
	{
		struct nc_tcp_cfg tc = {.server = t, .timeout_ms = 5000, .lim = {.cancel = c}};
		nc_result_init(&R);
		assert_int_equal(pthread_create(&th, NULL, fire_later, c), 0);
		TIMED(ms, err = nc_probe_tcp(&tc, &R));
		pthread_join(th, NULL);
		assert_int_equal(err, -NC_E_CANCELLED);
		assert_true(ms < 600);
	}
	nc_cancel_free(c);
	close(ufd);
	close(tfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_cancel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
