/* REGISTER -> REGISTERED, and INTROs between peers that list each other (coord.h).
 *
 * Validate, then authenticate, then commit: the source IP's rate is checked before any
 * Diffie-Hellman, the box is opened before anything about the key is believed, and the
 * timestamp is checked before the table changes. A refused datagram gets no answer (an
 * answer would make the server a reflector for forged sources) and is counted by reason. */
#include <natcheck/error.h>
#include <natcheck/log.h>

#include <sodium.h>
#include <string.h>

#include "srv.h"

static bool prof_eq(const struct coord_profile *a, const struct coord_profile *b)
{
	return a->measured == b->measured && a->mapping == b->mapping &&
	       a->filtering == b->filtering && a->allocation == b->allocation &&
	       a->port_step == b->port_step && a->lifetime_s == b->lifetime_s &&
	       a->udp_blocked == b->udp_blocked && a->tcp_punchable == b->tcp_punchable &&
	       a->hairpin == b->hairpin && a->portmap == b->portmap &&
	       a->portmap_ep.family == b->portmap_ep.family &&
	       nc_addr_eq(&a->portmap_ep, &b->portmap_ep);
}

static bool locals_eq(const struct pvd_peer *p, const struct coord_register *r)
{
	if (p->n_local != r->n_local)
		return false;
	for (size_t i = 0; i < r->n_local; i++)
		if (p->local[i].family != r->local[i].family ||
		    !nc_addr_eq(&p->local[i], &r->local[i]))
			return false;
	return true;
}

static char *key_str(const uint8_t *pub, char out[VPN_KEY_B64_LEN + 1])
{
	vpn_key_to_b64(out, pub);
	return out;
}

/* The TCP connection a peer registered over last is still open: its source is where a TCP
 * simultaneous open meets the peer (its NAT keeps the mapping while the connection lives). */
static bool tcp_alive(const struct pvd_server *s, const struct pvd_peer *p)
{
	return p->tcp_idx >= 0 && (unsigned)p->tcp_idx < s->cfg.max_tcp &&
	       s->conns[p->tcp_idx].fd >= 0 && s->conns[p->tcp_idx].gen == p->tcp_gen;
}

/* One INTRO to `to` about `about`. */
static void send_intro(struct pvd_server *s, struct pvd_peer *to, const struct pvd_peer *about)
{
	struct coord_msg m;
	uint8_t dg[COORD_MAX_DATAGRAM];
	int n;

	memset(&m, 0, sizeof(m));
	m.kind = COORD_INTRO;
	m.ts_ms = s->wall_ms;
	memcpy(m.u.intro.peer, about->pub, VPN_KEY_LEN);
	m.u.intro.relay_id = about->relay_id;
	/* A peer that only registered over TCP has no UDP mapping to punch to: none. */
	m.u.intro.observed = about->udp_ep;
	if (tcp_alive(s, about))
		m.u.intro.tcp = about->tcp_ep;
	m.u.intro.prof = about->prof;
	memcpy(m.u.intro.local, about->local, sizeof(about->local));
	m.u.intro.n_local = about->n_local;
	n = coord_seal(to->boxkey, s->cfg.pub, &m, dg, sizeof(dg));
	if (n < 0 || pvd_send_peer(s, to, dg, (size_t)n) != 0) {
		s->ctr.send_failed++;
		return;
	}
	s->ctr.intros++;
}

/* The pair (p, q) when both list each other: INTROs to both the first time, again when
 * either's endpoints or profile changed, and otherwise at most once a second (a registration
 * that repeats them covers a lost INTRO). */
static void maybe_introduce(struct pvd_server *s, struct pvd_peer *p, struct pvd_peer *q)
{
	struct pvd_want *wp, *wq;
	char a[VPN_KEY_B64_LEN + 1], b[VPN_KEY_B64_LEN + 1];

	if (!pvd_mutual(p, q, s->now_ms))
		return;
	wp = pvd_want_find(p, q->pub, s->now_ms);
	wq = pvd_want_find(q, p->pub, s->now_ms);
	if (wp->intro_ms && wq->intro_ms && wp->gen_me == p->gen && wp->gen_them == q->gen &&
	    wq->gen_me == q->gen && wq->gen_them == p->gen &&
	    s->now_ms - wp->intro_ms < PVD_INTRO_MIN_MS)
		return;
	if (!wp->intro_ms || !wq->intro_ms)
		pvd_event(s, PVD_LOG_INTRODUCED, "introducing %s and %s", key_str(p->pub, a),
			  key_str(q->pub, b));
	send_intro(s, p, q);
	send_intro(s, q, p);
	wp->intro_ms = wq->intro_ms = s->now_ms;
	wp->gen_me = wq->gen_them = p->gen;
	wp->gen_them = wq->gen_me = q->gen;
}

/* Authenticated and fresh: the table learns the registration. */
static struct pvd_peer *commit(struct pvd_server *s, const struct pvd_src *src, struct pvd_peer *p,
			       const uint8_t pub[VPN_KEY_LEN], const uint8_t key[32],
			       const struct coord_msg *m)
{
	const struct coord_register *r = &m->u.reg;
	bool evicted, dropped, changed;
	char k[VPN_KEY_B64_LEN + 1], e[NC_ADDR_STRLEN];

	if (!p) {
		p = pvd_peer_add(&s->peers, pub, key, &evicted);
		if (evicted) {
			s->ctr.evicted++; /* s->live is recounted at the next sweep */
			nc_log_debug_limited(
			    "table full (%u): least recently registered key evicted", s->peers.cap);
		}
	}
	if (!p->registered) {
		s->ctr.new_peers++;
		s->live++;
		pvd_event(s, PVD_LOG_REGISTERED, "peer %s registered from %s%s", key_str(pub, k),
			  nc_addr_str(&src->addr, e), src->conn >= 0 ? " (tcp)" : "");
	}
	/* A REGISTER that only shows the TCP mapping (COORD_REG_TCP_SHOW) leaves the relay on
	 * the transport of the peer's other registrations. */
	changed = !p->registered || !prof_eq(&p->prof, &r->prof) || !locals_eq(p, r) ||
		  (!r->tcp_show && p->last_tcp != (src->conn >= 0));
	if (src->conn < 0) {
		changed |=
		    !nc_addr_eq(&p->udp_ep, &src->addr) || p->udp_ep.family != src->addr.family;
		pvd_peer_set_udp(&s->peers, p, &src->addr);
		p->udp_lidx = src->lidx;
		p->last_tcp = false;
	} else {
		struct pvd_conn *c = &s->conns[src->conn];
		/* A new TCP endpoint is news for the peer's INTROs (TCP simultaneous open). */
		changed |= !tcp_alive(s, p) || !nc_addr_eq(&p->tcp_ep, &src->addr) ||
			   p->tcp_ep.family != src->addr.family;
		p->tcp_idx = src->conn;
		p->tcp_gen = c->gen;
		p->tcp_ep = src->addr;
		if (!r->tcp_show)
			p->last_tcp = true;
		c->peer_idx = pvd_peer_index(&s->peers, p);
		c->peer_gen = p->slot_gen;
	}
	if (changed)
		p->gen++;
	p->prof = r->prof;
	memcpy(p->local, r->local, sizeof(r->local));
	p->n_local = r->n_local;
	p->last_ts = m->ts_ms;
	p->last_reg_ms = s->now_ms;
	p->registered = true;
	pvd_peer_touch(&s->peers, p);
	for (size_t i = 0; i < r->n_wants; i++) {
		if (memcmp(r->wants[i], pub, VPN_KEY_LEN) == 0)
			continue;
		if (!pvd_want_refresh(&s->peers, p, r->wants[i], s->now_ms,
				      COORD_WANT_TTL_S * 1000ull, &dropped) ||
		    dropped)
			s->ctr.wants_dropped++;
	}
	return p;
}

void pvd_handle_coord(struct pvd_server *s, const struct pvd_src *src, const uint8_t *buf,
		      size_t len)
{
	uint8_t pub[VPN_KEY_LEN], fresh[32], dg[COORD_MAX_DATAGRAM];
	const uint8_t *key;
	struct pvd_peer *p;
	struct coord_msg m, ack;
	char a[NC_ADDR_STRLEN];
	int rc, n;

	if (coord_peek_sender(buf, len, pub) != 0 ||
	    sodium_memcmp(pub, s->cfg.pub, VPN_KEY_LEN) == 0) {
		s->ctr.malformed++;
		return;
	}
	/* Before any X25519 or Poly1305: each source IP gets a small rate. */
	if (!hsrl_allow(&s->rl, &src->addr, s->now_ms)) {
		s->ctr.rate_limited++;
		nc_log_debug_limited("coordination from %s over its rate",
				     nc_addr_ip_str(&src->addr, a));
		return;
	}
	p = pvd_peer_by_pub(&s->peers, pub);
	if (p) {
		key = p->boxkey; /* X25519 ran when the key entered the table */
	} else {
		s->ctr.dh++;
		if (coord_shared_key(fresh, s->cfg.priv, pub) != 0) {
			s->ctr.malformed++;
			return;
		}
		key = fresh;
	}
	rc = coord_unseal(key, buf, len, &m);
	if (rc != 0) {
		if (rc == -NC_E_AUTH)
			s->ctr.auth_failed++;
		else
			s->ctr.malformed++;
		nc_log_debug_limited("coordination from %s refused: %s", nc_addr_str(&src->addr, a),
				     nc_strerror(rc));
		goto out;
	}
	if (m.kind != COORD_REGISTER) {
		s->ctr.not_register++;
		goto out;
	}
	/* Showing the TCP mapping means nothing over UDP. */
	if (m.u.reg.tcp_show && src->conn < 0) {
		s->ctr.malformed++;
		goto out;
	}
	if (m.ts_ms > s->wall_ms + COORD_CLOCK_SKEW_MS ||
	    m.ts_ms + COORD_CLOCK_SKEW_MS < s->wall_ms) {
		s->ctr.clock_skew++;
		nc_log_debug_limited("registration from %s: clock %+lld ms from ours",
				     nc_addr_str(&src->addr, a), (long long)(m.ts_ms - s->wall_ms));
		goto out;
	}
	/* Strictly growing per key, and never older than this server: a registration captured
	 * before a restart cannot be replayed after it. */
	if ((p && m.ts_ms <= p->last_ts) || m.ts_ms < s->start_wall_ms) {
		s->ctr.replayed++;
		nc_log_debug_limited("registration from %s: replayed or older than the last",
				     nc_addr_str(&src->addr, a));
		goto out;
	}
	p = commit(s, src, p, pub, key, &m);
	memset(&ack, 0, sizeof(ack));
	ack.kind = COORD_REGISTERED;
	ack.ts_ms = m.ts_ms;
	ack.u.ack.observed = src->addr;
	ack.u.ack.relay_id = p->relay_id;
	ack.u.ack.keepalive_s = (uint16_t)s->cfg.keepalive_s;
	n = coord_seal(p->boxkey, s->cfg.pub, &ack, dg, sizeof(dg));
	if (n < 0 || pvd_send_src(s, src, dg, (size_t)n) != 0)
		s->ctr.send_failed++;
	s->ctr.registered++;
	for (size_t i = 0; i < m.u.reg.n_wants; i++) {
		struct pvd_peer *q = pvd_peer_by_pub(&s->peers, m.u.reg.wants[i]);
		if (q)
			maybe_introduce(s, p, q);
	}
out:
	sodium_memzero(fresh, sizeof(fresh));
}
