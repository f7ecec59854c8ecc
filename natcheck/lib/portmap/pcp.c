/* PCP client codec (RFC 6887). Wire diagrams are in pcp.h. */
#include "pcp.h"

#include "cursor.h"
#include <natcheck/error.h>

#include <arpa/inet.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

struct pcp_result_desc {
	const char *name;
	const char *msg;
};

static const struct pcp_result_desc pcp_results[] = {
#define PCP_RESULT_DESC_(v, name, msg) [v] = {#name, msg},
	PCP_RESULT_TABLE(PCP_RESULT_DESC_)
#undef PCP_RESULT_DESC_
};

#define PCP_N_RESULTS (sizeof(pcp_results) / sizeof(pcp_results[0]))

const char *pcp_result_name(unsigned code)
{
	return code < PCP_N_RESULTS ? pcp_results[code].name : "UNKNOWN";
}

const char *pcp_result_message(unsigned code)
{
	return code < PCP_N_RESULTS ? pcp_results[code].msg
				    : "the gateway answered with an unknown result code";
}

void pcp_new_nonce(uint8_t nonce[PCP_NONCE_LEN])
{
	randombytes_buf(nonce, PCP_NONCE_LEN);
}

/* RFC 6887 §5: addresses are always 128 bits; IPv4 travels as an IPv4-mapped IPv6 address. */
static void wr_addr128(struct nc_wr *w, const struct nc_addr *a)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (a->family == AF_INET6) {
		nc_wr_bytes(w, a->ip, 16);
	} else {
		/* AF_INET, or unset: the IPv4 all-zeros address ::ffff:0.0.0.0 (§11.1). */
		nc_wr_bytes(w, v4mapped, sizeof(v4mapped));
		if (a->family == AF_INET)
			nc_wr_bytes(w, a->ip, 4);
		else
			nc_wr_zero(w, 4);
	}
}

static void rd_addr128(struct nc_rd *r, struct nc_addr *a)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint8_t ip[16];

	nc_rd_bytes(r, ip, sizeof(ip));
	if (memcmp(ip, v4mapped, sizeof(v4mapped)) == 0)
		nc_addr_set(a, AF_INET, ip + 12, 0);
	else
		nc_addr_set(a, AF_INET6, ip, 0);
}

static void wr_header(struct nc_wr *w, uint8_t opcode, uint32_t lifetime,
		      const struct nc_addr *client)
{
	nc_wr_u8(w, PCP_VERSION);
	nc_wr_u8(w, opcode & 0x7f); /* R = 0: request */
	nc_wr_zero(w, 2);
	nc_wr_n32(w, lifetime);
	wr_addr128(w, client);
}

static int wr_result(const struct nc_wr *w)
{
	return w->err ? -NC_E_NOSPACE : (int)w->off;
}

int pcp_encode_announce(uint8_t *buf, size_t cap, const struct nc_addr *client)
{
	struct nc_wr w;

	if (client->family != AF_INET && client->family != AF_INET6)
		return -NC_E_FAMILY;
	nc_wr_init(&w, buf, cap);
	/* RFC 6887 §14.1: ANNOUNCE has no opcode data; the requested lifetime is zero. */
	wr_header(&w, PCP_OP_ANNOUNCE, 0, client);
	return wr_result(&w);
}

int pcp_encode_map(uint8_t *buf, size_t cap, uint32_t lifetime, const struct nc_addr *client,
		   const struct pcp_map *m)
{
	struct nc_wr w;

	if (client->family != AF_INET && client->family != AF_INET6)
		return -NC_E_FAMILY;
	nc_wr_init(&w, buf, cap);
	wr_header(&w, PCP_OP_MAP, lifetime, client);
	nc_wr_bytes(&w, m->nonce, PCP_NONCE_LEN);
	nc_wr_u8(&w, m->protocol);
	nc_wr_zero(&w, 3);
	nc_wr_n16(&w, m->internal_port);
	nc_wr_n16(&w, m->external_port);
	wr_addr128(&w, &m->external_ip);
	return wr_result(&w);
}

/* RFC 6887 §7.3: options follow the opcode data to the end of the message. Nothing in a
 * response we send needs an option, so each is checked for its framing and skipped. */
static int skip_options(struct nc_rd *r, uint8_t *n_options)
{
	while (nc_rd_left(r) > 0) {
		uint16_t olen;

		if (nc_rd_left(r) < 4)
			return -NC_E_TRUNCATED;
		(void)nc_rd_u8(r); /* code */
		(void)nc_rd_u8(r); /* reserved */
		olen = nc_rd_n16(r);
		/* "If the Option Length would extend past the end of the message, the message is
		 * malformed" (§7.3); the padding up to 4 bytes must be there too. */
		if (nc_rd_left(r) < olen)
			return -NC_E_TRUNCATED;
		nc_rd_skip(r, olen);
		if (olen % 4) {
			size_t pad = 4 - olen % 4;
			if (nc_rd_left(r) < pad)
				return -NC_E_MALFORMED;
			nc_rd_skip(r, pad);
		}
		if (*n_options < UINT8_MAX)
			(*n_options)++;
	}
	return r->err ? -NC_E_TRUNCATED : 0;
}

static int decode_natpmp(struct nc_rd *r, struct pcp_response *out)
{
	/* RFC 6886 §3.5 / RFC 6887 §9: a NAT-PMP server answers any version it does not speak with
	 * version 0, opcode + 128, result 1 (Unsupported Version) and its epoch: 8 bytes. */
	if (nc_rd_left(r) < NATPMP_ERR_RESP_LEN)
		return -NC_E_TRUNCATED;
	out->version = nc_rd_u8(r);
	out->opcode = nc_rd_u8(r);
	if (!(out->opcode & PCP_R_BIT))
		return -NC_E_PROTOCOL;
	out->opcode &= 0x7f;
	out->result = nc_rd_n16(r);
	out->epoch = nc_rd_n32(r);
	return r->err ? -NC_E_TRUNCATED : 0;
}

int pcp_decode_response(const uint8_t *buf, size_t len, struct pcp_response *out)
{
	struct nc_rd r;
	uint8_t op;
	int err;

	memset(out, 0, sizeof(*out));
	nc_rd_init(&r, buf, len);
	if (len < 1)
		return -NC_E_TRUNCATED;
	if (buf[0] == NATPMP_VERSION)
		return decode_natpmp(&r, out);

	/* RFC 6887 §8.3: the client discards a response longer than 1100 bytes or whose length is
	 * not a multiple of 4. */
	if (len < PCP_HDR_LEN)
		return -NC_E_TRUNCATED;
	if (len > PCP_MAX_MSG || len % 4)
		return -NC_E_MALFORMED;
	out->version = nc_rd_u8(&r);
	op = nc_rd_u8(&r);
	if (!(op & PCP_R_BIT))
		return -NC_E_PROTOCOL; /* §8.3: "If the R bit is clear, silently discard" */
	out->opcode = op & 0x7f;
	(void)nc_rd_u8(&r); /* reserved */
	out->result = nc_rd_u8(&r);
	out->lifetime = nc_rd_n32(&r);
	out->epoch = nc_rd_n32(&r);
	nc_rd_skip(&r, 12); /* reserved */
	if (r.err)
		return -NC_E_TRUNCATED;
	if (out->version != PCP_VERSION)
		return 0; /* §9: only the common header is defined across versions */

	if (out->opcode == PCP_OP_MAP) {
		if (nc_rd_left(&r) >= PCP_MAP_LEN) {
			struct pcp_map *m = &out->map;

			nc_rd_bytes(&r, m->nonce, PCP_NONCE_LEN);
			m->protocol = nc_rd_u8(&r);
			nc_rd_skip(&r, 3);
			m->internal_port = nc_rd_n16(&r);
			m->external_port = nc_rd_n16(&r);
			rd_addr128(&r, &m->external_ip);
			out->has_map = !r.err;
		} else if (out->result == PCP_R_SUCCESS) {
			/* A successful MAP response carries the assignment; without it there is
			 * nothing to use. Error responses may be cut short by servers that could
			 * not parse the request. */
			return -NC_E_TRUNCATED;
		}
	} else if (out->opcode != PCP_OP_ANNOUNCE) {
		/* PEER or unknown opcode data: we cannot tell its length from here, so the
		 * remaining bytes are neither opcode data nor options we can frame. */
		return 0;
	}
	if (out->result == PCP_R_SUCCESS || out->has_map) {
		err = skip_options(&r, &out->n_options);
		if (err < 0)
			return err;
	}
	return r.err ? -NC_E_TRUNCATED : 0;
}

bool pcp_response_matches(const struct pcp_response *r, uint8_t opcode, const struct pcp_map *req)
{
	if (r->version != PCP_VERSION || r->opcode != opcode)
		return false;
	if (opcode != PCP_OP_MAP)
		return true;
	if (!r->has_map)
		return r->result != PCP_R_SUCCESS;
	return sodium_memcmp(r->map.nonce, req->nonce, PCP_NONCE_LEN) == 0 &&
	       r->map.protocol == req->protocol && r->map.internal_port == req->internal_port;
}

char *pcp_response_str(const struct pcp_response *r, char *buf, size_t len)
{
	if (r->version == NATPMP_VERSION && r->result == 1)
		snprintf(buf, len, "PCP: the gateway speaks NAT-PMP only (version 0 answer, "
				   "RFC 6887 §9)");
	else if (r->version == NATPMP_VERSION)
		snprintf(buf, len, "PCP: the gateway answered with NAT-PMP result %u", r->result);
	else if (r->version != PCP_VERSION)
		snprintf(buf, len, "PCP: the gateway speaks PCP version %u only (%s)", r->version,
			 pcp_result_name(r->result));
	else
		snprintf(buf, len, "PCP: %s (%s)", pcp_result_name(r->result),
			 pcp_result_message(r->result));
	return buf;
}
