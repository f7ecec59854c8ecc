/* vpnmap's pure parts: the refresh and retry schedule over a caller's clock, the judgement of a
 * gateway's claimed address against the observed one, and the profile fields. No I/O, no
 * clock of its own: tests/unit/test_vpn_vpnmap.c drives it with a fake one. */
#include "vpnmap.h"

#include <stdio.h>
#include <string.h>

void vpnmap_sm_init(struct vpnmap_sm *sm, uint32_t ask_s, uint32_t retry_max_s, uint64_t now)
{
	memset(sm, 0, sizeof(*sm));
	sm->status = VPNMAP_SEARCHING;
	sm->due_ms = now;
	sm->ask_s = ask_s ? ask_s : VPNMAP_LIFETIME_S;
	sm->retry_max_ms = (retry_max_s ? retry_max_s : VPNMAP_RETRY_MAX_S) * 1000u;
	if (sm->retry_max_ms < VPNMAP_RETRY_FIRST_MS)
		sm->retry_max_ms = VPNMAP_RETRY_FIRST_MS;
}

enum vpnmap_act vpnmap_sm_next(const struct vpnmap_sm *sm, uint64_t now)
{
	if (sm->net_changed)
		return sm->mapped ? VPNMAP_ACT_RELEASE : VPNMAP_ACT_ACQUIRE;
	if (now < sm->due_ms)
		return VPNMAP_ACT_NONE;
	return sm->mapped ? VPNMAP_ACT_REFRESH : VPNMAP_ACT_ACQUIRE;
}

/* 1 s, 2 s, 4 s ... up to retry_max_ms: a gateway that never answers costs a few exchanges
 * an hour, not a stream of them (and of state changes). */
static uint64_t backoff_ms(const struct vpnmap_sm *sm)
{
	unsigned shift = sm->failures > 1 ? sm->failures - 1 : 0;
	uint64_t d;

	if (shift > 20)
		shift = 20;
	d = (uint64_t)VPNMAP_RETRY_FIRST_MS << shift;
	return d < sm->retry_max_ms ? d : sm->retry_max_ms;
}

/* RFC 6886 §3.3: "The client SHOULD begin trying to renew the mapping halfway to expiry
 * time". A permanent mapping (UPnP lease 0) is re-asserted at half the lifetime asked for:
 * that also notices a gateway that rebooted and forgot it. */
static void hold(struct vpnmap_sm *sm, uint32_t granted, uint64_t now)
{
	uint64_t half = (uint64_t)(granted ? granted : sm->ask_s) * 1000u / 2;

	sm->mapped = true;
	sm->status = VPNMAP_MAPPED;
	sm->failures = 0;
	sm->lifetime_s = granted;
	sm->expires_ms = granted ? now + (uint64_t)granted * 1000u : UINT64_MAX;
	sm->due_ms = now + (half > VPNMAP_REFRESH_MIN_MS ? half : VPNMAP_REFRESH_MIN_MS);
}

static void lose(struct vpnmap_sm *sm, uint64_t now)
{
	sm->mapped = false;
	sm->status = VPNMAP_SEARCHING;
	sm->lifetime_s = 0;
	sm->expires_ms = 0;
	sm->refreshes = 0;
	sm->due_ms = now;
}

void vpnmap_sm_done(struct vpnmap_sm *sm, enum vpnmap_act act, enum vpnmap_outcome out,
		    uint32_t granted, uint64_t now)
{
	switch (act) {
	case VPNMAP_ACT_ACQUIRE:
		sm->net_changed = false;
		if (out == VPNMAP_OK) {
			sm->refreshes = 0;
			hold(sm, granted, now);
			return;
		}
		sm->failures++;
		sm->status = out == VPNMAP_NO_GW ? VPNMAP_NO_GATEWAY : VPNMAP_UNAVAILABLE;
		sm->due_ms = now + backoff_ms(sm);
		return;
	case VPNMAP_ACT_REFRESH:
		if (out == VPNMAP_OK) {
			sm->refreshes++;
			hold(sm, granted, now);
			return;
		}
		sm->failures++;
		if (now >= sm->expires_ms) {
			/* It has lapsed at the gateway: ask anew, through any protocol. */
			lose(sm, now);
			return;
		}
		/* Retry with backoff, but never let the backoff jump over the expiry: the waits
		 * shrink towards it (half of what is left), so the last tries come before it. */
		{
			uint64_t d = backoff_ms(sm), left = sm->expires_ms - now;

			if (d > left / 2)
				d = left / 2;
			if (d < VPNMAP_REFRESH_MIN_MS)
				d = VPNMAP_REFRESH_MIN_MS;
			if (now + d > sm->expires_ms)
				d = sm->expires_ms - now;
			sm->due_ms = now + d;
		}
		return;
	case VPNMAP_ACT_RELEASE:
		/* Deleted or not (the old gateway may be gone), nothing is held any more: what the
		 * gateway could not be told expires with its lifetime. A changed network starts the
		 * backoff afresh. */
		lose(sm, now);
		sm->net_changed = false;
		sm->failures = 0;
		return;
	case VPNMAP_ACT_NONE:
		return;
	}
}

void vpnmap_sm_net_changed(struct vpnmap_sm *sm, uint64_t now)
{
	sm->net_changed = true;
	sm->status = VPNMAP_SEARCHING;
	if (!sm->mapped)
		sm->failures = 0;
	sm->due_ms = now;
}

bool vpnmap_judge(const struct nc_addr *external, const struct nc_addr *observed, char *why,
		  size_t len)
{
	char e[NC_ADDR_STRLEN], o[NC_ADDR_STRLEN];

	if (!external || !nc_addr_is_set(external)) {
		snprintf(why, len, "the gateway did not say its external address");
		return false;
	}
	nc_addr_ip_str(external, e);
	if (!observed || !nc_addr_is_set(observed)) {
		snprintf(why, len,
			 "the gateway claims %s; not advertised until punchvpnd says which address "
			 "it observes",
			 e);
		return false;
	}
	nc_addr_ip_str(observed, o);
	if (observed->family != external->family) {
		snprintf(
		    why, len,
		    "the gateway claims %s; punchvpnd observes %s, of the other family, so the "
		    "claim cannot be checked",
		    e, o);
		return false;
	}
	if (!nc_addr_ip_eq(external, observed)) {
		snprintf(
		    why, len,
		    "the gateway claims %s but punchvpnd observes %s: another NAT sits upstream "
		    "(CGNAT or a second router), so the mapping is not reachable from outside",
		    e, o);
		return false;
	}
	snprintf(why, len, "the gateway's external address %s is the one punchvpnd observes", e);
	return true;
}

void vpnmap_fill_profile(const struct vpnmap_state *st, struct coord_profile *prof)
{
	if (st && st->status == VPNMAP_MAPPED && st->advertise && st->proto != COORD_PM_NONE &&
	    nc_addr_is_set(&st->external) && st->external.port != 0) {
		prof->portmap = (uint8_t)st->proto;
		prof->portmap_ep = st->external;
		return;
	}
	prof->portmap = COORD_PM_NONE;
	memset(&prof->portmap_ep, 0, sizeof(prof->portmap_ep));
}

const char *vpnmap_status_name(enum vpnmap_status s)
{
	switch (s) {
	case VPNMAP_IDLE:
		return "idle";
	case VPNMAP_SEARCHING:
		return "searching";
	case VPNMAP_MAPPED:
		return "mapped";
	case VPNMAP_NO_GATEWAY:
		return "no-gateway";
	case VPNMAP_UNAVAILABLE:
		return "unavailable";
	case VPNMAP_STOPPED:
		return "stopped";
	}
	return "unknown";
}

const char *vpnmap_pm_name(enum coord_pm pm)
{
	switch (pm) {
	case COORD_PM_NONE:
		return "none";
	case COORD_PM_NATPMP:
		return "nat-pmp";
	case COORD_PM_PCP:
		return "pcp";
	case COORD_PM_UPNP:
		return "upnp-igd";
	}
	return "unknown";
}
