/* Birthday probing (issue 11 §1): a direct path between a side whose NAT maps every new
 * destination to a random port (symmetric, random allocation) and a side whose endpoint stands
 * still (endpoint-independent mapping) but filters by address and port (port-restricted).
 * Neither end can name the other's next port, so both make many guesses and rely on the
 * birthday paradox:
 *
 *   hard side (random mapping)   opens BDAY_SOCKETS sockets and sends one authenticated probe
 *                                from each to the easy side's observed endpoint: its NAT now
 *                                holds BDAY_SOCKETS mappings toward that endpoint, at random
 *                                ports (the easy NAT drops the probes: its filter is closed)
 *   easy side (stands still)     sends authenticated probes from its tunnel socket to random
 *                                ports of the hard side's address, never the same port twice;
 *                                each probe opens its own filter for that port
 *
 * A probe that lands on one of the hard side's mappings reaches that socket. Each probe names
 * the port it was sent to (ctrl.h: BDAY_PROBE), so the hard side knows which of its mappings
 * was found: it answers from that socket and also reports the port through the relay
 * (BDAY_HIT). The report matters when the easy side's NAT keeps few permissions per mapping
 * (natbox keeps 32): by the time the answer comes back, one round trip of probes later, the
 * permission the probe opened may be gone. On the report the easy side stops spraying and
 * probes that one port again every BDAY_CONFIRM_MS, which re-opens its filter for the answer;
 * when the answer arrives both ends have a direct path (the easy side learns the hard side's
 * mapping as a peer-reflexive endpoint). With N mappings
 * among R ports each probe hits with probability N/R: 256 of 64 512 ports and 400 probes a
 * second give an expected 6.5 hits in 5 s (a miss in about 0.2% of attempts).
 *
 * The easy side probes from a socket of its own, not the tunnel's: a NAT that keeps few
 * permissions per mapping would otherwise forget the relay's among the probes' and cut the
 * tunnel off while the attempt runs. It learns that socket's mapping from the NAT-profile
 * reflector (a STUN Binding, NatCheck in the config) and names it to the hard side through the
 * relay (BDAY_TARGET); the hard side waits for that up to BDAY_TARGET_WAIT_MS, and both fall
 * back to the tunnel's socket and its observed endpoint when the mapping cannot be learnt
 * within BDAY_STUN_GIVEUP_MS (no reflector, or it does not answer).
 *
 * Pacing: each side sends at most BDAY_PPS probes a second to one peer on average (the hard
 * side's sockets open at that rate too), from a bucket that holds a tenth of a second's worth:
 * never more than 1.1 x BDAY_PPS in any one second. An attempt stops after BDAY_FOR_MS. This
 * module is the
 * pure part (roles, pacing, the random ports, the counters), with the caller's clock; devbday.c
 * owns the sockets. */
#ifndef VPN_BDAY_H
#define VPN_BDAY_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bucket.h"

#define BDAY_SOCKETS 256   /* the hard side's sockets (mappings) per attempt */
#define BDAY_PPS 400       /* probes a second, either side, per peer */
#define BDAY_FOR_MS 8000   /* an attempt gives up after this */
#define BDAY_PORT_MIN 1024 /* NATs allocate above the privileged ports */
#define BDAY_STUN_MS 150         /* the easy side's STUN retries */
#define BDAY_STUN_GIVEUP_MS 600  /* ... for this long */
#define BDAY_TARGET_WAIT_MS 1500 /* the hard side waits this long for BDAY_TARGET */
#define BDAY_CONFIRM_MS 100   /* the easy side re-probes a reported hit this often */
#define BDAY_CONFIRM_TRIES 10 /* then goes back to spraying */

enum bday_role { BDAY_NONE = 0, BDAY_HARD, BDAY_EASY };

enum bday_result { BDAY_IDLE = 0, BDAY_RUNNING, BDAY_WON, BDAY_GAVE_UP };

struct bday {
	enum bday_role role;
	enum bday_result result;
	struct nc_addr target; /* HARD: the easy side's endpoint; EASY: the hard side's address */
	uint64_t start_ms, end_ms;
	unsigned sent;         /* probes sent (HARD: sockets opened) this attempt */
	struct nc_bucket pace;     /* BDAY_PPS, holding a tenth of a second's worth */
	bool hold;             /* no probes yet: waiting for the target (HARD) or the mapping of
				* the probing socket (EASY) */
	uint16_t hit_port;     /* EASY: a hit the hard side reported, being confirmed */
	uint64_t next_confirm_ms;
	unsigned confirms, hits;
	unsigned attempts, wins; /* over the peer's life */
	uint64_t rng;
	uint8_t tried[65536 / 8]; /* EASY: ports probed this attempt */
};

/* Starts an attempt (a running one is restarted). seed: any random 64-bit value. */
void bday_start(struct bday *b, enum bday_role role, const struct nc_addr *target,
		uint64_t seed, uint64_t now);
/* How many probes are due now under the pace (0 when not running); the caller sends that many
 * and reports each with bday_sent. Gives up (BDAY_GAVE_UP) after BDAY_FOR_MS. */
unsigned bday_due(struct bday *b, uint64_t now);
/* EASY: the next port to probe, at random among those not tried in this attempt (0 when every
 * port was tried). */
uint16_t bday_next_port(struct bday *b);
void bday_sent(struct bday *b);
/* Holds the probes back (true) or lets them go (false); the pace's credit keeps its cap. */
void bday_hold(struct bday *b, bool hold);
/* EASY: the hard side reports that the probe sent to port reached it: spraying stops while
 * that port is probed again (bday_confirm_due). Ignored when not running. */
void bday_hit(struct bday *b, uint16_t port, uint64_t now);
/* EASY: the port to re-probe now, or 0; after BDAY_CONFIRM_TRIES spraying resumes. */
uint16_t bday_confirm_due(struct bday *b, uint64_t now);
/* A direct path came from the attempt. */
void bday_won(struct bday *b, uint64_t now);
/* Milliseconds the attempt ran (until now while it runs). */
uint64_t bday_elapsed_ms(const struct bday *b, uint64_t now);

const char *bday_role_name(enum bday_role r);
const char *bday_result_name(enum bday_result r);

#endif
