#include "tcppunch.h"

#include <natcheck/error.h>

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "since.h"

static const char *const state_names[] = {"idle", "waiting", "connecting", "up", "failed"};

const char *tcpp_state_name(enum tcpp_state s)
{
	return (size_t)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

void tcpp_init(struct tcpp *t, uint16_t lport)
{
	memset(t, 0, sizeof(*t));
	t->f.fd = -1;
	t->lport = lport;
	pthread_mutex_init(&t->lock, NULL);
}

void tcpp_free(struct tcpp *t)
{
	tcpf_free(&t->f);
	pthread_mutex_destroy(&t->lock);
}

/* Lock held. Abortive: an established connection leaves no TIME_WAIT behind, so the next
 * attempt can use the same 4-tuple at once. */
static void end(struct tcpp *t, int err)
{
	tcpf_close(&t->f, true);
	t->state = TCPP_FAILED;
	t->proven = false;
	t->err = err;
}

void tcpp_close(struct tcpp *t, int err)
{
	pthread_mutex_lock(&t->lock);
	if (t->state == TCPP_CONNECTING || t->state == TCPP_UP)
		end(t, err);
	else if (t->state == TCPP_WAIT)
		t->state = TCPP_IDLE;
	pthread_mutex_unlock(&t->lock);
}

void tcpp_intro(struct tcpp *t, const struct nc_addr *peer, bool wanted)
{
	pthread_mutex_lock(&t->lock);
	t->wanted = wanted;
	if (t->state == TCPP_CONNECTING || t->state == TCPP_UP) {
		/* A running attempt goes on; a connection stays while it carries the path (the
		 * device ends it when the path leaves TCP). */
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (!wanted || !nc_addr_is_set(peer)) {
		t->state = TCPP_IDLE;
	} else {
		t->peer = *peer;
		t->state = TCPP_WAIT;
	}
	pthread_mutex_unlock(&t->lock);
}

/* Lock held: one connect() toward the peer. */
static void connect_once(struct tcpp *t, uint64_t now)
{
	int fd;

	t->next_ms = now + TCPP_RETRY_MS;
	if (!t->f.in && tcpf_init(&t->f) != 0) {
		t->err = ENOMEM;
		return;
	}
	fd = tcpf_connect(&t->peer, t->lport);
	t->syns++;
	if (fd < 0) {
		t->err = -fd;
		return;
	}
	tcpf_attach(&t->f, fd);
}

enum tcpp_ev tcpp_tick(struct tcpp *t, bool ready, uint64_t now)
{
	enum tcpp_ev ev = TCPP_EV_NONE;

	pthread_mutex_lock(&t->lock);
	switch (t->state) {
	case TCPP_WAIT:
		if (!ready)
			break;
		t->state = TCPP_CONNECTING;
		t->start_ms = now;
		t->syns = 0;
		t->err = 0;
		t->attempts++;
		connect_once(t, now);
		break;
	case TCPP_CONNECTING:
		if (vpn_since(now, t->start_ms) >= TCPP_TRY_MS) {
			end(t, t->err ? t->err : ETIMEDOUT);
			ev = TCPP_EV_DOWN;
		} else if (t->f.fd < 0 && now >= t->next_ms) {
			connect_once(t, now);
		}
		break;
	case TCPP_UP:
		if (!t->proven && vpn_since(now, t->up_ms) >= TCPP_PROVE_MS) {
			end(t, EPROTO); /* connected to something that never spoke the tunnel */
			ev = TCPP_EV_DOWN;
		}
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return ev;
}

int tcpp_poll(struct tcpp *t, uint32_t *events)
{
	int fd = -1;

	pthread_mutex_lock(&t->lock);
	if (t->f.fd >= 0 && t->state == TCPP_CONNECTING) {
		fd = t->f.fd;
		*events = EPOLLOUT;
	} else if (t->f.fd >= 0 && t->state == TCPP_UP) {
		fd = t->f.fd;
		*events = EPOLLIN | (tcpf_pending(&t->f) ? EPOLLOUT : 0u);
	}
	pthread_mutex_unlock(&t->lock);
	return fd;
}

enum tcpp_ev tcpp_event(struct tcpp *t, uint32_t events,
			void (*fn)(void *ctx, const uint8_t *dgram, size_t len), void *ctx,
			uint64_t now)
{
	bool open;

	pthread_mutex_lock(&t->lock);
	if (t->f.fd < 0) {
		pthread_mutex_unlock(&t->lock);
		return TCPP_EV_NONE;
	}
	if (t->state == TCPP_CONNECTING) {
		int c = tcpf_connected(t->f.fd);

		if (c > 0) {
			t->state = TCPP_UP;
			t->up_ms = t->probe_ms = now;
			t->proven = false;
			t->ups++;
			pthread_mutex_unlock(&t->lock);
			return TCPP_EV_UP;
		}
		if (c < 0) { /* refused (the peer's host answered with RST) or unreachable */
			t->err = -c;
			tcpf_close(&t->f, false);
		}
		pthread_mutex_unlock(&t->lock);
		return TCPP_EV_NONE;
	}
	if (t->state != TCPP_UP) {
		pthread_mutex_unlock(&t->lock);
		return TCPP_EV_NONE;
	}
	open = tcpf_flush(&t->f) >= 0 && (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
					  tcpf_recv(&t->f));
	pthread_mutex_unlock(&t->lock);
	/* Frames without the lock: fn authenticates and may answer over this connection. Only
	 * this thread reads or closes, so the in buffer and the descriptor stay. */
	if (open)
		open = tcpf_frames(&t->f, fn, ctx);
	if (open)
		return TCPP_EV_NONE;
	pthread_mutex_lock(&t->lock);
	end(t, ECONNRESET);
	pthread_mutex_unlock(&t->lock);
	return TCPP_EV_DOWN;
}

int tcpp_send(struct tcpp *t, const uint8_t *buf, size_t len)
{
	bool was;
	int rc;

	pthread_mutex_lock(&t->lock);
	if (t->state != TCPP_UP) {
		pthread_mutex_unlock(&t->lock);
		return -ENOTCONN;
	}
	was = tcpf_pending(&t->f);
	rc = tcpf_write(&t->f, buf, len);
	if (rc == 0 && !was && tcpf_pending(&t->f))
		rc = 1;
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void tcpp_proven(struct tcpp *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->state == TCPP_UP)
		t->proven = true;
	pthread_mutex_unlock(&t->lock);
}

enum tcpp_state tcpp_state(struct tcpp *t)
{
	enum tcpp_state s;

	pthread_mutex_lock(&t->lock);
	s = t->state;
	pthread_mutex_unlock(&t->lock);
	return s;
}
