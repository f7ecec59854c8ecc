#include "rdv.h"

#include <natcheck/error.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TCP_IN_CAP (2 + 65535)

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rdv_init(struct rdv *r, const struct nc_addr *server, const uint8_t server_pub[VPN_KEY_LEN],
	     const uint8_t priv[VPN_KEY_LEN], const uint8_t pub[VPN_KEY_LEN])
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->tcp_fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	if (!server || !nc_addr_is_set(server))
		return 0;
	if ((rc = coord_shared_key(r->key, priv, server_pub)) != 0)
		return rc;
	r->tcp_in = malloc(TCP_IN_CAP);
	r->tcp_out = malloc(RDV_TCP_OUT_MAX);
	if (!r->tcp_in || !r->tcp_out) {
		rdv_free(r);
		return -NC_E_NOMEM;
	}
	r->server = *server;
	memcpy(r->pub, pub, VPN_KEY_LEN);
	r->keepalive_s = COORD_KEEPALIVE_S;
	r->mode = RDV_UDP;
	r->force = true;
	return 0;
}

static void tcp_close(struct rdv *r)
{
	if (r->tcp_fd >= 0)
		close(r->tcp_fd);
	r->tcp_fd = -1;
	r->tcp_up = false;
	r->tcp_in_len = r->tcp_out_len = 0;
}

void rdv_free(struct rdv *r)
{
	tcp_close(r);
	sodium_memzero(r->key, sizeof(r->key));
	free(r->tcp_in);
	free(r->tcp_out);
	r->tcp_in = r->tcp_out = NULL;
	r->mode = RDV_OFF;
	pthread_mutex_destroy(&r->lock);
}

/* Lock held. A non-blocking connect to the server's UDP port number over TCP. */
static void tcp_start(struct rdv *r, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(&r->server, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	tcp_close(r);
	r->mode = RDV_TCP;
	r->tcp_start_ms = now;
	r->n_tcp_fallbacks++;
	r->tcp_err = 0;
	if (fd < 0) {
		r->tcp_err = errno;
		return;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		r->tcp_err = errno;
		close(fd);
		return;
	}
	r->tcp_fd = fd;
}

/* Lock held: 1 connected, 0 still connecting, -1 failed. */
static int tcp_check(struct rdv *r)
{
	struct pollfd pfd = {.fd = r->tcp_fd, .events = POLLOUT};
	int err = 0;
	socklen_t el = sizeof(err);

	if (r->tcp_fd < 0)
		return -1;
	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	if (getsockopt(r->tcp_fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
		r->tcp_err = err ? err : errno;
		return -1;
	}
	return 1;
}

static void to_udp(struct rdv *r)
{
	tcp_close(r);
	r->mode = RDV_UDP;
	r->registered = false;
	r->unanswered = 0;
	r->force = true;
}

bool rdv_due(struct rdv *r, struct udp *u, uint64_t now)
{
	bool due;

	(void)u;
	pthread_mutex_lock(&r->lock);
	if (r->mode == RDV_OFF) {
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	if (r->mode == RDV_TCP && !r->tcp_up) {
		int c = tcp_check(r);

		due = false;
		if (c > 0) {
			r->tcp_up = true;
			r->unanswered = 0;
			due = true;
		} else if (c < 0 || now - r->tcp_start_ms > RDV_CONNECT_MS) {
			if (!r->n_acks)
				r->unreachable = true;
			to_udp(r);
			due = true;
			r->force = false;
		}
		pthread_mutex_unlock(&r->lock);
		return due;
	}
	if (r->force)
		due = true;
	else if (r->registered && r->unanswered == 0)
		due = now - r->last_round_ms >= r->keepalive_s * 1000ull;
	else /* before the first answer ever, retry fast: a UDP-blocked network reaches TCP
	      * within half a second, so the first packet through the relay is not late */
		due = now - r->last_round_ms >= (r->n_acks ? RDV_RETRY_MS : RDV_START_RETRY_MS);
	r->force = false;
	if (due && r->unanswered >= RDV_UDP_TRIES) {
		/* The server is unreachable over this transport: UDP tries TCP on the same port
		 * (a network that blocks UDP), TCP goes back to UDP (the server restarted, or
		 * the network changed). */
		r->registered = false;
		if (r->mode == RDV_UDP) {
			tcp_start(r, now);
			due = false;
		} else {
			to_udp(r);
			r->force = false;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return due;
}

void rdv_force(struct rdv *r)
{
	pthread_mutex_lock(&r->lock);
	r->force = r->mode != RDV_OFF;
	pthread_mutex_unlock(&r->lock);
}

void rdv_net_change(struct rdv *r)
{
	pthread_mutex_lock(&r->lock);
	if (r->mode == RDV_TCP)
		to_udp(r);
	r->force = r->mode != RDV_OFF;
	r->unanswered = 0;
	pthread_mutex_unlock(&r->lock);
}

bool rdv_unreachable(struct rdv *r, char *why, size_t len)
{
	char a[NC_ADDR_STRLEN];
	bool u;

	pthread_mutex_lock(&r->lock);
	u = r->unreachable;
	if (u)
		snprintf(why, len,
			 "punchvpnd at %s is unreachable: no answer to %d registrations over UDP, "
			 "and TCP: %s (check Server, ServerPublicKey and the server)",
			 nc_addr_str(&r->server, a), RDV_UDP_TRIES,
			 r->tcp_err ? strerror(r->tcp_err) : "no connection within 3 s");
	pthread_mutex_unlock(&r->lock);
	return u;
}

enum rdv_mode rdv_mode(struct rdv *r)
{
	enum rdv_mode m;

	pthread_mutex_lock(&r->lock);
	m = r->mode == RDV_TCP && !r->tcp_up ? RDV_UDP : r->mode;
	pthread_mutex_unlock(&r->lock);
	return m;
}

/* Lock held: queue a frame and write what the socket takes (a frame is never cut short: the
 * rest waits for the next write). */
static int tcp_write(struct rdv *r, const uint8_t *buf, size_t len)
{
	ssize_t n;

	if (len > 65535)
		return -NC_E_RANGE;
	if (r->tcp_out_len + 2 + len > RDV_TCP_OUT_MAX)
		return -ENOBUFS; /* a full pipe drops, as a full UDP buffer would */
	r->tcp_out[r->tcp_out_len] = (uint8_t)(len >> 8);
	r->tcp_out[r->tcp_out_len + 1] = (uint8_t)len;
	memcpy(r->tcp_out + r->tcp_out_len + 2, buf, len);
	r->tcp_out_len += 2 + len;
	n = send(r->tcp_fd, r->tcp_out, r->tcp_out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	memmove(r->tcp_out, r->tcp_out + n, r->tcp_out_len - (size_t)n);
	r->tcp_out_len -= (size_t)n;
	return 0;
}

int rdv_send(struct rdv *r, struct udp *u, const uint8_t *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int rc;

	pthread_mutex_lock(&r->lock);
	if (r->mode == RDV_OFF) {
		pthread_mutex_unlock(&r->lock);
		return -NC_E_INVALID;
	}
	if (r->mode == RDV_TCP && r->tcp_up) {
		rc = tcp_write(r, buf, len);
		pthread_mutex_unlock(&r->lock);
		return rc;
	}
	pthread_mutex_unlock(&r->lock);
	sl = udp_sockaddr(u, &r->server, &ss);
	if (!sl)
		return -EAFNOSUPPORT;
	return udp_send_batch(u, &ss, sl, buf, len, len);
}

int rdv_register(struct rdv *r, struct udp *u, const struct coord_profile *prof,
		 const struct nc_addr *local, size_t n_local, const uint8_t (*wants)[VPN_KEY_LEN],
		 size_t n_wants, uint64_t now)
{
	struct coord_msg m;
	uint8_t out[COORD_MAX_DATAGRAM];
	size_t off = 0;
	int rc = 0;

	if (rdv_mode(r) == RDV_OFF)
		return 0;
	memset(&m, 0, sizeof(m));
	m.kind = COORD_REGISTER;
	m.u.reg.prof = *prof;
	m.u.reg.n_local = n_local < COORD_MAX_LOCAL ? n_local : COORD_MAX_LOCAL;
	if (m.u.reg.n_local)
		memcpy(m.u.reg.local, local, m.u.reg.n_local * sizeof(local[0]));
	pthread_mutex_lock(&r->lock);
	r->last_round_ms = now;
	r->unanswered++;
	r->round_ts = 0;
	pthread_mutex_unlock(&r->lock);
	/* One REGISTER per COORD_MAX_WANTS peers (at least one: it keeps the mapping alive). */
	do {
		size_t k = n_wants - off < COORD_MAX_WANTS ? n_wants - off : COORD_MAX_WANTS;
		uint64_t ts = unix_ms();
		int n;

		pthread_mutex_lock(&r->lock);
		/* The server refuses a timestamp that does not grow (replay protection). */
		if (ts <= r->last_ts)
			ts = r->last_ts + 1;
		r->last_ts = ts;
		if (!r->round_ts)
			r->round_ts = ts;
		pthread_mutex_unlock(&r->lock);
		m.ts_ms = ts;
		m.u.reg.n_wants = k;
		if (k)
			memcpy(m.u.reg.wants, wants[off], k * VPN_KEY_LEN);
		n = coord_seal(r->key, r->pub, &m, out, sizeof(out));
		if (n < 0)
			return n;
		rc = rdv_send(r, u, out, (size_t)n);
		off += k;
	} while (off < n_wants);
	return rc;
}

int rdv_input(struct rdv *r, const uint8_t *buf, size_t len, uint64_t now, struct coord_msg *m)
{
	int rc;

	if (rdv_mode(r) == RDV_OFF)
		return -NC_E_INVALID;
	if ((rc = coord_unseal(r->key, buf, len, m)) != 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	switch (m->kind) {
	case COORD_REGISTERED:
		/* Only an answer to the latest round counts (a late one says nothing now). */
		if (!r->round_ts || m->ts_ms < r->round_ts || m->ts_ms > r->last_ts) {
			rc = -NC_E_PROTOCOL;
			break;
		}
		if (!r->registered)
			r->registered_at_ms = now;
		r->registered = true;
		r->observed = m->u.ack.observed;
		r->relay_id = m->u.ack.relay_id;
		r->keepalive_s = m->u.ack.keepalive_s ? m->u.ack.keepalive_s : COORD_KEEPALIVE_S;
		r->last_ack_ms = now;
		r->unanswered = 0;
		r->n_acks++;
		rc = 1;
		break;
	case COORD_INTRO:
		r->n_intros++;
		rc = 0;
		break;
	default:
		rc = -NC_E_PROTOCOL;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int rdv_tcp_fd(struct rdv *r)
{
	int fd;

	pthread_mutex_lock(&r->lock);
	fd = r->tcp_up ? r->tcp_fd : -1;
	pthread_mutex_unlock(&r->lock);
	return fd;
}

bool rdv_tcp_read(struct rdv *r, void (*fn)(void *ctx, const uint8_t *dgram, size_t len),
		  void *ctx)
{
	bool open = true;
	size_t off = 0;
	ssize_t n;

	/* Only the main thread reads: tcp_in is its own; the lock covers the descriptor. */
	pthread_mutex_lock(&r->lock);
	if (!r->tcp_up) {
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	/* Flush what waits to go out while we are here. */
	if (r->tcp_out_len) {
		n = send(r->tcp_fd, r->tcp_out, r->tcp_out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			memmove(r->tcp_out, r->tcp_out + n, r->tcp_out_len - (size_t)n);
			r->tcp_out_len -= (size_t)n;
		}
	}
	n = recv(r->tcp_fd, r->tcp_in + r->tcp_in_len, TCP_IN_CAP - r->tcp_in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		to_udp(r);
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	if (n > 0)
		r->tcp_in_len += (size_t)n;
	pthread_mutex_unlock(&r->lock);
	for (;;) {
		size_t flen;

		if (r->tcp_in_len - off < 2)
			break;
		flen = (size_t)r->tcp_in[off] << 8 | r->tcp_in[off + 1];
		if (flen == 0) { /* no datagram is empty: the stream is not ours */
			open = false;
			break;
		}
		if (r->tcp_in_len - off - 2 < flen)
			break;
		fn(ctx, r->tcp_in + off + 2, flen);
		off += 2 + flen;
	}
	memmove(r->tcp_in, r->tcp_in + off, r->tcp_in_len - off);
	r->tcp_in_len -= off;
	if (!open) {
		pthread_mutex_lock(&r->lock);
		to_udp(r);
		pthread_mutex_unlock(&r->lock);
	}
	return open;
}
