#include "peers.h"

#include <natcheck/error.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash32(const uint8_t key[16], const void *in, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint32_t v;

	crypto_shorthash(h, in, len, key);
	memcpy(&v, h, sizeof(v));
	return v;
}

static uint32_t pub_bucket(const struct pvd_peers *t, const uint8_t *pub)
{
	return hash32(t->hkey, pub, VPN_KEY_LEN) & (t->nb - 1);
}

static uint32_t id_bucket(const struct pvd_peers *t, uint32_t id)
{
	return hash32(t->hkey, &id, sizeof(id)) & (t->nb - 1);
}

static uint32_t ep_bucket(const struct pvd_peers *t, const struct nc_addr *ep)
{
	uint8_t in[19];

	in[0] = ep->family;
	in[1] = (uint8_t)(ep->port >> 8);
	in[2] = (uint8_t)ep->port;
	memcpy(in + 3, ep->ip, 16);
	return hash32(t->hkey, in, sizeof(in)) & (t->nb - 1);
}

int pvd_peers_init(struct pvd_peers *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	if (cap == 0 || cap > (1u << 24))
		return -NC_E_RANGE;
	t->nb = 1;
	while (t->nb < cap)
		t->nb <<= 1;
	/* calloc: the pages of slots never used are never touched. */
	t->p = calloc(cap, sizeof(*t->p));
	t->h_pub = malloc(t->nb * sizeof(uint32_t));
	t->h_id = malloc(t->nb * sizeof(uint32_t));
	t->h_ep = malloc(t->nb * sizeof(uint32_t));
	if (!t->p || !t->h_pub || !t->h_id || !t->h_ep) {
		pvd_peers_free(t);
		return -NC_E_NOMEM;
	}
	memset(t->h_pub, 0xff, t->nb * sizeof(uint32_t));
	memset(t->h_id, 0xff, t->nb * sizeof(uint32_t));
	memset(t->h_ep, 0xff, t->nb * sizeof(uint32_t));
	t->cap = cap;
	t->wants_budget = (size_t)cap * PVD_WANTS_PER_SLOT;
	for (uint32_t i = 0; i < cap; i++)
		t->p[i].next_pub = i + 1 < cap ? i + 1 : PVD_NONE; /* the free list */
	t->free_head = 0;
	t->lru_old = t->lru_new = PVD_NONE;
	randombytes_buf(t->hkey, sizeof(t->hkey));
	randombytes_buf(t->idkey, sizeof(t->idkey));
	return 0;
}

void pvd_peers_free(struct pvd_peers *t)
{
	if (t->p) {
		for (uint32_t i = 0; i < t->cap; i++)
			free(t->p[i].wants);
		sodium_memzero(t->p, (size_t)t->cap * sizeof(*t->p));
	}
	free(t->p);
	free(t->h_pub);
	free(t->h_id);
	free(t->h_ep);
	memset(t, 0, sizeof(*t));
}

uint32_t pvd_peer_index(const struct pvd_peers *t, const struct pvd_peer *p)
{
	return (uint32_t)(p - t->p);
}

struct pvd_peer *pvd_peer_by_pub(struct pvd_peers *t, const uint8_t pub[VPN_KEY_LEN])
{
	for (uint32_t i = t->h_pub[pub_bucket(t, pub)]; i != PVD_NONE; i = t->p[i].next_pub)
		if (memcmp(t->p[i].pub, pub, VPN_KEY_LEN) == 0)
			return &t->p[i];
	return NULL;
}

struct pvd_peer *pvd_peer_by_id(struct pvd_peers *t, uint32_t id)
{
	for (uint32_t i = t->h_id[id_bucket(t, id)]; i != PVD_NONE; i = t->p[i].next_id)
		if (t->p[i].relay_id == id)
			return &t->p[i];
	return NULL;
}

struct pvd_peer *pvd_peer_by_ep(struct pvd_peers *t, const struct nc_addr *ep)
{
	for (uint32_t i = t->h_ep[ep_bucket(t, ep)]; i != PVD_NONE; i = t->p[i].next_ep)
		if (nc_addr_eq(&t->p[i].udp_ep, ep))
			return &t->p[i];
	return NULL;
}

/* Unlinks slot i from a chain whose links live at offset `link` in each peer. */
static void chain_del(struct pvd_peers *t, uint32_t *head, uint32_t i, size_t link)
{
	uint32_t *pp = head;

	while (*pp != PVD_NONE) {
		uint32_t *next = (uint32_t *)((uint8_t *)&t->p[*pp] + link);
		if (*pp == i) {
			*pp = *next;
			*next = PVD_NONE;
			return;
		}
		pp = next;
	}
}

static void lru_unlink(struct pvd_peers *t, uint32_t i)
{
	struct pvd_peer *p = &t->p[i];

	if (p->lru_prev != PVD_NONE)
		t->p[p->lru_prev].lru_next = p->lru_next;
	else
		t->lru_old = p->lru_next;
	if (p->lru_next != PVD_NONE)
		t->p[p->lru_next].lru_prev = p->lru_prev;
	else
		t->lru_new = p->lru_prev;
	p->lru_prev = p->lru_next = PVD_NONE;
}

static void lru_append(struct pvd_peers *t, uint32_t i)
{
	struct pvd_peer *p = &t->p[i];

	p->lru_prev = t->lru_new;
	p->lru_next = PVD_NONE;
	if (t->lru_new != PVD_NONE)
		t->p[t->lru_new].lru_next = i;
	else
		t->lru_old = i;
	t->lru_new = i;
}

void pvd_peer_touch(struct pvd_peers *t, struct pvd_peer *p)
{
	uint32_t i = pvd_peer_index(t, p);

	lru_unlink(t, i);
	lru_append(t, i);
}

void pvd_peer_set_udp(struct pvd_peers *t, struct pvd_peer *p, const struct nc_addr *ep)
{
	uint32_t i = pvd_peer_index(t, p);
	struct pvd_peer *other;

	if (nc_addr_eq(&p->udp_ep, ep) && p->udp_ep.family == ep->family)
		return;
	if (p->udp_ep.family)
		chain_del(t, &t->h_ep[ep_bucket(t, &p->udp_ep)], i,
			  offsetof(struct pvd_peer, next_ep));
	memset(&p->udp_ep, 0, sizeof(p->udp_ep));
	if (!ep->family)
		return;
	if ((other = pvd_peer_by_ep(t, ep)) != NULL) {
		chain_del(t, &t->h_ep[ep_bucket(t, ep)], pvd_peer_index(t, other),
			  offsetof(struct pvd_peer, next_ep));
		memset(&other->udp_ep, 0, sizeof(other->udp_ep));
		other->gen++;
	}
	p->udp_ep = *ep;
	p->next_ep = t->h_ep[ep_bucket(t, ep)];
	t->h_ep[ep_bucket(t, ep)] = i;
}

void pvd_peer_unregister(struct pvd_peers *t, struct pvd_peer *p)
{
	static const struct nc_addr none;

	pvd_peer_set_udp(t, p, &none);
	t->wants_total -= p->n_wants;
	free(p->wants);
	p->wants = NULL;
	p->n_wants = p->cap_wants = 0;
	p->registered = false;
	p->tcp_idx = -1;
	p->gen++;
}

static void remove_slot(struct pvd_peers *t, uint32_t i)
{
	struct pvd_peer *p = &t->p[i];
	uint32_t gen = p->slot_gen;

	pvd_peer_unregister(t, p);
	chain_del(t, &t->h_pub[pub_bucket(t, p->pub)], i, offsetof(struct pvd_peer, next_pub));
	chain_del(t, &t->h_id[id_bucket(t, p->relay_id)], i, offsetof(struct pvd_peer, next_id));
	lru_unlink(t, i);
	sodium_memzero(p, sizeof(*p));
	p->slot_gen = gen + 1;
	p->next_pub = t->free_head;
	t->free_head = i;
	t->used--;
}

struct pvd_peer *pvd_peer_add(struct pvd_peers *t, const uint8_t pub[VPN_KEY_LEN],
			      const uint8_t boxkey[32], bool *evicted)
{
	struct pvd_peer *p;
	uint32_t i, gen, id;
	uint8_t in[VPN_KEY_LEN + 4];

	*evicted = false;
	if (t->free_head == PVD_NONE) {
		remove_slot(t, t->lru_old);
		*evicted = true;
	}
	i = t->free_head;
	p = &t->p[i];
	t->free_head = p->next_pub;
	gen = p->slot_gen;
	memset(p, 0, sizeof(*p));
	p->slot_gen = gen + 1;
	p->in_use = true;
	p->tcp_idx = -1;
	p->next_ep = p->next_id = p->lru_prev = p->lru_next = PVD_NONE;
	memcpy(p->pub, pub, VPN_KEY_LEN);
	memcpy(p->boxkey, boxkey, 32);
	/* The id sequence of this key: H(key || 0), H(key || 1), ...: the first one free. */
	memcpy(in, pub, VPN_KEY_LEN);
	for (uint32_t n = 0;; n++) {
		memcpy(in + VPN_KEY_LEN, &n, 4);
		id = hash32(t->idkey, in, sizeof(in));
		if (id != 0 && !pvd_peer_by_id(t, id))
			break;
	}
	p->relay_id = id;
	p->next_pub = t->h_pub[pub_bucket(t, pub)];
	t->h_pub[pub_bucket(t, pub)] = i;
	p->next_id = t->h_id[id_bucket(t, id)];
	t->h_id[id_bucket(t, id)] = i;
	lru_append(t, i);
	t->used++;
	return p;
}

struct pvd_want *pvd_want_find(struct pvd_peer *p, const uint8_t pub[VPN_KEY_LEN], uint64_t now_ms)
{
	for (size_t i = 0; i < p->n_wants; i++)
		if (p->wants[i].expires_ms > now_ms &&
		    memcmp(p->wants[i].pub, pub, VPN_KEY_LEN) == 0)
			return &p->wants[i];
	return NULL;
}

struct pvd_want *pvd_want_refresh(struct pvd_peers *t, struct pvd_peer *p,
				  const uint8_t pub[VPN_KEY_LEN], uint64_t now_ms, uint64_t ttl_ms,
				  bool *dropped)
{
	struct pvd_want *w = NULL;
	size_t oldest = 0;

	*dropped = false;
	for (size_t i = 0; i < p->n_wants; i++) {
		if (memcmp(p->wants[i].pub, pub, VPN_KEY_LEN) == 0) {
			w = &p->wants[i];
			break;
		}
		if (p->wants[i].expires_ms < p->wants[oldest].expires_ms)
			oldest = i;
	}
	if (!w) {
		bool budget = t->wants_total < t->wants_budget;
		if (!budget && (p->n_wants == 0 || p->wants[oldest].expires_ms > now_ms))
			return NULL; /* nothing of its own to reuse either */
		if (budget && p->n_wants == p->cap_wants && p->cap_wants < PVD_MAX_WANTS) {
			size_t cap = p->cap_wants ? p->cap_wants * 2 : 4;
			struct pvd_want *nw = realloc(
			    p->wants, (cap > PVD_MAX_WANTS ? PVD_MAX_WANTS : cap) * sizeof(*nw));
			if (!nw)
				return NULL;
			p->wants = nw;
			p->cap_wants = cap > PVD_MAX_WANTS ? PVD_MAX_WANTS : cap;
		}
		if (budget && p->n_wants < p->cap_wants) {
			w = &p->wants[p->n_wants++];
			t->wants_total++;
		} else {
			/* Full: an expired entry if there is one, else the one closest to expiry.
			 */
			w = &p->wants[oldest];
			if (w->expires_ms > now_ms)
				*dropped = true;
		}
		memset(w, 0, sizeof(*w));
		memcpy(w->pub, pub, VPN_KEY_LEN);
	}
	w->expires_ms = now_ms + ttl_ms;
	return w;
}

bool pvd_mutual(struct pvd_peer *a, struct pvd_peer *b, uint64_t now_ms)
{
	return a->registered && b->registered && a != b && pvd_want_find(a, b->pub, now_ms) &&
	       pvd_want_find(b, a->pub, now_ms);
}

bool pvd_bucket_take(struct pvd_bucket *b, unsigned rate, uint64_t cost, uint64_t now_ms)
{
	if (!b->started) { /* a new bucket starts full */
		nc_bucket_init(&b->b, rate, now_ms);
		b->started = true;
	}
	return nc_bucket_take(&b->b, rate, rate, cost, now_ms);
}
