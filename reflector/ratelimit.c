#include "ratelimit.h"

#include <sodium.h>
#include <string.h>

void rl_init(struct ratelimit *rl, double pps, double burst, double bytes_per_s)
{
	memset(rl, 0, sizeof(*rl));
	rl->pps = pps;
	rl->burst = burst;
	rl->bps = bytes_per_s;
	rl->byte_burst = 2 * bytes_per_s;
	randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
	for (int i = 0; i < RL_STRIPES; i++)
		pthread_mutex_init(&rl->stripe[i], NULL);
}

void rl_destroy(struct ratelimit *rl)
{
	for (int i = 0; i < RL_STRIPES; i++)
		pthread_mutex_destroy(&rl->stripe[i]);
}

static size_t set_for(const struct ratelimit *rl, const struct nc_addr *src)
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, src->ip, sizeof(src->ip), (const unsigned char *)rl->hash_key);
	return h % RL_SETS;
}

/* The entry for src in its set: found, or the least recently seen one, reset for src. */
static struct rl_slot *entry_for(struct ratelimit *rl, struct rl_slot *set, const struct nc_addr *src,
				 uint64_t now_us)
{
	struct rl_slot *lru = &set[0];

	for (int i = 0; i < RL_WAYS; i++) {
		if (set[i].family == src->family && memcmp(set[i].ip, src->ip, sizeof(set[i].ip)) == 0)
			return &set[i];
		if (set[i].last_us < lru->last_us)
			lru = &set[i];
	}
	if (lru->family)
		rl->evictions++;
	memcpy(lru->ip, src->ip, sizeof(lru->ip));
	lru->family = src->family;
	lru->last_us = now_us;
	lru->pkt_tokens = rl->burst;
	lru->byte_tokens = rl->byte_burst;
	return lru;
}

bool rl_allow(struct ratelimit *rl, const struct nc_addr *src, uint64_t now_us, unsigned bytes)
{
	size_t set = set_for(rl, src);
	pthread_mutex_t *lock = &rl->stripe[set % RL_STRIPES];
	struct rl_slot *s;
	bool ok = false;
	double dt;

	pthread_mutex_lock(lock);
	s = entry_for(rl, &rl->slots[set * RL_WAYS], src, now_us);
	/* Another thread may have stamped a later time: never refill backwards. */
	dt = now_us > s->last_us ? (double)(now_us - s->last_us) / 1e6 : 0;
	if (now_us > s->last_us)
		s->last_us = now_us;
	s->pkt_tokens += dt * rl->pps;
	if (s->pkt_tokens > rl->burst)
		s->pkt_tokens = rl->burst;
	s->byte_tokens += dt * rl->bps;
	if (s->byte_tokens > rl->byte_burst)
		s->byte_tokens = rl->byte_burst;
	if (s->pkt_tokens >= 1 && s->byte_tokens >= bytes) {
		s->pkt_tokens -= 1;
		s->byte_tokens -= bytes;
		ok = true;
	}
	pthread_mutex_unlock(lock);
	return ok;
}
