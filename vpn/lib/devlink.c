/* The device's side of the rendezvous (issue 10 §4): registration rounds, introductions, hole
 * punching and the path per peer, the NAT profile's events. The state machines themselves are
 * pure (path.c, rdv.c); this file moves datagrams for them. */
#include "devpriv.h"

#include <natcheck/error.h>
#include <natcheck/log.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "outlog.h"
#include "strategy.h"

int dev_send_dgram(struct dev *d, const struct dev_route *rt, const uint8_t *buf, size_t len)
{
	uint8_t wrapped[COORD_RELAY_HDR_LEN + 256];
	struct sockaddr_storage ss;
	socklen_t sl;

	switch (rt->kind) {
	case PATH_DIRECT: {
		struct udp *u = dev_route_udp(d, rt);

		if (!u)
			return -ENOTCONN;
		sl = udp_sockaddr(u, &rt->ep, &ss);
		return sl ? udp_send_batch(u, &ss, sl, buf, len, len) : -EAFNOSUPPORT;
	}
	case PATH_RELAY:
		/* Handshake messages only (transport packets are wrapped in send_sealed). */
		if (len > sizeof(wrapped) - COORD_RELAY_HDR_LEN)
			return -NC_E_RANGE;
		coord_put_relay_hdr(wrapped, rt->relay_id);
		memcpy(wrapped + COORD_RELAY_HDR_LEN, buf, len);
		return rdv_send(&d->rdv, &d->udp, wrapped, COORD_RELAY_HDR_LEN + len);
	case PATH_TCP:
		return tcpp_send(rt->tcp, buf, len) < 0 ? -ENOTCONN : 0;
	default:
		return -ENOTCONN;
	}
}

static void log_path(const struct dev_peer *p, const struct path *path)
{
	char ep[NC_ADDR_STRLEN];

	if (path->kind == PATH_DIRECT)
		nc_log_info("peer %.8s: direct at %s (%s)", p->name, nc_addr_str(&path->ep, ep),
			    path_why_text(path->why));
	else
		nc_log_info("peer %.8s: %s (%s)", p->name, path_kind_name(path->kind),
			    path_why_text(path->why));
}

void dev_peer_rx(struct dev *d, struct dev_peer *p, const struct dev_from *src, uint64_t now)
{
	struct path snap;
	bool newly;

	/* Over a TCP connection: a proof of that peer's connection only (tcppunch.h). */
	if (src->tcp && src->tcp != &p->tcp)
		return;
	if (src->tcp)
		tcpp_proven(src->tcp);
	pthread_mutex_lock(&p->lock);
	newly = src->tcp ? path_tcp_rx(&p->path, now)
			 : path_rx_on(&p->path, &src->addr, src->sock, src->relayed, now);
	snap = p->path;
	/* The lower key re-handshakes over the direct path: fresh keys, and an RTT of the path
	 * that carries the traffic (when the latest handshake went through the relay). From
	 * dev_link_tick, not now: the peer refuses initiations closer than
	 * HS_MIN_INIT_INTERVAL_MS, and the last one may be that recent. */
	if (newly && p->rtt_path != PATH_DIRECT && memcmp(d->hs.pub, p->cfg->pub, 32) < 0)
		p->rehs = true;
	if (newly)
		dev_bday_direct(d, p, src->sock, now);
	pthread_mutex_unlock(&p->lock);
	if (!newly)
		return;
	log_path(p, &snap);
	/* Answer on the new path at once: the peer proves it too, one packet later. */
	dev_keepalive(d, p, NULL);
}

/* Port prediction: when the strategy table puts it first among the direct methods (a
 * sequential, endpoint-dependent peer against our endpoint-independent mapping), the peer's
 * next mappings are at its observed port plus k times the measured step. Our probes to them
 * open our own filter for the peer's new mapping toward us, whose packets then get in. */
void dev_plan(struct dev *d, const struct coord_profile *peer, const struct nc_addr *observed,
	      size_t n_local, struct strat_plan *plan)
{
	struct coord_profile mine;
	struct strat_side me = {.prof = dev_my_profile(d, &mine) ? &mine : NULL};
	struct strat_side them = {.prof = peer, .observed = *observed, .n_local = n_local};

	pthread_mutex_lock(&d->rdv.lock);
	me.observed = d->rdv.observed;
	pthread_mutex_unlock(&d->rdv.lock);
	strategy_plan(&me, &them, plan);
}

static size_t predict_cands(struct dev *d, const struct coord_intro *in, struct nc_addr *out,
			    size_t max)
{
	struct strat_plan plan;
	size_t n = 0;

	dev_plan(d, in->prof.measured ? &in->prof : NULL, &in->observed, in->n_local, &plan);
	if (strategy_first_direct(&plan) != STRAT_PREDICT || !in->prof.port_step ||
	    !nc_addr_is_set(&in->observed))
		return 0;
	for (long k = 1; n < max && k <= (long)max; k++) {
		long port = (long)in->observed.port + k * in->prof.port_step;

		if (port < 1 || port > 65535)
			break;
		out[n] = in->observed;
		out[n++].port = (uint16_t)port;
	}
	return n;
}

void dev_coord_input(struct dev *d, const uint8_t *buf, size_t len)
{
	struct coord_msg m;
	struct dev_peer *p;
	uint64_t now = dev_now_ms();
	int rc = rdv_input(&d->rdv, buf, len, now, &m);

	if (rc < 0) {
		atomic_fetch_add(&d->st.drop[rc == -NC_E_AUTH ? DEV_DROP_BAD_TAG : DEV_DROP_MALFORMED], 1);
		return;
	}
	if (rc == 1 && d->vm) { /* REGISTERED: the observed address judges the gateway's claim */
		struct nc_addr observed;

		pthread_mutex_lock(&d->rdv.lock);
		observed = d->rdv.observed;
		pthread_mutex_unlock(&d->rdv.lock);
		vpnmap_set_observed(d->vm, &observed);
	}
	if (rc == 1 || m.kind != COORD_INTRO)
		return;
	/* The server introduces only peers that list each other; we also act only on peers we
	 * list, and never re-route a peer with a static endpoint. */
	p = dev_peer_by_key(d, m.u.intro.peer);
	if (!p || p->path.fixed)
		return;
	/* A gateway mapping the peer advertises is a candidate like its local endpoints, and so
	 * are the ports a sequential allocator will give the peer's next mappings (the strategy
	 * table's prediction). */
	struct nc_addr cands[COORD_MAX_LOCAL + 1 + PATH_PREDICT_WINDOW];
	size_t n = m.u.intro.n_local;

	memcpy(cands, m.u.intro.local, n * sizeof(cands[0]));
	if (m.u.intro.prof.portmap != COORD_PM_NONE && nc_addr_is_set(&m.u.intro.prof.portmap_ep))
		cands[n++] = m.u.intro.prof.portmap_ep;
	n += predict_cands(d, &m.u.intro, cands + n, PATH_PREDICT_WINDOW);
	enum bday_role role = dev_bday_role(d, &m.u.intro);
	pthread_mutex_lock(&p->lock);
	p->peer_prof = m.u.intro.prof;
	p->bday_role = role;
	path_intro(&p->path, m.u.intro.relay_id, &m.u.intro.observed, cands, n, now);
	pthread_mutex_unlock(&p->lock);
	dev_tcp_intro(d, p, &m.u.intro);
	dev_kick(d); /* punch and handshake now, not at the next tick */
}

bool dev_my_profile(struct dev *d, struct coord_profile *prof)
{
	memset(prof, 0, sizeof(*prof));
	if (d->np)
		*prof = d->nat.prof;
	if (d->vm) /* the real mapping replaces the measurement's address-only hint */
		vpnmap_fill_profile(&d->map, prof);
	return prof->measured;
}

static void register_round(struct dev *d, uint64_t now)
{
	struct nc_addr local[COORD_MAX_LOCAL];
	struct coord_profile prof = {0};
	uint8_t (*wants)[VPN_KEY_LEN] = malloc((d->n_peers ? d->n_peers : 1) * VPN_KEY_LEN);
	size_t n_local, n_wants = 0;

	if (!wants)
		return;
	/* Wanted: every peer without a static endpoint (those keep their configured path). */
	for (size_t i = 0; i < d->n_peers; i++)
		if (!d->peers[i].path.fixed)
			memcpy(wants[n_wants++], d->peers[i].cfg->pub, VPN_KEY_LEN);
	n_local = natprof_local_addrs(d->tun.name, d->udp.port, local, COORD_MAX_LOCAL);
	dev_my_profile(d, &prof);
	rdv_register(&d->rdv, &d->udp, &prof, local, n_local,
		     (const uint8_t(*)[VPN_KEY_LEN])wants, n_wants, now);
	free(wants);
}

/* Whether this side's binding lifetime is still to come (natprof's lifetime stage runs or
 * follows): it keeps a short keepalive meanwhile (strategy_keepalive). */
bool dev_lifetime_pending(struct dev *d)
{
	return d->np && (d->nat.generation == 0 || d->nat.lifetime_pending);
}

/* Probes are authenticated keepalives on the current session: what arrives proves the path
 * at the other end (before the handshake, the relay carries it). They need a session: without
 * one the round waits (the end of the handshake calls this again, so it goes at once then). */
void dev_punch_now(struct dev *d, struct dev_peer *p, uint64_t now)
{
	struct nc_addr cand[PATH_MAX_CANDS + 1];
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->cur ? path_punch_due(&p->path, now, cand, PATH_MAX_CANDS + 1) : 0;
	pthread_mutex_unlock(&p->lock);
	for (size_t k = 0; k < n; k++) {
		struct dev_route probe = {.kind = PATH_DIRECT, .ep = cand[k]};
		dev_keepalive(d, p, &probe);
	}
}

void dev_link_tick(struct dev *d, uint64_t now)
{
	struct coord_profile mine;
	struct strat_keepalive own;
	bool have_mine = dev_my_profile(d, &mine), pending = dev_lifetime_pending(d);

	/* Our binding toward the server lives by this side's measured lifetime alone: it sets how
	 * often we register when that is sooner than the server asks (rdv_set_binding_ms). */
	strategy_keepalive(have_mine ? &mine : NULL, NULL, false, &own);
	rdv_set_binding_ms(&d->rdv, own.from == STRAT_AT_NONE ? 0 : own.ms);
	if (rdv_due(&d->rdv, &d->udp, now))
		register_round(d, now);
	dev_tcp_tick(d, now);
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dev_peer *p = &d->peers[i];
		struct dev_route rt;
		struct path snap;
		struct strat_keepalive ka;
		bool changed, rehs = false;

		if (p->path.fixed)
			continue;
		pthread_mutex_lock(&p->lock);
		/* Keepalives from both sides' measured lifetimes (issue 11 §3), recomputed every
		 * tick: a new measurement here or a new INTRO applies at once. */
		strategy_keepalive(have_mine ? &mine : NULL,
				   p->peer_prof.measured ? &p->peer_prof : NULL, pending, &ka);
		path_set_keepalive(&p->path, ka.send_ms, ka.ms, now);
		changed = path_tick(&p->path, now);
		dev_peer_route(p, &rt);
		snap = p->path;
		if (p->rehs && rt.kind == PATH_DIRECT &&
		    vpn_since(now, atomic_load(&p->last_hs_ms)) >= 5 * HS_MIN_INIT_INTERVAL_MS) {
			p->rehs = false;
			rehs = true;
		}
		pthread_mutex_unlock(&p->lock);
		if (rehs) /* the next dev_tick initiates */
			atomic_store(&p->want_hs, true);
		if (changed)
			log_path(p, &snap);
		if (d->outlog) /* a punching round that ended becomes an outcome document */
			outlog_dev_tick(d, p, &snap);
		dev_punch_now(d, p, now);
		dev_bday_tick(d, p, now);
		/* A punched path lives on both ends' keepalives: silence then means it is gone. */
		if (rt.kind == PATH_DIRECT && vpn_since(now, atomic_load(&p->last_tx_ms)) >= snap.ka_ms)
			dev_keepalive(d, p, &rt);
	}
}

int dev_link_start(struct dev *d, char *err, size_t errlen)
{
	/* With the binding lifetime: the direct path's keepalive follows it (issue 11 §3). */
	struct natprof_cfg nc = {.skip_ifname = d->tun.name, .lifetime = true};
	char a[NC_ADDR_STRLEN];
	int rc;

	(void)err;
	(void)errlen;
	if (!nc_addr_is_set(&d->rdv.server)) /* no Server: no rendezvous, no profile */
		return 0;
	nc.stun = d->cfg->natcheck;
	/* The measurement runs on its own thread and sockets: the tunnel works without it. */
	if ((rc = natprof_start(&d->np, &nc)) != 0) {
		d->np = NULL;
		snprintf(d->nat_err, sizeof(d->nat_err), "not measured (%s: %s)",
			 nc_addr_str(&nc.stun, a), nc_strerror(rc));
		nc_log_warnx("NAT profile: %s", d->nat_err);
	}
	if (d->cfg->port_mapping) {
		struct vpnmap_cfg mc = {.port = d->udp.port};

		if ((rc = vpnmap_start(&d->vm, &mc)) != 0) {
			d->vm = NULL;
			nc_log_warnx("port mapping: not started (%s)", nc_strerror(rc));
		}
	}
	return 0;
}

void dev_link_stop(struct dev *d)
{
	/* Every mapping made is deleted on the way down (down, SIGTERM, SIGINT). */
	if (d->vm && vpnmap_stop(d->vm, 3000) != 0)
		nc_log_warnx("port mapping: a mapping could not be deleted in time");
	d->vm = NULL;
	if (d->np)
		natprof_stop(d->np);
	d->np = NULL;
}

bool dev_failed(struct dev *d, char *err, size_t errlen)
{
	return rdv_unreachable(&d->rdv, err, errlen);
}

int dev_nat_fd(struct dev *d)
{
	return d->np ? natprof_fd(d->np) : -1;
}

void dev_nat_event(struct dev *d)
{
	struct natprof_state st;
	uint64_t now = dev_now_ms();

	if (!d->np)
		return;
	natprof_state(d->np, &st);
	if (st.net_generation != d->nat.net_generation) {
		/* Addresses or routes changed: the old mappings are likely gone. Re-register at
		 * once (the server learns the new endpoint and re-introduces), fall back to the
		 * relay and punch again. */
		d->net_changes++;
		nc_log_info("network changed: re-registering, re-punching");
		for (size_t i = 0; i < d->n_peers; i++) {
			struct dev_peer *p = &d->peers[i];
			pthread_mutex_lock(&p->lock);
			path_net_change(&p->path, now);
			pthread_mutex_unlock(&p->lock);
		}
		rdv_net_change(&d->rdv);
		if (d->vm)
			vpnmap_network_changed(d->vm);
	}
	if (st.generation != d->nat.generation) {
		nc_log_info("NAT profile: %s", st.summary);
		rdv_force(&d->rdv);
	}
	d->nat = st;
	dev_kick(d);
}

void dev_repunch(struct dev *d)
{
	uint64_t now = dev_now_ms();

	for (size_t i = 0; i < d->n_peers; i++) {
		struct dev_peer *p = &d->peers[i];

		pthread_mutex_lock(&p->lock);
		path_repunch(&p->path, now);
		pthread_mutex_unlock(&p->lock);
	}
	dev_kick(d);
}

int dev_map_fd(struct dev *d)
{
	return d->vm ? vpnmap_fd(d->vm) : -1;
}

void dev_map_event(struct dev *d)
{
	struct vpnmap_state st;
	struct coord_profile before = {0}, after = {0};
	char ext[NC_ADDR_STRLEN];

	if (!d->vm)
		return;
	vpnmap_state(d->vm, &st);
	vpnmap_fill_profile(&d->map, &before);
	vpnmap_fill_profile(&st, &after);
	d->map = st;
	if (before.portmap == after.portmap && nc_addr_eq(&before.portmap_ep, &after.portmap_ep))
		return;
	if (after.portmap != COORD_PM_NONE)
		nc_log_info("port mapping: %s %s advertised", vpnmap_pm_name(after.portmap),
			    nc_addr_str(&after.portmap_ep, ext));
	else
		nc_log_info("port mapping: none advertised (%s)", st.why[0] ? st.why : vpnmap_status_name(st.status));
	rdv_force(&d->rdv); /* register the change at once */
	dev_kick(d);
}
