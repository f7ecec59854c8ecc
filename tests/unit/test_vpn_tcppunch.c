/* The direct TCP path's connection (vpn/lib/tcppunch.c) on loopback, with the caller's clock:
 * an attempt waits until the server knows our TCP mapping, connects from the tunnel's port
 * number (shared with other connections from it), comes up, carries framed datagrams both
 * ways, and is dropped when nothing authenticated arrives over it in TCPP_PROVE_MS; a refused
 * connect is repeated every TCPP_RETRY_MS until TCPP_TRY_MS; a closed connection and a
 * zero-length frame end it; introductions start, keep or cancel attempts. (Two crossing SYNs
 * cannot be staged on loopback, where a SYN to a port without a socket is refused at once:
 * simultaneous open itself is tried in the lab, sim/pairs-full.list's "direct tcp" pairs.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpframe.h"
#include "tcppunch.h"

static int listener(struct nc_addr *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	nc_addr_set(a, AF_INET, &sin.sin_addr, ntohs(sin.sin_port));
	return fd;
}

/* A loopback port with nobody behind it (bound, read, closed). */
static struct nc_addr nobody(void)
{
	struct nc_addr a;
	close(listener(&a));
	return a;
}

static void wait_fd(int fd, short events)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	assert_int_equal(poll(&pfd, 1, 2000), 1);
}

struct cap {
	uint8_t buf[256];
	size_t len;
	unsigned n;
};

static void collect(void *ctx, const uint8_t *d, size_t len)
{
	struct cap *c = ctx;

	assert_true(len <= sizeof(c->buf));
	memcpy(c->buf, d, len);
	c->len = len;
	c->n++;
}

/* t's connection up toward the listener lfd; the accepted end in *srv. */
static void bring_up(struct tcpp *t, int lfd, const struct nc_addr *to, uint64_t now, int *srv)
{
	uint32_t ev;
	int fd;

	tcpp_intro(t, to, true);
	assert_int_equal(tcpp_state(t), TCPP_WAIT);
	assert_int_equal(tcpp_tick(t, true, now), TCPP_EV_NONE);
	assert_int_equal(tcpp_state(t), TCPP_CONNECTING);
	fd = tcpp_poll(t, &ev);
	assert_true(fd >= 0);
	assert_int_equal(ev, EPOLLOUT);
	wait_fd(fd, POLLOUT);
	assert_int_equal(tcpp_event(t, EPOLLOUT, collect, NULL, now), TCPP_EV_UP);
	assert_int_equal(tcpp_state(t), TCPP_UP);
	assert_int_equal(tcpp_poll(t, &ev), fd);
	assert_int_equal(ev, EPOLLIN);
	*srv = accept(lfd, NULL, NULL);
	assert_true(*srv >= 0);
}

static void test_attempt_and_frames(void **state)
{
	struct tcpp t;
	struct nc_addr a, b, other;
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	struct cap cap = {0};
	uint8_t buf[64], frames[] = {0, 3, 'a', 'b', 'c', 0, 2, 'x', 'y'};
	uint16_t lport;
	uint32_t ev;
	int la = listener(&a), lb = listener(&b), srv, shared;
	(void)state;

	lport = nobody().port;
	tcpp_init(&t, lport);
	/* Not wanted, or no endpoint: nothing happens. */
	tcpp_intro(&t, &a, false);
	assert_int_equal(tcpp_state(&t), TCPP_IDLE);
	memset(&other, 0, sizeof(other));
	tcpp_intro(&t, &other, true);
	assert_int_equal(tcpp_state(&t), TCPP_IDLE);
	assert_true(t.wanted); /* the server must learn our mapping all the same */
	/* Wanted: waits until the server knows our TCP mapping. */
	tcpp_intro(&t, &a, true);
	assert_int_equal(tcpp_tick(&t, false, 1000), TCPP_EV_NONE);
	assert_int_equal(tcpp_state(&t), TCPP_WAIT);
	assert_int_equal(tcpp_poll(&t, &ev), -1);
	assert_int_equal(tcpp_send(&t, buf, 1), -ENOTCONN);
	bring_up(&t, la, &a, 1000, &srv);
	/* From the tunnel's port number, which another connection can share at the same time. */
	assert_int_equal(getpeername(srv, (struct sockaddr *)&peer, &pl), 0);
	assert_int_equal(ntohs(peer.sin_port), lport);
	shared = tcpf_connect(&b, lport);
	assert_true(shared >= 0);
	wait_fd(shared, POLLOUT);
	assert_int_equal(tcpf_connected(shared), 1);
	/* An introduction while up changes nothing. */
	tcpp_intro(&t, &b, true);
	assert_int_equal(tcpp_state(&t), TCPP_UP);
	/* Datagrams out as frames. */
	assert_int_equal(tcpp_send(&t, (const uint8_t *)"hello", 5), 0);
	assert_int_equal(recv(srv, buf, sizeof(buf), 0), 7);
	assert_memory_equal(buf, "\0\5hello", 7);
	/* Frames in, split across writes: only whole ones are handed on. */
	assert_int_equal(send(srv, frames, 4, 0), 4);
	wait_fd(tcpp_poll(&t, &ev), POLLIN);
	assert_int_equal(tcpp_event(&t, EPOLLIN, collect, &cap, 1001), TCPP_EV_NONE);
	assert_int_equal(cap.n, 0);
	assert_int_equal(send(srv, frames + 4, sizeof(frames) - 4, 0), (ssize_t)sizeof(frames) - 4);
	wait_fd(tcpp_poll(&t, &ev), POLLIN);
	assert_int_equal(tcpp_event(&t, EPOLLIN, collect, &cap, 1002), TCPP_EV_NONE);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.len, 2);
	assert_memory_equal(cap.buf, "xy", 2);
	/* Nothing authenticated over it for TCPP_PROVE_MS: dropped. */
	assert_int_equal(tcpp_tick(&t, true, 1000 + TCPP_PROVE_MS - 1), TCPP_EV_NONE);
	assert_int_equal(tcpp_tick(&t, true, 1000 + TCPP_PROVE_MS), TCPP_EV_DOWN);
	assert_int_equal(tcpp_state(&t), TCPP_FAILED);
	assert_int_equal(t.err, EPROTO);
	assert_int_equal(tcpp_poll(&t, &ev), -1);
	assert_true(recv(srv, buf, sizeof(buf), 0) <= 0); /* reset */
	/* The next introduction tries again. */
	tcpp_intro(&t, &a, true);
	assert_int_equal(tcpp_state(&t), TCPP_WAIT);
	tcpp_free(&t);
	close(srv);
	close(shared);
	close(la);
	close(lb);
}

static void test_refused_retried_until_timeout(void **state)
{
	struct tcpp t;
	struct nc_addr none = nobody();
	uint32_t ev;
	int fd;
	(void)state;

	tcpp_init(&t, 0);
	tcpp_intro(&t, &none, true);
	assert_int_equal(tcpp_tick(&t, true, 5000), TCPP_EV_NONE);
	assert_int_equal(t.syns, 1);
	assert_int_equal(t.attempts, 1);
	/* Refused (RST): closed, tried again after TCPP_RETRY_MS. */
	fd = tcpp_poll(&t, &ev);
	assert_true(fd >= 0);
	wait_fd(fd, POLLOUT);
	assert_int_equal(tcpp_event(&t, EPOLLOUT | EPOLLERR, collect, NULL, 5001), TCPP_EV_NONE);
	assert_int_equal(t.err, ECONNREFUSED);
	assert_int_equal(tcpp_state(&t), TCPP_CONNECTING);
	assert_int_equal(tcpp_poll(&t, &ev), -1);
	assert_int_equal(tcpp_tick(&t, true, 5000 + TCPP_RETRY_MS - 1), TCPP_EV_NONE);
	assert_int_equal(t.syns, 1);
	assert_int_equal(tcpp_tick(&t, true, 5000 + TCPP_RETRY_MS), TCPP_EV_NONE);
	assert_int_equal(t.syns, 2);
	/* An introduction during the attempt does not restart it. */
	tcpp_intro(&t, &none, true);
	assert_int_equal(t.attempts, 1);
	/* Out of time: failed, with the last reason. */
	assert_int_equal(tcpp_tick(&t, true, 5000 + TCPP_TRY_MS), TCPP_EV_DOWN);
	assert_int_equal(tcpp_state(&t), TCPP_FAILED);
	assert_int_equal(tcpp_poll(&t, &ev), -1);
	assert_string_equal(tcpp_state_name(tcpp_state(&t)), "failed");
	/* The next introduction starts a new attempt; one that no longer wants TCP cancels a
	 * waiting one. */
	tcpp_intro(&t, &none, true);
	assert_int_equal(tcpp_state(&t), TCPP_WAIT);
	tcpp_intro(&t, &none, false);
	assert_int_equal(tcpp_state(&t), TCPP_IDLE);
	tcpp_free(&t);
}

static void test_proven_then_closed(void **state)
{
	struct tcpp t;
	struct nc_addr a;
	struct cap cap = {0};
	uint8_t zero[2] = {0, 0};
	uint32_t ev;
	int la = listener(&a), srv;
	(void)state;

	tcpp_init(&t, 0);
	bring_up(&t, la, &a, 100, &srv);
	tcpp_proven(&t);
	assert_int_equal(tcpp_tick(&t, true, 100 + 10 * TCPP_PROVE_MS), TCPP_EV_NONE);
	assert_int_equal(tcpp_state(&t), TCPP_UP);
	/* The peer closes: the connection ends. */
	close(srv);
	wait_fd(tcpp_poll(&t, &ev), POLLIN);
	assert_int_equal(tcpp_event(&t, EPOLLIN, collect, &cap, 200), TCPP_EV_DOWN);
	assert_int_equal(tcpp_state(&t), TCPP_FAILED);
	assert_false(t.proven);
	/* A zero-length frame: not our stream, ended. */
	tcpp_intro(&t, &a, true);
	bring_up(&t, la, &a, 300, &srv);
	assert_int_equal(send(srv, zero, 2, 0), 2);
	wait_fd(tcpp_poll(&t, &ev), POLLIN);
	assert_int_equal(tcpp_event(&t, EPOLLIN, collect, &cap, 301), TCPP_EV_DOWN);
	assert_int_equal(cap.n, 0);
	/* tcpp_close ends a connection or an attempt, and cancels a wait. */
	tcpp_intro(&t, &a, true);
	close(srv);
	bring_up(&t, la, &a, 400, &srv);
	tcpp_close(&t, 0);
	assert_int_equal(tcpp_state(&t), TCPP_FAILED);
	tcpp_intro(&t, &a, true);
	tcpp_close(&t, 0);
	assert_int_equal(tcpp_state(&t), TCPP_IDLE);
	tcpp_free(&t);
	close(srv);
	close(la);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attempt_and_frames),
		cmocka_unit_test(test_refused_retried_until_timeout),
		cmocka_unit_test(test_proven_then_closed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
