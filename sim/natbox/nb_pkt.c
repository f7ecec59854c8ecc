/* natbox packet layer: parser, checksums, builders. See nb_pkt.h for the wire formats. */
#include "nb_pkt.h"

#include "cursor.h"
#include <natcheck/error.h>
#include "inetcsum.h"
#include "ipv4.h"

#include <string.h>

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). */
void nb_csum_update16(uint8_t *csum, uint16_t oldv, uint16_t newv, bool udp)
{
	uint16_t hc = nc_get_n16(csum);
	uint32_t sum;

	if (udp && hc == 0) /* RFC 768: zero = the sender computed no checksum */
		return;
	sum = (uint16_t)~hc;
	sum += (uint16_t)~oldv;
	sum += newv;
	hc = nc_csum_fold(sum);
	if (udp && hc == 0)
		hc = 0xffff; /* RFC 768: a computed zero is transmitted as all ones */
	nc_put_n16(csum, hc);
}

void nb_csum_update32(uint8_t *csum, uint32_t oldv, uint32_t newv, bool udp)
{
	nb_csum_update16(csum, (uint16_t)(oldv >> 16), (uint16_t)(newv >> 16), udp);
	nb_csum_update16(csum, (uint16_t)oldv, (uint16_t)newv, udp);
}

void nb_ip_csum_fix(uint8_t *buf, size_t ip_off, size_t hlen)
{
	nc_put_n16(buf + ip_off + 10, 0);
	nc_put_n16(buf + ip_off + 10, nc_csum_fold(nc_csum_add(0, buf + ip_off, hlen)));
}

bool nb_csum_ok(const uint8_t *buf, const struct nb_pkt *p)
{
	const struct nb_l4 *l = &p->l4;

	if (nc_csum_fold(nc_csum_add(0, buf + p->ip.off, p->ip.hlen)) != 0)
		return false;
	switch (p->ip.proto) {
	case NB_IPPROTO_UDP:
		if (nc_get_n16(buf + l->csum_off) == 0)
			return true;
		/* fall through */
	case NB_IPPROTO_TCP:
		return nc_csum_l4_ipv4(buf + l->off, l->len, p->ip.src, p->ip.dst, p->ip.proto) == 0;
	case NB_IPPROTO_ICMP:
		return nc_csum_fold(nc_csum_add(0, buf + l->off, l->len)) == 0;
	}
	return false;
}

/* Reads an IPv4 header at the reader's position. outer: the datagram natbox forwards, whose
 * declared length must be present and whose header checksum must verify; otherwise a datagram
 * quoted inside an ICMP error, of which only the first bytes are present. */
static int parse_ip(struct nc_rd *r, struct nc_ipv4 *ip, bool outer)
{
	int rc = nc_ipv4_read(r, ip, outer);

	if (rc < 0)
		return rc;
	/* Only the first fragment carries the transport header; later ones cannot be mapped
	 * without reassembly, which natbox does not do. */
	if ((ip->frag & 0x1fff) != 0)
		return -NC_E_UNSUPPORTED;
	return 0;
}

static bool icmp_is_error(uint8_t type)
{
	return type == NB_ICMP_UNREACH || type == NB_ICMP_SOURCEQUENCH ||
	       type == NB_ICMP_REDIRECT || type == NB_ICMP_TIMXCEED || type == NB_ICMP_PARAMPROB;
}

/* UDP and TCP both start with source and destination port (RFC 768, RFC 9293 §3.1). */
static int read_ports(struct nc_rd *r, struct nb_l4 *l)
{
	l->sport = nc_rd_n16(r);
	l->dport = nc_rd_n16(r);
	if (r->err)
		return -NC_E_TRUNCATED;
	l->ports = true;
	l->sport_off = l->off;
	l->dport_off = l->off + 2;
	return 0;
}

/* Transport header of an outer datagram: r covers exactly the transport bytes. */
static int parse_l4(struct nc_rd *r, uint8_t proto, struct nb_l4 *l, bool outer, bool first_frag)
{
	uint16_t ulen, offflags;
	size_t doff;

	memset(l, 0, sizeof(*l));
	l->off = r->off;
	l->len = nc_rd_left(r);
	switch (proto) {
	case NB_IPPROTO_UDP:
		if (read_ports(r, l) < 0)
			return -NC_E_TRUNCATED;
		ulen = nc_rd_n16(r);
		if (r->err)
			return outer ? -NC_E_TRUNCATED : 0;
		nc_rd_skip(r, 2);
		if (!r->err)
			l->csum_off = l->off + 6;
		if (outer) {
			if (r->err)
				return -NC_E_TRUNCATED;
			/* RFC 768: Length counts header and data; it must fit the IP payload,
			 * except in a first fragment, which carries only part of the data. */
			if (ulen < 8 || (!first_frag && ulen > l->len))
				return -NC_E_MALFORMED;
			if (ulen <= l->len)
				l->len = ulen;
		}
		return 0;
	case NB_IPPROTO_TCP:
		if (read_ports(r, l) < 0)
			return -NC_E_TRUNCATED;
		l->tcp_seq = nc_rd_n32(r);
		l->tcp_ack = nc_rd_n32(r);
		offflags = nc_rd_n16(r);
		nc_rd_skip(r, 2); /* window */
		nc_rd_skip(r, 2);
		if (!r->err)
			l->csum_off = l->off + 16;
		if (!outer)
			return 0;
		if (r->err)
			return -NC_E_TRUNCATED;
		l->tcp_flags = (uint8_t)offflags;
		doff = (size_t)(offflags >> 12) * 4;
		if (doff < 20 || doff > l->len)
			return -NC_E_MALFORMED; /* RFC 9293: Data Offset >= 5 words */
		l->tcp_payload = l->len - doff;
		return 0;
	case NB_IPPROTO_ICMP:
		l->icmp_type = nc_rd_u8(r);
		l->icmp_code = nc_rd_u8(r);
		nc_rd_skip(r, 2);
		if (r->err)
			return -NC_E_TRUNCATED;
		l->csum_off = l->off + 2;
		if (l->icmp_type == NB_ICMP_ECHO || l->icmp_type == NB_ICMP_ECHOREPLY) {
			l->icmp_id = nc_rd_n16(r);
			if (r->err)
				return -NC_E_TRUNCATED;
			/* The echo identifier plays the part of both ports (RFC 5508 §3.1). */
			l->ports = true;
			l->sport = l->dport = l->icmp_id;
			l->sport_off = l->dport_off = l->off + 4;
			return 0;
		}
		if (outer && icmp_is_error(l->icmp_type)) {
			nc_rd_skip(r, 4); /* unused / pointer / gateway */
			return r->err ? -NC_E_TRUNCATED : 0;
		}
		return -NC_E_UNSUPPORTED;
	}
	return -NC_E_UNSUPPORTED;
}

int nb_parse(const uint8_t *buf, size_t len, struct nb_pkt *p)
{
	struct nc_rd r, l4r, inr;
	int rc;

	memset(p, 0, sizeof(*p));
	nc_rd_init(&r, buf, len);
	rc = parse_ip(&r, &p->ip, true);
	if (rc < 0)
		return rc;
	/* The transport bytes end at Total Length, not at the buffer's end. */
	l4r = r;
	l4r.len = p->ip.tot_len;
	rc = parse_l4(&l4r, p->ip.proto, &p->l4, true, (p->ip.frag & 0x2000) != 0);
	if (rc < 0)
		return rc;
	if (p->ip.proto != NB_IPPROTO_ICMP || !icmp_is_error(p->l4.icmp_type))
		return 0;

	/* RFC 792: an error quotes the internet header plus the first 64 bits of the datagram. */
	p->icmp_error = true;
	inr = l4r; /* positioned after the 8-byte ICMP header */
	rc = parse_ip(&inr, &p->in_ip, false);
	if (rc < 0)
		return rc == -NC_E_UNSUPPORTED ? rc : -NC_E_MALFORMED;
	if (p->in_ip.proto == NB_IPPROTO_ICMP) {
		rc = parse_l4(&inr, NB_IPPROTO_ICMP, &p->in_l4, false, false);
		/* An error about an error is never answered (RFC 1122 §3.2.2). */
		if (rc < 0 || !p->in_l4.ports)
			return -NC_E_UNSUPPORTED;
		return 0;
	}
	rc = parse_l4(&inr, p->in_ip.proto, &p->in_l4, false, false);
	if (rc < 0)
		return rc == -NC_E_UNSUPPORTED ? rc : -NC_E_MALFORMED;
	return 0;
}

static void put_ip_header(uint8_t *out, size_t tot_len, uint8_t proto, uint32_t src, uint32_t dst)
{
	out[0] = 0x45;
	out[1] = 0;
	nc_put_n16(out + 2, (uint16_t)tot_len);
	nc_put_n16(out + 4, 0);
	nc_put_n16(out + 6, 0x4000); /* DF */
	out[8] = 64;
	out[9] = proto;
	nc_put_n32(out + 12, src);
	nc_put_n32(out + 16, dst);
	nb_ip_csum_fix(out, 0, 20);
}

int nb_build_icmp_unreach(uint8_t *out, size_t cap, uint32_t src, uint32_t dst, uint8_t code,
			  const uint8_t *orig, size_t orig_len)
{
	/* RFC 1812 §4.3.2.3: quote as much as fits in 576 bytes. */
	size_t quote = orig_len > 576 - 28 ? 576 - 28 : orig_len;
	size_t tot = 28 + quote;
	struct nc_wr w;
	uint8_t *icmp;

	if (cap < tot)
		return -NC_E_NOSPACE;
	nc_wr_init(&w, out, cap);
	nc_wr_zero(&w, 20);
	icmp = nc_wr_ptr(&w, 8);
	nc_wr_bytes(&w, orig, quote);
	if (w.err || !icmp)
		return -NC_E_NOSPACE;
	put_ip_header(out, tot, NB_IPPROTO_ICMP, src, dst);
	icmp[0] = NB_ICMP_UNREACH;
	icmp[1] = code;
	memset(icmp + 2, 0, 6);
	nc_put_n16(icmp + 2, nc_csum_fold(nc_csum_add(0, icmp, 8 + quote)));
	return (int)tot;
}

int nb_build_tcp_rst(uint8_t *out, size_t cap, const struct nb_pkt *o)
{
	const struct nb_l4 *l = &o->l4;
	uint8_t *t = out + 20;
	uint32_t seq = 0, ack = 0;
	uint8_t flags = NB_TH_RST;

	if (cap < 40)
		return -NC_E_NOSPACE;
	/* RFC 9293 §3.10.7.1: if the segment has ACK, <SEQ=SEG.ACK><CTL=RST>; otherwise
	 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (SYN and FIN count in SEG.LEN). */
	if (l->tcp_flags & NB_TH_ACK) {
		seq = l->tcp_ack;
	} else {
		ack = l->tcp_seq + (uint32_t)l->tcp_payload + ((l->tcp_flags & NB_TH_SYN) ? 1u : 0u) +
		      ((l->tcp_flags & NB_TH_FIN) ? 1u : 0u);
		flags |= NB_TH_ACK;
	}
	put_ip_header(out, 40, NB_IPPROTO_TCP, o->ip.dst, o->ip.src);
	nc_put_n16(t, l->dport);
	nc_put_n16(t + 2, l->sport);
	nc_put_n32(t + 4, seq);
	nc_put_n32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	nc_put_n16(t + 14, 0);
	nc_put_n16(t + 16, 0);
	nc_put_n16(t + 18, 0);
	nc_put_n16(t + 16, nc_csum_l4_ipv4(out + 20, 20, o->ip.dst, o->ip.src, NB_IPPROTO_TCP));
	return 40;
}

int nb_build_echo_reply(uint8_t *out, size_t cap, const uint8_t *orig, const struct nb_pkt *p)
{
	size_t icmp_len = p->l4.len;
	size_t tot = 20 + icmp_len;

	if (cap < tot)
		return -NC_E_NOSPACE;
	memcpy(out + 20, orig + p->l4.off, icmp_len);
	put_ip_header(out, tot, NB_IPPROTO_ICMP, p->ip.dst, p->ip.src);
	out[20] = NB_ICMP_ECHOREPLY;
	nc_put_n16(out + 22, 0);
	nc_put_n16(out + 22, nc_csum_fold(nc_csum_add(0, out + 20, icmp_len)));
	return (int)tot;
}

/* STUN (RFC 8489 §5, §14; RFC 3489 §11.1 for the form without magic cookie):
 *   0                   1                   2                   3
 *  +-------------------------------+-------------------------------+
 *  |0 0|     Message Type          |         Message Length        |
 *  +-------------------------------+-------------------------------+
 *  |          Magic Cookie (RFC 3489: first 4 transaction id bytes)|
 *  |                     Transaction ID (96 bits)                  |
 *  +-------------------------------+-------------------------------+
 *  |         Attribute Type        |  Attribute Length (unpadded)  |  repeated, each value
 *  |                 Value (padded to 4 bytes) ...                 |  padded to 4 bytes
 *  MAPPED-ADDRESS value: 0x00 | family (0x01 = IPv4) | port | address */
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_MAPPED_ADDRESS 0x0001

int nb_stun_alg(uint8_t *buf, const struct nb_pkt *p, uint32_t from_ip, uint16_t from_port,
		uint32_t to_ip, uint16_t to_port)
{
	size_t base = p->l4.off + 8;
	struct nc_rd r, a;
	uint16_t type, mlen;
	int n = 0;

	if (p->ip.proto != NB_IPPROTO_UDP || p->icmp_error || p->l4.len < 8 + 20)
		return 0;
	nc_rd_init(&r, buf + base, p->l4.len - 8);
	type = nc_rd_n16(&r);
	mlen = nc_rd_n16(&r);
	nc_rd_skip(&r, 16);
	/* A naive ALG looks no further than the type and a plausible length; it neither checks
	 * the magic cookie nor knows FINGERPRINT. */
	if (r.err || type != STUN_BINDING_SUCCESS || (mlen & 3) || mlen > nc_rd_left(&r))
		return 0;
	a = nc_rd_sub(&r, mlen);
	while (nc_rd_left(&a) >= 4) {
		uint16_t at = nc_rd_n16(&a), alen = nc_rd_n16(&a);
		const uint8_t *v = nc_rd_ptr(&a, alen);
		size_t voff;

		if (!v)
			break;
		nc_rd_skip(&a, (4 - (alen & 3)) & 3);
		if (at != STUN_MAPPED_ADDRESS || alen != 8 || v[1] != 0x01)
			continue;
		if (nc_get_n16(v + 2) != from_port || nc_get_n32(v + 4) != from_ip)
			continue;
		/* Attribute values start 4-aligned after the 8-byte UDP header, so the port and
		 * address are 16-bit aligned for the incremental checksum update. */
		voff = (size_t)(v - buf);
		nb_csum_update16(buf + p->l4.csum_off, from_port, to_port, true);
		nb_csum_update32(buf + p->l4.csum_off, from_ip, to_ip, true);
		nc_put_n16(buf + voff + 2, to_port);
		nc_put_n32(buf + voff + 4, to_ip);
		n++;
	}
	return n;
}
