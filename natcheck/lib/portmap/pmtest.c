#include "pmtest.h"

#include "pmcommon.h"
#include <natcheck/error.h>
#include "stun.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TEST_LIFETIME_S 60 /* short: it is deleted right after, and expires anyway */
#define TEST_ATTEMPTS 4
#define TEST_RTO_MS 200

/* Sends the RESPONSE-PORT request from fd and waits for its answer on fd, within lim.
 * UNKNOWN (and *stop set) when the limits cut it short. */
static enum nc_tri through_mapping(int fd, const struct nc_addr *server, uint16_t ext_port,
				   const struct nc_limits *lim, int *stop)
{
	uint8_t req[64], buf[512], tid[STUN_TID_LEN];
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(server, &ss);
	struct stun_msg m;
	int n;

	randombytes_buf(tid, sizeof(tid));
	if ((n = stun_binding_request(req, sizeof(req), tid, 0, ext_port)) < 0)
		return NC_TRI_UNKNOWN;
	for (int attempt = 0; attempt < TEST_ATTEMPTS; attempt++) {
		uint64_t next = nc_now_us() + TEST_RTO_MS * 1000;

		if (sendto(fd, req, (size_t)n, 0, (struct sockaddr *)&ss, sl) < 0)
			return NC_TRI_UNKNOWN;
		while (nc_now_us() < next) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int r = pm_poll(&p, 1, next, lim);

			if (r < 0) {
				*stop = r;
				return NC_TRI_UNKNOWN;
			}
			for (;;) {
				ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (k < 0)
					break;
				if (stun_decode(buf, (size_t)k, &m) == 0 &&
				    sodium_memcmp(m.tid, tid, STUN_TID_LEN) == 0)
					return m.cls == STUN_CLASS_SUCCESS ? NC_TRI_YES
									   : NC_TRI_UNKNOWN;
			}
		}
	}
	return NC_TRI_NO;
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
