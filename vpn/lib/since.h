/* Elapsed time between two readings of the monotonic clock, saturating at zero. The data-path
 * threads stamp packets and sessions with their own clock readings, which can be later than
 * the reading another thread is working with: plain subtraction then wraps to ~2^64 ms, and a
 * live path looks silent, a new session expired, staged packets 90 s old. */
#ifndef VPN_SINCE_H
#define VPN_SINCE_H

#include <stdint.h>

static inline uint64_t vpn_since(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

#endif
