/* The device's TCP connections (issue 11 §1, TCP simultaneous open): one epoll set over the
 * relay's connection to punchvpnd, the connection that shows punchvpnd our TCP mapping (rdv.h)
 * and each peer's direct TCP connection (tcppunch.h), so the main loop polls one descriptor;
 * and the glue between a peer's connection and its path: attempts started from introductions,
 * probes until the connection is proven, keepalives on a TCP path, the connection ended when
 * the path leaves TCP, the path ended when the connection does. */
#include "devpriv.h"

#include <natcheck/error.h>
#include <natcheck/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "strategy.h"

enum { TAG_RELAY = 1, TAG_SHOW, TAG_PEER };
#define TAG(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))

int dev_tcp_init(struct dev *d, char *err, size_t errlen)
{
	d->tcp_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->tcp_epfd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return rc;
	}
	/* Every TCP connection leaves from the tunnel's port number: the relay's, the one that
	 * shows our mapping and the peers' share one NAT mapping (endpoint-independent TCP
	 * NATs), so the endpoint punchvpnd observes is the one the peer's SYN meets. */
	d->rdv.tcp_port = d->udp.port;
	for (size_t i = 0; i < d->n_peers; i++)
		d->peers[i].tcp.lport = d->udp.port;
	return 0;
}

void dev_tcp_stop(struct dev *d)
{
	if (d->tcp_epfd >= 0)
		close(d->tcp_epfd);
	d->tcp_epfd = -1;
}

/* Brings one descriptor's entry up to date. A closed descriptor left the set by itself, and a
 * number reused for another connection is not in it yet (MOD fails): added then. */
static void watch(struct dev *d, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};

	if (fd < 0)
		return;
	if (epoll_ctl(d->tcp_epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
		epoll_ctl(d->tcp_epfd, EPOLL_CTL_ADD, fd, &ev);
}

int dev_tcp_fd(struct dev *d)
{
	if (d->tcp_epfd < 0)
		return -1;
	watch(d, rdv_tcp_fd(&d->rdv), EPOLLIN, TAG(TAG_RELAY, 0));
	watch(d, rdv_show_fd(&d->rdv), EPOLLIN, TAG(TAG_SHOW, 0));
	for (size_t i = 0; i < d->n_peers; i++) {
		uint32_t ev = 0;
		int fd = tcpp_poll(&d->peers[i].tcp, &ev);
		watch(d, fd, ev, TAG(TAG_PEER, i));
	}
	return d->tcp_epfd;
}

struct frame_ctx {
	struct dev_rx *x;
	struct dev *d;
	struct dev_peer *p; /* a peer's connection; NULL: the relay's */
};

static void relay_frame(void *ctx, const uint8_t *dgram, size_t len)
{
	struct frame_ctx *c = ctx;
	struct dev_from from = {.addr = c->d->rdv.server, .from_server = true};

	dev_rx_dgram(c->x, dgram, len, &from);
}

/* A frame from a peer's own connection: handled as a datagram from the peer's TCP endpoint,
 * authenticated as any other; only an authenticated one proves the path (dev_peer_rx). */
static void peer_frame(void *ctx, const uint8_t *dgram, size_t len)
{
	struct frame_ctx *c = ctx;
	struct dev_from from = {.addr = c->p->tcp.peer, .tcp = &c->p->tcp};

	dev_rx_dgram(c->x, dgram, len, &from);
}

static void probe(struct dev *d, struct dev_peer *p)
{
	struct dev_route rt = {.kind = PATH_TCP, .tcp = &p->tcp};

	dev_keepalive(d, p, &rt);
}

static void handle(struct dev *d, struct dev_peer *p, enum tcpp_ev ev, uint64_t now)
{
	char a[NC_ADDR_STRLEN];
	bool changed;

	if (ev == TCPP_EV_UP) {
		pthread_mutex_lock(&p->tcp.lock);
		nc_log_info("peer %.8s: TCP connection to %s (simultaneous open, %u connect%s)",
			    p->name, nc_addr_str(&p->tcp.peer, a), p->tcp.syns,
			    p->tcp.syns == 1 ? "" : "s");
		pthread_mutex_unlock(&p->tcp.lock);
		/* An authenticated packet over it proves the path at the other end, whose answer
		 * proves it here (no session yet: the probes of the tick follow). */
		probe(d, p);
	} else if (ev == TCPP_EV_DOWN) {
		pthread_mutex_lock(&p->lock);
		changed = path_tcp_down(&p->path, now);
		pthread_mutex_unlock(&p->lock);
		nc_log_info("peer %.8s: TCP %s (%s)%s", p->name,
			    changed ? "connection ended" : "simultaneous open failed",
			    strerror(p->tcp.err), changed ? ": relay" : "");
	}
}

void dev_tcp_input(struct dev *d)
{
	struct epoll_event evs[16];
	struct dev_rx *x = dev_main_rx(d);
	uint64_t now = dev_now_ms();
	int n;

	if (!x || d->tcp_epfd < 0)
		return;
	n = epoll_wait(d->tcp_epfd, evs, 16, 0);
	for (int i = 0; i < n; i++) {
		uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32), idx = (uint32_t)evs[i].data.u64;

		struct frame_ctx c = {.x = x, .d = d};

		if (kind == TAG_RELAY) {
			rdv_tcp_read(&d->rdv, relay_frame, &c);
		} else if (kind == TAG_SHOW) {
			rdv_show_read(&d->rdv, now);
		} else if (kind == TAG_PEER && idx < d->n_peers) {
			c.p = &d->peers[idx];
			handle(d, c.p, tcpp_event(&c.p->tcp, evs[i].events, peer_frame, &c, now), now);
		}
	}
	dev_rx_done(x);
}

void dev_tcp_intro(struct dev *d, struct dev_peer *p, const struct coord_intro *in)
{
	struct coord_profile mine;
	struct strat_side me = {.prof = dev_my_profile(d, &mine) ? &mine : NULL};
	struct strat_side peer = {.prof = in->prof.measured ? &in->prof : NULL,
				  .observed = in->observed, .n_local = in->n_local};
	struct strat_plan plan;

	pthread_mutex_lock(&d->rdv.lock);
	me.observed = d->rdv.observed;
	pthread_mutex_unlock(&d->rdv.lock);
	strategy_plan(&me, &peer, &plan);
	/* TCP when the table puts it first among the direct methods: a UDP-blocked side against
	 * a peer whose TCP mapping can be punched (strategy.c). */
	tcpp_intro(&p->tcp, &in->tcp, strategy_first_direct(&plan) == STRAT_TCP);
}

void dev_tcp_tick(struct dev *d, uint64_t now)
{
	uint8_t (*wants)[VPN_KEY_LEN] = malloc((d->n_peers ? d->n_peers : 1) * VPN_KEY_LEN);
	bool ready = rdv_tcp_presence(&d->rdv, NULL);
	size_t n = 0;

	for (size_t i = 0; i < d->n_peers; i++) {
		struct dev_peer *p = &d->peers[i];
		struct tcpp *t = &p->tcp;
		enum tcpp_state st;
		enum path_kind kind;
		bool wanted, proven, probe_due = false;

		if (p->path.fixed)
			continue;
		pthread_mutex_lock(&p->lock);
		kind = p->path.kind;
		pthread_mutex_unlock(&p->lock);
		pthread_mutex_lock(&t->lock);
		st = t->state;
		wanted = t->wanted;
		proven = t->proven;
		if (st == TCPP_UP && !proven && vpn_since(now, t->probe_ms) >= TCPP_PROBE_MS) {
			t->probe_ms = now;
			probe_due = true;
		}
		pthread_mutex_unlock(&t->lock);
		if (wanted && wants)
			memcpy(wants[n++], p->cfg->pub, VPN_KEY_LEN);
		/* The path left TCP (silence, a network change, the peer relays, or UDP proved
		 * itself): the connection has nothing more to carry. */
		if (st == TCPP_UP && proven && kind != PATH_TCP) {
			tcpp_close(t, 0);
			nc_log_info("peer %.8s: TCP connection closed (the path is %s now)", p->name,
				    path_kind_name(kind));
			continue;
		}
		handle(d, p, tcpp_tick(t, ready, now), now);
		if (probe_due)
			probe(d, p);
		/* A TCP path lives on both ends' keepalives, as a punched UDP path does: silence
		 * means it is gone (path_tick), even when no FIN or RST ever arrives. */
		if (kind == PATH_TCP && vpn_since(now, atomic_load(&p->last_tx_ms)) >= PATH_KEEPALIVE_MS)
			dev_keepalive(d, p, NULL);
	}
	rdv_tcp_show(&d->rdv, (const uint8_t(*)[VPN_KEY_LEN])wants, wants ? n : 0, now);
	free(wants);
}

json_t *dev_tcp_peer_json(struct dev_peer *p)
{
	struct tcpp *t = &p->tcp;
	char a[NC_ADDR_STRLEN];
	json_t *o;

	pthread_mutex_lock(&t->lock);
	o = json_pack("{s:s,s:b,s:s?,s:i,s:i,s:i,s:s?}", "state", tcpp_state_name(t->state),
		      "wanted", t->wanted, "endpoint",
		      nc_addr_is_set(&t->peer) ? nc_addr_str(&t->peer, a) : NULL, "attempts",
		      (json_int_t)t->attempts, "connects", (json_int_t)t->syns, "connections",
		      (json_int_t)t->ups, "error", t->err ? strerror(t->err) : NULL);
	pthread_mutex_unlock(&t->lock);
	return o;
}
