/* Sliding replay window over 64-bit packet counters (RFC 6479's ring of blocks, the scheme
 * WireGuard and tinc's SPTPS use). The window holds REPLAY_WINDOW counters below the highest
 * seen; anything older, or seen before, is refused.
 *
 * Only replay_update changes state, and callers call it only after the packet authenticated:
 * otherwise a forged packet with a huge counter would slide the window past every real one. */
#ifndef VPN_REPLAY_H
#define VPN_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_BLOCKS 128
#define REPLAY_WINDOW ((REPLAY_BLOCKS - 1) * 64) /* 8128 counters */
/* Counters from here on are never accepted: the sender must have rekeyed long before. */
#define REPLAY_COUNTER_LIMIT (UINT64_MAX - (1ull << 13))

struct replay {
	uint64_t top; /* highest counter accepted + 1 (0: none yet) */
	uint64_t bits[REPLAY_BLOCKS];
};

void replay_init(struct replay *r);
/* Read-only check: could ctr be accepted? (To skip decrypting what will be refused.) */
bool replay_check(const struct replay *r, uint64_t ctr);
/* Accepts ctr and records it, or returns false (replayed or older than the window). */
bool replay_update(struct replay *r, uint64_t ctr);

#endif
