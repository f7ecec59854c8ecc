/* Birthday probing in the device (bday.h has the method and its numbers): the role from the
 * strategy table, one attempt per punching round, the hard side's sockets (devaux.c) and both
 * sides' paced probes. Probes are authenticated keepalives on the current session, like every
 * other punch: whatever arrives proves a path. */
#include "devpriv.h"

#include <natcheck/log.h>

#include <sodium.h>
#include <string.h>

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

void dev_bday_tick(struct dev *d, struct dev_peer *p, uint64_t now)
{
	uint16_t ports[BDAY_TICK_MAX];
	struct dev_route rt = {.kind = PATH_DIRECT};
	enum bday_role role;
	unsigned due = 0, sent = 0;
	int keep = 0;
	bool running, fresh = false;

	pthread_mutex_lock(&p->lock);
	role = p->bday_role;
	/* A new punching round (introduction, silence, network change, `repunch`) with a session
	 * to seal probes with starts an attempt. */
	if (role != BDAY_NONE && p->path.punching && p->path.punch_start_ms != p->bday_round_ms &&
	    p->cur && nc_addr_is_set(&p->path.observed)) {
		uint64_t seed;

		randombytes_buf(&seed, sizeof(seed));
		p->bday_round_ms = p->path.punch_start_ms;
		bday_start(&p->bday, role, &p->path.observed, seed, now);
		fresh = true;
		nc_log_info("peer %.8s: birthday probing (%s side)", p->name, bday_role_name(role));
	}
	role = p->bday.role;
	due = bday_due(&p->bday, now);
	if (due > BDAY_TICK_MAX)
		due = BDAY_TICK_MAX;
	running = p->bday.result == BDAY_RUNNING;
	rt.ep = p->bday.target;
	if (role == BDAY_EASY)
		for (unsigned i = 0; i < due; i++) {
			if (!(ports[i] = bday_next_port(&p->bday))) {
				due = i;
				break;
			}
			bday_sent(&p->bday);
		}
	if (p->path.kind == PATH_DIRECT)
		keep = p->path.ep_sock;
	pthread_mutex_unlock(&p->lock);

	/* Sockets that carry no path close once the attempt is over (and an old winner when the
	 * path left it). */
	if (!running)
		dev_aux_retire(d, p, keep);
	/* A new attempt starts from nothing: the last one's winner would prove the old mapping,
	 * not the method. */
	if (fresh)
		dev_aux_retire(d, p, 0);
	if (role == BDAY_EASY) {
		for (unsigned i = 0; i < due; i++) {
			rt.ep.port = ports[i];
			dev_keepalive(d, p, &rt);
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

void dev_bday_direct(struct dev *d, struct dev_peer *p, int sock, uint64_t now)
{
	bool hard = p->bday.role == BDAY_HARD;

	if (p->bday.result != BDAY_RUNNING)
		return;
	bday_won(&p->bday, now);
	/* The hard side keeps the socket whose mapping the peer found (or none, when the path
	 * came on the tunnel socket). */
	if (hard)
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
	json_object_set_new(o, "attempts", json_integer(p->bday.attempts));
	json_object_set_new(o, "wins", json_integer(p->bday.wins));
	json_object_set_new(o, "max_probes_per_s", json_integer(BDAY_PPS));
	return o;
}
