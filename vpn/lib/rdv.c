#include "rdv.h"

#include "since.h"

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
	r->tcp.fd = r->show.fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	if (!server || !nc_addr_is_set(server))
		return 0;
	if ((rc = coord_shared_key(r->key, priv, server_pub)) != 0)
		return rc;
	if ((rc = tcpf_init(&r->tcp)) != 0 || (rc = tcpf_init(&r->show)) != 0) {
		rdv_free(r);
		return rc;
	}
	r->server = *server;
	memcpy(r->pub, pub, VPN_KEY_LEN);
	r->keepalive_s = COORD_KEEPALIVE_S;
	r->mode = RDV_UDP;
	r->force = true;
	return 0;
}

/* Lock held. Abortive: the next connection from the same port to the server can reuse the
 * 4-tuple at once (no TIME_WAIT). */
static void tcp_close(struct rdv *r)
{
	tcpf_close(&r->tcp, true);
	r->tcp_up = false;
}

/* Lock held. */
static void show_close(struct rdv *r)
{
	tcpf_close(&r->show, true);
	r->show_up = r->show_acked = false;
	r->show_sent_ms = r->show_ts = 0;
}

void rdv_free(struct rdv *r)
{
	tcp_close(r);
	show_close(r);
	sodium_memzero(r->key, sizeof(r->key));
	tcpf_free(&r->tcp);
	tcpf_free(&r->show);
	r->mode = RDV_OFF;
	pthread_mutex_destroy(&r->lock);
}

/* Lock held. A non-blocking connect to the server's UDP port number over TCP. */
static void tcp_start(struct rdv *r, uint64_t now)
{
	int fd;

	tcp_close(r);
	show_close(r); /* the relay's connection shows the mapping now (and takes the 4-tuple) */
	r->mode = RDV_TCP;
	r->tcp_start_ms = now;
	r->n_tcp_fallbacks++;
	r->tcp_err = 0;
	fd = tcpf_connect(&r->server, r->tcp_port);
	if (fd < 0) {
		r->tcp_err = -fd;
		return;
	}
	tcpf_attach(&r->tcp, fd);
}

/* Lock held: 1 connected, 0 still connecting, -1 failed. */
static int tcp_check(struct rdv *r)
{
	int c;

	if (r->tcp.fd < 0)
		return -1;
	c = tcpf_connected(r->tcp.fd);
	if (c < 0)
		r->tcp_err = -c;
	return c < 0 ? -1 : c;
}

static void to_udp(struct rdv *r)
{
	tcp_close(r);
	r->mode = RDV_UDP;
	r->registered = false;
	r->unanswered = 0;
	r->force = true;
}

/* Under the lock. */
static unsigned interval_ms(const struct rdv *r)
{
	unsigned ms = r->keepalive_s * 1000u;

	return r->binding_ms && r->binding_ms < ms ? r->binding_ms : ms;
}

void rdv_set_binding_ms(struct rdv *r, unsigned ms)
{
	pthread_mutex_lock(&r->lock);
	r->binding_ms = ms;
	pthread_mutex_unlock(&r->lock);
}

unsigned rdv_interval_ms(struct rdv *r)
{
	unsigned ms;

	pthread_mutex_lock(&r->lock);
	ms = interval_ms(r);
	pthread_mutex_unlock(&r->lock);
	return ms;
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
		due = now - r->last_round_ms >= interval_ms(r);
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
	show_close(r); /* from the old address: dead */
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
		rc = tcpf_write(&r->tcp, buf, len);
		pthread_mutex_unlock(&r->lock);
		return rc;
	}
	pthread_mutex_unlock(&r->lock);
	sl = udp_sockaddr(u, &r->server, &ss);
	if (!sl)
		return -EAFNOSUPPORT;
	return udp_send_batch(u, &ss, sl, buf, len, len);
}

/* Lock held: the next REGISTER timestamp (the server refuses one that does not grow). */
static uint64_t next_ts(struct rdv *r)
{
	uint64_t ts = unix_ms();

	if (ts <= r->last_ts)
		ts = r->last_ts + 1;
	r->last_ts = ts;
	return ts;
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
	r->reg_prof = *prof;
	r->reg_n_local = m.u.reg.n_local;
	memcpy(r->reg_local, m.u.reg.local, sizeof(r->reg_local));
	pthread_mutex_unlock(&r->lock);
	/* One REGISTER per COORD_MAX_WANTS peers (at least one: it keeps the mapping alive). */
	do {
		size_t k = n_wants - off < COORD_MAX_WANTS ? n_wants - off : COORD_MAX_WANTS;
		uint64_t ts;
		int n;

		pthread_mutex_lock(&r->lock);
		ts = next_ts(r);
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
		if (r->mode == RDV_TCP) /* the relay's connection shows our TCP mapping */
			r->tcp_observed = m->u.ack.observed;
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
	fd = r->tcp_up ? r->tcp.fd : -1;
	pthread_mutex_unlock(&r->lock);
	return fd;
}

bool rdv_tcp_read(struct rdv *r, void (*fn)(void *ctx, const uint8_t *dgram, size_t len),
		  void *ctx)
{
	bool open;

	/* Only the main thread reads: the in buffer is its own; the lock covers the descriptor
	 * and the out buffer. */
	pthread_mutex_lock(&r->lock);
	if (!r->tcp_up) {
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	/* Flush what waits to go out while we are here. */
	if (!tcpf_recv(&r->tcp) || tcpf_flush(&r->tcp) < 0) {
		to_udp(r);
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	pthread_mutex_unlock(&r->lock);
	open = tcpf_frames(&r->tcp, fn, ctx);
	if (!open) {
		pthread_mutex_lock(&r->lock);
		to_udp(r);
		pthread_mutex_unlock(&r->lock);
	}
	return open;
}

/* ---- showing our TCP mapping ---------------------------------------------------------- */

/* Lock held: one REGISTER with COORD_REG_TCP_SHOW over the showing connection. */
static void show_register(struct rdv *r, uint64_t now)
{
	struct coord_msg m;
	uint8_t out[COORD_MAX_DATAGRAM];
	int n;

	memset(&m, 0, sizeof(m));
	m.kind = COORD_REGISTER;
	m.u.reg.tcp_show = true;
	m.u.reg.prof = r->reg_prof;
	m.u.reg.n_local = r->reg_n_local;
	memcpy(m.u.reg.local, r->reg_local, sizeof(m.u.reg.local));
	m.u.reg.n_wants = r->n_show_wants;
	memcpy(m.u.reg.wants, r->show_wants, r->n_show_wants * VPN_KEY_LEN);
	m.ts_ms = r->show_ts = next_ts(r);
	n = coord_seal(r->key, r->pub, &m, out, sizeof(out));
	r->show_sent_ms = now;
	if (n < 0 || tcpf_write(&r->show, out, (size_t)n) < 0)
		show_close(r);
}

void rdv_tcp_show(struct rdv *r, const uint8_t (*wants)[VPN_KEY_LEN], size_t n_wants,
		  uint64_t now)
{
	pthread_mutex_lock(&r->lock);
	if (r->mode == RDV_OFF) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	/* Over TCP the relay's connection shows the mapping; nothing wanted, nothing shown. */
	if (!n_wants || r->mode == RDV_TCP) {
		if (r->show.fd >= 0)
			show_close(r);
		r->n_show_wants = 0;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	n_wants = n_wants < COORD_MAX_WANTS ? n_wants : COORD_MAX_WANTS;
	r->n_show_wants = n_wants;
	memcpy(r->show_wants, wants, n_wants * VPN_KEY_LEN);
	if (r->show.fd < 0) {
		int fd;

		/* Only once UDP registration works (it carries the profile and locals we
		 * repeat), and at most one attempt per RDV_RETRY_MS. */
		if (!r->registered || now < r->show_next_ms) {
			pthread_mutex_unlock(&r->lock);
			return;
		}
		r->show_next_ms = now + RDV_RETRY_MS;
		r->show_start_ms = now;
		fd = tcpf_connect(&r->server, r->tcp_port);
		if (fd >= 0)
			tcpf_attach(&r->show, fd);
		pthread_mutex_unlock(&r->lock);
		return;
	}
	if (!r->show_up) {
		int c = tcpf_connected(r->show.fd);

		if (c < 0 || (c == 0 && vpn_since(now, r->show_start_ms) > RDV_CONNECT_MS))
			show_close(r);
		else if (c > 0)
			r->show_up = true;
	}
	/* Due: never sent, or a keepalive ago (the server closes a silent connection); and no
	 * UDP round in flight, whose older timestamp the server would then refuse. */
	if (r->show_up && r->registered && r->unanswered == 0 &&
	    (!r->show_sent_ms || vpn_since(now, r->show_sent_ms) >= r->keepalive_s * 1000ull))
		show_register(r, now);
	pthread_mutex_unlock(&r->lock);
}

bool rdv_tcp_presence(struct rdv *r, struct nc_addr *ep)
{
	bool ok;

	pthread_mutex_lock(&r->lock);
	ok = (r->mode == RDV_TCP && r->tcp_up && r->registered) || r->show_acked;
	if (ep)
		*ep = r->tcp_observed;
	pthread_mutex_unlock(&r->lock);
	return ok;
}

int rdv_show_fd(struct rdv *r)
{
	int fd;

	pthread_mutex_lock(&r->lock);
	fd = r->show_up ? r->show.fd : -1;
	pthread_mutex_unlock(&r->lock);
	return fd;
}

struct show_ctx {
	struct rdv *r;
	uint64_t now;
};

/* Lock held: a frame from the showing connection; only the REGISTERED to our latest showing
 * REGISTER counts (the server sends nothing else there). */
static void show_frame(void *ctx, const uint8_t *dgram, size_t len)
{
	struct show_ctx *c = ctx;
	struct coord_msg m;

	if (coord_unseal(c->r->key, dgram, len, &m) != 0 || m.kind != COORD_REGISTERED ||
	    m.ts_ms != c->r->show_ts)
		return;
	c->r->show_acked = true;
	c->r->tcp_observed = m.u.ack.observed;
}

bool rdv_show_read(struct rdv *r, uint64_t now)
{
	struct show_ctx c = {.r = r, .now = now};
	bool open;

	pthread_mutex_lock(&r->lock);
	open = r->show_up && tcpf_recv(&r->show) && tcpf_flush(&r->show) >= 0 &&
	       tcpf_frames(&r->show, show_frame, &c);
	if (!open && r->show.fd >= 0)
		show_close(r);
	pthread_mutex_unlock(&r->lock);
	return open;
}
