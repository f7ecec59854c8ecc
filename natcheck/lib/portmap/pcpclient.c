#include "pcpclient.h"

#include <natcheck/error.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket from src (random port) connected to the server: the kernel then drops datagrams
 * from anyone else and reports ICMP port unreachable as ECONNREFUSED. */
int pcpc_open(struct pcpc *s, const struct nc_addr *server, const struct nc_addr *src)
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

void pcpc_close(struct pcpc *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

int pcpc_send(struct pcpc *s, uint64_t now)
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
int pcpc_start(struct pcpc *s, uint8_t opcode, uint32_t lifetime, const struct pcp_map *m)
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
	return pcpc_send(s, nc_now_us());
}

/* Reads queued datagrams: 1 = the answer to the request in flight (in *resp), 0 = none yet,
 * negative = the socket failed (-ECONNREFUSED: nothing listens on the port). */
int pcpc_read(struct pcpc *s, struct pcp_response *resp)
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

int pcpc_wait(struct pcpc *s, const struct nc_limits *lim, struct pcp_response *resp)
{
	for (;;) {
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		uint64_t now;
		int r = pcpc_read(s, resp);

		if (r != 0)
			return r;
		now = nc_now_us();
		if (now >= s->next_us && (r = pcpc_send(s, now)) < 0)
			return r;
		r = pm_poll(&pfd, 1, s->next_us, lim);
		if (r == -NC_E_DEADLINE)
			return -NC_E_TIMEOUT; /* the exchange's own timeout, or the run's deadline */
		if (r < 0)
			return r;
	}
}

void pcpc_words(char *buf, size_t len, int r, const struct pcp_response *resp,
		const struct pcpc *s, const struct nc_addr *server, uint32_t ms)
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


/* One MAP exchange within lim. run: for a mapping request, the run's own limits: when they
 * stop the wait with the request gone, the gateway may hold the mapping already, and its answer
 * within PM_GRACE_MS still counts (so the mapping is known and can be deleted). */
static int pcpc_exchange(const struct nc_addr *server, const struct nc_addr *src,
			 uint32_t lifetime, const struct pcp_map *map, const struct nc_limits *lim,
			 const struct nc_limits *run, struct pcp_response *resp, char *err,
			 size_t errlen)
{
	struct pcpc s;
	char w[NC_NOTE_LEN];
	uint64_t t0 = nc_now_us();
	int r = pcpc_open(&s, server, src);

	if (r == 0)
		r = pcpc_start(&s, PCP_OP_MAP, lifetime, map);
	if (r == 0)
		r = pcpc_wait(&s, lim, resp);
	if ((r == -NC_E_CANCELLED || r == -NC_E_TIMEOUT) && run &&
	    nc_limits_check(run, nc_now_us()) < 0) {
		struct nc_limits grace = pm_limits_within(NULL, PM_GRACE_MS);
		int late = pcpc_wait(&s, &grace, resp);

		if (late == 1)
			r = late;
	}
	if (r == 1 && resp->version == PCP_VERSION && resp->result == PCP_R_SUCCESS) {
		pcpc_close(&s);
		return 0;
	}
	pcpc_words(w, sizeof(w), r, resp, &s, server, (uint32_t)((nc_now_us() - t0) / 1000));
	pm_say(err, errlen, "%s", w);
	pcpc_close(&s);
	return r == 1 ? -NC_E_PROTOCOL : r < 0 ? r : -NC_E_PROTOCOL;
}

int pcpc_map(const struct pm_opts *o, const struct nc_limits *lim, uint16_t port, uint16_t ext,
	     const uint8_t nonce[PCP_NONCE_LEN], uint32_t lifetime, struct nc_pm_mapping *out,
	     char *err, size_t errlen)
{
	struct pcp_map map = {.protocol = PM_IPPROTO_UDP, .internal_port = port,
			      .external_port = ext};
	struct pcp_response resp;
	int r;

	memcpy(map.nonce, nonce, PCP_NONCE_LEN);
	if (nc_addr_is_set(&out->external) && out->external.family == AF_INET)
		map.external_ip = out->external; /* a refresh suggests the address it has */
	map.external_ip.port = 0;
	r = pcpc_exchange(&o->server, &o->src, lifetime, &map, lim, &o->lim, &resp, err, errlen);
	if (r < 0)
		return r;
	memcpy(out->nonce, map.nonce, PCP_NONCE_LEN);
	out->external = resp.map.external_ip;
	out->external.port = resp.map.external_port;
	out->lifetime_s = resp.lifetime;
	return 0;
}

int pcpc_unmap(const struct nc_pm_mapping *m, const struct nc_limits *lim, char *err,
	       size_t errlen)
{
	struct pcp_map map = {.protocol = m->ipproto, .internal_port = m->internal.port,
			      .external_port = m->external.port, .external_ip = m->external};
	struct pcp_response resp;
	struct nc_addr src = m->internal;

	memcpy(map.nonce, m->nonce, PCP_NONCE_LEN);
	map.external_ip.port = 0;
	src.port = 0;
	return pcpc_exchange(&m->server, &src, 0, &map, lim, NULL, &resp, err, errlen);
}
