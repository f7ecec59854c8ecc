/* punchvpn status: the device's state as JSON (status --json, stable keys) and as text. */
#include "devpriv.h"

#include "strategy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *drops_json(struct dev_stats *st)
{
	json_t *o = json_object();

	for (int r = 0; r < DEV_DROP_COUNT; r++)
		json_object_set_new(o, dev_drop_name((enum dev_drop)r),
				    json_integer((json_int_t)atomic_load(&st->drop[r])));
	return o;
}

static json_t *addr_json(const struct nc_addr *a)
{
	char buf[NC_ADDR_STRLEN];

	return nc_addr_is_set(a) ? json_string(nc_addr_str(a, buf)) : json_null();
}

static json_t *server_json(struct dev *d)
{
	struct rdv *r = &d->rdv;
	unsigned every;
	json_t *o;

	/* The server address is fixed from dev_init on; everything else under the lock. */
	if (!nc_addr_is_set(&r->server))
		return json_pack("{s:s}", "state", "off");
	every = rdv_interval_ms(r);
	pthread_mutex_lock(&r->lock);
	o = json_pack("{s:s,s:o,s:s,s:b,s:o,s:I,s:i,s:i,s:I,s:I,s:I}", "state",
		      r->registered ? "registered" : "registering", "address", addr_json(&r->server),
		      "transport", r->mode == RDV_TCP ? (r->tcp_up ? "tcp" : "tcp-connecting") : "udp",
		      "registered", r->registered, "observed", addr_json(&r->observed), "relay_id",
		      (json_int_t)r->relay_id, "keepalive_s", (int)r->keepalive_s,
		      "register_every_ms", (int)every, "registrations",
		      (json_int_t)r->n_acks, "introductions", (json_int_t)r->n_intros,
		      "tcp_fallbacks", (json_int_t)r->n_tcp_fallbacks);
	/* Our TCP mapping as punchvpnd sees it (TCP simultaneous open), while it is shown. */
	json_object_set_new(o, "tcp_observed",
			    (r->mode == RDV_TCP && r->tcp_up && r->registered) || r->show_acked
				? addr_json(&r->tcp_observed)
				: json_null());
	pthread_mutex_unlock(&r->lock);
	return o;
}

static json_t *nat_json(struct dev *d)
{
	const struct natprof_state *n = &d->nat;

	if (!d->np)
		return json_pack("{s:b,s:b,s:s,s:I}", "measured", false, "measuring", false, "summary",
				 d->nat_err, "network_changes", (json_int_t)d->net_changes);
	return json_pack("{s:b,s:b,s:s,s:i,s:I}", "measured", n->prof.measured, "measuring",
			 n->measuring, "summary", n->summary[0] ? n->summary : "measuring",
			 "took_ms", (int)n->took_ms, "network_changes", (json_int_t)d->net_changes);
}

static json_t *map_json(struct dev *d)
{
	const struct vpnmap_state *m = &d->map;
	char ext[NC_ADDR_STRLEN];

	if (!d->vm)
		return json_pack("{s:s}", "status", d->cfg->port_mapping ? "not started" : "off");
	return json_pack("{s:s,s:s,s:s?,s:b,s:s,s:i}", "status", vpnmap_status_name(m->status),
			 "protocol", vpnmap_pm_name(m->proto), "external",
			 nc_addr_is_set(&m->external) ? nc_addr_str(&m->external, ext) : NULL,
			 "advertised", m->advertise, "why", m->why, "expires_in_s",
			 (int)m->expires_in_s);
}

/* The strategy table's plan for this pair (profiles not measured yet count as unknown). */
static const struct strat_plan *plan_of(struct dev *d, const struct path *path,
					const struct coord_profile *peer, struct strat_plan *plan)
{
	dev_plan(d, peer->measured ? peer : NULL, &path->observed,
		 path->n_cand ? path->n_cand - 1 : 0, plan);
	return plan;
}

const char *dev_path_method(struct dev *d, const struct path *path,
			    const struct coord_profile *peer, bool by_bday)
{
	struct coord_profile mine;
	struct strat_plan plan;
	const char *method = path_method(path, dev_my_profile(d, &mine) ? &mine : NULL,
					 peer->measured ? peer : NULL);

	/* A direct path the peers punched is the table's first direct method: prediction when it
	 * put it first (the predicted candidates are only offered then), punching otherwise. */
	if (method && !strcmp(method, "punch") &&
	    strategy_first_direct(plan_of(d, path, peer, &plan)) == STRAT_PREDICT)
		method = strategy_method_name(STRAT_PREDICT);
	/* The mapping birthday probing found (a peer-reflexive endpoint on the easy side). */
	if (method && !strcmp(method, "punch") && by_bday)
		method = strategy_method_name(STRAT_BIRTHDAY);
	return method;
}

/* The direct path's keepalive and where its interval came from: what dev_link_tick derives
 * from the same two profiles (strategy_keepalive), with the values the path holds. */
static json_t *keepalive_json(struct dev *d, const struct path *path,
			      const struct coord_profile *peer, uint64_t now)
{
	struct coord_profile mine;
	struct strat_keepalive k;
	char text[160];

	if (path->fixed)
		return json_null(); /* a static endpoint: PersistentKeepalive, as configured */
	strategy_keepalive(dev_my_profile(d, &mine) ? &mine : NULL, peer->measured ? peer : NULL,
			   dev_lifetime_pending(d), &k);
	strategy_keepalive_text(&k, text, sizeof(text));
	return json_pack("{s:i,s:i,s:I,s:s,s:o,s:s?,s:b,s:s}", "interval_ms", (int)path->ka_ms,
			 "peer_interval_ms", (int)path->peer_ka_ms, "silence_ms",
			 (json_int_t)path_silence_ms(path, now), "source",
			 k.from == STRAT_AT_NONE ? "default" : "measured", "lifetime_s",
			 k.lifetime_s ? json_integer(k.lifetime_s) : json_null(), "lifetime_from",
			 k.from == STRAT_AT_NONE ? NULL : strategy_at_name(k.from), "measuring",
			 k.measuring, "text", text);
}

/* What became of each planned method in this punching round: status's "result" per entry of
 * the plan's order (the methods race; the winner is the path's method). */
static void attempt_results(json_t *strategy, const char *method, const struct path *path,
			    json_t *bday, json_t *tcp)
{
	json_t *order = json_object_get(strategy, "order"), *step;
	bool before = true; /* entries ahead of the winner in the table's order */
	/* A TCP path is direct too (path.h). */
	bool direct = path->kind == PATH_DIRECT || path->kind == PATH_TCP;
	size_t i;

	json_array_foreach(order, i, step) {
		const char *m = json_string_value(json_object_get(step, "method"));
		char text[96];

		if (!m)
			continue;
		if (!strcmp(m, "relay")) {
			snprintf(text, sizeof(text), "%s", path->kind == PATH_RELAY ? "carries the traffic"
										: "standing by");
		} else if (direct && method && !strcmp(m, method)) {
			int64_t ms = path_intro_to_direct_ms(path);

			if (ms >= 0)
				snprintf(text, sizeof(text), "won, %lld ms after the punching started",
					 (long long)ms);
			else
				snprintf(text, sizeof(text), "won");
			before = false;
		} else if (direct) {
			snprintf(text, sizeof(text), before ? "tried, %s got there first"
							    : "not needed, %s won", method ? method : "?");
		} else if (!strcmp(m, "tcp") && json_is_object(tcp)) {
			const char *err = json_string_value(json_object_get(tcp, "error"));
			snprintf(text, sizeof(text), "TCP %s%s%s",
				 json_string_value(json_object_get(tcp, "state")), err ? ": " : "",
				 err ? err : "");
		} else if (!strcmp(m, "birthday") && json_is_object(bday)) {
			snprintf(text, sizeof(text), "%s",
				 json_string_value(json_object_get(bday, "result")));
		} else {
			snprintf(text, sizeof(text), "%s", path->punching ? "trying"
							   : "no authenticated packet came");
		}
		json_object_set_new(step, "result", json_string(text));
	}
}

static json_t *peer_json(struct dev *d, struct dev_peer *p, uint64_t now)
{
	struct coord_profile peer_prof;
	struct strat_plan plan;
	const char *method;
	json_t *o = json_object(), *cands = json_array();
	uint64_t hs = atomic_load(&p->last_hs_ms);
	const char *cipher = NULL;
	struct path path;
	uint32_t rtt;
	enum path_kind rtt_path;
	int64_t i2d;
	json_t *bday, *tcp = dev_tcp_peer_json(p);
	bool by_bday;

	pthread_mutex_lock(&p->lock);
	path = p->path;
	peer_prof = p->peer_prof;
	rtt = p->rtt_ms;
	rtt_path = p->rtt_path;
	if (p->cur)
		cipher = tp_cipher_name(p->cur->s.cipher);
	bday = dev_bday_json(p, now);
	by_bday = dev_bday_made(p);
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < path.n_cand; i++)
		json_array_append_new(cands, addr_json(&path.cand[i]));
	i2d = path_intro_to_direct_ms(&path);
	json_object_set_new(o, "public_key", json_string(p->name));
	json_object_set_new(o, "endpoint", addr_json(&path.ep));
	json_object_set_new(o, "path", json_string(path_kind_name(path.kind)));
	json_object_set_new(o, "path_reason", json_string(path_why_text(path.why)));
	method = dev_path_method(d, &path, &peer_prof, by_bday);
	json_object_set_new(o, "method", method ? json_string(method) : json_null());
	json_object_set_new(o, "birthday", bday);
	json_object_set_new(o, "tcp", tcp);
	if (path.relay) {
		json_t *st = strategy_plan_json(plan_of(d, &path, &peer_prof, &plan));

		attempt_results(st, method, &path, bday, tcp);
		json_object_set_new(o, "strategy", st);
	}
	json_object_set_new(o, "relay_id", path.relay ? json_integer(path.relay_id) : json_null());
	json_object_set_new(o, "candidates", cands);
	json_object_set_new(o, "punching", json_boolean(path.punching));
	json_object_set_new(o, "path_switches", json_integer(path.switches));
	json_object_set_new(o, "path_switch_age_ms",
			    path.switches ? json_integer((json_int_t)vpn_since(now, path.switch_ms))
					  : json_null());
	json_object_set_new(o, "keepalive", keepalive_json(d, &path, &peer_prof, now));
	json_object_set_new(o, "intro_to_direct_ms", i2d >= 0 ? json_integer(i2d) : json_null());
	json_object_set_new(o, "rtt_ms", hs ? json_integer(rtt) : json_null());
	json_object_set_new(o, "rtt_path", hs ? json_string(path_kind_name(rtt_path)) : json_null());
	json_object_set_new(o, "handshake_age_ms", hs ? json_integer((json_int_t)(now - hs)) : json_null());
	json_object_set_new(o, "cipher", cipher ? json_string(cipher) : json_null());
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)atomic_load(&p->st.rx_bytes)));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)atomic_load(&p->st.tx_bytes)));
	json_object_set_new(o, "rx_packets", json_integer((json_int_t)atomic_load(&p->st.rx_packets)));
	json_object_set_new(o, "tx_packets", json_integer((json_int_t)atomic_load(&p->st.tx_packets)));
	json_object_set_new(o, "drops", drops_json(&p->st));
	return o;
}

json_t *dev_status_json(struct dev *d)
{
	json_t *root = json_object(), *peers = json_array();
	char pub[VPN_KEY_B64_LEN + 1];
	uint64_t now = dev_now_ms();

	vpn_key_to_b64(pub, d->hs.pub);
	json_object_set_new(root, "interface", json_string(d->tun.name));
	json_object_set_new(root, "public_key", json_string(pub));
	json_object_set_new(root, "listen_port", json_integer(d->udp.port));
	json_object_set_new(root, "mtu", json_integer(d->tun.mtu));
	json_object_set_new(root, "offloads", json_pack("{s:b,s:b,s:b}", "tun_tso", d->tun.offload,
							 "udp_gso", d->udp.gso, "udp_gro", d->udp.gro));
	json_object_set_new(root, "server", server_json(d));
	json_object_set_new(root, "nat", nat_json(d));
	json_object_set_new(root, "port_mapping", map_json(d));
	json_object_set_new(root, "drops_unattributed", drops_json(&d->st));
	for (size_t i = 0; i < d->n_peers; i++)
		json_array_append_new(peers, peer_json(d, &d->peers[i], now));
	json_object_set_new(root, "peers", peers);
	return root;
}

static void drops_text(FILE *f, json_t *drops)
{
	const char *k;
	json_t *v;
	bool any = false;

	json_object_foreach(drops, k, v)
		if (json_integer_value(v)) {
			fprintf(f, "%s%s %lld", any ? ", " : "", k, (long long)json_integer_value(v));
			any = true;
		}
	if (!any)
		fprintf(f, "none");
	fprintf(f, "\n");
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

static long long int_of(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void server_text(FILE *f, json_t *s)
{
	if (!strcmp(str_or(s, "state", "off"), "off")) {
		fprintf(f, "  server: none\n");
		return;
	}
	fprintf(f, "  server: %s, %s over %s", str_or(s, "address", "?"), str_or(s, "state", "?"),
		str_or(s, "transport", "?"));
	if (json_is_true(json_object_get(s, "registered")))
		fprintf(f, ", observed as %s, relay id %lld, registering every %lld ms",
			str_or(s, "observed", "?"), int_of(s, "relay_id"),
			int_of(s, "register_every_ms"));
	fprintf(f, "\n");
}

static void peer_text(FILE *f, json_t *p)
{
	json_t *age = json_object_get(p, "handshake_age_ms"), *v;

	fprintf(f, "\npeer: %s\n", str_or(p, "public_key", "?"));
	fprintf(f, "  endpoint: %s\n", str_or(p, "endpoint", "(none)"));
	fprintf(f, "  path: %s by %s (%s)", str_or(p, "path", "?"), str_or(p, "method", "-"),
		str_or(p, "path_reason", "?"));
	if (json_is_integer(v = json_object_get(p, "relay_id")))
		fprintf(f, ", relay id %lld", (long long)json_integer_value(v));
	fprintf(f, "\n");
	if (json_is_object(v = json_object_get(p, "keepalive")))
		fprintf(f, "  keepalive: %s; silent after %lld ms\n", str_or(v, "text", "?"),
			int_of(v, "silence_ms"));
	if (json_is_integer(v = json_object_get(p, "intro_to_direct_ms")))
		fprintf(f, "  first direct packet: %lld ms after the introduction\n",
			(long long)json_integer_value(v));
	if (json_is_integer(age)) {
		fprintf(f, "  latest handshake: %.1f s ago (%s)\n", json_integer_value(age) / 1000.0,
			str_or(p, "cipher", "expired"));
		fprintf(f, "  rtt: %lld ms (%s)\n", int_of(p, "rtt_ms"), str_or(p, "rtt_path", "?"));
	} else {
		fprintf(f, "  latest handshake: never\n");
	}
	if ((v = json_object_get(json_object_get(p, "strategy"), "order")) && json_is_array(v)) {
		size_t i;
		json_t *step;

		fprintf(f, "  strategy:");
		json_array_foreach(v, i, step)
			fprintf(f, "%s %s (%s)", i ? "," : "", str_or(step, "method", "?"),
				str_or(step, "result", "?"));
		fprintf(f, "\n");
	}
	if (json_is_object(v = json_object_get(p, "birthday")))
		fprintf(f, "  birthday probing: %s side, %s after %lld ms, %lld %s, %lld of %lld attempts won\n",
			str_or(v, "role", "?"), str_or(v, "result", "?"), int_of(v, "elapsed_ms"),
			json_object_get(v, "sockets") ? int_of(v, "sockets") : int_of(v, "probes"),
			json_object_get(v, "sockets") ? "sockets" : "probes", int_of(v, "wins"),
			int_of(v, "attempts"));
	fprintf(f, "  transfer: %lld B received, %lld B sent\n", int_of(p, "rx_bytes"),
		int_of(p, "tx_bytes"));
	fprintf(f, "  drops: ");
	drops_text(f, json_object_get(p, "drops"));
}

char *dev_status_text(struct dev *d)
{
	json_t *j = dev_status_json(d), *p;
	char *out = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&out, &len);

	if (!f) {
		json_decref(j);
		return NULL;
	}
	fprintf(f, "interface: %s\n  public key: %s\n  listening port: %lld\n  mtu: %lld\n",
		str_or(j, "interface", "?"), str_or(j, "public_key", "?"), int_of(j, "listen_port"),
		int_of(j, "mtu"));
	server_text(f, json_object_get(j, "server"));
	fprintf(f, "  nat: %s\n", str_or(json_object_get(j, "nat"), "summary", "?"));
	{
		json_t *m = json_object_get(j, "port_mapping");

		fprintf(f, "  port mapping: %s", str_or(m, "status", "?"));
		if (json_is_string(json_object_get(m, "external")))
			fprintf(f, " %s %s%s", str_or(m, "protocol", "?"), str_or(m, "external", "?"),
				json_is_true(json_object_get(m, "advertised")) ? ", advertised" : "");
		if (*str_or(m, "why", ""))
			fprintf(f, " (%s)", str_or(m, "why", ""));
		fprintf(f, "\n");
	}
	fprintf(f, "  offloads: tun tso %s, udp gso %s, udp gro %s\n", d->tun.offload ? "on" : "off",
		d->udp.gso ? "on" : "off", d->udp.gro ? "on" : "off");
	fprintf(f, "  drops (no peer): ");
	drops_text(f, json_object_get(j, "drops_unattributed"));
	json_array_foreach(json_object_get(j, "peers"), i, p)
		peer_text(f, p);
	fclose(f);
	json_decref(j);
	return out;
}
