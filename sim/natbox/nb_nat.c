/* natbox NAT table and translator. See nb_nat.h for the behaviour and RFC references.
 *
 * Table layout: a fixed array of bindings with a free list, and two chained hash indexes over
 * it: by internal key (proto, internal ip:port, remote part per mapping behaviour) for
 * outbound packets, and by external (proto, ip, port) for inbound ones. Several bindings can
 * share an external port only with --overload yes; inbound packets then go to the binding that
 * knows the sender best (exact permission, then address, then none). */
#include "nb_nat.h"

#include "cursor.h"
#include <natcheck/error.h>
#include "inetcsum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_MAX_PERM 32
#define NB_MAX_HOSTS 4096

/* TCP state bits: loose tracking, enough to pick a timeout (RFC 5382 §5). */
enum { T_SYN_OUT = 1, T_SYN_IN = 2, T_FIN_OUT = 4, T_FIN_IN = 8, T_RST = 16 };

struct perm {
	uint32_t ip;
	uint16_t port;
};

struct map {
	bool used;
	uint8_t proto;
	uint8_t tcp;
	uint8_t n_perm, perm_next;
	uint32_t iip, kip, eip;
	uint16_t iport, kport, eport;
	uint64_t refreshed;
	uint64_t mapped_at; /* when eport was assigned (--remap-after counts from here) */
	uint32_t next_k, next_e; /* hash chains: index + 1, 0 ends */
	struct perm perm[NB_MAX_PERM];
};

struct host {
	bool used;
	bool has_block;
	uint8_t wan;    /* paired pooling: index into wan_ip */
	uint32_t iip;
	uint32_t block; /* port block number */
	uint32_t seq;   /* sequential counter inside the block */
};

struct nb_state {
	struct nb_config cfg;
	struct nb_stats stats;
	struct map *maps;
	uint32_t cap, count;
	uint32_t *freelist;
	uint32_t n_free;
	uint32_t *hk, *he;
	uint32_t hmask;
	struct host *hosts;
	uint32_t n_hosts;
	uint32_t pool_next;
	uint32_t blocks_next;
	uint32_t seq;
	uint64_t rng[4];
};

/* ---- names ---------------------------------------------------------------------------- */

const char *nb_reason_name(enum nb_reason r)
{
	static const char *const n[] = {"ok",          "malformed",  "unsupported", "not-ours",
					"no-mapping",  "filtered",   "hairpin-off", "no-port",
					"table-full"};
	return (unsigned)r < NB_R_COUNT_ ? n[r] : "?";
}

const char *nb_beh_name(enum nb_beh b)
{
	static const char *const n[] = {"ei", "ad", "apd"};
	return (unsigned)b < 3 ? n[b] : "?";
}

const char *nb_alloc_name(enum nb_alloc a)
{
	static const char *const n[] = {"preserve", "sequential", "random", "first-fit"};
	return (unsigned)a < 4 ? n[a] : "?";
}

const char *nb_pool_name(enum nb_pool p)
{
	return p == NB_POOL_PAIRED ? "paired" : p == NB_POOL_ARBITRARY ? "arbitrary" : "?";
}

const char *nb_hairpin_name(enum nb_hairpin h)
{
	static const char *const n[] = {"off", "external", "internal"};
	return (unsigned)h < 3 ? n[h] : "?";
}

const char *nb_refresh_name(enum nb_refresh r)
{
	return r == NB_REFRESH_OUTBOUND ? "outbound" : r == NB_REFRESH_BOTH ? "both" : "?";
}

const char *nb_unsol_name(enum nb_unsol u)
{
	static const char *const n[] = {"drop", "icmp", "rst"};
	return (unsigned)u < 3 ? n[u] : "?";
}

/* ---- config --------------------------------------------------------------------------- */

void nb_config_default(struct nb_config *c)
{
	memset(c, 0, sizeof(*c));
	/* Linux masquerade's behaviour ("port-restricted cone"): EIM, APDF, preservation. */
	c->mapping = NB_BEH_EI;
	c->filtering = NB_BEH_APD;
	c->alloc = NB_ALLOC_PRESERVE;
	c->delta = 1;
	c->port_lo = 1024;
	c->port_hi = 65535;
	c->pool = NB_POOL_PAIRED;
	c->hairpin = NB_HP_EXTERNAL;
	c->hairpin_filter = true;
	c->lifetime_s = 120; /* RFC 4787 REQ-5: at least 2 minutes */
	c->refresh = NB_REFRESH_BOTH;
	c->tcp_est_s = 7440; /* RFC 5382 REQ-5: 2 hours 4 minutes */
	c->tcp_trans_s = 240;
	c->tcp_close_s = 10;
	c->unsolicited = NB_UNSOL_DROP;
	c->max_mappings = 65536;
	c->blackout_idle_ms = 2000;
}

int nb_config_check(const struct nb_config *c, char *err, size_t errlen)
{
	const char *msg = NULL;
	uint32_t range = (uint32_t)c->port_hi - c->port_lo + 1;

	if (c->n_wan == 0 || c->n_wan > NB_MAX_WAN)
		msg = "need 1 to 16 WAN addresses (--wan-ip or --wan-if)";
	else if (c->port_lo == 0 || c->port_lo > c->port_hi)
		msg = "port range must be LO-HI with 1 <= LO <= HI <= 65535";
	else if (c->alloc == NB_ALLOC_SEQUENTIAL && (c->delta == 0 || c->delta >= (int32_t)range ||
						     c->delta <= -(int32_t)range))
		msg = "sequential allocation needs a delta with 0 < |delta| < size of the port range";
	else if (c->block_size > range)
		msg = "port block larger than the port range";
	else if (c->lifetime_s == 0 || c->tcp_est_s == 0 || c->tcp_trans_s == 0)
		msg = "lifetimes must be at least 1 s";
	else if (c->loss_ppm > 1000000)
		msg = "loss must be between 0 and 100 %";
	else if (c->max_mappings == 0 || c->max_mappings > (1u << 22))
		msg = "max mappings must be between 1 and 4194304";
	else if (c->n_lan > NB_MAX_LAN)
		msg = "too many LAN prefixes";
	else if (c->blackout_ms && c->blackout_idle_ms == 0)
		msg = "a blackout needs an idle time of at least 1 ms";
	if (!msg)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
	return -NC_E_INVALID;
}

/* ---- PRNG: xoshiro256** seeded by splitmix64 ------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t nb_rand(struct nb_state *s)
{
	uint64_t *q = s->rng;
	uint64_t r = rotl(q[1] * 5, 7) * 9, t = q[1] << 17;

	q[2] ^= q[0];
	q[3] ^= q[1];
	q[1] ^= q[2];
	q[0] ^= q[3];
	q[2] ^= t;
	q[3] = rotl(q[3], 45);
	return r;
}

uint32_t nb_rand_below(struct nb_state *s, uint32_t n)
{
	return n ? (uint32_t)(((nb_rand(s) >> 32) * (uint64_t)n) >> 32) : 0;
}

/* ---- state ---------------------------------------------------------------------------- */

struct nb_state *nb_state_new(const struct nb_config *c)
{
	struct nb_state *s;
	uint32_t hsize = 16;
	uint64_t seed;

	if (nb_config_check(c, NULL, 0) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *c;
	s->cap = c->max_mappings;
	while (hsize < 2 * s->cap)
		hsize <<= 1;
	s->hmask = hsize - 1;
	s->maps = calloc(s->cap, sizeof(*s->maps));
	s->freelist = calloc(s->cap, sizeof(*s->freelist));
	s->hk = calloc(hsize, sizeof(*s->hk));
	s->he = calloc(hsize, sizeof(*s->he));
	s->hosts = calloc(NB_MAX_HOSTS, sizeof(*s->hosts));
	if (!s->maps || !s->freelist || !s->hk || !s->he || !s->hosts) {
		nb_state_free(s);
		return NULL;
	}
	for (uint32_t i = 0; i < s->cap; i++)
		s->freelist[i] = s->cap - 1 - i; /* pop order: slot 0 first */
	s->n_free = s->cap;
	seed = c->seed;
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&seed);
	return s;
}

void nb_state_free(struct nb_state *s)
{
	if (!s)
		return;
	free(s->maps);
	free(s->freelist);
	free(s->hk);
	free(s->he);
	free(s->hosts);
	free(s);
}

const struct nb_config *nb_state_config(const struct nb_state *s)
{
	return &s->cfg;
}

const struct nb_stats *nb_state_stats(const struct nb_state *s)
{
	return &s->stats;
}

size_t nb_count(const struct nb_state *s)
{
	return s->count;
}

size_t nb_capacity(const struct nb_state *s)
{
	return s->cap;
}

/* ---- table ---------------------------------------------------------------------------- */

static uint32_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

static uint32_t hash_k(uint8_t proto, uint32_t iip, uint16_t iport, uint32_t kip, uint16_t kport)
{
	return mix64(((uint64_t)iip << 32 | (uint64_t)iport << 8 | proto) ^
		     ((uint64_t)mix64((uint64_t)kip << 16 | kport) << 17));
}

static uint32_t hash_e(uint8_t proto, uint32_t eip, uint16_t eport)
{
	return mix64((uint64_t)eip << 24 | (uint64_t)eport << 8 | proto);
}

static uint64_t timeout_ms(const struct nb_state *s, const struct map *m)
{
	uint32_t t = s->cfg.lifetime_s;

	if (m->proto == NB_IPPROTO_TCP) {
		if ((m->tcp & T_RST) || (m->tcp & (T_FIN_OUT | T_FIN_IN)) == (T_FIN_OUT | T_FIN_IN))
			t = s->cfg.tcp_close_s;
		else if ((m->tcp & (T_SYN_OUT | T_SYN_IN)) == (T_SYN_OUT | T_SYN_IN))
			t = s->cfg.tcp_est_s;
		else
			t = s->cfg.tcp_trans_s;
	}
	return (uint64_t)t * 1000;
}

static bool expired(const struct nb_state *s, const struct map *m, uint64_t now)
{
	return now >= m->refreshed + timeout_ms(s, m);
}

static void unlink_chain(struct nb_state *s, uint32_t *head, uint32_t idx, bool ext)
{
	uint32_t *pp = head;

	while (*pp) {
		struct map *m = &s->maps[*pp - 1];
		if (*pp - 1 == idx) {
			*pp = ext ? m->next_e : m->next_k;
			return;
		}
		pp = ext ? &m->next_e : &m->next_k;
	}
}

static void remove_map(struct nb_state *s, uint32_t idx)
{
	struct map *m = &s->maps[idx];

	unlink_chain(s, &s->hk[hash_k(m->proto, m->iip, m->iport, m->kip, m->kport) & s->hmask], idx,
		     false);
	unlink_chain(s, &s->he[hash_e(m->proto, m->eip, m->eport) & s->hmask], idx, true);
	memset(m, 0, sizeof(*m));
	s->freelist[s->n_free++] = idx;
	s->count--;
	s->stats.expired++;
}

size_t nb_expire(struct nb_state *s, uint64_t now)
{
	size_t n = 0;

	for (uint32_t i = 0; i < s->cap; i++) {
		if (s->maps[i].used && expired(s, &s->maps[i], now)) {
			remove_map(s, i);
			n++;
		}
	}
	return n;
}

bool nb_mapping_get(const struct nb_state *s, size_t i, struct nb_mapping_info *info)
{
	const struct map *m;

	if (i >= s->cap || !s->maps[i].used)
		return false;
	m = &s->maps[i];
	info->proto = m->proto;
	info->iip = m->iip;
	info->iport = m->iport;
	info->eip = m->eip;
	info->eport = m->eport;
	info->rip = m->kip;
	info->rport = m->kport;
	info->refreshed_ms = m->refreshed;
	info->expires_ms = m->refreshed + timeout_ms(s, m);
	info->n_perm = m->n_perm;
	return true;
}

static void key_remote(const struct nb_state *s, uint32_t rip, uint16_t rport, uint32_t *kip,
		       uint16_t *kport)
{
	/* RFC 4787 §4.1: the mapping is reused for any destination (EIM), for the same
	 * destination address (ADM), or for the same address and port (APDM). */
	*kip = s->cfg.mapping == NB_BEH_EI ? 0 : rip;
	*kport = s->cfg.mapping == NB_BEH_APD ? rport : 0;
}

static bool remap(struct nb_state *s, struct map *m, uint32_t rip, uint16_t rport, uint64_t now);

static bool remap_due(const struct nb_state *s, const struct map *m, uint64_t now)
{
	return s->cfg.remap_s && now >= m->mapped_at + (uint64_t)s->cfg.remap_s * 1000;
}

static struct map *lookup_out(struct nb_state *s, uint8_t proto, uint32_t iip, uint16_t iport,
			      uint32_t rip, uint16_t rport, uint64_t now)
{
	uint32_t kip, i;
	uint16_t kport;

	key_remote(s, rip, rport, &kip, &kport);
	i = s->hk[hash_k(proto, iip, iport, kip, kport) & s->hmask];
	while (i) {
		struct map *m = &s->maps[i - 1];
		if (m->proto == proto && m->iip == iip && m->iport == iport && m->kip == kip &&
		    m->kport == kport) {
			if (expired(s, m, now)) {
				remove_map(s, i - 1);
				return NULL;
			}
			if (remap_due(s, m, now))
				remap(s, m, rip, rport, now);
			return m;
		}
		i = m->next_k;
	}
	return NULL;
}

/* How well binding m knows remote rip:rport: 3 = sent to that address and port, 2 = to that
 * address, 1 = neither. */
static int perm_score(const struct map *m, uint32_t rip, uint16_t rport)
{
	int best = 1;

	for (unsigned i = 0; i < m->n_perm; i++) {
		if (m->perm[i].ip != rip)
			continue;
		if (m->perm[i].port == rport)
			return 3;
		best = 2;
	}
	return best;
}

static struct map *lookup_in(struct nb_state *s, uint8_t proto, uint32_t eip, uint16_t eport,
			     uint32_t rip, uint16_t rport, uint64_t now, int *score)
{
	uint32_t i;
	struct map *best = NULL;

	/* Bindings on this port that are due to move leave it first (--remap-after): a packet
	 * for the old port then finds nothing, as on an unstable NAT. The chain changes with
	 * every move, so the scan restarts; each move resets its binding's clock. */
	for (bool moved = s->cfg.remap_s != 0; moved;) {
		moved = false;
		for (i = s->he[hash_e(proto, eip, eport) & s->hmask]; i; i = s->maps[i - 1].next_e) {
			struct map *m = &s->maps[i - 1];
			if (m->proto == proto && m->eip == eip && m->eport == eport &&
			    !expired(s, m, now) && remap_due(s, m, now)) {
				moved = remap(s, m, rip, rport, now);
				break;
			}
		}
	}
	*score = 0;
	i = s->he[hash_e(proto, eip, eport) & s->hmask];
	while (i) {
		struct map *m = &s->maps[i - 1];
		uint32_t next = m->next_e;
		if (m->proto == proto && m->eip == eip && m->eport == eport) {
			if (expired(s, m, now)) {
				remove_map(s, i - 1);
			} else {
				int sc = perm_score(m, rip, rport);
				if (sc > *score) {
					*score = sc;
					best = m;
				}
			}
		}
		i = next;
	}
	return best;
}

static bool filter_ok(enum nb_beh filtering, int score)
{
	/* RFC 4787 §5: EIF lets anyone in, ADF needs a packet sent to the source address
	 * before, APDF to the source address and port. */
	switch (filtering) {
	case NB_BEH_EI:
		return score >= 1;
	case NB_BEH_AD:
		return score >= 2;
	case NB_BEH_APD:
		return score >= 3;
	}
	return false;
}

static void perm_add(struct map *m, uint32_t rip, uint16_t rport)
{
	for (unsigned i = 0; i < m->n_perm; i++)
		if (m->perm[i].ip == rip && m->perm[i].port == rport)
			return;
	/* Full: the oldest permission gives way (documented limit). */
	m->perm[m->perm_next] = (struct perm){.ip = rip, .port = rport};
	m->perm_next = (uint8_t)((m->perm_next + 1) % NB_MAX_PERM);
	if (m->n_perm < NB_MAX_PERM)
		m->n_perm++;
}

static bool port_in_use(struct nb_state *s, uint8_t proto, uint32_t eip, uint16_t port,
			uint32_t iip, uint16_t iport, uint32_t rip, uint16_t rport, uint64_t now)
{
	uint32_t i = s->he[hash_e(proto, eip, port) & s->hmask];

	while (i) {
		struct map *m = &s->maps[i - 1];
		uint32_t next = m->next_e;
		if (m->proto == proto && m->eip == eip && m->eport == port) {
			if (expired(s, m, now)) {
				remove_map(s, i - 1);
			} else {
				/* Strict (default): one binding per external port. Overloading
				 * (Linux-like) shares a port among bindings as long as the
				 * external 5-tuple stays unique. */
				if (!s->cfg.overload)
					return true;
				if (perm_score(m, rip, rport) == 3 ||
				    (m->iip == iip && m->iport == iport))
					return true;
			}
		}
		i = next;
	}
	return false;
}

static struct host *host_get(struct nb_state *s, uint32_t iip)
{
	uint32_t h = mix64(iip) & (NB_MAX_HOSTS - 1);

	for (uint32_t n = 0; n < NB_MAX_HOSTS; n++, h = (h + 1) & (NB_MAX_HOSTS - 1)) {
		struct host *x = &s->hosts[h];
		if (x->used && x->iip == iip)
			return x;
		if (!x->used) {
			x->used = true;
			x->iip = iip;
			/* Paired pooling (RFC 4787 §4.1): one external address per internal
			 * address, handed out round robin. */
			x->wan = (uint8_t)(s->n_hosts % s->cfg.n_wan);
			s->n_hosts++;
			return x;
		}
	}
	return NULL;
}

static bool port_acceptable(struct nb_state *s, uint32_t p, uint16_t iport, uint8_t proto,
			    uint32_t eip, uint32_t iip, uint32_t rip, uint16_t rport, uint64_t now)
{
	if (p == 0 || p > 65535)
		return false;
	if (s->cfg.parity_keep && (p & 1) != (iport & 1u))
		return false; /* RFC 4787 §4.2.2: keep the parity of the internal port */
	return !port_in_use(s, proto, eip, (uint16_t)p, iip, iport, rip, rport, now);
}

static int alloc_port(struct nb_state *s, struct host *h, uint8_t proto, uint32_t eip,
		      uint32_t iip, uint16_t iport, uint32_t rip, uint16_t rport, uint64_t now,
		      uint16_t *out)
{
	uint32_t lo = s->cfg.port_lo, hi = s->cfg.port_hi, n, step, *ctr = &s->seq, start, p;

	if (s->cfg.block_size) {
		lo = s->cfg.port_lo + h->block * s->cfg.block_size;
		hi = lo + s->cfg.block_size - 1;
		ctr = &h->seq;
	}
	n = hi - lo + 1;
#define TRY(port)                                                                          \
	do {                                                                               \
		if (port_acceptable(s, (port), iport, proto, eip, iip, rip, rport, now)) { \
			*out = (uint16_t)(port);                                           \
			return 0;                                                          \
		}                                                                          \
	} while (0)

	switch (s->cfg.alloc) {
	case NB_ALLOC_PRESERVE:
		/* RFC 4787 §4.2.1: keep the internal port if it is free; else fall back to a
		 * random port in the range. */
		if (iport >= lo && iport <= hi)
			TRY(iport);
		break;
	case NB_ALLOC_SEQUENTIAL:
		step = (uint32_t)(((int64_t)s->cfg.delta % (int64_t)n + (int64_t)n) % (int64_t)n);
		if (step == 0)
			step = 1;
		for (uint32_t i = 0; i < n; i++) {
			p = lo + *ctr % n;
			*ctr = (*ctr % n + step) % n;
			TRY(p);
		}
		break;
	case NB_ALLOC_FIRST_FIT:
		/* The lowest acceptable port: with --overload yes a port is shared as soon as
		 * the new binding's destination differs from those of the bindings on it,
		 * which is how a small PAT pool overloads its ports (RFC 4787 §4.2.1). */
		for (p = lo; p <= hi; p++)
			TRY(p);
		break;
	case NB_ALLOC_RANDOM:
		break;
	}
	for (int i = 0; i < 64; i++) {
		p = lo + nb_rand_below(s, n);
		if (s->cfg.parity_keep && (p & 1) != (iport & 1u))
			p ^= 1;
		if (p >= lo && p <= hi)
			TRY(p);
	}
	start = nb_rand_below(s, n);
	for (uint32_t i = 0; i < n; i++)
		TRY(lo + (start + i) % n);
#undef TRY
	return -NC_E_RANGE;
}

/* --remap-after: moves live binding m to a new external port from the same allocator (what
 * Tailscale's netcheck calls a varying mapping). Keeps its permissions and lifetime. Returns
 * true if it moved; when no port is free it stays and tries again one period later. */
static bool remap(struct nb_state *s, struct map *m, uint32_t rip, uint16_t rport, uint64_t now)
{
	uint32_t idx = (uint32_t)(m - s->maps), be;
	struct host *h = host_get(s, m->iip);
	uint16_t np;

	m->mapped_at = now;
	/* The binding itself holds its current port, so the allocator never returns it. */
	if (!h || alloc_port(s, h, m->proto, m->eip, m->iip, m->iport, rip, rport, now, &np) < 0)
		return false;
	unlink_chain(s, &s->he[hash_e(m->proto, m->eip, m->eport) & s->hmask], idx, true);
	m->eport = np;
	be = hash_e(m->proto, m->eip, np) & s->hmask;
	m->next_e = s->he[be];
	s->he[be] = idx + 1;
	s->stats.remapped++;
	return true;
}

static struct map *create_map(struct nb_state *s, uint8_t proto, uint32_t iip, uint16_t iport,
			      uint32_t rip, uint16_t rport, uint64_t now, enum nb_reason *why)
{
	uint32_t idx, eip, kip;
	uint16_t eport, kport;
	struct host *h;
	struct map *m;

	if (s->n_free == 0) {
		*why = NB_R_TABLE_FULL;
		return NULL;
	}
	h = host_get(s, iip);
	if (!h) {
		*why = NB_R_TABLE_FULL;
		return NULL;
	}
	if (s->cfg.pool == NB_POOL_PAIRED)
		eip = s->cfg.wan_ip[h->wan];
	else /* arbitrary pooling: each new binding takes the next address */
		eip = s->cfg.wan_ip[s->pool_next++ % s->cfg.n_wan];
	if (s->cfg.block_size && !h->has_block) {
		uint32_t range = (uint32_t)s->cfg.port_hi - s->cfg.port_lo + 1;
		if ((uint64_t)(s->blocks_next + 1) * s->cfg.block_size > range) {
			*why = NB_R_NO_PORT;
			return NULL;
		}
		h->block = s->blocks_next++;
		h->has_block = true;
	}
	if (alloc_port(s, h, proto, eip, iip, iport, rip, rport, now, &eport) < 0) {
		*why = NB_R_NO_PORT;
		return NULL;
	}
	idx = s->freelist[--s->n_free];
	m = &s->maps[idx];
	memset(m, 0, sizeof(*m));
	key_remote(s, rip, rport, &kip, &kport);
	m->used = true;
	m->proto = proto;
	m->iip = iip;
	m->iport = iport;
	m->kip = kip;
	m->kport = kport;
	m->eip = eip;
	m->eport = eport;
	m->refreshed = now;
	m->mapped_at = now;
	uint32_t bk = hash_k(proto, iip, iport, kip, kport) & s->hmask;
	uint32_t be = hash_e(proto, eip, eport) & s->hmask;
	m->next_k = s->hk[bk];
	s->hk[bk] = idx + 1;
	m->next_e = s->he[be];
	s->he[be] = idx + 1;
	s->count++;
	s->stats.created++;
	return m;
}

/* ---- rewriting ------------------------------------------------------------------------ */

/* Rewrites the source (src set) or destination address of the outer header, fixing the IP
 * header checksum and the UDP/TCP pseudo-header checksum incrementally. */
static void rw_addr(uint8_t *b, const struct nb_pkt *p, bool src, uint32_t ip)
{
	size_t at = p->ip.off + (src ? 12 : 16);
	uint32_t old = nc_get_n32(b + at);

	nb_csum_update32(b + p->ip.off + 10, old, ip, false);
	if (p->ip.proto != NB_IPPROTO_ICMP && p->l4.csum_off)
		nb_csum_update32(b + p->l4.csum_off, old, ip, p->ip.proto == NB_IPPROTO_UDP);
	nc_put_n32(b + at, ip);
}

static void rw_port(uint8_t *b, const struct nb_pkt *p, bool src, uint16_t port)
{
	size_t at = src ? p->l4.sport_off : p->l4.dport_off;
	uint16_t old = nc_get_n16(b + at);

	if (p->l4.csum_off)
		nb_csum_update16(b + p->l4.csum_off, old, port, p->ip.proto == NB_IPPROTO_UDP);
	nc_put_n16(b + at, port);
}

/* The same for the datagram quoted in an ICMP error; the ICMP checksum is recomputed after. */
static void rw_inner(uint8_t *b, const struct nb_pkt *p, bool src, uint32_t ip, uint16_t port)
{
	size_t at = p->in_ip.off + (src ? 12 : 16);
	size_t pat = src ? p->in_l4.sport_off : p->in_l4.dport_off;
	uint32_t old = nc_get_n32(b + at);
	uint16_t oldp = nc_get_n16(b + pat);
	bool udp = p->in_ip.proto == NB_IPPROTO_UDP;

	nb_csum_update32(b + p->in_ip.off + 10, old, ip, false);
	if (p->in_l4.csum_off) {
		if (p->in_ip.proto != NB_IPPROTO_ICMP)
			nb_csum_update32(b + p->in_l4.csum_off, old, ip, udp);
		nb_csum_update16(b + p->in_l4.csum_off, oldp, port, udp);
	}
	nc_put_n32(b + at, ip);
	nc_put_n16(b + pat, port);
	nc_put_n16(b + p->l4.csum_off, 0);
	nc_put_n16(b + p->l4.csum_off, nc_csum_fold(nc_csum_add(0, b + p->l4.off, p->l4.len)));
}

/* ---- translation ---------------------------------------------------------------------- */

static bool is_wan(const struct nb_state *s, uint32_t ip)
{
	for (unsigned i = 0; i < s->cfg.n_wan; i++)
		if (s->cfg.wan_ip[i] == ip)
			return true;
	return false;
}

static bool is_lan(const struct nb_state *s, uint32_t ip)
{
	for (unsigned i = 0; i < s->cfg.n_lan; i++)
		if ((ip & s->cfg.lan[i].mask) == s->cfg.lan[i].net)
			return true;
	return false;
}

static enum nb_verdict drop(struct nb_state *s, struct nb_out *out, enum nb_reason why)
{
	out->verdict = NB_DROP;
	out->reason = why;
	out->len = 0;
	s->stats.drops[why]++;
	return NB_DROP;
}

static enum nb_verdict parse_fail(struct nb_state *s, struct nb_out *out, int rc)
{
	return drop(s, out, rc == -NC_E_UNSUPPORTED ? NB_R_UNSUPPORTED : NB_R_MALFORMED);
}

/* What the NAT does with an inbound packet it will not deliver (--unsolicited). The answer
 * goes back to the sender, from the address the packet was sent to. */
static enum nb_verdict unsolicited(struct nb_state *s, const uint8_t *pkt, const struct nb_pkt *p,
				   enum nb_reason why, struct nb_out *out)
{
	int n = -1;

	s->stats.drops[why]++;
	out->reason = why;
	out->verdict = NB_DROP;
	out->len = 0;
	if (s->cfg.unsolicited == NB_UNSOL_DROP || p->ip.proto == NB_IPPROTO_ICMP)
		return NB_DROP; /* no ICMP error about ICMP (RFC 1122 §3.2.2) */
	if (p->ip.proto == NB_IPPROTO_TCP && s->cfg.unsolicited == NB_UNSOL_RST) {
		if (p->l4.tcp_flags & NB_TH_RST)
			return NB_DROP; /* never answer a RST */
		n = nb_build_tcp_rst(out->buf, sizeof(out->buf), p);
	} else {
		/* icmp, or rst for UDP: what a host without a listener sends (RFC 1122). */
		n = nb_build_icmp_unreach(out->buf, sizeof(out->buf), p->ip.dst, p->ip.src, 3, pkt,
					  p->ip.tot_len);
	}
	if (n < 0)
		return NB_DROP;
	out->len = (size_t)n;
	out->verdict = NB_REPLY;
	s->stats.replies++;
	return NB_REPLY;
}

static void tcp_track(struct map *m, const struct nb_pkt *p, bool outbound)
{
	uint8_t f = p->l4.tcp_flags;

	if (p->ip.proto != NB_IPPROTO_TCP)
		return;
	if (f & NB_TH_SYN)
		m->tcp |= outbound ? T_SYN_OUT : T_SYN_IN;
	if (f & NB_TH_FIN)
		m->tcp |= outbound ? T_FIN_OUT : T_FIN_IN;
	if (f & NB_TH_RST)
		m->tcp |= T_RST;
	/* A new SYN after a close reopens the binding (RFC 5382 §5). */
	if ((f & NB_TH_SYN) && !(f & NB_TH_ACK) && outbound)
		m->tcp = T_SYN_OUT;
}

static uint16_t remote_port(const struct nb_pkt *p, uint16_t port)
{
	return p->ip.proto == NB_IPPROTO_ICMP ? 0 : port;
}

static enum nb_verdict icmp_error_in(struct nb_state *s, const struct nb_pkt *p, uint64_t now,
				     struct nb_out *out)
{
	/* The quote is our own outbound datagram: external ip:port -> remote. */
	uint8_t proto = p->in_ip.proto;
	uint16_t rport = proto == NB_IPPROTO_ICMP ? 0 : p->in_l4.dport;
	int score;
	struct map *m;

	if (p->in_ip.src != p->ip.dst)
		return drop(s, out, NB_R_NOT_OURS);
	m = lookup_in(s, proto, p->in_ip.src, p->in_l4.sport, p->in_ip.dst, rport, now, &score);
	if (!m)
		return drop(s, out, NB_R_NO_MAPPING);
	if (!filter_ok(s->cfg.filtering, score))
		return drop(s, out, NB_R_FILTERED);
	rw_addr(out->buf, p, false, m->iip);
	rw_inner(out->buf, p, true, m->iip, m->iport);
	s->stats.in++;
	out->verdict = NB_FORWARD;
	return NB_FORWARD;
}

static enum nb_verdict icmp_error_out(struct nb_state *s, const struct nb_pkt *p, uint64_t now,
				      struct nb_out *out)
{
	/* The quote is a datagram we delivered inward: remote -> internal ip:port. */
	uint8_t proto = p->in_ip.proto;
	uint16_t rport = proto == NB_IPPROTO_ICMP ? 0 : p->in_l4.sport;
	struct map *m;

	if (is_wan(s, p->ip.dst) || p->ip.src != p->in_ip.dst)
		return drop(s, out, NB_R_UNSUPPORTED); /* hairpinned or third-party errors */
	m = lookup_out(s, proto, p->in_ip.dst, p->in_l4.dport, p->in_ip.src, rport, now);
	if (!m)
		return drop(s, out, NB_R_NO_MAPPING);
	rw_addr(out->buf, p, true, m->eip);
	rw_inner(out->buf, p, false, m->eip, m->eport);
	s->stats.out++;
	out->verdict = NB_FORWARD;
	return NB_FORWARD;
}

static int prepare(const uint8_t *pkt, size_t len, struct nb_pkt *p, struct nb_out *out)
{
	int rc = nb_parse(pkt, len, p);

	memset(out, 0, offsetof(struct nb_out, buf));
	if (rc < 0)
		return rc;
	memcpy(out->buf, pkt, p->ip.tot_len);
	out->len = p->ip.tot_len;
	return 0;
}

/* Delivers the already source-translated hairpin packet in out->buf to the binding it is
 * addressed to, as if it had come in from outside (RFC 4787 §6). */
static enum nb_verdict hairpin(struct nb_state *s, const uint8_t *pkt, const struct nb_pkt *p,
			       const struct map *from, uint64_t now, struct nb_out *out)
{
	int score;
	struct map *to = lookup_in(s, p->ip.proto, p->ip.dst, p->l4.dport, from->eip, from->eport,
				   now, &score);

	if (!to)
		return unsolicited(s, pkt, p, NB_R_NO_MAPPING, out);
	if (s->cfg.hairpin_filter && !filter_ok(s->cfg.filtering, score))
		return unsolicited(s, pkt, p, NB_R_FILTERED, out);
	if (s->cfg.refresh == NB_REFRESH_BOTH)
		to->refreshed = now;
	tcp_track(to, p, false);
	rw_addr(out->buf, p, false, to->iip);
	rw_port(out->buf, p, false, to->iport);
	if (s->cfg.hairpin == NB_HP_INTERNAL) {
		/* The target sees the sender's private endpoint (not what REQ-9 asks). */
		rw_addr(out->buf, p, true, from->iip);
		rw_port(out->buf, p, true, from->iport);
	}
	s->stats.hairpin++;
	out->hairpin = true;
	out->verdict = NB_FORWARD;
	return NB_FORWARD;
}

enum nb_verdict nb_translate_out(struct nb_state *s, const uint8_t *pkt, size_t len,
				 uint64_t now, struct nb_out *out)
{
	struct nb_pkt p;
	enum nb_reason why = NB_R_OK;
	struct map *m;
	bool hp;
	uint16_t rport;
	int rc = prepare(pkt, len, &p, out);

	if (rc < 0)
		return parse_fail(s, out, rc);
	if (p.icmp_error)
		return icmp_error_out(s, &p, now, out);
	if (p.ip.proto == NB_IPPROTO_ICMP && p.l4.icmp_type != NB_ICMP_ECHO)
		return drop(s, out, NB_R_UNSUPPORTED);
	hp = is_wan(s, p.ip.dst);
	if (hp && s->cfg.hairpin == NB_HP_OFF)
		return drop(s, out, NB_R_HAIRPIN_OFF);
	if (hp && p.ip.proto == NB_IPPROTO_ICMP)
		return drop(s, out, NB_R_UNSUPPORTED);
	rport = remote_port(&p, p.l4.dport);
	m = lookup_out(s, p.ip.proto, p.ip.src, p.l4.sport, p.ip.dst, rport, now);
	if (!m)
		m = create_map(s, p.ip.proto, p.ip.src, p.l4.sport, p.ip.dst, rport, now, &why);
	if (!m)
		return drop(s, out, why);
	m->refreshed = now;
	perm_add(m, p.ip.dst, rport);
	tcp_track(m, &p, true);
	rw_addr(out->buf, &p, true, m->eip);
	rw_port(out->buf, &p, true, m->eport);
	s->stats.out++;
	if (hp)
		return hairpin(s, pkt, &p, m, now, out);
	out->verdict = NB_FORWARD;
	return NB_FORWARD;
}

enum nb_verdict nb_translate_in(struct nb_state *s, const uint8_t *pkt, size_t len, uint64_t now,
				struct nb_out *out)
{
	struct nb_pkt p;
	struct map *m;
	int score;
	int rc = prepare(pkt, len, &p, out);

	if (rc < 0)
		return parse_fail(s, out, rc);
	if (!is_wan(s, p.ip.dst))
		return drop(s, out, NB_R_NOT_OURS);
	if (p.icmp_error)
		return icmp_error_in(s, &p, now, out);
	if (p.ip.proto == NB_IPPROTO_ICMP) {
		if (p.l4.icmp_type == NB_ICMP_ECHO) {
			/* Pings to the router's WAN address are answered by natbox itself. */
			rc = nb_build_echo_reply(out->buf, sizeof(out->buf), pkt, &p);
			if (rc < 0)
				return drop(s, out, NB_R_UNSUPPORTED);
			out->len = (size_t)rc;
			out->verdict = NB_REPLY;
			s->stats.replies++;
			return NB_REPLY;
		}
		if (p.l4.icmp_type != NB_ICMP_ECHOREPLY)
			return drop(s, out, NB_R_UNSUPPORTED);
	}
	m = lookup_in(s, p.ip.proto, p.ip.dst, p.l4.dport, p.ip.src, remote_port(&p, p.l4.sport),
		      now, &score);
	if (!m)
		return unsolicited(s, pkt, &p, NB_R_NO_MAPPING, out);
	if (!filter_ok(s->cfg.filtering, score))
		return unsolicited(s, pkt, &p, NB_R_FILTERED, out);
	/* RFC 4787 REQ-6 leaves inbound refresh open: --refresh outbound makes inbound
	 * packets leave the timer alone. */
	if (s->cfg.refresh == NB_REFRESH_BOTH)
		m->refreshed = now;
	tcp_track(m, &p, false);
	rw_addr(out->buf, &p, false, m->iip);
	rw_port(out->buf, &p, false, m->iport);
	if (s->cfg.stun_alg && p.ip.proto == NB_IPPROTO_UDP)
		s->stats.alg_rewrites +=
			(uint64_t)nb_stun_alg(out->buf, &p, m->eip, m->eport, m->iip, m->iport);
	s->stats.in++;
	out->verdict = NB_FORWARD;
	return NB_FORWARD;
}

enum nb_verdict nb_translate(struct nb_state *s, const uint8_t *pkt, size_t len, uint64_t now,
			     struct nb_out *out)
{
	struct nc_rd r;
	uint32_t src, dst;

	nc_rd_init(&r, pkt, len);
	nc_rd_skip(&r, 12);
	src = nc_rd_n32(&r);
	dst = nc_rd_n32(&r);
	if (r.err) {
		memset(out, 0, offsetof(struct nb_out, buf));
		return drop(s, out, NB_R_MALFORMED);
	}
	if (is_wan(s, dst) && !is_lan(s, src))
		return nb_translate_in(s, pkt, len, now, out);
	if (s->cfg.n_lan == 0 || is_lan(s, src)) {
		if (is_lan(s, dst)) {
			/* LAN to LAN (e.g. to the router's own LAN address): untouched. */
			struct nb_pkt p;
			int rc = prepare(pkt, len, &p, out);
			if (rc < 0)
				return parse_fail(s, out, rc);
			out->verdict = NB_FORWARD;
			return NB_FORWARD;
		}
		return nb_translate_out(s, pkt, len, now, out);
	}
	memset(out, 0, offsetof(struct nb_out, buf));
	return drop(s, out, NB_R_NOT_OURS);
}
