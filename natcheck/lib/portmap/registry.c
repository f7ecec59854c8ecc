/* Mappings: create, refresh, delete through the protocol's client, and the caller-owned
 * registry of live ones that lets a program delete them all when it stops. */
#include "pmpclient.h"
#include "pcpclient.h"
#include "upnp.h"

#include <natcheck/error.h>

#include <string.h>

unsigned nc_pm_registry_count(const struct nc_pm_registry *reg)
{
	unsigned n = 0;

	for (unsigned i = 0; reg && i < NC_PM_MAX_LIVE; i++)
		n += reg->m[i].live;
	return n;
}

static struct nc_pm_mapping *registry_find(struct nc_pm_registry *reg,
					   const struct nc_pm_mapping *m)
{
	for (unsigned i = 0; reg && i < NC_PM_MAX_LIVE; i++) {
		struct nc_pm_mapping *x = &reg->m[i];
		if (x->live && x->proto == m->proto && nc_addr_eq(&x->internal, &m->internal) &&
		    nc_addr_eq(&x->external, &m->external))
			return x;
	}
	return NULL;
}

static int registry_add(struct nc_pm_registry *reg, const struct nc_pm_mapping *m)
{
	for (unsigned i = 0; i < NC_PM_MAX_LIVE; i++) {
		if (!reg->m[i].live) {
			reg->m[i] = *m;
			return 0;
		}
	}
	return -NC_E_NOSPACE;
}

/* One exchange of the mapping's protocol within lim: map (or refresh, when m is live) or
 * delete. */
static int exchange(const struct pm_opts *o, const struct nc_limits *lim, bool del,
		    uint32_t lifetime, struct nc_pm_mapping *m, char *err, size_t errlen)
{
	uint16_t port = m->internal.port;
	uint16_t ext = m->live ? m->external.port : port;

	switch (m->proto) {
	case NC_PM_NATPMP:
		return del ? pmp_unmap(m, lim, err, errlen)
			   : pmp_map(o, lim, port, ext, lifetime, m, err, errlen);
	case NC_PM_PCP:
		if (del)
			return pcpc_unmap(m, lim, err, errlen);
		if (!m->live)
			pcp_new_nonce(m->nonce);
		return pcpc_map(o, lim, port, ext, m->nonce, lifetime, m, err, errlen);
	case NC_PM_UPNP:
		return del ? upnp_unmap(m, lim, err, errlen)
			   : upnp_map(o, lim, port, m->live ? ext : 0, lifetime, m, err, errlen);
	default:
		return -NC_E_INVALID;
	}
}

int nc_pm_map(const struct nc_pm_cfg *cfg, struct nc_pm_registry *reg, enum nc_pm_proto proto,
	      uint16_t internal_port, uint32_t lifetime_s, struct nc_pm_mapping *out, char *err,
	      size_t errlen)
{
	struct pm_opts o;
	struct nc_limits lim;
	char w[NC_NOTE_LEN];
	int r;

	if (!out || (unsigned)proto >= NC_PM_COUNT || internal_port == 0) {
		pm_say(err, errlen, "invalid mapping request");
		return -NC_E_INVALID;
	}
	memset(out, 0, sizeof(*out));
	r = pm_opts_init(cfg, &o, w, sizeof(w));
	if (r < 0) {
		pm_say(err, errlen, "%s: %s", nc_pm_proto_name(proto), w);
		return r;
	}
	out->proto = proto;
	out->ipproto = PM_IPPROTO_UDP;
	out->server = proto == NC_PM_UPNP ? o.gateway : o.server;
	out->internal = o.src;
	out->internal.port = internal_port;
	out->timeout_ms = o.map_timeout_ms;
	lim = pm_limits_within(&o.lim, o.map_timeout_ms);
	r = exchange(&o, &lim, false, lifetime_s, out, err, errlen);
	if (r < 0)
		return r;
	out->live = true;
	PM_TRACE(&o, "%s: mapped %s", nc_pm_proto_name(proto), nc_addr_str(&out->external, w));
	if (reg && registry_add(reg, out) < 0) {
		(void)nc_pm_unmap(NULL, out, NULL, 0);
		pm_say(err, errlen, "too many live mappings (%d)", NC_PM_MAX_LIVE);
		return -NC_E_NOSPACE;
	}
	return 0;
}

int nc_pm_refresh(const struct nc_pm_cfg *cfg, struct nc_pm_registry *reg,
		  struct nc_pm_mapping *m, uint32_t lifetime_s, char *err, size_t errlen)
{
	struct pm_opts o;
	struct nc_limits lim;
	struct nc_pm_mapping next;
	struct nc_pm_mapping *slot;
	char w[NC_NOTE_LEN];
	int r;

	if (!m || !m->live) {
		pm_say(err, errlen, "no such mapping");
		return -NC_E_INVALID;
	}
	r = pm_opts_init(cfg, &o, w, sizeof(w));
	if (r < 0) {
		pm_say(err, errlen, "%s: %s", nc_pm_proto_name(m->proto), w);
		return r;
	}
	next = *m;
	lim = pm_limits_within(&o.lim, m->timeout_ms ? m->timeout_ms : o.map_timeout_ms);
	r = exchange(&o, &lim, false, lifetime_s, &next, err, errlen);
	if (r < 0)
		return r;
	next.live = true;
	slot = registry_find(reg, m);
	if (slot && slot != m)
		*slot = next;
	*m = next;
	PM_TRACE(&o, "%s: refreshed %s for %u s", nc_pm_proto_name(m->proto),
		 nc_addr_str(&m->external, w), m->lifetime_s);
	return 0;
}

int pm_unmap_within(struct nc_pm_registry *reg, struct nc_pm_mapping *m,
			const struct nc_limits *lim, char *err, size_t errlen)
{
	struct nc_pm_mapping *slot;
	int r;

	if (!m || !m->live) {
		pm_say(err, errlen, "no such mapping");
		return -NC_E_INVALID;
	}
	r = exchange(NULL, lim, true, 0, m, err, errlen);
	if (r < 0)
		return r;
	/* Before clearing live: m may be the registry's own slot. */
	slot = registry_find(reg, m);
	if (slot)
		slot->live = false;
	m->live = false;
	return 0;
}

int nc_pm_unmap(struct nc_pm_registry *reg, struct nc_pm_mapping *m, char *err, size_t errlen)
{
	struct nc_limits lim;

	if (!m) {
		pm_say(err, errlen, "no such mapping");
		return -NC_E_INVALID;
	}
	lim = pm_limits_within(NULL, m->timeout_ms ? m->timeout_ms : NC_PM_DEFAULT_MAP_TIMEOUT_MS);
	return pm_unmap_within(reg, m, &lim, err, errlen);
}

int nc_pm_unmap_all_within(struct nc_pm_registry *reg, uint32_t within_ms)
{
	struct nc_limits all = pm_limits_within(NULL, within_ms);
	int failed = 0;

	for (unsigned i = 0; reg && i < NC_PM_MAX_LIVE; i++) {
		struct nc_pm_mapping *m = &reg->m[i];
		struct nc_limits lim;

		if (!m->live)
			continue;
		lim = pm_limits_within(within_ms ? &all : NULL,
				       m->timeout_ms ? m->timeout_ms : NC_PM_DEFAULT_MAP_TIMEOUT_MS);
		if (pm_unmap_within(reg, m, &lim, NULL, 0) < 0)
			failed++;
	}
	return failed;
}

int nc_pm_unmap_all(struct nc_pm_registry *reg)
{
	return nc_pm_unmap_all_within(reg, 0);
}
