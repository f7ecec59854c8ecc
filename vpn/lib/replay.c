#include "replay.h"

#include <string.h>

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool replay_check(const struct replay *r, uint64_t ctr)
{
	if (ctr >= REPLAY_COUNTER_LIMIT)
		return false;
	if (ctr >= r->top)
		return true;
	if (r->top - ctr > REPLAY_WINDOW)
		return false;
	return !(r->bits[(ctr >> 6) % REPLAY_BLOCKS] & (1ull << (ctr & 63)));
}

bool replay_update(struct replay *r, uint64_t ctr)
{
	uint64_t block = ctr >> 6, bit = 1ull << (ctr & 63), old;

	if (ctr >= REPLAY_COUNTER_LIMIT)
		return false;
	if (ctr >= r->top) {
		/* Slide: clear the blocks between the old top and the new one (all of them if the
		 * jump is longer than the ring). */
		uint64_t cur = r->top ? (r->top - 1) >> 6 : 0, diff = block - cur;

		if (r->top == 0)
			diff = REPLAY_BLOCKS;
		if (diff > REPLAY_BLOCKS)
			diff = REPLAY_BLOCKS;
		for (uint64_t i = 1; i <= diff; i++)
			r->bits[(cur + i) % REPLAY_BLOCKS] = 0;
		r->top = ctr + 1;
	} else if (r->top - ctr > REPLAY_WINDOW) {
		return false;
	}
	old = r->bits[block % REPLAY_BLOCKS];
	r->bits[block % REPLAY_BLOCKS] = old | bit;
	return !(old & bit);
}
