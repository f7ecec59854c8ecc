/* Port-mapping clients: NAT-PMP through libnatpmp, PCP through pcp.c, UPnP-IGD through
 * miniupnpc (with our own SSDP search, see upnp_search()). */
#include "portmap.h"

#include "cursor.h"
#include <natcheck/error.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <natpmp.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#include <sodium.h>

#define IPPROTO_UDP_NUM 17
#define PCP_PROBE_LIFETIME 60 /* the probe's own MAP, deleted again at once */
#define SSDP_MCAST "239.255.255.250"
#define SSDP_ST "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
#define UPNP_ERR_NO_SUCH_ENTRY 714
#define UPNP_ERR_CONFLICT 718
#define UPNP_ERR_ONLY_PERMANENT 725

/* ---- names ---------------------------------------------------------------------------- */

/* RFC 6886 §3.5 result codes. */
static const struct {
	const char *name;
	const char *msg;
} natpmp_results[] = {
	{"SUCCESS", "success"},
	{"UNSUPPORTED_VERSION", "the gateway does not speak this NAT-PMP version"},
	{"NOT_AUTHORIZED", "the gateway refused the mapping (NAT-PMP disabled or not allowed)"},
	{"NETWORK_FAILURE", "the gateway has no external address yet (network failure)"},
	{"OUT_OF_RESOURCES", "the gateway is out of mapping resources"},
	{"UNSUPPORTED_OPCODE", "the gateway does not support this operation"},
};

#define NATPMP_N_RESULTS (sizeof(natpmp_results) / sizeof(natpmp_results[0]))

const char *nc_pm_natpmp_result_name(unsigned code)
{
	return code < NATPMP_N_RESULTS ? natpmp_results[code].name : "UNKNOWN";
}

const char *nc_pm_natpmp_result_message(unsigned code)
{
	return code < NATPMP_N_RESULTS ? natpmp_results[code].msg
				       : "the gateway answered with an unknown result code";
}

/* ---- configuration -------------------------------------------------------------------- */

struct pm_opts {
	struct nc_addr server;   /* gateway ip : NAT-PMP/PCP port */
	struct nc_addr gateway;  /* gateway ip, port 0 */
	struct nc_addr src;      /* our address towards it, port 0 */
	uint16_t ssdp_port;
	bool ssdp_unicast_only;
	uint32_t budget_ms;
	uint32_t map_timeout_ms;
	unsigned protos;
	nc_trace_fn trace;
	void *trace_arg;
	uint64_t t0;
};

static int gateway_of(const struct nc_pm_cfg *cfg, struct nc_addr *gw)
{
	if (cfg && nc_addr_is_set(&cfg->gateway)) {
		if (cfg->gateway.family != AF_INET)
			return -NC_E_FAMILY;
		*gw = cfg->gateway;
		gw->port = 0;
		return 0;
	}
	return nc_pm_default_gateway(gw);
}

/* Fills o from cfg (NULL: defaults). On failure still fills what it can, for the messages. */
static int opts_init(const struct nc_pm_cfg *cfg, struct pm_opts *o, char *err, size_t errlen)
{
	char a[NC_ADDR_STRLEN];
	int r;

	memset(o, 0, sizeof(*o));
	o->t0 = nc_now_us();
	o->budget_ms = cfg && cfg->budget_ms ? cfg->budget_ms : NC_PM_DEFAULT_BUDGET_MS;
	o->map_timeout_ms =
		cfg && cfg->map_timeout_ms ? cfg->map_timeout_ms : NC_PM_DEFAULT_MAP_TIMEOUT_MS;
	o->ssdp_port = cfg && cfg->ssdp_port ? cfg->ssdp_port : NC_PM_SSDP_PORT;
	o->ssdp_unicast_only = cfg && cfg->ssdp_unicast_only;
	o->protos = cfg && cfg->protos ? cfg->protos : (1u << NC_PM_COUNT) - 1;
	o->trace = cfg ? cfg->trace : NULL;
	o->trace_arg = cfg ? cfg->trace_arg : NULL;

	r = gateway_of(cfg, &o->gateway);
	if (r < 0) {
		snprintf(err, errlen, "no IPv4 default gateway (%s)", nc_strerror(r));
		return r;
	}
	o->server = o->gateway;
	o->server.port = cfg && cfg->pmp_port ? cfg->pmp_port : PCP_SERVER_PORT;
	r = nc_route_source(&o->gateway, &o->src);
	if (r < 0) {
		snprintf(err, errlen, "no route to the gateway %s (%s)",
			 nc_addr_ip_str(&o->gateway, a), nc_strerror(r));
		return r;
	}
	return 0;
}

#define TRACE(o, ...) nc_tracef((o)->trace, (o)->trace_arg, (o)->t0, __VA_ARGS__)

/* ---- default gateway ------------------------------------------------------------------- */

int nc_pm_parse_route(const char *text, struct nc_addr *gw)
{
	const char *line = text;
	long best_metric = -1;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char buf[256], iface[64];
		unsigned long dest, gwv, mask;
		unsigned flags;
		int metric;

		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = '\0';
			/* Iface Destination Gateway Flags RefCnt Use Metric Mask ... (hex fields are the
			 * raw network-order words printed as host integers) */
			if (sscanf(buf, "%63s %lx %lx %x %*d %*d %d %lx", iface, &dest, &gwv, &flags,
				   &metric, &mask) == 6 &&
			    dest == 0 && mask == 0 && (flags & 0x3) == 0x3 /* RTF_UP|RTF_GATEWAY */ &&
			    (best_metric < 0 || metric < best_metric)) {
				uint32_t v = (uint32_t)gwv;

				nc_addr_set(gw, AF_INET, &v, 0);
				best_metric = metric;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return best_metric < 0 ? -NC_E_UNSUPPORTED : 0;
}

int nc_pm_default_gateway(struct nc_addr *gw)
{
	char text[16384];
	size_t n = 0;
	ssize_t k;
	int fd = open("/proc/net/route", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (n < sizeof(text) - 1 && (k = read(fd, text + n, sizeof(text) - 1 - n)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			k = -errno;
			close(fd);
			return (int)k;
		}
		n += (size_t)k;
	}
	close(fd);
	text[n] = '\0';
	return nc_pm_parse_route(text, gw);
}

/* ---- SSDP ------------------------------------------------------------------------------ */

static bool line_is_location(const char *line, size_t n, char *url, size_t cap, int *err)
{
	size_t i = 9, end = n, ulen;

	if (n < 9 || strncasecmp(line, "LOCATION:", 9) != 0)
		return false;
	while (i < end && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	ulen = end - i;
	*err = -NC_E_MALFORMED;
	if (ulen < 8 || strncasecmp(line + i, "http://", 7) != 0)
		return true;
	for (size_t k = i; k < end; k++)
		if ((unsigned char)line[k] < 0x21 || (unsigned char)line[k] > 0x7e)
			return true;
	if (ulen >= cap) {
		*err = -NC_E_NOSPACE;
		return true;
	}
	memcpy(url, line + i, ulen);
	url[ulen] = '\0';
	*err = 0;
	return true;
}

int nc_pm_ssdp_location(const uint8_t *buf, size_t len, char *url, size_t cap)
{
	struct nc_rd r;
	char line[512];
	bool first = true;

	nc_rd_init(&r, buf, len);
	while (nc_rd_left(&r) > 0) {
		size_t n = 0;
		bool overlong = false, nul = false;
		int err;

		/* One line, read byte by byte through the cursor; CR LF or bare LF ends it. */
		while (nc_rd_left(&r) > 0) {
			uint8_t c = nc_rd_u8(&r);
			if (c == '\n')
				break;
			if (c == '\0')
				nul = true;
			if (n < sizeof(line) - 1)
				line[n++] = (char)c;
			else
				overlong = true;
		}
		if (n > 0 && line[n - 1] == '\r' && !overlong)
			n--;
		line[n] = '\0';
		if (first) {
			/* "HTTP/1.1 200 OK" (UPnP Device Architecture 1.1 §1.3.3) */
			if (overlong || nul || n < 12 || strncmp(line, "HTTP/1.", 7) != 0 ||
			    memcmp(line + 8, " 200", 4) != 0)
				return -NC_E_MALFORMED;
			first = false;
			continue;
		}
		if (n == 0)
			break; /* end of headers */
		if (overlong || nul) {
			if (n >= 9 && strncasecmp(line, "LOCATION:", 9) == 0)
				return overlong ? -NC_E_NOSPACE : -NC_E_MALFORMED;
			continue;
		}
		if (line_is_location(line, n, url, cap, &err))
			return err;
	}
	return -NC_E_MALFORMED;
}

/* True when the URL's host is exactly this IPv4 address: the description must come from the
 * device that answered, so a spoofed SSDP answer cannot send miniupnpc elsewhere. */
static bool url_host_is(const char *url, const struct nc_addr *ip)
{
	char a[NC_ADDR_STRLEN];
	const char *h = url + 7; /* after "http://" (checked by nc_pm_ssdp_location) */
	size_t n = strcspn(h, ":/");

	nc_addr_ip_str(ip, a);
	return n == strlen(a) && strncmp(h, a, n) == 0;
}

/* ---- NAT-PMP (libnatpmp) ---------------------------------------------------------------- */

struct pmp {
	natpmp_t np;
	bool open;
	uint8_t op;            /* opcode in flight: 0 external address, 1 map UDP */
	unsigned garbage;      /* datagrams that were not an answer */
	char garbage_why[128];
};

static int pmp_open(struct pmp *p, const struct nc_addr *server)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	in_addr_t gw;
	int r;

	memset(p, 0, sizeof(*p));
	memcpy(&gw, server->ip, 4);
	errno = 0;
	r = initnatpmp(&p->np, 1, gw);
	if (r < 0)
		return errno ? -errno : -NC_E_PROTOCOL;
	p->open = true;
	/* libnatpmp always connects to port 5351; tests run their fake gateway elsewhere. natpmp_t
	 * exposes its socket (natpmp.h), and connect() on a datagram socket may be repeated. */
	if (server->port != NATPMP_PORT) {
		sl = nc_addr_to_sockaddr(server, &ss);
		if (connect(p->np.s, (struct sockaddr *)&ss, sl) < 0)
			return -errno;
	}
	return 0;
}

static void pmp_close(struct pmp *p)
{
	if (p->open)
		closenatpmp(&p->np);
	p->open = false;
}

/* Checks a peeked datagram before libnatpmp reads it: libnatpmp does not look at the length
 * nor at which request an answer belongs to. 0 = a NAT-PMP answer to op (result in *result),
 * -1 = garbage (reason in why). */
static int pmp_check(const uint8_t *buf, size_t n, uint8_t op, uint16_t *result, char *why,
		     size_t whylen)
{
	struct nc_rd r;
	uint8_t ver, rop;
	uint16_t res;

	nc_rd_init(&r, buf, n);
	ver = nc_rd_u8(&r);
	rop = nc_rd_u8(&r);
	res = nc_rd_n16(&r);
	(void)nc_rd_n32(&r); /* epoch */
	if (r.err) {
		snprintf(why, whylen, "%zu bytes, shorter than any NAT-PMP answer", n);
		return -1;
	}
	if (ver != 0) {
		if (ver == PCP_VERSION)
			snprintf(why, whylen, "a PCP (version 2) answer: the gateway speaks PCP, not "
					      "NAT-PMP");
		else
			snprintf(why, whylen, "a version %u answer, not NAT-PMP (version 0)", ver);
		return -1;
	}
	if (rop != 128 + op) {
		snprintf(why, whylen, "opcode %u, which does not answer request %u", rop, op);
		return -1;
	}
	/* RFC 6886 §3.2 / §3.3: 12 bytes for the external address, 16 for a mapping. */
	if (res == 0 && nc_rd_left(&r) < (op == 0 ? 4u : 8u)) {
		snprintf(why, whylen, "a %zu-byte success answer, too short", n);
		return -1;
	}
	*result = res;
	return 0;
}

/* Reads what is queued and retransmits when due (libnatpmp: 250 ms doubling). Returns 1 when
 * an answer arrived (*result: its result code; *resp filled on success), 0 while pending,
 * -ECONNREFUSED, -NC_E_TIMEOUT (libnatpmp gave up) or another negative error. */
static int pmp_step(struct pmp *p, natpmpresp_t *resp, uint16_t *result)
{
	for (;;) {
		uint8_t buf[64];
		ssize_t n = recv(p->np.s, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		int r;

		if (n < 0 && errno == ECONNREFUSED)
			return -ECONNREFUSED;
		if (n >= 0) {
			size_t got = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf);
			if (pmp_check(buf, got, p->op, result, p->garbage_why,
				      sizeof(p->garbage_why)) < 0) {
				(void)recv(p->np.s, buf, sizeof(buf), MSG_DONTWAIT);
				p->garbage++;
				continue;
			}
		}
		errno = 0;
		r = readnatpmpresponseorretry(&p->np, resp);
		if (r == NATPMP_TRYAGAIN)
			return 0;
		if (n >= 0)
			return 1; /* the checked answer: success or a result code */
		if (r == NATPMP_ERR_NOGATEWAYSUPPORT)
			return -NC_E_TIMEOUT;
		if (errno == ECONNREFUSED)
			return -ECONNREFUSED;
		return r == 0 ? 1 : -NC_E_PROTOCOL;
	}
}

/* Milliseconds until libnatpmp wants to retransmit (0 if due). */
static int pmp_wait_ms(struct pmp *p)
{
	struct timeval tv;

	if (getnatpmprequesttimeout(&p->np, &tv) < 0 || tv.tv_sec < 0)
		return 0;
	return (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
}

/* Words for a NAT-PMP outcome that is not success. */
static void pmp_words(char *buf, size_t len, int r, uint16_t result, const struct pmp *p,
		      const struct pm_opts *o, uint32_t ms)
{
	char a[NC_ADDR_STRLEN];

	nc_addr_str(&o->server, a);
	if (r == 1)
		snprintf(buf, len, "NAT-PMP: %s (%s)", nc_pm_natpmp_result_name(result),
			 nc_pm_natpmp_result_message(result));
	else if (r == -ECONNREFUSED)
		snprintf(buf, len, "NAT-PMP: %s refused the request (ICMP port unreachable)", a);
	else if (p->garbage)
		snprintf(buf, len, "NAT-PMP: %s answered, but not in NAT-PMP: %.100s", a,
			 p->garbage_why);
	else if (r == -NC_E_TIMEOUT || r == 0)
		snprintf(buf, len, "NAT-PMP: no answer from %s within %u ms", a, ms);
	else
		snprintf(buf, len, "NAT-PMP: %s", nc_strerror(r));
}

/* Waits up to timeout_ms for the answer to the request in flight. */
static int pmp_wait(struct pmp *p, uint32_t timeout_ms, natpmpresp_t *resp, uint16_t *result)
{
	uint64_t deadline = nc_now_us() + (uint64_t)timeout_ms * 1000;

	for (;;) {
		struct pollfd pfd = {.fd = p->np.s, .events = POLLIN};
		uint64_t now;
		int r = pmp_step(p, resp, result), ms;

		if (r != 0)
			return r;
		now = nc_now_us();
		if (now >= deadline)
			return -NC_E_TIMEOUT;
		ms = pmp_wait_ms(p);
		if ((uint64_t)ms * 1000 > deadline - now)
			ms = (int)((deadline - now + 999) / 1000);
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return -errno;
	}
}

/* ---- PCP ------------------------------------------------------------------------------- */

struct pcp {
	int fd;
	struct nc_addr server, client;
	uint8_t req[PCP_HDR_LEN + PCP_MAP_LEN];
	size_t req_len;
	uint8_t opcode;
	struct pcp_map map;
	uint64_t next_us;
	uint32_t rto_ms;
	unsigned tries;
	unsigned garbage;
	char garbage_why[128];
};

/* A socket from src (random port) connected to the server: the kernel then drops datagrams
 * from anyone else and reports ICMP port unreachable as ECONNREFUSED. */
static int pcp_open(struct pcp *s, const struct nc_addr *server, const struct nc_addr *src)
{
	struct sockaddr_storage ss;
	socklen_t sl = nc_addr_to_sockaddr(server, &ss);

	memset(s, 0, sizeof(*s));
	s->server = *server;
	s->fd = nc_udp_bind(src, 0, &s->client);
	if (s->fd < 0)
		return s->fd;
	if (connect(s->fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = -errno;
		close(s->fd);
		s->fd = -1;
		return e;
	}
	return 0;
}

static void pcp_close(struct pcp *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static int pcp_send(struct pcp *s, uint64_t now)
{
	if (send(s->fd, s->req, s->req_len, 0) < 0 && errno != EAGAIN)
		return -errno;
	s->tries++;
	s->next_us = now + (uint64_t)s->rto_ms * 1000;
	s->rto_ms *= 2;
	return 0;
}

/* Encodes and sends a request; m may be NULL for ANNOUNCE. client is the address the gateway
 * sees (our socket's address: no NAT between us and the gateway, else ADDRESS_MISMATCH). */
static int pcp_start(struct pcp *s, uint8_t opcode, uint32_t lifetime, const struct pcp_map *m)
{
	int n;

	s->opcode = opcode;
	if (m)
		s->map = *m;
	n = opcode == PCP_OP_MAP ? pcp_encode_map(s->req, sizeof(s->req), lifetime, &s->client, m)
				 : pcp_encode_announce(s->req, sizeof(s->req), &s->client);
	if (n < 0)
		return n;
	s->req_len = (size_t)n;
	s->tries = 0;
	s->rto_ms = NC_PM_FIRST_RTO_MS;
	return pcp_send(s, nc_now_us());
}

/* Reads queued datagrams: 1 = the answer to the request in flight (in *resp), 0 = none yet,
 * negative = the socket failed (-ECONNREFUSED: nothing listens on the port). */
static int pcp_read(struct pcp *s, struct pcp_response *resp)
{
	for (;;) {
		uint8_t buf[PCP_MAX_MSG + 4];
		ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		int r;

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		if ((size_t)n > sizeof(buf)) {
			s->garbage++;
			snprintf(s->garbage_why, sizeof(s->garbage_why),
				 "a %zd-byte datagram, longer than any PCP message", n);
			continue;
		}
		r = pcp_decode_response(buf, (size_t)n, resp);
		if (r < 0) {
			s->garbage++;
			snprintf(s->garbage_why, sizeof(s->garbage_why), "%zd bytes that are not a "
					   "PCP response (%s)", n, nc_strerror(r));
			continue;
		}
		/* A NAT-PMP or other-version answer cannot carry our nonce: it answers whatever we
		 * sent last (RFC 6887 §9). */
		if (resp->version != PCP_VERSION || pcp_response_matches(resp, s->opcode, &s->map))
			return 1;
		s->garbage++;
		snprintf(s->garbage_why, sizeof(s->garbage_why),
			 "a response that answers no request of ours (opcode %u)", resp->opcode);
	}
}

static int pcp_wait(struct pcp *s, uint32_t timeout_ms, struct pcp_response *resp)
{
	uint64_t deadline = nc_now_us() + (uint64_t)timeout_ms * 1000;

	for (;;) {
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		uint64_t now, until;
		int r = pcp_read(s, resp);

		if (r != 0)
			return r;
		now = nc_now_us();
		if (now >= deadline)
			return -NC_E_TIMEOUT;
		if (now >= s->next_us) {
			r = pcp_send(s, now);
			if (r < 0)
				return r;
		}
		until = s->next_us < deadline ? s->next_us : deadline;
		if (poll(&pfd, 1, (int)((until - now + 999) / 1000)) < 0 && errno != EINTR)
			return -errno;
	}
}

static void pcp_words(char *buf, size_t len, int r, const struct pcp_response *resp,
		      const struct pcp *s, const struct nc_addr *server, uint32_t ms)
{
	char a[NC_ADDR_STRLEN];

	nc_addr_str(server, a);
	if (r == 1)
		pcp_response_str(resp, buf, len);
	else if (r == -ECONNREFUSED)
		snprintf(buf, len, "PCP: %s refused the request (ICMP port unreachable)", a);
	else if (s->garbage)
		snprintf(buf, len, "PCP: %s answered, but not in PCP: %.100s", a, s->garbage_why);
	else if (r == -NC_E_TIMEOUT || r == 0)
		snprintf(buf, len, "PCP: no answer from %s within %u ms", a, ms);
	else
		snprintf(buf, len, "PCP: %s", nc_strerror(r));
}

/* ---- UPnP-IGD (miniupnpc) ---------------------------------------------------------------- */

struct upnp_found {
	enum nc_tri present;
	struct nc_addr external;
	char error[NC_NOTE_LEN];
	char control_url[NC_PM_URL_LEN];
	char service_type[NC_PM_URL_LEN];
	char lanaddr[64];
};

/* SSDP M-SEARCH for an IGD, answered by the gateway. miniupnpc's upnpDiscover() waits at
 * least one second per device type (it rounds MX up to 1 s and then listens for the whole
 * delay), far beyond a 500 ms budget, so the search is ours: unicast to the gateway (answered
 * at once) and, unless told otherwise, multicast too, retransmitted 250 ms doubling. Only an
 * answer from the gateway's address whose LOCATION names that address counts. */
static int upnp_search(const struct pm_opts *o, uint32_t timeout_ms, char *url, size_t cap,
		       char *why, size_t whylen)
{
	static const char msg[] = "M-SEARCH * HTTP/1.1\r\n"
				  "HOST: " SSDP_MCAST ":1900\r\n"
				  "MAN: \"ssdp:discover\"\r\n"
				  "MX: 1\r\n"
				  "ST: " SSDP_ST "\r\n"
				  "\r\n";
	struct sockaddr_storage uni, mc;
	socklen_t ul, ml;
	struct nc_addr gw = o->gateway, bound, mca;
	uint64_t deadline = nc_now_us() + (uint64_t)timeout_ms * 1000, next = 0;
	uint32_t rto = NC_PM_FIRST_RTO_MS;
	int fd, r = -NC_E_TIMEOUT;
	unsigned char ttl = 2;

	gw.port = o->ssdp_port;
	ul = nc_addr_to_sockaddr(&gw, &uni);
	nc_addr_parse_ip(SSDP_MCAST, &mca);
	mca.port = NC_PM_SSDP_PORT;
	ml = nc_addr_to_sockaddr(&mca, &mc);
	fd = nc_udp_bind(&o->src, 0, &bound);
	if (fd < 0) {
		snprintf(why, whylen, "UPnP-IGD: cannot open a socket (%s)", nc_strerror(fd));
		return fd;
	}
	(void)setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
	snprintf(why, whylen, "UPnP-IGD: no answer to an SSDP search within %u ms", timeout_ms);

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = nc_now_us(), until;

		if (now >= deadline)
			break;
		if (now >= next) {
			(void)sendto(fd, msg, sizeof(msg) - 1, 0, (struct sockaddr *)&uni, ul);
			if (!o->ssdp_unicast_only)
				(void)sendto(fd, msg, sizeof(msg) - 1, 0, (struct sockaddr *)&mc, ml);
			next = now + (uint64_t)rto * 1000;
			rto *= 2;
		}
		until = next < deadline ? next : deadline;
		if (poll(&pfd, 1, (int)((until - now + 999) / 1000)) < 0 && errno != EINTR)
			break;
		for (;;) {
			uint8_t buf[1500];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			struct nc_addr fa;
			char a[NC_ADDR_STRLEN];
			ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &fl);
			int e;

			if (n < 0)
				break;
			if (nc_addr_from_sockaddr(&fa, (struct sockaddr *)&from, fl) < 0)
				continue;
			if (!nc_addr_ip_eq(&fa, &o->gateway)) {
				snprintf(why, whylen, "UPnP-IGD: only %s answered, which is not the "
						      "default gateway", nc_addr_ip_str(&fa, a));
				continue;
			}
			e = nc_pm_ssdp_location(buf, (size_t)n, url, cap);
			if (e < 0) {
				snprintf(why, whylen, "UPnP-IGD: the gateway's SSDP answer (%zd bytes) "
						      "has no usable LOCATION (%s)", n, nc_strerror(e));
				continue;
			}
			if (!url_host_is(url, &o->gateway)) {
				snprintf(why, whylen, "UPnP-IGD: the gateway's SSDP answer points "
						      "elsewhere (%.80s)", url);
				continue;
			}
			r = 0;
			goto out;
		}
	}
out:
	close(fd);
	return r;
}

/* Search, fetch the device description, optionally ask for the external address. */
static void upnp_discover(const struct pm_opts *o, uint32_t timeout_ms, bool want_external,
			  struct upnp_found *f)
{
	struct UPNPUrls urls;
	struct IGDdatas data;
	char url[NC_PM_URL_LEN], ext[64] = "";
	int r;

	memset(f, 0, sizeof(*f));
	f->present = NC_TRI_NO;
	if (upnp_search(o, timeout_ms, url, sizeof(url), f->error, sizeof(f->error)) < 0)
		return;
	memset(&urls, 0, sizeof(urls));
	memset(&data, 0, sizeof(data));
	if (UPNP_GetIGDFromUrl(url, &urls, &data, f->lanaddr, sizeof(f->lanaddr)) != 1 ||
	    !urls.controlURL || !urls.controlURL[0]) {
		snprintf(f->error, sizeof(f->error),
			 "UPnP-IGD: %.80s is not a usable Internet Gateway Device description", url);
		FreeUPNPUrls(&urls);
		return;
	}
	f->present = NC_TRI_YES;
	f->error[0] = '\0';
	snprintf(f->control_url, sizeof(f->control_url), "%s", urls.controlURL);
	snprintf(f->service_type, sizeof(f->service_type), "%s", data.first.servicetype);
	if (want_external) {
		r = UPNP_GetExternalIPAddress(urls.controlURL, data.first.servicetype, ext);
		ext[sizeof(ext) - 1] = '\0';
		if (r != UPNPCOMMAND_SUCCESS)
			snprintf(f->error, sizeof(f->error),
				 "UPnP-IGD: GetExternalIPAddress failed: %d (%s)", r,
				 strupnperror(r) ? strupnperror(r) : "unknown error");
		else if (nc_addr_parse_ip(ext, &f->external) < 0)
			snprintf(f->error, sizeof(f->error),
				 "UPnP-IGD: the gateway claims an unparsable external address");
	}
	FreeUPNPUrls(&urls);
}

/* The probe's UPnP worker. Shared state is freed by whoever lets go of it last, so the probe
 * can return at its deadline while miniupnpc is still stuck in a slow HTTP exchange. */
struct upnp_job {
	pthread_mutex_t mu;
	int refs;
	int efd;
	struct pm_opts o;
	uint32_t timeout_ms;
	bool done;
	struct upnp_found f;
};

static void job_put(struct upnp_job *j)
{
	int left;

	pthread_mutex_lock(&j->mu);
	left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left == 0) {
		close(j->efd);
		pthread_mutex_destroy(&j->mu);
		free(j);
	}
}

static void *upnp_thread(void *arg)
{
	struct upnp_job *j = arg;
	struct upnp_found f;

	upnp_discover(&j->o, j->timeout_ms, true, &f);
	pthread_mutex_lock(&j->mu);
	j->f = f;
	j->done = true;
	pthread_mutex_unlock(&j->mu);
	(void)eventfd_write(j->efd, 1);
	job_put(j);
	return NULL;
}

static struct upnp_job *job_start(const struct pm_opts *o, uint32_t timeout_ms, char *err,
				  size_t errlen)
{
	struct upnp_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int r;

	if (!j) {
		snprintf(err, errlen, "UPnP-IGD: %s", nc_strerror(-NC_E_NOMEM));
		return NULL;
	}
	j->o = *o;
	j->timeout_ms = timeout_ms;
	j->refs = 2;
	j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (j->efd < 0 || pthread_mutex_init(&j->mu, NULL) != 0) {
		snprintf(err, errlen, "UPnP-IGD: %s", strerror(errno));
		if (j->efd >= 0)
			close(j->efd);
		free(j);
		return NULL;
	}
	/* The worker blocks every signal, so they reach the caller's thread (which may be in
	 * sigsuspend or poll waiting for them). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, upnp_thread, j);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		snprintf(err, errlen, "UPnP-IGD: cannot start a thread (%s)", strerror(r));
		close(j->efd);
		pthread_mutex_destroy(&j->mu);
		free(j);
		return NULL;
	}
	return j;
}

/* ---- the probe --------------------------------------------------------------------------- */

enum pcp_stage { PCP_ANNOUNCE, PCP_MAP, PCP_DELETE, PCP_DONE };

static bool want(const struct pm_opts *o, enum nc_pm_proto p)
{
	return o->protos & (1u << p);
}

static void set_error(struct nc_portmap_result *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct nc_portmap_result *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
}

/* Handles a PCP answer during the probe; returns the next stage. */
static enum pcp_stage probe_pcp_answer(struct pcp *s, enum pcp_stage st,
				       const struct pcp_response *resp,
				       struct nc_portmap_result *m, const struct pm_opts *o)
{
	char w[NC_NOTE_LEN];
	struct pcp_map map;

	if (resp->version != PCP_VERSION) {
		/* NAT-PMP-only (or pre-RFC PCP) gateway: PCP itself is absent. */
		m->present = NC_TRI_NO;
		set_error(m, "%s", pcp_response_str(resp, w, sizeof(w)));
		return PCP_DONE;
	}
	m->present = NC_TRI_YES;
	switch (st) {
	case PCP_ANNOUNCE:
		TRACE(o, "PCP: ANNOUNCE answered: %s, epoch %u", pcp_result_name(resp->result),
		      resp->epoch);
		if (resp->result != PCP_R_SUCCESS && resp->result != PCP_R_UNSUPP_OPCODE)
			set_error(m, "%s", pcp_response_str(resp, w, sizeof(w)));
		/* The external address only comes with a mapping: map our own socket's port for a
		 * moment and delete it again. */
		memset(&map, 0, sizeof(map));
		pcp_new_nonce(map.nonce);
		map.protocol = IPPROTO_UDP_NUM;
		map.internal_port = s->client.port;
		map.external_port = s->client.port;
		return pcp_start(s, PCP_OP_MAP, PCP_PROBE_LIFETIME, &map) < 0 ? PCP_DONE : PCP_MAP;
	case PCP_MAP:
		if (resp->result != PCP_R_SUCCESS) {
			set_error(m, "%s", pcp_response_str(resp, w, sizeof(w)));
			return PCP_DONE;
		}
		m->error[0] = '\0';
		m->external = resp->map.external_ip;
		m->external.port = 0;
		TRACE(o, "PCP: MAP answered: external %s, lifetime %u s",
		      nc_addr_ip_str(&m->external, w), resp->lifetime);
		map = s->map;
		map.external_port = resp->map.external_port;
		map.external_ip = resp->map.external_ip;
		return pcp_start(s, PCP_OP_MAP, 0, &map) < 0 ? PCP_DONE : PCP_DELETE;
	case PCP_DELETE:
		TRACE(o, "PCP: temporary mapping deleted: %s", pcp_result_name(resp->result));
		if (resp->result != PCP_R_SUCCESS)
			set_error(m, "PCP: the probe's temporary mapping was not deleted: %s",
				  pcp_response_str(resp, w, sizeof(w)) + 5);
		return PCP_DONE;
	default:
		return PCP_DONE;
	}
}

int nc_pm_probe(const struct nc_pm_cfg *cfg, struct nc_portmap_result out[NC_PM_COUNT])
{
	struct pm_opts o;
	char err[NC_NOTE_LEN], a[NC_ADDR_STRLEN];
	struct pmp pmp = {.open = false};
	struct pcp pcp = {.fd = -1};
	struct upnp_job *job = NULL;
	enum pcp_stage pcp_st = PCP_DONE;
	bool pmp_active = false, upnp_pending = false;
	uint64_t deadline;
	uint16_t result = 0;
	natpmpresp_t presp;
	struct nc_portmap_result *m;
	int r;

	if (!out)
		return -NC_E_INVALID;
	r = opts_init(cfg, &o, err, sizeof(err));
	for (int p = 0; p < NC_PM_COUNT; p++) {
		memset(&out[p], 0, sizeof(out[p]));
		out[p].tested = want(&o, (enum nc_pm_proto)p);
		out[p].present = NC_TRI_UNKNOWN;
		if (r < 0 && out[p].tested) {
			out[p].present = NC_TRI_NO;
			set_error(&out[p], "%s: %s", nc_pm_proto_name((enum nc_pm_proto)p), err);
		}
	}
	if (r < 0)
		return 0;
	deadline = o.t0 + (uint64_t)o.budget_ms * 1000;
	TRACE(&o, "port mapping: gateway %s, from %s, budget %u ms", nc_addr_str(&o.server, a),
	      nc_addr_ip_str(&o.src, err), o.budget_ms);

	if (want(&o, NC_PM_UPNP)) {
		/* Leave the HTTP exchanges a quarter of the budget. */
		job = job_start(&o, o.budget_ms - o.budget_ms / 4, err, sizeof(err));
		if (!job) {
			out[NC_PM_UPNP].present = NC_TRI_NO;
			set_error(&out[NC_PM_UPNP], "%s", err);
		}
		upnp_pending = job != NULL;
	}
	if (want(&o, NC_PM_NATPMP)) {
		m = &out[NC_PM_NATPMP];
		r = pmp_open(&pmp, &o.server);
		if (r == 0 && sendpublicaddressrequest(&pmp.np) < 0)
			r = errno ? -errno : -NC_E_PROTOCOL;
		if (r < 0) {
			m->present = NC_TRI_NO;
			set_error(m, "NAT-PMP: cannot send (%s)", nc_strerror(r));
		} else {
			pmp.op = 0;
			pmp_active = true;
		}
	}
	if (want(&o, NC_PM_PCP)) {
		m = &out[NC_PM_PCP];
		r = pcp_open(&pcp, &o.server, &o.src);
		if (r == 0)
			r = pcp_start(&pcp, PCP_OP_ANNOUNCE, 0, NULL);
		if (r < 0 && r != -ECONNREFUSED) {
			m->present = NC_TRI_NO;
			set_error(m, "PCP: cannot send (%s)", nc_strerror(r));
		} else {
			pcp_st = PCP_ANNOUNCE;
		}
	}

	while (pmp_active || pcp_st != PCP_DONE || upnp_pending) {
		struct pollfd pfd[3];
		nfds_t n = 0;
		uint64_t now = nc_now_us(), until = deadline;
		int ms;

		if (now >= deadline)
			break;
		if (pmp_active) {
			uint64_t t = now + (uint64_t)pmp_wait_ms(&pmp) * 1000;
			until = t < until ? t : until;
			pfd[n++] = (struct pollfd){.fd = pmp.np.s, .events = POLLIN};
		}
		if (pcp_st != PCP_DONE) {
			until = pcp.next_us < until ? pcp.next_us : until;
			pfd[n++] = (struct pollfd){.fd = pcp.fd, .events = POLLIN};
		}
		if (upnp_pending)
			pfd[n++] = (struct pollfd){.fd = job->efd, .events = POLLIN};
		ms = until > now ? (int)((until - now + 999) / 1000) : 0;
		if (poll(pfd, n, ms) < 0 && errno != EINTR)
			break;
		now = nc_now_us();

		if (pmp_active) {
			m = &out[NC_PM_NATPMP];
			r = pmp_step(&pmp, &presp, &result);
			if (r == 1 && result == 0) {
				m->present = NC_TRI_YES;
				nc_addr_set(&m->external, AF_INET, &presp.pnu.publicaddress.addr, 0);
				TRACE(&o, "NAT-PMP: external address %s",
				      nc_addr_ip_str(&m->external, a));
			} else if (r == 1) {
				/* It speaks NAT-PMP, and said no. */
				m->present = NC_TRI_YES;
				pmp_words(m->error, sizeof(m->error), r, result, &pmp, &o, 0);
			} else if (r < 0) {
				m->present = NC_TRI_NO;
				pmp_words(m->error, sizeof(m->error), r, 0, &pmp, &o,
					  (uint32_t)((now - o.t0) / 1000));
			}
			if (r != 0) {
				pmp_active = false;
				if (m->error[0])
					TRACE(&o, "%s", m->error);
			}
		}
		if (pcp_st != PCP_DONE) {
			struct pcp_response resp;

			m = &out[NC_PM_PCP];
			while (pcp_st != PCP_DONE && (r = pcp_read(&pcp, &resp)) == 1)
				pcp_st = probe_pcp_answer(&pcp, pcp_st, &resp, m, &o);
			if (r < 0 && pcp_st != PCP_DONE) {
				if (pcp_st == PCP_ANNOUNCE)
					m->present = NC_TRI_NO;
				pcp_words(m->error, sizeof(m->error), r, NULL, &pcp, &o.server, 0);
				pcp_st = PCP_DONE;
			}
			if (pcp_st != PCP_DONE && now >= pcp.next_us)
				(void)pcp_send(&pcp, now);
		}
		if (upnp_pending) {
			eventfd_t v;

			(void)eventfd_read(job->efd, &v);
			pthread_mutex_lock(&job->mu);
			if (job->done) {
				upnp_pending = false;
				m = &out[NC_PM_UPNP];
				m->present = job->f.present;
				m->external = job->f.external;
				snprintf(m->error, sizeof(m->error), "%s", job->f.error);
				TRACE(&o, "UPnP-IGD: %s%s%s",
				      m->present == NC_TRI_YES ? "present, external " : "absent",
				      nc_addr_is_set(&m->external) ? nc_addr_ip_str(&m->external, a)
								   : "",
				      m->error[0] ? m->error : "");
			}
			pthread_mutex_unlock(&job->mu);
		}
	}

	/* Deadline: whatever has not answered is absent (or, for PCP's later stages, present
	 * with what it said so far). */
	if (pmp_active) {
		m = &out[NC_PM_NATPMP];
		m->present = NC_TRI_NO;
		pmp_words(m->error, sizeof(m->error), 0, 0, &pmp, &o, o.budget_ms);
	}
	m = &out[NC_PM_PCP];
	if (pcp_st == PCP_ANNOUNCE) {
		m->present = NC_TRI_NO;
		pcp_words(m->error, sizeof(m->error), 0, NULL, &pcp, &o.server, o.budget_ms);
	} else if (pcp_st == PCP_MAP) {
		set_error(m, "PCP: the gateway answered ANNOUNCE but not MAP within %u ms",
			  o.budget_ms);
	} else if (pcp_st == PCP_DELETE) {
		set_error(m, "PCP: the probe's temporary mapping of port %u was not confirmed "
			     "deleted within %u ms (it expires by itself within %u s)",
			  pcp.map.internal_port, o.budget_ms, PCP_PROBE_LIFETIME);
	}
	if (upnp_pending) {
		m = &out[NC_PM_UPNP];
		m->present = NC_TRI_NO;
		set_error(m, "UPnP-IGD: no Internet Gateway Device answered within %u ms",
			  o.budget_ms);
	}
	if (job)
		job_put(job);
	pmp_close(&pmp);
	pcp_close(&pcp);
	TRACE(&o, "port mapping probe done");
	return 0;
}

/* ---- mappings --------------------------------------------------------------------------- */

unsigned nc_pm_registry_count(const struct nc_pm_registry *reg)
{
	unsigned n = 0;

	for (unsigned i = 0; reg && i < NC_PM_MAX_LIVE; i++)
		n += reg->m[i].live;
	return n;
}

static int registry_add(struct nc_pm_registry *reg, const struct nc_pm_mapping *m)
{
	for (unsigned i = 0; i < NC_PM_MAX_LIVE; i++) {
		if (!reg->m[i].live) {
			reg->m[i] = *m;
			return 0;
		}
	}
	return -NC_E_NOSPACE;
}

static void registry_drop(struct nc_pm_registry *reg, const struct nc_pm_mapping *m)
{
	for (unsigned i = 0; reg && i < NC_PM_MAX_LIVE; i++) {
		struct nc_pm_mapping *x = &reg->m[i];
		if (x->live && x->proto == m->proto && nc_addr_eq(&x->internal, &m->internal) &&
		    nc_addr_eq(&x->external, &m->external)) {
			x->live = false;
			return;
		}
	}
}

static void say(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int map_natpmp(const struct pm_opts *o, uint16_t port, uint32_t lifetime,
		      struct nc_pm_mapping *out, char *err, size_t errlen)
{
	struct pmp p;
	natpmpresp_t resp;
	uint16_t result = 0;
	char w[NC_NOTE_LEN];
	int r = pmp_open(&p, &o->server);

	if (r == 0 && sendnewportmappingrequest(&p.np, NATPMP_PROTOCOL_UDP, port, port,
						lifetime) < 0)
		r = errno ? -errno : -NC_E_PROTOCOL;
	if (r < 0) {
		say(err, errlen, "NAT-PMP: cannot send (%s)", nc_strerror(r));
		pmp_close(&p);
		return r;
	}
	p.op = 1;
	r = pmp_wait(&p, o->map_timeout_ms, &resp, &result);
	if (r != 1 || result != 0) {
		pmp_words(w, sizeof(w), r, result, &p, o, o->map_timeout_ms);
		say(err, errlen, "%s", w);
		pmp_close(&p);
		return r == 1 ? -NC_E_PROTOCOL : r;
	}
	out->external.family = AF_INET;
	out->external.port = resp.pnu.newportmapping.mappedpublicport;
	out->lifetime_s = resp.pnu.newportmapping.lifetime;
	/* The mapping answer has no address: ask for it (failure here is not fatal). */
	if (sendpublicaddressrequest(&p.np) >= 0) {
		p.op = 0;
		if (pmp_wait(&p, o->map_timeout_ms, &resp, &result) == 1 && result == 0)
			memcpy(out->external.ip, &resp.pnu.publicaddress.addr, 4);
	}
	pmp_close(&p);
	return 0;
}

static int unmap_natpmp(struct nc_pm_mapping *m, char *err, size_t errlen)
{
	struct pm_opts o = {.server = m->server};
	struct pmp p;
	natpmpresp_t resp;
	uint16_t result = 0;
	char w[NC_NOTE_LEN];
	int r = pmp_open(&p, &m->server);

	/* RFC 6886 §3.4: lifetime 0 deletes; the suggested external port must then be 0. */
	if (r == 0 && sendnewportmappingrequest(&p.np, NATPMP_PROTOCOL_UDP, m->internal.port, 0,
						0) < 0)
		r = errno ? -errno : -NC_E_PROTOCOL;
	if (r == 0) {
		p.op = 1;
		r = pmp_wait(&p, m->timeout_ms, &resp, &result);
	}
	pmp_close(&p);
	if (r == 1 && result == 0)
		return 0;
	pmp_words(w, sizeof(w), r, result, &p, &o, m->timeout_ms);
	say(err, errlen, "%s", w);
	return r == 1 ? -NC_E_PROTOCOL : r < 0 ? r : -NC_E_PROTOCOL;
}

static int pcp_exchange(const struct nc_addr *server, const struct nc_addr *src, uint32_t lifetime,
			const struct pcp_map *map, uint32_t timeout_ms, struct pcp_response *resp,
			char *err, size_t errlen)
{
	struct pcp s;
	char w[NC_NOTE_LEN];
	int r = pcp_open(&s, server, src);

	if (r == 0)
		r = pcp_start(&s, PCP_OP_MAP, lifetime, map);
	if (r == 0)
		r = pcp_wait(&s, timeout_ms, resp);
	if (r == 1 && resp->version == PCP_VERSION && resp->result == PCP_R_SUCCESS) {
		pcp_close(&s);
		return 0;
	}
	pcp_words(w, sizeof(w), r, resp, &s, server, timeout_ms);
	say(err, errlen, "%s", w);
	pcp_close(&s);
	return r == 1 ? -NC_E_PROTOCOL : r < 0 ? r : -NC_E_PROTOCOL;
}

static int map_pcp(const struct pm_opts *o, uint16_t port, uint32_t lifetime,
		   struct nc_pm_mapping *out, char *err, size_t errlen)
{
	struct pcp_map map = {.protocol = IPPROTO_UDP_NUM, .internal_port = port,
			      .external_port = port};
	struct pcp_response resp;
	int r;

	pcp_new_nonce(map.nonce);
	r = pcp_exchange(&o->server, &o->src, lifetime, &map, o->map_timeout_ms, &resp, err,
			 errlen);
	if (r < 0)
		return r;
	memcpy(out->nonce, map.nonce, PCP_NONCE_LEN);
	out->external = resp.map.external_ip;
	out->external.port = resp.map.external_port;
	out->lifetime_s = resp.lifetime;
	return 0;
}

static int unmap_pcp(struct nc_pm_mapping *m, char *err, size_t errlen)
{
	struct pcp_map map = {.protocol = m->ipproto, .internal_port = m->internal.port,
			      .external_port = m->external.port, .external_ip = m->external};
	struct pcp_response resp;
	struct nc_addr src = m->internal;

	/* RFC 6887 §15: a MAP with lifetime 0 and the same nonce, protocol and internal port
	 * deletes the mapping. */
	memcpy(map.nonce, m->nonce, PCP_NONCE_LEN);
	map.external_ip.port = 0;
	src.port = 0;
	return pcp_exchange(&m->server, &src, 0, &map, m->timeout_ms, &resp, err, errlen);
}

static int map_upnp(const struct pm_opts *o, uint16_t port, uint32_t lifetime,
		    struct nc_pm_mapping *out, char *err, size_t errlen)
{
	struct upnp_found f;
	char in[8], ext[8], lease[16];
	char srcbuf[NC_ADDR_STRLEN];
	const char *client;
	int r = -1;

	upnp_discover(o, o->map_timeout_ms, true, &f);
	if (f.present != NC_TRI_YES) {
		say(err, errlen, "%s", f.error);
		return -NC_E_TIMEOUT;
	}
	client = f.lanaddr[0] ? f.lanaddr : nc_addr_ip_str(&o->src, srcbuf);
	snprintf(in, sizeof(in), "%u", port);
	snprintf(lease, sizeof(lease), "%u", lifetime);
	/* The internal port first; on a conflict, a few random ports of the dynamic range. */
	for (int attempt = 0; attempt < 4; attempt++) {
		uint16_t e = attempt == 0 ? port : (uint16_t)(49152 + randombytes_uniform(16384));

		snprintf(ext, sizeof(ext), "%u", e);
		r = UPNP_AddPortMapping(f.control_url, f.service_type, ext, in, client, NC_PM_DESC,
					"UDP", NULL, lease);
		if (r == UPNP_ERR_ONLY_PERMANENT && strcmp(lease, "0") != 0) {
			snprintf(lease, sizeof(lease), "0");
			attempt--;
			continue;
		}
		if (r != UPNP_ERR_CONFLICT)
			break;
	}
	if (r != UPNPCOMMAND_SUCCESS) {
		say(err, errlen, "UPnP-IGD: AddPortMapping failed: %d (%s)", r,
		    strupnperror(r) ? strupnperror(r) : "unknown error");
		return -NC_E_PROTOCOL;
	}
	out->external = f.external;
	out->external.port = (uint16_t)atoi(ext);
	if (!nc_addr_is_set(&out->external))
		out->external.family = AF_INET;
	if (nc_addr_parse_ip(client, &out->internal) == 0)
		out->internal.port = port;
	out->lifetime_s = (uint32_t)strtoul(lease, NULL, 10);
	snprintf(out->control_url, sizeof(out->control_url), "%s", f.control_url);
	snprintf(out->service_type, sizeof(out->service_type), "%s", f.service_type);
	return 0;
}

static int unmap_upnp(struct nc_pm_mapping *m, char *err, size_t errlen)
{
	char ext[8];
	int r;

	snprintf(ext, sizeof(ext), "%u", m->external.port);
	r = UPNP_DeletePortMapping(m->control_url, m->service_type, ext, "UDP", NULL);
	if (r == UPNPCOMMAND_SUCCESS || r == UPNP_ERR_NO_SUCH_ENTRY)
		return 0;
	say(err, errlen, "UPnP-IGD: DeletePortMapping failed: %d (%s)", r,
	    strupnperror(r) ? strupnperror(r) : "unknown error");
	return -NC_E_PROTOCOL;
}

int nc_pm_map(const struct nc_pm_cfg *cfg, struct nc_pm_registry *reg, enum nc_pm_proto proto,
	      uint16_t internal_port, uint32_t lifetime_s, struct nc_pm_mapping *out, char *err,
	      size_t errlen)
{
	struct pm_opts o;
	char w[NC_NOTE_LEN];
	int r;

	if (!out || (unsigned)proto >= NC_PM_COUNT || internal_port == 0) {
		say(err, errlen, "invalid mapping request");
		return -NC_E_INVALID;
	}
	memset(out, 0, sizeof(*out));
	r = opts_init(cfg, &o, w, sizeof(w));
	if (r < 0) {
		say(err, errlen, "%s: %s", nc_pm_proto_name(proto), w);
		return r;
	}
	out->proto = proto;
	out->ipproto = IPPROTO_UDP_NUM;
	out->server = proto == NC_PM_UPNP ? o.gateway : o.server;
	out->internal = o.src;
	out->internal.port = internal_port;
	out->timeout_ms = o.map_timeout_ms;
	switch (proto) {
	case NC_PM_NATPMP:
		r = map_natpmp(&o, internal_port, lifetime_s, out, err, errlen);
		break;
	case NC_PM_PCP:
		r = map_pcp(&o, internal_port, lifetime_s, out, err, errlen);
		break;
	default:
		r = map_upnp(&o, internal_port, lifetime_s, out, err, errlen);
		break;
	}
	if (r < 0)
		return r;
	out->live = true;
	TRACE(&o, "%s: mapped %s", nc_pm_proto_name(proto), nc_addr_str(&out->external, w));
	if (reg && registry_add(reg, out) < 0) {
		(void)nc_pm_unmap(NULL, out, NULL, 0);
		say(err, errlen, "too many live mappings (%d)", NC_PM_MAX_LIVE);
		return -NC_E_NOSPACE;
	}
	return 0;
}

int nc_pm_unmap(struct nc_pm_registry *reg, struct nc_pm_mapping *m, char *err, size_t errlen)
{
	int r;

	if (!m || !m->live) {
		say(err, errlen, "no such mapping");
		return -NC_E_INVALID;
	}
	switch (m->proto) {
	case NC_PM_NATPMP:
		r = unmap_natpmp(m, err, errlen);
		break;
	case NC_PM_PCP:
		r = unmap_pcp(m, err, errlen);
		break;
	case NC_PM_UPNP:
		r = unmap_upnp(m, err, errlen);
		break;
	default:
		r = -NC_E_INVALID;
		break;
	}
	if (r < 0)
		return r;
	registry_drop(reg, m); /* before clearing live: m may be the registry's own slot */
	m->live = false;
	return 0;
}

int nc_pm_unmap_all(struct nc_pm_registry *reg)
{
	int failed = 0;

	for (unsigned i = 0; reg && i < NC_PM_MAX_LIVE; i++)
		if (reg->m[i].live && nc_pm_unmap(reg, &reg->m[i], NULL, 0) < 0)
			failed++;
	return failed;
}
