/* The strategy table (issue 11 §1): which paths to try between two peers, in which order, and
 * why, from both sides' measured NAT profiles (natprof.h, exchanged through punchvpnd). Pure
 * and data-driven: strategy.c holds one table of rows; docs/punchvpn.md ("Strategy") prints it.
 *
 * Candidates race; the list only says which ones to start and which to prefer when several
 * prove themselves. The relay is always the last entry: the tunnel starts on it at once and
 * moves to a direct path when one succeeds. */
#ifndef VPN_STRATEGY_H
#define VPN_STRATEGY_H

#include <natcheck/addr.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"

/* In the order a plan lists them (cheapest and most direct first). */
enum strat_method {
	STRAT_LAN = 0,  /* the peer's local addresses: both behind one public address */
	STRAT_PUBLIC,   /* a side without NAT or filter, at its observed endpoint */
	STRAT_PORTMAP,  /* a side's gateway mapping (NAT-PMP, PCP, UPnP-IGD) */
	STRAT_PUNCH,    /* simultaneous UDP to the observed endpoints, peer-reflexive learning */
	STRAT_PREDICT,  /* a window of guesses at a sequential allocator's next ports */
	STRAT_BIRTHDAY, /* many sockets on the random side, random probes from the other */
	STRAT_TCP,      /* TCP simultaneous open */
	STRAT_RELAY,    /* through punchvpnd */
	STRAT_METHOD_COUNT
};

/* Whose endpoint a method aims at, from the caller's point of view: for STRAT_PREDICT and
 * STRAT_BIRTHDAY the side it aims at is the hard one (the side whose ports are guessed, the
 * side that opens many sockets); the other side sends the guesses or the random probes. */
enum strat_at {
	STRAT_AT_NONE = 0, /* the relay */
	STRAT_AT_PEER,     /* the peer's endpoint: I send to it (and learn its reply) */
	STRAT_AT_ME,       /* my endpoint: the peer sends to it, I learn its peer-reflexive one */
	STRAT_AT_BOTH,     /* both ends send to each other */
};

struct strat_side {
	const struct coord_profile *prof; /* NULL = not measured */
	struct nc_addr observed;          /* what punchvpnd saw (unset = not known) */
	size_t n_local;                   /* local candidates advertised */
};

struct strat_step {
	enum strat_method method;
	enum strat_at at;
	const char *why;
};

struct strat_plan {
	size_t n;
	struct strat_step step[STRAT_METHOD_COUNT];
	/* By method: why it is not in the plan; NULL for the methods that are. */
	const char *skipped[STRAT_METHOD_COUNT];
};

/* The plan between me and peer. Symmetric: the peer's plan lists the same methods in the same
 * order with STRAT_AT_ME and STRAT_AT_PEER swapped. Never fails; the relay is always last. */
void strategy_plan(const struct strat_side *me, const struct strat_side *peer,
		   struct strat_plan *out);

/* The first direct method of a plan, or STRAT_RELAY when it has none. */
enum strat_method strategy_first_direct(const struct strat_plan *p);

/* "lan", "public", "port-mapping", "punch", "prediction", "birthday", "tcp", "relay". */
const char *strategy_method_name(enum strat_method m);
/* "none", "peer", "me", "both". */
const char *strategy_at_name(enum strat_at a);

/* The plan for `status --json`: {"order": [{"method", "at", "why"}, ...], "skipped":
 * {"<method>": "why", ...}}. NULL when out of memory. */
json_t *strategy_plan_json(const struct strat_plan *p);

/* Keepalive interval (ms) that keeps both sides' NAT bindings alive, from the measured binding
 * lifetimes (either profile may be NULL): with L the shortest lifetime measured,
 * min(25 s, L / 2.5), never under 1 s. L / 2.5 leaves two keepalives per lifetime plus slack,
 * so one lost keepalive never lets the binding expire (the second one still comes at 0.8 L).
 * When neither side measured one: 10 s, the interval a 25 s lifetime would give, so the usual
 * 30 s UDP timeout of home routers survives one lost keepalive (WireGuard's 25 s does not:
 * one loss, and the next comes at 50 s).
 * Both sides compute it from the same two profiles (their own and the one the introduction
 * carries), so each knows the pace of the other's keepalives: the silence limit follows it.
 * Refresh direction: a NAT that refreshes bindings on outbound traffic only (natcheck's
 * inbound_refresh false) needs nothing else, as each side's keepalive counts only what that
 * side itself sends. */
#define STRAT_KEEPALIVE_MAX_MS 25000u
#define STRAT_KEEPALIVE_UNKNOWN_MS 10000u
#define STRAT_KEEPALIVE_MIN_MS 1000u
/* While this side's own lifetime is still being measured (natprof's lifetime stage: about 5x
 * the lifetime, 26 s for 5 s), it sends at least this often: a 5 s binding must not die while
 * its lifetime is measured. The peer cannot know, so the interval both sides agree on (ms, the
 * silence limit's base) stays as it is. */
#define STRAT_KEEPALIVE_MEASURING_MS 2000u

struct strat_keepalive {
	unsigned ms;          /* the interval both sides derive: the peer's pace */
	unsigned send_ms;     /* this side's: ms, or less while its lifetime is measured */
	bool measuring;       /* send_ms is the measuring one */
	unsigned lifetime_s;  /* L, the lifetime it came from; 0 = none measured */
	enum strat_at from;   /* whose lifetime L is: me, peer, both (equal), none */
};

void strategy_keepalive(const struct coord_profile *mine, const struct coord_profile *peer,
			bool measuring, struct strat_keepalive *out);
/* "2000 ms from measured lifetime 5 s (this side)", "10000 ms default, lifetime not measured",
 * with "; sending every 2000 ms while this side's lifetime is measured" when it applies. */
void strategy_keepalive_text(const struct strat_keepalive *k, char *out, size_t len);
unsigned strategy_keepalive_ms(const struct coord_profile *mine, const struct coord_profile *peer);

#endif
