/* The human report: golden text for typical results, colour, the probe table, hostile text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report.h"
#include "testaddr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(const struct nc_result *r, bool color, bool verbose)
{
	struct nc_report_opts o = {.color = color, .verbose = verbose};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(nc_report_write(f, r, &o), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void assert_report(const struct nc_result *r, const char *golden)
{
	char *text = render(r, false, false);

	if (strcmp(text, golden) != 0)
		fail_msg("report differs:\n--- got\n%s--- expected\n%s", text, golden);
	free(text);
}

static struct nc_result *base(void)
{
	struct nc_result *r = malloc(sizeof(*r));

	assert_non_null(r);
	nc_result_init(r);
	snprintf(r->tool_version, sizeof(r->tool_version), "0.1.0");
	r->server.primary = ep("198.18.1.1:3478");
	r->server.other = ep("198.18.1.2:3479");
	r->udp.rtt_us = 1234;
	return r;
}

static void home_nat(struct nc_result *r)
{
	struct nc_udp_result *u = &r->udp;

	u->reachable = NC_TRI_YES;
	u->nat = NC_TRI_YES;
	u->mapping = NC_BEH_EI;
	u->filtering = NC_BEH_APD;
	u->local = ep("10.1.0.2:40000");
	u->public_ep = ep("198.18.10.1:40000");
	u->port_preserved = NC_TRI_YES;
	u->alloc.pattern = NC_ALLOC_PRESERVING;
	u->alloc.parity = NC_TRI_YES;
	u->pooling = NC_POOL_SINGLE;
	u->hairpin = NC_TRI_YES;
	u->hairpin_src = NC_HP_EXTERNAL;
	u->hairpin_from = ep("198.18.10.1:40002");
	u->alg = NC_TRI_NO;
}

static void test_port_restricted_cone(void **state)
{
	struct nc_result *r = base();

	home_nat(r);
	assert_report(r,
		      "natcheck 0.1.0: server 198.18.1.1:3478 (alternate 198.18.1.2:3479), RTT 1.2 ms\n"
		      "\n"
		      "UDP            reachable, NAT present (public 198.18.10.1:40000)\n"
		      "Mapping        endpoint-independent (RFC 4787 EIM)\n"
		      "Filtering      address-and-port-dependent (APDF)\n"
		      "Port alloc.    preserving (parity kept)\n"
		      "Hairpin        yes (source: external mapping)\n"
		      "ALG            none detected\n"
		      "NAT type       port-restricted cone\n"
		      "Hole punching  works with most peers (EIM): it fails only with peers behind "
		      "symmetric NATs (endpoint-dependent mapping), even with peer-reflexive learning\n"
		      "Not tested     TCP, port mapping, binding lifetime (--lifetime)\n");
	free(r);
}

/* Symmetric with a sequential allocator, everything else tested too, and notes. */
static void test_symmetric_everything(void **state)
{
	struct nc_result *r = base();
	struct nc_udp_result *u = &r->udp;

	home_nat(r);
	snprintf(r->server.software, sizeof(r->server.software), "natcheck-reflector 0.1.0");
	r->server.secondary = ep("198.18.2.1:3478");
	u->mapping = NC_BEH_APD;
	u->mapping_port_only = true;
	u->port_preserved = NC_TRI_NO;
	u->alloc.pattern = NC_ALLOC_SEQUENTIAL;
	u->alloc.delta = 2;
	u->alloc.parity = NC_TRI_NO;
	u->pooling = NC_POOL_PAIRED;
	u->n_public = 2;
	u->hairpin_src = NC_HP_INTERNAL;
	u->hairpin_from = ep("10.1.0.2:40002");
	u->alg = NC_TRI_YES;
	u->lifetime_s = 30;
	u->lifetime_upper_s = 60;
	u->inbound_refresh = NC_TRI_NO;
	r->tcp.tested = true;
	r->tcp.mapping = NC_BEH_EI;
	r->tcp.consistent = NC_TRI_YES;
	snprintf(r->tcp.unsolicited, sizeof(r->tcp.unsolicited), "rst");
	r->tcp.unsolicited_ms = 12;
	r->tcp.simultaneous_open = NC_TRI_NO;
	r->portmap[NC_PM_NATPMP].tested = true;
	r->portmap[NC_PM_NATPMP].present = NC_TRI_YES;
	r->portmap[NC_PM_NATPMP].external = ep("198.18.10.1:1");
	r->portmap[NC_PM_NATPMP].test_mapping = NC_TRI_NO;
	r->portmap[NC_PM_NATPMP].deleted = NC_TRI_NO;
	r->portmap[NC_PM_PCP].tested = true;
	r->portmap[NC_PM_PCP].present = NC_TRI_NO;
	r->portmap[NC_PM_UPNP].tested = true;
	snprintf(r->portmap[NC_PM_UPNP].error, NC_NOTE_LEN, "no IGD found");
	r->topology.nat_layers = 2;
	r->topology.double_nat = NC_TRI_YES;
	r->topology.cgnat = NC_TRI_YES;
	nc_result_note(r, "filtering: one note");
	nc_result_note(r, "mapping: another");
	assert_report(r,
		      "natcheck 0.1.0: server 198.18.1.1:3478 (alternate 198.18.1.2:3479, "
		      "natcheck-reflector 0.1.0), second server 198.18.2.1:3478, RTT 1.2 ms\n"
		      "\n"
		      "UDP            reachable, NAT present (public 198.18.10.1:40000)\n"
		      "Mapping        address-and-port-dependent (RFC 4787 APDM), changes with the "
		      "destination port alone\n"
		      "Filtering      address-and-port-dependent (APDF)\n"
		      "Port alloc.    sequential, step +2 (parity not kept)\n"
		      "IP pooling     paired (2 public addresses seen)\n"
		      "Hairpin        yes (source: internal address 10.1.0.2:40002, not the mapping)\n"
		      "ALG            present: a router rewrote MAPPED-ADDRESS in the payload\n"
		      "Binding life   30 to 60 s, below RFC 4787's 2 min, only outbound traffic "
		      "refreshes it\n"
		      "NAT type       symmetric\n"
		      "Hole punching  fails with peers behind port-restricted or symmetric NATs; works "
		      "with full-cone and restricted-cone peers via peer-reflexive learning (or port "
		      "prediction: sequential +2)\n"
		      "TCP mapping    endpoint-independent (RFC 5382 EIM)\n"
		      "TCP consistent yes\n"
		      "TCP unsol. SYN rst after 12 ms\n"
		      "TCP sim. open  fails\n"
		      "TCP hairpin    not determined\n"
		      "NAT-PMP        present, external 198.18.10.1, test mapping did NOT reach this "
		      "host, test mapping NOT removed\n"
		      "PCP            absent\n"
		      "UPnP-IGD       no answer: no IGD found\n"
		      "Topology       2 NAT layers, double NAT, carrier-grade NAT (the ISP shares the "
		      "public address)\n"
		      "\n"
		      "Notes:\n"
		      "  - filtering: one note\n"
		      "  - mapping: another\n");
	free(r);
}

static void test_open_internet(void **state)
{
	struct nc_result *r = base();
	struct nc_udp_result *u = &r->udp;

	u->reachable = NC_TRI_YES;
	u->nat = NC_TRI_NO;
	u->mapping = NC_BEH_NONE;
	u->filtering = NC_BEH_NONE;
	u->local = u->public_ep = ep("198.18.5.5:40000");
	u->alloc.pattern = NC_ALLOC_PRESERVING;
	u->alg = NC_TRI_NO;
	u->lifetime_s = 600;
	u->inbound_refresh = NC_TRI_YES;
	nc_result_note(r, "hairpin: not applicable without a NAT");
	assert_report(r,
		      "natcheck 0.1.0: server 198.18.1.1:3478 (alternate 198.18.1.2:3479), RTT 1.2 ms\n"
		      "\n"
		      "UDP            reachable, no NAT (public 198.18.5.5:40000)\n"
		      "Mapping        none (no NAT)\n"
		      "Filtering      none (unsolicited packets get through)\n"
		      "ALG            none detected\n"
		      "Binding life   at least 600 s, inbound traffic refreshes it\n"
		      "NAT type       open internet\n"
		      "Hole punching  is not needed: this host is directly reachable, so peers behind "
		      "any NAT can connect to it\n"
		      "Not tested     TCP, port mapping\n"
		      "\n"
		      "Notes:\n"
		      "  - hairpin: not applicable without a NAT\n");
	free(r);
}

static void test_blocked(void **state)
{
	struct nc_result *r = base();

	r->udp.reachable = NC_TRI_NO;
	r->udp.rtt_us = 0;
	memset(&r->server.other, 0, sizeof(r->server.other));
	nc_result_note(r, "udp: no answer from the server: UDP is blocked, or the server is down");
	assert_report(r,
		      "natcheck 0.1.0: server 198.18.1.1:3478\n"
		      "\n"
		      "UDP            blocked: no answer from the server\n"
		      "NAT type       UDP blocked\n"
		      "Hole punching  is impossible: UDP does not reach the server, so only TCP or a "
		      "relay can connect this host\n"
		      "Not tested     TCP, port mapping\n"
		      "\n"
		      "Notes:\n"
		      "  - udp: no answer from the server: UDP is blocked, or the server is down\n");
	free(r);
}

/* A server that answered unusably is not "UDP blocked"; bogus and unreachable endpoints are
 * named in the header. */
static void test_server_problem(void **state)
{
	struct nc_result *r = base();

	r->udp.reachable = NC_TRI_YES;
	r->udp.server_problem = NC_SRV_ERRORS;
	r->udp.rtt_us = 0;
	memset(&r->server.other, 0, sizeof(r->server.other));
	r->server.bogus_other = ep("0.0.0.0:3479");
	r->server.n_unreachable = 1;
	r->server.unreachable[0] = ep("198.18.1.1:3479");
	assert_report(r,
		      "natcheck 0.1.0: server 198.18.1.1:3478, bogus alternate 0.0.0.0:3479 "
		      "refused, unreachable: 198.18.1.1:3479\n"
		      "\n"
		      "UDP            reachable, but the server answered with errors only\n"
		      "Mapping        not determined\n"
		      "Filtering      not determined\n"
		      "Port alloc.    not determined\n"
		      "NAT type       unknown\n"
		      "Hole punching  cannot be predicted: the server answered, but unusably "
		      "(error-responses); try another server\n"
		      "Not tested     hairpin, ALG, TCP, port mapping, binding lifetime "
		      "(--lifetime)\n");
	free(r);
}

/* Undetermined verdicts say so instead of guessing; an empty result still prints. */
static void test_undetermined(void **state)
{
	struct nc_result *r = base();

	home_nat(r);
	r->udp.mapping = NC_BEH_UNKNOWN;
	r->udp.filtering = NC_BEH_UNKNOWN;
	r->udp.alloc.pattern = NC_ALLOC_UNKNOWN;
	r->udp.hairpin = NC_TRI_UNKNOWN;
	r->udp.alg = NC_TRI_UNKNOWN;
	assert_report(r,
		      "natcheck 0.1.0: server 198.18.1.1:3478 (alternate 198.18.1.2:3479), RTT 1.2 ms\n"
		      "\n"
		      "UDP            reachable, NAT present (public 198.18.10.1:40000)\n"
		      "Mapping        not determined\n"
		      "Filtering      not determined\n"
		      "Port alloc.    not determined (the mapping kept its port)\n"
		      "NAT type       unknown\n"
		      "Hole punching  cannot be predicted: the NAT's mapping behaviour was not "
		      "determined\n"
		      "Not tested     hairpin, ALG, TCP, port mapping, binding lifetime (--lifetime)\n");
	nc_result_init(r);
	assert_report(r, "natcheck : server unknown\n"
			 "\n"
			 "UDP            not tested\n"
			 "NAT type       unknown\n"
			 "Hole punching  cannot be predicted: no UDP test ran to completion\n"
			 "Not tested     TCP, port mapping\n");
	free(r);
}

/* Text from the network cannot reach the terminal as control sequences. */
static void test_hostile_text(void **state)
{
	struct nc_result *r = base();
	char *text;

	snprintf(r->server.software, sizeof(r->server.software), "evil\033[2J\r\n\xc2\x9b" "31m");
	nc_result_note(r, "note\033]0;title\007");
	text = render(r, false, false);
	assert_null(strchr(text, '\033'));
	assert_null(strchr(text, '\r'));
	assert_null(strchr(text, '\007'));
	assert_null(strstr(text, "\xc2\x9b"));
	assert_non_null(strstr(text, "evil?[2J???31m"));
	assert_non_null(strstr(text, "  - note?]0;title?\n"));
	free(text);
	free(r);
}

static void test_color(void **state)
{
	struct nc_result *r = base();
	char *text;

	home_nat(r);
	text = render(r, true, false);
	assert_non_null(strstr(text, "\033[1mnatcheck 0.1.0\033[0m: server 198.18.1.1:3478"));
	assert_non_null(strstr(text, "\033[1mNAT type       \033[0mport-restricted cone\n"));
	assert_non_null(strstr(text, "\033[1mNot tested     \033[0m\033[2mTCP, port mapping"));
	free(text);
	/* Without colour, no escape at all. */
	text = render(r, false, true);
	assert_null(strchr(text, '\033'));
	free(text);
	free(r);
}

static void test_verbose_table(void **state)
{
	struct nc_result *r = base();
	struct nc_obs *o;
	char *text;
	const char *table;

	home_nat(r);
	o = &r->obs[r->n_obs++];
	o->role = NC_ROLE_MAP_PRIMARY;
	o->outcome = NC_OUT_ANSWERED;
	o->local = ep("10.1.0.2:40000");
	o->dest = o->expect = o->from = ep("198.18.1.1:3478");
	o->mapped = ep("198.18.10.9:1"); /* an ALG rewrote it: the XOR-ed copy wins */
	o->xor_mapped = ep("198.18.10.1:40000");
	o->rtt_us = 1234;
	o = &r->obs[r->n_obs++];
	o->role = NC_ROLE_FILTER_IP_PORT;
	o->outcome = NC_OUT_TIMEOUT;
	o->local = ep("10.1.0.2:40001");
	o->dest = ep("198.18.1.1:3478");
	o->expect = ep("198.18.1.2:3479");
	o->rtt_us = 99; /* not answered: not shown */
	text = render(r, false, true);
	table = strstr(text, "\nprobe ");
	assert_non_null(table);
	assert_string_equal(table,
			    "\nprobe           local                  sent to                "
			    "expected from          answer from            outcome       mapped"
			    "                 rtt\n"
			    "map-primary     10.1.0.2:40000         198.18.1.1:3478        "
			    "198.18.1.1:3478        198.18.1.1:3478        answered      "
			    "198.18.10.1:40000      1.23 ms\n"
			    "filter-ip-port  10.1.0.2:40001         198.18.1.1:3478        "
			    "198.18.1.2:3479        -                      timeout       -"
			    "                      -\n");
	free(text);
	free(r);
}

/* A stream that fails is reported, not ignored. */
static void test_stream_error(void **state)
{
	struct nc_result *r = base();
	FILE *f = fopen("/dev/full", "w");

	if (!f) {
		free(r);
		skip();
	}
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(nc_report_write(f, r, NULL), -EIO);
	fclose(f);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_restricted_cone),
		cmocka_unit_test(test_symmetric_everything),
		cmocka_unit_test(test_open_internet),
		cmocka_unit_test(test_blocked),
		cmocka_unit_test(test_server_problem),
		cmocka_unit_test(test_undetermined),
		cmocka_unit_test(test_hostile_text),
		cmocka_unit_test(test_color),
		cmocka_unit_test(test_verbose_table),
		cmocka_unit_test(test_stream_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
