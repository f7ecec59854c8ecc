/* Coordination messages (coord.h): NaCl boxes between a peer's and the server's static keys,
 * bodies decoded through the suite's cursor. Decoding follows "validate, then authenticate,
 * then commit": the header is checked before the box is opened, the body only after, and the
 * caller's struct is written only when everything decoded. */
#include "coord.h"

#include <natcheck/error.h>
#include <natcheck/result.h>

#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#include "cursor.h"

/* The largest body any kind can carry: REGISTER with every count at its maximum. */
#define COORD_MAX_BODY                                                                             \
	(COORD_BODY_HDR_LEN + COORD_PROFILE_LEN + COORD_MAX_LOCAL * COORD_EP_LEN +                 \
	 COORD_MAX_WANTS * VPN_KEY_LEN)

_Static_assert(crypto_box_NONCEBYTES == 24, "coord.h's nonce is 24 bytes");
_Static_assert(crypto_box_MACBYTES == COORD_TAG_LEN, "coord.h's tag is 16 bytes");
_Static_assert(crypto_box_BEFORENMBYTES == 32, "coord.h's box key is 32 bytes");
_Static_assert(COORD_HDR_LEN + COORD_TAG_LEN + COORD_MAX_BODY <= COORD_MAX_DATAGRAM,
	       "every coordination message fits COORD_MAX_DATAGRAM");

int coord_shared_key(uint8_t key[32], const uint8_t my_priv[VPN_KEY_LEN],
		     const uint8_t their_pub[VPN_KEY_LEN])
{
	/* crypto_box_beforenm fails (and libsodium zeroes nothing useful) when X25519 gives
	 * the all-zero point: a low-order public key that would make every box predictable. */
	if (crypto_box_beforenm(key, their_pub, my_priv) != 0) {
		sodium_memzero(key, 32);
		return -NC_E_MALFORMED;
	}
	return 0;
}

/* ---- endpoints and profiles ---- */

static bool ep_valid(const struct nc_addr *a)
{
	return a->family == 0 ? a->port == 0 : (a->family == AF_INET || a->family == AF_INET6);
}

static void put_ep(struct nc_wr *w, const struct nc_addr *a)
{
	uint8_t *p = nc_wr_ptr(w, COORD_EP_LEN);

	if (!p)
		return;
	memset(p, 0, COORD_EP_LEN);
	if (a->family == AF_INET) {
		p[0] = 4;
		memcpy(p + 3, a->ip, 4);
	} else if (a->family == AF_INET6) {
		p[0] = 6;
		memcpy(p + 3, a->ip, 16);
	} else {
		return; /* family 0: all zero */
	}
	nc_put_n16(p + 1, a->port);
}

/* Family 4 or 6 with an address; family 0 only as all zeros; IPv4's unused 12 bytes zero. */
static int get_ep(struct nc_rd *r, struct nc_addr *a)
{
	const uint8_t *p = nc_rd_ptr(r, COORD_EP_LEN);

	memset(a, 0, sizeof(*a));
	if (!p)
		return -NC_E_TRUNCATED;
	switch (p[0]) {
	case 0:
		if (!sodium_is_zero(p, COORD_EP_LEN))
			return -NC_E_MALFORMED;
		return 0;
	case 4:
		if (!sodium_is_zero(p + 7, 12))
			return -NC_E_MALFORMED;
		nc_addr_set(a, AF_INET, p + 3, nc_get_n16(p + 1));
		return 0;
	case 6:
		nc_addr_set(a, AF_INET6, p + 3, nc_get_n16(p + 1));
		return 0;
	default:
		return -NC_E_MALFORMED;
	}
}

static bool prof_valid(const struct coord_profile *p)
{
	return p->mapping <= NC_BEH_APD && p->filtering <= NC_BEH_APD &&
	       p->allocation <= NC_ALLOC_RANDOM && p->udp_blocked <= NC_TRI_YES &&
	       p->tcp_punchable <= NC_TRI_YES && p->hairpin <= NC_TRI_YES &&
	       p->portmap <= COORD_PM_UPNP && ep_valid(&p->portmap_ep);
}

static void put_prof(struct nc_wr *w, const struct coord_profile *p)
{
	uint8_t *b = nc_wr_ptr(w, COORD_PROFILE_LEN - COORD_EP_LEN);

	if (!b)
		return;
	b[0] = 1; /* version */
	b[1] = p->measured ? 1 : 0;
	b[2] = p->mapping;
	b[3] = p->filtering;
	b[4] = p->allocation;
	nc_put_n16(b + 5, (uint16_t)p->port_step);
	nc_put_n16(b + 7, p->lifetime_s);
	b[9] = p->udp_blocked;
	b[10] = p->tcp_punchable;
	b[11] = p->hairpin;
	b[12] = p->portmap;
	put_ep(w, &p->portmap_ep);
}

static int get_prof(struct nc_rd *r, struct coord_profile *p)
{
	const uint8_t *b = nc_rd_ptr(r, COORD_PROFILE_LEN - COORD_EP_LEN);
	int rc;

	memset(p, 0, sizeof(*p));
	if (!b)
		return -NC_E_TRUNCATED;
	if (b[0] != 1 || b[1] > 1)
		return -NC_E_MALFORMED;
	p->measured = b[1] == 1;
	p->mapping = b[2];
	p->filtering = b[3];
	p->allocation = b[4];
	p->port_step = (int16_t)nc_get_n16(b + 5);
	p->lifetime_s = nc_get_n16(b + 7);
	p->udp_blocked = b[9];
	p->tcp_punchable = b[10];
	p->hairpin = b[11];
	p->portmap = b[12];
	if ((rc = get_ep(r, &p->portmap_ep)) != 0)
		return rc;
	return prof_valid(p) ? 0 : -NC_E_MALFORMED;
}

/* ---- bodies ---- */

static bool eps_valid(const struct nc_addr *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!ep_valid(&a[i]))
			return false;
	return true;
}

/* Checks m as coord_unseal would, then writes its body. */
static int put_body(struct nc_wr *w, const struct coord_msg *m)
{
	uint8_t a = 0, b = 0, flags = 0;

	switch (m->kind) {
	case COORD_REGISTER:
		if (m->u.reg.n_local > COORD_MAX_LOCAL || m->u.reg.n_wants > COORD_MAX_WANTS)
			return -NC_E_RANGE;
		if (!prof_valid(&m->u.reg.prof) || !eps_valid(m->u.reg.local, m->u.reg.n_local))
			return -NC_E_INVALID;
		a = (uint8_t)m->u.reg.n_local;
		b = (uint8_t)m->u.reg.n_wants;
		flags = m->u.reg.tcp_show ? COORD_REG_TCP_SHOW : 0;
		break;
	case COORD_REGISTERED:
		if (!ep_valid(&m->u.ack.observed))
			return -NC_E_INVALID;
		break;
	case COORD_INTRO:
		if (m->u.intro.n_local > COORD_MAX_LOCAL)
			return -NC_E_RANGE;
		if (!prof_valid(&m->u.intro.prof) || !ep_valid(&m->u.intro.observed) ||
		    !eps_valid(m->u.intro.local, m->u.intro.n_local) || !ep_valid(&m->u.intro.tcp))
			return -NC_E_INVALID;
		a = (uint8_t)m->u.intro.n_local;
		b = nc_addr_is_set(&m->u.intro.tcp) ? 1 : 0;
		break;
	default:
		return -NC_E_INVALID;
	}
	nc_wr_u8(w, (uint8_t)m->kind);
	nc_wr_u8(w, flags);
	nc_wr_u8(w, a);
	nc_wr_u8(w, b);
	nc_wr_n32(w, (uint32_t)(m->ts_ms >> 32));
	nc_wr_n32(w, (uint32_t)m->ts_ms);
	switch (m->kind) {
	case COORD_REGISTER:
		put_prof(w, &m->u.reg.prof);
		for (size_t i = 0; i < a; i++)
			put_ep(w, &m->u.reg.local[i]);
		for (size_t i = 0; i < b; i++)
			nc_wr_bytes(w, m->u.reg.wants[i], VPN_KEY_LEN);
		break;
	case COORD_REGISTERED:
		put_ep(w, &m->u.ack.observed);
		nc_wr_n32(w, m->u.ack.relay_id);
		nc_wr_n16(w, m->u.ack.keepalive_s);
		break;
	default: /* COORD_INTRO */
		nc_wr_bytes(w, m->u.intro.peer, VPN_KEY_LEN);
		nc_wr_n32(w, m->u.intro.relay_id);
		put_ep(w, &m->u.intro.observed);
		put_prof(w, &m->u.intro.prof);
		for (size_t i = 0; i < a; i++)
			put_ep(w, &m->u.intro.local[i]);
		if (b)
			put_ep(w, &m->u.intro.tcp);
		break;
	}
	return w->err ? -NC_E_RANGE : 0;
}

/* Decodes a whole body into m; the body must end exactly where its counts say. */
static int get_body(struct nc_rd *r, struct coord_msg *m)
{
	uint8_t kind, flags, a, b;
	uint32_t hi;
	int rc = 0;

	kind = nc_rd_u8(r);
	flags = nc_rd_u8(r);
	a = nc_rd_u8(r);
	b = nc_rd_u8(r);
	hi = nc_rd_n32(r);
	m->ts_ms = ((uint64_t)hi << 32) | nc_rd_n32(r);
	if (r->err)
		return -NC_E_TRUNCATED;
	/* Flags are defined for REGISTER only; an unknown bit is not a message we would send. */
	if (flags & ~(kind == COORD_REGISTER ? COORD_REG_TCP_SHOW : 0))
		return -NC_E_MALFORMED;
	switch (kind) {
	case COORD_REGISTER:
		if (a > COORD_MAX_LOCAL || b > COORD_MAX_WANTS)
			return -NC_E_MALFORMED;
		m->u.reg.tcp_show = flags & COORD_REG_TCP_SHOW;
		if ((rc = get_prof(r, &m->u.reg.prof)) != 0)
			return rc;
		for (size_t i = 0; i < a; i++)
			if ((rc = get_ep(r, &m->u.reg.local[i])) != 0)
				return rc;
		for (size_t i = 0; i < b; i++)
			nc_rd_bytes(r, m->u.reg.wants[i], VPN_KEY_LEN);
		m->u.reg.n_local = a;
		m->u.reg.n_wants = b;
		break;
	case COORD_REGISTERED:
		if (a != 0 || b != 0)
			return -NC_E_MALFORMED;
		if ((rc = get_ep(r, &m->u.ack.observed)) != 0)
			return rc;
		m->u.ack.relay_id = nc_rd_n32(r);
		m->u.ack.keepalive_s = nc_rd_n16(r);
		break;
	case COORD_INTRO:
		if (a > COORD_MAX_LOCAL || b > 1)
			return -NC_E_MALFORMED;
		nc_rd_bytes(r, m->u.intro.peer, VPN_KEY_LEN);
		m->u.intro.relay_id = nc_rd_n32(r);
		if ((rc = get_ep(r, &m->u.intro.observed)) != 0)
			return rc;
		if ((rc = get_prof(r, &m->u.intro.prof)) != 0)
			return rc;
		for (size_t i = 0; i < a; i++)
			if ((rc = get_ep(r, &m->u.intro.local[i])) != 0)
				return rc;
		m->u.intro.n_local = a;
		/* Counted, so it must be there: an unset one is sent as B = 0. */
		if (b && ((rc = get_ep(r, &m->u.intro.tcp)) != 0 || !nc_addr_is_set(&m->u.intro.tcp)))
			return rc ? rc : -NC_E_MALFORMED;
		break;
	default:
		return -NC_E_MALFORMED;
	}
	if (r->err)
		return -NC_E_TRUNCATED;
	/* Bytes past what the counts declare: not a message we would have sent. */
	if (nc_rd_left(r) != 0)
		return -NC_E_MALFORMED;
	m->kind = (enum coord_kind)kind;
	return 0;
}

/* ---- datagrams ---- */

int coord_seal(const uint8_t key[32], const uint8_t sender_pub[VPN_KEY_LEN],
	       const struct coord_msg *m, uint8_t *out, size_t cap)
{
	uint8_t body[COORD_MAX_BODY];
	struct nc_wr w;
	size_t total;
	int rc;

	nc_wr_init(&w, body, sizeof(body));
	if ((rc = put_body(&w, m)) != 0)
		return rc;
	total = COORD_HDR_LEN + COORD_TAG_LEN + w.off;
	if (cap < total)
		return -NC_E_RANGE;
	out[0] = COORD_TYPE;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, sender_pub, VPN_KEY_LEN);
	randombytes_buf(out + 4 + VPN_KEY_LEN, crypto_box_NONCEBYTES);
	crypto_box_easy_afternm(out + COORD_HDR_LEN, body, w.off, out + 4 + VPN_KEY_LEN, key);
	sodium_memzero(body, sizeof(body));
	return (int)total;
}

int coord_peek_sender(const uint8_t *buf, size_t len, uint8_t sender_pub[VPN_KEY_LEN])
{
	struct nc_rd r;
	uint8_t type, res[3];

	nc_rd_init(&r, buf, len);
	type = nc_rd_u8(&r);
	nc_rd_bytes(&r, res, 3);
	if (r.err)
		return -NC_E_TRUNCATED;
	if (type != COORD_TYPE || res[0] | res[1] | res[2])
		return -NC_E_MALFORMED;
	/* The nonce and at least a tag must follow, or nothing could open. */
	if (len < COORD_HDR_LEN + COORD_TAG_LEN)
		return -NC_E_TRUNCATED;
	memcpy(sender_pub, buf + 4, VPN_KEY_LEN);
	return 0;
}

int coord_unseal(const uint8_t key[32], const uint8_t *buf, size_t len, struct coord_msg *m)
{
	uint8_t pub[VPN_KEY_LEN], body[COORD_MAX_BODY];
	struct coord_msg tmp;
	struct nc_rd r;
	size_t blen;
	int rc;

	if ((rc = coord_peek_sender(buf, len, pub)) != 0)
		return rc;
	blen = len - COORD_HDR_LEN - COORD_TAG_LEN;
	/* Longer than any body could be: refused before spending a Poly1305 on it. */
	if (blen > sizeof(body))
		return -NC_E_MALFORMED;
	if (crypto_box_open_easy_afternm(body, buf + COORD_HDR_LEN, len - COORD_HDR_LEN,
					 buf + 4 + VPN_KEY_LEN, key) != 0)
		return -NC_E_AUTH;
	memset(&tmp, 0, sizeof(tmp));
	nc_rd_init(&r, body, blen);
	rc = get_body(&r, &tmp);
	sodium_memzero(body, sizeof(body));
	if (rc == 0)
		*m = tmp;
	return rc;
}

void coord_put_relay_hdr(uint8_t out[COORD_RELAY_HDR_LEN], uint32_t relay_id)
{
	out[0] = COORD_RELAY_TYPE;
	out[1] = out[2] = out[3] = 0;
	nc_put_n32(out + 4, relay_id);
}

int coord_relay_decode(const uint8_t *buf, size_t len, uint32_t *relay_id, const uint8_t **inner,
		       size_t *inner_len)
{
	struct nc_rd r;
	uint8_t type, res[3];
	uint32_t id;

	nc_rd_init(&r, buf, len);
	type = nc_rd_u8(&r);
	nc_rd_bytes(&r, res, 3);
	id = nc_rd_n32(&r);
	if (r.err) {
		/* A wrong type or reserved byte is malformed however short the datagram. */
		if (len >= 1 && buf[0] != COORD_RELAY_TYPE)
			return -NC_E_MALFORMED;
		return -NC_E_TRUNCATED;
	}
	if (type != COORD_RELAY_TYPE || res[0] | res[1] | res[2])
		return -NC_E_MALFORMED;
	if (nc_rd_left(&r) == 0)
		return -NC_E_TRUNCATED;
	*relay_id = id;
	*inner_len = nc_rd_left(&r);
	*inner = nc_rd_ptr(&r, *inner_len);
	return 0;
}
