#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#define LABEL_W 15
#define TEXT_LEN NC_NOTE_LEN

#define BOLD "\033[1m"
#define DIM "\033[2m"
#define RESET "\033[0m"

struct out {
	FILE *f;
	bool color;
};

static void line(struct out *o, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void line(struct out *o, const char *label, const char *fmt, ...)
{
	va_list ap;

	if (o->color)
		fprintf(o->f, BOLD "%-*s" RESET, LABEL_W, label);
	else
		fprintf(o->f, "%-*s", LABEL_W, label);
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
	fputc('\n', o->f);
}

/* Text from a result file or the network, made safe for a terminal: C0 controls, DEL and the
 * UTF-8 encoded C1 controls (U+0080..U+009F, which include CSI) become '?'. */
static const char *safe(char out[TEXT_LEN], const char *s, size_t cap)
{
	size_t n = strnlen(s, cap), j = 0;

	for (size_t i = 0; i < n && j < TEXT_LEN - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9F) {
			out[j++] = '?';
			i++;
		} else {
			out[j++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
		}
	}
	out[j] = '\0';
	return out;
}

static const char *ep_or_dash(const struct nc_addr *a, char buf[NC_ADDR_STRLEN])
{
	return nc_addr_is_set(a) ? nc_addr_str(a, buf) : "-";
}

/* RFC 4787's abbreviations: EIM/ADM/APDM and EIF/ADF/APDF. */
static const char *abbrev(enum nc_beh b)
{
	switch (b) {
	case NC_BEH_EI:
		return "EI";
	case NC_BEH_AD:
		return "AD";
	case NC_BEH_APD:
		return "APD";
	default:
		return "";
	}
}

static void mapping_line(struct out *o, const char *label, const char *rfc, enum nc_beh b,
			 bool port_only)
{
	if (b == NC_BEH_NONE)
		line(o, label, "none (no NAT)");
	else if (b == NC_BEH_EI || b == NC_BEH_AD || b == NC_BEH_APD)
		line(o, label, "%s (%s %sM)%s", nc_beh_name(b), rfc, abbrev(b),
		     port_only ? ", changes with the destination port alone" : "");
	else
		line(o, label, "not determined");
}

static void filtering_line(struct out *o, const char *label, enum nc_beh b)
{
	if (b == NC_BEH_NONE)
		line(o, label, "none (unsolicited packets get through)");
	else if (b == NC_BEH_EI || b == NC_BEH_AD || b == NC_BEH_APD)
		line(o, label, "%s (%sF)", nc_beh_name(b), abbrev(b));
	else
		line(o, label, "not determined");
}

static const char *parity(enum nc_tri p)
{
	return p == NC_TRI_YES ? " (parity kept)" : p == NC_TRI_NO ? " (parity not kept)" : "";
}

static void alloc_line(struct out *o, const struct nc_udp_result *u)
{
	switch (u->alloc.pattern) {
	case NC_ALLOC_PRESERVING:
		line(o, "Port alloc.", "preserving%s", parity(u->alloc.parity));
		break;
	case NC_ALLOC_SEQUENTIAL:
		line(o, "Port alloc.", "sequential, step %+d%s", (int)u->alloc.delta,
		     parity(u->alloc.parity));
		break;
	case NC_ALLOC_RANDOM:
		line(o, "Port alloc.", "random%s",
		     u->port_preserved == NC_TRI_YES ? " (the first mapping kept its port)" : "");
		break;
	default:
		line(o, "Port alloc.", "not determined%s",
		     u->port_preserved == NC_TRI_YES   ? " (the mapping kept its port)"
		     : u->port_preserved == NC_TRI_NO ? " (the mapping did not keep its port)"
						       : "");
		break;
	}
}

static void hairpin_line(struct out *o, const struct nc_udp_result *u)
{
	char a[NC_ADDR_STRLEN];

	if (u->hairpin == NC_TRI_NO) {
		line(o, "Hairpin", "no");
		return;
	}
	switch (u->hairpin_src) {
	case NC_HP_EXTERNAL:
		line(o, "Hairpin", "yes (source: external mapping)");
		break;
	case NC_HP_INTERNAL:
		/* RFC 4787 REQ-9 asks for the external source; peers may not recognise this one. */
		line(o, "Hairpin", "yes (source: internal address %s, not the mapping)",
		     ep_or_dash(&u->hairpin_from, a));
		break;
	case NC_HP_OTHER:
		line(o, "Hairpin", "yes (source: unexpected address %s)",
		     ep_or_dash(&u->hairpin_from, a));
		break;
	default:
		line(o, "Hairpin", "yes");
		break;
	}
}

static void lifetime_line(struct out *o, const struct nc_udp_result *u)
{
	char range[48];

	if (u->lifetime_upper_s)
		snprintf(range, sizeof(range), "%u to %u s", u->lifetime_s, u->lifetime_upper_s);
	else
		snprintf(range, sizeof(range), "at least %u s", u->lifetime_s);
	/* RFC 4787 REQ-5: a UDP mapping timer must not expire in less than two minutes. */
	line(o, "Binding life", "%s%s%s", range,
	     u->lifetime_upper_s && u->lifetime_upper_s <= 120 ? ", below RFC 4787's 2 min" : "",
	     u->inbound_refresh == NC_TRI_YES  ? ", inbound traffic refreshes it"
	     : u->inbound_refresh == NC_TRI_NO ? ", only outbound traffic refreshes it"
					       : "");
}

/* The verdict without its "UDP hole punching" subject, which the label already says. */
static const char *punch_text(const struct nc_result *r, char buf[TEXT_LEN])
{
	static const char subject[] = "UDP hole punching ";
	const char *v = nc_result_punch_verdict(r, buf, TEXT_LEN);

	return strncmp(v, subject, sizeof(subject) - 1) == 0 ? v + sizeof(subject) - 1 : v;
}

static void udp_lines(struct out *o, const struct nc_result *r)
{
	const struct nc_udp_result *u = &r->udp;
	char a[NC_ADDR_STRLEN], punch[TEXT_LEN];

	if (u->reachable == NC_TRI_NO)
		line(o, "UDP", "blocked: no answer from the server");
	else if (u->server_problem == NC_SRV_ERRORS)
		line(o, "UDP", "reachable, but the server answered with errors only");
	else if (u->server_problem == NC_SRV_WRONG_SOURCE)
		line(o, "UDP", "reachable, but the server answered from another address than asked");
	else if (u->server_problem == NC_SRV_MALFORMED)
		line(o, "UDP", "reachable, but the server's answers were malformed");
	else if (u->reachable != NC_TRI_YES)
		line(o, "UDP", "not tested");
	else if (u->nat == NC_TRI_NO)
		line(o, "UDP", "reachable, no NAT (public %s)", ep_or_dash(&u->public_ep, a));
	else if (u->nat == NC_TRI_YES)
		line(o, "UDP", "reachable, NAT present (public %s)", ep_or_dash(&u->public_ep, a));
	else
		line(o, "UDP", "reachable, NAT not determined");
	if (u->reachable == NC_TRI_YES) {
		mapping_line(o, "Mapping", "RFC 4787", u->mapping, u->mapping_port_only);
		filtering_line(o, "Filtering", u->filtering);
		if (u->nat != NC_TRI_NO)
			alloc_line(o, u);
		if (u->pooling == NC_POOL_PAIRED || u->pooling == NC_POOL_ARBITRARY)
			line(o, "IP pooling", "%s (%u public addresses seen)",
			     nc_pooling_name(u->pooling), u->n_public);
		if (u->hairpin != NC_TRI_UNKNOWN)
			hairpin_line(o, u);
		if (u->alloc.port_overloading == NC_TRI_YES)
			line(o, "Port sharing", "yes: internal endpoints share public ports "
						"(port overloading)");
		if (u->alg == NC_TRI_YES)
			line(o, "ALG", "present: a router rewrote MAPPED-ADDRESS in the payload");
		else if (u->alg == NC_TRI_NO)
			line(o, "ALG", "none detected");
		if (u->lifetime_s || u->lifetime_upper_s)
			lifetime_line(o, u);
		if (u->mapping_stable == NC_TRI_NO)
			line(o, "Mapping life", "unstable: a binding in use moved to a new public "
						"endpoint after %u ms (peers must re-learn it)",
			     u->mapping_change_ms);
		else if (u->mapping_stable == NC_TRI_YES)
			line(o, "Mapping life", "stable while in use");
	}
	line(o, "NAT type", "%s", nc_result_classic_label(r));
	line(o, "Hole punching", "%s", punch_text(r, punch));
}

static const char *tri_word(enum nc_tri t, const char *yes, const char *no)
{
	return t == NC_TRI_YES ? yes : t == NC_TRI_NO ? no : "not determined";
}

static void tcp_lines(struct out *o, const struct nc_tcp_result *t)
{
	char s[TEXT_LEN];

	if (!t->tested)
		return;
	/* RFC 5382 uses RFC 4787's words for TCP. */
	mapping_line(o, "TCP mapping", "RFC 5382", t->mapping, false);
	if (t->filtering != NC_BEH_UNKNOWN)
		filtering_line(o, "TCP filtering", t->filtering);
	line(o, "TCP consistent", "%s", tri_word(t->consistent, "yes", "no"));
	if (t->unsolicited[0])
		line(o, "TCP unsol. SYN", "%s after %u ms",
		     safe(s, t->unsolicited, sizeof(t->unsolicited)), t->unsolicited_ms);
	line(o, "TCP sim. open", "%s", tri_word(t->simultaneous_open, "works", "fails"));
	line(o, "TCP hairpin", "%s", tri_word(t->hairpin, "yes", "no"));
}

static void portmap_lines(struct out *o, const struct nc_result *r)
{
	static const char *const label[NC_PM_COUNT] = {"NAT-PMP", "PCP", "UPnP-IGD"};
	char a[NC_ADDR_STRLEN], e[TEXT_LEN];

	for (int p = 0; p < NC_PM_COUNT; p++) {
		const struct nc_portmap_result *m = &r->portmap[p];
		const char *err = m->error[0] ? safe(e, m->error, sizeof(m->error)) : NULL;
		if (!m->tested)
			continue;
		if (m->present == NC_TRI_YES)
			line(o, label[p], "present, external %s%s%s%s%s",
			     nc_addr_is_set(&m->external) ? nc_addr_ip_str(&m->external, a)
							  : "unknown",
			     m->test_mapping == NC_TRI_YES ? ", test mapping worked"
			     : m->test_mapping == NC_TRI_NO
				     ? ", test mapping did NOT reach this host"
				     : "",
			     m->deleted == NC_TRI_NO ? ", test mapping NOT removed" : "",
			     err ? ": " : "", err ? err : "");
		else
			line(o, label[p], "%s%s%s",
			     m->present == NC_TRI_NO ? "absent" : "no answer", err ? ": " : "",
			     err ? err : "");
	}
}

static void topology_line(struct out *o, const struct nc_topology *t)
{
	char layers[32] = "";

	if (t->nat_layers < 0 && t->cgnat == NC_TRI_UNKNOWN && t->double_nat == NC_TRI_UNKNOWN)
		return;
	if (t->nat_layers >= 0)
		snprintf(layers, sizeof(layers), "%d NAT layer%s", t->nat_layers,
			 t->nat_layers == 1 ? "" : "s");
	line(o, "Topology", "%s%s%s", layers[0] ? layers : "NAT layers not determined",
	     t->double_nat == NC_TRI_YES ? ", double NAT" : "",
	     t->cgnat == NC_TRI_YES  ? ", carrier-grade NAT (the ISP shares the public address)"
	     : t->cgnat == NC_TRI_NO ? ", no carrier-grade NAT"
				     : "");
}

static void not_tested_line(struct out *o, const struct nc_result *r)
{
	const struct nc_udp_result *u = &r->udp;
	const char *items[8];
	unsigned n = 0;
	bool any_pm = false;
	char buf[TEXT_LEN];
	size_t len = 0;

	for (int p = 0; p < NC_PM_COUNT; p++)
		any_pm |= r->portmap[p].tested;
	if (u->reachable == NC_TRI_YES) {
		if (u->nat != NC_TRI_NO && u->hairpin == NC_TRI_UNKNOWN)
			items[n++] = "hairpin";
		if (u->alg == NC_TRI_UNKNOWN)
			items[n++] = "ALG";
	}
	if (!r->tcp.tested)
		items[n++] = "TCP";
	if (!any_pm)
		items[n++] = "port mapping";
	if (u->reachable == NC_TRI_YES && !u->lifetime_s && !u->lifetime_upper_s)
		items[n++] = "binding lifetime (--lifetime)";
	if (n == 0)
		return;
	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? ", " : "",
					items[i]);
	if (o->color)
		line(o, "Not tested", DIM "%s" RESET, buf);
	else
		line(o, "Not tested", "%s", buf);
}

static void observation_table(struct out *o, const struct nc_result *r)
{
	char l[NC_ADDR_STRLEN], d[NC_ADDR_STRLEN], x[NC_ADDR_STRLEN], f[NC_ADDR_STRLEN];
	char m[NC_ADDR_STRLEN];

	fprintf(o->f, "\n%s%-14s  %-21s  %-21s  %-21s  %-21s  %-12s  %-21s  %s%s\n",
		o->color ? BOLD : "", "probe", "local", "sent to", "expected from", "answer from",
		"outcome", "mapped", "rtt", o->color ? RESET : "");
	for (unsigned i = 0; i < r->n_obs && i < NC_MAX_OBS; i++) {
		const struct nc_obs *ob = &r->obs[i];
		/* What the server reported: XOR-MAPPED-ADDRESS, else RFC 3489's MAPPED-ADDRESS. */
		const struct nc_addr *mapped =
			nc_addr_is_set(&ob->xor_mapped) ? &ob->xor_mapped : &ob->mapped;
		fprintf(o->f, "%-14s  %-21s  %-21s  %-21s  %-21s  %-12s  %-21s  ",
			nc_role_name((enum nc_role)ob->role), ep_or_dash(&ob->local, l),
			ep_or_dash(&ob->dest, d), ep_or_dash(&ob->expect, x),
			ep_or_dash(&ob->from, f), nc_outcome_name((enum nc_outcome)ob->outcome),
			ep_or_dash(mapped, m));
		if (ob->outcome == NC_OUT_ANSWERED)
			fprintf(o->f, "%.2f ms", ob->rtt_us / 1000.0);
		else
			fputc('-', o->f);
		fputc('\n', o->f);
	}
}

static void header(struct out *o, const struct nc_result *r)
{
	char a[NC_ADDR_STRLEN], v[TEXT_LEN], s[TEXT_LEN];

	fprintf(o->f, "%snatcheck %s%s: server %s", o->color ? BOLD : "",
		r->tool_version[0] ? safe(v, r->tool_version, sizeof(r->tool_version)) : "",
		o->color ? RESET : "",
		nc_addr_is_set(&r->server.primary) ? nc_addr_str(&r->server.primary, a)
						   : "unknown");
	if (nc_addr_is_set(&r->server.other) || r->server.software[0]) {
		fprintf(o->f, " (");
		if (nc_addr_is_set(&r->server.other))
			fprintf(o->f, "alternate %s%s", nc_addr_str(&r->server.other, a),
				r->server.software[0] ? ", " : "");
		if (r->server.software[0])
			fprintf(o->f, "%s",
				safe(s, r->server.software, sizeof(r->server.software)));
		fputc(')', o->f);
	}
	if (nc_addr_is_set(&r->server.secondary))
		fprintf(o->f, ", second server %s", nc_addr_str(&r->server.secondary, a));
	if (nc_addr_is_set(&r->server.bogus_other))
		fprintf(o->f, ", bogus alternate %s refused", nc_addr_str(&r->server.bogus_other, a));
	for (unsigned i = 0; i < r->server.n_unreachable && i < NC_MAX_UNREACHABLE; i++)
		fprintf(o->f, "%s%s", i ? ", " : ", unreachable: ",
			nc_addr_str(&r->server.unreachable[i], a));
	if (r->udp.rtt_us >= 100)
		fprintf(o->f, ", RTT %.1f ms", r->udp.rtt_us / 1000.0);
	else if (r->udp.rtt_us)
		fprintf(o->f, ", RTT < 0.1 ms");
	fputc('\n', o->f);
}

int nc_report_write(FILE *f, const struct nc_result *r, const struct nc_report_opts *opts)
{
	struct out o = {.f = f, .color = opts && opts->color};
	char n[TEXT_LEN];

	header(&o, r);
	fputc('\n', f);
	udp_lines(&o, r);
	tcp_lines(&o, &r->tcp);
	portmap_lines(&o, r);
	topology_line(&o, &r->topology);
	not_tested_line(&o, r);
	if (r->n_notes) {
		fprintf(f, "\nNotes:\n");
		for (unsigned i = 0; i < r->n_notes && i < NC_MAX_NOTES; i++)
			fprintf(f, "  - %s\n", safe(n, r->notes[i], NC_NOTE_LEN));
	}
	if (opts && opts->verbose)
		observation_table(&o, r);
	return ferror(f) ? -EIO : 0;
}
