/* The suite's STUN methods/attributes and the coordination message codec (ncproto.h). Every
 * read goes through the bounds-checked cursor; nothing is cast from packet bytes. */
#include "ncproto.h"

#include "cursor.h"
#include <natcheck/error.h>
#include <natcheck/keyfile.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

static const uint8_t coord_magic[4] = {'N', 'C', 'K', 1};

/* --- endpoints --------------------------------------------------------------------------- */

static void put_endpoint(struct nc_wr *w, const struct nc_addr *a)
{
	uint8_t *p = nc_wr_ptr(w, NCP_ENDPOINT_LEN);

	if (!p)
		return;
	memset(p, 0, NCP_ENDPOINT_LEN);
	p[0] = a->family == AF_INET6 ? 6 : 4;
	nc_put_n16(p + 2, a->port);
	memcpy(p + 4, a->ip, a->family == AF_INET6 ? 16 : 4);
}

/* An endpoint must name a real family, a non-zero port, and carry zeros where IPv4 has none. */
static int get_endpoint(struct nc_rd *r, struct nc_addr *a)
{
	uint8_t fam = nc_rd_u8(r), rsv = nc_rd_u8(r);
	uint16_t port = nc_rd_n16(r);
	uint8_t ip[16];

	nc_rd_bytes(r, ip, sizeof(ip));
	if (r->err || rsv != 0 || port == 0)
		return -NC_E_MALFORMED;
	if (fam == 4) {
		for (int i = 4; i < 16; i++)
			if (ip[i])
				return -NC_E_MALFORMED;
		nc_addr_set(a, AF_INET, ip, port);
	} else if (fam == 6) {
		nc_addr_set(a, AF_INET6, ip, port);
	} else {
		return -NC_E_MALFORMED;
	}
	return 0;
}

/* --- results ----------------------------------------------------------------------------- */

void ncp_result_put(uint8_t p[NCP_RESULT_LEN], const struct ncp_result *r)
{
	p[0] = r->status;
	p[1] = r->icmp_type;
	p[2] = r->icmp_code;
	p[3] = 0;
	nc_put_n32(p + 4, r->elapsed_ms);
	nc_put_n32(p + 8, r->err);
}

int ncp_result_get(const uint8_t *p, size_t len, struct ncp_result *r)
{
	struct nc_rd rd;

	nc_rd_init(&rd, p, len);
	r->status = nc_rd_u8(&rd);
	r->icmp_type = nc_rd_u8(&rd);
	r->icmp_code = nc_rd_u8(&rd);
	if (nc_rd_u8(&rd) != 0)
		return -NC_E_MALFORMED;
	r->elapsed_ms = nc_rd_n32(&rd);
	r->err = nc_rd_n32(&rd);
	if (rd.err || len != NCP_RESULT_LEN || r->status > NCP_ST_MAX_)
		return -NC_E_MALFORMED;
	return 0;
}

/* --- client STUN ------------------------------------------------------------------------- */

int ncp_build_cb_request(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
			 const struct ncp_cb_request *req)
{
	struct stun_builder b;
	uint8_t v[8];

	v[0] = req->origin;
	v[1] = req->transport;
	v[2] = v[3] = 0;
	nc_put_n32(v + 4, req->wait_ms);
	stun_build_init(&b, buf, cap, NCP_METHOD_CONNECT_BACK, STUN_CLASS_REQUEST, tid);
	stun_add_bytes(&b, NCP_ATTR_CB_REQUEST, v, sizeof(v));
	if (req->has_target)
		stun_add_xor_addr(&b, NCP_ATTR_CB_TARGET, &req->target);
	return stun_build_finish(&b, true);
}

int ncp_build_cb_poll(uint8_t *buf, size_t cap, const uint8_t tid[STUN_TID_LEN],
		      const uint8_t ticket[NCP_TICKET_LEN])
{
	struct stun_builder b;

	stun_build_init(&b, buf, cap, NCP_METHOD_CB_RESULT, STUN_CLASS_REQUEST, tid);
	stun_add_bytes(&b, NCP_ATTR_CB_TICKET, ticket, NCP_TICKET_LEN);
	return stun_build_finish(&b, true);
}

bool ncp_is_suite_method(const uint8_t *buf, size_t len)
{
	uint16_t method;
	uint8_t cls;

	if (!stun_is_message(buf, len, false))
		return false;
	stun_type_split(nc_get_n16(buf), &method, &cls);
	return method == NCP_METHOD_CONNECT_BACK || method == NCP_METHOD_CB_RESULT;
}

/* XOR-MAPPED-ADDRESS layout (RFC 8489 §14.2) keyed by the message's cookie and id. */
static int get_xor_addr(struct nc_rd *v, const uint8_t *hdr, struct nc_addr *a)
{
	uint8_t fam, ip[16];
	uint16_t port;
	size_t n;

	nc_rd_skip(v, 1);
	fam = nc_rd_u8(v);
	port = nc_rd_n16(v) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16);
	n = fam == 1 ? 4 : fam == 2 ? 16 : 0;
	if (!n || v->err || nc_rd_left(v) != n)
		return -NC_E_MALFORMED;
	nc_rd_bytes(v, ip, n);
	for (size_t i = 0; i < n; i++)
		ip[i] ^= hdr[4 + i];
	nc_addr_set(a, n == 4 ? AF_INET : AF_INET6, ip, port);
	return 0;
}

int ncp_parse_attrs(const uint8_t *buf, size_t len, struct ncp_cb_request *req,
		    struct nc_addr *origin, struct ncp_result *res, bool *has_res)
{
	struct nc_rd r, body;
	uint16_t mlen;

	if (req)
		memset(req, 0, sizeof(*req));
	if (origin)
		memset(origin, 0, sizeof(*origin));
	if (has_res)
		*has_res = false;
	nc_rd_init(&r, buf, len);
	nc_rd_skip(&r, 2);
	mlen = nc_rd_n16(&r);
	nc_rd_skip(&r, 16);
	body = nc_rd_sub(&r, mlen);
	if (r.err)
		return -NC_E_TRUNCATED;
	while (nc_rd_left(&body) >= 4) {
		uint16_t type = nc_rd_n16(&body), alen = nc_rd_n16(&body);
		struct nc_rd v = nc_rd_sub(&body, alen);

		nc_rd_skip(&body, (4u - (alen & 3u)) & 3u);
		if (v.err)
			return -NC_E_TRUNCATED;
		switch (type) {
		case NCP_ATTR_CB_REQUEST:
			if (!req)
				break;
			if (alen != 8)
				return -NC_E_MALFORMED;
			req->origin = nc_rd_u8(&v);
			req->transport = nc_rd_u8(&v);
			nc_rd_skip(&v, 2);
			req->wait_ms = nc_rd_n32(&v);
			if (req->origin < NCP_ORIGIN_PORT || req->origin > NCP_ORIGIN_BOUNCER ||
			    (req->transport != NCP_PROTO_TCP && req->transport != NCP_PROTO_UDP) ||
			    req->wait_ms < NCP_WAIT_MIN_MS || req->wait_ms > NCP_WAIT_MAX_MS)
				return -NC_E_MALFORMED;
			break;
		case NCP_ATTR_CB_TARGET:
			if (!req)
				break;
			if (get_xor_addr(&v, buf, &req->target) < 0)
				return -NC_E_MALFORMED;
			req->has_target = true;
			break;
		case NCP_ATTR_CB_TICKET:
			if (!req)
				break;
			if (alen != NCP_TICKET_LEN)
				return -NC_E_MALFORMED;
			nc_rd_bytes(&v, req->ticket, NCP_TICKET_LEN);
			req->has_ticket = true;
			break;
		case NCP_ATTR_CB_ORIGIN:
			if (origin && get_xor_addr(&v, buf, origin) < 0)
				return -NC_E_MALFORMED;
			break;
		case NCP_ATTR_CB_RESULT:
			if (!res)
				break;
			if (ncp_result_get(v.buf, alen, res) < 0)
				return -NC_E_MALFORMED;
			if (has_res)
				*has_res = true;
			break;
		default:
			break;
		}
		if (type == STUN_ATTR_FINGERPRINT)
			break;
	}
	return 0;
}

/* --- coordination messages --------------------------------------------------------------- */

void ncp_coord_stamp(struct ncp_coord *m, uint64_t now_ms)
{
	m->ts_ms = now_ms;
	randombytes_buf(m->nonce, sizeof(m->nonce));
}

static size_t body_len(const struct ncp_coord *m)
{
	switch (m->type) {
	case NCP_T_ACTION: return NCP_ACTION_LEN;
	case NCP_T_RESULT: return NCP_RESULT_LEN;
	case NCP_T_RELAY: return NCP_RELAY_FIXED + (size_t)m->u.relay.len;
	default: return 0;
	}
}

int ncp_coord_encode(const struct ncp_coord *m, const uint8_t key[NCP_KEY_LEN], uint8_t *buf,
		     size_t cap)
{
	struct nc_wr w;
	size_t blen = body_len(m);
	uint8_t *mac;

	if (!blen || (m->type == NCP_T_RELAY && m->u.relay.len > NCP_RELAY_MAX))
		return -NC_E_INVALID;
	nc_wr_init(&w, buf, cap);
	nc_wr_bytes(&w, coord_magic, sizeof(coord_magic));
	nc_wr_u8(&w, m->type);
	nc_wr_u8(&w, 0);
	nc_wr_n16(&w, (uint16_t)blen);
	nc_wr_n32(&w, (uint32_t)(m->ts_ms >> 32));
	nc_wr_n32(&w, (uint32_t)m->ts_ms);
	nc_wr_bytes(&w, m->nonce, NCP_NONCE_LEN);
	nc_wr_bytes(&w, m->ticket, NCP_TICKET_LEN);
	switch (m->type) {
	case NCP_T_ACTION:
		nc_wr_u8(&w, m->u.action.origin);
		nc_wr_u8(&w, m->u.action.transport);
		nc_wr_n16(&w, 0);
		nc_wr_n32(&w, m->u.action.wait_ms);
		put_endpoint(&w, &m->u.action.target);
		nc_wr_bytes(&w, m->u.action.tid, STUN_TID_LEN);
		break;
	case NCP_T_RESULT: {
		uint8_t *p = nc_wr_ptr(&w, NCP_RESULT_LEN);
		if (p)
			ncp_result_put(p, &m->u.result);
		break;
	}
	case NCP_T_RELAY:
		nc_wr_u8(&w, m->u.relay.port_sel);
		nc_wr_u8(&w, 0);
		nc_wr_n16(&w, m->u.relay.len);
		put_endpoint(&w, &m->u.relay.dest);
		nc_wr_bytes(&w, m->u.relay.msg, m->u.relay.len);
		break;
	}
	mac = nc_wr_ptr(&w, NCP_MAC_LEN);
	if (w.err)
		return -NC_E_NOSPACE;
	crypto_auth(mac, buf, w.off - NCP_MAC_LEN, key);
	return (int)w.off;
}

enum ncp_verdict ncp_coord_parse(const uint8_t *buf, size_t len, uint64_t now_ms,
				 struct ncp_coord *m)
{
	struct nc_rd r, b;
	uint8_t magic[4];
	uint16_t blen;
	uint64_t ts;

	memset(m, 0, sizeof(*m));
	if (len < NCP_HDR_LEN + NCP_MAC_LEN || len > NCP_COORD_MAX)
		return NCP_BAD_FORMAT;
	nc_rd_init(&r, buf, len - NCP_MAC_LEN);
	nc_rd_bytes(&r, magic, sizeof(magic));
	m->type = nc_rd_u8(&r);
	if (nc_rd_u8(&r) != 0)
		return NCP_BAD_FORMAT;
	blen = nc_rd_n16(&r);
	ts = (uint64_t)nc_rd_n32(&r) << 32;
	ts |= nc_rd_n32(&r);
	nc_rd_bytes(&r, m->nonce, NCP_NONCE_LEN);
	nc_rd_bytes(&r, m->ticket, NCP_TICKET_LEN);
	/* The declared body must be exactly what is left before the MAC. */
	if (r.err || memcmp(magic, coord_magic, sizeof(magic)) != 0 || blen != nc_rd_left(&r))
		return NCP_BAD_FORMAT;
	m->ts_ms = ts;
	b = nc_rd_sub(&r, blen);
	switch (m->type) {
	case NCP_T_ACTION:
		if (blen != NCP_ACTION_LEN)
			return NCP_BAD_FORMAT;
		m->u.action.origin = nc_rd_u8(&b);
		m->u.action.transport = nc_rd_u8(&b);
		if (nc_rd_n16(&b) != 0)
			return NCP_BAD_FORMAT;
		m->u.action.wait_ms = nc_rd_n32(&b);
		if (get_endpoint(&b, &m->u.action.target) < 0)
			return NCP_BAD_FORMAT;
		nc_rd_bytes(&b, m->u.action.tid, STUN_TID_LEN);
		if (b.err || m->u.action.origin < NCP_ORIGIN_PORT ||
		    m->u.action.origin > NCP_ORIGIN_BOUNCER ||
		    (m->u.action.transport != NCP_PROTO_TCP && m->u.action.transport != NCP_PROTO_UDP) ||
		    m->u.action.wait_ms < NCP_WAIT_MIN_MS || m->u.action.wait_ms > NCP_WAIT_MAX_MS)
			return NCP_BAD_FORMAT;
		break;
	case NCP_T_RESULT:
		if (ncp_result_get(b.buf, blen, &m->u.result) < 0)
			return NCP_BAD_FORMAT;
		break;
	case NCP_T_RELAY:
		if (blen < NCP_RELAY_FIXED)
			return NCP_BAD_FORMAT;
		m->u.relay.port_sel = nc_rd_u8(&b);
		if (nc_rd_u8(&b) != 0)
			return NCP_BAD_FORMAT;
		m->u.relay.len = nc_rd_n16(&b);
		if (m->u.relay.port_sel > 1 || m->u.relay.len > NCP_RELAY_MAX ||
		    m->u.relay.len != blen - NCP_RELAY_FIXED || get_endpoint(&b, &m->u.relay.dest) < 0)
			return NCP_BAD_FORMAT;
		nc_rd_bytes(&b, m->u.relay.msg, m->u.relay.len);
		if (b.err)
			return NCP_BAD_FORMAT;
		break;
	default:
		return NCP_BAD_FORMAT;
	}
	if (ts + NCP_TS_WINDOW_MS < now_ms || ts > now_ms + NCP_TS_WINDOW_MS)
		return NCP_STALE;
	return NCP_OK;
}

bool ncp_coord_verify(const uint8_t *buf, size_t len, const uint8_t key[NCP_KEY_LEN])
{
	uint8_t mac[NCP_MAC_LEN];
	bool ok;

	if (len < NCP_HDR_LEN + NCP_MAC_LEN)
		return false;
	crypto_auth(mac, buf, len - NCP_MAC_LEN, key);
	ok = sodium_memcmp(mac, buf + len - NCP_MAC_LEN, NCP_MAC_LEN) == 0;
	sodium_memzero(mac, sizeof(mac));
	return ok;
}

/* --- key file ---------------------------------------------------------------------------- */

int ncp_key_load(const char *path, uint8_t key[NCP_KEY_LEN])
{
	uint8_t raw[160];
	size_t n, bin_len = 0, s = 0, e;
	int err = nc_read_secret_file(path, raw, sizeof(raw));

	if (err < 0)
		goto out;
	n = (size_t)err;
	err = 0;
	if (n == NCP_KEY_LEN) {
		memcpy(key, raw, NCP_KEY_LEN);
		goto out;
	}
	e = n;
	while (s < e && (raw[s] == ' ' || raw[s] == '\n' || raw[s] == '\r' || raw[s] == '\t'))
		s++;
	while (e > s && (raw[e - 1] == ' ' || raw[e - 1] == '\n' || raw[e - 1] == '\r' ||
			 raw[e - 1] == '\t'))
		e--;
	if (e - s != 2 * NCP_KEY_LEN ||
	    sodium_hex2bin(key, NCP_KEY_LEN, (const char *)raw + s, e - s, NULL, &bin_len, NULL) != 0 ||
	    bin_len != NCP_KEY_LEN)
		err = -NC_E_PARSE;
out:
	sodium_memzero(raw, sizeof(raw));
	if (err)
		sodium_memzero(key, NCP_KEY_LEN);
	return err;
}

const char *ncp_status_name(uint8_t status)
{
	static const char *const names[] = {"pending", "connected", "rst", "icmp",
					    "timeout", "error",     "sent"};
	return status <= NCP_ST_MAX_ ? names[status] : "invalid";
}

const char *ncp_unsolicited_word(const struct ncp_result *r)
{
	switch (r->status) {
	case NCP_ST_CONNECTED: return "accepted";
	case NCP_ST_RST: return "rst";
	case NCP_ST_TIMEOUT:
	case NCP_ST_PENDING: return "dropped";
	case NCP_ST_ICMP:
		if ((r->icmp_type == 3 && r->icmp_code == 3) || (r->icmp_type == 1 && r->icmp_code == 4))
			return "icmp-port-unreachable";
		if ((r->icmp_type == 3 && (r->icmp_code == 9 || r->icmp_code == 10 || r->icmp_code == 13)) ||
		    (r->icmp_type == 1 && r->icmp_code == 1))
			return "icmp-admin-prohibited";
		return "icmp-other";
	default: return "unknown";
	}
}
