/* The rendezvous client (vpn/lib/rdv.c) against a fake punchvpnd on loopback: registration
 * rounds (wants split by COORD_MAX_WANTS, growing timestamps), REGISTERED accepted only for
 * the latest round and only under the server's key, the refresh interval the server gives,
 * the UDP -> TCP fallback after RDV_UDP_TRIES unanswered rounds and back when TCP fails, and
 * the TCP framing both ways (split frames, a closed connection), and the connection that shows
 * the server our TCP mapping (COORD_REG_TCP_SHOW, from the tunnel's port number, never while a
 * UDP round is in flight). The clock is the caller's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coord.h"
#include "key.h"
#include "rdv.h"
#include "udp.h"

struct fx {
	uint8_t cpriv[32], cpub[32], spriv[32], spub[32], key[32];
	int srv;              /* the fake server's UDP socket on 127.0.0.1 */
	struct nc_addr addr;
	struct udp u;
	struct rdv r;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	char err[256];

	assert_non_null(f);
	vpn_key_generate(f->cpriv);
	vpn_key_generate(f->spriv);
	assert_int_equal(vpn_key_public(f->cpub, f->cpriv), 0);
	assert_int_equal(vpn_key_public(f->spub, f->spriv), 0);
	assert_int_equal(coord_shared_key(f->key, f->spriv, f->cpub), 0);
	f->srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->srv >= 0);
	assert_int_equal(bind(f->srv, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(f->srv, (struct sockaddr *)&sin, &sl), 0);
	nc_addr_set(&f->addr, AF_INET, &sin.sin_addr, ntohs(sin.sin_port));
	assert_int_equal(udp_open(&f->u, 0, err, sizeof(err)), 0);
	assert_int_equal(rdv_init(&f->r, &f->addr, f->spub, f->cpriv, f->cpub), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rdv_free(&f->r);
	udp_close(&f->u);
	close(f->srv);
	free(f);
	return 0;
}

/* One datagram at the fake server (bounded wait), opened under the server's key. */
static void srv_recv(struct fx *f, struct coord_msg *m, struct sockaddr_storage *from)
{
	uint8_t buf[2048], who[32];
	struct pollfd pfd = {.fd = f->srv, .events = POLLIN};
	socklen_t fl = sizeof(*from);
	ssize_t n;

	assert_int_equal(poll(&pfd, 1, 2000), 1);
	n = recvfrom(f->srv, buf, sizeof(buf), 0, (struct sockaddr *)from, &fl);
	assert_true(n > 0);
	assert_int_equal(coord_peek_sender(buf, (size_t)n, who), 0);
	assert_memory_equal(who, f->cpub, 32);
	assert_int_equal(coord_unseal(f->key, buf, (size_t)n, m), 0);
}

static int seal_from(const uint8_t key[32], const uint8_t pub[32], const struct coord_msg *m,
		     uint8_t *out)
{
	int n = coord_seal(key, pub, m, out, COORD_MAX_DATAGRAM);

	assert_true(n > 0);
	return n;
}

static struct coord_msg ack(uint64_t ts, uint16_t keepalive_s)
{
	struct coord_msg a = {.kind = COORD_REGISTERED, .ts_ms = ts};

	nc_addr_parse("203.0.113.7:40001", 0, &a.u.ack.observed);
	a.u.ack.relay_id = 77;
	a.u.ack.keepalive_s = keepalive_s;
	return a;
}

static void test_register_and_ack(void **state)
{
	struct fx *f = *state;
	uint8_t wants[30][32], out[COORD_MAX_DATAGRAM], other[32], okey[32];
	struct coord_profile prof = {.measured = true, .mapping = 1};
	struct nc_addr local[2];
	struct coord_msg m1, m2, a, got;
	struct sockaddr_storage from;
	int n;

	for (int i = 0; i < 30; i++)
		memset(wants[i], i + 1, 32);
	nc_addr_parse("10.0.0.2:51900", 0, &local[0]);
	nc_addr_parse("[2001:db8::2]:51900", 0, &local[1]);
	assert_true(rdv_due(&f->r, &f->u, 1000)); /* at start, at once */
	assert_int_equal(rdv_register(&f->r, &f->u, &prof, local, 2,
				      (const uint8_t(*)[32])wants, 30, 1000), 0);
	/* 30 wanted peers: two REGISTERs (24 + 6), each with the endpoints and profile. */
	srv_recv(f, &m1, &from);
	srv_recv(f, &m2, &from);
	assert_int_equal(m1.kind, COORD_REGISTER);
	assert_int_equal(m1.u.reg.n_wants, COORD_MAX_WANTS);
	assert_int_equal(m2.u.reg.n_wants, 30 - COORD_MAX_WANTS);
	assert_memory_equal(m2.u.reg.wants[0], wants[COORD_MAX_WANTS], 32);
	assert_int_equal(m1.u.reg.n_local, 2);
	assert_true(nc_addr_eq(&m1.u.reg.local[1], &local[1]));
	assert_true(m1.u.reg.prof.measured);
	assert_true(m2.ts_ms > m1.ts_ms); /* the server refuses a timestamp that does not grow */
	/* Before the server's first answer, a retry after RDV_START_RETRY_MS (fast UDP -> TCP). */
	assert_false(rdv_due(&f->r, &f->u, 1000 + RDV_START_RETRY_MS - 1));

	/* Under another server key: refused, nothing changes. */
	vpn_key_generate(other);
	assert_int_equal(coord_shared_key(okey, other, f->cpub), 0);
	a = ack(m1.ts_ms, 5);
	n = seal_from(okey, f->spub, &a, out);
	assert_int_equal(rdv_input(&f->r, out, (size_t)n, 1010, &got), -NC_E_AUTH);
	assert_false(f->r.registered);
	/* Older than the round: stale. */
	a = ack(m1.ts_ms - 1, 5);
	n = seal_from(f->key, f->spub, &a, out);
	assert_int_equal(rdv_input(&f->r, out, (size_t)n, 1010, &got), -NC_E_PROTOCOL);
	assert_false(f->r.registered);
	/* The round's answer. */
	a = ack(m2.ts_ms, 5);
	n = seal_from(f->key, f->spub, &a, out);
	assert_int_equal(rdv_input(&f->r, out, (size_t)n, 1010, &got), 1);
	assert_true(f->r.registered);
	assert_int_equal(f->r.relay_id, 77);
	assert_int_equal(f->r.keepalive_s, 5);
	assert_true(nc_addr_eq(&f->r.observed, &a.u.ack.observed));
	/* A NAT that forgets the binding toward the server sooner (its measured lifetime):
	 * rounds go that often; one that keeps it longer changes nothing. */
	rdv_set_binding_ms(&f->r, 2000);
	assert_int_equal(rdv_interval_ms(&f->r), 2000);
	assert_false(rdv_due(&f->r, &f->u, 1000 + 1999));
	assert_true(rdv_due(&f->r, &f->u, 1000 + 2000));
	rdv_set_binding_ms(&f->r, 9000);
	assert_int_equal(rdv_interval_ms(&f->r), 5000);
	rdv_set_binding_ms(&f->r, 0);
	assert_int_equal(rdv_interval_ms(&f->r), 5000);
	/* The next round after the server's keepalive, not before. */
	assert_false(rdv_due(&f->r, &f->u, 1000 + 4999));
	assert_true(rdv_due(&f->r, &f->u, 1000 + 5000));
	/* An INTRO is the caller's. */
	struct coord_msg in = {.kind = COORD_INTRO, .ts_ms = 1};
	memset(in.u.intro.peer, 9, 32);
	in.u.intro.relay_id = 5;
	n = seal_from(f->key, f->spub, &in, out);
	assert_int_equal(rdv_input(&f->r, out, (size_t)n, 1020, &got), 0);
	assert_int_equal(got.kind, COORD_INTRO);
	assert_int_equal(got.u.intro.relay_id, 5);
	assert_int_equal(f->r.n_intros, 1);
}

/* Calls rdv_due on a clock that only moves forward, until the mode is m (real time passes for
 * the kernel to answer a TCP connect). */
static bool wait_mode(struct fx *f, enum rdv_mode m, uint64_t *now)
{
	for (int i = 0; i < 2000; i++) {
		if (rdv_due(&f->r, &f->u, ++*now) && m == RDV_UDP && f->r.mode == RDV_UDP)
			return true;
		if (f->r.mode == m && (m != RDV_TCP || f->r.tcp_up))
			return true;
		usleep(1000);
	}
	return false;
}

static uint64_t unanswered_rounds(struct fx *f, uint64_t now)
{
	struct coord_profile prof = {0};

	for (int i = 0; i < RDV_UDP_TRIES; i++) {
		assert_true(rdv_due(&f->r, &f->u, now));
		assert_int_equal(rdv_register(&f->r, &f->u, &prof, NULL, 0, NULL, 0, now), 0);
		assert_false(rdv_due(&f->r, &f->u, now + RDV_START_RETRY_MS - 1));
		now += RDV_START_RETRY_MS;
	}
	return now;
}

static void test_udp_unanswered_tcp_refused(void **state)
{
	struct fx *f = *state;
	uint64_t now = unanswered_rounds(f, 0);

	/* A fourth round is due: instead the client tries TCP on the same port... */
	assert_false(rdv_due(&f->r, &f->u, now));
	assert_int_equal(f->r.mode, RDV_TCP);
	assert_int_equal(f->r.n_tcp_fallbacks, 1);
	/* ...which nobody serves here: back to UDP, registering again at once. */
	assert_true(wait_mode(f, RDV_UDP, &now));
	assert_int_equal(f->r.mode, RDV_UDP);
	assert_false(f->r.registered);
}

/* The client's TCP socket has something to read (bounded wait, no sleeping). */
static void readable(struct fx *f)
{
	struct pollfd pfd = {.fd = f->r.tcp.fd, .events = POLLIN};

	assert_int_equal(poll(&pfd, 1, 2000), 1);
}

struct capture {
	uint8_t buf[2048];
	size_t len;
	unsigned n;
};

static void collect(void *ctx, const uint8_t *d, size_t len)
{
	struct capture *c = ctx;

	assert_true(len <= sizeof(c->buf));
	memcpy(c->buf, d, len);
	c->len = len;
	c->n++;
}

static void test_tcp_fallback_and_framing(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons(f->addr.port)};
	struct coord_profile prof = {0};
	uint8_t buf[4096], out[COORD_MAX_DATAGRAM + 2];
	uint8_t frame[2 + COORD_RELAY_HDR_LEN + 3] = {0, COORD_RELAY_HDR_LEN + 3};
	struct coord_msg m, a, got_m;
	struct capture cap = {0};
	uint64_t now;
	ssize_t got = 0;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, c, n;
	uint16_t flen;

	/* punchvpnd serves TCP on the UDP port's number. */
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	now = unanswered_rounds(f, 0);
	assert_false(rdv_due(&f->r, &f->u, now));
	assert_true(wait_mode(f, RDV_TCP, &now));
	assert_true(rdv_tcp_fd(&f->r) >= 0);
	assert_int_equal(rdv_mode(&f->r), RDV_TCP);
	c = accept(lfd, NULL, NULL);
	assert_true(c >= 0);
	/* Connected: a round over TCP, framed by a 2-byte length. */
	assert_int_equal(rdv_register(&f->r, &f->u, &prof, NULL, 0, NULL, 0, now), 0);
	while (got < 2 || got < 2 + ((buf[0] << 8) | buf[1])) {
		ssize_t k = recv(c, buf + got, sizeof(buf) - (size_t)got, 0);
		assert_true(k > 0);
		got += k;
	}
	flen = (uint16_t)((buf[0] << 8) | buf[1]);
	assert_int_equal(got, 2 + flen);
	assert_int_equal(coord_unseal(f->key, buf + 2, flen, &m), 0);
	assert_int_equal(m.kind, COORD_REGISTER);
	/* The answer, split over two writes: nothing until it is whole. */
	a = ack(m.ts_ms, 15);
	n = coord_seal(f->key, f->spub, &a, out + 2, COORD_MAX_DATAGRAM);
	assert_true(n > 0);
	out[0] = (uint8_t)(n >> 8);
	out[1] = (uint8_t)n;
	assert_int_equal(send(c, out, 5, 0), 5);
	readable(f);
	assert_true(rdv_tcp_read(&f->r, collect, &cap));
	assert_int_equal(cap.n, 0);
	assert_int_equal(send(c, out + 5, (size_t)n + 2 - 5, 0), n + 2 - 5);
	readable(f);
	assert_true(rdv_tcp_read(&f->r, collect, &cap));
	assert_int_equal(cap.n, 1);
	assert_int_equal(cap.len, n);
	assert_int_equal(rdv_input(&f->r, cap.buf, cap.len, now, &got_m), 1);
	assert_true(f->r.registered);
	/* A relay frame. */
	coord_put_relay_hdr(frame + 2, 9);
	frame[2 + COORD_RELAY_HDR_LEN] = 4;
	assert_int_equal(send(c, frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	readable(f);
	assert_true(rdv_tcp_read(&f->r, collect, &cap));
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.len, sizeof(frame) - 2);
	assert_memory_equal(cap.buf, frame + 2, sizeof(frame) - 2);
	/* Relayed datagrams from us go out as frames too. */
	assert_int_equal(rdv_send(&f->r, &f->u, frame + 2, sizeof(frame) - 2), 0);
	got = recv(c, buf, sizeof(buf), 0);
	assert_int_equal(got, (ssize_t)sizeof(frame));
	assert_memory_equal(buf, frame, sizeof(frame));
	/* The server goes away: back to UDP, unregistered, a round due at once. */
	close(c);
	readable(f);
	assert_false(rdv_tcp_read(&f->r, collect, &cap));
	assert_int_equal(rdv_mode(&f->r), RDV_UDP);
	assert_false(f->r.registered);
	assert_true(rdv_due(&f->r, &f->u, now + 1));
	close(lfd);
}

/* A free TCP port on loopback (bound, read, closed). */
static uint16_t free_tcp_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* One frame from a TCP socket (bounded wait). */
static size_t recv_frame(int c, uint8_t *buf, size_t cap)
{
	size_t got = 0;

	while (got < 2 || got < 2 + (size_t)((buf[0] << 8) | buf[1])) {
		struct pollfd pfd = {.fd = c, .events = POLLIN};
		ssize_t k;
		assert_int_equal(poll(&pfd, 1, 2000), 1);
		k = recv(c, buf + got, cap - got, 0);
		assert_true(k > 0);
		got += (size_t)k;
	}
	return got;
}

static void show_readable(struct fx *f)
{
	struct pollfd pfd = {.fd = rdv_show_fd(&f->r), .events = POLLIN};

	assert_int_equal(poll(&pfd, 1, 2000), 1);
}

static void test_tcp_show(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons(f->addr.port)};
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	struct coord_profile prof = {.measured = true, .mapping = 1};
	struct coord_msg m, a;
	struct sockaddr_storage from;
	struct nc_addr ep;
	uint8_t wants[2][32], buf[4096];
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, c, n;
	uint64_t now = 1000, udp_ts;
	uint16_t lport = free_tcp_port();

	memset(wants, 7, sizeof(wants));
	f->r.tcp_port = lport;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 2), 0);
	/* Nothing is shown before UDP registration works. */
	rdv_tcp_show(&f->r, (const uint8_t(*)[32])wants, 2, now);
	assert_int_equal(f->r.show.fd, -1);
	assert_true(rdv_due(&f->r, &f->u, now));
	assert_int_equal(rdv_register(&f->r, &f->u, &prof, NULL, 0, (const uint8_t(*)[32])wants, 2,
				      now), 0);
	srv_recv(f, &m, &from);
	udp_ts = m.ts_ms;
	a = ack(m.ts_ms, 15);
	n = seal_from(f->key, f->spub, &a, buf);
	assert_int_equal(rdv_input(&f->r, buf, (size_t)n, now, &m), 1);
	assert_false(rdv_tcp_presence(&f->r, NULL));
	/* Registered over UDP: the showing connection, from the tunnel's port number. */
	rdv_tcp_show(&f->r, (const uint8_t(*)[32])wants, 2, now);
	assert_true(f->r.show.fd >= 0);
	c = accept(lfd, (struct sockaddr *)&peer, &pl);
	assert_true(c >= 0);
	assert_int_equal(ntohs(peer.sin_port), lport);
	/* A UDP round in flight: the showing REGISTER waits (the server would refuse the older
	 * timestamp arriving second). */
	f->r.unanswered = 1;
	{
		struct pollfd pfd = {.fd = f->r.show.fd, .events = POLLOUT};
		assert_int_equal(poll(&pfd, 1, 2000), 1);
	}
	rdv_tcp_show(&f->r, (const uint8_t(*)[32])wants, 2, ++now);
	assert_true(f->r.show_up);
	assert_int_equal(rdv_show_fd(&f->r), f->r.show.fd);
	assert_int_equal(f->r.show_sent_ms, 0);
	f->r.unanswered = 0;
	rdv_tcp_show(&f->r, (const uint8_t(*)[32])wants, 2, ++now);
	assert_true(f->r.show_sent_ms > 0);
	n = (int)recv_frame(c, buf, sizeof(buf));
	assert_int_equal(coord_unseal(f->key, buf + 2, (size_t)n - 2, &m), 0);
	assert_int_equal(m.kind, COORD_REGISTER);
	assert_true(m.u.reg.tcp_show);
	assert_true(m.ts_ms > udp_ts);
	assert_int_equal(m.u.reg.n_wants, 2);
	assert_true(m.u.reg.prof.measured); /* the round's profile, repeated */
	/* Not again before a keepalive. */
	rdv_tcp_show(&f->r, (const uint8_t(*)[32])wants, 2, now + 14999);
	assert_int_equal(f->r.show_sent_ms, now);
	/* The answer: our TCP mapping is known. A REGISTERED for another timestamp is not it. */
	a = ack(m.ts_ms - 1, 15);
	n = seal_from(f->key, f->spub, &a, buf + 2);
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	assert_int_equal(send(c, buf, (size_t)n + 2, 0), n + 2);
	show_readable(f);
	assert_true(rdv_show_read(&f->r, now));
	assert_false(rdv_tcp_presence(&f->r, NULL));
	a = ack(m.ts_ms, 15);
	nc_addr_parse("203.0.113.7:51900", 0, &a.u.ack.observed);
	n = seal_from(f->key, f->spub, &a, buf + 2);
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	assert_int_equal(send(c, buf, (size_t)n + 2, 0), n + 2);
	show_readable(f);
	assert_true(rdv_show_read(&f->r, now));
	assert_true(rdv_tcp_presence(&f->r, &ep));
	assert_int_equal(ep.port, 51900);
	/* UDP's observed endpoint is untouched by it. */
	assert_int_equal(f->r.observed.port, 40001);
	/* A keepalive later: shown again. */
	rdv_tcp_show(&f->r, (const uint8_t(*)[32])wants, 2, now + 15000);
	n = (int)recv_frame(c, buf, sizeof(buf));
	assert_int_equal(coord_unseal(f->key, buf + 2, (size_t)n - 2, &m), 0);
	assert_true(m.u.reg.tcp_show);
	/* Nothing wanted any more: closed, nothing shown. */
	rdv_tcp_show(&f->r, NULL, 0, now + 15001);
	assert_int_equal(f->r.show.fd, -1);
	assert_false(rdv_tcp_presence(&f->r, NULL));
	assert_int_equal(recv(c, buf, sizeof(buf), 0) <= 0, 1);
	close(c);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_and_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_unanswered_tcp_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_fallback_and_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_show, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
