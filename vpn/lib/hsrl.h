/* Token buckets per source address, against handshake floods: a handshake message costs
 * three or four X25519 operations, so each source IP gets a small rate of them (after mac1,
 * which only those who know our public key can compute, and before any DH). Fixed memory:
 * a table of HSRL_SLOTS buckets indexed by a keyed hash (SipHash, random key) of the address;
 * two addresses that share a slot share its bucket, which errs towards limiting. */
#ifndef VPN_HSRL_H
#define VPN_HSRL_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stdint.h>

#include "bucket.h"

#define HSRL_SLOTS 4096

struct hsrl_slot {
	uint8_t ip[16];
	uint8_t family;
	struct nc_bucket b;
};

struct hsrl {
	unsigned per_second; /* refill rate */
	unsigned burst;      /* bucket size */
	uint8_t key[16];
	struct hsrl_slot slot[HSRL_SLOTS];
};

void hsrl_init(struct hsrl *rl, unsigned per_second, unsigned burst);
/* Takes one token for a's IP: true if allowed. */
bool hsrl_allow(struct hsrl *rl, const struct nc_addr *a, uint64_t now_ms);

#endif
