#include "pmpclient.h"

#include "cursor.h"
#include <natcheck/error.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

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

int pmp_open(struct pmp *p, const struct nc_addr *server)
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

void pmp_close(struct pmp *p)
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

int pmp_step(struct pmp *p, natpmpresp_t *resp, uint16_t *result)
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

int pmp_wait_ms(struct pmp *p)
{
	struct timeval tv;

	if (getnatpmprequesttimeout(&p->np, &tv) < 0 || tv.tv_sec < 0)
		return 0;
	return (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
}

void pmp_words(char *buf, size_t len, int r, uint16_t result, const struct pmp *p,
	       const struct nc_addr *server, uint32_t ms)
{
	char a[NC_ADDR_STRLEN];

	nc_addr_str(server, a);
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


/* Waits within lim for the answer to the request in flight. */
static int pmp_wait_answer(struct pmp *p, const struct nc_limits *lim, natpmpresp_t *resp,
		    uint16_t *result)
{
	for (;;) {
		struct pollfd pfd = {.fd = p->np.s, .events = POLLIN};
		int r = pmp_step(p, resp, result);

		if (r != 0)
			return r;
		r = pm_poll(&pfd, 1, nc_now_us() + (uint64_t)pmp_wait_ms(p) * 1000, lim);
		if (r == -NC_E_DEADLINE)
			return -NC_E_TIMEOUT; /* the exchange's own timeout, or the run's deadline */
		if (r < 0)
			return r;
	}
}

int pmp_map(const struct pm_opts *o, const struct nc_limits *lim, uint16_t port, uint16_t ext,
	    uint32_t lifetime, struct nc_pm_mapping *out, char *err, size_t errlen)
{
	struct pmp p;
	natpmpresp_t resp;
	uint16_t result = 0;
	char w[NC_NOTE_LEN];
	uint64_t t0 = nc_now_us();
	int r = pmp_open(&p, &o->server);

	if (r == 0 && sendnewportmappingrequest(&p.np, NATPMP_PROTOCOL_UDP, port, ext, lifetime) < 0)
		r = errno ? -errno : -NC_E_PROTOCOL;
	if (r < 0) {
		pm_say(err, errlen, "NAT-PMP: cannot send (%s)", nc_strerror(r));
		pmp_close(&p);
		return r;
	}
	p.op = 1;
	r = pmp_wait_answer(&p, lim, &resp, &result);
	if ((r == -NC_E_CANCELLED || r == -NC_E_TIMEOUT) &&
	    nc_limits_check(&o->lim, nc_now_us()) < 0) {
		/* The run stopped with the request gone: the gateway may hold the mapping already.
		 * Its answer within the grace makes it known, registered and deleted again. */
		struct nc_limits grace = pm_limits_within(NULL, PM_GRACE_MS);
		int late = pmp_wait_answer(&p, &grace, &resp, &result);

		if (late == 1)
			r = late;
	}
	if (r != 1 || result != 0) {
		pmp_words(w, sizeof(w), r, result, &p, &o->server,
			  (uint32_t)((nc_now_us() - t0) / 1000));
		pm_say(err, errlen, "%s", w);
		pmp_close(&p);
		return r == 1 ? -NC_E_PROTOCOL : r;
	}
	out->external.family = AF_INET;
	out->external.port = resp.pnu.newportmapping.mappedpublicport;
	out->lifetime_s = resp.pnu.newportmapping.lifetime;
	/* The mapping answer has no address: ask for it (failure here is not fatal). */
	if (sendpublicaddressrequest(&p.np) >= 0) {
		p.op = 0;
		if (pmp_wait_answer(&p, lim, &resp, &result) == 1 && result == 0)
			memcpy(out->external.ip, &resp.pnu.publicaddress.addr, 4);
	}
	pmp_close(&p);
	return 0;
}

int pmp_unmap(const struct nc_pm_mapping *m, const struct nc_limits *lim, char *err,
	      size_t errlen)
{
	struct pmp p;
	natpmpresp_t resp;
	uint16_t result = 0;
	char w[NC_NOTE_LEN];
	uint64_t t0 = nc_now_us();
	int r = pmp_open(&p, &m->server);

	/* RFC 6886 §3.4: lifetime 0 deletes; the suggested external port must then be 0. */
	if (r == 0 && sendnewportmappingrequest(&p.np, NATPMP_PROTOCOL_UDP, m->internal.port, 0,
						0) < 0)
		r = errno ? -errno : -NC_E_PROTOCOL;
	if (r == 0) {
		p.op = 1;
		r = pmp_wait_answer(&p, lim, &resp, &result);
	}
	pmp_close(&p);
	if (r == 1 && result == 0)
		return 0;
	pmp_words(w, sizeof(w), r, result, &p, &m->server, (uint32_t)((nc_now_us() - t0) / 1000));
	pm_say(err, errlen, "%s", w);
	return r == 1 ? -NC_E_PROTOCOL : r < 0 ? r : -NC_E_PROTOCOL;
}
