/* The receiving side of the coordination link: what a reflector does with a datagram that
 * claims to come from its partner, before anything is acted upon.
 *
 * Order (STYLE.md §6): structure and timestamp window (ncp_coord_parse), then the MAC under the
 * shared key, then the nonce replay cache, then the target checks and rate limits (per target
 * IP and global token buckets); only a message that passed all of them is handed back to the
 * caller to act on. Every refusal is counted by reason. No sockets and no clock of its own: the
 * caller passes the times, so the unit tests drive it directly. One thread (the coordination
 * thread) calls bouncer_handle_coord(); the counters may be read from any thread. */
#ifndef REFL_BOUNCER_H
#define REFL_BOUNCER_H

#include "ncproto.h"

#include <stdatomic.h>
#include <stdint.h>

enum bouncer_verdict {
	BNC_OK = 0,
	BNC_BAD_FORMAT,  /* length, magic, type, field values */
	BNC_STALE,       /* timestamp outside +-30 s */
	BNC_BAD_MAC,     /* not from a holder of the key */
	BNC_REPLAY,      /* nonce seen before (or the replay cache is full: fail closed) */
	BNC_BAD_TARGET,  /* target not a unicast address a client could have (loopback, ...) */
	BNC_RATE_TARGET, /* too many actions toward this target IP */
	BNC_RATE_GLOBAL, /* too many actions overall */
	BNC_VERDICT_COUNT
};

struct bouncer_counters {
	_Atomic uint64_t v[BNC_VERDICT_COUNT]; /* indexed by enum bouncer_verdict */
};

struct bouncer_cfg {
	uint8_t key[NCP_KEY_LEN];
	double target_rate, target_burst; /* actions per second per target IP (default 5, 20) */
	double global_rate, global_burst; /* actions per second in all (default 100, 200) */
};

struct bouncer;

/* Copies the key (the caller wipes its copy). 0 or -NC_E_NOMEM. */
int bouncer_new(struct bouncer **out, const struct bouncer_cfg *cfg);
void bouncer_free(struct bouncer *b); /* wipes the key */

/* Checks one datagram; on BNC_OK *m holds the message to act on. now_us is the monotonic
 * clock (rate limits), wall_ms the Unix time in ms (timestamp window). */
enum bouncer_verdict bouncer_handle_coord(struct bouncer *b, uint64_t now_us, uint64_t wall_ms,
					  const uint8_t *pkt, size_t len, struct ncp_coord *m);

/* The target checks and rate limits alone, for an action this host takes for a client of its
 * own (no message to authenticate). Counted like bouncer_handle_coord(); *why says the reason
 * when it returns false. */
bool bouncer_admit(struct bouncer *b, const struct nc_addr *target, uint64_t now_us,
		   enum bouncer_verdict *why);

/* Encodes an outgoing message under the same key (fresh nonce and timestamp). */
int bouncer_seal(const struct bouncer *b, struct ncp_coord *m, uint64_t wall_ms, uint8_t *buf,
		 size_t cap);

const struct bouncer_counters *bouncer_counters(const struct bouncer *b);
const char *bouncer_verdict_name(enum bouncer_verdict v);

#endif
