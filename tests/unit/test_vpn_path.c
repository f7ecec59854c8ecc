/* The per-peer path state machine (vpn/lib/path.c) on a fake clock: static endpoints, the relay
 * from the introduction, candidates, punch rounds and their back-off, proof by an authenticated
 * direct packet, peer-reflexive learning, fallback to the relay on silence and on a network
 * change. Also the wire decoder's recognition of the coordination and relay types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <natcheck/result.h>
#include <string.h>

#include "path.h"
#include "wire.h"

static struct nc_addr ep(const char *s)
{
	struct nc_addr a;

	assert_int_equal(nc_addr_parse(s, 0, &a), 0);
	return a;
}

static void test_static(void **state)
{
	struct path p;
	struct nc_addr a = ep("192.0.2.1:51900"), b = ep("192.0.2.9:4000"), got;
	struct nc_addr locals[1] = {ep("10.0.0.2:51900")};
	uint32_t id = 0;
	(void)state;

	path_init(&p, &a);
	assert_int_equal(path_route(&p, &got, &id), PATH_DIRECT);
	assert_true(nc_addr_eq(&got, &a));
	assert_int_equal(p.why, PATH_WHY_STATIC);
	/* An introduction never re-routes a static peer. */
	path_intro(&p, 7, &b, locals, 1, 1000);
	assert_false(p.relay);
	assert_int_equal(p.n_cand, 0);
	/* Roaming on an authenticated packet, as before the rendezvous existed. */
	assert_false(path_rx(&p, &b, false, 2000));
	path_route(&p, &got, &id);
	assert_true(nc_addr_eq(&got, &b));
	/* Silence and network changes leave it alone. */
	assert_false(path_tick(&p, 1000000));
	path_net_change(&p, 1000000);
	assert_int_equal(p.kind, PATH_DIRECT);
	assert_int_equal(path_punch_due(&p, 1000000, &got, 1), 0);
}

static void test_no_intro(void **state)
{
	struct path p;
	struct nc_addr a = ep("198.51.100.7:3333"), got;
	uint32_t id;
	(void)state;

	path_init(&p, NULL);
	assert_int_equal(path_route(&p, &got, &id), PATH_NONE);
	assert_int_equal(p.why, PATH_WHY_NO_INTRO);
	/* A relayed packet proves nothing about a direct path. */
	assert_false(path_rx(&p, &a, true, 10));
	assert_int_equal(p.kind, PATH_NONE);
	/* The peer reached us directly (it knows our endpoint): we answer there. */
	assert_true(path_rx(&p, &a, false, 20));
	assert_int_equal(path_route(&p, &got, &id), PATH_DIRECT);
	assert_true(nc_addr_eq(&got, &a));
	assert_int_equal(p.why, PATH_WHY_LEARNED);
	assert_int_equal(path_intro_to_direct_ms(&p), -1);
	/* Without a relay a silent direct path stays the route (nothing better) and is
	 * re-punched. */
	assert_true(path_tick(&p, 20 + PATH_SILENCE_MS + 1));
	assert_int_equal(p.kind, PATH_DIRECT);
	assert_int_equal(p.why, PATH_WHY_SILENT);
	assert_true(p.punching);
	assert_false(path_tick(&p, 20 + PATH_SILENCE_MS + 200));
	assert_int_equal(path_punch_due(&p, 20 + PATH_SILENCE_MS + 1, &got, 1), 1);
	assert_true(nc_addr_eq(&got, &a));
	/* It comes back: the reason says so. */
	assert_false(path_rx(&p, &a, false, 20 + PATH_SILENCE_MS + 300));
	assert_false(p.punching);
	assert_int_equal(p.why, PATH_WHY_LEARNED);
}

static void intro(struct path *p, uint64_t now)
{
	struct nc_addr obs = ep("203.0.113.5:40000");
	struct nc_addr locals[5] = {ep("10.1.0.2:51900"), ep("203.0.113.5:40000"), {0},
				    ep("10.1.0.3:9"), ep("[2001:db8::2]:51900")};

	locals[3].port = 0; /* no port: no candidate */

	path_intro(p, 42, &obs, locals, 5, now);
}

static void test_intro_and_punch_schedule(void **state)
{
	struct path p;
	struct nc_addr c[PATH_MAX_CANDS + 1], got;
	uint32_t id = 0;
	uint64_t t = 5000;
	unsigned rounds = 0;
	(void)state;

	path_init(&p, NULL);
	intro(&p, t);
	/* The relay carries traffic from the introduction on. */
	assert_int_equal(path_route(&p, &got, &id), PATH_RELAY);
	assert_int_equal(id, 42);
	assert_int_equal(p.why, PATH_WHY_PUNCHING);
	/* Candidates: observed first, locals after; duplicates, unset and port 0 dropped; IPv6
	 * kept. */
	assert_int_equal(p.n_cand, 3);
	assert_true(nc_addr_eq(&p.cand[0], &(struct nc_addr){0}) == false);
	got = ep("203.0.113.5:40000");
	assert_true(nc_addr_eq(&p.cand[0], &got));
	got = ep("10.1.0.2:51900");
	assert_true(nc_addr_eq(&p.cand[1], &got));
	got = ep("[2001:db8::2]:51900");
	assert_true(nc_addr_eq(&p.cand[2], &got));
	/* A round at once, then every PATH_PUNCH_FAST_MS for the first second. */
	assert_int_equal(path_punch_due(&p, t, c, PATH_MAX_CANDS + 1), 3);
	assert_int_equal(path_punch_due(&p, t + 1, c, PATH_MAX_CANDS + 1), 0);
	assert_int_equal(path_punch_due(&p, t + PATH_PUNCH_FAST_MS - 1, c, PATH_MAX_CANDS + 1), 0);
	for (uint64_t now = t + 1; now < t + PATH_PUNCH_FAST_FOR_MS; now++)
		rounds += path_punch_due(&p, now, c, PATH_MAX_CANDS + 1) > 0;
	assert_int_equal(rounds, PATH_PUNCH_FAST_FOR_MS / PATH_PUNCH_FAST_MS - 1);
	/* Then backing off: fewer rounds per second, never further apart than the maximum. */
	rounds = 0;
	uint64_t last = 0, max_gap = 0;
	for (uint64_t now = t + PATH_PUNCH_FAST_FOR_MS; now < t + PATH_PUNCH_GIVEUP_MS; now++)
		if (path_punch_due(&p, now, c, PATH_MAX_CANDS + 1)) {
			if (last && now - last > max_gap)
				max_gap = now - last;
			last = now;
			rounds++;
		}
	assert_true(rounds > 5 && rounds < 40);
	assert_true(max_gap <= PATH_PUNCH_MAX_MS);
	assert_true(max_gap > PATH_PUNCH_FAST_MS);
	/* Bounded: it gives up, the relay stays, and says why. */
	assert_int_equal(path_punch_due(&p, t + PATH_PUNCH_GIVEUP_MS, c, PATH_MAX_CANDS + 1), 0);
	assert_false(p.punching);
	assert_int_equal(p.why, PATH_WHY_NO_DIRECT);
	assert_int_equal(path_route(&p, &got, &id), PATH_RELAY);
	/* A later introduction starts a new round. */
	intro(&p, t + 60000);
	assert_true(p.punching);
	assert_int_equal(p.why, PATH_WHY_PUNCHING);
}

static void test_proof(void **state)
{
	struct path p;
	struct nc_addr got, cand = ep("10.1.0.2:51900");
	uint32_t id;
	(void)state;

	path_init(&p, NULL);
	intro(&p, 1000);
	/* Relayed traffic keeps it on the relay. */
	assert_false(path_rx(&p, &cand, true, 1010));
	assert_int_equal(p.kind, PATH_RELAY);
	/* A repeated introduction (once a second) does not restart the round or its clock. */
	intro(&p, 1100);
	assert_int_equal(p.intro_ms, 1000);
	/* The first authenticated direct packet proves its source. */
	assert_true(path_rx(&p, &cand, false, 1137));
	assert_int_equal(path_route(&p, &got, &id), PATH_DIRECT);
	assert_true(nc_addr_eq(&got, &cand));
	assert_int_equal(p.why, PATH_WHY_PROVEN);
	assert_int_equal(path_intro_to_direct_ms(&p), 137);
	assert_false(p.punching);
	assert_int_equal(p.switches, 1);
	/* More of them are no news. */
	assert_false(path_rx(&p, &cand, false, 1200));
	/* An introduction while the direct path lives changes nothing but the relay id. */
	struct nc_addr obs = ep("203.0.113.5:40001");
	path_intro(&p, 43, &obs, NULL, 0, 2000);
	assert_int_equal(p.kind, PATH_DIRECT);
	assert_false(p.punching);
	assert_int_equal(p.relay_id, 43);
}

static void test_peer_reflexive(void **state)
{
	struct path p;
	/* A symmetric peer: its mapping toward us is none of the introduced candidates. */
	struct nc_addr refl = ep("203.0.113.5:61234"), got;
	uint32_t id;
	(void)state;

	path_init(&p, NULL);
	intro(&p, 0);
	assert_true(path_rx(&p, &refl, false, 80));
	assert_int_equal(path_route(&p, &got, &id), PATH_DIRECT);
	assert_true(nc_addr_eq(&got, &refl));
	assert_int_equal(p.why, PATH_WHY_REFLEXIVE);
	/* Roaming later, on authenticated packets only (the caller's promise). */
	got = ep("203.0.113.5:61235");
	assert_false(path_rx(&p, &got, false, 90));
	assert_true(nc_addr_eq(&p.ep, &got));
}

static void test_silence_falls_back(void **state)
{
	struct path p;
	struct nc_addr cand = ep("203.0.113.5:40000"), c[PATH_MAX_CANDS + 1], got;
	uint32_t id;
	uint64_t t = 10000;
	(void)state;

	path_init(&p, NULL);
	intro(&p, t);
	assert_true(path_rx(&p, &cand, false, t + 50));
	/* Quiet but inside the limit: still direct. */
	assert_false(path_tick(&p, t + 50 + PATH_SILENCE_MS));
	assert_int_equal(p.kind, PATH_DIRECT);
	/* Past it: back to the relay, and punching again at once. */
	assert_true(path_tick(&p, t + 51 + PATH_SILENCE_MS));
	assert_int_equal(path_route(&p, &got, &id), PATH_RELAY);
	assert_int_equal(id, 42);
	assert_int_equal(p.why, PATH_WHY_SILENT);
	assert_int_equal(p.switches, 2);
	assert_true(p.punching);
	assert_true(path_punch_due(&p, t + 51 + PATH_SILENCE_MS, c, PATH_MAX_CANDS + 1) >= 1);
	/* Only once. */
	assert_false(path_tick(&p, t + 100 + PATH_SILENCE_MS));
	/* A direct packet again: direct, and the time since the re-punch began. */
	assert_true(path_rx(&p, &cand, false, t + 151 + PATH_SILENCE_MS));
	assert_int_equal(p.kind, PATH_DIRECT);
	assert_int_equal(path_intro_to_direct_ms(&p), 100);
}

/* The keepalive interval the device sets (from both sides' measured lifetimes): the silence
 * limit follows the peer's interval, 2 x interval + 1 s, and a limit that shrinks holds its old
 * value for one old limit (the peer may keep its old pace until it hears of the change). */
static void test_keepalive_interval(void **state)
{
	struct path p;
	struct nc_addr cand = ep("203.0.113.5:40000"), got;
	uint32_t id;
	uint64_t t = 10000;
	(void)state;

	path_init(&p, NULL);
	assert_int_equal(p.ka_ms, PATH_KEEPALIVE_MS);
	assert_int_equal(path_silence_ms(&p, 0), PATH_SILENCE_MS);
	assert_int_equal(PATH_SILENCE_MS, 5000);
	/* Unmeasured (10 s) on both sides: silent 21 s. This side sends faster while its own
	 * lifetime is being measured; that changes nothing about the peer's pace. */
	path_set_keepalive(&p, 2000, 10000, t);
	assert_int_equal(p.ka_ms, 2000);
	assert_int_equal(p.peer_ka_ms, 10000);
	assert_int_equal(path_silence_ms(&p, t), 21000);
	intro(&p, t);
	assert_true(path_rx(&p, &cand, false, t + 50));
	/* 6 s of silence would have been a lost path at the old 2 s pace, not at 10 s. */
	assert_false(path_tick(&p, t + 50 + 6000));
	assert_false(path_tick(&p, t + 50 + 21000));
	assert_int_equal(p.kind, PATH_DIRECT);
	/* A keepalive at 20 s, then the interval from a measured 5 s lifetime: 2 s, limit 5 s,
	 * but the 21 s limit holds for 21 s from the change. */
	assert_false(path_rx(&p, &cand, false, t + 20050));
	path_set_keepalive(&p, 2000, 2000, t + 20100);
	assert_int_equal(p.peer_ka_ms, 2000);
	assert_int_equal(path_silence_ms(&p, t + 20100), 21000);
	assert_false(path_tick(&p, t + 20050 + 8000));
	assert_int_equal(p.kind, PATH_DIRECT);
	/* The peer now keeps the new pace; once the old limit ran out, 5 s of silence is a
	 * lost path. */
	assert_false(path_rx(&p, &cand, false, t + 40000));
	assert_int_equal(path_silence_ms(&p, t + 41100), 5000);
	assert_false(path_tick(&p, t + 41100 + 3900));
	assert_true(path_tick(&p, t + 40000 + 5001));
	assert_int_equal(p.switch_ms, t + 45001); /* when, for status */
	assert_int_equal(path_route(&p, &got, &id), PATH_RELAY);
	assert_int_equal(p.why, PATH_WHY_SILENT);
	assert_true(p.punching);
	/* Re-punched: direct again. A longer interval (a network change: the lifetime unknown
	 * again) applies at once. */
	assert_true(path_rx(&p, &cand, false, t + 46000));
	assert_int_equal(p.switch_ms, t + 46000);
	path_set_keepalive(&p, 0, 10000, t + 46000);
	assert_int_equal(p.ka_ms, 2000); /* 0: left as it was */
	assert_int_equal(path_silence_ms(&p, t + 46000), 21000);
	assert_false(path_tick(&p, t + 46000 + 21000));
	assert_true(path_tick(&p, t + 46000 + 21001));
	/* The same value again changes nothing (no new grace period). */
	assert_true(path_rx(&p, &cand, false, t + 70000));
	path_set_keepalive(&p, 2000, 1000, t + 70000);
	assert_int_equal(path_silence_ms(&p, t + 70000), 21000);
	path_set_keepalive(&p, 2000, 1000, t + 80000);
	assert_int_equal(path_silence_ms(&p, t + 91000), 3000);
	assert_true(path_tick(&p, t + 91001));
}

static void test_net_change(void **state)
{
	struct path p;
	struct nc_addr cand = ep("10.1.0.2:51900"), c[PATH_MAX_CANDS + 1], got;
	uint32_t id;
	(void)state;

	path_init(&p, NULL);
	intro(&p, 0);
	assert_true(path_rx(&p, &cand, false, 10));
	path_net_change(&p, 500);
	assert_int_equal(path_route(&p, &got, &id), PATH_RELAY);
	assert_int_equal(p.why, PATH_WHY_NET_CHANGE);
	assert_true(p.punching);
	/* The old endpoint is among what is punched. */
	size_t n = path_punch_due(&p, 500, c, PATH_MAX_CANDS + 1);
	bool has = false;
	for (size_t i = 0; i < n; i++)
		has |= nc_addr_eq(&c[i], &cand);
	assert_true(has);
	assert_true(path_rx(&p, &cand, false, 620));
	assert_int_equal(path_intro_to_direct_ms(&p), 120);
}

static void test_peer_relays(void **state)
{
	struct path p;
	struct nc_addr cand = ep("10.1.0.2:51900"), got;
	uint32_t id;
	(void)state;

	path_init(&p, NULL);
	intro(&p, 0);
	assert_true(path_rx(&p, &cand, false, 10));
	/* Relayed packets in flight as the peer turns direct too: the direct path stays. */
	assert_false(path_rx(&p, &cand, true, 10 + PATH_RELAYED_QUIET_MS));
	assert_int_equal(p.kind, PATH_DIRECT);
	/* The peer relays while nothing came directly for longer (its address changed): we
	 * follow it to the relay and punch again. */
	assert_false(path_rx(&p, &cand, true, 11 + PATH_RELAYED_QUIET_MS));
	assert_int_equal(path_route(&p, &got, &id), PATH_RELAY);
	assert_int_equal(id, 42);
	assert_int_equal(p.why, PATH_WHY_PEER_RELAYS);
	assert_true(p.punching);
	/* Its new endpoint proves itself: direct there. */
	got = ep("203.0.113.5:40007");
	assert_true(path_rx(&p, &got, false, 700));
	assert_int_equal(p.kind, PATH_DIRECT);
	assert_true(nc_addr_eq(&p.ep, &got));
}

/* The method status names: from which candidate the proof came and both sides' profiles. */
static void test_method(void **state)
{
	struct coord_profile nat = {.measured = true, .mapping = NC_BEH_EI, .filtering = NC_BEH_APD};
	struct coord_profile open = {.measured = true, .mapping = NC_BEH_NONE, .filtering = NC_BEH_NONE};
	struct coord_profile gw = nat;
	struct nc_addr a;
	struct path p;
	(void)state;

	path_init(&p, NULL);
	assert_null(path_method(&p, NULL, NULL));
	intro(&p, 0);
	assert_string_equal(path_method(&p, &nat, &nat), "relay");
	a = p.cand[0]; /* the observed endpoint */
	assert_true(path_rx(&p, &a, false, 10));
	assert_string_equal(path_method(&p, &nat, &nat), "punch");
	assert_string_equal(path_method(&p, &nat, &open), "public");
	assert_string_equal(path_method(&p, NULL, NULL), "punch");
	gw.portmap = COORD_PM_NATPMP;
	gw.portmap_ep = a;
	assert_string_equal(path_method(&p, &nat, &gw), "port-mapping");

	path_init(&p, NULL);
	intro(&p, 0);
	a = p.cand[1]; /* a local endpoint: same LAN */
	assert_true(path_rx(&p, &a, false, 10));
	assert_string_equal(path_method(&p, &nat, &nat), "lan");

	/* A predicted port of the peer's address is no LAN candidate. */
	path_init(&p, NULL);
	{
		struct nc_addr obs = ep("203.0.113.5:40000"), pred = ep("203.0.113.5:40003");

		path_intro(&p, 42, &obs, &pred, 1, 0);
		assert_true(path_rx(&p, &pred, false, 10));
		assert_string_equal(path_method(&p, &nat, &nat), "punch");
	}

	path_init(&p, NULL);
	intro(&p, 0);
	a = ep("203.0.113.5:61234"); /* peer-reflexive */
	assert_true(path_rx(&p, &a, false, 10));
	assert_string_equal(path_method(&p, &nat, &nat), "punch");

	a = ep("192.0.2.9:51900");
	path_init(&p, &a);
	assert_string_equal(path_method(&p, &nat, &nat), "static");
}

/* A packet stamped by a receive thread a little after the main thread read its clock: the
 * path is alive, not silent for 2^64 ms. */
/* Direct over TCP (simultaneous open): proven by an authenticated packet over the peer's TCP
 * connection; "direct" by "tcp"; a live UDP path is preferred; the connection closing, silence
 * and the peer relaying all end it. */
static void test_tcp(void **state)
{
	struct path p;
	struct nc_addr obs = ep("198.51.100.7:40000"), got;
	uint32_t id = 0;
	(void)state;

	path_init(&p, NULL);
	assert_false(path_tcp_down(&p, 500)); /* nothing to end */
	path_intro(&p, 9, &obs, NULL, 0, 1000);
	assert_int_equal(p.kind, PATH_RELAY);
	assert_true(path_tcp_rx(&p, 1040));
	assert_int_equal(path_route(&p, &got, &id), PATH_TCP);
	assert_string_equal(path_kind_name(p.kind), "direct");
	assert_string_equal(path_method(&p, NULL, NULL), "tcp");
	assert_int_equal(p.why, PATH_WHY_TCP);
	assert_int_equal(path_intro_to_direct_ms(&p), 40);
	assert_false(p.punching);
	assert_false(path_tcp_rx(&p, 1100)); /* not newly */
	/* A repeated introduction leaves a live TCP path alone. */
	path_intro(&p, 9, &obs, NULL, 0, 1200);
	assert_int_equal(p.kind, PATH_TCP);
	assert_false(p.punching);
	/* The connection closes: the relay, punching again. */
	assert_true(path_tcp_down(&p, 1300));
	assert_int_equal(p.kind, PATH_RELAY);
	assert_int_equal(p.why, PATH_WHY_TCP_CLOSED);
	assert_true(p.punching);
	assert_false(path_tcp_down(&p, 1301));
	/* Back on TCP, then silence past PATH_SILENCE_MS. */
	assert_true(path_tcp_rx(&p, 2000));
	assert_false(path_tick(&p, 2000 + PATH_SILENCE_MS));
	assert_true(path_tick(&p, 2001 + PATH_SILENCE_MS));
	assert_int_equal(p.kind, PATH_RELAY);
	assert_int_equal(p.why, PATH_WHY_SILENT);
	/* The peer relays while the TCP path is quiet: back to the relay. */
	assert_true(path_tcp_rx(&p, 10000));
	path_rx(&p, &obs, true, 10000 + PATH_RELAYED_QUIET_MS + 1);
	assert_int_equal(p.kind, PATH_RELAY);
	assert_int_equal(p.why, PATH_WHY_PEER_RELAYS);
	/* UDP proves itself while on TCP: UDP takes over. */
	assert_true(path_tcp_rx(&p, 20000));
	assert_true(path_rx(&p, &obs, false, 20010));
	assert_int_equal(path_route(&p, &got, &id), PATH_DIRECT);
	assert_true(nc_addr_eq(&got, &obs));
	/* ... and a TCP packet does not take a live UDP path back. */
	assert_false(path_tcp_rx(&p, 20020));
	assert_int_equal(p.kind, PATH_DIRECT);
	assert_false(path_tcp_down(&p, 20030));
	/* A network change ends a TCP path too. */
	assert_true(path_tick(&p, 20011 + PATH_SILENCE_MS));
	assert_true(path_tcp_rx(&p, 40000));
	path_net_change(&p, 40001);
	assert_int_equal(p.kind, PATH_RELAY);
	/* A static peer never goes TCP. */
	path_init(&p, &obs);
	assert_false(path_tcp_rx(&p, 1));
	assert_int_equal(p.kind, PATH_DIRECT);
}

static void test_clock_skew_between_threads(void **state)
{
	struct path p;
	struct nc_addr a;
	(void)state;

	path_init(&p, NULL);
	intro(&p, 0);
	a = p.cand[0];
	assert_true(path_rx(&p, &a, false, 10000));
	assert_false(path_tick(&p, 9999));
	assert_int_equal(p.kind, PATH_DIRECT);
	assert_false(path_rx(&p, &a, true, 9998)); /* a relayed packet in flight: no fall back */
	assert_int_equal(p.kind, PATH_DIRECT);
}

static void test_wire_types(void **state)
{
	uint8_t coord[COORD_HDR_LEN + COORD_TAG_LEN] = {COORD_TYPE}, relay[9] = {COORD_RELAY_TYPE};
	uint8_t bad[8] = {COORD_RELAY_TYPE, 1};
	struct wire_msg m;
	(void)state;

	assert_int_equal(wire_decode(coord, sizeof(coord), &m), 0);
	assert_int_equal(m.type, WIRE_COORD);
	assert_ptr_equal(m.ct, coord);
	assert_int_equal(m.ct_len, sizeof(coord));
	assert_int_equal(wire_decode(relay, sizeof(relay), &m), 0);
	assert_int_equal(m.type, WIRE_RELAY);
	assert_int_equal(wire_decode(bad, sizeof(bad), &m), -NC_E_MALFORMED);
	bad[0] = 7;
	bad[1] = 0;
	assert_int_equal(wire_decode(bad, sizeof(bad), &m), -NC_E_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_no_intro),
		cmocka_unit_test(test_intro_and_punch_schedule),
		cmocka_unit_test(test_proof),
		cmocka_unit_test(test_peer_reflexive),
		cmocka_unit_test(test_silence_falls_back),
		cmocka_unit_test(test_keepalive_interval),
		cmocka_unit_test(test_net_change),
		cmocka_unit_test(test_peer_relays),
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_clock_skew_between_threads),
		cmocka_unit_test(test_wire_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
