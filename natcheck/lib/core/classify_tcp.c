/* TCP verdicts (RFC 5382; NAT Check's TCP tests) from the recorded TCP tests, r->tcp_obs.
 * The probe (tcpprobe.c) only records what happened; every rule is here. */
#include "classify_evidence.h"

#include <stdio.h>
#include <string.h>

static const struct nc_tcp_obs *find(const struct nc_result *r, enum nc_tcp_test test)
{
	for (unsigned i = 0; i < r->n_tcp_obs && i < NC_MAX_TCP_OBS; i++)
		if (r->tcp_obs[i].test == test)
			return &r->tcp_obs[i];
	return NULL;
}

static bool answered(const struct nc_tcp_obs *o)
{
	return o && o->outcome == NC_OUT_ANSWERED;
}

static bool mapped(const struct nc_tcp_obs *o)
{
	return answered(o) && nc_addr_is_set(&o->mapped);
}

static bool arrived(const struct nc_tcp_obs *o)
{
	return answered(o) && o->arrived == NC_TRI_YES;
}

static void set_unsolicited(struct nc_tcp_result *t, const char *word, uint32_t ms)
{
	snprintf(t->unsolicited, sizeof(t->unsolicited), "%s", word);
	t->unsolicited_ms = ms;
}

static void classify_mapping(struct nc_result *r, const struct nc_tcp_obs *p)
{
	struct nc_tcp_result *t = &r->tcp;
	const struct nc_tcp_obs *a2 = find(r, NC_TCP_MAP_ALT_IP), *a3 = find(r, NC_TCP_MAP_ALT_BOTH);

	if (mapped(a2) && mapped(a3)) {
		bool e12 = nc_addr_eq(&p->mapped, &a2->mapped), e23 = nc_addr_eq(&a2->mapped, &a3->mapped);
		bool none = nc_addr_eq(&p->mapped, &p->local);
		t->consistent = e12 && e23 ? NC_TRI_YES : NC_TRI_NO;
		t->mapping = none && e12 && e23 ? NC_BEH_NONE
			     : e12 && e23	? NC_BEH_EI
			     : e23		? NC_BEH_AD
						: NC_BEH_APD;
	} else {
		nc_result_note(r, "tcp: mapping: no TCP answer from the alternate address");
	}
}

/* T2: what the bouncer's unsolicited SYN toward p's mapping met. */
static void classify_unsolicited(struct nc_result *r, const struct nc_tcp_obs *b)
{
	struct nc_tcp_result *t = &r->tcp;

	if (!answered(b)) {
		nc_result_note(r, "tcp: the server offers no bouncer: unsolicited SYN and "
				  "simultaneous open not tested");
		return;
	}
	if (b->arrived == NC_TRI_YES) {
		set_unsolicited(t, "accepted", b->elapsed_ms);
	} else {
		switch ((enum nc_cb_report)b->report) {
		case NC_CB_NONE:
		case NC_CB_PENDING:
		case NC_CB_TIMEOUT:
			/* Nothing came back while this host waited. */
			set_unsolicited(t, "dropped", b->wait_ms);
			break;
		case NC_CB_RST:
			set_unsolicited(t, "rst", b->elapsed_ms);
			break;
		case NC_CB_ICMP_PORT:
		case NC_CB_ICMP_ADMIN:
		case NC_CB_ICMP_OTHER:
			set_unsolicited(t, nc_cb_report_name((enum nc_cb_report)b->report), b->elapsed_ms);
			break;
		case NC_CB_ERROR:
			nc_result_note(r, "tcp: the bouncer could not connect (errno %u)", b->error_code);
			break;
		default: /* CONNECTED without an arrival: it reached something else */
			break;
		}
	}
	if (strncmp(t->unsolicited, "icmp", 4) == 0 && t->unsolicited_ms < 6000)
		nc_result_note(r, "tcp: the NAT answered an unsolicited SYN with ICMP after %u ms; "
				  "RFC 5382 REQ-4 asks for silence for at least 6 s",
			       t->unsolicited_ms);
}

void nc_classify_tcp(struct nc_result *r)
{
	struct nc_tcp_result *t = &r->tcp;
	const struct nc_tcp_obs *p = find(r, NC_TCP_MAP_PRIMARY), *b = find(r, NC_TCP_CB_BOUNCER);
	const struct nc_tcp_obs *q = find(r, NC_TCP_FILTER_MAP), *cport = find(r, NC_TCP_CB_PORT);
	const struct nc_tcp_obs *caddr = find(r, NC_TCP_CB_ADDR), *hp = find(r, NC_TCP_HAIRPIN);
	const struct nc_tcp_obs *so = find(r, NC_TCP_SIMOPEN);
	char s[NC_ADDR_STRLEN];

	memset(t, 0, sizeof(*t));
	if (r->n_tcp_obs == 0)
		return; /* not run */
	if (!mapped(p)) {
		nc_result_note(r, "tcp: no STUN answer over TCP from %s: TCP not tested",
			       p ? nc_addr_str(&p->dest, s) : "the server");
		return;
	}
	t->tested = true;
	classify_mapping(r, p);
	classify_unsolicited(r, b);

	/* T3: an unsolicited SYN that gets through needs no simultaneous open; else p's own
	 * connect toward the bouncer while the bouncer's SYN was pending. */
	if (arrived(b)) {
		t->simultaneous_open = NC_TRI_YES;
		nc_result_note(r, "tcp: unsolicited SYNs reach this host, so TCP hole punching works "
				  "without a simultaneous open");
	} else if (so) {
		t->simultaneous_open = so->outcome == NC_OUT_ANSWERED ? NC_TRI_YES : NC_TRI_NO;
	}

	/* T5: which origins reached q's listener (RFC 5382 §5, like RFC 4787 §5). */
	if (mapped(q) && (!answered(cport) || !answered(caddr)))
		nc_result_note(r, "tcp: the server cannot connect back from its other address and "
				  "port: filtering not fully tested");
	if (arrived(b) || arrived(caddr))
		t->filtering = NC_BEH_EI;
	else if (answered(cport) && answered(caddr))
		t->filtering = arrived(cport) ? NC_BEH_AD : NC_BEH_APD;
	if (t->filtering == NC_BEH_EI && t->mapping == NC_BEH_NONE)
		t->filtering = NC_BEH_NONE;
	/* T4: h's connection to q's mapping came round to q's listener. */
	if (hp)
		t->hairpin = hp->arrived == NC_TRI_YES ? NC_TRI_YES : NC_TRI_NO;
}
