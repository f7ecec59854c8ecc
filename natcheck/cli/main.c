/* natcheck: what does the NAT between this host and the internet do?
 *
 * parse the command line -> nc_run() (<natcheck/run.h>) -> print the report or JSON.
 *
 * Exit codes (stable, documented in README.md and natcheck --help):
 *   0    the run completed (whatever the NAT does)
 *   1    no server answered: UDP is blocked, or the servers are down
 *   2    usage error (options, server addresses)
 *   3    the run could not start (name resolution, sockets, capture permission), a result
 *        file for --reclassify could not be read, or the output could not be written
 *   4    the server answered, but unusably: only STUN errors, answers from another source
 *        than asked, or malformed answers (udp.server_problem says which)
 *   5    --submit / --resend: the result could not be submitted (it is saved; --resend)
 *   130  cancelled by SIGINT, SIGTERM or SIGHUP (test mappings deleted; what was measured
 *        until then is printed, marked partial)
 */
#include <natcheck/addr.h>
#include <natcheck/cancel.h>
#include <natcheck/capture.h>
#include <natcheck/error.h>
#include <natcheck/result.h>
#include <natcheck/run.h>
#include <natcheck/submit.h>
#include "numparse.h" /* private: the suite's one strict number parser */
#include "report.h"   /* private: the human report lives in the core layer */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_DONE = 0, EXIT_NO_ANSWER = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3,
       EXIT_SUBMIT = 5, EXIT_CANCELLED = 130 };

#define DEFAULT_PORT 3478
#define MAX_RESULT_FILE (4u << 20)

/* Built-in public servers for a run without arguments: one RFC 5780 server with two
 * addresses (stuntman's public instance) and a second, independent server for the
 * mapping-across-servers check. Never used by the tests, which stay in namespaces. */
static const char *const default_servers[] = {"stun.stunprotocol.org:3478",
					      "stun.l.google.com:19302"};

/* The one piece of global state: the handle the signal handlers fire. */
static struct nc_cancel *g_cancel;

struct options {
	bool json;
	bool verbose;
	bool fast;
	int color; /* -1 auto, 0 never, 1 always */
	const char *pcap;
	const char *reclassify;
	bool submit, resend, yes;
	struct nc_submit_cfg sub; /* --submit URL, --vendor, --model, --note */
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
		"       %s --reclassify FILE [--json]\n"
		"\n"
		"Classifies the NAT between this host and SERVER (an RFC 5780 STUN server such as\n"
		"natcheck-reflector) in RFC 4787 terms: mapping, filtering, port allocation,\n"
		"hairpinning and ALGs. A second server adds a mapping check across servers.\n"
		"Without servers, built-in public servers are used.\n"
		"\n"
		"Options:\n"
		"  -j, --json            print one JSON document (schema natcheck-result v1)\n"
		"  -v, --verbose         show every probe as it happens and a table of all probes\n"
		"      --fast            mapping, filtering, allocation and port-mapping presence\n"
		"                        only (no hairpin, topology, TCP, lifetime or test mapping)\n"
		"  -p, --pcap FILE       record this run's probe traffic (needs root/CAP_NET_RAW)\n"
		"      --port N          local port for the mapping test (default: fresh random)\n"
		"      --samples N       port allocation samples, 3..%d (default %d)\n"
		"      --no-hairpin      skip the hairpin test (some firewalls flag it as an attack)\n"
		"      --budget MS       stop the whole run, every phase, after MS milliseconds\n"
		"                        (default 5000; +3000 with --tcp, +10000 with --tcp-full,\n"
		"                        +5 x lifetime-max with --lifetime; 1000 with --fast)\n"
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
		"      --reclassify FILE re-derive the verdicts of a saved JSON result and print it\n"
		"                        (with --submit: and submit it)\n"
		"      --submit[=URL]    send the anonymised result to a natcheck collector, after\n"
		"                        showing it (--yes: without asking); --vendor, --model and\n"
		"                        --note describe the NAT. Unsent documents are saved\n"
		"      --resend          send the documents earlier --submit runs saved (to\n"
		"                        $NATCHECK_SUBMIT_URL, else the default collector)\n"
		"  -4, -6                use IPv4 / IPv6 only when resolving server names\n"
		"      --color WHEN      auto (default: only on a terminal), always, never\n"
		"  -h, --help            this help\n"
		"      --version         print the version\n"
		"\n"
		"Exit status: 0 run completed, 1 no server answered (UDP blocked?), 2 usage error,\n"
		"3 the run could not start (name resolution, sockets, capture permission), the\n"
		"result file could not be read, or the output could not be written, 130 cancelled\n"
		"(Ctrl-C, SIGTERM, SIGHUP: test mappings are deleted, the partial result printed),\n"
		"4 the server answered, but unusably (STUN errors, wrong source, malformed),\n"
		"5 the result could not be submitted (saved for --resend).\n",
		prog, prog, NC_MAX_ALLOC, NC_RUN_DEFAULT_SAMPLES);
}

/* A decimal number lo..hi, nothing else (no sign, no spaces, no suffix): the suite's one
 * strict number parser. */
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

/* Whether s has the shape of an IPv4 literal (digits and dots only): such a string is an
 * address or an error, never a name to send to DNS. */
static bool looks_ipv4(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			return false;
	return true;
}

/* SERVER[:PORT]: an address literal, or a name resolved with getaddrinfo. Returns 0,
 * EXIT_USAGE (bad literal or port, message printed) or EXIT_RUNTIME (name not resolved). */
static int resolve(const char *spec, int family, struct nc_addr *out)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	size_t hlen = strlen(spec);
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_family = family}, *res;
	unsigned p = DEFAULT_PORT;
	int rc;

	if (!*spec) {
		fprintf(stderr, "natcheck: empty server address\n");
		return EXIT_USAGE;
	}
	/* "[v6]:port", bare IPv6 (two colons or more) and digits-and-dots are literals. */
	if (spec[0] == '[' || (colon && strchr(spec, ':') != colon)) {
		if (nc_addr_parse(spec, DEFAULT_PORT, out) < 0) {
			fprintf(stderr, "natcheck: '%s' is not a valid IPv6 address[:port] (ports "
					"1..65535)\n", spec);
			return EXIT_USAGE;
		}
		goto literal;
	}
	if (colon) {
		if (parse_uint("server port", colon + 1, 1, 65535, &p) < 0)
			return EXIT_USAGE;
		hlen = (size_t)(colon - spec);
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		fprintf(stderr, "natcheck: '%s': %s host name\n", spec, hlen ? "overlong" : "empty");
		return EXIT_USAGE;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (looks_ipv4(host, hlen)) {
		if (nc_addr_parse_ip(host, out) < 0 || out->family != AF_INET) {
			fprintf(stderr, "natcheck: '%s' is not a valid IPv4 address\n", host);
			return EXIT_USAGE;
		}
		out->port = (uint16_t)p;
		goto literal;
	}
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "natcheck: cannot resolve '%s': %s\n", host, gai_strerror(rc));
		return EXIT_RUNTIME;
	}
	rc = nc_addr_from_sockaddr(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	out->port = (uint16_t)p;
	return rc < 0 ? EXIT_RUNTIME : 0;
literal:
	if (family != AF_UNSPEC && family != out->family) {
		fprintf(stderr, "natcheck: '%s' is not an address of the family asked for\n", spec);
		return EXIT_USAGE;
	}
	return 0;
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
	       OPT_TCP_FULL, OPT_FAST, OPT_RECLASSIFY, OPT_SUBMIT, OPT_RESEND, OPT_VENDOR,
	       OPT_MODEL, OPT_NOTE, OPT_YES };
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"fast", no_argument, NULL, OPT_FAST},
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
		{"reclassify", required_argument, NULL, OPT_RECLASSIFY},
		{"submit", optional_argument, NULL, OPT_SUBMIT},
		{"resend", no_argument, NULL, OPT_RESEND},
		{"vendor", required_argument, NULL, OPT_VENDOR},
		{"model", required_argument, NULL, OPT_MODEL},
		{"note", required_argument, NULL, OPT_NOTE},
		{"yes", no_argument, NULL, OPT_YES},
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
		case 'p':
			if (!*optarg) {
				fprintf(stderr, "natcheck: --pcap: empty file name\n");
				return -1;
			}
			o->pcap = optarg;
			break;
		case '4': o->family = AF_INET; break;
		case '6': o->family = AF_INET6; break;
		case OPT_FAST: o->fast = true; break;
		case OPT_RECLASSIFY: o->reclassify = optarg; break;
		case OPT_SUBMIT:
			o->submit = true;
			o->sub.url = optarg; /* NULL: $NATCHECK_SUBMIT_URL or the default */
			break;
		case OPT_RESEND: o->resend = true; break;
		case OPT_VENDOR: o->sub.vendor = optarg; break;
		case OPT_MODEL: o->sub.model = optarg; break;
		case OPT_NOTE: o->sub.note = optarg; break;
		case OPT_YES: o->yes = true; break;
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
			if (parse_uint("--budget", optarg, 100, 86400000, &o->budget_ms) < 0)
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
	if (o->reclassify && argc - optind > 0) {
		fprintf(stderr, "natcheck: --reclassify reads a saved result: no servers\n");
		return -1;
	}
	if ((o->sub.vendor || o->sub.model || o->sub.note || o->yes) && !o->submit) {
		fprintf(stderr, "natcheck: --vendor, --model, --note and --yes go with --submit\n");
		return -1;
	}
	if (o->resend && (o->submit || o->reclassify || argc - optind > 0)) {
		fprintf(stderr, "natcheck: --resend only sends what earlier runs saved\n");
		return -1;
	}
	if (o->fast && (o->tcp || o->lifetime)) {
		fprintf(stderr, "natcheck: --fast leaves out TCP and lifetime tests\n");
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

/* Async-signal-safe: the run notices within about a second and cleans up. */
static void on_signal(int sig)
{
	(void)sig;
	nc_cancel_fire(g_cancel);
}

static int install_handlers(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	return 0;
}

/* The report or the JSON document; EXIT_RUNTIME (with the reason on stderr) when stdout
 * cannot take it. */
static int print_result(const struct options *o, const struct nc_result *r)
{
	int failed;

	if (o->json) {
		char *doc = nc_result_to_json(r, true);
		if (!doc) {
			fprintf(stderr, "natcheck: out of memory\n");
			return EXIT_RUNTIME;
		}
		failed = fputs(doc, stdout) < 0 || fputc('\n', stdout) == EOF;
		free(doc);
	} else {
		struct nc_report_opts ro = {.color = want_color(o->color), .verbose = o->verbose};
		failed = nc_report_write(stdout, r, &ro) < 0;
	}
	if (fflush(stdout) != 0 || failed || ferror(stdout)) {
		fprintf(stderr, "natcheck: cannot write the result to standard output: %s\n",
			strerror(errno ? errno : EIO));
		return EXIT_RUNTIME;
	}
	return EXIT_DONE;
}

static void resend_line(void *ctx, const char *file, int rc, const struct nc_submit_status *st)
{
	(void)ctx;
	fprintf(stderr, "natcheck: %s: %s\n", file, rc == 0 ? "stored" : st->message);
}

/* --resend: every document an earlier --submit could not deliver. */
static int resend(const struct options *o)
{
	char dir[512];
	int left = nc_submit_resend(&o->sub, resend_line, NULL);

	if (left < 0) {
		fprintf(stderr, "natcheck: cannot read the outbox %s: %s\n",
			nc_submit_outbox(&o->sub, dir, sizeof(dir)), nc_strerror(left));
		return EXIT_RUNTIME;
	}
	if (left > 0) {
		fprintf(stderr, "natcheck: %d document(s) still unsent in %s\n", left,
			nc_submit_outbox(&o->sub, dir, sizeof(dir)));
		return EXIT_SUBMIT;
	}
	return EXIT_DONE;
}

/* --submit: show the anonymised document (on stderr, so --json output stays one document),
 * ask unless --yes, send; a failure leaves the document in the outbox for --resend. */
static int submit(const struct options *o, const struct nc_result *r)
{
	struct nc_submit_status st;
	int rc;

	memset(&st, 0, sizeof(st));
	rc = nc_submit_interactive(&o->sub, r, o->yes, stdin, stderr, &st);
	if (rc == 0) {
		fprintf(stderr, "natcheck: submitted (id %s)\n", st.id);
		return EXIT_DONE;
	}
	if (rc == 1)
		return EXIT_DONE; /* declined: nothing sent, nothing saved */
	fprintf(stderr, "natcheck: %s\n", st.message);
	return EXIT_SUBMIT;
}

/* --reclassify FILE: the verdicts re-derived from the recorded observations. */
static int reclassify(const struct options *o, struct nc_result *r)
{
	FILE *f = fopen(o->reclassify, "r");
	char *text, err[256] = "";
	size_t n;
	int rc;

	if (!f) {
		fprintf(stderr, "natcheck: cannot open %s: %s\n", o->reclassify, strerror(errno));
		return EXIT_RUNTIME;
	}
	text = malloc(MAX_RESULT_FILE + 1);
	if (!text) {
		fclose(f);
		fprintf(stderr, "natcheck: out of memory\n");
		return EXIT_RUNTIME;
	}
	n = fread(text, 1, MAX_RESULT_FILE + 1, f);
	rc = ferror(f);
	fclose(f);
	if (rc || n > MAX_RESULT_FILE) {
		fprintf(stderr, "natcheck: cannot read %s: %s\n", o->reclassify,
			rc ? "read error" : "larger than 4 MiB, not a result");
		free(text);
		return EXIT_RUNTIME;
	}
	rc = nc_result_from_json(text, n, r, err, sizeof(err));
	free(text);
	if (rc < 0) {
		fprintf(stderr, "natcheck: %s is not a natcheck result: %s\n", o->reclassify,
			err[0] ? err : nc_strerror(rc));
		return EXIT_RUNTIME;
	}
	nc_result_classify(r);
	rc = print_result(o, r);
	if (rc == EXIT_DONE)
		rc = nc_result_exit_status(r);
	if (o->submit) { /* a saved result is submitted as it reads now */
		int sst = submit(o, r);
		if (rc == EXIT_DONE)
			rc = sst;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = {.color = -1, .family = AF_UNSPEC};
	struct nc_run_cfg cfg = {0};
	struct nc_result *r;
	const char *specs[2] = {NULL, NULL};
	int first, nspec, err, status;

	if (parse_args(argc, argv, &o, &first) < 0) {
		fprintf(stderr, "Try '%s --help'.\n", argv[0]);
		return EXIT_USAGE;
	}
	/* A closed stdout would be taken by the first socket and receive the result. */
	if (fcntl(STDOUT_FILENO, F_GETFD) < 0) {
		fprintf(stderr, "natcheck: cannot write the result: standard output is closed\n");
		return EXIT_RUNTIME;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		fprintf(stderr, "natcheck: out of memory\n");
		return EXIT_RUNTIME;
	}
	if (o.resend) {
		free(r);
		return resend(&o);
	}
	if (o.reclassify) {
		status = reclassify(&o, r);
		free(r);
		return status;
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
		if ((status = resolve(specs[i], o.family, a)) != 0) {
			free(r);
			return status;
		}
	}
	if (nc_addr_is_set(&cfg.server2) && cfg.server2.family != cfg.server.family) {
		fprintf(stderr, "natcheck: the two servers must be of the same address family\n");
		free(r);
		return EXIT_USAGE;
	}
	cfg.preset = o.fast ? NC_PRESET_FAST : NC_PRESET_FULL;
	cfg.budget_ms = o.budget_ms;
	cfg.map_port = o.port;
	cfg.samples = o.samples;
	cfg.no_hairpin = o.no_hairpin;
	cfg.no_topology = o.no_topology;
	cfg.no_portmap = o.no_portmap;
	cfg.tcp = o.tcp;
	cfg.tcp_full = o.tcp_full;
	cfg.lifetime = o.lifetime;
	cfg.lifetime_max = o.lifetime_max;
	cfg.pcap_path = o.pcap;
	cfg.capture = o.pcap ? &nc_pcap_capture : NULL;
	if (o.verbose) {
		cfg.trace = trace_line;
		cfg.trace_arg = stderr;
	}
	if (o.lifetime && !o.json && !o.verbose && isatty(STDERR_FILENO)) {
		cfg.lifetime_progress = lifetime_progress;
		cfg.progress_arg = &o.lifetime_max;
	}
	g_cancel = cfg.cancel = nc_cancel_new();
	if (!g_cancel || install_handlers() < 0) {
		fprintf(stderr, "natcheck: cannot set up Ctrl-C handling: %s\n", strerror(errno));
		free(r);
		return EXIT_RUNTIME;
	}

	err = nc_run(&cfg, r);
	if (cfg.lifetime_progress)
		fprintf(stderr, "\r%*s\r", 80, "");
	if (err < 0 && err != -NC_E_CANCELLED) {
		if (o.pcap && (err == -NC_E_UNSUPPORTED || err == -NC_E_INVALID))
			fprintf(stderr, "natcheck: cannot record to %s: %s\n", o.pcap,
				nc_pcap_last_error());
		else
			fprintf(stderr, "natcheck: cannot run the tests: %s\n", nc_strerror(err));
		status = EXIT_RUNTIME;
	} else if (err == -NC_E_CANCELLED) {
		/* What was measured until the signal, if anything; the JSON says it is partial. */
		if (r->udp.reachable != NC_TRI_UNKNOWN) {
			(void)print_result(&o, r);
			fprintf(stderr, "natcheck: cancelled; the result above is partial\n");
		} else {
			fprintf(stderr, "natcheck: cancelled before any answer; nothing to report\n");
		}
		status = EXIT_CANCELLED;
	} else {
		status = print_result(&o, r);
		if (status == EXIT_DONE)
			status = nc_result_exit_status(r); /* 1 no answer, 4 unusable answers */
		if (o.submit && r->udp.reachable == NC_TRI_YES) {
			int sst = submit(&o, r);
			if (status == EXIT_DONE)
				status = sst;
		} else if (o.submit) {
			fprintf(stderr, "natcheck: nothing to submit: the server did not answer\n");
		}
	}
	free(r);
	cfg.cancel = g_cancel;
	g_cancel = NULL; /* a late signal now fires nothing */
	nc_cancel_free(cfg.cancel);
	return status;
}
