/* natbox: userspace NAT over a TUN device for the natcheck namespace lab.
 *
 * The router namespace routes every LAN->WAN and WAN->router packet into the TUN (policy
 * routing, see sim/lib/natbox.sh); natbox reads each IPv4 datagram, lets the pure translator
 * (nb_nat.c) rewrite it, applies loss / delay / jitter, and writes it back, after which the
 * kernel routes it by the main table. One thread, one epoll loop with a monotonic clock cached
 * per iteration; signals arrive as signalfd events; the delay queue and the expiry sweep are
 * the loop's timers (its epoll timeout). The pidfile is written last: it means "ready". */
#include "nb_cli.h"
#include "nb_delay.h"
#include "nb_nat.h"
#include "nb_pkt.h"

#include <natcheck/addr.h>
#include "cursor.h"
#include <natcheck/error.h>
#include <natcheck/log.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_MS 1000
#define BURST 64
#define DELAYQ_MAX 65536

struct ctx {
	struct nb_opts o;
	struct nb_state *nat;
	struct nb_delayq *dq;
	struct nb_link link;
	struct nb_out *out;
	uint8_t *buf;
	FILE *log;
	int tun, sig, ep;
	bool wan_given;
	uint64_t now;
	uint64_t log_window, log_count;
	uint64_t tx, rx, lost, tx_err;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void logmsg(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(struct ctx *c, const char *fmt, ...)
{
	FILE *f = c->log ? c->log : stderr;
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "%lld.%03ld natbox: ", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

static void ip_str(uint32_t ip, char buf[NC_ADDR_STRLEN])
{
	uint8_t b[4];
	struct nc_addr a;

	nc_put_n32(b, ip);
	nc_addr_set(&a, AF_INET, b, 0);
	nc_addr_ip_str(&a, buf);
}

static void describe(const uint8_t *pkt, size_t len, char *buf, size_t cap)
{
	struct nb_pkt p;
	char s[NC_ADDR_STRLEN], d[NC_ADDR_STRLEN];

	if (nb_parse(pkt, len, &p) < 0) {
		snprintf(buf, cap, "(%zu bytes, unparsed)", len);
		return;
	}
	ip_str(p.ip.src, s);
	ip_str(p.ip.dst, d);
	snprintf(buf, cap, "%s %s:%u > %s:%u%s",
		 p.ip.proto == NB_IPPROTO_UDP   ? "udp"
		 : p.ip.proto == NB_IPPROTO_TCP ? "tcp"
						: "icmp",
		 s, p.l4.sport, d, p.l4.dport, p.icmp_error ? " (icmp error)" : "");
}

/* Interface addresses: the WAN interface's IPv4 addresses become the pool, the LAN
 * interface's prefixes tell outbound from inbound. */
static int addrs_from_if(struct ctx *c)
{
	struct ifaddrs *ifa, *i;
	struct nb_config *cfg = &c->o.cfg;

	if (!c->o.lan_if[0] && !c->o.wan_if[0])
		return 0;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)i->ifa_addr;
		const struct sockaddr_in *m =
			(const struct sockaddr_in *)(const void *)i->ifa_netmask;
		if (!a || a->sin_family != AF_INET || !m)
			continue;
		if (c->o.lan_if[0] && !strcmp(i->ifa_name, c->o.lan_if) && cfg->n_lan < NB_MAX_LAN) {
			uint32_t mask = ntohl(m->sin_addr.s_addr);
			cfg->lan[cfg->n_lan].mask = mask;
			cfg->lan[cfg->n_lan].net = ntohl(a->sin_addr.s_addr) & mask;
			cfg->n_lan++;
		}
		/* --wan-ip given: those are the pool; else every address on the WAN side. */
		if (c->o.wan_if[0] && !strcmp(i->ifa_name, c->o.wan_if) && !c->wan_given &&
		    cfg->n_wan < NB_MAX_WAN)
			cfg->wan_ip[cfg->n_wan++] = ntohl(a->sin_addr.s_addr);
	}
	freeifaddrs(ifa);
	return 0;
}

static int tun_open(const char *name)
{
	struct ifreq ifr;
	int fd, s, rc = 0;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* Bring it up (the lab script does too; harmless twice). */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0) {
		if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
			ifr.ifr_flags |= IFF_UP;
			if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
				rc = -errno;
		}
		close(s);
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

static int write_pidfile(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0)
		return -errno;
	if (rename(tmp, path) < 0) /* atomic: readers never see a partial file */
		return -errno;
	return 0;
}

static void tun_send(struct ctx *c, const uint8_t *pkt, size_t len)
{
	if (write(c->tun, pkt, len) < 0) {
		c->tx_err++;
		if (c->o.verbose)
			logmsg(c, "tun write: %s", strerror(errno));
		return;
	}
	c->tx++;
}

static void dump(struct ctx *c)
{
	const struct nb_stats *st = nb_state_stats(c->nat);
	struct nb_mapping_info mi;
	char a[NC_ADDR_STRLEN], b[NC_ADDR_STRLEN], r[NC_ADDR_STRLEN];

	logmsg(c, "stats: out %llu in %llu hairpin %llu replies %llu created %llu expired %llu "
		  "live %zu tx %llu rx %llu lost %llu queued %zu blackout %llu alg %llu remapped %llu",
	       (unsigned long long)st->out, (unsigned long long)st->in,
	       (unsigned long long)st->hairpin, (unsigned long long)st->replies,
	       (unsigned long long)st->created, (unsigned long long)st->expired, nb_count(c->nat),
	       (unsigned long long)c->tx, (unsigned long long)c->rx, (unsigned long long)c->lost,
	       nb_delayq_len(c->dq), (unsigned long long)c->link.dropped,
	       (unsigned long long)st->alg_rewrites, (unsigned long long)st->remapped);
	for (int i = 1; i < NB_R_COUNT_; i++)
		if (st->drops[i])
			logmsg(c, "  dropped %s: %llu", nb_reason_name((enum nb_reason)i),
			       (unsigned long long)st->drops[i]);
	for (size_t i = 0; i < nb_capacity(c->nat); i++) {
		if (!nb_mapping_get(c->nat, i, &mi))
			continue;
		ip_str(mi.iip, a);
		ip_str(mi.eip, b);
		ip_str(mi.rip, r);
		logmsg(c, "  %s %s:%u -> %s:%u key %s:%u expires in %lld ms perms %u",
		       mi.proto == NB_IPPROTO_UDP ? "udp" : mi.proto == NB_IPPROTO_TCP ? "tcp" : "icmp",
		       a, mi.iport, b, mi.eport, r, mi.rport,
		       (long long)mi.expires_ms - (long long)c->now, mi.n_perm);
	}
}

static void on_packet(struct ctx *c, size_t len)
{
	enum nb_verdict v;
	uint64_t due;

	c->rx++;
	/* Only IPv4 is traffic on the modelled link: the kernel's own IPv6 chatter on the TUN
	 * (router solicitations, MLD) must not wake it. */
	if (len > 0 && (c->buf[0] >> 4) == 4 && !nb_link_pass(&c->link, &c->o.cfg, c->now)) {
		if (c->o.verbose >= 2) {
			char in[160];
			describe(c->buf, len, in, sizeof(in));
			logmsg(c, "blackout (link waking up): lost %s", in);
		}
		return;
	}
	v = nb_translate(c->nat, c->buf, len, c->now, c->out);
	if (c->o.verbose >= 2 || (v == NB_DROP && c->o.verbose >= 1)) {
		/* Drops are logged at -v, at most 20 per second; everything at -vv. */
		if (c->now / 1000 != c->log_window) {
			c->log_window = c->now / 1000;
			c->log_count = 0;
		}
		if (c->o.verbose >= 2 || c->log_count++ < 20) {
			char in[160], outd[160] = "";
			describe(c->buf, len, in, sizeof(in));
			if (v != NB_DROP)
				describe(c->out->buf, c->out->len, outd, sizeof(outd));
			logmsg(c, "%s%s: %s%s%s",
			       v == NB_DROP ? "drop " : v == NB_REPLY ? "reply " : "fwd ",
			       v == NB_DROP ? nb_reason_name(c->out->reason) : "", in,
			       v == NB_DROP ? "" : " => ", outd);
		}
	}
	if (v == NB_DROP)
		return;
	if (!nb_impair(c->nat, c->now, &due)) {
		c->lost++;
		return;
	}
	if (due <= c->now) {
		tun_send(c, c->out->buf, c->out->len);
		return;
	}
	if (nb_delayq_push(c->dq, due, c->out->buf, c->out->len) < 0)
		c->lost++;
}

static int run(struct ctx *c)
{
	uint64_t next_sweep = c->now + SWEEP_MS;
	struct epoll_event ev[4];
	bool quit = false;

	while (!quit) {
		uint64_t wake = next_sweep, dq = nb_delayq_next(c->dq);
		int n, timeout;

		if (dq < wake)
			wake = dq;
		timeout = wake > c->now ? (int)(wake - c->now) : 0;
		n = epoll_wait(c->ep, ev, 4, timeout);
		if (n < 0 && errno != EINTR)
			return -errno;
		c->now = mono_ms();
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == c->tun) {
				for (int k = 0; k < BURST; k++) {
					ssize_t r = read(c->tun, c->buf, NB_MAX_PKT);
					if (r < 0) {
						if (errno != EAGAIN && errno != EINTR)
							logmsg(c, "tun read: %s", strerror(errno));
						break;
					}
					on_packet(c, (size_t)r);
				}
			} else if (ev[i].data.fd == c->sig) {
				struct signalfd_siginfo si;
				while (read(c->sig, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					if (si.ssi_signo == SIGUSR1)
						dump(c);
					else
						quit = true;
				}
			}
		}
		for (;;) {
			int len = nb_delayq_pop(c->dq, c->now, c->out->buf, sizeof(c->out->buf));
			if (len <= 0)
				break;
			tun_send(c, c->out->buf, (size_t)len);
		}
		if (c->now >= next_sweep) {
			nb_expire(c->nat, c->now);
			next_sweep = c->now + SWEEP_MS;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c;
	char err[512];
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t mask;
	int rc;

	nc_log_init("natbox");
	memset(&c, 0, sizeof(c));
	c.tun = c.sig = c.ep = -1;
	rc = nb_cli_parse(argc, argv, &c.o, err, sizeof(err));
	if (rc == NB_CLI_EXIT)
		return 0;
	if (rc < 0) {
		nc_log_error("%s", err);
		return 2;
	}
	c.wan_given = c.o.cfg.n_wan > 0;
	rc = addrs_from_if(&c);
	if (rc < 0) {
		nc_log_error("interface addresses: %s", nc_strerror(rc));
		return 1;
	}
	if (nb_config_check(&c.o.cfg, err, sizeof(err)) < 0) {
		nc_log_error("%s", err);
		return 2;
	}
	if (c.o.from_result || c.o.dry_run || c.o.verbose)
		nb_config_print(stdout, &c.o.cfg);
	if (c.o.dry_run)
		return 0;
	if (!c.o.tun[0]) {
		nc_log_error("--tun NAME is required");
		return 2;
	}
	if (sodium_init() < 0) {
		nc_log_error("libsodium init failed");
		return 1;
	}
	if (!c.o.cfg.seeded)
		randombytes_buf(&c.o.cfg.seed, sizeof(c.o.cfg.seed));
	if (c.o.logfile) {
		c.log = fopen(c.o.logfile, "a");
		if (!c.log) {
			nc_log_error("--log %s: %s", c.o.logfile, strerror(errno));
			return 1;
		}
	}
	c.nat = nb_state_new(&c.o.cfg);
	c.dq = nb_delayq_new(DELAYQ_MAX);
	c.out = malloc(sizeof(*c.out));
	c.buf = malloc(NB_MAX_PKT);
	if (!c.nat || !c.dq || !c.out || !c.buf) {
		nc_log_error("out of memory");
		rc = 1;
		goto out;
	}
	rc = tun_open(c.o.tun);
	if (rc < 0) {
		logmsg(&c, "cannot open TUN %s: %s", c.o.tun, nc_strerror(rc));
		rc = 1;
		goto out;
	}
	c.tun = rc;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	c.sig = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	c.ep = epoll_create1(EPOLL_CLOEXEC);
	if (c.sig < 0 || c.ep < 0) {
		logmsg(&c, "signalfd/epoll: %s", strerror(errno));
		rc = 1;
		goto out;
	}
	ev.data.fd = c.tun;
	epoll_ctl(c.ep, EPOLL_CTL_ADD, c.tun, &ev);
	ev.data.fd = c.sig;
	epoll_ctl(c.ep, EPOLL_CTL_ADD, c.sig, &ev);
	c.now = mono_ms();
	if (c.o.pidfile && (rc = write_pidfile(c.o.pidfile)) < 0) {
		logmsg(&c, "pidfile %s: %s", c.o.pidfile, nc_strerror(rc));
		rc = 1;
		goto out;
	}
	logmsg(&c, "ready on %s: mapping %s filtering %s alloc %s, %u WAN address(es), seed %llu",
	       c.o.tun, nb_beh_name(c.o.cfg.mapping), nb_beh_name(c.o.cfg.filtering),
	       nb_alloc_name(c.o.cfg.alloc), c.o.cfg.n_wan, (unsigned long long)c.o.cfg.seed);
	rc = run(&c);
	if (rc < 0)
		logmsg(&c, "event loop: %s", nc_strerror(rc));
	dump(&c);
	rc = rc < 0 ? 1 : 0;
	if (c.o.pidfile)
		unlink(c.o.pidfile);
out:
	if (c.ep >= 0)
		close(c.ep);
	if (c.sig >= 0)
		close(c.sig);
	if (c.tun >= 0)
		close(c.tun);
	nb_state_free(c.nat);
	nb_delayq_free(c.dq);
	free(c.out);
	free(c.buf);
	if (c.log)
		fclose(c.log);
	return rc;
}
