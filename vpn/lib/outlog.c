#include "outlog.h"

#include <natcheck/error.h>
#include <natcheck/log.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devpriv.h"

/* Both tables list the same eight paths, in the same order of cost. */
_Static_assert((int)STRAT_METHOD_COUNT == (int)NC_METHOD_COUNT,
	       "strategy.h and outcome.h name the same methods");

static const enum nc_punch_method method_of[STRAT_METHOD_COUNT] = {
    [STRAT_LAN] = NC_METHOD_SAME_LAN,	      [STRAT_PUBLIC] = NC_METHOD_PUBLIC,
    [STRAT_PORTMAP] = NC_METHOD_PORT_MAPPING, [STRAT_PUNCH] = NC_METHOD_UDP_PUNCH,
    [STRAT_PREDICT] = NC_METHOD_PREDICTION,   [STRAT_BIRTHDAY] = NC_METHOD_BIRTHDAY,
    [STRAT_TCP] = NC_METHOD_TCP_SIMOPEN,      [STRAT_RELAY] = NC_METHOD_RELAY,
};

enum nc_punch_method outlog_method(enum strat_method m)
{
	return (size_t)m < STRAT_METHOD_COUNT ? method_of[m] : NC_METHOD_RELAY;
}

void outlog_class(const struct coord_profile *prof, struct nc_nat_class *out)
{
	memset(out, 0, sizeof(*out)); /* every member's zero is "unknown" */
	if (!prof || !prof->measured)
		return;
	/* The profile came off the wire (an introduction): an out-of-range value is unknown. */
	out->mapping = prof->mapping <= NC_BEH_APD ? (enum nc_beh)prof->mapping : NC_BEH_UNKNOWN;
	out->filtering =
	    prof->filtering <= NC_BEH_APD ? (enum nc_beh)prof->filtering : NC_BEH_UNKNOWN;
	out->allocation = prof->allocation <= NC_ALLOC_RANDOM ? (enum nc_alloc)prof->allocation
							      : NC_ALLOC_UNKNOWN;
	out->udp_blocked =
	    prof->udp_blocked <= NC_TRI_YES ? (enum nc_tri)prof->udp_blocked : NC_TRI_UNKNOWN;
	out->port_mapping = prof->portmap != COORD_PM_NONE ? NC_TRI_YES : NC_TRI_UNKNOWN;
}

void outlog_build(const struct coord_profile *mine, const struct coord_profile *peer,
		  enum strat_method m, bool success, int64_t ms, time_t when,
		  struct nc_punch_outcome *o)
{
	nc_punch_outcome_init(o, when);
	snprintf(o->tool_name, sizeof(o->tool_name), "punchvpn");
	snprintf(o->tool_version, sizeof(o->tool_version), "%s", NC_VERSION);
	outlog_class(mine, &o->local);
	outlog_class(peer, &o->peer);
	o->method = outlog_method(m);
	o->success = success;
	o->first_packet_ms = success && ms >= 0 && ms <= UINT32_MAX ? ms : -1;
}

/* The round followed gave up: a failure, or its repeat (not written again). */
static enum outlog_end round_failed(struct outlog_track *t)
{
	t->open = false;
	t->failed = true;
	return t->repeat ? OUTLOG_REPEAT : OUTLOG_FAILURE;
}

enum outlog_end outlog_step(struct outlog_track *t, const struct path *p)
{
	if (p->fixed || !p->intro_ms)
		return OUTLOG_NONE;
	if (p->intro_ms != t->round_ms) {
		/* The round followed gave up and the next one began before this look (an
		 * introduction right after the give-up: registrations every 15 s meet the 30 s
		 * give-up): its failure still counts, once. */
		enum outlog_end missed = t->open && t->round_ms && p->gaveup_round_ms == t->round_ms
					     ? round_failed(t)
					     : OUTLOG_NONE;

		/* A new round; one still open is cut short (not an outcome). A network change
		 * makes it new even after a failure (the NATs may be others now), and so does a
		 * `punchvpn repunch` (asked for). */
		t->round_ms = p->intro_ms;
		t->open = true;
		t->repeat =
		    t->failed && p->why != PATH_WHY_NET_CHANGE && p->why != PATH_WHY_REPUNCH;
		if (missed != OUTLOG_NONE)
			return missed;
	}
	if (!t->open)
		return OUTLOG_NONE;
	if (p->first_direct_ms) {
		t->open = t->failed = false;
		return OUTLOG_SUCCESS;
	}
	if (!p->punching && p->kind != PATH_DIRECT && p->why == PATH_WHY_NO_DIRECT)
		return round_failed(t);
	return OUTLOG_NONE;
}

/* A round that ended, waiting for both profiles (see outlog_dev_tick). */
struct outlog_pending {
	bool on, success;
	bool by_bday; /* the direct path came from birthday probing (dev_bday_made) */
	uint64_t since_ms;
	struct path snap; /* the path as the round ended: the method is judged on it */
};

struct outlog {
	char *dir;
	int dfd;
	struct outlog_track *track;
	struct outlog_pending *pend;
	size_t n;
	uint64_t written, skipped;
};

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* text into a new file of the directory, atomically: whoever lists the directory (submit-
 * outcomes) sees a whole document or none. Temporary names start with '.', which the
 * submitter skips. */
static int put_file(struct outlog *ol, const char *final, const char *text)
{
	char tmp[128];
	int fd, rc;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", final);
	fd = openat(ol->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fchmod(fd, 0644) != 0) /* whatever the umask: nothing in it is secret */
		rc = -errno;
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(ol->dfd, tmp, ol->dfd, final) != 0)
		rc = -errno;
	if (rc != 0)
		unlinkat(ol->dfd, tmp, 0);
	else
		fsync(ol->dfd); /* the rename itself survives a crash */
	return rc;
}

static int random_name(char *out, size_t len, time_t when)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];
	char h[33];
	struct tm tm;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	for (int i = 0; i < 16; i++) {
		h[2 * i] = hex[r[i] >> 4];
		h[2 * i + 1] = hex[r[i] & 15];
	}
	h[32] = '\0';
	gmtime_r(&when, &tm);
	snprintf(out, len, OUTLOG_PREFIX "%04d%02d%02d-%s.json", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, h);
	return 0;
}

int outlog_open(struct outlog **olp, const char *dir, size_t n_peers, char *err, size_t errlen)
{
	struct outlog *ol = calloc(1, sizeof(*ol));
	char probe[80];
	struct stat st;
	int rc;

	*olp = NULL;
	if (!ol || !(ol->dir = strdup(dir)) ||
	    !(ol->track = calloc(n_peers ? n_peers : 1, sizeof(*ol->track))) ||
	    !(ol->pend = calloc(n_peers ? n_peers : 1, sizeof(*ol->pend)))) {
		snprintf(err, errlen, "OutcomeLog: out of memory");
		rc = -NC_E_NOMEM;
		goto fail;
	}
	ol->n = n_peers;
	ol->dfd = -1;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "OutcomeLog %s: cannot make the directory: %s", dir,
			 strerror(errno));
		goto fail;
	}
	ol->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ol->dfd < 0 || fstat(ol->dfd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "OutcomeLog %s: %s", dir, strerror(errno));
		goto fail;
	}
	/* The first attempt ends seconds after `up`: a directory that takes no file should
	 * stop `up` now, not lose that outcome later. */
	snprintf(probe, sizeof(probe), ".probe-%ld", (long)getpid());
	if ((rc = put_file(ol, probe, "")) != 0) {
		snprintf(err, errlen, "OutcomeLog %s: cannot write a file there: %s", dir,
			 strerror(-rc));
		goto fail;
	}
	unlinkat(ol->dfd, probe, 0);
	*olp = ol;
	return 0;
fail:
	outlog_close(ol);
	return rc;
}

void outlog_close(struct outlog *ol)
{
	if (!ol)
		return;
	if (ol->dfd >= 0)
		close(ol->dfd);
	free(ol->dir);
	free(ol->track);
	free(ol->pend);
	free(ol);
}

int outlog_write(struct outlog *ol, const struct nc_punch_outcome *o, char *name, size_t len)
{
	char file[80];
	char *text = nc_punch_outcome_to_json(o, true);
	time_t now = time(NULL);
	int rc;

	if (!text)
		return -NC_E_INVALID;
	rc = random_name(file, sizeof(file), now);
	if (rc == 0)
		rc = put_file(ol, file, text);
	free(text);
	if (rc == 0 && name)
		snprintf(name, len, "%s/%s", ol->dir, file);
	return rc;
}

struct outlog_track *outlog_track(struct outlog *ol, size_t i)
{
	return i < ol->n ? &ol->track[i] : NULL;
}

void outlog_counts(const struct outlog *ol, uint64_t *written, uint64_t *skipped)
{
	*written = ol->written;
	*skipped = ol->skipped;
}

static enum strat_method method_by_name(const char *w)
{
	for (int m = 0; m < STRAT_METHOD_COUNT; m++)
		if (w && !strcmp(w, strategy_method_name((enum strat_method)m)))
			return (enum strat_method)m;
	return STRAT_PUNCH; /* a word the table does not know: path.c punched to get there */
}

/* Writes peer p's pending outcome with the profiles known now. */
static void write_pending(struct dev *d, struct dev_peer *p, struct outlog_pending *pe)
{
	struct outlog *ol = d->outlog;
	struct coord_profile mine, peer;
	struct nc_punch_outcome o;
	struct strat_plan plan;
	enum strat_method m;
	bool have_mine;
	char file[VPN_CFG_PATH_MAX + 80]; /* the directory and the name */
	int rc;

	pe->on = false;
	pthread_mutex_lock(&p->lock);
	peer = p->peer_prof;
	pthread_mutex_unlock(&p->lock);
	have_mine = dev_my_profile(d, &mine);
	if (pe->success)
		m = method_by_name(dev_path_method(d, &pe->snap, &peer, pe->by_bday));
	else { /* what was tried: the path punches every candidate even when the table lists none */
		dev_plan(d, peer.measured ? &peer : NULL, &pe->snap.observed,
			 pe->snap.n_cand ? pe->snap.n_cand - 1 : 0, &plan);
		m = strategy_first_direct(&plan) == STRAT_RELAY ? STRAT_PUNCH
								: strategy_first_direct(&plan);
	}
	outlog_build(have_mine ? &mine : NULL, peer.measured ? &peer : NULL, m, pe->success,
		     path_intro_to_direct_ms(&pe->snap), time(NULL), &o);
	if ((rc = outlog_write(ol, &o, file, sizeof(file))) != 0) {
		ol->skipped++;
		nc_log_warnx("peer %.8s: punch outcome not written to %s: %s", p->name, ol->dir,
			     nc_strerror(rc));
		return;
	}
	ol->written++;
	nc_log_info("peer %.8s: punch outcome %s %s written to %s", p->name,
		    nc_punch_method_name(o.method), o.success ? "succeeded" : "failed", file);
}

static bool both_measured(struct dev *d, struct dev_peer *p)
{
	struct coord_profile mine;
	bool peer;

	pthread_mutex_lock(&p->lock);
	peer = p->peer_prof.measured;
	pthread_mutex_unlock(&p->lock);
	return peer && dev_my_profile(d, &mine);
}

void outlog_dev_tick(struct dev *d, struct dev_peer *p, const struct path *snap)
{
	struct outlog *ol = d->outlog;
	size_t i = (size_t)(p - d->peers);
	struct outlog_track *t = outlog_track(ol, i);
	struct outlog_pending *pe;
	uint64_t now = dev_now_ms();
	enum outlog_end end;

	if (!t)
		return;
	pe = &ol->pend[i];
	end = outlog_step(t, snap);
	if (end == OUTLOG_REPEAT) {
		ol->skipped++;
	} else if (end != OUTLOG_NONE) {
		if (pe->on) /* an older one still waiting goes first, as it is */
			write_pending(d, p, pe);
		*pe = (struct outlog_pending){
		    .on = true, .success = end == OUTLOG_SUCCESS, .since_ms = now, .snap = *snap};
		if (pe->success) {
			pthread_mutex_lock(&p->lock);
			pe->by_bday = dev_bday_made(p);
			pthread_mutex_unlock(&p->lock);
		}
	}
	/* A round often ends before the NAT measurements (a fast punch beats them by a second):
	 * the classes are the point of the document, so it waits for both profiles, a bounded
	 * time. */
	if (pe->on &&
	    (both_measured(d, p) || vpn_since(now, pe->since_ms) >= OUTLOG_PROFILE_WAIT_MS))
		write_pending(d, p, pe);
}

void outlog_dev_flush(struct dev *d)
{
	if (!d->outlog)
		return;
	for (size_t i = 0; i < d->n_peers && i < d->outlog->n; i++)
		if (d->outlog->pend[i].on)
			write_pending(d, &d->peers[i], &d->outlog->pend[i]);
}
