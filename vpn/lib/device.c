#include "device.h"
#include "devpriv.h"

#include <natcheck/error.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coord.h"
#include "ctrl.h"
#include "icmp.h"
#include "offload.h"
#include "stun.h"
#include "tunmode.h"
#include "wire.h"

#define RX_BATCH 8
#define RX_BUF 65536
#define TX_MAX_SEGS 64

static const char *const drop_names[] = {
#define DEV_DROP_NAME_(n, s) s,
	DEV_DROP_TABLE(DEV_DROP_NAME_)
#undef DEV_DROP_NAME_
};

const char *dev_drop_name(enum dev_drop r)
{
	return r < DEV_DROP_COUNT ? drop_names[r] : "?";
}

uint64_t dev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void count(struct dev_stats *st, enum dev_drop r)
{
	atomic_fetch_add_explicit(&st->drop[r], 1, memory_order_relaxed);
}

static void add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* ---- sessions ---------------------------------------------------------------------------- */

static struct dev_sess *sess_new(void)
{
	struct dev_sess *s = calloc(1, sizeof(*s));

	if (s)
		atomic_init(&s->refs, 1);
	return s;
}

struct dev_sess *dev_sess_ref(struct dev_sess *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void dev_sess_put(struct dev_sess *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
		tp_session_wipe(&s->s);
		free(s);
	}
}

/* A session index no live session of ours uses. Called with hs_lock held (it reads the pending
 * handshakes' indexes); takes the peers' locks, which never wait on hs_lock. */
static uint32_t new_index(struct dev *d)
{
	for (;;) {
		uint32_t idx = randombytes_random();
		bool used = idx == 0;

		for (size_t i = 0; i < d->n_peers && !used; i++) {
			struct dev_peer *p = &d->peers[i];
			pthread_mutex_lock(&p->lock);
			used = (p->cur && p->cur->s.local_index == idx) ||
			       (p->prev && p->prev->s.local_index == idx) ||
			       (p->next && p->next->s.local_index == idx);
			pthread_mutex_unlock(&p->lock);
			used |= p->hs.hs_active && p->hs.hs_index == idx;
		}
		if (!used)
			return idx;
	}
}

/* The session a receiver index names, with a reference, and its peer. */
static struct dev_sess *find_session(struct dev *d, uint32_t idx, struct dev_peer **peer)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dev_peer *p = &d->peers[i];
		struct dev_sess *s = NULL;

		pthread_mutex_lock(&p->lock);
		if (p->cur && p->cur->s.local_index == idx)
			s = p->cur;
		else if (p->next && p->next->s.local_index == idx)
			s = p->next;
		else if (p->prev && p->prev->s.local_index == idx)
			s = p->prev;
		dev_sess_ref(s);
		pthread_mutex_unlock(&p->lock);
		if (s) {
			*peer = p;
			return s;
		}
	}
	return NULL;
}

struct dev_peer *dev_peer_by_key(struct dev *d, const uint8_t pub[32])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (sodium_memcmp(d->peers[i].cfg->pub, pub, 32) == 0)
			return &d->peers[i];
	return NULL;
}

/* Longest-prefix match of an inner destination over the peers' AllowedIPs. */
static struct dev_peer *peer_by_dst(struct dev *d, const struct nc_addr *dst)
{
	struct dev_peer *best = NULL;
	int best_len = -1;

	for (size_t i = 0; i < d->n_peers; i++)
		for (size_t j = 0; j < d->peers[i].cfg->n_allowed; j++) {
			const struct vpn_prefix *p = &d->peers[i].cfg->allowed[j];
			if (p->len > best_len && vpn_prefix_contains(p, dst)) {
				best = &d->peers[i];
				best_len = p->len;
			}
		}
	return best;
}

static bool peer_allows_src(const struct dev_peer *p, const struct nc_addr *src)
{
	for (size_t j = 0; j < p->cfg->n_allowed; j++)
		if (vpn_prefix_contains(&p->cfg->allowed[j], src))
			return true;
	return false;
}

/* Inner IP addresses: 0 or -NC_E_MALFORMED. */
static int inner_addrs(const uint8_t *pkt, size_t len, struct nc_addr *src, struct nc_addr *dst)
{
	if (len >= 20 && pkt[0] >> 4 == 4) {
		nc_addr_set(src, AF_INET, pkt + 12, 0);
		nc_addr_set(dst, AF_INET, pkt + 16, 0);
		return 0;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		nc_addr_set(src, AF_INET6, pkt + 8, 0);
		nc_addr_set(dst, AF_INET6, pkt + 24, 0);
		return 0;
	}
	return -NC_E_MALFORMED;
}

void dev_peer_route(struct dev_peer *p, struct dev_route *rt)
{
	memset(rt, 0, sizeof(*rt));
	rt->kind = path_route(&p->path, &rt->ep, &rt->relay_id);
	rt->tcp = &p->tcp;
	if (rt->kind == PATH_DIRECT)
		rt->sock = p->path.ep_sock;
}

void dev_kick(struct dev *d)
{
	uint64_t one = 1;
	ssize_t n = write(d->kick_fd, &one, sizeof(one));
	(void)n;
}

/* ---- sending ----------------------------------------------------------------------------- */

/* One batch of equal-sized datagrams (the last may be shorter): one GSO send to the endpoint
 * or the relay over UDP; over TCP (the relay's, or the peer's own connection) one frame each. */
static void send_batch(struct dev *d, bool tcp, const struct dev_route *rt, struct udp *u,
		       const struct sockaddr_storage *ss, socklen_t sl, const uint8_t *out,
		       size_t total, size_t seg)
{
	if (rt->kind == PATH_TCP) {
		bool waits = false;
		for (size_t off = 0; off < total; off += seg)
			waits |= tcpp_send(rt->tcp, out + off, total - off < seg ? total - off : seg) > 0;
		if (waits) /* the main thread polls for the rest */
			dev_kick(d);
	} else if (tcp) {
		for (size_t off = 0; off < total; off += seg)
			rdv_send(&d->rdv, &d->udp, out + off, total - off < seg ? total - off : seg);
	} else if (sl) {
		udp_send_batch(u, ss, sl, out, total, seg);
	}
}

/* Seals n packets (back to back in one GSO send while they are equal-sized) along rt; through
 * the relay each segment carries its own relay header. out has room for
 * n * (stride + WIRE_DATA_OVERHEAD + COORD_RELAY_HDR_LEN). Returns false when the session may
 * not send any more (the caller starts a handshake). */
static bool send_sealed(struct dev *d, struct dev_peer *p, struct dev_sess *s,
			const struct dev_route *rt, uint8_t *const *pkts, const uint16_t *lens,
			size_t n, uint8_t *out)
{
	struct sockaddr_storage ss;
	bool relay = rt->kind == PATH_RELAY, tcp = relay && rdv_mode(&d->rdv) == RDV_TCP;
	/* Direct from the route's socket (an aux socket's slot may have closed meanwhile: then
	 * nothing goes out, as on a lost packet). */
	struct udp *u = relay ? &d->udp : dev_route_udp(d, rt);
	socklen_t sl = !u ? 0
		       : relay ? udp_sockaddr(u, &d->rdv.server, &ss)
		       : rt->kind == PATH_DIRECT ? udp_sockaddr(u, &rt->ep, &ss) : 0;
	size_t hdr = relay ? COORD_RELAY_HDR_LEN : 0;
	uint64_t now = dev_now_ms(), bytes = 0;
	size_t off = 0, seg = 0, i;
	bool ok = true;

	for (i = 0; i < n; i++) {
		uint64_t ctr;
		size_t len;

		if (!tp_next_counter(&s->s, now, &d->lim, &ctr)) {
			ok = false;
			break;
		}
		/* A GSO batch is equal-sized segments with a shorter one last only: a longer one
		 * starts a new batch, a shorter one joins and ends this one. */
		if (off > 0 && hdr + lens[i] + WIRE_DATA_OVERHEAD > seg) {
			send_batch(d, tcp, rt, u, &ss, sl, out, off, seg);
			off = 0;
		}
		if (relay)
			coord_put_relay_hdr(out + off, rt->relay_id);
		len = tp_seal(&s->s, ctr, pkts[i], lens[i], out + off + hdr);
		if (len == 0) { /* no cipher context (memory): the rest is lost and counted */
			add(&p->st.drop[DEV_DROP_NO_MEMORY], n - i);
			break;
		}
		len += hdr;
		if (off == 0)
			seg = len;
		off += len;
		bytes += lens[i];
		if (len < seg) { /* the short one ends a batch */
			send_batch(d, tcp, rt, u, &ss, sl, out, off, seg);
			off = 0;
		}
	}
	if (off)
		send_batch(d, tcp, rt, u, &ss, sl, out, off, seg);
	add(&p->st.tx_bytes, bytes);
	add(&p->st.tx_packets, i);
	atomic_store(&p->last_tx_ms, now);
	if (tp_wants_rekey(&s->s, now, &d->lim) && !atomic_exchange(&p->want_hs, true))
		dev_kick(d);
	return ok;
}

/* One short plaintext (a keepalive's nothing, a control message) on the current session. */
static void send_short(struct dev *d, struct dev_peer *p, const struct dev_route *rt,
		       const uint8_t *msg, uint16_t len)
{
	uint8_t out[WIRE_DATA_OVERHEAD + COORD_RELAY_HDR_LEN + CTRL_LEN], copy[CTRL_LEN];
	struct dev_sess *s;
	struct dev_route cur;
	uint8_t *pkt = copy;

	if (len > sizeof(copy))
		return;
	if (len)
		memcpy(copy, msg, len);

	pthread_mutex_lock(&p->lock);
	s = dev_sess_ref(p->cur);
	dev_peer_route(p, &cur);
	pthread_mutex_unlock(&p->lock);
	if (!rt)
		rt = &cur;
	if (s && rt->kind != PATH_NONE)
		send_sealed(d, p, s, rt, &pkt, &len, 1, out);
	dev_sess_put(s);
}

void dev_keepalive(struct dev *d, struct dev_peer *p, const struct dev_route *rt)
{
	send_short(d, p, rt, NULL, 0);
}

void dev_send_ctrl(struct dev *d, struct dev_peer *p, const struct dev_route *rt,
		   const struct ctrl_msg *m)
{
	uint8_t buf[CTRL_LEN];

	ctrl_encode(buf, m);
	send_short(d, p, rt, buf, CTRL_LEN);
}

/* Holds packets for a peer without a session (bounded), and asks main for a handshake. */
static void stage(struct dev *d, struct dev_peer *p, uint8_t *const *pkts, const uint16_t *lens,
		  size_t n)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < n; i++) {
		uint8_t *copy;

		if (p->n_staged >= DEV_STAGED) {
			count(&p->st, DEV_DROP_NO_SESSION);
			continue;
		}
		copy = malloc(lens[i] ? lens[i] : 1);
		if (!copy) {
			count(&p->st, DEV_DROP_NO_SESSION);
			continue;
		}
		memcpy(copy, pkts[i], lens[i]);
		if (p->n_staged == 0)
			p->staged_since_ms = dev_now_ms();
		p->staged[p->n_staged] = copy;
		p->staged_len[p->n_staged++] = lens[i];
	}
	pthread_mutex_unlock(&p->lock);
	if (!atomic_exchange(&p->want_hs, true))
		dev_kick(d);
}

/* Sends what was staged on the new session (or a keepalive to confirm it to the responder). */
static void flush_staged(struct dev *d, struct dev_peer *p)
{
	uint8_t *pkts[DEV_STAGED];
	uint16_t lens[DEV_STAGED];
	unsigned n;
	struct dev_sess *s;
	struct dev_route rt;

	pthread_mutex_lock(&p->lock);
	n = p->n_staged;
	memcpy(pkts, p->staged, n * sizeof(pkts[0]));
	memcpy(lens, p->staged_len, n * sizeof(lens[0]));
	p->n_staged = 0;
	s = dev_sess_ref(p->cur);
	dev_peer_route(p, &rt);
	pthread_mutex_unlock(&p->lock);
	if (s && rt.kind != PATH_NONE) {
		if (n) {
			uint8_t *out = malloc(OFF_MAX_PACKET + WIRE_DATA_OVERHEAD + COORD_RELAY_HDR_LEN);
			if (out) {
				for (unsigned i = 0; i < n; i++)
					send_sealed(d, p, s, &rt, &pkts[i], &lens[i], 1, out);
				free(out);
			}
		} else {
			dev_keepalive(d, p, &rt);
		}
	}
	dev_sess_put(s);
	for (unsigned i = 0; i < n; i++)
		free(pkts[i]);
}

/* Answers an oversize packet as a router would, into the TUN device. The answer comes from
 * our tunnel address, unless the packet itself came from it (a local sender): the kernel drops
 * what arrives from one of its own addresses as martian, so then it comes from the packet's
 * destination, the hop that "could not take it". */
static void answer_too_big(struct dev *d, const uint8_t *pkt, size_t len)
{
	uint8_t out[OFF_VNET_LEN + 1280];
	struct nc_addr psrc, pdst, from;
	bool have = false;
	int n;

	count(&d->st, DEV_DROP_TOO_BIG);
	if (inner_addrs(pkt, len, &psrc, &pdst) != 0)
		return;
	for (size_t i = 0; i < d->cfg->n_address && !have; i++)
		if (d->cfg->address[i].ip.family == psrc.family) {
			from = d->cfg->address[i].ip;
			have = true;
		}
	if (!have || nc_addr_ip_eq(&from, &psrc))
		from = pdst;
	memset(out, 0, OFF_VNET_LEN);
	n = icmp_too_big(pkt, len, d->tun.mtu, &from, out + OFF_VNET_LEN, sizeof(out) - OFF_VNET_LEN);
	if (n > 0) {
		ssize_t w = write(d->tun.fd, out, OFF_VNET_LEN + (size_t)n);
		(void)w;
	}
}

/* What one reader of the TUN device needs: the read buffer, the segments of a TSO
 * super-packet, and their sealed datagrams. */
struct dev_txbuf {
	uint8_t *in, *segs, *out;
	size_t stride;
	uint8_t *pkts[TX_MAX_SEGS];
	uint16_t lens[TX_MAX_SEGS];
};

static void txbuf_free(struct dev_txbuf *b)
{
	free(b->in);
	free(b->segs);
	free(b->out);
	memset(b, 0, sizeof(*b));
}

static bool txbuf_init(struct dev_txbuf *b, const struct dev *d)
{
	size_t ostride = d->tun.mtu + WIRE_DATA_OVERHEAD + COORD_RELAY_HDR_LEN;

	memset(b, 0, sizeof(*b));
	b->stride = d->tun.mtu;
	b->in = malloc(OFF_VNET_LEN + OFF_MAX_PACKET);
	b->segs = malloc(TX_MAX_SEGS * b->stride);
	b->out = malloc(TX_MAX_SEGS * ostride);
	if (b->in && b->segs && b->out)
		return true;
	txbuf_free(b);
	return false;
}

/* Reads one packet from the TUN device and sends it on (or stages, answers or drops it), under
 * d->tun_rd: one reader at a time, so packets leave in the order the kernel queued them.
 * 1: a packet was handled, 0: none waiting, -1: the device went away. */
static int tx_one(struct dev *d, struct dev_txbuf *b)
{
	struct off_vnet h;
	struct nc_addr src, dst;
	struct dev_route rt;
	struct dev_peer *p;
	struct dev_sess *s;
	ssize_t r = read(d->tun.fd, b->in, OFF_VNET_LEN + OFF_MAX_PACKET);
	uint8_t *in = b->in, *pkt = in + OFF_VNET_LEN;
	uint8_t **pkts = b->pkts;
	uint16_t *lens = b->lens;
	size_t len, n;

	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1; /* -1: the device went away */
	if (r <= OFF_VNET_LEN || off_vnet_decode(in, (size_t)r, &h) != 0)
		return 1;
	len = (size_t)r - OFF_VNET_LEN;
	if (inner_addrs(pkt, len, &src, &dst) != 0) {
		count(&d->st, DEV_DROP_MALFORMED);
		return 1;
	}
	if ((h.gso_type & ~OFF_GSO_ECN) != OFF_GSO_NONE) {
		int k;

		if ((size_t)h.hdr_len + h.gso_size > d->tun.mtu) {
			answer_too_big(d, pkt, len);
			return 1;
		}
		k = off_tso_segment(pkt, len, &h, b->segs, b->stride, TX_MAX_SEGS, lens);
		if (k <= 0) {
			count(&d->st, DEV_DROP_MALFORMED);
			return 1;
		}
		n = (size_t)k;
		for (size_t i = 0; i < n; i++)
			pkts[i] = b->segs + i * b->stride;
	} else {
		if (off_csum_complete(pkt, len, &h) != 0) {
			count(&d->st, DEV_DROP_MALFORMED);
			return 1;
		}
		if (len > d->tun.mtu) {
			answer_too_big(d, pkt, len);
			return 1;
		}
		n = 1;
		pkts[0] = pkt;
		lens[0] = (uint16_t)len;
	}
	p = peer_by_dst(d, &dst);
	if (!p) {
		count(&d->st, DEV_DROP_NO_ROUTE);
		return 1;
	}
	pthread_mutex_lock(&p->lock);
	s = dev_sess_ref(p->cur);
	dev_peer_route(p, &rt);
	pthread_mutex_unlock(&p->lock);
	if (!s || rt.kind == PATH_NONE) {
		stage(d, p, pkts, lens, n);
	} else if (!send_sealed(d, p, s, &rt, pkts, lens, n, b->out)) {
		if (!atomic_exchange(&p->want_hs, true))
			dev_kick(d);
	}
	dev_sess_put(s);
	return 1;
}

/* The RX thread's epoll tags besides 0 (the tunnel socket) and the aux slots (1 ...). */
#define RX_EV_STOP UINT32_MAX
#define RX_EV_KICK (UINT32_MAX - 1)
#define RX_EV_TUN (UINT32_MAX - 2) /* light mode (tunmode.h) */

/* tunmode.h: the TX thread hands TUN to the RX thread (light) and goes to sleep. */
static void tun_go_light(struct dev *d)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = RX_EV_TUN};

	atomic_store(&d->tun_light, true);
	if (epoll_ctl(d->rx_ep, EPOLL_CTL_ADD, d->tun.fd, &ev) != 0)
		atomic_store(&d->tun_light, false); /* then it stays heavy */
}

/* ... and the RX thread hands it back (heavy), waking the TX thread. */
static void tun_go_heavy(struct dev *d)
{
	uint64_t one = 1;
	ssize_t w;

	(void)epoll_ctl(d->rx_ep, EPOLL_CTL_DEL, d->tun.fd, NULL);
	atomic_store(&d->tun_light, false);
	w = write(d->tx_park_fd, &one, sizeof(one));
	(void)w;
}

static void *tx_main(void *arg)
{
	struct dev *d = arg;
	struct dev_txbuf b;
	struct tunmode_win win;
	unsigned n = 0; /* packets read since the last wait */
	struct pollfd run[2] = {{.fd = d->tun.fd, .events = POLLIN}, {.fd = d->stop_fd, .events = POLLIN}};
	struct pollfd park[2] = {{.fd = d->tx_park_fd, .events = POLLIN},
				 {.fd = d->stop_fd, .events = POLLIN}};

	if (!txbuf_init(&b, d))
		return NULL;
	tunmode_start(&win, dev_now_ms());
	for (;;) {
		int r;

		if (atomic_load(&d->tun_light)) { /* the RX thread reads TUN: sleep until woken */
			uint64_t v;
			ssize_t rd;

			if ((poll(park, 2, -1) < 0 && errno != EINTR) || park[1].revents)
				break;
			rd = read(d->tx_park_fd, &v, sizeof(v)); /* non-blocking: nothing, or the wake */
			(void)rd;
			tunmode_start(&win, dev_now_ms());
			continue;
		}
		pthread_mutex_lock(&d->tun_rd);
		r = tx_one(d, &b);
		pthread_mutex_unlock(&d->tun_rd);
		if (r > 0) {
			n++;
			continue;
		}
		if (r < 0)
			break;
		if (tunmode_light(&win, dev_now_ms(), n)) {
			n = 0;
			tun_go_light(d);
			continue;
		}
		n = 0;
		if ((poll(run, 2, TUNMODE_WINDOW_MS) < 0 && errno != EINTR) || run[1].revents)
			break;
	}
	txbuf_free(&b);
	return NULL;
}

/* ---- receiving --------------------------------------------------------------------------- */

struct dev_rx {
	struct dev *d;
	struct off_gro gro;
	uint8_t *plain;
	struct dev_txbuf txb; /* the RX thread's, for rx_answer (the main thread's has none) */
	bool wrote;           /* something went to the TUN device since the last rx_answer */
	/* sessions looked up in this batch, held until its end */
	uint32_t idx[16];
	struct dev_sess *sess[16];
	struct dev_peer *peer[16];
	unsigned n_cached;
};

static void tun_write(struct dev_rx *x, const uint8_t *buf, size_t len)
{
	ssize_t w = write(x->d->tun.fd, buf, len);
	(void)w; /* a full TUN queue drops, as a NIC would */
	x->wrote = true;
}

/* The kernel often answers a packet written to the TUN device within that very write (an echo
 * reply, a TCP ACK): the answer is then waiting to be read, and the TX thread is being woken
 * for it, on the other CPU. The RX thread sends such answers itself when no one else is reading
 * (a few, then back to its sockets): on an idle tunnel that saves a cross-CPU wake-up per
 * round trip, most of the latency a tunnel adds on two vCPUs. */
#define RX_ANSWER_MAX 4
static void rx_answer(struct dev_rx *x)
{
	struct dev *d = x->d;

	if (!x->wrote || !x->txb.in)
		return;
	x->wrote = false;
	if (pthread_mutex_trylock(&d->tun_rd) != 0)
		return;
	for (int k = 0; k < RX_ANSWER_MAX && tx_one(d, &x->txb) > 0; k++)
		;
	pthread_mutex_unlock(&d->tun_rd);
}

static void gro_flush(struct dev_rx *x)
{
	size_t n = off_gro_finish(&x->gro);

	if (n)
		tun_write(x, x->gro.buf, n);
}

static void deliver(struct dev_rx *x, const uint8_t *pkt, size_t len)
{
	if (off_gro_add(&x->gro, pkt, len))
		return;
	gro_flush(x);
	if (!off_gro_add(&x->gro, pkt, len)) {
		uint8_t *tmp = malloc(OFF_VNET_LEN + len);
		if (tmp) {
			memset(tmp, 0, OFF_VNET_LEN);
			memcpy(tmp + OFF_VNET_LEN, pkt, len);
			tun_write(x, tmp, OFF_VNET_LEN + len);
			free(tmp);
		}
	}
}

static struct dev_sess *rx_session(struct dev_rx *x, uint32_t idx, struct dev_peer **peer)
{
	struct dev_sess *s;

	for (unsigned i = 0; i < x->n_cached; i++)
		if (x->idx[i] == idx) {
			*peer = x->peer[i];
			return x->sess[i];
		}
	s = find_session(x->d, idx, peer);
	if (!s)
		return NULL;
	if (x->n_cached == 16) {
		for (unsigned i = 0; i < x->n_cached; i++)
			dev_sess_put(x->sess[i]);
		x->n_cached = 0;
	}
	x->idx[x->n_cached] = idx;
	x->sess[x->n_cached] = s;
	x->peer[x->n_cached++] = *peer;
	return s;
}

static void rx_release(struct dev_rx *x)
{
	for (unsigned i = 0; i < x->n_cached; i++)
		dev_sess_put(x->sess[i]);
	x->n_cached = 0;
}

static void install_session(struct dev_peer *p, struct dev_sess *s, bool as_next)
{
	struct dev_sess *old1 = NULL, *old2 = NULL;

	pthread_mutex_lock(&p->lock);
	if (as_next) {
		old1 = p->next;
		p->next = s;
	} else if (p->next) {
		/* Both ends initiated at once: the peer completed its own handshake, whose other
		 * half is our responder session in next, and sends on it. Keep that one receivable
		 * as prev (WireGuard does the same), or crossed handshakes leave both sides deaf. */
		old1 = p->prev;
		old2 = p->cur;
		p->prev = p->next;
		p->cur = s;
		p->next = NULL;
	} else {
		old1 = p->prev;
		p->prev = p->cur;
		p->cur = s;
	}
	pthread_mutex_unlock(&p->lock);
	dev_sess_put(old1);
	dev_sess_put(old2);
}

static void rx_data(struct dev_rx *x, const struct wire_msg *m, const uint8_t *dgram,
		    const struct dev_from *from)
{
	struct dev *d = x->d;
	struct dev_peer *p;
	struct dev_sess *s = rx_session(x, m->receiver, &p);
	struct nc_addr src, dst;
	uint64_t now;
	int n;

	if (!s) {
		count(&d->st, DEV_DROP_UNKNOWN_KEY);
		return;
	}
	/* Authenticate first: a forged packet is a bad tag whatever counter it claims. */
	n = tp_open(&s->s, m, dgram, x->plain);
	if (n < 0) {
		count(&p->st, n == -NC_E_NOMEM ? DEV_DROP_NO_MEMORY : DEV_DROP_BAD_TAG);
		return;
	}
	/* Authenticated: only now may the window move (see replay.h). */
	if (!replay_update(&s->s.replay, m->counter)) {
		count(&p->st, DEV_DROP_REPLAY);
		return;
	}
	now = dev_now_ms();
	if (tp_expired(&s->s, now, &d->lim)) {
		count(&p->st, DEV_DROP_NO_SESSION);
		return;
	}
	atomic_store(&p->last_rx_ms, now);
	/* Roaming and path proof: only ever on authenticated packets. Not on a birthday probe:
	 * it proves the prober reaches us, while its NAT's filter may already have forgotten the
	 * port it opened toward us; the prober answers our answer at once, and that proves both
	 * ways (devbday.c). */
	if (!(n == CTRL_LEN && ctrl_is(x->plain, (size_t)n) && x->plain[1] == CTRL_BDAY_PROBE))
		dev_peer_rx(d, p, from, now);
	/* The initiator's first packet confirms a responder's session. */
	if (!s->s.initiator) {
		pthread_mutex_lock(&p->lock);
		if (p->next == s) {
			struct dev_sess *old = p->prev;
			p->prev = p->cur;
			p->cur = s;
			p->next = NULL;
			/* The responder's RTT: its response out, the initiator's first packet in
			 * (sent at once: staged packets or a keepalive). */
			p->rtt_ms = (uint32_t)vpn_since(now, s->s.birth_ms);
			p->rtt_path = from->relayed ? PATH_RELAY : from->tcp ? PATH_TCP : PATH_DIRECT;
			pthread_mutex_unlock(&p->lock);
			dev_sess_put(old);
			flush_staged(d, p);
			dev_punch_now(d, p, now);
			dev_kick(d); /* the rest of the link tick (birthday probing) too */
		} else {
			pthread_mutex_unlock(&p->lock);
		}
	}
	add(&p->st.rx_packets, 1);
	if (n == 0)
		return; /* keepalive */
	if (ctrl_is(x->plain, (size_t)n)) {
		struct ctrl_msg cm;

		if (ctrl_decode(x->plain, (size_t)n, &cm) != 0)
			count(&p->st, DEV_DROP_MALFORMED);
		else
			dev_bday_ctrl(d, p, from, &cm);
		return;
	}
	add(&p->st.rx_bytes, (uint64_t)n);
	if (inner_addrs(x->plain, (size_t)n, &src, &dst) != 0) {
		count(&p->st, DEV_DROP_MALFORMED);
		return;
	}
	/* Cryptokey routing: a peer may only send from addresses it is allowed. */
	if (!peer_allows_src(p, &src)) {
		count(&p->st, DEV_DROP_SOURCE);
		return;
	}
	deliver(x, x->plain, (size_t)n);
}

static void rx_handshake(struct dev_rx *x, const struct wire_msg *m, const uint8_t *dgram,
			 const struct dev_from *from)
{
	struct dev *d = x->d;
	uint64_t now = dev_now_ms();
	struct dev_peer *p = NULL;
	struct dev_sess *s;
	uint64_t sent;
	int rc;

	if (m->type == WIRE_INIT) {
		uint8_t resp[WIRE_RESP_LEN];
		struct hs_init hi;
		/* The answer goes back the way the initiation came. */
		struct dev_route back = {.kind = from->relayed ? PATH_RELAY
						 : from->tcp  ? PATH_TCP
							      : PATH_DIRECT,
					 .ep = from->addr, .sock = from->sock,
					 .relay_id = from->relay_id, .tcp = from->tcp};

		pthread_mutex_lock(&d->hs_lock);
		rc = hs_consume_initiation(&d->hs, m, dgram, &from->addr, now, &hi);
		if (rc == 0 && !(p = dev_peer_by_key(d, hi.peer_pub))) {
			noise_hs_wipe(&hi.hs);
			rc = -NC_E_INVALID;
		}
		s = rc == 0 ? sess_new() : NULL;
		if (rc == 0 && !s)
			rc = -NC_E_NOMEM;
		if (rc == 0) {
			rc = hs_respond(&p->hs, &hi, new_index(d), now, resp, &s->s);
		} else {
			noise_hs_wipe(&hi.hs);
		}
		pthread_mutex_unlock(&d->hs_lock);
		if (rc != 0) {
			dev_sess_put(s);
			if (rc == -NC_E_RATE_LIMITED)
				count(p ? &p->st : &d->st, DEV_DROP_RATE);
			else if (rc == -NC_E_PROTOCOL)
				count(&p->st, DEV_DROP_REPLAY);
			else if (rc == -NC_E_INVALID)
				count(&d->st, DEV_DROP_UNKNOWN_KEY);
			else
				count(&d->st, DEV_DROP_BAD_TAG);
			return;
		}
		install_session(p, s, true);
		atomic_store(&p->last_hs_ms, now);
		dev_send_dgram(d, &back, resp, sizeof(resp));
		dev_peer_rx(d, p, from, now);
		return;
	}
	/* WIRE_RESP: to our pending initiation. */
	pthread_mutex_lock(&d->hs_lock);
	for (size_t i = 0; i < d->n_peers && !p; i++)
		if (d->peers[i].hs.hs_active && d->peers[i].hs.hs_index == m->receiver)
			p = &d->peers[i];
	if (!p) {
		pthread_mutex_unlock(&d->hs_lock);
		count(&d->st, DEV_DROP_UNKNOWN_KEY);
		return;
	}
	s = sess_new();
	rc = s ? hs_consume_response(&d->hs, &p->hs, m, dgram, now, &s->s) : -NC_E_NOMEM;
	sent = p->hs_sent_ms;
	pthread_mutex_unlock(&d->hs_lock);
	if (rc != 0) {
		dev_sess_put(s);
		count(&p->st, rc == -NC_E_AUTH ? DEV_DROP_BAD_TAG : DEV_DROP_UNKNOWN_KEY);
		return;
	}
	install_session(p, s, false);
	pthread_mutex_lock(&p->lock);
	p->rtt_ms = (uint32_t)vpn_since(now, sent);
	p->rtt_path = from->relayed ? PATH_RELAY : from->tcp ? PATH_TCP : PATH_DIRECT;
	pthread_mutex_unlock(&p->lock);
	atomic_store(&p->last_hs_ms, now);
	atomic_store(&p->want_hs, false);
	pthread_mutex_lock(&d->hs_lock);
	p->hs_attempts = 0;
	pthread_mutex_unlock(&d->hs_lock);
	dev_peer_rx(d, p, from, now); /* after want_hs: it may ask for a handshake */
	flush_staged(d, p);
	dev_punch_now(d, p, now);
	dev_kick(d); /* the rest of the link tick (birthday probing) too */
}

static void rx_datagram(struct dev_rx *x, const uint8_t *dgram, size_t len,
			const struct dev_from *from)
{
	struct wire_msg m;
	struct dev_from inner;
	const uint8_t *in;
	size_t in_len;

	if (wire_decode(dgram, len, &m) != 0) {
		count(&x->d->st, DEV_DROP_MALFORMED);
		return;
	}
	switch (m.type) {
	case WIRE_DATA:
		rx_data(x, &m, dgram, from);
		break;
	case WIRE_COORD:
	case WIRE_RELAY:
		/* Only the server speaks these, and never inside a relay datagram. */
		if (!from->from_server || from->relayed) {
			count(&x->d->st, DEV_DROP_MALFORMED);
			return;
		}
		if (m.type == WIRE_COORD) {
			dev_coord_input(x->d, dgram, len);
			return;
		}
		inner = *from;
		inner.relayed = true;
		if (coord_relay_decode(dgram, len, &inner.relay_id, &in, &in_len) != 0) {
			count(&x->d->st, DEV_DROP_MALFORMED);
			return;
		}
		rx_datagram(x, in, in_len, &inner);
		break;
	default:
		rx_handshake(x, &m, dgram, from);
	}
}

static void from_sockaddr(const struct sockaddr_storage *ss, struct nc_addr *a)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

	if (ss->ss_family == AF_INET6 && memcmp(&s6->sin6_addr, mapped, 12) == 0)
		nc_addr_set(a, AF_INET, &s6->sin6_addr.s6_addr[12], ntohs(s6->sin6_port));
	else if (nc_addr_from_sockaddr(a, (const struct sockaddr *)ss, sizeof(*ss)) != 0)
		memset(a, 0, sizeof(*a));
}

/* Everything waiting on one socket, a few batches at most (the epoll round then serves the
 * other sockets and the stop event). sock: 0 the tunnel socket, k > 0 aux slot k - 1. */
static void rx_drain(struct dev_rx *x, int fd, int sock, uint8_t *bufs)
{
	struct dev *d = x->d;
	struct mmsghdr mm[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage from[RX_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl[RX_BATCH];

	for (int round = 0; round < 8; round++) {
		int n;

		for (int i = 0; i < RX_BATCH; i++) {
			iov[i].iov_base = bufs + (size_t)i * RX_BUF;
			iov[i].iov_len = RX_BUF;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = ctrl[i].buf;
			mm[i].msg_hdr.msg_controllen = sizeof(ctrl[i].buf);
		}
		n = recvmmsg(fd, mm, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			size_t len = mm[i].msg_len, seg = len, off;
			struct dev_from a = {.sock = sock};
			struct cmsghdr *c;

			if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
				count(&d->st, DEV_DROP_MALFORMED);
				continue;
			}
			for (c = CMSG_FIRSTHDR(&mm[i].msg_hdr); c; c = CMSG_NXTHDR(&mm[i].msg_hdr, c))
				if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
					int gs;
					memcpy(&gs, CMSG_DATA(c), sizeof(gs));
					if (gs > 0)
						seg = (size_t)gs;
				}
			from_sockaddr(&from[i], &a.addr);
			/* The server answers on the tunnel socket only. */
			a.from_server = sock == 0 && nc_addr_is_set(&d->rdv.server) &&
					nc_addr_eq(&a.addr, &d->rdv.server);
			/* With GRO one buffer holds several datagrams of seg bytes (the last may be
			 * shorter). */
			for (off = 0; off < len; off += seg) {
				const uint8_t *dg = (const uint8_t *)iov[i].iov_base + off;
				size_t dlen = len - off < seg ? len - off : seg;

				/* A datagram may retire its own socket (birthday probing keeps the
				 * winner only): what else came on it is not read. */
				if (!dev_aux_readable(d, sock))
					break;
				/* The reflector's answer to birthday probing's STUN request. */
				if (sock > 0 && stun_is_message(dg, dlen, false))
					dev_bday_stun(d, sock, dg, dlen);
				else
					rx_datagram(x, dg, dlen, &a);
			}
		}
		gro_flush(x);
		rx_release(x);
		if (n < RX_BATCH)
			return;
	}
}

/* Light mode (tunmode.h): TUN is in this thread's epoll set. Sends what is waiting; finding
 * TUNMODE_BURST packets (or the device gone, or no buffers) hands TUN to the TX thread. */
static void rx_tun(struct dev_rx *x)
{
	struct dev *d = x->d;
	int k = 0, r = -1;

	if (x->txb.in) {
		pthread_mutex_lock(&d->tun_rd);
		while (k < TUNMODE_BURST && (r = tx_one(d, &x->txb)) > 0)
			k++;
		pthread_mutex_unlock(&d->tun_rd);
	}
	if (k == TUNMODE_BURST || r < 0)
		tun_go_heavy(d);
}

static void *rx_main(void *arg)
{
	struct dev *d = arg;
	struct dev_rx x = {.d = d};
	uint8_t *bufs = malloc((size_t)RX_BATCH * RX_BUF), *grobuf = malloc(OFF_VNET_LEN + OFF_MAX_PACKET);
	bool stop = false;

	x.plain = malloc(RX_BUF);
	if (!bufs || !grobuf || !x.plain)
		goto out;
	off_gro_init(&x.gro, grobuf);
	(void)txbuf_init(&x.txb, d); /* without it, answers wait for the TX thread */
	while (!stop) {
		struct epoll_event ev[16];
		int ne = epoll_wait(d->rx_ep, ev, 16, -1);

		if (ne < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < ne; i++) {
			uint32_t tag = ev[i].data.u32;
			uint64_t v;

			if (tag == RX_EV_STOP) {
				stop = true;
			} else if (tag == RX_EV_KICK) {
				ssize_t r = read(d->rx_kick_fd, &v, sizeof(v));
				(void)r;
			} else if (tag == RX_EV_TUN) {
				rx_tun(&x);
			} else if (tag == 0) {
				rx_drain(&x, d->udp.fd, 0, bufs);
			} else if (dev_aux_readable(d, (int)tag)) {
				rx_drain(&x, d->aux[tag - 1].u.fd, (int)tag, bufs);
			}
		}
		rx_answer(&x);
		/* Slots retired meanwhile close here, between rounds. */
		dev_aux_reap(d);
	}
out:
	txbuf_free(&x.txb);
	rx_release(&x);
	free(bufs);
	free(grobuf);
	free(x.plain);
	return NULL;
}

/* ---- lifecycle and timers ---------------------------------------------------------------- */

/* The RX thread's epoll set: the tunnel socket, the stop event, its own wake-up (aux sockets
 * join it as they open). */
static int rx_ep_init(struct dev *d, char *err, size_t errlen)
{
	struct {
		int fd;
		uint32_t tag;
	} base[] = {{d->udp.fd, 0}, {d->stop_fd, RX_EV_STOP}, {d->rx_kick_fd, RX_EV_KICK}};
	int rc;

	d->rx_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	base[2].fd = d->rx_kick_fd;
	d->rx_ep = epoll_create1(EPOLL_CLOEXEC);
	if (d->rx_ep < 0 || d->rx_kick_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		return rc;
	}
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = base[i].tag};

		if (epoll_ctl(d->rx_ep, EPOLL_CTL_ADD, base[i].fd, &ev) != 0) {
			rc = -errno;
			snprintf(err, errlen, "epoll: %s", strerror(errno));
			return rc;
		}
	}
	return 0;
}

int dev_init(struct dev *d, struct vpn_cfg *cfg, const char *ifname, char *err, size_t errlen)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->lim = tp_default_limits;
	d->tun.fd = d->udp.fd = d->stop_fd = d->kick_fd = d->rdv.tcp.fd = d->tcp_epfd = -1;
	d->tx_park_fd = -1;
	d->rx_ep = d->rx_kick_fd = -1;
	pthread_mutex_init(&d->hs_lock, NULL);
	pthread_mutex_init(&d->tun_rd, NULL);
	snprintf(d->nat_err, sizeof(d->nat_err), "not measured (no Server configured)");
	if ((rc = hs_local_init(&d->hs, cfg->priv)) != 0) {
		snprintf(err, errlen, "the private key is not a usable X25519 key");
		return rc;
	}
	d->peers = calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof(*d->peers));
	if (!d->peers) {
		snprintf(err, errlen, "out of memory");
		return -NC_E_NOMEM;
	}
	d->n_peers = cfg->n_peers;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		struct dev_peer *p = &d->peers[i];

		p->cfg = &cfg->peers[i];
		vpn_key_to_b64(p->name, p->cfg->pub);
		hs_peer_init(&p->hs, p->cfg->pub);
		pthread_mutex_init(&p->lock, NULL);
		path_init(&p->path, &p->cfg->endpoint);
		tcpp_init(&p->tcp, 0); /* the port once the socket has one */
		/* Both ends of a pair would otherwise initiate at once; the lower key goes first,
		 * the other waits for traffic (or its keepalive). A peer without a static endpoint
		 * is reachable once introduced (initiate() waits for a route). */
		p->eager = memcmp(d->hs.pub, p->cfg->pub, 32) < 0 || p->cfg->keepalive_s;
	}
	if ((rc = rdv_init(&d->rdv, &cfg->server, cfg->server_pub, cfg->priv, d->hs.pub)) != 0) {
		snprintf(err, errlen, "ServerPublicKey is not a usable X25519 key");
		goto fail;
	}
	d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->tx_park_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->stop_fd < 0 || d->kick_fd < 0 || d->tx_park_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((rc = udp_open(&d->udp, cfg->listen_port, err, errlen)) != 0)
		goto fail;
	if ((rc = dev_tcp_init(d, err, errlen)) != 0 || (rc = dev_aux_init(d, err, errlen)) != 0 ||
	    (rc = rx_ep_init(d, err, errlen)) != 0)
		goto fail;
	if ((rc = tun_open(&d->tun, ifname, err, errlen)) != 0)
		goto fail;
	if ((rc = tun_configure(&d->tun, cfg, err, errlen)) != 0)
		goto fail;
	return 0;
fail:
	dev_stop(d);
	return rc;
}

int dev_start(struct dev *d, char *err, size_t errlen)
{
	int rc;

	tp_warm(); /* the first packet after the first handshake must not wait for libcrypto */
	/* Non-blocking TUN reads: the TX thread waits in poll, where the stop event reaches it. */
	int fl = fcntl(d->tun.fd, F_GETFL);
	fcntl(d->tun.fd, F_SETFL, fl | O_NONBLOCK);
	if ((rc = pthread_create(&d->tx, NULL, tx_main, d)) != 0) {
		snprintf(err, errlen, "starting the TX thread: %s", strerror(rc));
		return -rc;
	}
	if ((rc = pthread_create(&d->rx, NULL, rx_main, d)) != 0) {
		uint64_t one = 1;
		ssize_t w = write(d->stop_fd, &one, sizeof(one));
		(void)w;
		pthread_join(d->tx, NULL);
		snprintf(err, errlen, "starting the RX thread: %s", strerror(rc));
		return -rc;
	}
	d->threads = true;
	if ((rc = dev_link_start(d, err, errlen)) != 0)
		return rc;
	dev_tick(d);
	return 0;
}

static void initiate(struct dev *d, struct dev_peer *p, uint64_t now)
{
	uint8_t msg[WIRE_INIT_LEN];
	struct dev_route rt;
	uint32_t idx;
	int rc;

	pthread_mutex_lock(&p->lock);
	dev_peer_route(p, &rt);
	pthread_mutex_unlock(&p->lock);
	if (rt.kind == PATH_NONE)
		return;
	pthread_mutex_lock(&d->hs_lock);
	/* Retries back off from 250 ms to DEV_REKEY_TIMEOUT_MS: the first initiation of a pair
	 * often goes out before the other end is up. */
	uint64_t wait = 250ull << (p->hs_attempts < 5 ? p->hs_attempts : 5);
	if (wait > DEV_REKEY_TIMEOUT_MS)
		wait = DEV_REKEY_TIMEOUT_MS;
	if (p->hs.hs_active && now - p->hs_sent_ms < wait) {
		pthread_mutex_unlock(&d->hs_lock);
		return;
	}
	idx = new_index(d);
	rc = hs_initiation(&d->hs, &p->hs, idx, msg);
	p->hs_sent_ms = now;
	p->hs_attempts++;
	pthread_mutex_unlock(&d->hs_lock);
	if (rc == 0)
		dev_send_dgram(d, &rt, msg, sizeof(msg));
}

void dev_tick(struct dev *d)
{
	uint64_t now = dev_now_ms(), v;
	ssize_t r = read(d->kick_fd, &v, sizeof(v));

	(void)r;
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dev_peer *p = &d->peers[i];
		struct dev_sess *dead1 = NULL, *dead2 = NULL;
		bool need, have, confirming, staged_old = false;
		uint64_t last_rx = atomic_load(&p->last_rx_ms), last_tx = atomic_load(&p->last_tx_ms);

		pthread_mutex_lock(&p->lock);
		if (p->cur && tp_expired(&p->cur->s, now, &d->lim)) {
			dead1 = p->cur;
			p->cur = NULL;
		}
		if (p->prev && tp_expired(&p->prev->s, now, &d->lim)) {
			dead2 = p->prev;
			p->prev = NULL;
		}
		have = p->cur != NULL;
		/* A responder session that awaits the initiator's first packet will serve: starting a
		 * handshake of our own now would only make the two cross. */
		confirming = !have && p->next && vpn_since(now, p->next->s.birth_ms) < DEV_REKEY_TIMEOUT_MS;
		need = !confirming &&
		       (atomic_load(&p->want_hs) || (!have && (p->eager || p->n_staged)) ||
			(have && tp_wants_rekey(&p->cur->s, now, &d->lim)));
		staged_old = !have && p->n_staged && vpn_since(now, p->staged_since_ms) > 90000;
		pthread_mutex_unlock(&p->lock);
		dev_sess_put(dead1);
		dev_sess_put(dead2);
		if (staged_old) { /* WireGuard's REKEY_ATTEMPT_TIME: give up on what waits */
			pthread_mutex_lock(&p->lock);
			for (unsigned k = 0; k < p->n_staged; k++) {
				free(p->staged[k]);
				count(&p->st, DEV_DROP_NO_SESSION);
			}
			p->n_staged = 0;
			pthread_mutex_unlock(&p->lock);
		}
		if (need) {
			atomic_store(&p->want_hs, false);
			initiate(d, p, now);
			if (!have) /* keep asking while nothing works */
				continue;
		}
		if (!have)
			continue;
		/* Passive keepalive: we received since we last sent, and have been quiet. */
		if (last_rx > last_tx && vpn_since(now, last_tx) >= DEV_KEEPALIVE_MS)
			dev_keepalive(d, p, NULL);
		else if (p->cfg->keepalive_s && vpn_since(now, last_tx) >= p->cfg->keepalive_s * 1000ull)
			dev_keepalive(d, p, NULL);
	}
	dev_link_tick(d, now);
}

void dev_stop(struct dev *d)
{
	if (d->threads) {
		uint64_t one = 1;
		ssize_t w = write(d->stop_fd, &one, sizeof(one));
		(void)w;
		pthread_join(d->tx, NULL);
		pthread_join(d->rx, NULL);
		d->threads = false;
	}
	dev_link_stop(d);
	if (d->mrx) {
		rx_release(d->mrx);
		free(d->mrx->gro.buf);
		free(d->mrx->plain);
		free(d->mrx);
		d->mrx = NULL;
	}
	dev_tcp_stop(d);
	tun_close(&d->tun);
	udp_close(&d->udp);
	dev_aux_free(d);
	if (d->rx_ep >= 0)
		close(d->rx_ep);
	if (d->rx_kick_fd >= 0)
		close(d->rx_kick_fd);
	d->rx_ep = d->rx_kick_fd = -1;
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->kick_fd >= 0)
		close(d->kick_fd);
	if (d->tx_park_fd >= 0)
		close(d->tx_park_fd);
	d->stop_fd = d->kick_fd = d->tx_park_fd = -1;
	for (size_t i = 0; d->peers && i < d->n_peers; i++) {
		struct dev_peer *p = &d->peers[i];
		dev_sess_put(p->cur);
		dev_sess_put(p->prev);
		dev_sess_put(p->next);
		p->cur = p->prev = p->next = NULL;
		for (unsigned k = 0; k < p->n_staged; k++)
			free(p->staged[k]);
		p->n_staged = 0;
		hs_peer_wipe(&p->hs);
		tcpp_free(&p->tcp);
		pthread_mutex_destroy(&p->lock);
	}
	free(d->peers);
	d->peers = NULL;
	d->n_peers = 0;
	hs_local_wipe(&d->hs);
	rdv_free(&d->rdv);
}

/* ---- the main thread's receive context (TCP connections: devtcp.c) ----------------------- */

struct dev_rx *dev_main_rx(struct dev *d)
{
	struct dev_rx *x = d->mrx;

	if (!x) {
		x = calloc(1, sizeof(*x));
		uint8_t *grobuf = x ? malloc(OFF_VNET_LEN + OFF_MAX_PACKET) : NULL;
		if (x)
			x->plain = malloc(RX_BUF);
		if (!x || !grobuf || !x->plain) {
			if (x)
				free(x->plain);
			free(grobuf);
			free(x);
			return NULL;
		}
		x->d = d;
		off_gro_init(&x->gro, grobuf);
		d->mrx = x;
	}
	return x;
}

void dev_rx_dgram(struct dev_rx *x, const uint8_t *dgram, size_t len, const struct dev_from *from)
{
	rx_datagram(x, dgram, len, from);
}

void dev_rx_done(struct dev_rx *x)
{
	gro_flush(x);
	rx_release(x);
}
