#include "pmtest.h"

#include "pmcommon.h"
#include <natcheck/error.h>
#include "stun_txn.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TEST_LIFETIME_S 60 /* short: it is deleted right after, and expires anyway */
#define TEST_ATTEMPTS 4
#define TEST_RTO_MS 200

/* Sends the RESPONSE-PORT request from fd and waits for its answer on fd, within lim, through
 * the library's one STUN transaction (stun_txn.h): the answer must come from the server itself.
 * UNKNOWN (and *stop set) when the limits cut it short. */
static enum nc_tri through_mapping(int fd, const struct nc_addr *server, uint16_t ext_port,
				   const struct nc_limits *lim, int *stop)
{
	/* A fixed 200 ms between tries: the gateway may need a moment to install the rule. */
	struct stun_rtt rtt = {.initial_us = TEST_RTO_MS * 1000, .min_us = TEST_RTO_MS * 1000,
			       .max_us = TEST_RTO_MS * 1000};
	struct stun_txn t;
	struct stun_msg m;
	int r;

	if (stun_txn_init(&t, server, 0, ext_port, TEST_ATTEMPTS) < 0)
		return NC_TRI_UNKNOWN;
	t.linger_us = TEST_RTO_MS * 1000;
	r = stun_txn_run(&t, fd, &rtt, lim, &m, NULL);
	if (r == 0)
		return m.cls == STUN_CLASS_SUCCESS ? NC_TRI_YES : NC_TRI_UNKNOWN;
	if (r == -NC_E_CANCELLED || r == -NC_E_DEADLINE) {
		*stop = r;
		return NC_TRI_UNKNOWN;
	}
	/* Silence is the verdict; an answer from elsewhere or a send error says nothing. */
	return r == -NC_E_TIMEOUT ? NC_TRI_NO : NC_TRI_UNKNOWN;
}

int nc_pm_test(const struct nc_pm_cfg *cfg, const struct nc_addr *server,
	       struct nc_pm_registry *reg, struct nc_portmap_result out[NC_PM_COUNT])
{
	struct nc_limits run = {.deadline_us = cfg ? cfg->deadline_us : 0,
				.cancel = cfg ? cfg->cancel : NULL};
	struct nc_addr src;
	int err, stop = 0;

	if (sodium_init() < 0)
		return -NC_E_NOMEM;
	if ((err = nc_route_source(server, &src)) < 0)
		return err;
	for (int p = 0; p < NC_PM_COUNT; p++) {
		struct nc_portmap_result *o = &out[p];
		struct nc_pm_mapping m;
		struct nc_limits del;
		struct nc_addr local;
		char why[NC_NOTE_LEN] = "";
		int fd, r;

		if (o->present != NC_TRI_YES)
			continue;
		if (stop == 0)
			stop = nc_limits_check(&run, nc_now_us());
		if (stop < 0) {
			snprintf(o->error, sizeof(o->error), "test mapping not tried: %s",
				 nc_strerror(stop));
			continue;
		}
		fd = nc_udp_bind(&src, 0, &local);
		if (fd < 0)
			continue;
		r = nc_pm_map(cfg, reg, (enum nc_pm_proto)p, local.port, TEST_LIFETIME_S, &m, why,
			      sizeof(why));
		if (r < 0) {
			/* Refused says no; a stop or a timeout says nothing about the protocol. */
			if (r == -NC_E_CANCELLED || nc_limits_check(&run, nc_now_us()) < 0)
				stop = r == -NC_E_CANCELLED ? r : -NC_E_DEADLINE;
			else
				o->test_mapping = r == -NC_E_TIMEOUT ? NC_TRI_UNKNOWN : NC_TRI_NO;
			snprintf(o->error, sizeof(o->error), "test mapping %s: %.160s",
				 stop < 0 ? "stopped" : "refused", why);
			close(fd);
			continue;
		}
		o->test_mapping = through_mapping(fd, server, m.external.port, &run, &stop);
		close(fd);
		if (stop < 0) {
			/* Still in reg: the caller deletes it within its own grace. */
			snprintf(o->error, sizeof(o->error), "test mapping stopped: %s",
				 nc_strerror(stop));
			continue;
		}
		why[0] = '\0';
		del = pm_limits_within(&run, m.timeout_ms);
		if (pm_unmap_within(reg, &m, &del, why, sizeof(why)) == 0) {
			o->deleted = NC_TRI_YES;
		} else {
			o->deleted = NC_TRI_NO;
			snprintf(o->error, sizeof(o->error), "test mapping not deleted: %.160s", why);
		}
	}
	return stop;
}
