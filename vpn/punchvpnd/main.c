/* punchvpnd: punchvpn's rendezvous and blind relay (docs/punchvpn.md, "punchvpnd").
 *
 *   punchvpnd --listen ADDR:PORT [--listen ...] --key FILE --user NAME [options]
 *
 * Keys come from punchvpn itself: `punchvpn genkey > server.key` (mode 0600) and
 * `punchvpn pubkey < server.key` for the value peers put in their config.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 when the key file is refused or it cannot bind or drop
 * privileges, 2 usage. */
#include <natcheck/error.h>
#include <natcheck/log.h>
#include <natcheck/privdrop.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "numparse.h"
#include "pvd.h"

struct options {
	struct pvd_cfg cfg;
	const char *keyfile;
	const char *user;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: punchvpnd --listen ADDR:PORT --key FILE --user NAME [options]\n"
	    "\n"
	    "punchvpn's rendezvous and relay: peers register here (UDP, or TCP on the same port\n"
	    "number where UDP is blocked), learn each other's endpoints when both list each\n"
	    "other, and relay end-to-end encrypted packets through it when no direct path works.\n"
	    "\n"
	    "Options:\n"
	    "  --listen ADDR:PORT   address to serve, UDP and TCP (repeatable, at most %d;\n"
	    "                       IPv6 as [ADDR]:PORT; a unicast address, not a wildcard)\n"
	    "  --key FILE           the server's private key (punchvpn genkey; mode 0600)\n"
	    "  --user NAME          drop to this user after binding (required when started as\n"
	    "                       root; --user root keeps root, not recommended)\n"
	    "  --max-peers N        registration table size (default 65536)\n"
	    "  --reg-rate N         coordination datagrams per second per source IP (default 20)\n"
	    "  --reg-burst N        burst of that rate (default 40)\n"
	    "  --relay-pps N        relayed packets per second per peer (default 2000)\n"
	    "  --relay-bytes N      relayed bytes per second per peer (default 2500000, at least "
	    "%d)\n"
	    "  --max-tcp N          open TCP connections (default 1024)\n"
	    "  --tcp-idle S         close a TCP connection silent this long (default 60)\n"
	    "  --keepalive S        re-registration interval told to peers (default %d)\n"
	    "  -v, --verbose        debug logging (rate-limited per-packet lines)\n"
	    "  -h, --help           this help\n"
	    "      --version        print the version\n"
	    "\n"
	    "SIGUSR1 logs the counters; SIGTERM or SIGINT stops (exit status 0).\n",
	    PVD_MAX_LISTEN, 4096, COORD_KEEPALIVE_S);
}

static int parse_uint(const char *opt, const char *s, double lo, double hi, unsigned *out)
{
	double v;

	if (nc_parse_number(s, lo, hi, true, &v) != 0) {
		fprintf(stderr,
			"punchvpnd: %s: invalid value '%s' (expected a whole number %g..%g)\n", opt,
			s, lo, hi);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_listen(struct options *o, const char *s)
{
	struct nc_addr a;

	if (o->cfg.n_listen == PVD_MAX_LISTEN) {
		fprintf(stderr, "punchvpnd: --listen: at most %d addresses\n", PVD_MAX_LISTEN);
		return -1;
	}
	if (nc_addr_parse(s, 0, &a) != 0 || a.port == 0) {
		fprintf(stderr, "punchvpnd: --listen: '%s' is not ADDR:PORT (IPv6: [ADDR]:PORT)\n",
			s);
		return -1;
	}
	/* Answers must leave from the address the peer sent to (its NAT only lets that one
	 * back in): a wildcard socket would answer from whatever the routing picks. */
	if (!nc_addr_ip_is_unicast(&a)) {
		fprintf(stderr,
			"punchvpnd: --listen: '%s' is not a unicast address (a wildcard cannot "
			"promise the answer's source address; name each address)\n",
			s);
		return -1;
	}
	for (size_t i = 0; i < o->cfg.n_listen; i++) {
		if (nc_addr_eq(&o->cfg.listen[i], &a)) {
			fprintf(stderr, "punchvpnd: --listen: '%s' given twice\n", s);
			return -1;
		}
	}
	o->cfg.listen[o->cfg.n_listen++] = a;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		O_LISTEN = 256,
		O_KEY,
		O_USER,
		O_MAXPEERS,
		O_REGRATE,
		O_REGBURST,
		O_RELAYPPS,
		O_RELAYBYTES,
		O_MAXTCP,
		O_TCPIDLE,
		O_KEEPALIVE,
		O_VERSION
	};
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"key", required_argument, NULL, O_KEY},
	    {"user", required_argument, NULL, O_USER},
	    {"max-peers", required_argument, NULL, O_MAXPEERS},
	    {"reg-rate", required_argument, NULL, O_REGRATE},
	    {"reg-burst", required_argument, NULL, O_REGBURST},
	    {"relay-pps", required_argument, NULL, O_RELAYPPS},
	    {"relay-bytes", required_argument, NULL, O_RELAYBYTES},
	    {"max-tcp", required_argument, NULL, O_MAXTCP},
	    {"tcp-idle", required_argument, NULL, O_TCPIDLE},
	    {"keepalive", required_argument, NULL, O_KEEPALIVE},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	int c, rc = 0;

	while (rc == 0 && (c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			rc = parse_listen(o, optarg);
			break;
		case O_KEY:
			o->keyfile = optarg;
			break;
		case O_USER:
			o->user = optarg;
			break;
		case O_MAXPEERS:
			rc = parse_uint("--max-peers", optarg, 1, 1 << 24, &o->cfg.max_peers);
			break;
		case O_REGRATE:
			rc = parse_uint("--reg-rate", optarg, 1, 1e6, &o->cfg.reg_rate);
			break;
		case O_REGBURST:
			rc = parse_uint("--reg-burst", optarg, 1, 1e6, &o->cfg.reg_burst);
			break;
		case O_RELAYPPS:
			rc = parse_uint("--relay-pps", optarg, 1, 1e7, &o->cfg.relay_pps);
			break;
		/* Below one largest datagram a second, nothing of that size could ever pass. */
		case O_RELAYBYTES:
			rc = parse_uint("--relay-bytes", optarg, 4096, 4e9, &o->cfg.relay_bps);
			break;
		case O_MAXTCP:
			rc = parse_uint("--max-tcp", optarg, 0, 1e6, &o->cfg.max_tcp);
			break;
		case O_TCPIDLE:
			rc = parse_uint("--tcp-idle", optarg, 1, 86400, &o->cfg.tcp_idle_s);
			break;
		case O_KEEPALIVE:
			rc = parse_uint("--keepalive", optarg, 1, 3600, &o->cfg.keepalive_s);
			break;
		case 'v':
			nc_log_set_level(NC_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("punchvpnd %s\n", NC_VERSION);
			exit(0);
		default:
			return -1;
		}
	}
	if (rc != 0)
		return -1;
	if (optind < argc) {
		fprintf(stderr,
			"punchvpnd: unexpected argument '%s' (keys: punchvpn genkey / pubkey)\n",
			argv[optind]);
		return -1;
	}
	if (o->cfg.n_listen == 0 || !o->keyfile) {
		fprintf(stderr, "punchvpnd: --listen and --key are required\n");
		return -1;
	}
	/* A peer re-registers every keepalive: a registration must outlive a lost one or two,
	 * and an idle TCP connection must survive the interval. */
	if (o->cfg.keepalive_s * 3 > COORD_WANT_TTL_S) {
		fprintf(stderr,
			"punchvpnd: --keepalive %u: at most %u (a third of the registration "
			"lifetime, %u s)\n",
			o->cfg.keepalive_s, COORD_WANT_TTL_S / 3, COORD_WANT_TTL_S);
		return -1;
	}
	if (o->cfg.tcp_idle_s <= o->cfg.keepalive_s) {
		fprintf(stderr, "punchvpnd: --tcp-idle %u must be longer than --keepalive %u\n",
			o->cfg.tcp_idle_s, o->cfg.keepalive_s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {.cfg = {.max_peers = 65536,
				    .reg_rate = 20,
				    .reg_burst = 40,
				    .relay_pps = 2000,
				    .relay_bps = 2500000,
				    .max_tcp = 1024,
				    .tcp_idle_s = 60,
				    .keepalive_s = COORD_KEEPALIVE_S}};
	struct pvd_server *s;
	char err[768], pubtxt[VPN_KEY_B64_LEN + 1], a[NC_ADDR_STRLEN];
	sigset_t mask;
	int rc;

	nc_log_init("punchvpnd");
	if (parse_args(argc, argv, &o) < 0) {
		fprintf(stderr, "Try 'punchvpnd --help'.\n");
		return 2;
	}
	if (geteuid() == 0 && !o.user) {
		fprintf(stderr,
			"punchvpnd: started as root without --user: name the user to drop to "
			"after binding (--user root keeps root)\n");
		return 2;
	}
	if (sodium_init() < 0) {
		nc_log_error("libsodium failed to initialise");
		return 1;
	}
	if (vpn_key_load_file(o.cfg.priv, o.keyfile, err, sizeof(err)) != 0) {
		nc_log_error("%s", err);
		return 1;
	}
	if (vpn_key_public(o.cfg.pub, o.cfg.priv) != 0) {
		nc_log_error("%s: not a usable X25519 private key", o.keyfile);
		sodium_memzero(o.cfg.priv, sizeof(o.cfg.priv));
		return 1;
	}
	/* From here SIGTERM/SIGINT/SIGUSR1 are events of the loop (signalfd). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = pvd_server_open(&s, &o.cfg, err, sizeof(err));
	sodium_memzero(o.cfg.priv, sizeof(o.cfg.priv)); /* the server holds its own copy */
	if (rc != 0) {
		nc_log_error("%s", err);
		return 1;
	}
	if (o.user && nc_drop_privileges(o.user) < 0) {
		pvd_server_free(s);
		return 1;
	}
	vpn_key_to_b64(pubtxt, o.cfg.pub);
	for (size_t i = 0; i < o.cfg.n_listen; i++)
		nc_log_info("ready: %s UDP and TCP", nc_addr_str(&o.cfg.listen[i], a));
	nc_log_info("public key %s; up to %u peers, relay %u packets and %u bytes/s per peer, "
		    "%u TCP connections",
		    pubtxt, o.cfg.max_peers, o.cfg.relay_pps, o.cfg.relay_bps, o.cfg.max_tcp);
	rc = pvd_server_run(s);
	pvd_server_free(s);
	if (rc != 0) {
		nc_log_error("event loop: %s", nc_strerror(rc));
		return 1;
	}
	return 0;
}
