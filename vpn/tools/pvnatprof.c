/* pvnatprof: runs punchvpn's NAT-profile module (natprof.h) on its own and prints its state as
 * one JSON object per line, at start and every time its eventfd says something changed, for
 * tests/integration/test_vpn_natprof.sh.
 *
 *   pvnatprof --stun IP:PORT [--skip IFNAME] [--budget-ms N] [--portmap]
 *             [--lifetime [--lifetime-max S]] [--generations N] [--timeout-ms N]
 *
 * Exits 0 once N measurements are in (default: runs until SIGINT/SIGTERM), 1 when
 * --timeout-ms passes first, 2 on a usage error. Test tool only: never installed. */
#include <natcheck/addr.h>
#include <natcheck/error.h>
#include <natcheck/result.h>

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "natprof.h"
#include "numparse.h"
#include "strategy.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static json_t *tri(uint8_t t)
{
	return t == NC_TRI_YES ? json_true() : t == NC_TRI_NO ? json_false() : json_null();
}

static void print_state(const struct natprof_state *st, const char *skip, uint16_t port)
{
	const struct coord_profile *p = &st->prof;
	struct nc_addr local[COORD_MAX_LOCAL];
	size_t n = natprof_local_addrs(skip, port, local, COORD_MAX_LOCAL);
	char buf[NC_ADDR_STRLEN];
	json_t *o = json_object(), *pj = json_object(), *la = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(la, json_string(nc_addr_str(&local[i], buf)));
	json_object_set_new(pj, "measured", json_boolean(p->measured));
	json_object_set_new(pj, "mapping", json_string(nc_beh_name((enum nc_beh)p->mapping)));
	json_object_set_new(pj, "filtering", json_string(nc_beh_name((enum nc_beh)p->filtering)));
	json_object_set_new(pj, "allocation",
			    json_string(nc_alloc_name((enum nc_alloc)p->allocation)));
	json_object_set_new(pj, "port_step", json_integer(p->port_step));
	json_object_set_new(pj, "lifetime_s", json_integer(p->lifetime_s));
	json_object_set_new(pj, "udp_blocked", tri(p->udp_blocked));
	json_object_set_new(pj, "tcp_punchable", tri(p->tcp_punchable));
	json_object_set_new(pj, "hairpin", tri(p->hairpin));
	json_object_set_new(pj, "portmap", json_integer(p->portmap));
	json_object_set_new(pj, "portmap_ep", p->portmap != COORD_PM_NONE
						      ? json_string(nc_addr_ip_str(&p->portmap_ep, buf))
						      : json_null());
	json_object_set_new(o, "net_generation", json_integer((json_int_t)st->net_generation));
	json_object_set_new(o, "generation", json_integer((json_int_t)st->generation));
	json_object_set_new(o, "measuring", json_boolean(st->measuring));
	json_object_set_new(o, "summary", json_string(st->summary));
	json_object_set_new(o, "took_ms", json_integer(st->took_ms));
	json_object_set_new(o, "keepalive_ms", json_integer(strategy_keepalive_ms(p, NULL)));
	json_object_set_new(o, "profile", pj);
	json_object_set_new(o, "local", la);
	char *s = json_dumps(o, JSON_COMPACT);
	if (s) {
		printf("%s\n", s);
		fflush(stdout);
		free(s);
	}
	json_decref(o);
}

static int usage(const char *msg, const char *arg)
{
	if (msg)
		fprintf(stderr, "pvnatprof: %s%s%s%s\n", msg, arg ? " '" : "", arg ? arg : "",
			arg ? "'" : "");
	fprintf(stderr, "usage: pvnatprof --stun IP:PORT [--skip IFNAME] [--budget-ms N] "
			"[--portmap] [--lifetime [--lifetime-max S]] [--generations N] "
			"[--timeout-ms N]\n");
	return 2;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct natprof_cfg cfg = {0};
	double gens = 0, timeout = 0, budget = 0, lmax = 0;
	struct sigaction sa = {.sa_handler = on_signal};
	struct natprof *np;
	struct natprof_state st;
	uint64_t until;
	int err, rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--portmap") == 0) {
			cfg.portmap = true;
			continue;
		}
		if (strcmp(a, "--lifetime") == 0) {
			cfg.lifetime = true;
			continue;
		}
		if (!v)
			return usage("missing value or unknown option", a);
		i++;
		if (strcmp(a, "--stun") == 0) {
			if (nc_addr_parse(v, 3478, &cfg.stun) != 0)
				return usage("--stun: not IP[:PORT]:", v);
		} else if (strcmp(a, "--skip") == 0) {
			cfg.skip_ifname = v;
		} else if (strcmp(a, "--budget-ms") == 0) {
			if (nc_parse_number(v, 1, 60000, true, &budget) != 0)
				return usage("--budget-ms: not a number in 1-60000:", v);
			cfg.budget_ms = (unsigned)budget;
		} else if (strcmp(a, "--lifetime-max") == 0) {
			if (nc_parse_number(v, 1, 600, true, &lmax) != 0)
				return usage("--lifetime-max: not a number in 1-600:", v);
			cfg.lifetime_max_s = (unsigned)lmax;
		} else if (strcmp(a, "--generations") == 0) {
			if (nc_parse_number(v, 1, 1000, true, &gens) != 0)
				return usage("--generations: not a number in 1-1000:", v);
		} else if (strcmp(a, "--timeout-ms") == 0) {
			if (nc_parse_number(v, 1, 3600000, true, &timeout) != 0)
				return usage("--timeout-ms: not a number in 1-3600000:", v);
		} else {
			return usage("unknown option", a);
		}
	}
	if (!nc_addr_is_set(&cfg.stun))
		return usage("--stun is required", NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	err = natprof_start(&np, &cfg);
	if (err < 0) {
		fprintf(stderr, "pvnatprof: %s\n", nc_strerror(err));
		return 1;
	}
	natprof_state(np, &st);
	print_state(&st, cfg.skip_ifname, 51900);
	until = timeout > 0 ? ms_now() + (uint64_t)timeout : 0;
	while (!stop) {
		struct pollfd pfd = {.fd = natprof_fd(np), .events = POLLIN};
		int wait = -1;

		if (until) {
			uint64_t now = ms_now();

			if (now >= until) {
				fprintf(stderr, "pvnatprof: timed out\n");
				rc = 1;
				break;
			}
			wait = (int)(until - now);
		}
		if (poll(&pfd, 1, wait) < 0 && errno != EINTR)
			break;
		if (!(pfd.revents & POLLIN))
			continue;
		natprof_state(np, &st);
		print_state(&st, cfg.skip_ifname, 51900);
		if (gens > 0 && st.generation >= (uint64_t)gens)
			break;
	}
	natprof_stop(np);
	return rc;
}
