/* vpnmap's thread: runs the schedule of vpnmap_sm.c against the gateway through libnatcheck's
 * port-mapping calls, and publishes a state the device reads when vpnmap_fd() is readable.
 *
 * The thread alone touches the registry and the mapping held; the device's thread touches the
 * commands (stop, network changed) and the observed address; both meet under mu. */
#include "vpnmap.h"

#include <natcheck/cancel.h>
#include <natcheck/error.h>
#include <natcheck/portmap.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct vpnmap {
	struct vpnmap_cfg cfg;
	pthread_t th;
	pthread_mutex_t mu;
	int evfd;   /* to the device: the state changed */
	int wakefd; /* to the thread: a command waits */
	struct nc_cancel *cancel;

	/* under mu: commands and what the device told */
	bool stop, net_changed;
	uint64_t stop_by_ms;
	struct nc_addr observed;
	/* under mu: what the thread last published, and the state built from it */
	struct vpnmap_sm snap;
	struct nc_pm_mapping snap_map;
	struct nc_addr snap_gw;
	char snap_err[VPNMAP_WHY_LEN];
	int left;
	struct vpnmap_state pub;

	/* the thread's own */
	struct vpnmap_sm sm;
	struct nc_pm_registry reg;
	struct nc_pm_mapping cur;     /* the mapping held (cur.live) */
	struct nc_pm_mapping pending; /* a NAT-PMP/PCP request cut short by stop (pending.proto) */
	bool have_pending;
	struct nc_addr gw;
	char err[VPNMAP_WHY_LEN];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void poke(int fd)
{
	uint64_t one = 1;

	/* A full counter (never, in practice) still leaves the fd readable. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) > 0)
		;
}

/* snprintf through a function: a why that does not fit is cut, on purpose. */
static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static enum coord_pm to_coord(enum nc_pm_proto p)
{
	return p == NC_PM_NATPMP ? COORD_PM_NATPMP : p == NC_PM_PCP ? COORD_PM_PCP : COORD_PM_UPNP;
}

/* The state in words and the advertisement, from the snapshot (under mu). */
static void compose(struct vpnmap *vm, struct vpnmap_state *st)
{
	const struct vpnmap_sm *sm = &vm->snap;
	char g[NC_ADDR_STRLEN], e[NC_ADDR_STRLEN], j[VPNMAP_WHY_LEN];

	memset(st, 0, sizeof(*st));
	st->status = sm->status;
	st->gateway = vm->snap_gw;
	st->observed = vm->observed;
	st->failures = sm->failures;
	st->refreshes = sm->refreshes;
	nc_addr_ip_str(&vm->snap_gw, g);
	switch (sm->status) {
	case VPNMAP_IDLE:
		say(st->why, sizeof(st->why), "not started");
		break;
	case VPNMAP_SEARCHING:
		say(st->why, sizeof(st->why), "asking the gateway for a mapping of UDP port %u",
		    vm->cfg.port);
		break;
	case VPNMAP_MAPPED:
		st->proto = to_coord(vm->snap_map.proto);
		st->external = vm->snap_map.external;
		st->lifetime_s = sm->lifetime_s;
		st->advertise = vpnmap_judge(&st->external, &vm->observed, j, sizeof(j));
		nc_addr_str(&st->external, e);
		say(st->why, sizeof(st->why), "%s at %s maps %s to port %u; %s%s%s",
		    vpnmap_pm_name(st->proto), g, e, vm->cfg.port, j,
		    sm->failures ? "; refresh failing: " : "", sm->failures ? vm->snap_err : "");
		break;
	case VPNMAP_NO_GATEWAY:
		say(st->why, sizeof(st->why), "no IPv4 default route: no gateway to ask%s%s%s",
		    vm->snap_err[0] ? " (" : "", vm->snap_err, vm->snap_err[0] ? ")" : "");
		break;
	case VPNMAP_UNAVAILABLE:
		say(st->why, sizeof(st->why), "the gateway %s granted no mapping: %s", g,
		    vm->snap_err);
		break;
	case VPNMAP_STOPPED:
		if (vm->left > 0)
			say(st->why, sizeof(st->why),
			    "stopped; %d mapping(s) could not be deleted and lapse with their "
			    "lifetime",
			    vm->left);
		else
			say(st->why, sizeof(st->why), "stopped; every mapping deleted");
		break;
	}
}

/* What the device sees changing (not the clocks, not repeated identical failures). */
static bool differs(const struct vpnmap_state *a, const struct vpnmap_state *b)
{
	return a->status != b->status || a->proto != b->proto || a->advertise != b->advertise ||
	       !nc_addr_eq(&a->external, &b->external) || !nc_addr_eq(&a->gateway, &b->gateway) ||
	       !nc_addr_eq(&a->observed, &b->observed) || a->lifetime_s != b->lifetime_s ||
	       a->refreshes != b->refreshes || strcmp(a->why, b->why) != 0;
}

/* Under mu: rebuilds pub and signals the device when something it cares about changed. */
static void republish(struct vpnmap *vm)
{
	struct vpnmap_state st;

	compose(vm, &st);
	st.generation = vm->pub.generation;
	if (differs(&st, &vm->pub)) {
		st.generation++;
		vm->pub = st;
		poke(vm->evfd);
	} else {
		vm->pub.failures = st.failures;
	}
}

static void publish(struct vpnmap *vm)
{
	pthread_mutex_lock(&vm->mu);
	vm->snap = vm->sm;
	vm->snap_map = vm->cur;
	vm->snap_gw = vm->gw;
	memcpy(vm->snap_err, vm->err, sizeof(vm->err));
	republish(vm);
	pthread_mutex_unlock(&vm->mu);
}

static void pm_cfg(const struct vpnmap *vm, struct nc_pm_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->gateway = vm->gw;
	c->pmp_port = vm->cfg.pmp_port;
	c->map_timeout_ms = vm->cfg.map_timeout_ms;
	c->cancel = vm->cancel;
}

/* An exchange vpnmap_stop cut short (not one that timed out on its own: a silent gateway is
 * just absent, and the next protocol gets its turn). */
static bool cut_short(const struct vpnmap *vm, int r)
{
	return r < 0 && nc_cancel_fired(vm->cancel);
}

/* NAT-PMP, then PCP, then UPnP-IGD: the first that grants a mapping. */
static enum vpnmap_outcome acquire(struct vpnmap *vm)
{
	static const enum nc_pm_proto order[] = {NC_PM_NATPMP, NC_PM_PCP, NC_PM_UPNP};
	unsigned protos = vm->cfg.protos ? vm->cfg.protos : (1u << NC_PM_COUNT) - 1;
	struct nc_pm_cfg c;
	size_t used = 0;
	int r, n;

	vm->err[0] = '\0';
	if (nc_addr_is_set(&vm->cfg.gateway)) {
		vm->gw = vm->cfg.gateway;
	} else {
		r = nc_pm_default_gateway(&vm->gw);
		if (r < 0) {
			memset(&vm->gw, 0, sizeof(vm->gw));
			/* -NC_E_UNSUPPORTED is "no default route", which the state says already. */
			if (r != -NC_E_UNSUPPORTED)
				snprintf(vm->err, sizeof(vm->err), "%s", nc_strerror(r));
			return VPNMAP_NO_GW;
		}
	}
	vm->gw.port = 0;
	pm_cfg(vm, &c);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct nc_pm_mapping m;
		char e[NC_NOTE_LEN];

		if (!(protos & (1u << order[i])))
			continue;
		e[0] = '\0';
		r = nc_pm_map(&c, &vm->reg, order[i], vm->cfg.port, vm->sm.ask_s, &m, e, sizeof(e));
		if (r == 0) {
			vm->cur = m;
			vm->err[0] = '\0';
			return VPNMAP_OK;
		}
		if (cut_short(vm, r) && order[i] != NC_PM_UPNP) {
			/* The gateway may have made it before we stopped listening: deleted at
			 * stop. (An abandoned UPnP worker deletes what it made itself.) */
			vm->pending = m;
			vm->have_pending = true;
		}
		if (!e[0])
			snprintf(e, sizeof(e), "%s: %s", nc_pm_proto_name(order[i]),
				 nc_strerror(r));
		n = snprintf(vm->err + used, sizeof(vm->err) - used, "%s%s", used ? "; " : "", e);
		if (n > 0)
			used += (size_t)n < sizeof(vm->err) - used ? (size_t)n
								   : sizeof(vm->err) - used - 1;
		if (cut_short(vm, r))
			break;
	}
	return VPNMAP_FAILED;
}

static enum vpnmap_outcome refresh(struct vpnmap *vm)
{
	struct nc_pm_cfg c;
	char e[NC_NOTE_LEN] = "";
	int r;

	pm_cfg(vm, &c);
	r = nc_pm_refresh(&c, &vm->reg, &vm->cur, vm->sm.ask_s, e, sizeof(e));
	if (r == 0)
		return VPNMAP_OK;
	snprintf(vm->err, sizeof(vm->err), "%s", e[0] ? e : nc_strerror(r));
	return VPNMAP_FAILED;
}

/* Whatever the gateway still holds of ours is no longer ours to refresh (lapsed, or the
 * network moved on): forget it without a word to the gateway. */
static void forget(struct vpnmap *vm)
{
	memset(&vm->reg, 0, sizeof(vm->reg));
	memset(&vm->cur, 0, sizeof(vm->cur));
}

static void release(struct vpnmap *vm)
{
	if (vm->cur.live)
		(void)nc_pm_unmap(&vm->reg, &vm->cur, NULL, 0);
	forget(vm);
}

/* Waits until due_ms or a command. */
static void wait_until(struct vpnmap *vm, uint64_t due)
{
	struct pollfd p = {.fd = vm->wakefd, .events = POLLIN};
	uint64_t now = now_ms();
	int ms = due > now ? (due - now > 60000 ? 60000 : (int)(due - now)) : 0;

	if (poll(&p, 1, ms) > 0)
		drain(vm->wakefd);
}

static void *run(void *arg)
{
	struct vpnmap *vm = arg;
	uint64_t by;
	int left;

	for (;;) {
		enum vpnmap_act act;
		enum vpnmap_outcome out = VPNMAP_OK;
		uint64_t now = now_ms();
		bool stop, changed;

		pthread_mutex_lock(&vm->mu);
		stop = vm->stop;
		changed = vm->net_changed;
		vm->net_changed = false;
		pthread_mutex_unlock(&vm->mu);
		if (stop)
			break;
		if (changed) {
			vpnmap_sm_net_changed(&vm->sm, now);
			publish(vm);
		}
		act = vpnmap_sm_next(&vm->sm, now);
		switch (act) {
		case VPNMAP_ACT_NONE:
			wait_until(vm, vm->sm.due_ms);
			continue;
		case VPNMAP_ACT_ACQUIRE:
			out = acquire(vm);
			break;
		case VPNMAP_ACT_REFRESH:
			out = refresh(vm);
			break;
		case VPNMAP_ACT_RELEASE:
			release(vm);
			break;
		}
		vpnmap_sm_done(&vm->sm, act, out, out == VPNMAP_OK ? vm->cur.lifetime_s : 0,
			       now_ms());
		if (act == VPNMAP_ACT_REFRESH && !vm->sm.mapped)
			forget(vm);
		publish(vm);
	}

	/* Stop: everything the registry holds, within what is left of the caller's bound. */
	pthread_mutex_lock(&vm->mu);
	by = vm->stop_by_ms;
	pthread_mutex_unlock(&vm->mu);
	{
		uint64_t now = now_ms();
		uint32_t within = by > now + 200 ? (uint32_t)(by - now) : 200;

		left = nc_pm_unmap_all_within(&vm->reg, within);
		now = now_ms();
		if (vm->have_pending && now + 50 < by) {
			vm->pending.live = true;
			if (!vm->pending.timeout_ms || vm->pending.timeout_ms > by - now)
				vm->pending.timeout_ms = (uint32_t)(by - now);
			(void)nc_pm_unmap(NULL, &vm->pending, NULL, 0);
		}
	}
	vm->sm.status = VPNMAP_STOPPED;
	vm->sm.mapped = false;
	memset(&vm->cur, 0, sizeof(vm->cur));
	pthread_mutex_lock(&vm->mu);
	vm->left = left;
	pthread_mutex_unlock(&vm->mu);
	publish(vm);
	return NULL;
}

int vpnmap_start(struct vpnmap **out, const struct vpnmap_cfg *cfg)
{
	struct vpnmap *vm;
	sigset_t all, old;
	int r;

	*out = NULL;
	if (!cfg || cfg->port == 0 ||
	    (nc_addr_is_set(&cfg->gateway) && cfg->gateway.family != AF_INET))
		return -NC_E_INVALID;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -NC_E_NOMEM;
	vm->cfg = *cfg;
	vm->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vm->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vm->cancel = nc_cancel_new();
	if (vm->evfd < 0 || vm->wakefd < 0 || !vm->cancel) {
		r = vm->cancel ? -errno : -NC_E_NOMEM;
		goto fail;
	}
	pthread_mutex_init(&vm->mu, NULL);
	vpnmap_sm_init(&vm->sm, cfg->lifetime_s, cfg->retry_max_s, now_ms());
	vm->snap = vm->sm;
	compose(vm, &vm->pub);
	/* The thread blocks every signal, so SIGTERM and SIGINT reach the device's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&vm->th, NULL, run, vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		pthread_mutex_destroy(&vm->mu);
		goto fail;
	}
	*out = vm;
	return 0;
fail:
	if (vm->evfd >= 0)
		close(vm->evfd);
	if (vm->wakefd >= 0)
		close(vm->wakefd);
	nc_cancel_free(vm->cancel);
	free(vm);
	return r;
}

int vpnmap_fd(const struct vpnmap *vm)
{
	return vm ? vm->evfd : -1;
}

void vpnmap_state(struct vpnmap *vm, struct vpnmap_state *out)
{
	uint64_t now = now_ms();

	pthread_mutex_lock(&vm->mu);
	drain(vm->evfd);
	*out = vm->pub;
	if (vm->snap.status == VPNMAP_MAPPED && vm->snap.expires_ms != UINT64_MAX)
		out->expires_in_s = vm->snap.expires_ms > now
					? (uint32_t)((vm->snap.expires_ms - now + 999) / 1000)
					: 0;
	if (vm->snap.status != VPNMAP_STOPPED)
		out->next_in_ms = vm->snap.due_ms > now ? (uint32_t)(vm->snap.due_ms - now) : 0;
	pthread_mutex_unlock(&vm->mu);
}

void vpnmap_set_observed(struct vpnmap *vm, const struct nc_addr *observed)
{
	pthread_mutex_lock(&vm->mu);
	if (observed && nc_addr_is_set(observed))
		vm->observed = *observed;
	else
		memset(&vm->observed, 0, sizeof(vm->observed));
	republish(vm);
	pthread_mutex_unlock(&vm->mu);
}

void vpnmap_network_changed(struct vpnmap *vm)
{
	pthread_mutex_lock(&vm->mu);
	vm->net_changed = true;
	/* The public address may have changed with the network: nothing is advertised until the
	 * next REGISTERED says what punchvpnd observes now. */
	memset(&vm->observed, 0, sizeof(vm->observed));
	republish(vm);
	pthread_mutex_unlock(&vm->mu);
	poke(vm->wakefd);
}

int vpnmap_stop(struct vpnmap *vm, uint32_t within_ms)
{
	int left;

	if (!vm)
		return 0;
	pthread_mutex_lock(&vm->mu);
	vm->stop = true;
	vm->stop_by_ms = now_ms() + (within_ms ? within_ms : VPNMAP_STOP_MS);
	pthread_mutex_unlock(&vm->mu);
	poke(vm->wakefd);
	/* An exchange under way returns within about a second of this; the deletes that follow
	 * ignore it (nc_pm_unmap_all). */
	nc_cancel_fire(vm->cancel);
	pthread_join(vm->th, NULL);
	left = vm->left;
	pthread_mutex_destroy(&vm->mu);
	close(vm->evfd);
	close(vm->wakefd);
	nc_cancel_free(vm->cancel);
	free(vm);
	return left;
}
