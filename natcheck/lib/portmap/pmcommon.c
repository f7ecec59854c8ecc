#include "pmcommon.h"

#include <natcheck/error.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int gateway_of(const struct nc_pm_cfg *cfg, struct nc_addr *gw)
{
	if (cfg && nc_addr_is_set(&cfg->gateway)) {
		if (cfg->gateway.family != AF_INET)
			return -NC_E_FAMILY;
		*gw = cfg->gateway;
		gw->port = 0;
		return 0;
	}
	return nc_pm_default_gateway(gw);
}

int pm_opts_init(const struct nc_pm_cfg *cfg, struct pm_opts *o, char *err, size_t errlen)
{
	char a[NC_ADDR_STRLEN];
	int r;

	memset(o, 0, sizeof(*o));
	o->t0 = nc_now_us();
	o->budget_ms = cfg && cfg->budget_ms ? cfg->budget_ms : NC_PM_DEFAULT_BUDGET_MS;
	o->map_timeout_ms =
		cfg && cfg->map_timeout_ms ? cfg->map_timeout_ms : NC_PM_DEFAULT_MAP_TIMEOUT_MS;
	o->ssdp_port = cfg && cfg->ssdp_port ? cfg->ssdp_port : NC_PM_SSDP_PORT;
	o->ssdp_unicast_only = cfg && cfg->ssdp_unicast_only;
	o->protos = cfg && cfg->protos ? cfg->protos : (1u << NC_PM_COUNT) - 1;
	o->trace = cfg ? cfg->trace : NULL;
	o->trace_arg = cfg ? cfg->trace_arg : NULL;
	o->lim.deadline_us = cfg ? cfg->deadline_us : 0;
	o->lim.cancel = cfg ? cfg->cancel : NULL;

	r = gateway_of(cfg, &o->gateway);
	if (r < 0) {
		pm_say(err, errlen, "no IPv4 default gateway (%s)", nc_strerror(r));
		return r;
	}
	o->server = o->gateway;
	o->server.port = cfg && cfg->pmp_port ? cfg->pmp_port : PCP_SERVER_PORT;
	r = nc_route_source(&o->gateway, &o->src);
	if (r < 0) {
		pm_say(err, errlen, "no route to the gateway %s (%s)", nc_addr_ip_str(&o->gateway, a),
		       nc_strerror(r));
		return r;
	}
	return 0;
}

void pm_say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

struct nc_limits pm_limits_within(const struct nc_limits *lim, uint32_t timeout_ms)
{
	struct nc_limits l = {0};
	uint64_t d = nc_now_us() + (uint64_t)timeout_ms * 1000;

	if (lim)
		l = *lim;
	if (!l.deadline_us || d < l.deadline_us)
		l.deadline_us = d;
	return l;
}

int pm_poll(struct pollfd *pfd, nfds_t n, uint64_t until, const struct nc_limits *lim)
{
	struct pollfd all[5];
	uint64_t now = nc_now_us();
	int r = nc_limits_check(lim, now), ms;

	if (r < 0)
		return r;
	if (n > 4)
		return -NC_E_INVALID;
	memcpy(all, pfd, n * sizeof(*pfd));
	/* poll ignores a negative descriptor: no cancel handle, no entry. */
	all[n] = (struct pollfd){.fd = nc_cancel_fd(lim ? lim->cancel : NULL), .events = POLLIN};
	ms = nc_limits_timeout_ms(lim, until, now);
	if (poll(all, n + 1, ms) < 0 && errno != EINTR)
		return -errno;
	memcpy(pfd, all, n * sizeof(*pfd));
	return nc_limits_check(lim, nc_now_us());
}
