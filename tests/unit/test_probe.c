/* The UDP probe engine's limits, on loopback: a silent server ends at the run's deadline, a
 * cancellation ends the run at once, and a server that floods answers to no transaction of
 * the run is read a bounded number of times. (The verdicts themselves are the classifier's
 * tests and the lab's.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "probe.h"
#include "stun.h"
#include "testaddr.h"

#include <natcheck/cancel.h>
#include <natcheck/error.h>

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum srv_mode { SRV_SILENT, SRV_FLOOD };

struct srv {
	int fd;
	struct nc_addr ep;
	enum srv_mode mode;
	volatile bool stop;
	pthread_t th;
	struct nc_cancel *cancel_after_first; /* fired when the first request arrives */
};

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	uint8_t buf[2048], out[128];

	while (!s->stop) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n;

		if (poll(&p, 1, 20) <= 0)
			continue;
		n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
		if (n <= 0)
			continue;
		if (s->cancel_after_first)
			nc_cancel_fire(s->cancel_after_first);
		if (s->mode != SRV_FLOOD)
			continue;
		/* Answers with transaction ids of no request: junk a read loop must skip. */
		for (int i = 0; i < 300; i++) {
			struct stun_builder b;
			uint8_t tid[STUN_TID_LEN];
			int len;
			memset(tid, i & 0xff, sizeof(tid));
			tid[0] = 0xee;
			stun_build_init(&b, out, sizeof(out), STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, tid);
			len = stun_build_finish(&b, true);
			sendto(s->fd, out, (size_t)len, 0, (struct sockaddr *)&ss, sl);
		}
	}
	return NULL;
}

static void srv_start(struct srv *s, enum srv_mode mode)
{
	struct nc_addr lo = ip("127.0.0.1");

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->fd = nc_udp_bind(&lo, 0, &s->ep);
	assert_true(s->fd >= 0);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	s->stop = true;
	pthread_join(s->th, NULL);
	close(s->fd);
}

static bool has_note(const struct nc_result *r, const char *needle)
{
	for (unsigned i = 0; i < r->n_notes; i++)
		if (strstr(r->notes[i], needle))
			return true;
	return false;
}

static void test_deadline(void **state)
{
	struct srv s;
	struct nc_probe_cfg cfg = {0};
	struct nc_result *r = malloc(sizeof(*r));
	uint64_t t0;

	(void)state;
	srv_start(&s, SRV_SILENT);
	nc_result_init(r);
	cfg.server = s.ep;
	t0 = nc_now_us();
	cfg.lim.deadline_us = t0 + 150000;
	assert_int_equal(nc_probe_udp(&cfg, r), 0);
	/* Seven tries at a 100 ms RTO would take 0.9 s: the deadline ends it first. */
	assert_true(nc_now_us() - t0 < 400000);
	assert_true(has_note(r, "stopped at its deadline"));
	srv_stop(&s);
	free(r);
}

static void test_cancel(void **state)
{
	struct srv s;
	struct nc_probe_cfg cfg = {0};
	struct nc_result *r = malloc(sizeof(*r));
	struct nc_cancel *c = nc_cancel_new();
	uint64_t t0;

	(void)state;
	assert_non_null(c);
	srv_start(&s, SRV_SILENT);
	s.cancel_after_first = c; /* as if Ctrl-C came while the first requests are out */
	nc_result_init(r);
	cfg.server = s.ep;
	cfg.lim.cancel = c;
	t0 = nc_now_us();
	assert_int_equal(nc_probe_udp(&cfg, r), -NC_E_CANCELLED);
	assert_true(nc_now_us() - t0 < 400000);
	srv_stop(&s);
	nc_cancel_free(c);
	free(r);
}

static void test_flood_is_bounded(void **state)
{
	struct srv s;
	struct nc_probe_cfg cfg = {0};
	struct nc_result *r = malloc(sizeof(*r));
	uint64_t t0;

	(void)state;
	srv_start(&s, SRV_FLOOD);
	nc_result_init(r);
	cfg.server = s.ep;
	t0 = nc_now_us();
	assert_int_equal(nc_probe_udp(&cfg, r), 0);
	assert_true(nc_now_us() - t0 < 2000000);
	assert_true(has_note(r, "belong to no test"));
	/* Nothing was answered, but the run was cut short: no verdict claims otherwise. */
	assert_int_not_equal(r->udp.filtering, NC_BEH_APD);
	srv_stop(&s);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_flood_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
