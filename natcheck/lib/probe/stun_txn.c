#include "stun_txn.h"

#include <natcheck/cancel.h>
#include <natcheck/error.h>

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define RTO_INITIAL_US 100000u
#define RTO_MIN_US 15000u
#define RTO_MAX_US 1000000u

void stun_rtt_sample(struct stun_rtt *e, uint64_t rtt_us)
{
	if (e->srtt_us == 0) {
		e->srtt_us = rtt_us ? rtt_us : 1;
		e->rttvar_us = rtt_us / 2;
	} else {
		uint64_t diff = rtt_us > e->srtt_us ? rtt_us - e->srtt_us : e->srtt_us - rtt_us;
		e->rttvar_us = (3 * e->rttvar_us + diff) / 4;
		e->srtt_us = (7 * e->srtt_us + rtt_us) / 8;
	}
	e->samples++;
}

uint64_t stun_rtt_rto(const struct stun_rtt *e)
{
	uint64_t lo = e->min_us ? e->min_us : RTO_MIN_US, hi = e->max_us ? e->max_us : RTO_MAX_US;
	uint64_t rto;

	if (e->srtt_us == 0)
		return e->initial_us ? e->initial_us : RTO_INITIAL_US;
	rto = 2 * e->srtt_us + 4 * e->rttvar_us;
	return rto < lo ? lo : rto > hi ? hi : rto;
}

int stun_txn_init(struct stun_txn *t, const struct nc_addr *dest, uint32_t change,
		  uint16_t response_port, unsigned max_attempts)
{
	int n;

	memset(t, 0, sizeof(*t));
	if (!nc_addr_is_set(dest) || max_attempts == 0)
		return -NC_E_INVALID;
	if (sodium_init() < 0)
		return -NC_E_NOMEM;
	randombytes_buf(t->tid, sizeof(t->tid)); /* unguessable: off-path spoofing is moot */
	n = stun_binding_request(t->pkt, sizeof(t->pkt), t->tid, change, response_port);
	if (n < 0)
		return n;
	t->len = (size_t)n;
	t->dest = *dest;
	t->expect = *dest;
	t->max_attempts = max_attempts;
	t->state = STUN_TXN_PENDING;
	return 0;
}

/* The wait after the attempts-th transmission. It doubles per attempt (RFC 8489 §6.2.1), up
 * to STUN_TXN_BACKOFF_MAX times the RTO. Before the run has an RTT sample the doubling starts
 * at once: without it seven tries 100 ms apart gave up on a server more than ~0.8 s away (a
 * bufferbloated mobile or satellite link); with it (seven tries: 0.1, 0.2, then 0.4 s apart, and
 * two intervals after the last) the answer to the first request is awaited for 2.7 s. Once the
 * run has a sample the RTO fits the path and the first STUN_TXN_FIXED_ROUNDS waits are one RTO
 * each (a lost packet is the likelier reason for silence, and is recovered at once); then it
 * doubles too, so that a stall of the path or of either host (a loaded machine, a radio waking
 * up) does not read as "no answer": with the 15 ms floor seven tries span 240 ms and the answer
 * is awaited for 360 ms, where a fixed RTO gave up after 120 ms. A blocked path costs that much
 * more before "no answer" is said. */
static uint64_t interval(const struct stun_txn *t, const struct stun_rtt *rtt)
{
	uint64_t base = stun_rtt_rto(rtt), rto = base;
	unsigned fixed = rtt->srtt_us ? STUN_TXN_FIXED_ROUNDS : 1;
	unsigned shift = t->rounds > fixed ? t->rounds - fixed : 0; /* copies (resend) do not count */

	for (unsigned i = 0; i < shift && rto < STUN_TXN_BACKOFF_MAX * base; i++)
		rto *= 2;
	return rto;
}

static uint64_t linger(const struct stun_txn *t, const struct stun_rtt *rtt)
{
	return t->linger_us ? t->linger_us : 2 * interval(t, rtt);
}

uint64_t stun_txn_next(const struct stun_txn *t, const struct stun_rtt *rtt)
{
	uint64_t rto = interval(t, rtt), next;

	if (t->state != STUN_TXN_PENDING)
		return 0;
	if (t->attempts == 0)
		return t->next_us ? t->next_us : 1; /* due at once */
	if (t->attempts >= t->max_attempts)
		return t->last_us + linger(t, rtt);
	next = t->next_us;
	if (next > t->last_us + rto) /* an RTT measured since the last send shortens the wait */
		next = t->last_us + rto;
	return next;
}

/* One transmission now; the schedule is the caller's business. */
static int transmit(struct stun_txn *t, int fd, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(&t->dest, &ss);

	if (t->attempts == 0)
		t->first_us = now;
	if (t->attempts < 255)
		t->attempts++;
	t->last_us = now;
	if (sendto(fd, t->pkt, t->len, 0, (struct sockaddr *)&ss, sl) < 0 && errno != EAGAIN &&
	    errno != EINTR && errno != ENOBUFS) {
		t->send_err = -errno;
		t->state = STUN_TXN_SEND_FAILED;
		return t->send_err;
	}
	return 1;
}

int stun_txn_tick(struct stun_txn *t, int fd, const struct stun_rtt *rtt, uint64_t now)
{
	uint64_t due = stun_txn_next(t, rtt);
	int rc;

	if (due == 0 || now < due)
		return 0;
	if (t->attempts >= t->max_attempts) {
		t->state = STUN_TXN_EXPIRED;
		return 0;
	}
	if ((rc = transmit(t, fd, now)) > 0) {
		t->rounds++;
		t->next_us = now + interval(t, rtt);
	}
	return rc;
}

int stun_txn_resend(struct stun_txn *t, int fd, uint64_t now)
{
	if (t->state != STUN_TXN_PENDING)
		return -NC_E_INVALID;
	if (t->attempts == 0)
		t->next_us = UINT64_MAX; /* the retransmission is due an RTO after it */
	return transmit(t, fd, now);
}

void stun_txn_expire(struct stun_txn *t)
{
	if (t->state == STUN_TXN_PENDING)
		t->state = STUN_TXN_EXPIRED;
}

bool stun_txn_owns(const struct stun_txn *t, const struct stun_msg *m)
{
	return sodium_memcmp(t->tid, m->tid, STUN_TID_LEN) == 0;
}

enum stun_txn_verdict stun_txn_accept(struct stun_txn *t, struct stun_rtt *rtt,
				      const struct stun_msg *m, const struct nc_addr *from,
				      uint64_t now)
{
	if ((m->cls != STUN_CLASS_SUCCESS && m->cls != STUN_CLASS_ERROR) || t->attempts == 0 ||
	    !stun_txn_owns(t, m))
		return STUN_TXN_NOT_OURS;
	if (t->state == STUN_TXN_ANSWERED)
		return STUN_TXN_DUPLICATE;
	if (nc_addr_is_set(&t->expect) && !nc_addr_eq(from, &t->expect)) {
		if (t->wrong_source++ == 0)
			t->wrong_from = *from;
		return STUN_TXN_WRONG_SOURCE;
	}
	/* An answer after expiry still counts: it proves the path, and the caller decides
	 * whether it came in time for its verdict. */
	t->state = STUN_TXN_ANSWERED;
	t->answered_us = now;
	t->rtt_us = (uint32_t)(now - t->last_us);
	if (rtt && t->attempts == 1)
		stun_rtt_sample(rtt, now - t->first_us); /* Karn: no samples from retransmissions */
	return STUN_TXN_MATCHED;
}

int stun_txn_recv(int fd, uint8_t *buf, size_t cap, struct stun_msg *m, struct nc_addr *from)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n = recvfrom(fd, buf, cap, MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);

	memset(from, 0, sizeof(*from));
	if (n < 0)
		return -errno;
	if (nc_addr_from_sockaddr(from, (struct sockaddr *)&ss, sl) < 0)
		return -NC_E_FAMILY;
	if ((size_t)n > cap)
		return -NC_E_TRUNCATED; /* MSG_TRUNC: the datagram was larger than the buffer */
	return stun_decode(buf, (size_t)n, m);
}

int stun_txn_run(struct stun_txn *t, int fd, struct stun_rtt *rtt, const struct nc_limits *lim,
		 struct stun_msg *m, struct nc_addr *from)
{
	struct stun_msg scratch;
	struct nc_addr src;
	uint8_t buf[2048];
	unsigned skipped = 0;
	int err;

	if (!m)
		m = &scratch;
	if (!from)
		from = &src;
	for (;;) {
		uint64_t now = nc_now_us(), next;
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = nc_cancel_fd(lim ? lim->cancel : NULL), .events = POLLIN}};
		int timeout;

		if ((err = nc_limits_check(lim, now)) < 0)
			return err;
		if ((err = stun_txn_tick(t, fd, rtt, now)) < 0)
			return err;
		next = stun_txn_next(t, rtt);
		if (next == 0)
			return t->wrong_source ? -NC_E_WRONG_SOURCE : -NC_E_TIMEOUT;
		timeout = nc_limits_timeout_ms(lim, next, now);
		if (poll(p, p[1].fd >= 0 ? 2 : 1, timeout) < 0 && errno != EINTR)
			return -errno;
		if (!(p[0].revents & (POLLIN | POLLERR)))
			continue;
		/* Drain what waits; each turn of the outer loop re-checks the limits. */
		for (unsigned burst = 0; burst < 64; burst++) {
			int rc = stun_txn_recv(fd, buf, sizeof(buf), m, from);
			if (rc == -EAGAIN || rc == -EWOULDBLOCK)
				break;
			if (rc == 0 && stun_txn_accept(t, rtt, m, from, nc_now_us()) == STUN_TXN_MATCHED)
				return 0;
			if (++skipped > STUN_TXN_MAX_SKIP)
				return -NC_E_PROTOCOL;
		}
	}
}
