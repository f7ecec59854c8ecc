/* natcheck-reflector: the RFC 5780 STUN server natcheck measures against.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 if the key file is refused or it cannot bind or drop
 * privileges, 2 usage. */
#include "coord.h"
#include <natcheck/error.h>
#include <natcheck/keyfile.h>
#include <natcheck/log.h>
#include <natcheck/privdrop.h>
#include "netutil.h"
#include "numparse.h"
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct options {
	struct refl_server_cfg cfg;
	const char *user;
	bool drop;
	const char *pidfile;
	const char *keyfile;
	struct coord_cfg coord;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: natcheck-reflector --primary ADDR [--alternate ADDR] [options]\n"
		"\n"
		"Serves RFC 5780 STUN (UDP and STUN over TCP) on ports --port and --alt-port of the\n"
		"primary and, if given, the alternate address. With --primary alone it is a\n"
		"single-address server: no OTHER-ADDRESS, and CHANGE-REQUEST is answered with 420.\n"
		"\n"
		"Options:\n"
		"  --primary ADDR        primary address (required)\n"
		"  --alternate ADDR      alternate address (a second IP of this host)\n"
		"  --port N              primary port (default 3478)\n"
		"  --alt-port N          alternate port (default 3479)\n"
		"  --threads N           worker threads, 1..64 (default: number of CPUs)\n"
		"  --rate PPS            answers per second per source IP, 0 = no limit (default 200)\n"
		"  --burst N             burst allowance of that limit (default 400)\n"
		"  --byte-budget B       answer bytes per second per source IP, 0 = no limit\n"
		"                        (default 65536)\n"
		"  --user NAME           drop privileges to this user after binding (default nobody\n"
		"                        when started as root)\n"
		"  --no-drop             keep running as the starting user\n"
		"  --fast-path IFACE     answer small IPv4 requests arriving on IFACE (Ethernet;\n"
		"                        auto = the interface that holds the primary address)\n"
		"                        through packet rings instead of the UDP stack: about\n"
		"                        half the CPU per answer, but before and past the host\n"
		"                        firewall; needs CAP_NET_RAW (docs/reflector.md)\n"
		"  --pidfile FILE        write the process id here\n"
		"  --key FILE            shared key of linked reflectors (32 bytes, raw or hex):\n"
		"                        enables the authenticated coordination link\n"
		"  --partner ADDR        the alternate address is this partner host (three-host\n"
		"                        deployment; needs --key)\n"
		"  --bouncer ADDR        the third-party bouncer: an address of this host (act as\n"
		"                        bouncer here) or a bouncer host (needs --key)\n"
		"  --coord-port N        coordination port (default 3480)\n"
		"  --cb-port N           port connect-backs and bounces leave from (default 3481)\n"
		"  -v, --verbose         debug logging (rate-limited per-packet lines)\n"
		"  -h, --help            this help\n"
		"      --version         print the version\n"
		"\n"
		"SIGUSR1 prints the counters; SIGTERM or SIGINT stops (exit status 0).\n");
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
	if (nc_parse_number(s, lo, hi, false, out) == 0)
		return 0;
	fprintf(stderr, "natcheck-reflector: %s: invalid value '%s' (expected %g..%g)\n", opt, s, lo, hi);
	return -1;
}

/* Ports and thread counts: whole numbers only. */
static int parse_int(const char *opt, const char *s, double lo, double hi, double *out)
{
	if (nc_parse_number(s, lo, hi, true, out) == 0)
		return 0;
	fprintf(stderr, "natcheck-reflector: %s: invalid value '%s' (expected a whole number %g..%g)\n",
		opt, s, lo, hi);
	return -1;
}

static int parse_addr(const char *opt, const char *s, struct nc_addr *a)
{
	if (nc_addr_parse_ip(s, a) < 0) {
		fprintf(stderr, "natcheck-reflector: %s: not an IP address: '%s'\n", opt, s);
		return -1;
	}
	/* Every role is one end of unicast exchanges: a wildcard would make the answers' source
	 * (and OTHER-ADDRESS) whatever the routing picks, and nothing answers from a multicast
	 * or broadcast address. */
	if (!nc_addr_ip_is_unicast(a)) {
		fprintf(stderr, "natcheck-reflector: %s: '%s' is not a unicast address (a wildcard, "
			"multicast or broadcast address cannot serve STUN)\n", opt, s);
		return -1;
	}
	return 0;
}

/* The coordination ports share the primary address with the STUN ports (UDP and TCP): any
 * two equal would make one service receive the other's traffic, or fail to bind. Checked for
 * the ports in use (the service runs) or given. */
static int check_coord_ports(const struct options *o, bool check_coord, bool check_cb)
{
	static const char *const names[] = {"--port", "--alt-port", "--coord-port", "--cb-port"};
	const uint16_t ports[] = {o->cfg.port, o->cfg.alt_port, o->coord.coord_port, o->coord.cb_port};
	const bool used[] = {true, true, check_coord, check_cb};

	for (int i = 2; i < 4; i++) {
		for (int j = 0; j < i; j++) {
			if (!used[i] || !used[j] || ports[i] != ports[j])
				continue;
			fprintf(stderr, "natcheck-reflector: %s %u is also %s: the ports must differ\n",
				names[i], ports[i], names[j]);
			return -1;
		}
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { O_PRIMARY = 256, O_ALTERNATE, O_PORT, O_ALTPORT, O_THREADS, O_RATE, O_BURST,
	       O_BYTES, O_USER, O_NODROP, O_PIDFILE, O_VERSION, O_KEY, O_PARTNER, O_BOUNCER,
	       O_COORDPORT, O_CBPORT, O_FASTPATH };
	static const struct option longopts[] = {
		{"primary", required_argument, NULL, O_PRIMARY},
		{"alternate", required_argument, NULL, O_ALTERNATE},
		{"port", required_argument, NULL, O_PORT},
		{"alt-port", required_argument, NULL, O_ALTPORT},
		{"threads", required_argument, NULL, O_THREADS},
		{"rate", required_argument, NULL, O_RATE},
		{"burst", required_argument, NULL, O_BURST},
		{"byte-budget", required_argument, NULL, O_BYTES},
		{"user", required_argument, NULL, O_USER},
		{"no-drop", no_argument, NULL, O_NODROP},
		{"pidfile", required_argument, NULL, O_PIDFILE},
		{"key", required_argument, NULL, O_KEY},
		{"partner", required_argument, NULL, O_PARTNER},
		{"bouncer", required_argument, NULL, O_BOUNCER},
		{"coord-port", required_argument, NULL, O_COORDPORT},
		{"cb-port", required_argument, NULL, O_CBPORT},
		{"fast-path", required_argument, NULL, O_FASTPATH},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, O_VERSION},
		{NULL, 0, NULL, 0},
	};
	bool coord_port_given = false, cb_port_given = false, coord_runs;
	double v;
	int c;

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_PRIMARY:
			if (parse_addr("--primary", optarg, &o->cfg.primary) < 0)
				return -1;
			break;
		case O_ALTERNATE:
			if (parse_addr("--alternate", optarg, &o->cfg.alternate) < 0)
				return -1;
			break;
		case O_PORT:
		case O_ALTPORT:
			if (parse_int(c == O_PORT ? "--port" : "--alt-port", optarg, 1, 65535, &v) < 0)
				return -1;
			*(c == O_PORT ? &o->cfg.port : &o->cfg.alt_port) = (uint16_t)v;
			break;
		case O_THREADS:
			if (parse_int("--threads", optarg, 1, 64, &v) < 0)
				return -1;
			o->cfg.threads = (unsigned)v;
			break;
		case O_RATE:
			if (parse_num("--rate", optarg, 0, 1e9, &o->cfg.rate_pps) < 0)
				return -1;
			break;
		case O_BURST:
			if (parse_num("--burst", optarg, 1, 1e9, &o->cfg.rate_burst) < 0)
				return -1;
			break;
		case O_BYTES:
			if (parse_num("--byte-budget", optarg, 0, 1e12, &o->cfg.byte_budget) < 0)
				return -1;
			break;
		case O_USER: o->user = optarg; break;
		case O_NODROP: o->drop = false; break;
		case O_PIDFILE: o->pidfile = optarg; break;
		case O_FASTPATH: o->cfg.fast_path_if = optarg; break;
		case O_KEY: o->keyfile = optarg; break;
		case O_PARTNER:
			if (parse_addr("--partner", optarg, &o->coord.partner) < 0)
				return -1;
			break;
		case O_BOUNCER:
			if (parse_addr("--bouncer", optarg, &o->coord.bouncer) < 0)
				return -1;
			break;
		case O_COORDPORT:
		case O_CBPORT:
			if (parse_int(c == O_COORDPORT ? "--coord-port" : "--cb-port", optarg, 1, 65535, &v) < 0)
				return -1;
			*(c == O_COORDPORT ? &o->coord.coord_port : &o->coord.cb_port) = (uint16_t)v;
			*(c == O_COORDPORT ? &coord_port_given : &cb_port_given) = true;
			break;
		case 'v': nc_log_set_level(NC_LOG_DEBUG); break;
		case 'h': usage(stdout); exit(0);
		case O_VERSION: printf("natcheck-reflector %s\n", NC_VERSION); exit(0);
		default: return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "natcheck-reflector: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!nc_addr_is_set(&o->cfg.primary)) {
		fprintf(stderr, "natcheck-reflector: --primary is required\n");
		return -1;
	}
	if (nc_addr_is_set(&o->cfg.alternate) &&
	    (o->cfg.alternate.family != o->cfg.primary.family || nc_addr_ip_eq(&o->cfg.alternate, &o->cfg.primary))) {
		fprintf(stderr, "natcheck-reflector: --alternate must be another address of the same family\n");
		return -1;
	}
	if (nc_addr_is_set(&o->coord.partner)) {
		if (nc_addr_is_set(&o->cfg.alternate)) {
			fprintf(stderr, "natcheck-reflector: --partner and --alternate exclude each other\n");
			return -1;
		}
		if (o->coord.partner.family != o->cfg.primary.family || nc_addr_ip_eq(&o->coord.partner, &o->cfg.primary)) {
			fprintf(stderr, "natcheck-reflector: --partner must be another address of the same family\n");
			return -1;
		}
	}
	if (nc_addr_is_set(&o->coord.bouncer) && o->coord.bouncer.family != o->cfg.primary.family) {
		fprintf(stderr, "natcheck-reflector: --bouncer must be of the primary address's family\n");
		return -1;
	}
	if (o->cfg.port == o->cfg.alt_port) {
		fprintf(stderr, "natcheck-reflector: --port and --alt-port must differ\n");
		return -1;
	}
	coord_runs = o->keyfile || nc_addr_is_set(&o->coord.partner) || nc_addr_is_set(&o->coord.bouncer);
	return check_coord_ports(o, coord_runs || coord_port_given, coord_runs || cb_port_given);
}

/* The coordination service (coord.h): needed for a bouncer, a partner or a key. */
static int setup_coord(struct options *o)
{
	struct coord_cfg *cc = &o->coord;
	int err;

	if (!o->keyfile && !nc_addr_is_set(&cc->partner) && !nc_addr_is_set(&cc->bouncer))
		return 0;
	cc->primary = o->cfg.primary;
	cc->alternate = o->cfg.alternate;
	cc->port = o->cfg.port;
	cc->alt_port = o->cfg.alt_port;
	cc->bouncer_local = nc_addr_is_set(&cc->bouncer) && nc_local_interface(&cc->bouncer, NULL) == 0;
	if (o->keyfile) {
		if ((err = ncp_key_load(o->keyfile, cc->key)) < 0) {
			char msg[512];
			if (err == -NC_E_PARSE)
				nc_log_error("--key %s: %s (expected 32 raw bytes or 64 hex digits)",
					     o->keyfile, nc_strerror(err));
			else
				nc_log_error("--key %s", nc_secret_file_error(o->keyfile, err, msg, sizeof(msg)));
			return -1;
		}
		cc->has_key = true;
	} else if (nc_addr_is_set(&cc->partner) || (nc_addr_is_set(&cc->bouncer) && !cc->bouncer_local)) {
		nc_log_error("--partner and a remote --bouncer need --key: the coordination link is "
			  "always authenticated");
		return -1;
	}
	if (nc_addr_is_set(&cc->partner)) {
		o->cfg.alternate = cc->partner;
		o->cfg.alternate_remote = true;
	}
	err = coord_open(&o->cfg.coord, cc);
	sodium_memzero(cc->key, sizeof(cc->key));
	if (err < 0) {
		nc_log_error("coordination: %s", nc_strerror(err));
		return -1;
	}
	return 0;
}

static void print_counters(const struct refl_counters *c)
{
	nc_log_info("answered %llu (errors %llu, fast path %llu), malformed %llu, rate-limited %llu, "
		 "ring drops %llu, send failures %llu, tcp connections %llu (%llu closed at the "
		 "connection limit)",
		 (unsigned long long)c->answered, (unsigned long long)c->errors_sent,
		 (unsigned long long)c->fast_path, (unsigned long long)c->malformed,
		 (unsigned long long)c->rate_limited, (unsigned long long)c->ring_drops,
		 (unsigned long long)c->send_failed, (unsigned long long)c->tcp_conns,
		 (unsigned long long)c->tcp_refused);
}

struct sigctx {
	sigset_t set;
	struct refl_server *srv;
	struct coord *coord;
};

static void print_coord_counters(const struct coord *c)
{
	char line[1024];

	if (!c)
		return;
	coord_format_counters(c, line, sizeof(line));
	nc_log_info("%s", line);
}

/* Signals become events: this thread waits for them, the workers never see them. */
static void *signal_thread(void *arg)
{
	struct sigctx *sc = arg;
	int sig;

	for (;;) {
		if (sigwait(&sc->set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			print_counters(refl_server_counters(sc->srv));
			print_coord_counters(sc->coord);
			continue;
		}
		nc_log_info("signal %d: stopping", sig);
		refl_server_stop(sc->srv);
		return NULL;
	}
}

int main(int argc, char **argv)
{
	struct options o = {.drop = true};
	struct refl_server *srv;
	struct sigctx sc;
	pthread_t st;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	nc_log_init("natcheck-reflector");
	o.cfg.port = 3478;
	o.cfg.alt_port = 3479;
	o.coord.coord_port = COORD_DEFAULT_PORT;
	o.coord.cb_port = COORD_DEFAULT_CB_PORT;
	o.cfg.threads = cpus > 0 && cpus <= 64 ? (unsigned)cpus : 1;
	/* One natcheck run is about 35 answers of ~100 bytes, and many users can share one
	 * public address behind a carrier-grade NAT; a flood still gets at most this much. */
	o.cfg.rate_pps = 200;
	o.cfg.rate_burst = 400;
	o.cfg.byte_budget = 65536;
	o.cfg.tcp_max_conns = 256;
	o.cfg.tcp_idle_ms = 10000;
	o.cfg.software = "natcheck-reflector " NC_VERSION;
	if (parse_args(argc, argv, &o) < 0) {
		fprintf(stderr, "Try 'natcheck-reflector --help'.\n");
		return 2;
	}
	if (sodium_init() < 0) /* the rate limiter keys its hash from the RNG */
		return 1;
	if (o.cfg.fast_path_if && strcmp(o.cfg.fast_path_if, "auto") == 0) {
		static char ifname[IF_NAMESIZE];
		if ((err = nc_local_interface(&o.cfg.primary, ifname)) < 0) {
			nc_log_error("--fast-path auto: no interface holds %s",
				  nc_addr_ip_str(&o.cfg.primary, (char[NC_ADDR_STRLEN]){0}));
			return 1;
		}
		o.cfg.fast_path_if = ifname;
	}
	if (setup_coord(&o) < 0)
		return 1;
	if ((err = refl_server_open(&srv, &o.cfg)) < 0) {
		coord_free(o.cfg.coord);
		return 1;
	}
	if (o.cfg.coord)
		coord_set_relay_fds(o.cfg.coord, refl_server_udp_fd(srv, REFL_PP), refl_server_udp_fd(srv, REFL_PA));
	if (o.pidfile) {
		FILE *f = fopen(o.pidfile, "w");
		if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
			nc_log_error("cannot write %s: %s", o.pidfile, strerror(errno));
			refl_server_free(srv);
			return 1;
		}
	}
	/* As root the default is nobody; started as another user, only an explicit --user is
	 * checked (nc_drop_privileges says it has nothing to drop, or refuses another user). */
	if (o.drop && (geteuid() == 0 || o.user) &&
	    nc_drop_privileges(o.user ? o.user : "nobody") < 0) {
		refl_server_free(srv);
		return 1;
	}
	/* Block the signals before the first thread exists (so every thread inherits the mask)
	 * and before "ready:" (so a SIGUSR1 or SIGTERM after it is an event), but not earlier:
	 * until here (key file, sockets, privileges) SIGTERM and Ctrl-C stop the process at
	 * once, whatever step is slow. */
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	{
		const struct refl_ctx *ctx = refl_server_ctx(srv);
		char a[NC_ADDR_STRLEN], b[NC_ADDR_STRLEN];
		nc_log_info("ready: %s and %s%s%s, UDP and TCP, %u thread(s)%s%s%s",
			 nc_addr_str(&ctx->local[REFL_PP], a), nc_addr_str(&ctx->local[REFL_PA], b),
			 ctx->has_alternate ? " on the primary address, and the same ports on " : "",
			 ctx->has_alternate ? nc_addr_ip_str(&ctx->local[REFL_AP], (char[NC_ADDR_STRLEN]){0}) : "",
			 o.cfg.threads, ctx->has_alternate ? "" : " (single-address mode)",
			 o.cfg.fast_path_if ? ", fast path on " : "", o.cfg.fast_path_if ? o.cfg.fast_path_if : "");
	}
	if (o.cfg.coord && coord_start(o.cfg.coord) < 0) {
		refl_server_free(srv);
		coord_free(o.cfg.coord);
		return 1;
	}
	sc.srv = srv;
	sc.coord = o.cfg.coord;
	if (pthread_create(&st, NULL, signal_thread, &sc) != 0) {
		refl_server_free(srv);
		return 1;
	}
	err = refl_server_run(srv);
	print_counters(refl_server_counters(srv));
	print_coord_counters(o.cfg.coord);
	coord_free(o.cfg.coord);
	pthread_cancel(st);
	pthread_join(st, NULL);
	refl_server_free(srv);
	if (o.pidfile)
		unlink(o.pidfile);
	return err < 0 ? 1 : 0;
}
