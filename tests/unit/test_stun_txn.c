/* The STUN transaction helper: retransmission schedule, matching by id and source, Karn's
 * rule, expiry, and the blocking form's limits (deadline, cancellation, junk floods), on
 * loopback sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "stun_txn.h"
#include "testaddr.h"

#include <natcheck/cancel.h>
#include <natcheck/error.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pair {
	int client, server;
	struct nc_addr client_ep, server_ep;
};

static void pair_open(struct pair *p)
{
	struct nc_addr lo = ip("127.0.0.1");

	p->client = nc_udp_bind(&lo, 0, &p->client_ep);
	p->server = nc_udp_bind(&lo, 0, &p->server_ep);
	assert_true(p->client >= 0);
	assert_true(p->server >= 0);
}

static void pair_close(struct pair *p)
{
	close(p->client);
	close(p->server);
}

/* Datagrams waiting on fd (drained). */
static unsigned drain(int fd)
{
	uint8_t buf[2048];
	unsigned n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

/* The server's success answer to t's request, sent from `from_fd` to the client. */
static void answer(const struct stun_txn *t, int from_fd, const struct pair *p, uint8_t cls)
{
	uint8_t buf[256];
	struct stun_builder b;
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(&p->client_ep, &ss);
	int n;

	stun_build_reply(&b, buf, sizeof(buf), t->pkt, t->len, cls);
	stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &p->client_ep);
	if (cls == STUN_CLASS_ERROR)
		stun_add_error(&b, 500, "Server Error");
	n = stun_build_finish(&b, true);
	assert_true(n > 0);
	assert_int_equal(sendto(from_fd, buf, (size_t)n, 0, (struct sockaddr *)&ss, sl), n);
}

static struct stun_msg decoded(const struct stun_txn *t, uint8_t cls)
{
	struct stun_msg m;

	memset(&m, 0, sizeof(m));
	m.method = STUN_METHOD_BINDING;
	m.cls = cls;
	memcpy(m.tid, t->tid, STUN_TID_LEN);
	return m;
}

/* Without an RTT sample the backoff starts at the first wait and stops at four initial RTOs;
 * with one the first STUN_TXN_FIXED_ROUNDS waits are one RTO, then it doubles up to four. */
static void test_backoff_before_and_after_a_sample(void **state)
{
	struct pair p;
	struct stun_txn t;
	struct stun_rtt rtt = {.initial_us = 10000};
	uint64_t now = 1000000;

	(void)state;
	pair_open(&p);
	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 7), 0);
	for (unsigned i = 0, wait[] = {10000, 20000, 40000, 40000, 40000}; i < 5; i++) {
		assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now), 1);
		assert_int_equal(stun_txn_next(&t, &rtt), now + wait[i]);
		now += wait[i];
	}
	stun_rtt_sample(&rtt, 5000); /* another transaction of the run got an answer */
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now), 1);
	assert_int_equal(stun_txn_next(&t, &rtt), now + STUN_TXN_BACKOFF_MAX * stun_rtt_rto(&rtt));
	assert_int_equal(drain(p.server), 6);

	/* With a sample from the start (RTO at its 15 ms floor): seven tries at 0, 15, 30, 60,
	 * 120, 180 and 240 ms, and the answer awaited until 360 ms, so that a stall of a few
	 * hundred ms on either host does not read as "no answer". */
	struct stun_rtt fast = {0};
	for (int i = 0; i < 20; i++)
		stun_rtt_sample(&fast, 1000);
	assert_int_equal(stun_rtt_rto(&fast), 15000);
	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 7), 0);
	uint64_t t0 = now = 3000000;
	for (unsigned i = 0, at[] = {0, 15, 30, 60, 120, 180, 240}; i < 7; i++) {
		assert_int_equal(stun_txn_next(&t, &fast), i ? t0 + at[i] * 1000 : 1);
		now = t0 + at[i] * 1000;
		assert_int_equal(stun_txn_tick(&t, p.client, &fast, now), 1);
	}
	assert_int_equal(stun_txn_next(&t, &fast), t0 + 360000);
	assert_int_equal(stun_txn_tick(&t, p.client, &fast, t0 + 359999), 0);
	assert_int_equal(t.state, STUN_TXN_PENDING);
	assert_int_equal(stun_txn_tick(&t, p.client, &fast, t0 + 360000), 0);
	assert_int_equal(t.state, STUN_TXN_EXPIRED);
	assert_int_equal(drain(p.server), 7);

	/* A server 1.5 s away, with the default RTO: its answer to the first request still finds
	 * the transaction waiting (with a fixed 100 ms RTO it had given up after 0.8 s). */
	struct stun_rtt fresh = {0};
	struct stun_msg m;
	uint64_t start = now = 5000000;

	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 7), 0);
	while (now < start + 1500000) {
		stun_txn_tick(&t, p.client, &fresh, now);
		now += 1000;
	}
	assert_int_equal(t.state, STUN_TXN_PENDING);
	assert_int_equal(t.attempts, 5); /* at 0, 0.1, 0.3, 0.7 and 1.1 s */
	m = decoded(&t, STUN_CLASS_SUCCESS);
	assert_int_equal(stun_txn_accept(&t, &fresh, &m, &p.server_ep, now), STUN_TXN_MATCHED);
	drain(p.server);
	pair_close(&p);
}

static void test_rto_estimator(void **state)
{
	struct stun_rtt e = {0};

	(void)state;
	assert_int_equal(stun_rtt_rto(&e), 100000);
	stun_rtt_sample(&e, 20000);
	assert_int_equal(e.srtt_us, 20000);
	assert_int_equal(e.rttvar_us, 10000);
	assert_int_equal(stun_rtt_rto(&e), 2 * 20000 + 4 * 10000);
	stun_rtt_sample(&e, 1); /* tiny samples are bounded below */
	for (int i = 0; i < 50; i++)
		stun_rtt_sample(&e, 1);
	assert_int_equal(stun_rtt_rto(&e), 15000);
	e.min_us = 1000;
	assert_true(stun_rtt_rto(&e) < 15000);
}

static void test_retransmits_then_expires(void **state)
{
	struct pair p;
	struct stun_txn t;
	struct stun_rtt rtt = {.initial_us = 10000};
	uint64_t now = 1000000;

	(void)state;
	pair_open(&p);
	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 3), 0);
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now), 1);
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now + 5000), 0); /* not due yet */
	assert_int_equal(stun_txn_next(&t, &rtt), now + 10000);
	/* No RTT sample yet: each wait doubles (RFC 8489 §6.2.1), up to 4 initial RTOs. */
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now + 10000), 1);
	assert_int_equal(stun_txn_next(&t, &rtt), now + 10000 + 20000);
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now + 29999), 0);
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now + 30000), 1);
	assert_int_equal(t.attempts, 3);
	/* The last attempt waits two of its intervals (2 x 40 ms), then the transaction is over. */
	assert_int_equal(stun_txn_next(&t, &rtt), now + 30000 + 80000);
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now + 109999), 0);
	assert_int_equal(t.state, STUN_TXN_PENDING);
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now + 110000), 0);
	assert_int_equal(t.state, STUN_TXN_EXPIRED);
	assert_int_equal(stun_txn_next(&t, &rtt), 0);
	assert_int_equal(drain(p.server), 3);
	pair_close(&p);
}

static void test_match_by_id_and_source(void **state)
{
	struct stun_txn t, other;
	struct stun_rtt rtt = {0};
	struct nc_addr server = ep("192.0.2.1:3478"), elsewhere = ep("192.0.2.9:3478");
	struct stun_msg m;

	(void)state;
	assert_int_equal(stun_txn_init(&t, &server, 0, 0, 2), 0);
	assert_int_equal(stun_txn_init(&other, &server, 0, 0, 2), 0);
	assert_memory_not_equal(t.tid, other.tid, STUN_TID_LEN);
	t.attempts = 1; /* as if sent at t = 1000 */
	t.first_us = t.last_us = 1000;
	m = decoded(&other, STUN_CLASS_SUCCESS);
	assert_int_equal(stun_txn_accept(&t, &rtt, &m, &server, 2000), STUN_TXN_NOT_OURS);
	m = decoded(&t, STUN_CLASS_REQUEST); /* a request with our id is never an answer */
	assert_int_equal(stun_txn_accept(&t, &rtt, &m, &server, 2000), STUN_TXN_NOT_OURS);
	m = decoded(&t, STUN_CLASS_SUCCESS);
	assert_int_equal(stun_txn_accept(&t, &rtt, &m, &elsewhere, 2000), STUN_TXN_WRONG_SOURCE);
	assert_int_equal(t.state, STUN_TXN_PENDING);
	assert_int_equal(t.wrong_source, 1);
	assert_true(nc_addr_eq(&t.wrong_from, &elsewhere));
	assert_int_equal(stun_txn_accept(&t, &rtt, &m, &server, 3000), STUN_TXN_MATCHED);
	assert_int_equal(t.state, STUN_TXN_ANSWERED);
	assert_int_equal(t.rtt_us, 2000);
	assert_int_equal(rtt.srtt_us, 2000); /* first transmission: sampled */
	assert_int_equal(stun_txn_accept(&t, &rtt, &m, &server, 4000), STUN_TXN_DUPLICATE);
	/* Karn: an answer after a retransmission is not sampled. */
	assert_int_equal(stun_txn_init(&other, &server, 0, 0, 3), 0);
	other.attempts = 2;
	other.first_us = 1000;
	other.last_us = 5000;
	m = decoded(&other, STUN_CLASS_ERROR);
	assert_int_equal(stun_txn_accept(&other, &rtt, &m, &server, 6000), STUN_TXN_MATCHED);
	assert_int_equal(rtt.samples, 1);
}

static void test_run_answered(void **state)
{
	struct pair p;
	struct stun_txn t;
	struct stun_rtt rtt = {0};
	struct stun_msg m;
	struct nc_addr from;

	(void)state;
	pair_open(&p);
	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 3), 0);
	answer(&t, p.server, &p, STUN_CLASS_SUCCESS); /* waits in the client's queue */
	assert_int_equal(stun_txn_run(&t, p.client, &rtt, NULL, &m, &from), 0);
	assert_true(nc_addr_eq(&from, &p.server_ep));
	assert_true(nc_addr_eq(&m.xor_mapped, &p.client_ep));
	assert_int_equal(drain(p.server), 1);
	pair_close(&p);
}

static void test_run_wrong_source_only(void **state)
{
	struct pair p;
	struct stun_txn t;
	struct stun_rtt rtt = {.initial_us = 5000};
	struct nc_addr lo = ip("127.0.0.1"), third_ep;
	int third = nc_udp_bind(&lo, 0, &third_ep);

	(void)state;
	pair_open(&p);
	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 2), 0);
	answer(&t, third, &p, STUN_CLASS_SUCCESS);
	assert_int_equal(stun_txn_run(&t, p.client, &rtt, NULL, NULL, NULL), -NC_E_WRONG_SOURCE);
	assert_true(nc_addr_eq(&t.wrong_from, &third_ep));
	close(third);
	pair_close(&p);
}

static void test_run_deadline_and_cancel(void **state)
{
	struct pair p;
	struct stun_txn t;
	struct stun_rtt rtt = {0};
	struct nc_limits lim = {.deadline_us = nc_now_us() + 30000};
	uint64_t t0 = nc_now_us();

	(void)state;
	pair_open(&p);
	/* 1000 attempts of 100 ms would take minutes: the deadline stops it at 30 ms. */
	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 1000), 0);
	assert_int_equal(stun_txn_run(&t, p.client, &rtt, &lim, NULL, NULL), -NC_E_DEADLINE);
	assert_true(nc_now_us() - t0 < 500000);
	struct nc_cancel *c = nc_cancel_new();
	assert_non_null(c);
	lim.deadline_us = 0;
	lim.cancel = c;
	nc_cancel_fire(c);
	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 1000), 0);
	assert_int_equal(stun_txn_run(&t, p.client, &rtt, &lim, NULL, NULL), -NC_E_CANCELLED);
	nc_cancel_free(c);
	pair_close(&p);
}

/* A server that floods answers with ids that match nothing must not keep the loop busy. */
struct flood {
	const struct pair *p;
	volatile int stop;
};

static void *flood_thread(void *arg)
{
	struct flood *f = arg;
	struct stun_txn junk;

	for (int i = 0; i < 20000 && !f->stop; i++) {
		if (stun_txn_init(&junk, &f->p->server_ep, 0, 0, 1) == 0)
			answer(&junk, f->p->server, f->p, STUN_CLASS_SUCCESS);
		if (i % 64 == 63)
			usleep(1000); /* let the reader keep up: the kernel drops what it cannot hold */
	}
	return NULL;
}

static void test_run_junk_flood_bounded(void **state)
{
	struct pair p;
	struct stun_txn t;
	struct stun_rtt rtt = {0};
	struct flood f = {.p = &p};
	pthread_t tid;

	(void)state;
	pair_open(&p);
	/* Ten attempts (about 1.9 s): the junk cap must end it long before. */
	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 10), 0);
	assert_int_equal(pthread_create(&tid, NULL, flood_thread, &f), 0);
	assert_int_equal(stun_txn_run(&t, p.client, &rtt, NULL, NULL, NULL), -NC_E_PROTOCOL);
	assert_true(t.attempts < 10);
	f.stop = 1;
	pthread_join(tid, NULL);
	pair_close(&p);
}

static void test_recv_truncated(void **state)
{
	struct pair p;
	uint8_t big[600] = {0}, buf[64];
	struct stun_msg m;
	struct nc_addr from;
	struct sockaddr_storage ss;
	socklen_t sl;

	(void)state;
	pair_open(&p);
	sl = nc_addr_to_sockaddr(&p.client_ep, &ss);
	assert_int_equal(sendto(p.server, big, sizeof(big), 0, (struct sockaddr *)&ss, sl), sizeof(big));
	assert_int_equal(stun_txn_recv(p.client, buf, sizeof(buf), &m, &from), -NC_E_TRUNCATED);
	assert_true(nc_addr_eq(&from, &p.server_ep));
	assert_int_equal(stun_txn_recv(p.client, buf, sizeof(buf), &m, &from), -EAGAIN);
	pair_close(&p);
}

/* Redundant copies and an end on evidence: resend counts as an attempt (so Karn's rule takes
 * no sample from its answer) and keeps a scheduled retransmission where it was (with copies
 * alone, it is due an RTO after the last one); expire ends the wait at once. */
static void test_resend_and_expire(void **state)
{
	struct pair p;
	struct stun_txn t;
	struct stun_rtt rtt = {.initial_us = 10000};
	struct stun_msg m;
	uint64_t now = 1000000;

	(void)state;
	pair_open(&p);
	assert_int_equal(stun_txn_init(&t, &p.server_ep, STUN_CHANGE_PORT, 0, 5), 0);
	/* A copy as the very first transmission: the retransmission is due an RTO later. */
	assert_int_equal(stun_txn_resend(&t, p.client, now), 1);
	assert_int_equal(t.attempts, 1);
	assert_int_equal(t.first_us, now);
	assert_int_equal(stun_txn_next(&t, &rtt), now + 10000);
	assert_int_equal(stun_txn_resend(&t, p.client, now + 2000), 1);
	assert_int_equal(stun_txn_resend(&t, p.client, now + 4000), 1);
	assert_int_equal(t.attempts, 3);
	assert_int_equal(t.last_us, now + 4000);
	/* Copies alone: the retransmission is due an RTO after the last one. */
	assert_int_equal(stun_txn_next(&t, &rtt), now + 14000);
	assert_int_equal(drain(p.server), 3);
	/* Its answer matches but gives no RTT sample: which copy was answered is unknown. */
	m = decoded(&t, STUN_CLASS_SUCCESS);
	assert_int_equal(stun_txn_accept(&t, &rtt, &m, &p.server_ep, now + 5000), STUN_TXN_MATCHED);
	assert_int_equal(rtt.samples, 0);
	assert_int_equal(stun_txn_resend(&t, p.client, now + 6000), -NC_E_INVALID);

	assert_int_equal(stun_txn_init(&t, &p.server_ep, 0, 0, 5), 0);
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now), 1);
	stun_txn_expire(&t);
	assert_int_equal(t.state, STUN_TXN_EXPIRED);
	assert_int_equal(stun_txn_next(&t, &rtt), 0);
	assert_int_equal(stun_txn_tick(&t, p.client, &rtt, now + 100000), 0);
	assert_int_equal(drain(p.server), 1);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rto_estimator),
		cmocka_unit_test(test_backoff_before_and_after_a_sample),
		cmocka_unit_test(test_retransmits_then_expires),
		cmocka_unit_test(test_match_by_id_and_source),
		cmocka_unit_test(test_run_answered),
		cmocka_unit_test(test_run_wrong_source_only),
		cmocka_unit_test(test_run_deadline_and_cancel),
		cmocka_unit_test(test_run_junk_flood_bounded),
		cmocka_unit_test(test_recv_truncated),
		cmocka_unit_test(test_resend_and_expire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
