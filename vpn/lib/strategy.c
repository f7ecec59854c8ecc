/* The strategy table (strategy.h). Each side's profile is first reduced to traits, one per
 * category (UDP, mapping, filtering, port mapping, TCP, local addresses); a row then names, for
 * one method, the traits it needs on one side (X) and on the other (Y), and whether it tries
 * the method or rules it out, with the reason. For each method the first row that matches the
 * pair, in either orientation, decides; a method no row matches is skipped with its default
 * reason. docs/punchvpn.md ("Strategy") is this table in words: keep the two in step. */
#include "strategy.h"

#include <natcheck/result.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Traits: exactly one bit per category is set for a side. */
enum {
	T_UDP_OK = 1u << 0,
	T_UDP_BLOCKED = 1u << 1,
	T_UDP_UNMEASURED = 1u << 2,
	T_UDP_ALL = T_UDP_OK | T_UDP_BLOCKED | T_UDP_UNMEASURED,

	T_MAP_NONE = 1u << 3,    /* no NAT */
	T_MAP_EI = 1u << 4,      /* endpoint-independent */
	T_MAP_ED_PRES = 1u << 5, /* endpoint-dependent, ports preserved */
	T_MAP_ED_SEQ = 1u << 6,  /* endpoint-dependent, sequential with a measured step */
	T_MAP_ED_RAND = 1u << 7, /* endpoint-dependent, random (or no pattern found) */
	T_MAP_UNKNOWN = 1u << 8,
	T_MAP_ALL = T_MAP_NONE | T_MAP_EI | T_MAP_ED_PRES | T_MAP_ED_SEQ | T_MAP_ED_RAND |
		    T_MAP_UNKNOWN,

	T_FIL_OPEN = 1u << 9, /* none or endpoint-independent */
	T_FIL_AD = 1u << 10,
	T_FIL_APD = 1u << 11,
	T_FIL_UNKNOWN = 1u << 12,
	T_FIL_ALL = T_FIL_OPEN | T_FIL_AD | T_FIL_APD | T_FIL_UNKNOWN,

	T_PM_YES = 1u << 13,
	T_PM_NO = 1u << 14,
	T_PM_ALL = T_PM_YES | T_PM_NO,

	T_TCP_YES = 1u << 15,   /* measured */
	T_TCP_MAYBE = 1u << 16, /* not measured, nothing against it */
	T_TCP_NO = 1u << 17,    /* measured, or assumed from an endpoint-dependent UDP mapping */
	T_TCP_ALL = T_TCP_YES | T_TCP_MAYBE | T_TCP_NO,

	T_LOCAL_YES = 1u << 18,
	T_LOCAL_NO = 1u << 19,
	T_LOCAL_ALL = T_LOCAL_YES | T_LOCAL_NO,
};

/* The endpoint toward a new peer is the observed one: no NAT, EIM, or ports preserved. */
#define T_STILL (T_MAP_NONE | T_MAP_EI | T_MAP_ED_PRES)
#define T_LENIENT (T_FIL_OPEN | T_FIL_AD)

static const uint32_t categories[] = {T_UDP_ALL, T_MAP_ALL, T_FIL_ALL, T_PM_ALL, T_TCP_ALL,
				      T_LOCAL_ALL};

enum row_verdict { TRY, SKIP };
enum row_at { AT_X, AT_BOTH, AT_NONE };
enum { PAIR_ANY = 0, PAIR_SAME_PUBLIC = 1 };

struct row {
	enum strat_method method;
	enum row_verdict verdict;
	uint32_t x, y; /* traits needed: per category, one of the bits given (none = any) */
	uint8_t pair;
	enum row_at at;
	const char *why;
};

#define SKIP_UDP_BLOCKED(m)                                                                  \
	{m, SKIP, T_UDP_BLOCKED, 0, PAIR_ANY, AT_NONE,                                       \
	 "UDP is blocked on one side: no UDP path leaves it"}

static const struct row table[] = {
	/* Same LAN: both behind one public address, at the local addresses one advertises. */
	{STRAT_LAN, TRY, T_LOCAL_YES, 0, PAIR_SAME_PUBLIC, AT_X,
	 "both sides share one public address: their local addresses reach each other without "
	 "the NAT (and without its hairpin)"},

	SKIP_UDP_BLOCKED(STRAT_PUBLIC),
	{STRAT_PUBLIC, TRY, T_UDP_OK | T_MAP_NONE | T_FIL_OPEN, T_UDP_OK, PAIR_ANY, AT_X,
	 "no NAT and no filter on that side: its observed endpoint takes packets from anyone"},

	SKIP_UDP_BLOCKED(STRAT_PORTMAP),
	{STRAT_PORTMAP, TRY, T_UDP_OK | T_PM_YES, T_UDP_OK, PAIR_ANY, AT_X,
	 "that side's gateway forwards a mapped port to it (NAT-PMP, PCP or UPnP-IGD, at the "
	 "public address the reflector saw): reachable from anything with UDP"},

	SKIP_UDP_BLOCKED(STRAT_PUNCH),
	{STRAT_PUNCH, TRY, T_UDP_OK | T_STILL, T_UDP_OK | T_STILL, PAIR_ANY, AT_BOTH,
	 "both endpoints toward a new peer are the observed ones (endpoint-independent mapping "
	 "or preserved ports): simultaneous sends open both filters"},
	{STRAT_PUNCH, TRY, T_UDP_OK | T_STILL | T_LENIENT, T_UDP_OK, PAIR_ANY, AT_X,
	 "that side keeps its observed endpoint and filters by address at most: the other "
	 "side's packets pass from whatever mapping once it has sent to that address, and it "
	 "learns their peer-reflexive endpoint"},
	{STRAT_PUNCH, TRY, T_UDP_UNMEASURED, 0, PAIR_ANY, AT_BOTH,
	 "a side's NAT is not measured (yet): a punch costs a few packets, so it is tried"},
	{STRAT_PUNCH, TRY, T_UDP_OK | T_MAP_UNKNOWN, T_UDP_OK, PAIR_ANY, AT_BOTH,
	 "a side's mapping behaviour is unknown: a punch costs a few packets, so it is tried"},

	SKIP_UDP_BLOCKED(STRAT_PREDICT),
	{STRAT_PREDICT, SKIP, T_MAP_ED_SEQ, T_STILL | T_LENIENT, PAIR_ANY, AT_NONE,
	 "the other side filters by address at most: a plain punch reaches the sequential side, "
	 "no guessing needed"},
	{STRAT_PREDICT, TRY, T_UDP_OK | T_MAP_ED_SEQ, T_UDP_OK | T_STILL, PAIR_ANY, AT_X,
	 "that side allocates ports sequentially with a measured step: the other side, whose "
	 "endpoint stands still, sends to a small window of its next ports while it sends to "
	 "the other's observed endpoint"},
	{STRAT_PREDICT, SKIP, T_MAP_ED_SEQ, T_MAP_ED_SEQ | T_MAP_ED_RAND | T_MAP_UNKNOWN, PAIR_ANY,
	 AT_NONE,
	 "both sides' ports move with every new destination: prediction needs one side whose "
	 "endpoint stands still"},

	SKIP_UDP_BLOCKED(STRAT_BIRTHDAY),
	{STRAT_BIRTHDAY, SKIP, T_MAP_ED_RAND, T_STILL | T_LENIENT, PAIR_ANY, AT_NONE,
	 "the other side filters by address at most: a plain punch reaches the random side, no "
	 "probing needed"},
	{STRAT_BIRTHDAY, TRY, T_UDP_OK | T_MAP_ED_RAND, T_UDP_OK | T_STILL, PAIR_ANY, AT_X,
	 "that side maps endpoint-dependently with random ports: it opens many sockets toward "
	 "the other's endpoint while the other, whose endpoint stands still, probes random "
	 "ports of its address (birthday paradox, paced)"},
	{STRAT_BIRTHDAY, SKIP, T_MAP_ED_RAND, T_MAP_ED_SEQ | T_MAP_ED_RAND | T_MAP_UNKNOWN,
	 PAIR_ANY, AT_NONE,
	 "both sides map endpoint-dependently and one allocates at random: both ends move, so "
	 "the search is the square of the port range (about 170 000 probes)"},

	{STRAT_TCP, SKIP, T_TCP_NO, 0, PAIR_ANY, AT_NONE,
	 "a side's NAT stops TCP hole punching (measured, or assumed from its endpoint-dependent "
	 "UDP mapping)"},
	{STRAT_TCP, TRY, T_UDP_BLOCKED, 0, PAIR_ANY, AT_BOTH,
	 "UDP is blocked on a side: TCP simultaneous open to the observed endpoints, timed by "
	 "the rendezvous"},
	{STRAT_TCP, TRY, T_TCP_YES, T_TCP_YES, PAIR_ANY, AT_BOTH,
	 "natcheck found TCP hole punching works on both sides: a last direct try before the "
	 "relay"},

	{STRAT_RELAY, TRY, 0, 0, PAIR_ANY, AT_NONE,
	 "always there: the tunnel starts on the relay and moves to a direct path once one "
	 "proves itself"},
};

/* Why a method no row chose is not in the plan. */
static const char *const default_skip[STRAT_METHOD_COUNT] = {
	[STRAT_LAN] = "the sides do not share one public address (or advertise no local one)",
	[STRAT_PUBLIC] = "each side is behind a NAT or a filtering firewall",
	[STRAT_PORTMAP] = "no gateway granted a mapping at the public address the reflector saw",
	[STRAT_PUNCH] = "a side maps endpoint-dependently and the other filters by address and "
			"port: the observed endpoint is not the one the peer meets",
	[STRAT_PREDICT] = "no side allocates ports sequentially behind an endpoint-dependent "
			  "mapping",
	[STRAT_BIRTHDAY] = "no side maps endpoint-dependently with random ports",
	[STRAT_TCP] = "UDP reaches both sides and TCP punching was not measured on both: TCP is "
		      "kept for UDP-blocked networks",
	[STRAT_RELAY] = "",
};

static uint32_t traits(const struct strat_side *s)
{
	const struct coord_profile *p = s->prof;
	uint32_t t = s->n_local ? T_LOCAL_YES : T_LOCAL_NO;
	bool ed;

	if (!p || !p->measured || p->udp_blocked == NC_TRI_UNKNOWN)
		t |= T_UDP_UNMEASURED;
	else if (p->udp_blocked == NC_TRI_YES)
		t |= T_UDP_BLOCKED;
	else
		t |= T_UDP_OK;
	if (!(t & T_UDP_OK)) {
		/* Nothing is known of the NAT; its TCP is given a chance. */
		return t | T_MAP_UNKNOWN | T_FIL_UNKNOWN | T_PM_NO |
		       (p && p->tcp_punchable == NC_TRI_YES  ? T_TCP_YES
			: p && p->tcp_punchable == NC_TRI_NO ? T_TCP_NO
							     : T_TCP_MAYBE);
	}

	ed = p->mapping == NC_BEH_AD || p->mapping == NC_BEH_APD;
	if (p->mapping == NC_BEH_NONE)
		t |= T_MAP_NONE;
	else if (p->mapping == NC_BEH_EI)
		t |= T_MAP_EI;
	else if (!ed)
		t |= T_MAP_UNKNOWN;
	else if (p->allocation == NC_ALLOC_PRESERVING)
		t |= T_MAP_ED_PRES;
	else if (p->allocation == NC_ALLOC_SEQUENTIAL && p->port_step != 0)
		t |= T_MAP_ED_SEQ;
	else
		t |= T_MAP_ED_RAND;

	t |= p->filtering == NC_BEH_NONE || p->filtering == NC_BEH_EI ? T_FIL_OPEN
	     : p->filtering == NC_BEH_AD				  ? T_FIL_AD
	     : p->filtering == NC_BEH_APD				  ? T_FIL_APD
									  : T_FIL_UNKNOWN;
	t |= p->portmap != COORD_PM_NONE && nc_addr_is_set(&p->portmap_ep) ? T_PM_YES : T_PM_NO;

	/* TCP: the measurement when there is one (the fast preset has none); else NATs map TCP
	 * as they map UDP (RFC 5382 asks of TCP what RFC 4787 asks of UDP), so a UDP mapping
	 * that moves with the destination rules TCP punching out too. */
	if (p->tcp_punchable == NC_TRI_YES)
		t |= T_TCP_YES;
	else if (p->tcp_punchable == NC_TRI_NO || (t & (T_MAP_ED_SEQ | T_MAP_ED_RAND)))
		t |= T_TCP_NO;
	else
		t |= T_TCP_MAYBE;
	return t;
}

static bool match(uint32_t want, uint32_t have)
{
	for (size_t i = 0; i < sizeof(categories) / sizeof(categories[0]); i++) {
		uint32_t c = categories[i];

		if ((want & c) && !(want & have & c))
			return false;
	}
	return true;
}

void strategy_plan(const struct strat_side *me, const struct strat_side *peer,
		   struct strat_plan *out)
{
	uint32_t tm = traits(me), tp = traits(peer);
	bool same_public = nc_addr_is_set(&me->observed) &&
			   nc_addr_ip_eq(&me->observed, &peer->observed);

	memset(out, 0, sizeof(*out));
	for (int m = 0; m < STRAT_METHOD_COUNT; m++) {
		const struct row *hit = NULL;
		bool x_me = false, x_peer = false;

		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]) && !hit; i++) {
			const struct row *r = &table[i];

			if ((int)r->method != m || (r->pair == PAIR_SAME_PUBLIC && !same_public))
				continue;
			x_me = match(r->x, tm) && match(r->y, tp);
			x_peer = match(r->x, tp) && match(r->y, tm);
			if (x_me || x_peer)
				hit = r;
		}
		if (!hit || hit->verdict == SKIP) {
			out->skipped[m] = hit ? hit->why : default_skip[m];
			continue;
		}
		out->step[out->n].method = (enum strat_method)m;
		out->step[out->n].why = hit->why;
		out->step[out->n].at = hit->at == AT_NONE   ? STRAT_AT_NONE
				       : hit->at == AT_BOTH ? STRAT_AT_BOTH
				       : x_me && x_peer     ? STRAT_AT_BOTH
				       : x_me		    ? STRAT_AT_ME
							    : STRAT_AT_PEER;
		out->n++;
	}
}

enum strat_method strategy_first_direct(const struct strat_plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->step[i].method != STRAT_RELAY)
			return p->step[i].method;
	return STRAT_RELAY;
}

const char *strategy_method_name(enum strat_method m)
{
	static const char *const names[STRAT_METHOD_COUNT] = {
		"lan", "public", "port-mapping", "punch", "prediction", "birthday", "tcp", "relay",
	};

	return (unsigned)m < STRAT_METHOD_COUNT ? names[m] : "unknown";
}

const char *strategy_at_name(enum strat_at a)
{
	static const char *const names[] = {"none", "peer", "me", "both"};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "unknown";
}

json_t *strategy_plan_json(const struct strat_plan *p)
{
	json_t *o = json_object(), *order = json_array(), *skipped = json_object();

	if (!o || !order || !skipped)
		goto fail;
	for (size_t i = 0; i < p->n; i++) {
		json_t *s = json_pack("{s:s, s:s, s:s}", "method",
				      strategy_method_name(p->step[i].method), "at",
				      strategy_at_name(p->step[i].at), "why", p->step[i].why);

		if (!s || json_array_append_new(order, s) < 0)
			goto fail;
	}
	for (int m = 0; m < STRAT_METHOD_COUNT; m++)
		if (p->skipped[m] &&
		    json_object_set_new(skipped, strategy_method_name((enum strat_method)m),
					json_string(p->skipped[m])) < 0)
			goto fail;
	if (json_object_set_new(o, "order", order) < 0) {
		order = NULL;
		goto fail;
	}
	order = NULL;
	if (json_object_set_new(o, "skipped", skipped) < 0) {
		skipped = NULL;
		goto fail;
	}
	return o;
fail:
	json_decref(order);
	json_decref(skipped);
	json_decref(o);
	return NULL;
}

static unsigned lifetime_of(const struct coord_profile *c)
{
	return c && c->measured ? c->lifetime_s : 0;
}

void strategy_keepalive(const struct coord_profile *mine, const struct coord_profile *peer,
			bool measuring, struct strat_keepalive *out)
{
	unsigned a = lifetime_of(mine), b = lifetime_of(peer), ms;

	memset(out, 0, sizeof(*out));
	out->from = STRAT_AT_NONE;
	ms = STRAT_KEEPALIVE_UNKNOWN_MS;
	if (a || b) {
		out->from = a && b ? (a < b ? STRAT_AT_ME : b < a ? STRAT_AT_PEER : STRAT_AT_BOTH)
			    : a    ? STRAT_AT_ME
				   : STRAT_AT_PEER;
		out->lifetime_s = out->from == STRAT_AT_PEER ? b : a;
		ms = out->lifetime_s * 1000u * 2u / 5u; /* lifetime / 2.5 */
		if (ms > STRAT_KEEPALIVE_MAX_MS)
			ms = STRAT_KEEPALIVE_MAX_MS;
		if (ms < STRAT_KEEPALIVE_MIN_MS)
			ms = STRAT_KEEPALIVE_MIN_MS;
	}
	out->ms = out->send_ms = ms;
	if (measuring && ms > STRAT_KEEPALIVE_MEASURING_MS) {
		out->send_ms = STRAT_KEEPALIVE_MEASURING_MS;
		out->measuring = true;
	}
}

unsigned strategy_keepalive_ms(const struct coord_profile *mine, const struct coord_profile *peer)
{
	struct strat_keepalive k;

	strategy_keepalive(mine, peer, false, &k);
	return k.ms;
}

void strategy_keepalive_text(const struct strat_keepalive *k, char *out, size_t len)
{
	const char *whose = k->from == STRAT_AT_ME     ? "this side"
			    : k->from == STRAT_AT_PEER ? "peer"
						       : "both sides";
	int n;

	if (k->from == STRAT_AT_NONE)
		n = snprintf(out, len, "%u ms default, lifetime not measured", k->ms);
	else
		n = snprintf(out, len, "%u ms from measured lifetime %u s (%s)", k->ms,
			     k->lifetime_s, whose);
	if (k->measuring && n >= 0 && (size_t)n < len)
		snprintf(out + n, len - (size_t)n,
			 "; sending every %u ms while this side's lifetime is measured", k->send_ms);
}
