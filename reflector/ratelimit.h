/* Per-source abuse limits: a token bucket for packets and one for answer bytes, per source IP,
 * in one fixed-size table shared by all worker threads (SO_REUSEPORT spreads one source's
 * ports over threads, so per-thread tables would multiply its budget); striped locks keep
 * the threads from contending. The table never grows: it is 4-way set-associative, and a new
 * source replaces the least recently seen entry of its set. With direct mapping, two sources
 * that collide would evict each other on every packet and each get a fresh burst every time;
 * a set holds four, so that takes five flooding sources in one of 2048 sets. */
#ifndef REFL_RATELIMIT_H
#define REFL_RATELIMIT_H

#include <natcheck/addr.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define RL_SLOTS 8192
#define RL_WAYS 4
#define RL_SETS (RL_SLOTS / RL_WAYS)
#define RL_STRIPES 64

struct rl_slot {
	uint8_t ip[16];
	uint8_t family;
	uint64_t last_us;
	double pkt_tokens;
	double byte_tokens;
};

struct ratelimit {
	double pps, burst;           /* packets per second, bucket depth */
	double bps, byte_burst;      /* answer bytes per second, bucket depth */
	uint64_t hash_key[2];        /* keyed hash: sources cannot aim at one slot */
	_Atomic uint64_t evictions;
	pthread_mutex_t stripe[RL_STRIPES];
	struct rl_slot slots[RL_SLOTS];
};

/* pps/burst: packets; bytes_per_s: answer bytes (burst is two seconds' worth). */
void rl_init(struct ratelimit *rl, double pps, double burst, double bytes_per_s);
/* May src get an answer of `bytes` bytes at time now_us? Takes the tokens if so. */
bool rl_allow(struct ratelimit *rl, const struct nc_addr *src, uint64_t now_us, unsigned bytes);
void rl_destroy(struct ratelimit *rl);

#endif
