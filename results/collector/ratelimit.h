/* Per-source rate limit: a token bucket per client address (IPv6 per /64, since one host
 * holds a whole /64), in a fixed-size table so that a flood of sources cannot grow memory. */
#ifndef COL_RATELIMIT_H
#define COL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct col_ratelimit;

/* rate per second (0 = no limit), burst tokens. */
struct col_ratelimit *col_ratelimit_new(double rate, double burst);
void col_ratelimit_free(struct col_ratelimit *rl);
/* Takes one token for sa at now_ms; false when the source must wait (then *retry_s says how
 * long, at least 1). Thread-safe. */
bool col_ratelimit_take(struct col_ratelimit *rl, const struct sockaddr *sa, int64_t now_ms,
			unsigned *retry_s);

#endif
