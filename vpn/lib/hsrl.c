#include "hsrl.h"

#include <sodium.h>
#include <string.h>

void hsrl_init(struct hsrl *rl, unsigned per_second, unsigned burst)
{
	memset(rl, 0, sizeof(*rl));
	rl->per_second = per_second;
	rl->burst = burst;
	randombytes_buf(rl->key, sizeof(rl->key));
}

bool hsrl_allow(struct hsrl *rl, const struct nc_addr *a, uint64_t now_ms)
{
	uint8_t h[crypto_shorthash_BYTES], in[17];
	struct hsrl_slot *s;
	uint64_t idx;

	in[0] = a->family;
	memcpy(in + 1, a->ip, 16);
	crypto_shorthash(h, in, sizeof(in), rl->key);
	memcpy(&idx, h, sizeof(idx));
	s = &rl->slot[idx % HSRL_SLOTS];
	if (s->family != a->family || memcmp(s->ip, a->ip, 16) != 0) {
		/* A new address takes over a slot only once its bucket would be full again, so a
		 * flood from many addresses cannot reset a limited one's bucket. */
		if (s->family == 0 || now_ms - s->b.at_ms >= 1000ull * rl->burst / rl->per_second) {
			s->family = a->family;
			memcpy(s->ip, a->ip, 16);
			nc_bucket_init(&s->b, rl->burst, now_ms);
		}
	}
	return nc_bucket_take(&s->b, rl->per_second, rl->burst, 1, now_ms);
}
