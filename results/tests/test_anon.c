/* Anonymisation: what is cut, what is dropped, what is kept, and that the submission document
 * still passes the schema reader. */
#include <natcheck/error.h>
#include <natcheck/result.h>
#include <natcheck/submit.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct nc_addr ep(const char *s)
{
	struct nc_addr a;

	assert_int_equal(nc_addr_parse(s, 0, &a), 0);
	return a;
}

static const char *str(const struct nc_addr *a, char buf[NC_ADDR_STRLEN])
{
	return nc_addr_is_set(a) ? nc_addr_str(a, buf) : "unset";
}

static void test_addr(void **state)
{
	char b[NC_ADDR_STRLEN];
	struct nc_addr a;

	(void)state;
	a = ep("203.0.113.77:4500"); /* TEST-NET-3 is reserved: dropped like private space */
	assert_false(nc_addr_anonymise(&a));
	a = ep("81.2.69.142:40000");
	assert_true(nc_addr_anonymise(&a));
	assert_string_equal(str(&a, b), "81.2.69.0:0");
	a = ep("[2a00:1450:4001:82b::200e]:443");
	assert_true(nc_addr_anonymise(&a));
	assert_string_equal(str(&a, b), "[2a00:1450:4001::]:0");
	a = ep("192.168.1.20:5000");
	assert_false(nc_addr_anonymise(&a));
	assert_string_equal(str(&a, b), "unset");
	a = ep("100.64.3.4:1"); /* CGNAT space */
	assert_false(nc_addr_anonymise(&a));
	a = ep("[fd00::1]:1");
	assert_false(nc_addr_anonymise(&a));
	a = ep("127.0.0.1:1");
	assert_false(nc_addr_anonymise(&a));
}

static void sample(struct nc_result *r)
{
	nc_result_init(r);
	strcpy(r->started, "2026-11-23T13:26:46Z");
	r->udp.reachable = NC_TRI_YES;
	r->udp.nat = NC_TRI_YES;
	r->udp.mapping = NC_BEH_EI;
	r->udp.filtering = NC_BEH_APD;
	r->udp.local = ep("192.168.1.20:5000");
	r->udp.public_ep = ep("81.2.69.142:5000");
	r->udp.port_preserved = NC_TRI_YES;
	r->udp.alloc.pattern = NC_ALLOC_SEQUENTIAL;
	r->udp.alloc.delta = 2;
	r->udp.alloc.parity = NC_TRI_YES;
	r->udp.alloc.n = 2;
	r->udp.alloc.s[0] = (struct nc_alloc_sample){5001, ep("81.2.69.142:5001")};
	r->udp.alloc.s[1] = (struct nc_alloc_sample){5002, ep("81.2.69.142:5003")};
	r->udp.n_public = 3;
	r->udp.public_ips[0] = ep("81.2.69.142");
	r->udp.public_ips[1] = ep("81.2.69.143"); /* the same /24: one entry after cutting */
	r->udp.public_ips[2] = ep("81.2.70.1");
	r->udp.hairpin = NC_TRI_YES;
	r->udp.hairpin_src = NC_HP_INTERNAL;
	r->udp.hairpin_from = ep("192.168.1.20:5000");
	r->portmap[NC_PM_NATPMP].tested = true;
	r->portmap[NC_PM_NATPMP].present = NC_TRI_YES;
	r->portmap[NC_PM_NATPMP].external = ep("81.2.69.142");
	strcpy(r->portmap[NC_PM_NATPMP].error, "gateway 192.168.1.1 said no");
	r->topology.nat_layers = 1;
	nc_result_note(r, "local address 192.168.1.20");
	r->n_obs = 1;
	r->obs[0].role = NC_ROLE_MAP_PRIMARY;
	r->obs[0].outcome = NC_OUT_ANSWERED;
	r->obs[0].local = ep("192.168.1.20:5000");
	r->n_tcp_obs = 1;
	r->tcp_obs[0].local = ep("192.168.1.20:5001");
	r->tcp_obs[0].mapped = ep("81.2.69.142:5001");
	r->hops.n = 2;
	r->hops.hop[0] = ep("192.168.1.1");
	r->hops.hop[1] = ep("81.2.68.1");
	r->track.n = 1;
	r->track.local = ep("192.168.1.20:5003");
	r->track.s[0].public_ep = ep("81.2.69.142:5003");
}

static void test_result(void **state)
{
	static struct nc_result r, again;
	char b[NC_ADDR_STRLEN], *j1, *j2, err[200];

	(void)state;
	sample(&r);
	nc_result_anonymise(&r);
	/* Kept: every verdict the report uses. */
	assert_int_equal(r.udp.mapping, NC_BEH_EI);
	assert_int_equal(r.udp.filtering, NC_BEH_APD);
	assert_int_equal(r.udp.port_preserved, NC_TRI_YES);
	assert_int_equal(r.udp.alloc.pattern, NC_ALLOC_SEQUENTIAL);
	assert_int_equal(r.udp.alloc.delta, 2);
	assert_int_equal(r.udp.alloc.parity, NC_TRI_YES);
	assert_int_equal(r.udp.hairpin, NC_TRI_YES);
	assert_int_equal(r.udp.hairpin_src, NC_HP_INTERNAL);
	assert_int_equal(r.portmap[NC_PM_NATPMP].present, NC_TRI_YES);
	assert_int_equal(r.topology.nat_layers, 1);
	/* Cut or dropped: every address and the free text. */
	assert_string_equal(str(&r.udp.local, b), "unset");
	assert_string_equal(str(&r.udp.public_ep, b), "81.2.69.0:0");
	assert_string_equal(str(&r.udp.hairpin_from, b), "unset");
	assert_string_equal(str(&r.portmap[NC_PM_NATPMP].external, b), "81.2.69.0:0");
	assert_string_equal(r.portmap[NC_PM_NATPMP].error, "");
	assert_int_equal(r.udp.alloc.n, 0);
	assert_int_equal(r.udp.n_public, 2);
	assert_string_equal(nc_addr_ip_str(&r.udp.public_ips[1], b), "81.2.70.0");
	assert_int_equal(r.n_notes, 0);
	assert_int_equal(r.n_obs, 0);
	assert_int_equal(r.n_tcp_obs, 0);
	assert_int_equal(r.hops.n, 0);
	assert_false(nc_addr_is_set(&r.hops.hop[1]));
	assert_int_equal(r.track.n, 0);
	assert_false(nc_addr_is_set(&r.track.local));
	assert_string_equal(r.started, "2026-11-23T00:00:00Z");
	/* Still a valid document, and anonymising again changes nothing. */
	j1 = nc_result_to_json(&r, false);
	assert_int_equal(nc_result_from_json(j1, strlen(j1), &again, err, sizeof(err)), 0);
	nc_result_anonymise(&again);
	j2 = nc_result_to_json(&again, false);
	assert_string_equal(j1, j2);
	free(j1);
	free(j2);
}

static void test_document(void **state)
{
	static struct nc_result r;
	struct nc_submit_cfg cfg = {.vendor = "Linksys", .model = "WRT54G", .note = "home"};
	char id[NC_SUBMIT_ID_LEN], id2[NC_SUBMIT_ID_LEN], *doc, *doc2;

	(void)state;
	sample(&r);
	doc = nc_submit_document(&cfg, &r, id);
	assert_non_null(doc);
	assert_int_equal(strlen(id), 32);
	assert_non_null(strstr(doc, "\"schema\": \"natcheck-submission\""));
	assert_non_null(strstr(doc, "\"vendor\": \"Linksys\""));
	assert_non_null(strstr(doc, id));
	/* No full address, private address or note text leaves the machine. */
	assert_null(strstr(doc, "81.2.69.142"));
	assert_null(strstr(doc, "192.168."));
	assert_null(strstr(doc, "said no"));
	assert_non_null(strstr(doc, "81.2.69.0"));
	/* A fresh id per document. */
	doc2 = nc_submit_document(&cfg, &r, id2);
	assert_string_not_equal(id, id2);
	free(doc);
	free(doc2);
	/* Metadata that cannot be sent as asked is refused, not trimmed. */
	char longs[300];
	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	cfg.note = longs;
	errno = 0;
	assert_null(nc_submit_document(&cfg, &r, id));
	assert_int_equal(errno, EINVAL);
	cfg.note = "line\nbreak";
	assert_null(nc_submit_document(&cfg, &r, id));
	cfg.note = "\xff\xfe";
	assert_null(nc_submit_document(&cfg, &r, id));
}

/* The CLI's one call: declined without a terminal unless --yes; with --yes and no collector,
 * the document lands in the outbox and the message says how to resend it. */
static void test_interactive(void **state)
{
	static struct nc_result r;
	char outbox[] = "/tmp/test_anon.XXXXXX", *shown = NULL, cmd[64];
	size_t shown_len = 0;
	struct nc_submit_cfg cfg = {.url = "http://127.0.0.1:1/api/v1/results",
				    .attempts = 2,
				    .backoff_ms = 10,
				    .quiet = true,
				    .vendor = "Linksys"};
	struct nc_submit_status st;
	FILE *in = fmemopen((char *)(uintptr_t) "y\n", 2, "r"), *out;

	(void)state;
	assert_non_null(mkdtemp(outbox));
	cfg.outbox = outbox;
	sample(&r);
	out = open_memstream(&shown, &shown_len);
	assert_int_equal(nc_submit_interactive(&cfg, &r, false, in, out, &st), 1);
	fflush(out);
	assert_non_null(strstr(shown, "\"vendor\": \"Linksys\""));
	assert_non_null(strstr(st.message, "--yes"));
	assert_string_equal(st.saved, "");
	assert_true(nc_submit_interactive(&cfg, &r, true, in, out, &st) < 0);
	assert_int_equal(st.tries, 2);
	assert_non_null(strstr(st.message, "natcheck --resend"));
	assert_non_null(strstr(st.saved, outbox));
	assert_int_equal(access(st.saved, R_OK), 0);
	fclose(out);
	fclose(in);
	free(shown);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", outbox);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr),
	    cmocka_unit_test(test_result),
	    cmocka_unit_test(test_document),
	    cmocka_unit_test(test_interactive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
