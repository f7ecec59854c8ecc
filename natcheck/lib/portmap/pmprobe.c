/* The presence probe: NAT-PMP, PCP and UPnP-IGD asked at once, within one short budget. */
#include "pmpclient.h"
#include "pcpclient.h"
#include "upnp.h"

#include <natcheck/error.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#define PCP_PROBE_LIFETIME 60 /* the probe's own MAP, deleted again at once */

enum pcp_stage { PCP_ANNOUNCE, PCP_MAP, PCP_DELETE, PCP_DONE };

static bool want(const struct pm_opts *o, enum nc_pm_proto p)
{
	return o->protos & (1u << p);
}

static void set_error(struct nc_portmap_result *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct nc_portmap_result *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
}

/* Handles a PCP answer during the probe; returns the next stage. */
static enum pcp_stage probe_pcp_answer(struct pcpc *s, enum pcp_stage st,
				       const struct pcp_response *resp,
				       struct nc_portmap_result *m, const struct pm_opts *o)
{
	char w[NC_NOTE_LEN];
	struct pcp_map map;

	if (resp->version != PCP_VERSION) {
		/* NAT-PMP-only (or pre-RFC PCP) gateway: PCP itself is absent. */
		m->present = NC_TRI_NO;
		set_error(m, "%s", pcp_response_str(resp, w, sizeof(w)));
		return PCP_DONE;
	}
	m->present = NC_TRI_YES;
	switch (st) {
	case PCP_ANNOUNCE:
		PM_TRACE(o, "PCP: ANNOUNCE answered: %s, epoch %u", pcp_result_name(resp->result),
		      resp->epoch);
		if (resp->result != PCP_R_SUCCESS && resp->result != PCP_R_UNSUPP_OPCODE)
			set_error(m, "%s", pcp_response_str(resp, w, sizeof(w)));
		/* The external address only comes with a mapping: map our own socket's port for a
		 * moment and delete it again. */
		memset(&map, 0, sizeof(map));
		pcp_new_nonce(map.nonce);
		map.protocol = PM_IPPROTO_UDP;
		map.internal_port = s->client.port;
		map.external_port = s->client.port;
		return pcpc_start(s, PCP_OP_MAP, PCP_PROBE_LIFETIME, &map) < 0 ? PCP_DONE : PCP_MAP;
	case PCP_MAP:
		if (resp->result != PCP_R_SUCCESS) {
			set_error(m, "%s", pcp_response_str(resp, w, sizeof(w)));
			return PCP_DONE;
		}
		m->error[0] = '\0';
		m->external = resp->map.external_ip;
		m->external.port = 0;
		PM_TRACE(o, "PCP: MAP answered: external %s, lifetime %u s",
		      nc_addr_ip_str(&m->external, w), resp->lifetime);
		map = s->map;
		map.external_port = resp->map.external_port;
		map.external_ip = resp->map.external_ip;
		return pcpc_start(s, PCP_OP_MAP, 0, &map) < 0 ? PCP_DONE : PCP_DELETE;
	case PCP_DELETE:
		PM_TRACE(o, "PCP: temporary mapping deleted: %s", pcp_result_name(resp->result));
		if (resp->result != PCP_R_SUCCESS)
			set_error(m, "PCP: the probe's temporary mapping was not deleted: %s",
				  pcp_response_str(resp, w, sizeof(w)) + 5);
		return PCP_DONE;
	default:
		return PCP_DONE;
	}
}

/* Stopped (cancel, deadline or budget) with the probe's temporary MAP possibly live on the
 * gateway: asks for its deletion if that was not asked yet and waits up to PM_GRACE_MS for the
 * answer, so that a program which exits right after leaves no mapping behind (a deletion
 * merely sent would still be in the gateway's queue). A late answer to the MAP itself is not
 * the deletion's. Returns PCP_DONE once the deletion is confirmed, else st. */
static enum pcp_stage probe_pcp_cleanup(struct pcpc *s, enum pcp_stage st, const struct pm_opts *o)
{
	struct nc_limits grace = pm_limits_within(NULL, PM_GRACE_MS);
	struct pcp_response resp;
	int r;

	if (st != PCP_MAP && st != PCP_DELETE)
		return st;
	if (st == PCP_MAP && pcpc_start(s, PCP_OP_MAP, 0, &s->map) < 0) {
		PM_TRACE(o, "PCP: could not ask for the probe mapping's deletion");
		return st;
	}
	do
		r = pcpc_wait(s, &grace, &resp);
	while (r == 1 && resp.version == PCP_VERSION && resp.lifetime != 0);
	if (r != 1 || resp.version != PCP_VERSION || resp.result != PCP_R_SUCCESS) {
		PM_TRACE(o, "PCP: the probe mapping's deletion was not confirmed within %d ms",
			 PM_GRACE_MS);
		return st;
	}
	PM_TRACE(o, "PCP: temporary mapping deleted (confirmed after the probe stopped)");
	return st == PCP_DELETE ? PCP_DONE : st;
}

int nc_pm_probe(const struct nc_pm_cfg *cfg, struct nc_portmap_result out[NC_PM_COUNT])
{
	struct pm_opts o;
	char err[NC_NOTE_LEN], a[NC_ADDR_STRLEN];
	struct pmp pmp = {.open = false};
	struct pcpc pcp = {.fd = -1};
	struct upnp_job *job = NULL;
	struct upnp_found found;
	enum pcp_stage pcp_st = PCP_DONE;
	bool pmp_active = false, upnp_pending = false;
	uint64_t deadline;
	uint16_t result = 0;
	natpmpresp_t presp;
	struct nc_portmap_result *m;
	int r, stopped = 0;

	if (!out)
		return -NC_E_INVALID;
	r = pm_opts_init(cfg, &o, err, sizeof(err));
	for (int p = 0; p < NC_PM_COUNT; p++) {
		memset(&out[p], 0, sizeof(out[p]));
		out[p].tested = want(&o, (enum nc_pm_proto)p);
		out[p].present = NC_TRI_UNKNOWN;
		if (r < 0 && out[p].tested) {
			out[p].present = NC_TRI_NO;
			set_error(&out[p], "%s: %s", nc_pm_proto_name((enum nc_pm_proto)p), err);
		}
	}
	if (r < 0)
		return 0;
	deadline = o.t0 + (uint64_t)o.budget_ms * 1000;
	PM_TRACE(&o, "port mapping: gateway %s, from %s, budget %u ms", nc_addr_str(&o.server, a),
	      nc_addr_ip_str(&o.src, err), o.budget_ms);

	if (want(&o, NC_PM_UPNP)) {
		/* Leave the HTTP exchanges a quarter of the budget. */
		job = upnp_job_discover(&o, o.budget_ms - o.budget_ms / 4, err, sizeof(err));
		if (!job) {
			out[NC_PM_UPNP].present = NC_TRI_NO;
			set_error(&out[NC_PM_UPNP], "%s", err);
		}
		upnp_pending = job != NULL;
	}
	if (want(&o, NC_PM_NATPMP)) {
		m = &out[NC_PM_NATPMP];
		r = pmp_open(&pmp, &o.server);
		if (r == 0 && sendpublicaddressrequest(&pmp.np) < 0)
			r = errno ? -errno : -NC_E_PROTOCOL;
		if (r < 0) {
			m->present = NC_TRI_NO;
			set_error(m, "NAT-PMP: cannot send (%s)", nc_strerror(r));
		} else {
			pmp.op = 0;
			pmp_active = true;
		}
	}
	if (want(&o, NC_PM_PCP)) {
		m = &out[NC_PM_PCP];
		r = pcpc_open(&pcp, &o.server, &o.src);
		if (r == 0)
			r = pcpc_start(&pcp, PCP_OP_ANNOUNCE, 0, NULL);
		if (r < 0 && r != -ECONNREFUSED) {
			m->present = NC_TRI_NO;
			set_error(m, "PCP: cannot send (%s)", nc_strerror(r));
		} else {
			pcp_st = PCP_ANNOUNCE;
		}
	}

	while (pmp_active || pcp_st != PCP_DONE || upnp_pending) {
		struct pollfd pfd[3];
		nfds_t n = 0;
		uint64_t now = nc_now_us(), until = deadline;

		if (now >= deadline)
			break;
		if (pmp_active) {
			uint64_t t = now + (uint64_t)pmp_wait_ms(&pmp) * 1000;
			until = t < until ? t : until;
			pfd[n++] = (struct pollfd){.fd = pmp.np.s, .events = POLLIN};
		}
		if (pcp_st != PCP_DONE) {
			until = pcp.next_us < until ? pcp.next_us : until;
			pfd[n++] = (struct pollfd){.fd = pcp.fd, .events = POLLIN};
		}
		if (upnp_pending)
			pfd[n++] = (struct pollfd){.fd = upnp_job_fd(job), .events = POLLIN};
		if ((stopped = pm_poll(pfd, n, until > now ? until : now, &o.lim)) < 0 &&
		    stopped != -NC_E_CANCELLED && stopped != -NC_E_DEADLINE)
			stopped = 0; /* a poll failure: the deadline below still ends the loop */
		if (stopped < 0)
			break;
		now = nc_now_us();

		if (pmp_active) {
			m = &out[NC_PM_NATPMP];
			r = pmp_step(&pmp, &presp, &result);
			if (r == 1 && result == 0) {
				m->present = NC_TRI_YES;
				nc_addr_set(&m->external, AF_INET, &presp.pnu.publicaddress.addr, 0);
				PM_TRACE(&o, "NAT-PMP: external address %s",
				      nc_addr_ip_str(&m->external, a));
			} else if (r == 1) {
				/* It speaks NAT-PMP, and said no. */
				m->present = NC_TRI_YES;
				pmp_words(m->error, sizeof(m->error), r, result, &pmp, &o.server, 0);
			} else if (r < 0) {
				m->present = NC_TRI_NO;
				pmp_words(m->error, sizeof(m->error), r, 0, &pmp, &o.server,
					  (uint32_t)((now - o.t0) / 1000));
			}
			if (r != 0) {
				pmp_active = false;
				if (m->error[0])
					PM_TRACE(&o, "%s", m->error);
			}
		}
		if (pcp_st != PCP_DONE) {
			struct pcp_response resp;

			m = &out[NC_PM_PCP];
			while (pcp_st != PCP_DONE && (r = pcpc_read(&pcp, &resp)) == 1)
				pcp_st = probe_pcp_answer(&pcp, pcp_st, &resp, m, &o);
			if (r < 0 && pcp_st != PCP_DONE) {
				if (pcp_st == PCP_ANNOUNCE)
					m->present = NC_TRI_NO;
				pcpc_words(m->error, sizeof(m->error), r, NULL, &pcp, &o.server, 0);
				pcp_st = PCP_DONE;
			}
			if (pcp_st != PCP_DONE && now >= pcp.next_us)
				(void)pcpc_send(&pcp, now);
		}
		if (upnp_pending) {
			eventfd_t v;

			(void)eventfd_read(upnp_job_fd(job), &v);
			if (upnp_job_found(job, &found)) {
				upnp_pending = false;
				m = &out[NC_PM_UPNP];
				m->present = found.present;
				m->external = found.external;
				snprintf(m->error, sizeof(m->error), "%s", found.error);
				PM_TRACE(&o, "UPnP-IGD: %s%s%s%s",
					 m->present == NC_TRI_YES ? "present, external " : "absent",
					 nc_addr_is_set(&m->external) ? nc_addr_ip_str(&m->external, a)
								      : "",
					 m->error[0] ? " - " : "", m->error);
			}
		}
	}

	pcp_st = probe_pcp_cleanup(&pcp, pcp_st, &o);
	if (stopped < 0) {
		/* Cancelled, or the run's deadline came before the probe's budget: silence so far
		 * proves nothing, so what has not answered stays unknown. */
		for (int p = 0; p < NC_PM_COUNT; p++) {
			m = &out[p];
			if (m->tested && m->present == NC_TRI_UNKNOWN)
				set_error(m, "%s: not determined (%s after %u ms)",
					  nc_pm_proto_name((enum nc_pm_proto)p), nc_strerror(stopped),
					  (unsigned)((nc_now_us() - o.t0) / 1000));
		}
		upnp_job_put(job);
		pmp_close(&pmp);
		pcpc_close(&pcp);
		PM_TRACE(&o, "port mapping probe stopped: %s", nc_strerror(stopped));
		return 0;
	}
	/* Budget spent: whatever has not answered is absent (or, for PCP's later stages, present
	 * with what it said so far). */
	if (pmp_active) {
		m = &out[NC_PM_NATPMP];
		m->present = NC_TRI_NO;
		pmp_words(m->error, sizeof(m->error), 0, 0, &pmp, &o.server, o.budget_ms);
	}
	m = &out[NC_PM_PCP];
	if (pcp_st == PCP_ANNOUNCE) {
		m->present = NC_TRI_NO;
		pcpc_words(m->error, sizeof(m->error), 0, NULL, &pcp, &o.server, o.budget_ms);
	} else if (pcp_st == PCP_MAP) {
		set_error(m, "PCP: the gateway answered ANNOUNCE but not MAP within %u ms",
			  o.budget_ms);
	} else if (pcp_st == PCP_DELETE) {
		set_error(m, "PCP: the probe's temporary mapping of port %u was not confirmed "
			     "deleted within %u ms (it expires by itself within %u s)",
			  pcp.map.internal_port, o.budget_ms, PCP_PROBE_LIFETIME);
	}
	if (upnp_pending) {
		m = &out[NC_PM_UPNP];
		m->present = NC_TRI_NO;
		set_error(m, "UPnP-IGD: no Internet Gateway Device answered within %u ms",
			  o.budget_ms);
	}
	upnp_job_put(job);
	pmp_close(&pmp);
	pcpc_close(&pcp);
	PM_TRACE(&o, "port mapping probe done");
	return 0;
}

