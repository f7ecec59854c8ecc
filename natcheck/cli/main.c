/* natcheck: what does the NAT between this host and the internet do?
 *
 * Exit codes (stable, documented in README.md and natcheck --help):
 *   0  the run completed (whatever the NAT does)
 *   1  no server answered: UDP is blocked, or the servers are down
 *   2  usage error
 *   3  the run could not start: name resolution, sockets, capture permissions
 */
#include <natcheck/addr.h>
#include <natcheck/error.h>
#include "lifetime.h"
#include "netutil.h"
#include "numparse.h"
#include "pcapture.h"
#include "pmtest.h"
#include "portmap.h"
#include "probe.h"
#include "report.h"
#include "tcpprobe.h"
#include "topology.h"
#include <natcheck/result.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_DONE = 0, EXIT_NO_ANSWER = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

#define DEFAULT_PORT 3478

/* Built-in public servers for a run without arguments: one RFC 5780 server with two
 * addresses (stuntman's public instance) and a second, independent server for the
 * mapping-across-servers check. Never used by the tests, which stay in namespaces. */
static const char *const default_servers[] = {"stun.stunprotocol.org:3478",
					      "stun.l.google.com:19302"};

struct options {
	bool json;
	bool verbose;
	int color; /* -1 auto, 0 never, 1 always */
	const char *pcap;
	uint16_t port;
	unsigned samples;
	unsigned budget_ms;
	bool no_hairpin;
	bool lifetime;
	unsigned lifetime_max;
	bool no_topology;
	bool no_portmap;
	bool tcp, tcp_full;
	int family; /* AF_UNSPEC, AF_INET or AF_INET6 */
};

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [options] [SERVER[:PORT] [SERVER2[:PORT]]]\n"
		"\n"
		"Classifies the NAT between this host and SERVER (an RFC 5780 STUN server such as\n"
		"natcheck-reflector) in RFC 4787 terms: mapping, filtering, port allocation,\n"
		"hairpinning and ALGs. A second server adds a mapping check across servers.\n"
		"Without servers, built-in public servers are used.\n"
		"\n"
		"Options:\n"
		"  -j, --json            print one JSON document (schema natcheck-result v1)\n"
		"  -v, --verbose         show every probe as it happens and a table of all probes\n"
		"  -p, --pcap FILE       record this run's probe traffic (needs root/CAP_NET_RAW)\n"
		"      --port N          local port for the mapping test (default: fresh random)\n"
		"      --samples N       port allocation samples, 3..%d (default %d)\n"
		"      --no-hairpin      skip the hairpin test (some firewalls flag it as an attack)\n"
		"      --budget MS       stop the run after MS milliseconds (default 5000)\n"
		"      --no-topology     skip the TTL-limited probes that count NAT layers\n"
		"      --tcp             also run NAT Check's TCP tests and the third-party UDP\n"
		"                        test (needs a natcheck-reflector with a bouncer; ~1 s)\n"
		"      --tcp-full        the same, waiting 8 s for an unsolicited SYN's fate\n"
		"                        (RFC 5382 REQ-4: a NAT must stay silent for 6 s)\n"
		"      --no-portmap      skip NAT-PMP, PCP and UPnP-IGD (by default each one found\n"
		"                        gets a real test mapping, deleted again before exit)\n"
		"      --lifetime        also measure the binding lifetime and whether inbound\n"
		"                        traffic refreshes it (takes about 4-6x the lifetime)\n"
		"      --lifetime-max S  longest idle time to try, 2..3600 s (default 120)\n"
		"  -4, -6                use IPv4 / IPv6 only when resolving server names\n"
		"      --color WHEN      auto (default: only on a terminal), always, never\n"
		"  -h, --help            this help\n"
		"      --version         print the version\n"
		"\n"
		"Exit status: 0 run completed, 1 no server answered (UDP blocked?), 2 usage error,\n"
		"3 the run could not start (name resolution, sockets, capture permission).\n",
		prog, NC_MAX_ALLOC, NC_PROBE_DEFAULT_SAMPLES);
}

static int parse_uint(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	double v;

	if (nc_parse_number(s, lo, hi, true, &v) < 0) {
		fprintf(stderr, "natcheck: %s: invalid value '%s' (expected %u..%u)\n", opt, s, lo, hi);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* SERVER[:PORT]: an address literal, or a name resolved with getaddrinfo. */
static int resolve(const char *spec, int family, struct nc_addr *out)
{
	char host[256];
	const char *port = NULL, *colon;
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_family = family}, *res;
	unsigned p = DEFAULT_PORT;
	int rc;

	if (nc_addr_parse(spec, DEFAULT_PORT, out) == 0)
		return (family == AF_UNSPEC || family == out->family) ? 0 : -NC_E_FAMILY;
	colon = strrchr(spec, ':');
	if (colon && strchr(spec, ':') == colon) {
		port = colon + 1;
		if (parse_uint("server port", port, 1, 65535, &p) < 0)
			return -NC_E_PARSE;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(port ? (size_t)(colon - spec) : strlen(spec)), spec);
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "natcheck: cannot resolve '%s': %s\n", host, gai_strerror(rc));
		return -NC_E_PARSE;
	}
	rc = nc_addr_from_sockaddr(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	out->port = (uint16_t)p;
	return rc;
}

static void trace_line(void *arg, const char *line)
{
	fprintf((FILE *)arg, "%s\n", line);
}

static bool want_color(int color)
{
	const char *term = getenv("TERM");

	if (color >= 0)
		return color == 1;
	return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

static int parse_args(int argc, char **argv, struct options *o, int *first_server)
{
	enum { OPT_PORT = 256, OPT_SAMPLES, OPT_NO_HAIRPIN, OPT_BUDGET, OPT_COLOR, OPT_VERSION,
	       OPT_LIFETIME, OPT_LIFETIME_MAX, OPT_NO_TOPOLOGY, OPT_NO_PORTMAP, OPT_TCP,
	       OPT_TCP_FULL };
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"pcap", required_argument, NULL, 'p'},
		{"port", required_argument, NULL, OPT_PORT},
		{"samples", required_argument, NULL, OPT_SAMPLES},
		{"no-hairpin", no_argument, NULL, OPT_NO_HAIRPIN},
		{"budget", required_argument, NULL, OPT_BUDGET},
		{"lifetime", no_argument, NULL, OPT_LIFETIME},
		{"no-topology", no_argument, NULL, OPT_NO_TOPOLOGY},
		{"no-portmap", no_argument, NULL, OPT_NO_PORTMAP},
		{"tcp", no_argument, NULL, OPT_TCP},
		{"tcp-full", no_argument, NULL, OPT_TCP_FULL},
		{"lifetime-max", required_argument, NULL, OPT_LIFETIME_MAX},
		{"color", required_argument, NULL, OPT_COLOR},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	unsigned v;
	int c;

	while ((c = getopt_long(argc, argv, "jvp:46h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'v': o->verbose = true; break;
		case 'p': o->pcap = optarg; break;
		case '4': o->family = AF_INET; break;
		case '6': o->family = AF_INET6; break;
		case OPT_PORT:
			if (parse_uint("--port", optarg, 1, 65535, &v) < 0)
				return -1;
			o->port = (uint16_t)v;
			break;
		case OPT_SAMPLES:
			if (parse_uint("--samples", optarg, 3, NC_MAX_ALLOC, &o->samples) < 0)
				return -1;
			break;
		case OPT_NO_HAIRPIN: o->no_hairpin = true; break;
		case OPT_BUDGET:
			if (parse_uint("--budget", optarg, 100, 600000, &o->budget_ms) < 0)
				return -1;
			break;
		case OPT_LIFETIME: o->lifetime = true; break;
		case OPT_NO_TOPOLOGY: o->no_topology = true; break;
		case OPT_NO_PORTMAP: o->no_portmap = true; break;
		case OPT_TCP: o->tcp = true; break;
		case OPT_TCP_FULL: o->tcp = o->tcp_full = true; break;
		case OPT_LIFETIME_MAX:
			if (parse_uint("--lifetime-max", optarg, 2, 3600, &o->lifetime_max) < 0)
				return -1;
			o->lifetime = true;
			break;
		case OPT_COLOR:
			if (!strcmp(optarg, "auto"))
				o->color = -1;
			else if (!strcmp(optarg, "always"))
				o->color = 1;
			else if (!strcmp(optarg, "never"))
				o->color = 0;
			else {
				fprintf(stderr, "natcheck: --color: invalid value '%s' (expected auto, "
						"always or never)\n", optarg);
				return -1;
			}
			break;
		case 'h': usage(stdout, argv[0]); exit(EXIT_DONE);
		case OPT_VERSION: printf("natcheck %s\n", NC_VERSION); exit(EXIT_DONE);
		default: return -1;
		}
	}
	if (argc - optind > 2) {
		fprintf(stderr, "natcheck: at most two servers, got %d\n", argc - optind);
		return -1;
	}
	*first_server = optind;
	return 0;
}

/* One line, redrawn in place on the terminal: elapsed time and the bracket so far. */
static void lifetime_progress(void *arg, unsigned elapsed_s, double lo, double hi)
{
	const unsigned *max_opt = arg;
	unsigned max = *max_opt ? *max_opt : 120, width = 30, fill;
	/* Expected total: about three times the bracket's top, or of the bound if none yet. */
	double expect = 3 * (hi > 0 ? hi : max);

	fill = (unsigned)(width * (elapsed_s >= expect ? 1.0 : elapsed_s / expect));
	fprintf(stderr, "\r[%.*s%*s] %4us  binding lifetime ", (int)fill,
		"##############################", (int)(width - fill), "", elapsed_s);
	if (hi > 0)
		fprintf(stderr, "between %.1f and %.1f s   ", lo, hi);
	else
		fprintf(stderr, "at least %.1f s        ", lo);
}

static int run_lifetime(const struct options *o, const struct nc_probe_cfg *cfg,
			struct nc_result *r)
{
	struct nc_lifetime_cfg lc = {
		.server = cfg->server,
		.max_s = o->lifetime_max,
		.trace = cfg->trace,
		.trace_arg = cfg->trace_arg,
	};
	static unsigned lifetime_max_arg;
	bool bar = !o->json && !o->verbose && isatty(STDERR_FILENO);

	lifetime_max_arg = o->lifetime_max;
	int err;

	if (bar) {
		lc.progress = lifetime_progress;
		lc.progress_arg = &lifetime_max_arg;
	}
	err = nc_probe_lifetime(&lc, r);
	if (bar)
		fprintf(stderr, "\r%*s\r", 80, "");
	return err;
}

/* The port-mapping probe runs on its own thread while the STUN tests run. */
struct pm_job {
	struct nc_pm_cfg cfg;
	struct nc_portmap_result out[NC_PM_COUNT];
	pthread_t tid;
	bool started;
};

static void *pm_probe_thread(void *arg)
{
	struct pm_job *j = arg;

	nc_pm_probe(&j->cfg, j->out);
	return NULL;
}

/* Started by the probe engine once its allocation burst has left, so that the probe's own
 * packets never fall between the burst's samples (a userspace NAT sees them all). */
static void pm_start(void *arg)
{
	struct pm_job *j = arg;

	j->started = pthread_create(&j->tid, NULL, pm_probe_thread, j) == 0;
}

/* The probe (PCP's MAP learns the external address) and the real test create mappings on the
 * gateway; they must be gone before natcheck exits, Ctrl-C included. SIGINT, SIGTERM and
 * SIGHUP stay blocked from before the probe thread starts until the registry is empty, so a
 * signal waits that second at most and then acts as usual. */
static void pm_block_signals(bool block, sigset_t *old)
{
	sigset_t set;

	if (!block) {
		pthread_sigmask(SIG_SETMASK, old, NULL);
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

static void pm_real_test(const struct nc_probe_cfg *cfg, struct pm_job *j, struct nc_result *r)
{
	struct nc_pm_registry reg;
	int left;

	memset(&reg, 0, sizeof(reg));
	nc_pm_test(&j->cfg, &cfg->server, &reg, r->portmap);
	left = nc_pm_unmap_all(&reg);
	if (left > 0)
		nc_result_note(r, "port mapping: %d test mapping(s) could not be deleted; they expire "
				  "within a minute", left);
}

/* NAT Check's TCP suite and the third-party UDP test, after the UDP run. */
static void run_tcp(const struct options *o, const struct nc_probe_cfg *cfg, struct nc_result *r)
{
	struct nc_tcp_cfg tc = {.server = cfg->server, .other = r->server.other, .full = o->tcp_full,
				.no_hairpin = cfg->no_hairpin, .trace = cfg->trace,
				.trace_arg = cfg->trace_arg};
	struct nc_bounce_cfg bc = {.server = cfg->server, .trace = cfg->trace,
				   .trace_arg = cfg->trace_arg};
	struct nc_addr from;
	int arrived = -1, err;

	if ((err = nc_probe_tcp(&tc, r)) < 0)
		nc_result_note(r, "tcp: the tests could not run: %s", nc_strerror(err));
	if (nc_probe_bounce_udp(&bc, &arrived, &from) == 0 && arrived >= 0)
		nc_bounce_fold(r, arrived, &from);
	else
		nc_result_note(r, "filtering: no third-party test (the server has no bouncer)");
}

static void iso_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int main(int argc, char **argv)
{
	struct options o = {.color = -1, .family = AF_UNSPEC};
	struct nc_probe_cfg cfg = {0};
	struct nc_result *r;
	const char *specs[2] = {NULL, NULL};
	int first, nspec, err, status;
	uint64_t t_start;

	if (parse_args(argc, argv, &o, &first) < 0) {
		fprintf(stderr, "Try '%s --help'.\n", argv[0]);
		return EXIT_USAGE;
	}
	nspec = argc - first;
	for (int i = 0; i < nspec; i++)
		specs[i] = argv[first + i];
	if (nspec == 0) {
		specs[0] = default_servers[0];
		specs[1] = default_servers[1];
		nspec = 2;
	}
	for (int i = 0; i < nspec; i++) {
		struct nc_addr *a = i == 0 ? &cfg.server : &cfg.server2;
		if ((err = resolve(specs[i], o.family, a)) < 0) {
			if (err == -NC_E_FAMILY)
				fprintf(stderr, "natcheck: '%s' is not an address of the family asked "
						"for\n", specs[i]);
			return err == -NC_E_PARSE && strchr(specs[i], '/') ? EXIT_USAGE : EXIT_RUNTIME;
		}
	}
	if (nc_addr_is_set(&cfg.server2) && cfg.server2.family != cfg.server.family) {
		fprintf(stderr, "natcheck: the two servers must be of the same address family\n");
		return EXIT_USAGE;
	}
	cfg.map_port = o.port;
	cfg.samples = o.samples;
	cfg.no_hairpin = o.no_hairpin;
	cfg.budget_ms = o.budget_ms;
	cfg.pcap_path = o.pcap;
	cfg.capture = &nc_pcap_capture;
	if (o.verbose) {
		cfg.trace = trace_line;
		cfg.trace_arg = stderr;
	}

	r = malloc(sizeof(*r));
	if (!r) {
		fprintf(stderr, "natcheck: out of memory\n");
		return EXIT_RUNTIME;
	}
	nc_result_init(r);
	snprintf(r->tool_version, sizeof(r->tool_version), "%s", NC_VERSION);
	iso_now(r->started, sizeof(r->started));
	t_start = nc_now_us();
	struct pm_job pm;
	sigset_t saved_mask;
	memset(&pm, 0, sizeof(pm));
	if (!o.no_portmap && cfg.server.family == AF_INET) {
		pm.cfg.trace = cfg.trace;
		pm.cfg.trace_arg = cfg.trace_arg;
		pm_block_signals(true, &saved_mask);
		cfg.after_burst = pm_start;
		cfg.after_burst_arg = &pm;
	}
	err = nc_probe_udp(&cfg, r);
	if (cfg.after_burst && !pm.started)
		pm_block_signals(false, &saved_mask);
	if (pm.started) {
		pthread_join(pm.tid, NULL);
		memcpy(r->portmap, pm.out, sizeof(r->portmap));
		if (err == 0 && r->udp.reachable == NC_TRI_YES)
			pm_real_test(&cfg, &pm, r);
		pm_block_signals(false, &saved_mask);
	}
	if (err < 0) {
		if (err == -NC_E_UNSUPPORTED || (o.pcap && err == -NC_E_INVALID))
			fprintf(stderr, "natcheck: cannot record %s: %s\n", o.pcap, nc_pcap_last_error());
		else
			fprintf(stderr, "natcheck: cannot run the tests: %s\n", nc_strerror(err));
		free(r);
		return EXIT_RUNTIME;
	}
	if (o.tcp && r->udp.reachable == NC_TRI_YES)
		run_tcp(&o, &cfg, r);
	if (!o.no_topology && r->udp.nat == NC_TRI_YES) {
		/* Routers answer TTL expiry within a round trip; silent ones cost the wait. */
		struct nc_hops hops;
		unsigned wait = 4 * r->udp.rtt_us / 1000 + 50;
		if (nc_probe_hops(&cfg.server, 6, wait, NULL, &hops) == 0)
			nc_classify_topology(r, &hops);
	} else {
		nc_classify_topology(r, NULL);
	}
	if (o.lifetime && r->udp.reachable == NC_TRI_YES && (err = run_lifetime(&o, &cfg, r)) < 0)
		nc_result_note(r, "lifetime: the test stopped: %s", nc_strerror(err));
	r->duration_ms = (uint32_t)((nc_now_us() - t_start) / 1000); /* the whole run */
	if (o.json) {
		char *doc = nc_result_to_json(r, true);
		if (!doc) {
			fprintf(stderr, "natcheck: out of memory\n");
			free(r);
			return EXIT_RUNTIME;
		}
		fputs(doc, stdout);
		fputc('\n', stdout);
		free(doc);
	} else {
		struct nc_report_opts ro = {.color = want_color(o.color), .verbose = o.verbose};
		nc_report_write(stdout, r, &ro);
	}
	status = r->udp.reachable == NC_TRI_NO ? EXIT_NO_ANSWER : EXIT_DONE;
	free(r);
	return fflush(stdout) == 0 ? status : EXIT_RUNTIME;
}
