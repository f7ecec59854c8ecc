/* punchvpn: the peer-to-peer tunnel's command line, in wg(8)'s manner.
 *
 *   punchvpn genkey                  a new private key, base64, on stdout
 *   punchvpn pubkey                  private key on stdin -> public key on stdout
 *   punchvpn up CONFIG               bring the interface up, in the foreground
 *   punchvpn down IFNAME|CONFIG      tear it down
 *   punchvpn status [IFNAME] [--json]
 *
 * The interface is named after the config file (pv0.conf -> pv0), as wg-quick does.
 * Exit codes: 0 ok, 1 runtime error, 2 usage error. */
#include <natcheck/error.h>
#include <natcheck/log.h>

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "device.h"
#include "key.h"

static int usage(FILE *f)
{
	fprintf(f, "usage: punchvpn genkey\n"
		   "       punchvpn pubkey < private.key\n"
		   "       punchvpn up CONFIG\n"
		   "       punchvpn down IFNAME|CONFIG\n"
		   "       punchvpn status [IFNAME] [--json]\n"
		   "       punchvpn repunch IFNAME|CONFIG   (leave direct paths, punch again)\n"
		   "       punchvpn --version\n");
	return f == stderr ? 2 : 0;
}

static int cmd_genkey(int argc, char **argv)
{
	uint8_t k[VPN_KEY_LEN];
	char txt[VPN_KEY_B64_LEN + 1];
	struct stat st;

	(void)argv;
	if (argc != 1)
		return usage(stderr);
	/* wg genkey's warning: a key written to a file others can read is a leaked key. */
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		nc_log_warnx("writing a private key to a world-accessible file");
	vpn_key_generate(k);
	vpn_key_to_b64(txt, k);
	printf("%s\n", txt);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(txt, sizeof(txt));
	return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_pubkey(int argc, char **argv)
{
	char line[256];
	uint8_t k[VPN_KEY_LEN], pub[VPN_KEY_LEN];
	char txt[VPN_KEY_B64_LEN + 1];
	size_t n;
	int rc = 1;

	(void)argv;
	if (argc != 1)
		return usage(stderr);
	n = fread(line, 1, sizeof(line) - 1, stdin);
	line[n] = '\0';
	if (vpn_key_from_b64(k, line) != 0) {
		nc_log_error("pubkey: stdin is not a base64 private key (44 characters)");
		goto out;
	}
	if (vpn_key_public(pub, k) != 0) {
		nc_log_error("pubkey: not a usable X25519 private key");
		goto out;
	}
	vpn_key_to_b64(txt, pub);
	printf("%s\n", txt);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	sodium_memzero(line, sizeof(line));
	sodium_memzero(k, sizeof(k));
	return rc;
}

/* pv0.conf -> pv0; the name must be a valid interface name. */
static int ifname_of(const char *arg, char out[16])
{
	char copy[4096], *base;
	size_t len;

	snprintf(copy, sizeof(copy), "%s", arg);
	base = basename(copy);
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".conf") == 0)
		base[len -= 5] = '\0';
	if (len == 0 || len > 15)
		return -NC_E_INVALID;
	for (size_t i = 0; i < len; i++)
		if (!((base[i] >= 'a' && base[i] <= 'z') || (base[i] >= 'A' && base[i] <= 'Z') ||
		      (base[i] >= '0' && base[i] <= '9') || strchr("_=+.-", base[i])))
			return -NC_E_INVALID;
	memcpy(out, base, len + 1);
	return 0;
}

/* A control client that went away just misses its answer. */
static void send_str(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = write(fd, s + off, len - off);
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

static void serve_ctl(int lfd, struct dev *d, bool *stop)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		char line[64], *text;
		json_t *j;

		if (fd < 0)
			return;
		if (ctl_read_request(fd, line, sizeof(line)) == 0) {
			if (strcmp(line, "status") == 0) {
				text = dev_status_text(d);
				if (text)
					send_str(fd, text);
				free(text);
			} else if (strcmp(line, "status json") == 0) {
				j = dev_status_json(d);
				text = json_dumps(j, JSON_INDENT(2));
				if (text) {
					send_str(fd, text);
					send_str(fd, "\n");
				}
				free(text);
				json_decref(j);
			} else if (strcmp(line, "repunch") == 0) {
				dev_repunch(d);
				send_str(fd, "ok\n");
			} else if (strcmp(line, "down") == 0) {
				send_str(fd, "ok\n");
				*stop = true;
			} else {
				send_str(fd, "error: unknown request\n");
			}
		}
		close(fd);
	}
}

static int cmd_up(int argc, char **argv)
{
	struct vpn_cfg cfg;
	struct dev d;
	char err[768], name[16], sockpath[108];
	struct epoll_event ev;
	struct itimerspec its = {.it_interval = {0, 100000000}, .it_value = {0, 100000000}};
	sigset_t mask;
	int ep = -1, sfd = -1, tfd = -1, lfd = -1, nfd, mfd, cfd = -1, rc;
	bool stop = false, failed = false;

	if (argc != 2 && !(argc == 3 && strcmp(argv[2], "--foreground") == 0))
		return usage(stderr);
	if (ifname_of(argv[1], name) != 0) {
		fprintf(stderr, "punchvpn: %s: the file name must give an interface name of 1-15 "
				"characters [a-zA-Z0-9_=+.-] before .conf\n", argv[1]);
		return 2;
	}
	if (vpn_cfg_load(&cfg, argv[1], err, sizeof(err)) != 0) {
		nc_log_error("%s", err);
		return 1;
	}
	/* Signals become events for the main loop; the data-path threads inherit the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = ctl_listen(name, err, sizeof(err));
	if (lfd < 0) {
		nc_log_error("%s", err);
		vpn_cfg_free(&cfg);
		return 1;
	}
	ctl_path(sockpath, sizeof(sockpath), name);
	if ((rc = dev_init(&d, &cfg, name, err, sizeof(err))) != 0) {
		nc_log_error("%s", err);
		close(lfd);
		unlink(sockpath);
		vpn_cfg_free(&cfg);
		return 1;
	}
	if ((rc = dev_start(&d, err, sizeof(err))) != 0) {
		nc_log_error("%s", err);
		goto out;
	}
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || ep < 0 || timerfd_settime(tfd, 0, &its, NULL) != 0) {
		nc_log_warn("event setup");
		rc = 1;
		goto out;
	}
	nfd = dev_nat_fd(&d);
	mfd = dev_map_fd(&d);
	int fds[] = {sfd, tfd, lfd, d.kick_fd, nfd, mfd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (fds[i] < 0)
			continue;
		ev.events = EPOLLIN;
		ev.data.fd = fds[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	nc_log_info("%s up: %zu peer(s), port %u, mtu %u, offloads: tun %s, udp gso %s gro %s",
		name, cfg.n_peers, d.udp.port, d.tun.mtu, d.tun.offload ? "on" : "off",
		d.udp.gso ? "on" : "off", d.udp.gro ? "on" : "off");
	while (!stop) {
		struct epoll_event evs[8];
		int n, tcp = dev_tcp_fd(&d);

		/* The relay's TCP connection comes and goes (UDP blocked, server restarts). */
		if (tcp != cfd) {
			if (cfd >= 0)
				epoll_ctl(ep, EPOLL_CTL_DEL, cfd, NULL);
			ev.events = EPOLLIN;
			ev.data.fd = tcp;
			if (tcp >= 0)
				epoll_ctl(ep, EPOLL_CTL_ADD, tcp, &ev);
			cfd = tcp;
		}
		n = epoll_wait(ep, evs, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == sfd) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGHUP)
					stop = true;
			} else if (fd == tfd) {
				uint64_t v;
				ssize_t r = read(tfd, &v, sizeof(v));
				(void)r;
				dev_tick(&d);
			} else if (fd == lfd) {
				serve_ctl(lfd, &d, &stop);
			} else if (fd == nfd) {
				dev_nat_event(&d);
			} else if (fd == mfd) {
				dev_map_event(&d);
			} else if (fd == cfd) {
				dev_tcp_input(&d);
			} else {
				dev_tick(&d);
			}
		}
		if (dev_failed(&d, err, sizeof(err))) {
			nc_log_error("%s", err);
			stop = failed = true;
		}
	}
	rc = failed;
	nc_log_info("%s down", name);
out:
	dev_stop(&d); /* closing the TUN descriptor removes the interface, addresses and routes */
	if (ep >= 0)
		close(ep);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	close(lfd);
	unlink(sockpath);
	vpn_cfg_free(&cfg);
	return rc ? 1 : 0;
}

static int cmd_down(int argc, char **argv)
{
	char name[16], err[256];
	FILE *sink;
	int rc;

	if (argc != 2)
		return usage(stderr);
	if (ifname_of(argv[1], name) != 0) {
		fprintf(stderr, "punchvpn: '%s' is not an interface name or NAME.conf\n", argv[1]);
		return 2;
	}
	sink = fopen("/dev/null", "w");
	rc = ctl_request(name, "down", sink ? sink : stderr, err, sizeof(err));
	if (sink)
		fclose(sink);
	if (rc != 0) {
		nc_log_error("%s", err);
		return 1;
	}
	/* Teardown is done when the interface is gone (bounded wait). */
	for (int i = 0; i < 100 && tun_exists(name); i++)
		usleep(50000);
	if (tun_exists(name)) {
		nc_log_error("%s still exists after 5 s", name);
		return 1;
	}
	return 0;
}

/* Every introduced peer leaves its direct path and punches again, as after a network change:
 * for measuring how long a punch takes, and for a path that works but is not the best. */
static int cmd_repunch(int argc, char **argv)
{
	char name[16], err[256];

	if (argc != 2)
		return usage(stderr);
	if (ifname_of(argv[1], name) != 0) {
		fprintf(stderr, "punchvpn: '%s' is not an interface name or NAME.conf\n", argv[1]);
		return 2;
	}
	if (ctl_request(name, "repunch", stdout, err, sizeof(err)) != 0) {
		nc_log_error("%s", err);
		return 1;
	}
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	char names[64][16], err[256];
	bool json = false;
	const char *one = NULL;
	size_t n;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (!one && argv[i][0] != '-')
			one = argv[i];
		else
			return usage(stderr);
	}
	if (one) {
		if (ifname_of(one, names[0]) != 0) {
			fprintf(stderr, "punchvpn: '%s' is not an interface name\n", one);
			return 2;
		}
		n = 1;
	} else {
		n = ctl_list(names, 64);
		if (n == 0) {
			if (json)
				printf("[]\n");
			else
				nc_log_error("no interface is up");
			return json ? 0 : 1;
		}
	}
	if (json && !one)
		printf("[\n");
	for (size_t i = 0; i < n; i++) {
		if (json && !one && i)
			printf(",\n");
		if (ctl_request(names[i], json ? "status json" : "status", stdout, err, sizeof(err)) != 0) {
			nc_log_error("%s", err);
			rc = 1;
		}
		if (!json && i + 1 < n)
			printf("\n");
	}
	if (json && !one)
		printf("]\n");
	return rc;
}

int main(int argc, char **argv)
{
	nc_log_init("punchvpn");
	if (sodium_init() < 0) {
		nc_log_error("libsodium failed to initialise");
		return 1;
	}
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
		return usage(stdout);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("punchvpn %s\n", NC_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "genkey"))
		return cmd_genkey(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pubkey"))
		return cmd_pubkey(argc - 1, argv + 1);
	if (!strcmp(argv[1], "up"))
		return cmd_up(argc - 1, argv + 1);
	if (!strcmp(argv[1], "down"))
		return cmd_down(argc - 1, argv + 1);
	if (!strcmp(argv[1], "repunch"))
		return cmd_repunch(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status") || !strcmp(argv[1], "show"))
		return cmd_status(argc - 1, argv + 1);
	fprintf(stderr, "punchvpn: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
