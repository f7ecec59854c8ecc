#include "bouncer.h"

#include <natcheck/error.h>
#include "ratelimit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Nonces seen inside the timestamp window. A message older than the window is refused as
 * stale anyway, so an entry can be reused once its timestamp is out of the window. */
#define REPLAY_SLOTS 16384
#define REPLAY_PROBE 32

struct replay_slot {
	uint8_t nonce[NCP_NONCE_LEN];
	uint64_t ts_ms; /* 0 = free */
};

struct bouncer {
	uint8_t key[NCP_KEY_LEN];
	struct bouncer_counters cnt;
	struct ratelimit per_target;
	double global_rate, global_burst, global_tokens;
	uint64_t global_last_us;
	struct replay_slot replay[REPLAY_SLOTS];
};

int bouncer_new(struct bouncer **out, const struct bouncer_cfg *cfg)
{
	struct bouncer *b = calloc(1, sizeof(*b));

	if (!b)
		return -NC_E_NOMEM;
	memcpy(b->key, cfg->key, NCP_KEY_LEN);
	rl_init(&b->per_target, cfg->target_rate > 0 ? cfg->target_rate : 5,
		cfg->target_burst > 0 ? cfg->target_burst : 20, 1e15);
	b->global_rate = cfg->global_rate > 0 ? cfg->global_rate : 100;
	b->global_burst = cfg->global_burst > 0 ? cfg->global_burst : 200;
	b->global_tokens = b->global_burst;
	*out = b;
	return 0;
}

void bouncer_free(struct bouncer *b)
{
	if (!b)
		return;
	rl_destroy(&b->per_target);
	sodium_memzero(b->key, sizeof(b->key));
	free(b);
}

const struct bouncer_counters *bouncer_counters(const struct bouncer *b)
{
	return &b->cnt;
}

const char *bouncer_verdict_name(enum bouncer_verdict v)
{
	static const char *const names[BNC_VERDICT_COUNT] = {
		"accepted", "bad-format", "stale", "bad-mac", "replay", "bad-target",
		"rate-target", "rate-global"};
	return (unsigned)v < BNC_VERDICT_COUNT ? names[v] : "invalid";
}

/* Returns true and records the nonce if it is new; false if seen (or no room: fail closed). */
static bool replay_check_insert(struct bouncer *b, const struct ncp_coord *m, uint64_t wall_ms)
{
	/* The nonce is random and authenticated, so its first bytes are a fair hash. */
	uint32_t h = ((uint32_t)m->nonce[0] << 16 | (uint32_t)m->nonce[1] << 8 | m->nonce[2]);
	struct replay_slot *free_slot = NULL;

	for (unsigned i = 0; i < REPLAY_PROBE; i++) {
		struct replay_slot *s = &b->replay[(h + i) % REPLAY_SLOTS];
		bool expired = s->ts_ms == 0 || s->ts_ms + 2 * NCP_TS_WINDOW_MS < wall_ms;

		if (!expired && memcmp(s->nonce, m->nonce, NCP_NONCE_LEN) == 0)
			return false;
		if (expired && !free_slot)
			free_slot = s;
	}
	if (!free_slot)
		return false;
	memcpy(free_slot->nonce, m->nonce, NCP_NONCE_LEN);
	free_slot->ts_ms = m->ts_ms ? m->ts_ms : 1;
	/* Keep the entry for the whole window around its own timestamp and now. */
	if (free_slot->ts_ms < wall_ms)
		free_slot->ts_ms = wall_ms;
	return true;
}

static bool global_allow(struct bouncer *b, uint64_t now_us)
{
	if (b->global_last_us) {
		double dt = (double)(now_us - b->global_last_us) / 1e6;
		b->global_tokens += dt * b->global_rate;
		if (b->global_tokens > b->global_burst)
			b->global_tokens = b->global_burst;
	}
	b->global_last_us = now_us;
	if (b->global_tokens < 1)
		return false;
	b->global_tokens -= 1;
	return true;
}

/* A target must be a unicast address a NAT could have mapped a client to. */
static bool target_ok(const struct nc_addr *a)
{
	static const uint8_t zero[16];
	enum nc_addr_scope s = nc_addr_scope(a);

	if (a->port == 0 || memcmp(a->ip, zero, a->family == AF_INET ? 4 : 16) == 0)
		return false;
	if (s == NC_SCOPE_LOOPBACK)
		return false;
	if (a->family == AF_INET && (a->ip[0] >= 224 || a->ip[0] == 0))
		return false; /* multicast, reserved, broadcast, "this network" */
	if (a->family == AF_INET6 && a->ip[0] == 0xff)
		return false;
	return true;
}

static enum bouncer_verdict count(struct bouncer *b, enum bouncer_verdict v)
{
	atomic_fetch_add(&b->cnt.v[v], 1);
	return v;
}

enum bouncer_verdict bouncer_handle_coord(struct bouncer *b, uint64_t now_us, uint64_t wall_ms,
					  const uint8_t *pkt, size_t len, struct ncp_coord *m)
{
	const struct nc_addr *target = NULL;

	/* 1. Validate: structure, field values, timestamp window. */
	switch (ncp_coord_parse(pkt, len, wall_ms, m)) {
	case NCP_OK: break;
	case NCP_STALE: return count(b, BNC_STALE);
	default: return count(b, BNC_BAD_FORMAT);
	}
	/* 2. Authenticate. */
	if (!ncp_coord_verify(pkt, len, b->key))
		return count(b, BNC_BAD_MAC);
	/* 3. Only now may the message change state: the replay cache first. */
	if (!replay_check_insert(b, m, wall_ms))
		return count(b, BNC_REPLAY);
	/* 4. What it asks for: only unicast targets, at a bounded rate. */
	if (m->type == NCP_T_ACTION)
		target = &m->u.action.target;
	else if (m->type == NCP_T_RELAY)
		target = &m->u.relay.dest;
	if (target) {
		enum bouncer_verdict v;
		bouncer_admit(b, target, now_us, &v);
		return v;
	}
	return count(b, BNC_OK);
}

bool bouncer_admit(struct bouncer *b, const struct nc_addr *target, uint64_t now_us,
		   enum bouncer_verdict *why)
{
	if (!target_ok(target))
		*why = count(b, BNC_BAD_TARGET);
	else if (!rl_allow(&b->per_target, target, now_us, 0))
		*why = count(b, BNC_RATE_TARGET);
	else if (!global_allow(b, now_us))
		*why = count(b, BNC_RATE_GLOBAL);
	else
		*why = count(b, BNC_OK);
	return *why == BNC_OK;
}

int bouncer_seal(const struct bouncer *b, struct ncp_coord *m, uint64_t wall_ms, uint8_t *buf,
		 size_t cap)
{
	ncp_coord_stamp(m, wall_ms);
	return ncp_coord_encode(m, b->key, buf, cap);
}
