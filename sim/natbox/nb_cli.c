/* natbox command line: strict parsing (the bad value is quoted), --from-result mapping. */
#include "nb_cli.h"

#include <natcheck/addr.h>
#include "cursor.h"
#include <natcheck/error.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void nb_usage(FILE *f)
{
	fputs("usage: natbox --tun NAME (--wan-ip ADDR... | --wan-if IF) [--lan-if IF | --lan-net CIDR...]\n"
	      "              [options]\n"
	      "Userspace NAT over a TUN device for the natcheck namespace lab.\n\n"
	      "behaviour (RFC 4787 / RFC 5382):\n"
	      "  --mapping ei|ad|apd            mapping behaviour (default ei)\n"
	      "  --filtering ei|ad|apd          filtering behaviour (default apd)\n"
	      "  --alloc preserve|sequential|random|first-fit   port assignment (default preserve)\n"
	      "  --delta N                      sequential step, may be negative (default 1)\n"
	      "  --port-range LO-HI             external ports (default 1024-65535)\n"
	      "  --parity keep|any              keep the internal port's parity (default any)\n"
	      "  --block-size N                 ports per internal host, 0 = no blocks\n"
	      "  --overload no|yes              share an external port among internal endpoints\n"
	      "  --pool paired|arbitrary        address pooling over the --wan-ip addresses\n"
	      "  --hairpin off|external|internal   hairpinning and the source it shows\n"
	      "  --hairpin-filter on|off        apply filtering to hairpinned packets (default on)\n"
	      "  --lifetime SECONDS             UDP/ICMP binding lifetime (default 120)\n"
	      "  --refresh outbound|both        which packets refresh a binding (default both)\n"
	      "  --tcp-established S, --tcp-transitory S   TCP timeouts (7440, 240)\n"
	      "  --unsolicited drop|icmp|rst    answer to inbound packets without binding\n"
	      "  --max-mappings N               table size (default 65536)\n"
	      "misbehaviour:\n"
	      "  --stun-alg off|mapped          rewrite MAPPED-ADDRESS in inbound Binding responses,\n"
	      "                                 leaving FINGERPRINT stale (default off)\n"
	      "  --remap-after SECONDS          move each binding to a new external port every\n"
	      "                                 SECONDS while it lives (default 0 = stable)\n"
	      "impairment:\n"
	      "  --loss PCT --delay MS --jitter MS --seed N\n"
	      "  --blackout MS                  drop everything for MS after the link wakes up\n"
	      "  --blackout-idle MS             silence after which the link sleeps (default 2000)\n"
	      "plumbing:\n"
	      "  --tun NAME --lan-if IF --wan-if IF --lan-net CIDR --wan-ip ADDR\n"
	      "  --pidfile FILE --log FILE -v (repeat for per-packet logs)\n"
	      "  --from-result FILE.json        take the behaviour from a natcheck result\n"
	      "  --dry-run                      print the parameters and exit\n"
	      "  -h, --help   --version\n"
	      "exit codes: 0 ok, 1 runtime error, 2 usage error\n",
	      f);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -NC_E_PARSE;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_i32(const char *s, int32_t *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == ' ')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < INT32_MIN || v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

static int pick(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (v && strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

static bool parse_ip4(const char *s, uint32_t *out)
{
	struct nc_addr a;

	if (nc_addr_parse_ip(s, &a) < 0 || a.family != AF_INET)
		return false;
	*out = nc_get_n32(a.ip);
	return true;
}

static bool parse_cidr(const char *s, struct nb_prefix *p)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	uint64_t bits = 32;
	uint32_t ip;

	if (strlen(s) >= sizeof(buf))
		return false;
	memcpy(buf, s, strlen(s) + 1);
	if (slash) {
		buf[slash - s] = '\0';
		if (!parse_u64(slash + 1, 32, &bits))
			return false;
	}
	if (!parse_ip4(buf, &ip))
		return false;
	p->mask = bits ? (uint32_t)(0xffffffffu << (32 - bits)) : 0;
	p->net = ip & p->mask;
	return true;
}

static bool copy_ifname(char dst[NB_IFNAMSIZ], const char *v)
{
	if (!v || !*v || strlen(v) >= NB_IFNAMSIZ || strchr(v, '/'))
		return false;
	memcpy(dst, v, strlen(v) + 1);
	return true;
}

static int read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	int rc = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (n == cap) {
			char *nb;
			if (cap >= (1u << 24)) {
				rc = -NC_E_RANGE;
				break;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -NC_E_NOMEM;
				break;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				rc = -EIO;
			break;
		}
	}
	fclose(f);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*text = buf;
	*len = n;
	return 0;
}

static void logf_append(char *log, size_t loglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void logf_append(char *log, size_t loglen, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!log || !loglen)
		return;
	used = strnlen(log, loglen);
	if (used + 1 >= loglen)
		return;
	va_start(ap, fmt);
	vsnprintf(log + used, loglen - used, fmt, ap);
	va_end(ap);
}

static bool beh_from(enum nc_beh b, enum nb_beh *out)
{
	switch (b) {
	case NC_BEH_NONE: /* no NAT / nothing filters: the nearest natbox can do */
	case NC_BEH_EI:
		*out = NB_BEH_EI;
		return true;
	case NC_BEH_AD:
		*out = NB_BEH_AD;
		return true;
	case NC_BEH_APD:
		*out = NB_BEH_APD;
		return true;
	case NC_BEH_UNKNOWN:
		break;
	}
	return false;
}

void nb_config_from_result(struct nb_config *c, const struct nc_result *r, char *log,
			   size_t loglen)
{
	const struct nc_udp_result *u = &r->udp;

	if (log && loglen)
		log[0] = '\0';
	if (beh_from(u->mapping, &c->mapping))
		logf_append(log, loglen, "mapping=%s (udp.mapping)\n", nb_beh_name(c->mapping));
	if (beh_from(u->filtering, &c->filtering))
		logf_append(log, loglen, "filtering=%s (udp.filtering)\n",
			    nb_beh_name(c->filtering));
	switch (u->alloc.pattern) {
	case NC_ALLOC_PRESERVING:
		c->alloc = NB_ALLOC_PRESERVE;
		logf_append(log, loglen, "alloc=preserve (udp.allocation.pattern)\n");
		break;
	case NC_ALLOC_SEQUENTIAL:
		c->alloc = NB_ALLOC_SEQUENTIAL;
		logf_append(log, loglen, "alloc=sequential (udp.allocation.pattern)\n");
		if (u->alloc.delta != 0 && u->alloc.delta > -32768 && u->alloc.delta < 32768) {
			c->delta = u->alloc.delta;
			logf_append(log, loglen, "delta=%d (udp.allocation.delta)\n", (int)c->delta);
		}
		break;
	case NC_ALLOC_RANDOM:
		c->alloc = NB_ALLOC_RANDOM;
		logf_append(log, loglen, "alloc=random (udp.allocation.pattern)\n");
		break;
	case NC_ALLOC_UNKNOWN:
		if (u->port_preserved == NC_TRI_YES) {
			c->alloc = NB_ALLOC_PRESERVE;
			logf_append(log, loglen, "alloc=preserve (udp.port_preservation)\n");
		} else if (u->port_preserved == NC_TRI_NO) {
			c->alloc = NB_ALLOC_RANDOM;
			logf_append(log, loglen, "alloc=random (udp.port_preservation)\n");
		}
		break;
	}
	if (u->alloc.parity != NC_TRI_UNKNOWN) {
		c->parity_keep = u->alloc.parity == NC_TRI_YES;
		logf_append(log, loglen, "parity=%s (udp.allocation.parity)\n",
			    c->parity_keep ? "keep" : "any");
	}
	if (u->pooling == NC_POOL_PAIRED || u->pooling == NC_POOL_SINGLE) {
		c->pool = NB_POOL_PAIRED;
		logf_append(log, loglen, "pool=paired (udp.pooling)\n");
	} else if (u->pooling == NC_POOL_ARBITRARY) {
		c->pool = NB_POOL_ARBITRARY;
		logf_append(log, loglen, "pool=arbitrary (udp.pooling)\n");
	}
	if (u->hairpin == NC_TRI_NO) {
		c->hairpin = NB_HP_OFF;
		logf_append(log, loglen, "hairpin=off (udp.hairpin)\n");
	} else if (u->hairpin == NC_TRI_YES) {
		c->hairpin = u->hairpin_src == NC_HP_INTERNAL ? NB_HP_INTERNAL : NB_HP_EXTERNAL;
		logf_append(log, loglen, "hairpin=%s (udp.hairpin, udp.hairpin_source)\n",
			    nb_hairpin_name(c->hairpin));
	}
	if (u->lifetime_s > 0) {
		c->lifetime_s = u->lifetime_s;
		logf_append(log, loglen, "lifetime=%u (udp.lifetime_s)\n", c->lifetime_s);
	}
	if (u->inbound_refresh != NC_TRI_UNKNOWN) {
		c->refresh = u->inbound_refresh == NC_TRI_YES ? NB_REFRESH_BOTH : NB_REFRESH_OUTBOUND;
		logf_append(log, loglen, "refresh=%s (udp.inbound_refresh)\n",
			    nb_refresh_name(c->refresh));
	}
	if (r->tcp.tested && r->tcp.unsolicited[0]) {
		const char *t = r->tcp.unsolicited;
		if (strncmp(t, "drop", 4) == 0)
			c->unsolicited = NB_UNSOL_DROP;
		else if (strncmp(t, "rst", 3) == 0)
			c->unsolicited = NB_UNSOL_RST;
		else if (strncmp(t, "icmp", 4) == 0)
			c->unsolicited = NB_UNSOL_ICMP;
		else
			t = NULL;
		if (t)
			logf_append(log, loglen, "unsolicited=%s (tcp.unsolicited)\n",
				    nb_unsol_name(c->unsolicited));
	}
}

static int load_result(const char *path, struct nb_config *c, char *err, size_t errlen)
{
	struct nc_result *r;
	char *text = NULL, jerr[256], log[1024];
	size_t len = 0;
	int rc = read_file(path, &text, &len);

	if (rc < 0)
		return fail(err, errlen, "--from-result \"%s\": %s", path, nc_strerror(rc));
	r = malloc(sizeof(*r));
	if (!r) {
		free(text);
		return fail(err, errlen, "out of memory");
	}
	rc = nc_result_from_json(text, len, r, jerr, sizeof(jerr));
	free(text);
	if (rc < 0) {
		free(r);
		return fail(err, errlen, "--from-result \"%s\": %s: %s", path, nc_strerror(rc), jerr);
	}
	nb_config_from_result(c, r, log, sizeof(log));
	free(r);
	fprintf(stderr, "natbox: from %s:\n%s", path, log[0] ? log : "  (no usable fields)\n");
	return 0;
}

#define NEED(cond)                                                                          \
	do {                                                                                \
		if (!(cond))                                                                \
			return fail(err, errlen, "%s: invalid value \"%s\"", name, v ? v : ""); \
	} while (0)

/* Applies one flag. */
static int apply(struct nb_opts *o, const char *name, const char *v, char *err, size_t errlen)
{
	static const char *const beh[] = {"ei", "ad", "apd"};
	static const char *const alloc[] = {"preserve", "sequential", "random", "first-fit"};
	static const char *const parity[] = {"any", "keep"};
	static const char *const noyes[] = {"no", "yes"};
	static const char *const offon[] = {"off", "on"};
	static const char *const offmapped[] = {"off", "mapped"};
	static const char *const pool[] = {"paired", "arbitrary"};
	static const char *const hp[] = {"off", "external", "internal"};
	static const char *const refresh[] = {"outbound", "both"};
	static const char *const unsol[] = {"drop", "icmp", "rst"};
	struct nb_config *c = &o->cfg;
	uint64_t x;
	int i;

	if (!strcmp(name, "--mapping")) {
		NEED((i = pick(v, beh, 3)) >= 0);
		c->mapping = (enum nb_beh)i;
	} else if (!strcmp(name, "--filtering")) {
		NEED((i = pick(v, beh, 3)) >= 0);
		c->filtering = (enum nb_beh)i;
	} else if (!strcmp(name, "--alloc")) {
		NEED((i = pick(v, alloc, 4)) >= 0);
		c->alloc = (enum nb_alloc)i;
	} else if (!strcmp(name, "--delta")) {
		NEED(parse_i32(v, &c->delta) && c->delta != 0 && c->delta > -65536 &&
		     c->delta < 65536);
	} else if (!strcmp(name, "--port-range")) {
		const char *dash = v ? strchr(v, '-') : NULL;
		char lo[8];
		uint64_t a, b;
		NEED(dash && dash - v > 0 && (size_t)(dash - v) < sizeof(lo));
		memcpy(lo, v, (size_t)(dash - v));
		lo[dash - v] = '\0';
		NEED(parse_u64(lo, 65535, &a) && parse_u64(dash + 1, 65535, &b) && a >= 1 && a <= b);
		c->port_lo = (uint16_t)a;
		c->port_hi = (uint16_t)b;
	} else if (!strcmp(name, "--parity")) {
		NEED((i = pick(v, parity, 2)) >= 0);
		c->parity_keep = i == 1;
	} else if (!strcmp(name, "--block-size")) {
		NEED(parse_u64(v, 65535, &x));
		c->block_size = (uint32_t)x;
	} else if (!strcmp(name, "--overload")) {
		NEED((i = pick(v, noyes, 2)) >= 0);
		c->overload = i == 1;
	} else if (!strcmp(name, "--pool")) {
		NEED((i = pick(v, pool, 2)) >= 0);
		c->pool = (enum nb_pool)i;
	} else if (!strcmp(name, "--wan-ip")) {
		uint32_t ip;
		NEED(parse_ip4(v, &ip));
		if (c->n_wan >= NB_MAX_WAN)
			return fail(err, errlen, "--wan-ip: at most %d addresses", NB_MAX_WAN);
		c->wan_ip[c->n_wan++] = ip;
	} else if (!strcmp(name, "--lan-net")) {
		NEED(c->n_lan < NB_MAX_LAN && parse_cidr(v, &c->lan[c->n_lan]));
		c->n_lan++;
	} else if (!strcmp(name, "--hairpin")) {
		NEED((i = pick(v, hp, 3)) >= 0);
		c->hairpin = (enum nb_hairpin)i;
	} else if (!strcmp(name, "--hairpin-filter")) {
		NEED((i = pick(v, offon, 2)) >= 0);
		c->hairpin_filter = i == 1;
	} else if (!strcmp(name, "--lifetime")) {
		NEED(parse_u64(v, 86400 * 7, &x) && x >= 1);
		c->lifetime_s = (uint32_t)x;
	} else if (!strcmp(name, "--refresh")) {
		NEED((i = pick(v, refresh, 2)) >= 0);
		c->refresh = (enum nb_refresh)i;
	} else if (!strcmp(name, "--tcp-established")) {
		NEED(parse_u64(v, 86400 * 7, &x) && x >= 1);
		c->tcp_est_s = (uint32_t)x;
	} else if (!strcmp(name, "--tcp-transitory")) {
		NEED(parse_u64(v, 86400 * 7, &x) && x >= 1);
		c->tcp_trans_s = (uint32_t)x;
	} else if (!strcmp(name, "--unsolicited")) {
		NEED((i = pick(v, unsol, 3)) >= 0);
		c->unsolicited = (enum nb_unsol)i;
	} else if (!strcmp(name, "--max-mappings")) {
		NEED(parse_u64(v, 1u << 22, &x) && x >= 1);
		c->max_mappings = (uint32_t)x;
	} else if (!strcmp(name, "--loss")) {
		char *end;
		double pct;
		NEED(v && *v && *v != '-' && *v != '+' && *v != ' ');
		errno = 0;
		pct = strtod(v, &end);
		NEED(!errno && !*end && isfinite(pct) && pct >= 0.0 && pct <= 100.0);
		c->loss_ppm = (uint32_t)lround(pct * 10000.0);
	} else if (!strcmp(name, "--delay")) {
		NEED(parse_u64(v, 60000, &x));
		c->delay_ms = (uint32_t)x;
	} else if (!strcmp(name, "--jitter")) {
		NEED(parse_u64(v, 60000, &x));
		c->jitter_ms = (uint32_t)x;
	} else if (!strcmp(name, "--stun-alg")) {
		NEED((i = pick(v, offmapped, 2)) >= 0);
		c->stun_alg = i == 1;
	} else if (!strcmp(name, "--remap-after")) {
		NEED(parse_u64(v, 86400, &x));
		c->remap_s = (uint32_t)x;
	} else if (!strcmp(name, "--blackout")) {
		NEED(parse_u64(v, 60000, &x));
		c->blackout_ms = (uint32_t)x;
	} else if (!strcmp(name, "--blackout-idle")) {
		NEED(parse_u64(v, 3600000, &x) && x >= 1);
		c->blackout_idle_ms = (uint32_t)x;
	} else if (!strcmp(name, "--seed")) {
		NEED(parse_u64(v, UINT64_MAX, &c->seed));
		c->seeded = true;
	} else if (!strcmp(name, "--tun")) {
		NEED(copy_ifname(o->tun, v));
	} else if (!strcmp(name, "--lan-if")) {
		NEED(copy_ifname(o->lan_if, v));
	} else if (!strcmp(name, "--wan-if")) {
		NEED(copy_ifname(o->wan_if, v));
	} else if (!strcmp(name, "--pidfile")) {
		NEED(v && *v);
		o->pidfile = v;
	} else if (!strcmp(name, "--log")) {
		NEED(v && *v);
		o->logfile = v;
	} else if (!strcmp(name, "--from-result")) {
		NEED(v && *v);
		o->from_result = v; /* applied before the other flags */
	} else {
		return fail(err, errlen, "unknown option \"%s\" (try --help)", name);
	}
	return 0;
}
#undef NEED

static bool takes_value(const char *name)
{
	return strcmp(name, "-v") && strcmp(name, "--verbose") && strcmp(name, "--dry-run") &&
	       strcmp(name, "-h") && strcmp(name, "--help") && strcmp(name, "--version");
}

int nb_cli_parse(int argc, char **argv, struct nb_opts *o, char *err, size_t errlen)
{
	int rc;

	memset(o, 0, sizeof(*o));
	nb_config_default(&o->cfg);
	/* Pass 1: flags without values, and --from-result, which sets the baseline. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			nb_usage(stdout);
			return NB_CLI_EXIT;
		}
		if (!strcmp(a, "--version")) {
			printf("natbox %s\n", NC_VERSION);
			return NB_CLI_EXIT;
		}
		if (!strcmp(a, "--from-result") && i + 1 < argc)
			o->from_result = argv[i + 1];
		else if (!strncmp(a, "--from-result=", 14))
			o->from_result = a + 14;
		if (a[0] == '-' && takes_value(a) && !strchr(a, '='))
			i++;
	}
	if (o->from_result) {
		rc = load_result(o->from_result, &o->cfg, err, errlen);
		if (rc < 0)
			return rc;
	}
	/* Pass 2: everything else, in order. */
	for (int i = 1; i < argc; i++) {
		char name[64];
		const char *a = argv[i], *v = NULL, *eq;

		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			o->verbose++;
			continue;
		}
		if (!strcmp(a, "--dry-run")) {
			o->dry_run = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			return fail(err, errlen, "unexpected argument \"%s\" (try --help)", a);
		eq = strchr(a, '=');
		if (eq) {
			if ((size_t)(eq - a) >= sizeof(name))
				return fail(err, errlen, "unknown option \"%s\"", a);
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = '\0';
			v = eq + 1;
		} else {
			if (strlen(a) >= sizeof(name))
				return fail(err, errlen, "unknown option \"%s\"", a);
			memcpy(name, a, strlen(a) + 1);
			if (i + 1 >= argc)
				return fail(err, errlen, "%s needs a value", a);
			v = argv[++i];
		}
		rc = apply(o, name, v, err, errlen);
		if (rc < 0)
			return rc;
	}
	return NB_CLI_RUN;
}

void nb_config_print(FILE *f, const struct nb_config *c)
{
	char ip[NC_ADDR_STRLEN];
	struct nc_addr a;

	fprintf(f, "mapping=%s\nfiltering=%s\nalloc=%s\ndelta=%d\nport-range=%u-%u\n",
		nb_beh_name(c->mapping), nb_beh_name(c->filtering), nb_alloc_name(c->alloc),
		(int)c->delta, c->port_lo, c->port_hi);
	fprintf(f, "parity=%s\nblock-size=%u\noverload=%s\npool=%s\n",
		c->parity_keep ? "keep" : "any", c->block_size, c->overload ? "yes" : "no",
		nb_pool_name(c->pool));
	for (unsigned i = 0; i < c->n_wan; i++) {
		uint8_t b[4];
		nc_put_n32(b, c->wan_ip[i]);
		nc_addr_set(&a, AF_INET, b, 0);
		fprintf(f, "wan-ip=%s\n", nc_addr_ip_str(&a, ip));
	}
	for (unsigned i = 0; i < c->n_lan; i++) {
		uint8_t b[4];
		int bits = 0;
		for (uint32_t m = c->lan[i].mask; m; m <<= 1)
			bits++;
		nc_put_n32(b, c->lan[i].net);
		nc_addr_set(&a, AF_INET, b, 0);
		fprintf(f, "lan-net=%s/%d\n", nc_addr_ip_str(&a, ip), bits);
	}
	fprintf(f, "hairpin=%s\nhairpin-filter=%s\nlifetime=%u\nrefresh=%s\n",
		nb_hairpin_name(c->hairpin), c->hairpin_filter ? "on" : "off", c->lifetime_s,
		nb_refresh_name(c->refresh));
	fprintf(f, "tcp-established=%u\ntcp-transitory=%u\nunsolicited=%s\nmax-mappings=%u\n",
		c->tcp_est_s, c->tcp_trans_s, nb_unsol_name(c->unsolicited), c->max_mappings);
	fprintf(f, "loss=%u.%04u\ndelay=%u\njitter=%u\n", c->loss_ppm / 10000, c->loss_ppm % 10000,
		c->delay_ms, c->jitter_ms);
	fprintf(f, "stun-alg=%s\nremap-after=%u\nblackout=%u\nblackout-idle=%u\n",
		c->stun_alg ? "mapped" : "off", c->remap_s, c->blackout_ms, c->blackout_idle_ms);
	if (c->seeded)
		fprintf(f, "seed=%llu\n", (unsigned long long)c->seed);
}
