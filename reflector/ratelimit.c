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

static size_t slot_for(const struct ratelimit *rl, const struct nc_addr *src)
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, src->ip, sizeof(src->ip), (const unsigned char *)rl->hash_key);
	return h % RL_SLOTS;
}

bool rl_allow(struct ratelimit *rl, const struct nc_addr *src, uint64_t now_us, unsigned bytes)
{
	size_t idx = slot_for(rl, src);
	struct rl_slot *s = &rl->slots[idx];
	pthread_mutex_t *lock = &rl->stripe[idx % RL_STRIPES];
	bool ok = false;
	double dt;

	pthread_mutex_lock(lock);
	if (s->family != src->family || memcmp(s->ip, src->ip, sizeof(s->ip)) != 0) {
		if (s->family)
			rl->evictions++;
		memcpy(s->ip, src->ip, sizeof(s->ip));
		s->family = src->family;
		s->last_us = now_us;
		s->pkt_tokens = rl->burst;
		s->byte_tokens = rl->byte_burst;
	}
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
