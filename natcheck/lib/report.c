#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#define LABEL_W 15

struct out {
	FILE *f;
	bool color;
};

static const char *abbrev(enum nc_beh b, char kind)
{
	/* RFC 4787's abbreviations: EIM/ADM/APDM and EIF/ADF/APDF. */
	static const char *const map[] = {"", "", "EIM", "ADM", "APDM"};
	static const char *const filt[] = {"", "", "EIF", "ADF", "APDF"};
	return b <= NC_BEH_APD ? (kind == 'm' ? map[b] : filt[b]) : "";
}

static const char *tri_word(enum nc_tri t, const char *yes, const char *no)
{
	return t == NC_TRI_YES ? yes : t == NC_TRI_NO ? no : "not tested";
}

static void line(struct out *o, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void line(struct out *o, const char *label, const char *fmt, ...)
{
	va_list ap;

	fprintf(o->f, "%s%-*s%s", o->color ? "\033[1m" : "", LABEL_W, label, o->color ? "\033[0m" : "");
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
	fputc('\n', o->f);
}

static void behaviour_line(struct out *o, const char *label, enum nc_beh b, char kind,
			   const char *none_text)
{
	if (b == NC_BEH_NONE)
		line(o, label, "%s", none_text);
	else if (b == NC_BEH_UNKNOWN)
		line(o, label, "not determined (see below)");
	else
		line(o, label, "%s (%s)", nc_beh_name(b), abbrev(b, kind));
}

static void udp_lines(struct out *o, const struct nc_result *r)
{
	const struct nc_udp_result *u = &r->udp;
	char a[NC_ADDR_STRLEN], b[NC_ADDR_STRLEN], punch[NC_NOTE_LEN];

	if (u->reachable != NC_TRI_YES) {
		line(o, "UDP", "%s", u->reachable == NC_TRI_NO ? "blocked: no answer from the server"
							       : "not determined");
		line(o, "Hole punching", "%s", nc_result_punch_verdict(r, punch, sizeof(punch)));
		return;
	}
	if (u->nat == NC_TRI_NO)
		line(o, "UDP", "reachable, no NAT (this host's address %s is public)",
		     nc_addr_str(&u->local, a));
	else
		line(o, "UDP", "reachable, NAT present (public %s, local %s)",
		     nc_addr_str(&u->public_ep, a), nc_addr_str(&u->local, b));
	behaviour_line(o, "Mapping", u->mapping, 'm', "none (no NAT)");
	if (u->mapping_port_only)
		line(o, "", "the mapping changed with the destination port but not the address");
	behaviour_line(o, "Filtering", u->filtering, 'f', "none: unsolicited packets get through");
	if (u->nat == NC_TRI_YES)
		line(o, "Port", "%s", tri_word(u->port_preserved, "preserved", "not preserved"));
	if (u->alloc.pattern == NC_ALLOC_SEQUENTIAL)
		line(o, "Port alloc.", "sequential, step %+d, parity %s (%u samples)", u->alloc.delta,
		     tri_word(u->alloc.parity, "kept", "not kept"), u->alloc.n);
	else if (u->alloc.pattern != NC_ALLOC_UNKNOWN)
		line(o, "Port alloc.", "%s, parity %s (%u samples)", nc_alloc_name(u->alloc.pattern),
		     tri_word(u->alloc.parity, "kept", "not kept"), u->alloc.n);
	if (u->pooling == NC_POOL_PAIRED || u->pooling == NC_POOL_ARBITRARY)
		line(o, "IP pooling", "%s (%u public addresses seen)", nc_pooling_name(u->pooling),
		     u->n_public);
	if (u->hairpin == NC_TRI_YES)
		line(o, "Hairpin", "yes (packet arrived from %s: %s)", nc_addr_str(&u->hairpin_from, a),
		     u->hairpin_src == NC_HP_EXTERNAL ? "the sender's public mapping, as RFC 4787 asks"
		     : u->hairpin_src == NC_HP_INTERNAL ? "the sender's private address"
							 : "an unexpected address");
	else if (u->hairpin == NC_TRI_NO)
		line(o, "Hairpin", "no (hosts behind this NAT cannot reach each other's public mapping)");
	line(o, "ALG", "%s", u->alg == NC_TRI_YES ? "present: a router rewrites addresses in payloads"
			     : u->alg == NC_TRI_NO ? "none detected" : "not tested");
	if (u->lifetime_s)
		line(o, "Binding life", "%u s%s, inbound traffic %s it", u->lifetime_s,
		     u->lifetime_s < 120 ? " (below RFC 4787's 2 min minimum)" : "",
		     tri_word(u->inbound_refresh, "refreshes", "does not refresh"));
	if (u->rtt_us)
		line(o, "RTT", "%.2f ms", u->rtt_us / 1000.0);
	line(o, "NAT type", "%s", nc_result_classic_label(r));
	line(o, "Hole punching", "%s", nc_result_punch_verdict(r, punch, sizeof(punch)));
}

static void tcp_lines(struct out *o, const struct nc_tcp_result *t)
{
	if (!t->tested)
		return;
	behaviour_line(o, "TCP mapping", t->mapping, 'm', "none (no NAT)");
	line(o, "TCP consistent", "%s", tri_word(t->consistent, "yes", "no"));
	if (t->filtering != NC_BEH_UNKNOWN)
		behaviour_line(o, "TCP filtering", t->filtering, 'f', "none");
	if (t->unsolicited[0])
		line(o, "TCP unsol. SYN", "%s after %u ms", t->unsolicited, t->unsolicited_ms);
	line(o, "TCP sim. open", "%s", tri_word(t->simultaneous_open, "works (TCP hole punching possible)",
					      "fails"));
	line(o, "TCP hairpin", "%s", tri_word(t->hairpin, "yes", "no"));
}

static void portmap_lines(struct out *o, const struct nc_result *r)
{
	char a[NC_ADDR_STRLEN];

	for (int p = 0; p < NC_PM_COUNT; p++) {
		const struct nc_portmap_result *m = &r->portmap[p];
		if (!m->tested)
			continue;
		if (m->present == NC_TRI_YES)
			line(o, nc_pm_proto_name((enum nc_pm_proto)p), "present, external address %s%s%s",
			     nc_addr_ip_str(&m->external, a),
			     m->test_mapping == NC_TRI_YES ? ", test mapping reached this host"
			     : m->test_mapping == NC_TRI_NO ? ", test mapping did NOT reach this host" : "",
			     m->error[0] ? "" : "");
		else
			line(o, nc_pm_proto_name((enum nc_pm_proto)p), "%s", m->error[0] ? m->error : "absent");
	}
	if (r->topology.nat_layers >= 0 || r->topology.cgnat != NC_TRI_UNKNOWN)
		line(o, "Topology", "%d NAT layer(s)%s", r->topology.nat_layers,
		     r->topology.cgnat == NC_TRI_YES ? ", carrier-grade NAT: your ISP shares one public "
						       "address among customers" : "");
}

static void observation_table(struct out *o, const struct nc_result *r)
{
	char l[NC_ADDR_STRLEN], d[NC_ADDR_STRLEN], f[NC_ADDR_STRLEN], m[NC_ADDR_STRLEN];

	fprintf(o->f, "\n%-15s %-21s %-21s %-21s %-12s %-21s %s\n", "probe", "local", "sent to",
		"answer from", "outcome", "mapped", "rtt");
	for (unsigned i = 0; i < r->n_obs; i++) {
		const struct nc_obs *ob = &r->obs[i];
		const struct nc_addr *mapped = nc_addr_is_set(&ob->xor_mapped) ? &ob->xor_mapped : &ob->mapped;
		fprintf(o->f, "%-15s %-21s %-21s %-21s %-12s %-21s ", nc_role_name(ob->role),
			nc_addr_str(&ob->local, l), nc_addr_str(&ob->dest, d),
			nc_addr_is_set(&ob->from) ? nc_addr_str(&ob->from, f) : "-",
			nc_outcome_name(ob->outcome), nc_addr_is_set(mapped) ? nc_addr_str(mapped, m) : "-");
		if (ob->outcome == NC_OUT_ANSWERED)
			fprintf(o->f, "%.2f ms", ob->rtt_us / 1000.0);
		fputc('\n', o->f);
	}
}

int nc_report_write(FILE *f, const struct nc_result *r, const struct nc_report_opts *opts)
{
	struct out o = {.f = f, .color = opts && opts->color};
	char a[NC_ADDR_STRLEN], b[NC_ADDR_STRLEN];

	fprintf(f, "natcheck %s: server %s", r->tool_version, nc_addr_str(&r->server.primary, a));
	if (nc_addr_is_set(&r->server.other))
		fprintf(f, " (alternate %s)", nc_addr_str(&r->server.other, b));
	if (nc_addr_is_set(&r->server.secondary))
		fprintf(f, ", second server %s", nc_addr_str(&r->server.secondary, b));
	fprintf(f, ", %u ms\n\n", r->duration_ms);
	udp_lines(&o, r);
	tcp_lines(&o, &r->tcp);
	portmap_lines(&o, r);
	if (r->n_notes) {
		fprintf(f, "\nNotes:\n");
		for (unsigned i = 0; i < r->n_notes; i++)
			fprintf(f, "  - %s\n", r->notes[i]);
	}
	if (opts && opts->verbose)
		observation_table(&o, r);
	return ferror(f) ? -EIO : 0;
}
