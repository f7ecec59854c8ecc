/* What every port-mapping module shares: the options resolved from nc_pm_cfg, the run's limits,
 * and one poll that also wakes on cancellation. */
#ifndef NC_PMCOMMON_H
#define NC_PMCOMMON_H

#include "portmap.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_IPPROTO_UDP 17

/* After a cancel or the deadline, how long a UPnP worker that may be creating a mapping is
 * still waited for, so that what it made can be deleted before the caller goes on. */
#define PM_GRACE_MS 300

struct pm_opts {
	struct nc_addr server;   /* gateway ip : NAT-PMP/PCP port */
	struct nc_addr gateway;  /* gateway ip, port 0 */
	struct nc_addr src;      /* our address towards it, port 0 */
	uint16_t ssdp_port;
	bool ssdp_unicast_only;
	uint32_t budget_ms;
	uint32_t map_timeout_ms;
	unsigned protos;
	struct nc_limits lim;    /* deadline_us and cancel from the cfg */
	nc_trace_fn trace;
	void *trace_arg;
	uint64_t t0;
};

#define PM_TRACE(o, ...) nc_tracef((o)->trace, (o)->trace_arg, (o)->t0, __VA_ARGS__)

/* Fills o from cfg (NULL: defaults). On failure still fills what it can, for the messages. */
int pm_opts_init(const struct nc_pm_cfg *cfg, struct pm_opts *o, char *err, size_t errlen);

/* printf into err (nothing if err is NULL or errlen 0). */
void pm_say(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An exchange's limits: the caller's, with the deadline pulled in to now + timeout_ms. */
struct nc_limits pm_limits_within(const struct nc_limits *lim, uint32_t timeout_ms);

/* poll(pfd, n) until `until` (µs, 0: no timer of one's own), the limit's deadline or its
 * cancel, whichever comes first; n <= 4. Returns 0 (something is readable or the timer ran out:
 * look at revents and the clock), -NC_E_CANCELLED, -NC_E_DEADLINE or -errno. EINTR is 0. */
int pm_poll(struct pollfd *pfd, nfds_t n, uint64_t until, const struct nc_limits *lim);

/* Deletes m within lim (the caller decides whether a cancel counts: after one, deleting is what
 * is left to do) and drops it from reg. */
int pm_unmap_within(struct nc_pm_registry *reg, struct nc_pm_mapping *m,
		    const struct nc_limits *lim, char *err, size_t errlen);

#endif
