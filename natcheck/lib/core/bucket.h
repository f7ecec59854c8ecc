/* One token bucket, the arithmetic every rate limit of the suite shares (the reflector's
 * per-source limits, punchvpn's handshake limiter and birthday-probing pace, punchvpnd's relay
 * limits): integer thousandths of a token over a millisecond clock, so a rate of r tokens a
 * second refills exactly r thousandths each millisecond. Not thread-safe: the caller holds
 * whatever lock guards the bucket. */
#ifndef NC_BUCKET_H
#define NC_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct nc_bucket {
	uint64_t milli; /* tokens x 1000 */
	uint64_t at_ms; /* last refill */
};

/* A bucket holding tokens now. */
void nc_bucket_init(struct nc_bucket *b, uint64_t tokens, uint64_t now_ms);
/* Refills at rate tokens a second, up to burst tokens (a clock that goes back refills
 * nothing). Returns the whole tokens there are. */
uint64_t nc_bucket_refill(struct nc_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ms);
/* Refills, then takes cost tokens if there are that many: true if it did. */
bool nc_bucket_take(struct nc_bucket *b, uint64_t rate, uint64_t burst, uint64_t cost,
		    uint64_t now_ms);
/* Takes cost tokens without refilling, down to zero at most (what was spent anyway). */
void nc_bucket_spend(struct nc_bucket *b, uint64_t cost);
/* Gives back cost tokens taken for something that did not happen. */
void nc_bucket_give(struct nc_bucket *b, uint64_t cost);

#endif
