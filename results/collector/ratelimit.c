#include "ratelimit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RL_SLOTS 8192 /* power of two */
#define RL_PROBE 8

struct rl_slot {
	uint8_t key[16];
	bool used;
	double tokens;
	int64_t last_ms;
};

struct col_ratelimit {
	pthread_mutex_t lock;
	double rate, burst;
	struct rl_slot slot[RL_SLOTS];
};

struct col_ratelimit *col_ratelimit_new(double rate, double burst)
{
	struct col_ratelimit *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return NULL;
	pthread_mutex_init(&rl->lock, NULL);
	rl->rate = rate;
	rl->burst = burst < 1 ? 1 : burst;
	return rl;
}

void col_ratelimit_free(struct col_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static uint32_t hash(const uint8_t k[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 16777619u;
	return h;
}

bool col_ratelimit_take(struct col_ratelimit *rl, const struct sockaddr *sa, int64_t now_ms,
			unsigned *retry_s)
{
	uint8_t key[16] = {0};
	struct rl_slot *s = NULL, *oldest = NULL;
	bool ok;

	if (rl->rate <= 0)
		return true;
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *a =
		    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		/* An IPv4-mapped address is its IPv4 source; other IPv6 sources count per /64. */
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)a))
			memcpy(key, a + 12, 4);
		else {
			memcpy(key, a, 8);
			key[15] = 6;
		}
	}
	pthread_mutex_lock(&rl->lock);
	uint32_t h = hash(key);
	for (int i = 0; i < RL_PROBE; i++) {
		struct rl_slot *c = &rl->slot[(h + (uint32_t)i) & (RL_SLOTS - 1)];
		if (c->used && memcmp(c->key, key, 16) == 0) {
			s = c;
			break;
		}
		if (!oldest || !c->used || (oldest->used && c->last_ms < oldest->last_ms))
			oldest = c;
	}
	if (!s) {
		/* A new source, or one evicted: it starts with a full bucket. Evicting the least
		 * recently seen neighbour can only forgive that source, never punish another. */
		s = oldest;
		memcpy(s->key, key, 16);
		s->used = true;
		s->tokens = rl->burst;
		s->last_ms = now_ms;
	}
	s->tokens += (double)(now_ms - s->last_ms) * rl->rate / 1000.0;
	if (s->tokens > rl->burst)
		s->tokens = rl->burst;
	s->last_ms = now_ms;
	ok = s->tokens >= 1.0;
	if (ok)
		s->tokens -= 1.0;
	else if (retry_s)
		*retry_s = (unsigned)((1.0 - s->tokens) / rl->rate) + 1;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}
