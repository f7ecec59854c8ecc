/* Punch outcome reports (vpn/lib/outlog.c): when a punching round ends, driven through the real
 * path state machine on a fake clock (success at the first direct packet, failure when punching
 * gives up, repeats not written again until a network change, a round cut short not an
 * outcome); the document builder, read back by the core's own reader (nc_punch_outcome_from_json,
 * the reference of results/schema/punch-outcome.v1.schema.json); the atomic writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <natcheck/outcome.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outlog.h"
#include "path.h"

static struct nc_addr ep(const char *s)
{
	struct nc_addr a;

	assert_int_equal(nc_addr_parse(s, 0, &a), 0);
	return a;
}

/* Runs punch rounds until punching gives up (or until `until`). */
static void punch_until(struct path *p, uint64_t from, uint64_t until)
{
	struct nc_addr out[PATH_MAX_CANDS + 1];

	for (uint64_t t = from; t <= until && p->punching; t += 100)
		path_punch_due(p, t, out, PATH_MAX_CANDS + 1);
}

static void test_step_success(void **state)
{
	struct path p;
	struct outlog_track t = {0};
	struct nc_addr obs = ep("198.51.100.7:40000"), refl = ep("198.51.100.7:40007");
	(void)state;

	path_init(&p, NULL);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE); /* no introduction: no attempt */
	path_intro(&p, 9, &obs, NULL, 0, 10000);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE); /* running */
	punch_until(&p, 10000, 10500);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	/* A relayed packet is no success. */
	path_rx(&p, &obs, true, 10600);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	/* The first direct packet (peer-reflexive) 612 ms after the introduction. */
	assert_true(path_rx(&p, &refl, false, 10612));
	assert_int_equal(outlog_step(&t, &p), OUTLOG_SUCCESS);
	assert_int_equal(path_intro_to_direct_ms(&p), 612);
	/* Once per round. */
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	path_intro(&p, 9, &obs, NULL, 0, 11000); /* a repeat introduction keeps the live path */
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	/* The path goes silent: a new round (re-punch), its own outcome. */
	assert_true(path_tick(&p, 10612 + PATH_SILENCE_MS + 1));
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	assert_true(path_rx(&p, &refl, false, 10612 + PATH_SILENCE_MS + 41));
	assert_int_equal(outlog_step(&t, &p), OUTLOG_SUCCESS);
	assert_int_equal(path_intro_to_direct_ms(&p), 40);
}

static void test_step_failure(void **state)
{
	struct path p;
	struct outlog_track t = {0};
	struct nc_addr obs = ep("198.51.100.7:40000"), got = ep("198.51.100.7:40001");
	uint64_t t0 = 5000, t1;
	(void)state;

	path_init(&p, NULL);
	path_intro(&p, 3, &obs, NULL, 0, t0);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	punch_until(&p, t0, t0 + PATH_PUNCH_GIVEUP_MS - 200);
	assert_true(p.punching);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE); /* still trying at 29.8 s */
	punch_until(&p, t0 + PATH_PUNCH_GIVEUP_MS - 100, t0 + PATH_PUNCH_GIVEUP_MS + 100);
	assert_false(p.punching);
	assert_int_equal(p.why, PATH_WHY_NO_DIRECT);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_FAILURE);
	assert_int_equal(path_intro_to_direct_ms(&p), -1);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	/* The next introduction starts punching again: the same failure is not written twice. */
	t1 = t0 + PATH_PUNCH_GIVEUP_MS + 15000;
	path_intro(&p, 3, &obs, NULL, 0, t1);
	assert_true(p.punching);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	punch_until(&p, t1, t1 + PATH_PUNCH_GIVEUP_MS + 100);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_REPEAT);
	/* After a network change it is a new attempt: its failure is written. */
	t1 += PATH_PUNCH_GIVEUP_MS + 1000;
	path_net_change(&p, t1);
	assert_int_equal(p.why, PATH_WHY_NET_CHANGE);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	punch_until(&p, t1, t1 + PATH_PUNCH_GIVEUP_MS + 100);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_FAILURE);
	/* `punchvpn repunch` asks for a new attempt: its failure is written too. */
	t1 += PATH_PUNCH_GIVEUP_MS + 1000;
	path_repunch(&p, t1);
	assert_int_equal(p.why, PATH_WHY_REPUNCH);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	punch_until(&p, t1, t1 + PATH_PUNCH_GIVEUP_MS + 100);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_FAILURE);
	/* A success clears the failure: the next failure after it counts again. */
	t1 += PATH_PUNCH_GIVEUP_MS + 1000;
	path_intro(&p, 3, &obs, NULL, 0, t1);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	assert_true(path_rx(&p, &got, false, t1 + 5));
	assert_int_equal(outlog_step(&t, &p), OUTLOG_SUCCESS);
	t1 += 100000;
	assert_true(path_tick(&p, t1));
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	punch_until(&p, t1, t1 + PATH_PUNCH_GIVEUP_MS + 100);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_FAILURE);
	/* A give-up the next introduction overtakes before anyone looks (both at 30 s, the
	 * second registration round): the failure is still seen, once, and the round the
	 * introduction started is a repeat of it. */
	t1 += PATH_PUNCH_GIVEUP_MS + 1000;
	path_net_change(&p, t1);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	punch_until(&p, t1, t1 + PATH_PUNCH_GIVEUP_MS + 100);
	assert_false(p.punching);
	path_intro(&p, 3, &obs, NULL, 0, t1 + PATH_PUNCH_GIVEUP_MS + 107);
	assert_true(p.punching);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_FAILURE);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	punch_until(&p, t1 + PATH_PUNCH_GIVEUP_MS + 107, t1 + 2 * PATH_PUNCH_GIVEUP_MS + 300);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_REPEAT);
}

static void test_step_cut_short(void **state)
{
	struct path p, fixed;
	struct outlog_track t = {0}, tf = {0};
	struct nc_addr obs = ep("198.51.100.7:40000"), st = ep("192.0.2.1:51900");
	(void)state;

	path_init(&p, NULL);
	path_intro(&p, 3, &obs, NULL, 0, 1000);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	/* A network change 2 s in: the first round ends without an outcome, the new one counts
	 * from the change. */
	path_net_change(&p, 3000);
	assert_int_equal(outlog_step(&t, &p), OUTLOG_NONE);
	assert_true(path_rx(&p, &obs, false, 3250));
	assert_int_equal(outlog_step(&t, &p), OUTLOG_SUCCESS);
	assert_int_equal(path_intro_to_direct_ms(&p), 250);
	/* A static endpoint never punches: no attempt. */
	path_init(&fixed, &st);
	path_intro(&fixed, 3, &obs, NULL, 0, 1000);
	path_rx(&fixed, &obs, false, 1100);
	assert_int_equal(outlog_step(&tf, &fixed), OUTLOG_NONE);
}

static void test_methods(void **state)
{
	static const char *const words[STRAT_METHOD_COUNT] = {
	    "same-lan",	       "public-address", "port-mapping",	  "udp-punch",
	    "port-prediction", "birthday",	 "tcp-simultaneous-open", "relay"};
	(void)state;

	for (int m = 0; m < STRAT_METHOD_COUNT; m++)
		assert_string_equal(nc_punch_method_name(outlog_method((enum strat_method)m)),
				    words[m]);
}

static struct coord_profile prof(uint8_t mapping, uint8_t filtering, uint8_t alloc)
{
	struct coord_profile c;

	memset(&c, 0, sizeof(c));
	c.measured = true;
	c.mapping = mapping;
	c.filtering = filtering;
	c.allocation = alloc;
	c.udp_blocked = NC_TRI_NO;
	c.lifetime_s = 30;
	return c;
}

static void test_build_reads_back(void **state)
{
	struct coord_profile mine = prof(NC_BEH_EI, NC_BEH_APD, NC_ALLOC_PRESERVING);
	struct coord_profile peer = prof(NC_BEH_APD, NC_BEH_APD, NC_ALLOC_RANDOM);
	struct nc_punch_outcome o, back;
	char err[256], *json;
	time_t when = 1796558806; /* 2026-12-06T12:06:46Z */
	(void)state;

	/* The peer advertises a gateway mapping: its endpoint must not reach the document. */
	peer.portmap = COORD_PM_PCP;
	assert_int_equal(nc_addr_parse("203.0.113.77:41641", 0, &peer.portmap_ep), 0);
	outlog_build(&mine, &peer, STRAT_BIRTHDAY, true, 812, when, &o);
	json = nc_punch_outcome_to_json(&o, false);
	assert_non_null(json);
	assert_int_equal(nc_punch_outcome_from_json(json, strlen(json), &back, err, sizeof(err)),
			 0);
	assert_string_equal(back.tool_name, "punchvpn");
	assert_string_equal(back.tool_version, NC_VERSION);
	assert_string_equal(back.started, "2026-12-06T00:00:00Z"); /* the day only */
	assert_int_equal(back.local.mapping, NC_BEH_EI);
	assert_int_equal(back.local.filtering, NC_BEH_APD);
	assert_int_equal(back.local.allocation, NC_ALLOC_PRESERVING);
	assert_int_equal(back.local.udp_blocked, NC_TRI_NO);
	assert_int_equal(back.local.port_mapping, NC_TRI_UNKNOWN);
	assert_int_equal(back.peer.mapping, NC_BEH_APD);
	assert_int_equal(back.peer.allocation, NC_ALLOC_RANDOM);
	assert_int_equal(back.peer.port_mapping, NC_TRI_YES);
	assert_int_equal(back.method, NC_METHOD_BIRTHDAY);
	assert_true(back.success);
	assert_int_equal(back.first_packet_ms, 812);
	/* No address, port or time of day. */
	assert_null(strstr(json, "203.0.113"));
	assert_null(strstr(json, "41641"));
	assert_null(strstr(json, "12:06"));
	free(json);

	/* A failure has no time, whatever was passed; an unmeasured side is all unknown; a
	 * profile value off the wire that is out of range reads as unknown, never invalid. */
	peer.mapping = 77;
	outlog_build(NULL, &peer, STRAT_PUNCH, false, 30000, when, &o);
	json = nc_punch_outcome_to_json(&o, true);
	assert_non_null(json);
	assert_int_equal(nc_punch_outcome_from_json(json, strlen(json), &back, err, sizeof(err)),
			 0);
	assert_false(back.success);
	assert_int_equal(back.first_packet_ms, -1);
	assert_int_equal(back.method, NC_METHOD_UDP_PUNCH);
	assert_int_equal(back.local.mapping, NC_BEH_UNKNOWN);
	assert_int_equal(back.local.udp_blocked, NC_TRI_UNKNOWN);
	assert_int_equal(back.peer.mapping, NC_BEH_UNKNOWN);
	assert_int_equal(back.peer.filtering, NC_BEH_APD);
	free(json);
	/* A success whose time is not known is written without one. */
	outlog_build(&mine, NULL, STRAT_LAN, true, -1, when, &o);
	assert_int_equal(o.first_packet_ms, -1);
	json = nc_punch_outcome_to_json(&o, false);
	assert_non_null(json);
	assert_int_equal(nc_punch_outcome_from_json(json, strlen(json), &back, err, sizeof(err)),
			 0);
	assert_int_equal(back.method, NC_METHOD_SAME_LAN);
	free(json);
}

static void test_write(void **state)
{
	char dir[] = "/tmp/test_vpn_outlog.XXXXXX", sub[64], name[512], err[256], file[128];
	struct coord_profile mine = prof(NC_BEH_EI, NC_BEH_EI, NC_ALLOC_PRESERVING);
	struct nc_punch_outcome o, back;
	struct outlog *ol;
	struct dirent *e;
	struct stat st;
	unsigned docs = 0, other = 0;
	DIR *dh;
	(void)state;

	assert_non_null(mkdtemp(dir));
	/* A missing directory is made; a path under a file is refused with the path named. */
	snprintf(sub, sizeof(sub), "%s/out", dir);
	assert_int_equal(outlog_open(&ol, sub, 2, err, sizeof(err)), 0);
	assert_non_null(outlog_track(ol, 1));
	assert_null(outlog_track(ol, 2));
	outlog_build(&mine, &mine, STRAT_PUNCH, true, 14, time(NULL), &o);
	umask(077); /* the mode is 0644 whatever the umask */
	for (int i = 0; i < 3; i++)
		assert_int_equal(outlog_write(ol, &o, name, sizeof(name)), 0);
	umask(022);
	assert_int_equal(strncmp(name, sub, strlen(sub)), 0);
	assert_int_equal(stat(name, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	outlog_close(ol);
	assert_non_null(dh = opendir(sub));
	while ((e = readdir(dh))) {
		FILE *f;
		char buf[OUTLOG_MAX_DOC];
		size_t n;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strncmp(e->d_name, OUTLOG_PREFIX, strlen(OUTLOG_PREFIX)) ||
		    strlen(e->d_name) != strlen(OUTLOG_PREFIX "20261206-") + 32 + 5) {
			other++; /* a temporary or probe file left behind */
			continue;
		}
		docs++;
		snprintf(file, sizeof(file), "%s/%s", sub, e->d_name);
		assert_non_null(f = fopen(file, "r"));
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		assert_int_equal(nc_punch_outcome_from_json(buf, n, &back, err, sizeof(err)), 0);
		assert_int_equal(back.first_packet_ms, 14);
		unlink(file);
	}
	closedir(dh);
	assert_int_equal(docs, 3);
	assert_int_equal(other, 0);
	rmdir(sub);
	/* Refusals: a file where the directory should be, a missing parent. */
	snprintf(sub, sizeof(sub), "%s/file", dir);
	fclose(fopen(sub, "w"));
	assert_true(outlog_open(&ol, sub, 1, err, sizeof(err)) < 0);
	assert_null(ol);
	assert_non_null(strstr(err, sub));
	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/no/such", dir);
	assert_true(outlog_open(&ol, sub, 1, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot make"));
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_step_success),     cmocka_unit_test(test_step_failure),
	    cmocka_unit_test(test_step_cut_short),   cmocka_unit_test(test_methods),
	    cmocka_unit_test(test_build_reads_back), cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
