/* The device's extra UDP sockets (struct dev_aux): birthday probing opens many, keeps the one
 * whose mapping the peer found, and closes the rest. Descriptors are closed by the RX thread
 * alone, between two epoll rounds: a slot it was about to read can never be a closed
 * descriptor that a new socket has taken over. */
#include "devpriv.h"

#include <natcheck/error.h>
#include <natcheck/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

int dev_aux_init(struct dev *d, char *err, size_t errlen)
{
	struct rlimit rl;

	d->aux = calloc(DEV_AUX_MAX, sizeof(*d->aux));
	if (!d->aux) {
		snprintf(err, errlen, "out of memory");
		return -NC_E_NOMEM;
	}
	for (size_t k = 0; k < DEV_AUX_MAX; k++)
		d->aux[k].u.fd = -1;
	/* Birthday probing holds BDAY_SOCKETS sockets at once: raise the soft descriptor limit
	 * toward the hard one (the usual soft 1024 is tight beside the TUN, the natprof and the
	 * port-mapping sockets). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return 0;
}

int dev_aux_open(struct dev *d, struct dev_peer *owner)
{
	char err[128];
	int rc;

	for (size_t k = 0; k < DEV_AUX_MAX; k++) {
		struct dev_aux *a = &d->aux[k];
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(k + 1)};

		if (atomic_load(&a->state) != DEV_AUX_FREE || a->u.fd >= 0)
			continue;
		if ((rc = udp_open(&a->u, 0, err, sizeof(err))) != 0) {
			nc_log_warnx("birthday probing: %s", err);
			return rc;
		}
		a->owner = owner;
		atomic_store(&a->state, DEV_AUX_OPEN);
		if (epoll_ctl(d->rx_ep, EPOLL_CTL_ADD, a->u.fd, &ev) != 0) {
			rc = -errno;
			udp_close(&a->u); /* never in the epoll set: the RX thread cannot be reading it */
			a->owner = NULL;
			atomic_store(&a->state, DEV_AUX_FREE);
			return rc;
		}
		return (int)k + 1;
	}
	return -NC_E_NOMEM;
}

void dev_aux_retire(struct dev *d, struct dev_peer *owner, int keep)
{
	uint64_t one = 1;
	bool any = false;
	ssize_t w;

	if (!d->aux)
		return;
	for (size_t k = 0; k < DEV_AUX_MAX; k++) {
		int open = DEV_AUX_OPEN;

		if ((int)k + 1 != keep && d->aux[k].owner == owner &&
		    atomic_compare_exchange_strong(&d->aux[k].state, &open, DEV_AUX_RETIRE))
			any = true;
	}
	if (!any)
		return;
	atomic_store(&d->aux_retire, true);
	w = write(d->rx_kick_fd, &one, sizeof(one));
	(void)w;
}

bool dev_aux_readable(struct dev *d, int sock)
{
	return sock == 0 ||
	       (sock > 0 && sock <= DEV_AUX_MAX && atomic_load(&d->aux[sock - 1].state) == DEV_AUX_OPEN);
}

void dev_aux_reap(struct dev *d)
{
	if (!atomic_exchange(&d->aux_retire, false))
		return;
	for (size_t k = 0; k < DEV_AUX_MAX; k++) {
		struct dev_aux *a = &d->aux[k];

		if (atomic_load(&a->state) != DEV_AUX_RETIRE)
			continue;
		epoll_ctl(d->rx_ep, EPOLL_CTL_DEL, a->u.fd, NULL);
		udp_close(&a->u);
		a->owner = NULL;
		atomic_store(&a->state, DEV_AUX_FREE);
	}
}

struct udp *dev_route_udp(struct dev *d, const struct dev_route *rt)
{
	if (rt->sock == 0)
		return &d->udp;
	return dev_aux_readable(d, rt->sock) ? &d->aux[rt->sock - 1].u : NULL;
}

/* After the threads stopped. */
void dev_aux_free(struct dev *d)
{
	if (!d->aux)
		return;
	for (size_t k = 0; k < DEV_AUX_MAX; k++)
		udp_close(&d->aux[k].u);
	free(d->aux);
	d->aux = NULL;
}
