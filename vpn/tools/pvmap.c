/* pvmap: runs punchvpn's port-mapping module (vpnmap.h) on its own, for
 * tests/integration/test_vpn_portmap.sh and for trying a gateway by hand.
 *
 *   pvmap PORT [--observed IP] [--hold SECONDS] [--lifetime SECONDS] [--protos LIST]
 *              [--gateway IP] [--listen] [--stop-ms MS] [--retry-max SECONDS]
 *
 * Maps UDP port PORT at the gateway and prints the module's state as one JSON object per line,
 * at start and whenever it changes. --observed is the public address punchvpnd would report
 * (the advertisement is judged against it); --protos limits the protocols
 * ("nat-pmp,pcp,upnp-igd", tried in that order); --listen binds PORT as the tunnel would and
 * prints each datagram that arrives ({"event":"recv",...}). SIGHUP says the network changed.
 * SIGTERM, SIGINT or the end of --hold stops it: every mapping is deleted within --stop-ms
 * (default 3000) and a last line {"event":"stopped","left":N,"took_ms":T} says how many
 * could not be.
 *
 * Exit status: 0 when every mapping was deleted, 1 when one was left, 2 on a usage error.
 * Test tool only: never installed. */
#include <natcheck/addr.h>
#include <natcheck/error.h>
#include <natcheck/result.h>

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "numparse.h"
#include "vpnmap.h"

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void emit(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	if (s) {
		printf("%s\n", s);
		fflush(stdout);
		free(s);
	}
	json_decref(o);
}

static json_t *addr_or_null(const struct nc_addr *a, bool with_port)
{
	char b[NC_ADDR_STRLEN];

	if (!nc_addr_is_set(a))
		return json_null();
	return json_string(with_port ? nc_addr_str(a, b) : nc_addr_ip_str(a, b));
}

static void print_state(const struct vpnmap_state *st, uint64_t t0)
{
	json_t *o = json_object();
	struct coord_profile prof = {0};
	char b[NC_ADDR_STRLEN];

	vpnmap_fill_profile(st, &prof);
	json_object_set_new(o, "t_ms", json_integer((json_int_t)(ms_now() - t0)));
	json_object_set_new(o, "state", json_string(vpnmap_status_name(st->status)));
	json_object_set_new(o, "proto", json_string(vpnmap_pm_name(st->proto)));
	json_object_set_new(o, "gateway", addr_or_null(&st->gateway, false));
	json_object_set_new(o, "external", addr_or_null(&st->external, true));
	json_object_set_new(o, "observed", addr_or_null(&st->observed, false));
	json_object_set_new(o, "advertise", json_boolean(st->advertise));
	json_object_set_new(o, "why", json_string(st->why));
	json_object_set_new(o, "lifetime_s", json_integer(st->lifetime_s));
	json_object_set_new(o, "expires_in_s", json_integer(st->expires_in_s));
	json_object_set_new(o, "next_in_ms", json_integer(st->next_in_ms));
	json_object_set_new(o, "failures", json_integer(st->failures));
	json_object_set_new(o, "refreshes", json_integer((json_int_t)st->refreshes));
	json_object_set_new(o, "generation", json_integer((json_int_t)st->generation));
	json_object_set_new(o, "profile_portmap", json_string(vpnmap_pm_name(prof.portmap)));
	json_object_set_new(o, "profile_portmap_ep",
			    prof.portmap ? json_string(nc_addr_str(&prof.portmap_ep, b))
					 : json_null());
	emit(o);
}

static int usage(const char *msg, const char *arg)
{
	if (msg)
		fprintf(stderr, "pvmap: %s%s%s%s\n", msg, arg ? " '" : "", arg ? arg : "",
			arg ? "'" : "");
	fprintf(stderr, "usage: pvmap PORT [--observed IP] [--hold SECONDS] [--lifetime SECONDS] "
			"[--protos nat-pmp,pcp,upnp-igd] [--gateway IP] [--listen] [--stop-ms MS] "
			"[--retry-max SECONDS]\n");
	return 2;
}

static int parse_protos(const char *s, unsigned *out)
{
	char buf[64], *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	*out = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int found = 0;

		for (int p = 0; p < NC_PM_COUNT; p++) {
			if (strcmp(t, nc_pm_proto_name((enum nc_pm_proto)p)) == 0) {
				*out |= 1u << p;
				found = 1;
			}
		}
		if (!found)
			return -1;
	}
	return *out ? 0 : -1;
}

static int listen_on(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "pvmap: cannot bind UDP port %u: %s\n", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void report_datagrams(int fd, uint64_t t0)
{
	for (;;) {
		char buf[512], from[NC_ADDR_STRLEN];
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct nc_addr a;
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&ss, &sl);
		json_t *o;

		if (n < 0)
			return;
		buf[n] = '\0';
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] < 0x20 || buf[i] > 0x7e)
				buf[i] = '.';
		if (nc_addr_from_sockaddr(&a, (struct sockaddr *)&ss, sl) < 0)
			continue;
		o = json_object();
		json_object_set_new(o, "t_ms", json_integer((json_int_t)(ms_now() - t0)));
		json_object_set_new(o, "event", json_string("recv"));
		json_object_set_new(o, "from", json_string(nc_addr_str(&a, from)));
		json_object_set_new(o, "data", json_string(buf));
		emit(o);
	}
}

int main(int argc, char **argv)
{
	struct vpnmap_cfg cfg = {0};
	struct nc_addr observed = {0};
	double v, hold = 0, stop_ms = 0;
	bool listen = false;
	struct vpnmap *vm;
	struct vpnmap_state st;
	sigset_t sigs;
	int sfd, ufd = -1, r, left;
	uint64_t t0 = ms_now(), stop_at;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(NULL, NULL);
	if (nc_parse_number(argv[1], 1, 65535, true, &v) < 0)
		return usage("not a UDP port:", argv[1]);
	cfg.port = (uint16_t)v;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--listen") == 0) {
			listen = true;
			continue;
		}
		if (!val)
			return usage("missing value after", a);
		i++;
		if (strcmp(a, "--observed") == 0) {
			if (nc_addr_parse_ip(val, &observed) < 0)
				return usage("not an IP address:", val);
		} else if (strcmp(a, "--gateway") == 0) {
			if (nc_addr_parse_ip(val, &cfg.gateway) < 0 ||
			    cfg.gateway.family != AF_INET)
				return usage("not an IPv4 address:", val);
		} else if (strcmp(a, "--hold") == 0) {
			if (nc_parse_number(val, 0, 86400, false, &hold) < 0)
				return usage("not a number of seconds (0-86400):", val);
		} else if (strcmp(a, "--lifetime") == 0) {
			if (nc_parse_number(val, 1, 86400, true, &v) < 0)
				return usage("not a lifetime in seconds (1-86400):", val);
			cfg.lifetime_s = (uint32_t)v;
		} else if (strcmp(a, "--retry-max") == 0) {
			if (nc_parse_number(val, 1, 86400, true, &v) < 0)
				return usage("not a number of seconds (1-86400):", val);
			cfg.retry_max_s = (uint32_t)v;
		} else if (strcmp(a, "--stop-ms") == 0) {
			if (nc_parse_number(val, 1, 60000, true, &stop_ms) < 0)
				return usage("not a number of ms (1-60000):", val);
		} else if (strcmp(a, "--protos") == 0) {
			if (parse_protos(val, &cfg.protos) < 0)
				return usage("not a list of nat-pmp, pcp, upnp-igd:", val);
		} else {
			return usage("unknown option", a);
		}
	}

	/* Signals become events (signalfd); every thread started after this inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("pvmap: signalfd");
		return 1;
	}
	if (listen && (ufd = listen_on(cfg.port)) < 0)
		return 1;
	r = vpnmap_start(&vm, &cfg);
	if (r < 0) {
		fprintf(stderr, "pvmap: %s\n", nc_strerror(r));
		return 1;
	}
	if (nc_addr_is_set(&observed))
		vpnmap_set_observed(vm, &observed);
	vpnmap_state(vm, &st);
	print_state(&st, t0);
	stop_at = hold > 0 ? t0 + (uint64_t)(hold * 1000) : 0;
	for (;;) {
		struct pollfd p[3] = {{.fd = vpnmap_fd(vm), .events = POLLIN},
				      {.fd = sfd, .events = POLLIN},
				      {.fd = ufd, .events = POLLIN}};
		uint64_t now = ms_now();
		int ms = -1;

		if (stop_at) {
			if (now >= stop_at)
				break;
			ms = (int)(stop_at - now);
		}
		if (poll(p, 3, ms) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			vpnmap_state(vm, &st);
			print_state(&st, t0);
		}
		if (p[2].revents & POLLIN)
			report_datagrams(ufd, t0);
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				/* As the device does: the change, then (at its next REGISTERED) the
				 * observed address again. */
				vpnmap_network_changed(vm);
				if (nc_addr_is_set(&observed))
					vpnmap_set_observed(vm, &observed);
				continue;
			}
			break;
		}
	}
	{
		uint64_t t = ms_now();
		json_t *o = json_object();

		left = vpnmap_stop(vm, (uint32_t)stop_ms);
		json_object_set_new(o, "t_ms", json_integer((json_int_t)(ms_now() - t0)));
		json_object_set_new(o, "event", json_string("stopped"));
		json_object_set_new(o, "left", json_integer(left));
		json_object_set_new(o, "took_ms", json_integer((json_int_t)(ms_now() - t)));
		emit(o);
	}
	if (ufd >= 0)
		close(ufd);
	close(sfd);
	return left ? 1 : 0;
}
