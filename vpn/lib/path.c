#include "path.h"

#include <natcheck/result.h>

#include <string.h>

#include "since.h"

static const char *const why_text[] = {
#define PATH_WHY_TEXT_(n, s) s,
	PATH_WHY_TABLE(PATH_WHY_TEXT_)
#undef PATH_WHY_TEXT_
};

const char *path_why_text(enum path_why w)
{
	return (size_t)w < sizeof(why_text) / sizeof(why_text[0]) ? why_text[w] : "?";
}

const char *path_kind_name(enum path_kind k)
{
	return k == PATH_DIRECT || k == PATH_TCP ? "direct" : k == PATH_RELAY ? "relay" : "none";
}

void path_init(struct path *p, const struct nc_addr *static_ep)
{
	memset(p, 0, sizeof(*p));
	p->kind = PATH_NONE;
	p->why = PATH_WHY_NO_INTRO;
	p->ka_ms = p->peer_ka_ms = PATH_KEEPALIVE_MS;
	p->silence_ms = PATH_SILENCE_MS;
	if (static_ep && nc_addr_is_set(static_ep)) {
		p->fixed = true;
		p->kind = PATH_DIRECT;
		p->why = PATH_WHY_STATIC;
		p->ep = *static_ep;
	}
}

static bool is_cand(const struct path *p, const struct nc_addr *a)
{
	for (size_t i = 0; i < p->n_cand; i++)
		if (nc_addr_eq(&p->cand[i], a))
			return true;
	return false;
}

static void add_cand(struct path *p, const struct nc_addr *a)
{
	if (!nc_addr_is_set(a) || a->port == 0 || p->n_cand >= PATH_MAX_CANDS || is_cand(p, a))
		return;
	p->cand[p->n_cand++] = *a;
}

static void start_punch(struct path *p, uint64_t now)
{
	p->punching = true;
	p->punch_start_ms = p->next_punch_ms = now;
	p->intro_ms = now;
	p->first_direct_ms = 0;
}

static bool direct(const struct path *p)
{
	return p->kind == PATH_DIRECT || p->kind == PATH_TCP;
}

void path_set_keepalive(struct path *p, unsigned ka_ms, unsigned peer_ka_ms, uint64_t now)
{
	uint64_t silence, before;

	if (ka_ms)
		p->ka_ms = ka_ms;
	if (!peer_ka_ms || peer_ka_ms == p->peer_ka_ms)
		return;
	before = path_silence_ms(p, now);
	p->peer_ka_ms = peer_ka_ms;
	silence = PATH_SILENCE_OF(peer_ka_ms);
	/* Shorter: the peer still keeps its old pace until it hears of the change; a gap it
	 * leaves meanwhile is no lost path. */
	if (silence < before) {
		p->old_silence_ms = before;
		p->old_until_ms = now + before;
	} else {
		p->old_silence_ms = p->old_until_ms = 0;
	}
	p->silence_ms = silence;
}

uint64_t path_silence_ms(const struct path *p, uint64_t now)
{
	/* A TCP path keeps a connection, not a UDP binding: both ends send on it every
	 * PATH_KEEPALIVE_MS whatever the lifetimes (devtcp.c), so its limit is that cadence's. */
	if (p->kind == PATH_TCP)
		return PATH_SILENCE_MS;
	if (now < p->old_until_ms && p->old_silence_ms > p->silence_ms)
		return p->old_silence_ms;
	return p->silence_ms;
}

static bool direct_alive(const struct path *p, uint64_t now)
{
	return direct(p) && vpn_since(now, p->last_direct_rx_ms) <= path_silence_ms(p, now);
}

void path_intro(struct path *p, uint32_t relay_id, const struct nc_addr *observed,
		const struct nc_addr *local, size_t n_local, uint64_t now)
{
	if (p->fixed)
		return;
	p->relay = true;
	p->relay_id = relay_id;
	p->n_cand = 0;
	p->observed = *observed;
	add_cand(p, observed);
	for (size_t i = 0; i < n_local; i++)
		add_cand(p, &local[i]);
	if (p->kind == PATH_NONE) {
		p->kind = PATH_RELAY;
		p->why = PATH_WHY_PUNCHING;
	}
	/* Introductions repeat (at most once a second per pair, and on every change): a round
	 * that runs goes on, a live direct path stays. */
	if (!p->punching && !direct_alive(p, now) && p->n_cand) {
		if (p->kind == PATH_RELAY)
			p->why = PATH_WHY_PUNCHING;
		start_punch(p, now);
	}
}

static void fall_back(struct path *p, enum path_why why, uint64_t now);

bool path_rx(struct path *p, const struct nc_addr *from, bool relayed, uint64_t now)
{
	return path_rx_on(p, from, 0, relayed, now);
}

bool path_rx_on(struct path *p, const struct nc_addr *from, int sock, bool relayed, uint64_t now)
{
	/* The peer sends through the relay while our direct path is quiet: its side of the path
	 * is gone (its address changed, or it stopped hearing us). Follow it now rather than at
	 * our own silence limit, sending into a dead mapping until then. */
	if (relayed && direct(p) && !p->fixed && p->relay &&
	    vpn_since(now, p->last_direct_rx_ms) > PATH_RELAYED_QUIET_MS)
		fall_back(p, PATH_WHY_PEER_RELAYS, now);
	if (relayed || !nc_addr_is_set(from))
		return false;
	p->last_direct_rx_ms = now;
	if (p->kind == PATH_DIRECT) {
		/* Roaming, only ever on an authenticated packet (the caller's promise). */
		p->ep = *from;
		p->ep_sock = sock;
		if (p->fixed)
			return false;
		p->punching = false;
		if (p->why == PATH_WHY_SILENT || p->why == PATH_WHY_NET_CHANGE ||
		    p->why == PATH_WHY_PEER_RELAYS)
			p->why = is_cand(p, from) ? PATH_WHY_PROVEN : PATH_WHY_LEARNED;
		return false;
	}
	p->kind = PATH_DIRECT;
	p->ep = *from;
	p->ep_sock = sock;
	/* The source proves the path whether or not it was a candidate: a symmetric NAT gives
	 * the peer a new mapping toward us, which no introduction could have named. */
	p->why = is_cand(p, from) ? PATH_WHY_PROVEN
		 : p->relay       ? PATH_WHY_REFLEXIVE
				  : PATH_WHY_LEARNED;
	if (p->intro_ms && !p->first_direct_ms)
		p->first_direct_ms = now;
	p->punching = false;
	p->switches++;
	p->switch_ms = now;
	return true;
}

bool path_tcp_rx(struct path *p, uint64_t now)
{
	if (p->fixed || (p->kind == PATH_DIRECT && direct_alive(p, now)))
		return false; /* a live UDP path stays: it is the cheaper one */
	p->last_direct_rx_ms = now;
	if (p->kind == PATH_TCP)
		return false;
	p->kind = PATH_TCP;
	p->why = PATH_WHY_TCP;
	if (p->intro_ms && !p->first_direct_ms)
		p->first_direct_ms = now;
	p->punching = false;
	p->switches++;
	return true;
}

bool path_tcp_down(struct path *p, uint64_t now)
{
	if (p->kind != PATH_TCP)
		return false;
	fall_back(p, PATH_WHY_TCP_CLOSED, now);
	return true;
}

enum path_kind path_route(const struct path *p, struct nc_addr *ep, uint32_t *relay_id)
{
	if (p->kind == PATH_DIRECT)
		*ep = p->ep;
	else if (p->kind == PATH_RELAY)
		*relay_id = p->relay_id;
	return p->kind;
}

size_t path_punch_due(struct path *p, uint64_t now, struct nc_addr *out, size_t max)
{
	uint64_t elapsed, gap;
	size_t n = 0;

	if (p->fixed || !p->punching)
		return 0;
	elapsed = vpn_since(now, p->punch_start_ms);
	if (elapsed >= PATH_PUNCH_GIVEUP_MS) {
		p->punching = false;
		p->gaveup_round_ms = p->intro_ms;
		if (p->kind != PATH_DIRECT)
			p->why = PATH_WHY_NO_DIRECT;
		return 0;
	}
	if (now < p->next_punch_ms)
		return 0;
	/* Fast while both sides are likely punching at once, then backing off: a late peer
	 * (its introduction lost, its host slow to come up) still meets us. */
	gap = elapsed < PATH_PUNCH_FAST_FOR_MS ? PATH_PUNCH_FAST_MS : elapsed / 4;
	if (gap > PATH_PUNCH_MAX_MS)
		gap = PATH_PUNCH_MAX_MS;
	p->next_punch_ms = now + gap;
	for (size_t i = 0; i < p->n_cand && n < max; i++)
		out[n++] = p->cand[i];
	/* The last direct endpoint too (a re-punch after silence or a network change). */
	if (nc_addr_is_set(&p->ep) && !is_cand(p, &p->ep) && n < max)
		out[n++] = p->ep;
	return n;
}

static void fall_back(struct path *p, enum path_why why, uint64_t now)
{
	if (direct(p) && p->relay) {
		p->kind = PATH_RELAY;
		p->switches++;
		p->switch_ms = now;
	}
	p->why = why;
	if (p->n_cand || nc_addr_is_set(&p->ep))
		start_punch(p, now);
}

bool path_tick(struct path *p, uint64_t now)
{
	if (p->fixed || !direct(p) || direct_alive(p, now))
		return false;
	/* Without a relay the last endpoint stays the route (nothing better), re-punched. */
	if (p->why == PATH_WHY_SILENT && !p->relay)
		return false;
	fall_back(p, PATH_WHY_SILENT, now);
	return true;
}

void path_net_change(struct path *p, uint64_t now)
{
	if (p->fixed)
		return;
	fall_back(p, PATH_WHY_NET_CHANGE, now);
}

void path_repunch(struct path *p, uint64_t now)
{
	if (p->fixed || !p->relay)
		return;
	fall_back(p, PATH_WHY_REPUNCH, now);
}

int64_t path_intro_to_direct_ms(const struct path *p)
{
	if (!p->intro_ms || !p->first_direct_ms)
		return -1;
	return (int64_t)(p->first_direct_ms - p->intro_ms);
}

static bool no_nat(const struct coord_profile *c)
{
	return c && c->measured && c->mapping == NC_BEH_NONE;
}

static bool mapped(const struct coord_profile *c)
{
	return c && c->portmap != COORD_PM_NONE;
}

const char *path_method(const struct path *p, const struct coord_profile *mine,
			const struct coord_profile *peer)
{
	if (p->kind == PATH_RELAY)
		return "relay";
	if (p->kind == PATH_TCP)
		return "tcp";
	if (p->kind != PATH_DIRECT)
		return NULL;
	if (p->fixed)
		return "static";
	/* A local candidate has another address than the observed one (a predicted port has the
	 * same address). */
	if (!nc_addr_ip_eq(&p->ep, &p->observed) && is_cand(p, &p->ep) &&
	    !(mapped(peer) && nc_addr_eq(&p->ep, &peer->portmap_ep)))
		return "lan";
	if (no_nat(mine) || no_nat(peer))
		return "public";
	if ((mapped(peer) && nc_addr_eq(&p->ep, &peer->portmap_ep)) || mapped(mine))
		return "port-mapping";
	return "punch";
}
