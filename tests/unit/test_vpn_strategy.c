/* The strategy table: every unordered pair of the 12 lab classes of issue 11 §5 (78 pairs)
 * gets its expected first direct method or the relay, both sides agree on the plan, every
 * method left out says why, the same-LAN and not-yet-measured cases, and the keepalive rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/result.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "strategy.h"

/* The lab classes as natcheck's fast measurement sees them (sim/profiles/<name>.profile). */
enum cls {
	C_OPEN,   /* open-internet: no NAT, no filter */
	C_FULL,   /* full-cone: EIM + EIF */
	C_REST,   /* restricted-cone: EIM + ADF */
	C_PORT,   /* port-restricted: EIM + APDF, ports preserved */
	C_NOPRES, /* port-restricted-no-preservation: EIM + APDF, random ports */
	C_ADM,    /* address-dependent-mapping: ADM + APDF, random ports */
	C_SEQ,    /* symmetric-sequential: APDM, +1 */
	C_RAND,   /* symmetric-random: APDM, random */
	C_UPNP,   /* upnp-gateway: EIM + APDF behind miniupnpd (NAT-PMP, PCP, UPnP) */
	C_CGNAT,  /* cgnat: EIM + APDF through two layers */
	C_SHORT,  /* short-lifetime: EIM + APDF, 5 s bindings */
	C_BLOCK,  /* udp-blocked */
	C_COUNT
};

static const char *const cls_name[C_COUNT] = {
	"open-internet", "full-cone", "restricted-cone", "port-restricted",
	"port-restricted-no-preservation", "address-dependent-mapping", "symmetric-sequential",
	"symmetric-random", "upnp-gateway", "cgnat", "short-lifetime", "udp-blocked",
};

static struct coord_profile prof(enum cls c)
{
	struct coord_profile p = {.measured = true, .udp_blocked = NC_TRI_NO,
				  .mapping = NC_BEH_EI, .filtering = NC_BEH_APD,
				  .allocation = NC_ALLOC_PRESERVING, .hairpin = NC_TRI_UNKNOWN};

	switch (c) {
	case C_OPEN: p.mapping = NC_BEH_NONE; p.filtering = NC_BEH_NONE; break;
	case C_FULL: p.filtering = NC_BEH_EI; break;
	case C_REST: p.filtering = NC_BEH_AD; break;
	case C_PORT: break;
	case C_NOPRES: p.allocation = NC_ALLOC_RANDOM; break;
	case C_ADM: p.mapping = NC_BEH_AD; p.allocation = NC_ALLOC_RANDOM; break;
	case C_SEQ:
		p.mapping = NC_BEH_APD;
		p.allocation = NC_ALLOC_SEQUENTIAL;
		p.port_step = 1;
		break;
	case C_RAND: p.mapping = NC_BEH_APD; p.allocation = NC_ALLOC_RANDOM; break;
	case C_UPNP:
		p.portmap = COORD_PM_NATPMP;
		p.portmap_ep.family = AF_INET;
		inet_pton(AF_INET, "2.1.1.1", p.portmap_ep.ip);
		break;
	case C_CGNAT: break;
	case C_SHORT: p.lifetime_s = 5; break;
	case C_BLOCK:
		p.udp_blocked = NC_TRI_YES;
		p.mapping = p.filtering = p.allocation = 0;
		break;
	default: break;
	}
	return p;
}

/* Expected first direct method, upper triangle, by the rules of issue 11 "Done when":
 * o public, m port mapping, p punch (incl. peer-reflexive), d prediction, b birthday,
 * t TCP simultaneous open, r relay only. */
static const char *const expect[C_COUNT] = {
	/*        O F R P N A S X U C L B */
	/* O */  "o o o o o o o o o o o t",
	/* F */  "  p p p p p p p m p p t",
	/* R */  "    p p p p p p m p p t",
	/* P */  "      p p b d b m p p t",
	/* N */  "        p b d b m p p t",
	/* A */  "          r r r m b b r",
	/* S */  "            r r m d d r",
	/* X */  "              r m b b r",
	/* U */  "                m m m t",
	/* C */  "                  p p t",
	/* L */  "                    p t",
	/* B */  "                      t",
};

static enum strat_method letter(char c)
{
	switch (c) {
	case 'o': return STRAT_PUBLIC;
	case 'm': return STRAT_PORTMAP;
	case 'p': return STRAT_PUNCH;
	case 'd': return STRAT_PREDICT;
	case 'b': return STRAT_BIRTHDAY;
	case 't': return STRAT_TCP;
	case 'r': return STRAT_RELAY;
	default: fail_msg("bad letter %c", c); return STRAT_RELAY;
	}
}

static struct strat_side side(const struct coord_profile *p, const char *ip)
{
	struct strat_side s = {.prof = p, .n_local = 1};

	s.observed.family = AF_INET;
	s.observed.port = 40000;
	inet_pton(AF_INET, ip, s.observed.ip);
	return s;
}

static enum strat_at flip(enum strat_at a)
{
	return a == STRAT_AT_ME ? STRAT_AT_PEER : a == STRAT_AT_PEER ? STRAT_AT_ME : a;
}

/* The plan's invariants: relay last and only there, methods in table order, each method
 * either in the plan or skipped with a reason, and the peer's plan the mirror image. */
static void check_plan(const struct strat_plan *a, const struct strat_plan *b, const char *what)
{
	bool in[STRAT_METHOD_COUNT] = {0};

	assert_true(a->n >= 1);
	if (a->step[a->n - 1].method != STRAT_RELAY)
		fail_msg("%s: relay is not last", what);
	for (size_t i = 0; i < a->n; i++) {
		assert_non_null(a->step[i].why);
		assert_true(strlen(a->step[i].why) > 20);
		if (i > 0)
			assert_true(a->step[i].method > a->step[i - 1].method);
		in[a->step[i].method] = true;
		assert_int_equal(a->step[i].at == STRAT_AT_NONE, a->step[i].method == STRAT_RELAY);
	}
	for (int m = 0; m < STRAT_METHOD_COUNT; m++) {
		if (in[m])
			assert_null(a->skipped[m]);
		else if (!a->skipped[m] || strlen(a->skipped[m]) < 20)
			fail_msg("%s: %s left out without a reason", what,
				 strategy_method_name((enum strat_method)m));
	}
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->step[i].method, b->step[i].method);
		assert_int_equal(a->step[i].at, flip(b->step[i].at));
		assert_string_equal(a->step[i].why, b->step[i].why);
	}
}

static void test_pair_matrix(void **state)
{
	unsigned pairs = 0, relay = 0, failures = 0;
	(void)state;

	for (int i = 0; i < C_COUNT; i++) {
		for (int j = i; j < C_COUNT; j++) {
			struct coord_profile pi = prof((enum cls)i), pj = prof((enum cls)j);
			struct strat_side si = side(&pi, "198.51.100.1"), sj = side(&pj, "203.0.113.9");
			struct strat_plan a, b;
			enum strat_method want = letter(expect[i][2 * j]);
			enum strat_method got;
			char what[96];

			snprintf(what, sizeof(what), "%s x %s", cls_name[i], cls_name[j]);
			strategy_plan(&si, &sj, &a);
			strategy_plan(&sj, &si, &b);
			check_plan(&a, &b, what);
			check_plan(&b, &a, what);
			got = strategy_first_direct(&a);
			if (got != want) {
				print_message("%s: expected %s, got %s\n", what,
					      strategy_method_name(want), strategy_method_name(got));
				failures++;
			}
			relay += got == STRAT_RELAY;
			pairs++;
		}
	}
	assert_int_equal(pairs, 78);
	assert_int_equal(failures, 0);
	/* Relay only: the endpoint-dependent pairs (ADM, sequential, random among themselves)
	 * and UDP-blocked against an endpoint-dependent side (no punchable TCP). */
	assert_int_equal(relay, 6 + 3);
}

/* The roles the hard methods hand out: who opens many sockets, who is guessed at. */
static void test_roles(void **state)
{
	struct coord_profile port = prof(C_PORT), rnd = prof(C_RAND), seq = prof(C_SEQ);
	struct coord_profile upnp = prof(C_UPNP), full = prof(C_FULL);
	struct strat_side sp = side(&port, "198.51.100.1"), sr = side(&rnd, "203.0.113.9");
	struct strat_side ss = side(&seq, "203.0.113.10"), su = side(&upnp, "2.1.1.1");
	struct strat_side sf = side(&full, "198.51.100.7");
	struct strat_plan p;
	(void)state;

	strategy_plan(&sr, &sp, &p); /* I am the random side: I open the sockets */
	assert_int_equal(p.step[0].method, STRAT_BIRTHDAY);
	assert_int_equal(p.step[0].at, STRAT_AT_ME);
	assert_non_null(strstr(p.skipped[STRAT_PUNCH], "endpoint-dependently"));
	assert_non_null(strstr(p.skipped[STRAT_PREDICT], "sequentially"));

	strategy_plan(&sp, &ss, &p); /* the peer is sequential: I guess its ports */
	assert_int_equal(p.step[0].method, STRAT_PREDICT);
	assert_int_equal(p.step[0].at, STRAT_AT_PEER);

	strategy_plan(&sr, &su, &p); /* the peer's gateway maps: I send to its mapping */
	assert_int_equal(p.step[0].method, STRAT_PORTMAP);
	assert_int_equal(p.step[0].at, STRAT_AT_PEER);
	/* The gateway side's endpoint stands still: birthday stays as a second chance. */
	assert_int_equal(p.step[1].method, STRAT_BIRTHDAY);
	assert_int_equal(p.step[1].at, STRAT_AT_ME);

	strategy_plan(&sf, &sr, &p); /* full cone vs random: peer-reflexive, no spraying */
	assert_int_equal(p.step[0].method, STRAT_PUNCH);
	assert_int_equal(p.step[0].at, STRAT_AT_ME);
	assert_int_equal(p.n, 2);
	assert_non_null(strstr(p.skipped[STRAT_BIRTHDAY], "plain punch"));

	sf = side(&port, "203.0.113.77"); /* another port-restricted host */
	strategy_plan(&sp, &sf, &p);
	assert_int_equal(p.step[0].method, STRAT_PUNCH);
	assert_int_equal(p.step[0].at, STRAT_AT_BOTH);
}

/* Both hosts behind one router (hairpin off): the local addresses come first. */
static void test_same_lan(void **state)
{
	struct coord_profile a = prof(C_PORT), b = prof(C_PORT);
	struct strat_side sa = side(&a, "198.51.100.1"), sb = side(&b, "198.51.100.1");
	struct strat_plan p;
	(void)state;

	sb.observed.port = 40001;
	strategy_plan(&sa, &sb, &p);
	assert_int_equal(p.step[0].method, STRAT_LAN);
	assert_int_equal(p.step[0].at, STRAT_AT_BOTH);
	sb.n_local = 0; /* only I advertise local addresses: the peer aims at mine */
	strategy_plan(&sa, &sb, &p);
	assert_int_equal(p.step[0].method, STRAT_LAN);
	assert_int_equal(p.step[0].at, STRAT_AT_ME);
	/* Two public addresses: no LAN attempt, and the reason says so. */
	sb = side(&b, "203.0.113.9");
	strategy_plan(&sa, &sb, &p);
	assert_int_equal(p.step[0].method, STRAT_PUNCH);
	assert_non_null(strstr(p.skipped[STRAT_LAN], "public address"));
	/* Both symmetric random behind one router: the LAN saves a relayed pair. */
	a = prof(C_RAND);
	b = prof(C_RAND);
	sb = side(&b, "198.51.100.1");
	strategy_plan(&sa, &sb, &p);
	assert_int_equal(strategy_first_direct(&p), STRAT_LAN);
	assert_int_equal(p.n, 2);
}

/* Before the first measurement (or when it failed) the cheap punch is tried; a side that
 * measured UDP blocked gets TCP; TCP measured on both sides adds a TCP try. */
static void test_unmeasured_and_tcp(void **state)
{
	struct coord_profile none = {0}, port = prof(C_PORT), blk = prof(C_BLOCK);
	struct coord_profile rnd = prof(C_RAND);
	struct strat_side su = side(NULL, "198.51.100.1"), sp = side(&port, "203.0.113.9");
	struct strat_side sn = side(&none, "198.51.100.1"), sb = side(&blk, "198.51.100.2");
	struct strat_side sr = side(&rnd, "203.0.113.5"), sr2 = side(&rnd, "203.0.113.6");
	struct strat_plan p;
	(void)state;

	strategy_plan(&su, &sp, &p);
	assert_int_equal(strategy_first_direct(&p), STRAT_PUNCH);
	assert_non_null(strstr(p.step[0].why, "not measured"));
	strategy_plan(&sp, &sn, &p);
	assert_int_equal(strategy_first_direct(&p), STRAT_PUNCH);

	strategy_plan(&sb, &sp, &p);
	assert_int_equal(p.step[0].method, STRAT_TCP);
	assert_non_null(strstr(p.skipped[STRAT_PUNCH], "UDP is blocked"));
	/* TCP measured unpunchable on the blocked side: only the relay is left. */
	blk.tcp_punchable = NC_TRI_NO;
	strategy_plan(&sb, &sp, &p);
	assert_int_equal(strategy_first_direct(&p), STRAT_RELAY);
	assert_non_null(strstr(p.skipped[STRAT_TCP], "TCP"));

	/* Random x random: relay, unless natcheck measured TCP punching on both sides. */
	strategy_plan(&sr, &sr2, &p);
	assert_int_equal(strategy_first_direct(&p), STRAT_RELAY);
	assert_non_null(strstr(p.skipped[STRAT_BIRTHDAY], "170 000"));
	rnd.tcp_punchable = NC_TRI_YES;
	strategy_plan(&sr, &sr2, &p);
	assert_int_equal(strategy_first_direct(&p), STRAT_TCP);
	/* A port mapping whose endpoint is unset is not one. */
	port.portmap = COORD_PM_PCP;
	strategy_plan(&sp, &sr, &p);
	assert_int_equal(strategy_first_direct(&p), STRAT_BIRTHDAY);
}

static void test_keepalive(void **state)
{
	struct coord_profile a = prof(C_SHORT), b = prof(C_PORT);
	struct strat_keepalive k;
	char s[160];
	(void)state;

	/* No lifetime measured: 10 s, what a 25 s lifetime gives (a 30 s timeout survives one
	 * lost keepalive). */
	assert_int_equal(strategy_keepalive_ms(NULL, NULL), 10000);
	assert_int_equal(strategy_keepalive_ms(&b, &b), 10000);      /* not measured */
	strategy_keepalive(&b, NULL, false, &k);
	assert_int_equal(k.from, STRAT_AT_NONE);
	assert_int_equal(k.lifetime_s, 0);
	assert_int_equal(strategy_keepalive_ms(&a, NULL), 2000);     /* 5 s / 2.5 */
	assert_int_equal(strategy_keepalive_ms(&b, &a), 2000);       /* the shorter side's */
	strategy_keepalive(&b, &a, false, &k);
	assert_int_equal(k.ms, 2000);
	assert_int_equal(k.lifetime_s, 5);
	assert_int_equal(k.from, STRAT_AT_PEER);
	strategy_keepalive(&a, &b, false, &k);
	assert_int_equal(k.from, STRAT_AT_ME);
	strategy_keepalive(&a, &a, false, &k);
	assert_int_equal(k.from, STRAT_AT_BOTH);
	b.lifetime_s = 30;
	assert_int_equal(strategy_keepalive_ms(&b, NULL), 12000);
	assert_int_equal(strategy_keepalive_ms(&a, &b), 2000);
	strategy_keepalive(&a, &b, false, &k);
	assert_int_equal(k.from, STRAT_AT_ME);
	assert_int_equal(k.lifetime_s, 5);
	b.lifetime_s = 180;
	assert_int_equal(strategy_keepalive_ms(&b, NULL), 25000);    /* capped */
	b.lifetime_s = 2;
	assert_int_equal(strategy_keepalive_ms(&b, NULL), 1000);     /* floor */
	b.lifetime_s = 65535;
	assert_int_equal(strategy_keepalive_ms(&b, NULL), 25000);
	b.measured = false; /* a lifetime in an unmeasured profile is not trusted */
	assert_int_equal(strategy_keepalive_ms(&b, NULL), 10000);
	strategy_keepalive(&b, &a, false, &k);
	assert_int_equal(k.from, STRAT_AT_PEER);
	strategy_keepalive_text(&k, s, sizeof(s));
	assert_string_equal(s, "2000 ms from measured lifetime 5 s (peer)");
	/* While this side measures its own lifetime it sends every 2 s; the agreed interval (the
	 * peer's pace) stays. */
	strategy_keepalive(&b, NULL, true, &k);
	assert_int_equal(k.ms, 10000);
	assert_int_equal(k.send_ms, 2000);
	assert_true(k.measuring);
	strategy_keepalive_text(&k, s, sizeof(s));
	assert_string_equal(s, "10000 ms default, lifetime not measured; sending every 2000 ms "
			       "while this side's lifetime is measured");
	strategy_keepalive(&b, &a, true, &k); /* already 2 s: nothing faster */
	assert_int_equal(k.send_ms, 2000);
	assert_false(k.measuring);
	a.lifetime_s = 2;
	strategy_keepalive(&a, &a, true, &k);
	assert_int_equal(k.send_ms, 1000);
	strategy_keepalive_text(&k, s, sizeof(s));
	assert_string_equal(s, "1000 ms from measured lifetime 2 s (both sides)");
	strategy_keepalive_text(&k, s, 8); /* truncated, terminated */
	assert_string_equal(s, "1000 ms");
}

static void test_json(void **state)
{
	struct coord_profile port = prof(C_PORT), rnd = prof(C_RAND);
	struct strat_side sp = side(&port, "198.51.100.1"), sr = side(&rnd, "203.0.113.9");
	struct strat_plan p;
	json_t *j, *order;
	(void)state;

	strategy_plan(&sp, &sr, &p);
	j = strategy_plan_json(&p);
	assert_non_null(j);
	order = json_object_get(j, "order");
	assert_int_equal(json_array_size(order), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(order, 0), "method")),
			    "birthday");
	assert_string_equal(json_string_value(json_object_get(json_array_get(order, 0), "at")),
			    "peer");
	assert_string_equal(json_string_value(json_object_get(json_array_get(order, 1), "method")),
			    "relay");
	assert_int_equal(json_object_size(json_object_get(j, "skipped")), STRAT_METHOD_COUNT - 2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "skipped"), "punch")),
			    p.skipped[STRAT_PUNCH]);
	json_decref(j);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(strategy_method_name(STRAT_BIRTHDAY), "birthday");
	assert_string_equal(strategy_method_name(STRAT_PORTMAP), "port-mapping");
	assert_string_equal(strategy_method_name((enum strat_method)99), "unknown");
	assert_string_equal(strategy_at_name(STRAT_AT_ME), "me");
	assert_string_equal(strategy_at_name((enum strat_at)9), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair_matrix),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_same_lan),
		cmocka_unit_test(test_unmeasured_and_tcp),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
