/* Punch outcome reports (issue 11 §4): when the user asks (OutcomeLog = DIR in [Interface], or
 * `punchvpn up --outcomes DIR`), one anonymised punch-outcome document (<natcheck/outcome.h>,
 * results/schema/punch-outcome.v1.schema.json) per connection attempt, written into DIR;
 * `punchvpn submit-outcomes` later posts them to a results collector.
 *
 * An attempt is one punching round of a peer's path (path.h): it starts when the path starts
 * punching (an introduction, a direct path gone silent, a network change, the peer leaving the
 * direct path) and ends
 *   - with success at the first authenticated direct packet: the method that made the path
 *     direct, and the milliseconds from the round's start (path_intro_to_direct_ms);
 *   - with failure when punching gives up (PATH_PUNCH_GIVEUP_MS without a direct packet: the
 *     relay is final): the method the strategy table put first among the direct ones (what was
 *     tried), no time.
 * A round cut short (a network change or `down` before either end) is not an outcome and is not
 * written. A failed round repeated for the same peer (introductions start punching again on the
 * relay) is written once, until a direct path, a network change or a `punchvpn repunch` in
 * between: a relayed pair
 * would otherwise fill the directory with the same failure every half minute and outweigh the
 * pairs that connect once.
 *
 * The document holds both sides' NAT classes (this host's profile as registered, the peer's
 * from its introduction), the method, success and time, the day: no address, port, key or
 * name; the file name is random. Files are written atomically (a temporary file in DIR, fsync,
 * rename), mode 0644: there is nothing secret in them. */
#ifndef VPN_OUTLOG_H
#define VPN_OUTLOG_H

#include <natcheck/outcome.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "coord.h"
#include "path.h"
#include "strategy.h"

#define OUTLOG_PREFIX  "punch-outcome-" /* file names: PREFIX YYYYMMDD-<32 hex>.json */
#define OUTLOG_MAX_DOC 4096		/* a document is some 400 bytes */

/* Following one peer's attempts (pure; unit-tested over path snapshots). */
struct outlog_track {
	uint64_t round_ms; /* the round followed (path.intro_ms); 0 = none yet */
	bool open;	   /* it has not ended */
	bool repeat;	   /* it repeats a failed round: a failure is not written again */
	bool failed;	   /* the latest round ended in failure, nothing changed since */
};

enum outlog_end {
	OUTLOG_NONE = 0, /* no round, or it runs on */
	OUTLOG_SUCCESS,	 /* first direct packet */
	OUTLOG_FAILURE,	 /* punching gave up */
	OUTLOG_REPEAT,	 /* gave up again, as before: not written */
};

/* One look at the path (a snapshot taken under the peer's lock): whether a round ended. */
enum outlog_end outlog_step(struct outlog_track *t, const struct path *p);

/* A side's class from its profile (NULL or not measured: everything unknown). port_mapping is
 * YES when the side advertises a gateway mapping, unknown otherwise (a side may not have
 * asked: PortMapping = off). */
void outlog_class(const struct coord_profile *prof, struct nc_nat_class *out);
/* The schema's method for a strategy method. */
enum nc_punch_method outlog_method(enum strat_method m);
/* The document: tool punchvpn and its version, the day of when, the classes, the method, and
 * success with its time (ms < 0 or !success: none). */
void outlog_build(const struct coord_profile *mine, const struct coord_profile *peer,
		  enum strat_method m, bool success, int64_t ms, time_t when,
		  struct nc_punch_outcome *o);

struct outlog;

/* Opens the directory (made, mode 0755, when missing; its parent must exist) and checks that
 * a file can be written there (a probe file is created and removed). n_peers trackers. */
int outlog_open(struct outlog **ol, const char *dir, size_t n_peers, char *err, size_t errlen);
void outlog_close(struct outlog *ol);
/* Writes o as a new file (temporary name, fsync, rename, directory fsync). name (may be NULL)
 * gets the file's path. Returns 0 or a negative NC_E_* / -errno. */
int outlog_write(struct outlog *ol, const struct nc_punch_outcome *o, char *name, size_t len);
struct outlog_track *outlog_track(struct outlog *ol, size_t i);
/* Documents written, and rounds ended without one (repeats, write errors). */
void outlog_counts(const struct outlog *ol, uint64_t *written, uint64_t *skipped);

/* The device's hook (devlink.c, main thread, once per tick per peer with a path that can
 * punch): follows the peer's path snapshot; a round that ended is written once both profiles
 * are measured (a fast punch ends before the measurements do), or OUTLOG_PROFILE_WAIT_MS after
 * it ended with what is known then. The method is judged on the path as the round ended. */
#define OUTLOG_PROFILE_WAIT_MS 15000
struct dev;
struct dev_peer;
void outlog_dev_tick(struct dev *d, struct dev_peer *p, const struct path *snap);
/* Writes every round still waiting for a profile (`up` ending; before dev_stop). */
void outlog_dev_flush(struct dev *d);

#endif
