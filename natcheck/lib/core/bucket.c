#include "bucket.h"

void nc_bucket_init(struct nc_bucket *b, uint64_t tokens, uint64_t now_ms)
{
	b->milli = tokens * 1000;
	b->at_ms = now_ms;
}

uint64_t nc_bucket_refill(struct nc_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms)
{
	uint64_t cap = burst * 1000;

	if (now_ms > b->at_ms) {
		uint64_t dt = now_ms - b->at_ms;
		/* A long idle time at a high rate fills the bucket (and must not overflow). */
		uint64_t add = rate && dt > cap / rate ? cap : dt * rate;

		b->milli = add >= cap || b->milli + add > cap ? cap : b->milli + add;
		b->at_ms = now_ms;
	}
	if (b->milli > cap)
		b->milli = cap;
	return b->milli / 1000;
}

bool nc_bucket_take(struct nc_bucket *b, uint64_t rate, uint64_t burst, uint64_t cost,
		    uint64_t now_ms)
{
	if (nc_bucket_refill(b, rate, burst, now_ms) < cost)
		return false;
	b->milli -= cost * 1000;
	return true;
}

void nc_bucket_spend(struct nc_bucket *b, uint64_t cost)
{
	b->milli = b->milli >= cost * 1000 ? b->milli - cost * 1000 : 0;
}

void nc_bucket_give(struct nc_bucket *b, uint64_t cost)
{
	b->milli += cost * 1000;
}
