/* Birthday probing in the device (bday.h has the method and its numbers): the role from the
 * strategy table, one attempt per punching round, the sockets (devaux.c), the easy side's
 * STUN request for its probing socket's mapping, and both sides' paced probes. Every probe is
 * sealed on the current session like any punch: whatever arrives proves a path. */
#include "devpriv.h"

#include <natcheck/log.h>

#include <sodium.h>
#include <string.h>

#include "stun.h"
#include "strategy.h"

enum bday_role dev_bday_role(struct dev *d, const struct coord_intro *in)
{
	struct strat_plan plan;

	dev_plan(d, in->prof.measured ? &in->prof : NULL, &in->observed, in->n_local, &plan);
	if (strategy_first_direct(&plan) != STRAT_BIRTHDAY)
		return BDAY_NONE;
	for (size_t i = 0; i < plan.n; i++)
		if (plan.step[i].method == STRAT_BIRTHDAY)
			/* The step aims at the hard side: my endpoint -> I open the sockets. */
			return plan.step[i].at == STRAT_AT_ME ? BDAY_HARD : BDAY_EASY;
	return BDAY_NONE;
}

#define BDAY_TICK_MAX 64 /* probes in one tick at most (the pace allows 40 per 100 ms) */
#define BDAY_TARGETS 3   /* BDAY_TARGET is sent this many times, BDAY_CONFIRM_MS apart */

/* The easy side's STUN Binding from its probing socket to the NAT-profile reflector. */
static void stun_ask(struct dev *d, struct dev_peer *p, uint64_t now)
{
	uint8_t buf[64];
	struct dev_route rt = {.kind = PATH_DIRECT, .ep = d->cfg->natcheck, .sock = p->bio.sock};
	int n = stun_binding_request(buf, sizeof(buf), p->bio.tid, 0, 0);

	p->bio.stun_tries++;
	p->bio.next_ms = now + BDAY_STUN_MS;
	if (n > 0)
		dev_send_dgram(d, &rt, buf, (size_t)n);
}

/* A new attempt, under p->lock. The last attempt's sockets are closed by the caller. */
static void start(struct dev *d, struct dev_peer *p, enum bday_role role, uint64_t now)
{
	uint64_t seed;

	randombytes_buf(&seed, sizeof(seed));
	p->bday_round_ms = p->path.punch_start_ms;
	bday_start(&p->bday, role, &p->path.observed, seed, now);
	memset(&p->bio, 0, sizeof(p->bio));
	/* Both sides hold their probes until the easy side's probing socket is known. */
	bday_hold(&p->bday, nc_addr_is_set(&d->cfg->natcheck));
	nc_log_info("peer %.8s: birthday probing (%s side)", p->name, bday_role_name(role));
}

/* EASY, main thread: the probing socket and its mapping (under p->lock, p->bday running and
 * held). Returns a BDAY_TARGET port to send now, or 0. */
static uint16_t easy_setup(struct dev *d, struct dev_peer *p, uint64_t now)
{
	if (p->bio.sock <= 0 && !p->bio.mapped && p->bio.stun_tries == 0) {
		int k = dev_aux_open(d, p);

		if (k > 0) {
			p->bio.sock = k;
			randombytes_buf(p->bio.tid, sizeof(p->bio.tid));
			stun_ask(d, p, now);
			return 0;
		}
	}
	if (p->bio.mapped) {
		if (p->bio.targets_sent >= BDAY_TARGETS || now < p->bio.next_ms)
			return 0;
		/* The first BDAY_TARGET lets the probes go; it repeats in case one is lost. */
		p->bio.targets_sent++;
		p->bio.next_ms = now + BDAY_CONFIRM_MS;
		bday_hold(&p->bday, false);
		return p->bio.mapped_port;
	}
	if (p->bio.sock > 0 && vpn_since(now, p->bday.start_ms) < BDAY_STUN_GIVEUP_MS) {
		if (now >= p->bio.next_ms)
			stun_ask(d, p, now);
		return 0;
	}
	/* No reflector answer: probe from the tunnel's socket, as the hard side will assume. */
	nc_log_info("peer %.8s: birthday probing: the probing socket's mapping is unknown, "
		    "probing from the tunnel's socket", p->name);
	if (p->bio.sock > 0)
		dev_aux_retire(d, p, 0);
	p->bio.sock = 0;
	bday_hold(&p->bday, false);
	return 0;
}

void dev_bday_tick(struct dev *d, struct dev_peer *p, uint64_t now)
{
	uint16_t ports[BDAY_TICK_MAX + 1], confirm, target = 0;
	struct dev_route rt = {.kind = PATH_DIRECT}, relay = {.kind = PATH_RELAY};
	enum bday_role role;
	unsigned due = 0, sent = 0;
	int keep = 0;
	bool running;

	pthread_mutex_lock(&p->lock);
	role = p->bday_role;
	/* Nothing to do (and no sockets to close) for a peer the table never gave birthday
	 * probing: the common case, every tick. */
	if (role == BDAY_NONE && p->bday.attempts == 0) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	/* A new punching round (introduction, silence, network change, `repunch`) with a session
	 * to seal probes with starts an attempt from nothing: the last one's sockets close (its
	 * winner would prove an old mapping, not the method). */
	if (role != BDAY_NONE && p->path.punching && p->path.punch_start_ms != p->bday_round_ms &&
	    p->cur && nc_addr_is_set(&p->path.observed)) {
		dev_aux_retire(d, p, 0);
		start(d, p, role, now);
	}
	role = p->bday.role;
	running = p->bday.result == BDAY_RUNNING;
	/* The easy side: its probing socket until it is known, then BDAY_TARGET's repeats. */
	if (running && role == BDAY_EASY &&
	    (p->bday.hold || (p->bio.mapped && p->bio.targets_sent < BDAY_TARGETS)))
		target = easy_setup(d, p, now);
	else if (running && role == BDAY_HARD && p->bday.hold &&
		 vpn_since(now, p->bday.start_ms) >= BDAY_TARGET_WAIT_MS)
		bday_hold(&p->bday, false); /* no BDAY_TARGET: aim at the observed endpoint */
	due = bday_due(&p->bday, now);
	if (due > BDAY_TICK_MAX)
		due = BDAY_TICK_MAX;
	confirm = bday_confirm_due(&p->bday, now);
	running = p->bday.result == BDAY_RUNNING;
	rt.ep = p->bday.target;
	relay.relay_id = p->path.relay_id;
	if (role == BDAY_EASY) {
		rt.sock = p->bio.sock;
		for (unsigned i = 0; i < due; i++) {
			if (!(ports[i] = bday_next_port(&p->bday))) {
				due = i;
				break;
			}
			bday_sent(&p->bday);
		}
	}
	if (p->path.kind == PATH_DIRECT)
		keep = p->path.ep_sock;
	pthread_mutex_unlock(&p->lock);

	/* Sockets that carry no path close once the attempt is over (and an old winner when the
	 * path left it). */
	if (!running)
		dev_aux_retire(d, p, keep);
	if (target) {
		struct ctrl_msg m = {.type = CTRL_BDAY_TARGET, .port = target};
		dev_send_ctrl(d, p, &relay, &m);
	}
	if (role == BDAY_EASY) {
		/* Each probe names its port: the hard side can report which one got through. */
		if (confirm)
			ports[due++] = confirm;
		for (unsigned i = 0; i < due; i++) {
			struct ctrl_msg m = {.type = CTRL_BDAY_PROBE, .port = ports[i]};

			rt.ep.port = ports[i];
			dev_send_ctrl(d, p, &rt, &m);
		}
	} else if (role == BDAY_HARD) {
		/* One socket, one mapping toward the easy side's endpoint, one probe to make it. */
		for (unsigned i = 0; i < due; i++) {
			int k = dev_aux_open(d, p);

			if (k < 0)
				break;
			rt.sock = k;
			dev_keepalive(d, p, &rt);
			sent++;
		}
		pthread_mutex_lock(&p->lock);
		for (unsigned i = 0; i < sent; i++)
			bday_sent(&p->bday);
		pthread_mutex_unlock(&p->lock);
	}
}

void dev_bday_stun(struct dev *d, int sock, const uint8_t *buf, size_t len)
{
	struct dev_peer *p = sock > 0 && sock <= DEV_AUX_MAX ? d->aux[sock - 1].owner : NULL;
	struct stun_msg m;
	const struct nc_addr *a;

	if (!p || stun_decode(buf, len, &m) != 0 || m.cls != STUN_CLASS_SUCCESS)
		return;
	a = (m.has & STUN_HAS_XOR_MAPPED) ? &m.xor_mapped : (m.has & STUN_HAS_MAPPED) ? &m.mapped : NULL;
	pthread_mutex_lock(&p->lock);
	if (a && p->bio.sock == sock && !p->bio.mapped && memcmp(m.tid, p->bio.tid, sizeof(m.tid)) == 0) {
		p->bio.mapped = true;
		p->bio.mapped_port = a->port;
		p->bio.next_ms = 0;
	}
	pthread_mutex_unlock(&p->lock);
	dev_kick(d);
}

void dev_bday_ctrl(struct dev *d, struct dev_peer *p, const struct dev_from *from,
		   const struct ctrl_msg *m)
{
	uint64_t now = dev_now_ms();
	struct dev_route back = {.kind = PATH_DIRECT, .ep = from->addr, .sock = from->sock};
	struct dev_route relay = {.kind = PATH_RELAY};
	struct ctrl_msg hit = {.type = CTRL_BDAY_HIT, .port = m->port};
	bool report;

	switch (m->type) {
	case CTRL_BDAY_HIT:
		pthread_mutex_lock(&p->lock);
		bday_hit(&p->bday, m->port, now);
		pthread_mutex_unlock(&p->lock);
		nc_log_info("peer %.8s: birthday probing: the probe to port %u got through", p->name,
			    m->port);
		dev_kick(d); /* the confirmation goes out now, not at the next tick */
		return;
	case CTRL_BDAY_TARGET:
		/* Taken while the sockets wait for it, never once they aim elsewhere. */
		pthread_mutex_lock(&p->lock);
		if (p->bday.role == BDAY_HARD && p->bday.result == BDAY_RUNNING && p->bday.hold) {
			p->bday.target.port = m->port;
			bday_hold(&p->bday, false);
		}
		pthread_mutex_unlock(&p->lock);
		dev_kick(d);
		return;
	case CTRL_BDAY_PROBE:
		break;
	}
	/* A probe found one of our mappings (it came directly: the relay carries none). Answer
	 * from the socket it reached, and report the port through the relay, which the easy
	 * side's filter cannot stop. */
	if (from->relayed)
		return;
	pthread_mutex_lock(&p->lock);
	report = p->path.relay;
	relay.relay_id = p->path.relay_id;
	pthread_mutex_unlock(&p->lock);
	nc_log_info("peer %.8s: birthday probing: the probe to port %u reached socket %d", p->name,
		    m->port, from->sock);
	dev_keepalive(d, p, &back);
	if (report)
		dev_send_ctrl(d, p, &relay, &hit);
}

void dev_bday_direct(struct dev *d, struct dev_peer *p, int sock, uint64_t now)
{
	if (p->bday.result != BDAY_RUNNING)
		return;
	bday_won(&p->bday, now);
	/* Each side keeps the socket the path came on (or none, when it was the tunnel's). */
	dev_aux_retire(d, p, sock);
}

bool dev_bday_made(const struct dev_peer *p)
{
	return p->bday.result == BDAY_WON && p->path.kind == PATH_DIRECT &&
	       p->bday_round_ms == p->path.punch_start_ms;
}

json_t *dev_bday_json(struct dev_peer *p, uint64_t now)
{
	json_t *o;

	if (p->bday_role == BDAY_NONE && p->bday.attempts == 0)
		return json_null();
	o = json_object();
	json_object_set_new(o, "role", json_string(bday_role_name(p->bday.role != BDAY_NONE
								       ? p->bday.role
								       : p->bday_role)));
	json_object_set_new(o, "result", json_string(bday_result_name(p->bday.result)));
	json_object_set_new(o, p->bday.role == BDAY_HARD ? "sockets" : "probes",
			    json_integer(p->bday.sent));
	json_object_set_new(o, "elapsed_ms", json_integer((json_int_t)bday_elapsed_ms(&p->bday, now)));
	if (p->bday.role == BDAY_EASY)
		json_object_set_new(o, "probing_socket", json_string(p->bio.sock > 0 ? "own" : "tunnel"));
	json_object_set_new(o, "hits_reported", json_integer(p->bday.hits));
	json_object_set_new(o, "attempts", json_integer(p->bday.attempts));
	json_object_set_new(o, "wins", json_integer(p->bday.wins));
	json_object_set_new(o, "max_probes_per_s", json_integer(BDAY_PPS));
	return o;
}
