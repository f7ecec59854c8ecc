/* This host's NAT profile (natprof.h): a measurement thread that runs libnatcheck's fast
 * preset, and a watcher thread on rtnetlink that asks for a new measurement whenever the
 * host's addresses or routes change. The two share one mutex-protected state; the device only
 * ever reads a copy of it (natprof_state). */
#include "natprof.h"

#include <natcheck/cancel.h>
#include <natcheck/error.h>
#include <natcheck/result.h>
#include <natcheck/run.h>

#include "netutil.h" /* nc_now_us: CLOCK_MONOTONIC */

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* A change arrives as a burst (an address brings its local and prefix routes, DHCP brings the
 * default route a moment later): measure once, after the burst. A network that never settles
 * still gets measured every NATPROF_DEBOUNCE_MAX_MS. */
#define NATPROF_DEBOUNCE_MS 300
#define NATPROF_DEBOUNCE_MAX_MS 2000

struct natprof {
	struct natprof_cfg cfg;
	char skip_ifname[IF_NAMESIZE];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct natprof_state st;   /* under mu */
	bool want_measure;         /* under mu */
	bool stopping;             /* under mu */
	int change_fd;             /* eventfd the device polls */
	int stop_fd;               /* eventfd: the watcher stops */
	int nl_fd;                 /* rtnetlink subscription */
	struct nc_cancel *cancel;  /* fired once, by natprof_stop: ends a running nc_run */
	struct nc_cancel *life_cancel; /* under mu: the running lifetime measurement's */
	pthread_t measurer, watcher;
	bool measurer_up, watcher_up;
};

static uint64_t now_ms(void)
{
	return nc_now_us() / 1000;
}

static void signal_change(struct natprof *np)
{
	uint64_t one = 1;

	if (write(np->change_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN only, at the counter's limit: it is readable anyway, nothing is lost. */
	}
}

/* --- rtnetlink (natprof_nl_changed, in natprof_util.c, decides what counts) ------------- */

static int nl_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
			     RTMGRP_IPV6_ROUTE,
	};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Reads everything queued; true if any of it is a change worth a measurement. */
static bool nl_drain(struct natprof *np)
{
	/* 8 KiB is what the kernel's own netlink users read with (NLMSG_GOODSIZE). */
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	int skip = np->skip_ifname[0] ? (int)if_nametoindex(np->skip_ifname) : 0;
	bool changed = false;

	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(np->nl_fd, &msg, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: the kernel dropped events for us; assume the worst. */
			if (errno == ENOBUFS)
				changed = true;
			return changed;
		}
		/* Only the kernel (port 0) speaks for the routing tables. */
		if (msg.msg_namelen != sizeof(from) || from.nl_pid != 0)
			continue;
		if ((msg.msg_flags & MSG_TRUNC) || natprof_nl_changed(buf, (size_t)n, skip))
			changed = true;
	}
}

/* When a burst of changes that began at first and last saw an event at last is measured. */
static uint64_t burst_due(uint64_t first, uint64_t last)
{
	uint64_t due = last + NATPROF_DEBOUNCE_MS;

	return due < first + NATPROF_DEBOUNCE_MAX_MS ? due : first + NATPROF_DEBOUNCE_MAX_MS;
}

static void *watcher_main(void *arg)
{
	struct natprof *np = arg;
	uint64_t first = 0, last = 0; /* the pending burst: its first and latest event */

	for (;;) {
		struct pollfd pfd[2] = {{.fd = np->stop_fd, .events = POLLIN},
					{.fd = np->nl_fd, .events = POLLIN}};
		uint64_t now, due = 0;
		int timeout = -1;
		int rc;

		if (last) {
			now = now_ms();
			due = burst_due(first, last);
			timeout = due > now ? (int)(due - now) : 0;
		}
		rc = poll(pfd, 2, timeout);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc > 0 && pfd[0].revents)
			break;
		if (rc > 0 && (pfd[1].revents & POLLNVAL))
			break;
		now = now_ms();
		/* POLLERR is how an overrun (ENOBUFS) shows: reading clears it, and nl_drain
		 * counts it as a change. */
		if (rc > 0 && (pfd[1].revents & (POLLIN | POLLERR)) && nl_drain(np)) {
			last = now;
			if (!first)
				first = last;
		}
		/* Checked after every wake-up, not only on a timeout: a stream of events that never
		 * pauses still gets measured NATPROF_DEBOUNCE_MAX_MS after it began. */
		if (last && now >= burst_due(first, last)) {
			pthread_mutex_lock(&np->mu);
			np->st.net_generation++;
			np->want_measure = true; /* a running measurement is followed by another */
			np->st.lifetime_pending = np->cfg.lifetime;
			/* A lifetime measured on the old network means nothing on the new one. */
			if (np->life_cancel)
				nc_cancel_fire(np->life_cancel);
			pthread_cond_signal(&np->cv);
			pthread_mutex_unlock(&np->mu);
			/* Now, not after the measurement: the device re-registers and re-punches
			 * from its new addresses at once. */
			signal_change(np);
			first = last = 0;
		}
	}
	return NULL;
}

/* --- the measurement --------------------------------------------------------------------- */

#define NATPROF_LIFETIME_MAX_S 60

/* Publishes a finished measurement: one more generation, and the eventfd. summary NULL = the
 * profile's description. */
static void publish(struct natprof *np, const struct coord_profile *prof, uint64_t t0,
		    const char *why, bool lifetime_next)
{
	char summary[sizeof(np->st.summary)];

	if (why)
		snprintf(summary, sizeof(summary), "%s", why);
	else
		natprof_describe(prof, summary, sizeof(summary));
	pthread_mutex_lock(&np->mu);
	np->st.measuring = false;
	np->st.lifetime_pending = lifetime_next;
	np->st.prof = *prof;
	memcpy(np->st.summary, summary, sizeof(summary));
	np->st.measured_at_ms = now_ms();
	np->st.took_ms = (unsigned)(np->st.measured_at_ms - t0);
	np->st.generation++;
	pthread_mutex_unlock(&np->mu);
	signal_change(np);
}

/* Whether the binding lifetime is measured after this fast profile: not when UDP is blocked,
 * and not behind a NAT whose mappings depend on the destination. Such a side goes direct only
 * by port prediction or birthday probing, whose guesses start from its mapping toward the
 * server; a lifetime measurement opens new mappings for minutes, which moves a sequential
 * allocator past the prediction window (seen in the lab). Its keepalive follows the peer's
 * measured lifetime, or the safe default (strategy.h). */
static bool lifetime_wanted(const struct natprof *np, const struct coord_profile *prof)
{
	return np->cfg.lifetime && prof->udp_blocked == NC_TRI_NO &&
	       (prof->mapping == NC_BEH_EI || prof->mapping == NC_BEH_NONE);
}

/* The binding lifetime, after a fast measurement that reached the server. Runs under a
 * cancel handle of its own that a network change fires (natprof_stop fires both). Returns
 * false when natprof is stopping. */
static bool measure_lifetime(struct natprof *np, struct nc_result *r, struct coord_profile prof,
			     uint64_t net_gen)
{
	struct nc_run_cfg rc = {
		.preset = NC_PRESET_FULL,
		.server = np->cfg.stun,
		.no_portmap = true,
		.no_hairpin = true,
		.no_topology = true,
		.lifetime = true,
		.lifetime_max = np->cfg.lifetime_max_s ? np->cfg.lifetime_max_s
						       : NATPROF_LIFETIME_MAX_S,
	};
	struct nc_cancel *c = nc_cancel_new();
	uint64_t t0 = now_ms();
	bool current, stopping;
	int err;

	if (!c)
		return true;
	rc.cancel = c;
	pthread_mutex_lock(&np->mu);
	if (np->stopping || np->want_measure || np->st.net_generation != net_gen) {
		stopping = np->stopping;
		pthread_mutex_unlock(&np->mu);
		nc_cancel_free(c);
		return !stopping;
	}
	np->life_cancel = c;
	np->st.measuring = true;
	pthread_mutex_unlock(&np->mu);

	err = nc_run(&rc, r);

	pthread_mutex_lock(&np->mu);
	np->life_cancel = NULL;
	np->st.measuring = false;
	stopping = np->stopping;
	current = np->st.net_generation == net_gen;
	pthread_mutex_unlock(&np->mu);
	nc_cancel_free(c);
	if (stopping)
		return false;
	if (err == 0 && current && r->udp.lifetime_s > 0) {
		prof.lifetime_s = r->udp.lifetime_s > UINT16_MAX ? UINT16_MAX
								 : (uint16_t)r->udp.lifetime_s;
		publish(np, &prof, t0, NULL, false);
	} else if (current) {
		/* No lifetime after all: the device stops waiting for one. */
		pthread_mutex_lock(&np->mu);
		np->st.lifetime_pending = false;
		pthread_mutex_unlock(&np->mu);
		signal_change(np);
	}
	return true;
}

static void *measurer_main(void *arg)
{
	struct natprof *np = arg;
	struct nc_result *r = malloc(sizeof(*r));

	for (;;) {
		struct nc_run_cfg rc = {
			.preset = NC_PRESET_FAST,
			.server = np->cfg.stun,
			.budget_ms = np->cfg.budget_ms ? np->cfg.budget_ms : NC_RUN_FAST_BUDGET_MS,
			.no_portmap = !np->cfg.portmap,
			.no_hairpin = true,
			.no_topology = true,
			.cancel = np->cancel,
		};
		struct coord_profile prof;
		uint64_t t0, net_gen;
		int err;

		pthread_mutex_lock(&np->mu);
		while (!np->want_measure && !np->stopping)
			pthread_cond_wait(&np->cv, &np->mu);
		if (np->stopping) {
			pthread_mutex_unlock(&np->mu);
			break;
		}
		np->want_measure = false;
		np->st.measuring = true;
		net_gen = np->st.net_generation;
		pthread_mutex_unlock(&np->mu);

		t0 = now_ms();
		err = r ? nc_run(&rc, r) : -NC_E_NOMEM;
		if (err == -NC_E_CANCELLED)
			break; /* natprof_stop: nobody reads the state any more */
		if (err == 0) {
			natprof_from_result(r, &prof);
			publish(np, &prof, t0, NULL, lifetime_wanted(np, &prof));
		} else {
			char why[sizeof(np->st.summary)];

			memset(&prof, 0, sizeof(prof));
			snprintf(why, sizeof(why), "not measured: %s", nc_strerror(err));
			publish(np, &prof, t0, why, false);
		}
		if (err == 0 && lifetime_wanted(np, &prof) && !measure_lifetime(np, r, prof, net_gen))
			break;
	}
	free(r);
	return NULL;
}

static void natprof_free(struct natprof *np)
{
	if (np->change_fd >= 0)
		close(np->change_fd);
	if (np->stop_fd >= 0)
		close(np->stop_fd);
	if (np->nl_fd >= 0)
		close(np->nl_fd);
	nc_cancel_free(np->cancel);
	pthread_cond_destroy(&np->cv);
	pthread_mutex_destroy(&np->mu);
	free(np);
}

/* Threads start with every signal blocked, so the program's signals reach its own threads
 * (nc_run's workers do the same). */
static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

int natprof_start(struct natprof **out, const struct natprof_cfg *cfg)
{
	struct natprof *np;
	int err;

	*out = NULL;
	if (!cfg || !nc_addr_is_set(&cfg->stun) ||
	    (cfg->skip_ifname && strlen(cfg->skip_ifname) >= IF_NAMESIZE))
		return -NC_E_INVALID;
	np = calloc(1, sizeof(*np));
	if (!np)
		return -NC_E_NOMEM;
	np->cfg = *cfg;
	if (cfg->skip_ifname)
		snprintf(np->skip_ifname, sizeof(np->skip_ifname), "%s", cfg->skip_ifname);
	np->cfg.skip_ifname = np->skip_ifname;
	pthread_mutex_init(&np->mu, NULL);
	pthread_cond_init(&np->cv, NULL);
	np->stop_fd = np->nl_fd = -1;
	snprintf(np->st.summary, sizeof(np->st.summary), "not measured yet");
	np->want_measure = true;
	np->st.lifetime_pending = cfg->lifetime;
	np->change_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	np->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (np->change_fd < 0 || np->stop_fd < 0) {
		err = -errno;
		goto fail;
	}
	np->nl_fd = nl_open();
	if (np->nl_fd < 0) {
		err = np->nl_fd;
		goto fail;
	}
	np->cancel = nc_cancel_new();
	if (!np->cancel) {
		err = -NC_E_NOMEM;
		goto fail;
	}
	err = start_thread(&np->watcher, watcher_main, np);
	if (err < 0)
		goto fail;
	np->watcher_up = true;
	err = start_thread(&np->measurer, measurer_main, np);
	if (err < 0)
		goto fail;
	np->measurer_up = true;
	*out = np;
	return 0;
fail:
	natprof_stop(np);
	return err;
}

int natprof_fd(const struct natprof *np)
{
	return np ? np->change_fd : -1;
}

void natprof_state(struct natprof *np, struct natprof_state *out)
{
	uint64_t v;

	/* Drain first: a change published after this read signals again. */
	while (read(np->change_fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&np->mu);
	*out = np->st;
	pthread_mutex_unlock(&np->mu);
}

void natprof_stop(struct natprof *np)
{
	uint64_t one = 1;

	if (!np)
		return;
	pthread_mutex_lock(&np->mu);
	np->stopping = true;
	pthread_cond_broadcast(&np->cv);
	if (np->life_cancel)
		nc_cancel_fire(np->life_cancel);
	pthread_mutex_unlock(&np->mu);
	if (np->cancel)
		nc_cancel_fire(np->cancel);
	if (np->stop_fd >= 0 && write(np->stop_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write fails only on overflow: the watcher is already woken */
	}
	if (np->watcher_up)
		pthread_join(np->watcher, NULL);
	if (np->measurer_up)
		pthread_join(np->measurer, NULL);
	natprof_free(np);
}
