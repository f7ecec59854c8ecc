#include "offload.h"

#include <natcheck/error.h>

#include <string.h>

#include "cursor.h"
#include "inetcsum.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80
#define IPPROTO_TCP_ 6

static uint16_t rd_le16(struct nc_rd *r)
{
	const uint8_t *p = nc_rd_ptr(r, 2);
	return p ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

int off_vnet_decode(const uint8_t *buf, size_t len, struct off_vnet *h)
{
	struct nc_rd r;

	nc_rd_init(&r, buf, len);
	h->flags = nc_rd_u8(&r);
	h->gso_type = nc_rd_u8(&r);
	h->hdr_len = rd_le16(&r);
	h->gso_size = rd_le16(&r);
	h->csum_start = rd_le16(&r);
	h->csum_offset = rd_le16(&r);
	return r.err ? -NC_E_TRUNCATED : 0;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void off_vnet_encode(uint8_t out[OFF_VNET_LEN], const struct off_vnet *h)
{
	out[0] = h->flags;
	out[1] = h->gso_type;
	put_le16(out + 2, h->hdr_len);
	put_le16(out + 4, h->gso_size);
	put_le16(out + 6, h->csum_start);
	put_le16(out + 8, h->csum_offset);
}

int off_csum_complete(uint8_t *pkt, size_t len, const struct off_vnet *h)
{
	size_t at = (size_t)h->csum_start + h->csum_offset;
	uint32_t sum;

	if (!(h->flags & OFF_F_NEEDS_CSUM))
		return 0;
	if (h->csum_start >= len || at + 2 > len)
		return -NC_E_MALFORMED;
	/* The field already holds the pseudo-header sum: sum from csum_start to the end. */
	sum = nc_csum_add(0, pkt + h->csum_start, len - h->csum_start);
	nc_put_n16(pkt + at, nc_csum_fold(sum));
	return 0;
}

/* One's complement sum of the pseudo header (RFC 9293 §3.1, RFC 8200 §8.1) for a TCP
 * segment of l4len bytes. */
static uint32_t pseudo_sum(const uint8_t *ip, bool v6, uint32_t l4len)
{
	uint32_t sum = v6 ? nc_csum_add(0, ip + 8, 32) : nc_csum_add(0, ip + 12, 8);

	return sum + IPPROTO_TCP_ + (l4len >> 16) + (l4len & 0xffff);
}

/* Where the IP and TCP headers of pkt end, for the packets these offloads handle. */
static int tcp_layout(const uint8_t *pkt, size_t len, bool *v6, uint16_t *ip_hlen,
		      uint16_t *hdr_len)
{
	struct nc_rd r;
	uint8_t vihl, proto, doff;
	uint16_t total;

	nc_rd_init(&r, pkt, len);
	vihl = nc_rd_u8(&r);
	if (r.err)
		return -NC_E_MALFORMED;
	if (vihl >> 4 == 4) {
		if ((vihl & 0x0F) != 5) /* options: not something the kernel's TSO produces */
			return -NC_E_MALFORMED;
		nc_rd_skip(&r, 1);
		total = nc_rd_n16(&r);
		nc_rd_skip(&r, 2);
		uint16_t frag = nc_rd_n16(&r);
		nc_rd_skip(&r, 1);
		proto = nc_rd_u8(&r);
		if (r.err || total != len || (frag & 0x3FFF) != 0 || proto != IPPROTO_TCP_)
			return -NC_E_MALFORMED;
		*v6 = false;
		*ip_hlen = 20;
	} else if (vihl >> 4 == 6) {
		nc_rd_skip(&r, 3);
		total = nc_rd_n16(&r);
		proto = nc_rd_u8(&r);
		if (r.err || (size_t)total + 40 != len || proto != IPPROTO_TCP_)
			return -NC_E_MALFORMED;
		*v6 = true;
		*ip_hlen = 40;
	} else {
		return -NC_E_MALFORMED;
	}
	if (len < (size_t)*ip_hlen + 20)
		return -NC_E_MALFORMED;
	doff = (uint8_t)(pkt[*ip_hlen + 12] >> 4);
	if (doff < 5 || len < (size_t)*ip_hlen + doff * 4u)
		return -NC_E_MALFORMED;
	*hdr_len = (uint16_t)(*ip_hlen + doff * 4u);
	return 0;
}

static void ipv4_fix(uint8_t *ip, uint16_t total, uint16_t id)
{
	nc_put_n16(ip + 2, total);
	nc_put_n16(ip + 4, id);
	ip[10] = ip[11] = 0;
	nc_put_n16(ip + 10, nc_csum_fold(nc_csum_add(0, ip, 20)));
}

int off_tso_segment(const uint8_t *pkt, size_t len, const struct off_vnet *h, uint8_t *out,
		    size_t stride, size_t max, uint16_t *lens)
{
	uint16_t ip_hlen, hdr_len, mss = h->gso_size, id = 0;
	size_t payload, n, off;
	uint32_t seq;
	uint8_t flags;
	bool v6;

	if (tcp_layout(pkt, len, &v6, &ip_hlen, &hdr_len) != 0 || mss == 0)
		return -NC_E_MALFORMED;
	if ((h->gso_type & ~OFF_GSO_ECN) != (v6 ? OFF_GSO_TCPV6 : OFF_GSO_TCPV4))
		return -NC_E_MALFORMED;
	payload = len - hdr_len;
	n = payload ? (payload + mss - 1) / mss : 1;
	if (n > max || (size_t)hdr_len + mss > stride)
		return -NC_E_NOSPACE;
	seq = nc_get_n32(pkt + ip_hlen + 4);
	flags = pkt[ip_hlen + 13];
	if (!v6)
		id = nc_get_n16(pkt + 4);
	for (size_t i = 0; i < n; i++) {
		uint8_t *s = out + i * stride, *tcp = s + ip_hlen;
		size_t chunk = payload - i * mss < mss ? payload - i * mss : mss;
		uint16_t seglen = (uint16_t)(hdr_len + chunk);
		uint32_t sum;

		off = hdr_len + i * mss;
		memcpy(s, pkt, hdr_len);
		memcpy(s + hdr_len, pkt + off, chunk);
		if (v6)
			nc_put_n16(s + 4, (uint16_t)(seglen - 40));
		else
			ipv4_fix(s, seglen, (uint16_t)(id + i));
		nc_put_n32(tcp + 4, seq + (uint32_t)(i * mss));
		/* FIN and PSH belong to the last segment, CWR to the first (as the kernel's
		 * tcp_gso_segment does). */
		tcp[13] = flags;
		if (i + 1 < n)
			tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			tcp[13] &= (uint8_t)~TCP_CWR;
		tcp[16] = tcp[17] = 0;
		sum = pseudo_sum(s, v6, (uint32_t)(seglen - ip_hlen));
		sum = nc_csum_add(sum, tcp, seglen - ip_hlen);
		nc_put_n16(tcp + 16, nc_csum_fold(sum));
		lens[i] = seglen;
	}
	return (int)n;
}

void off_gro_init(struct off_gro *g, uint8_t *buf)
{
	memset(g, 0, sizeof(*g));
	g->buf = buf;
}

/* A segment that may start or join a merged super-packet: plain ACK data (PSH allowed, it
 * ends the merge), no SYN/FIN/RST/URG/CWR/ECE, some payload. */
static bool mergeable(const uint8_t *pkt, size_t len, bool *v6, uint16_t *ip_hlen,
		      uint16_t *hdr_len)
{
	uint8_t fl;

	if (tcp_layout(pkt, len, v6, ip_hlen, hdr_len) != 0 || len == *hdr_len)
		return false;
	fl = pkt[*ip_hlen + 13];
	return (fl & (uint8_t)~(TCP_ACK | TCP_PSH)) == 0 && (fl & TCP_ACK);
}

bool off_gro_add(struct off_gro *g, const uint8_t *pkt, size_t len)
{
	uint8_t *cur = g->buf + OFF_VNET_LEN;
	uint16_t ip_hlen, hdr_len;
	bool v6;

	if (len > OFF_MAX_PACKET)
		return false;
	if (g->len == 0) {
		memcpy(cur, pkt, len);
		g->len = len;
		g->segs = 1;
		g->tcp = mergeable(pkt, len, &v6, &ip_hlen, &hdr_len);
		if (g->tcp) {
			g->v6 = v6;
			g->ip_hlen = ip_hlen;
			g->hdr_len = hdr_len;
			g->seg_payload = (uint16_t)(len - hdr_len);
			g->next_seq = nc_get_n32(pkt + ip_hlen + 4) + g->seg_payload;
		}
		return true;
	}
	if (!g->tcp || !mergeable(pkt, len, &v6, &ip_hlen, &hdr_len) || v6 != g->v6 ||
	    hdr_len != g->hdr_len)
		return false;
	/* The previous segment was shorter than the first, or carried PSH: the run is over. */
	if (g->len - g->hdr_len != (size_t)g->segs * g->seg_payload ||
	    (cur[ip_hlen + 13] & TCP_PSH))
		return false;
	if (len - hdr_len > g->seg_payload || g->len + (len - hdr_len) > OFF_MAX_PACKET)
		return false;
	if (v6) {
		/* Same version/class/flow label, hop limit, addresses. */
		if (memcmp(cur, pkt, 4) != 0 || cur[7] != pkt[7] || memcmp(cur + 8, pkt + 8, 32) != 0)
			return false;
	} else {
		/* Same TOS, DF/flags, TTL, protocol, addresses (ids may differ). */
		if (cur[1] != pkt[1] || memcmp(cur + 6, pkt + 6, 4) != 0 ||
		    memcmp(cur + 12, pkt + 12, 8) != 0)
			return false;
	}
	/* Same ports, ack, window, options; in-order sequence. */
	if (memcmp(cur + ip_hlen, pkt + ip_hlen, 4) != 0 ||
	    memcmp(cur + ip_hlen + 8, pkt + ip_hlen + 8, 4) != 0 ||
	    memcmp(cur + ip_hlen + 14, pkt + ip_hlen + 14, 2) != 0 ||
	    memcmp(cur + ip_hlen + 20, pkt + ip_hlen + 20, hdr_len - ip_hlen - 20) != 0 ||
	    nc_get_n32(pkt + ip_hlen + 4) != g->next_seq)
		return false;
	memcpy(cur + g->len, pkt + hdr_len, len - hdr_len);
	g->len += len - hdr_len;
	g->segs++;
	g->next_seq += (uint32_t)(len - hdr_len);
	cur[ip_hlen + 13] |= pkt[ip_hlen + 13] & TCP_PSH;
	return true;
}

size_t off_gro_finish(struct off_gro *g)
{
	uint8_t *cur = g->buf + OFF_VNET_LEN;
	struct off_vnet h = {0};
	size_t out;

	if (g->len == 0)
		return 0;
	if (g->segs > 1) {
		uint32_t l4 = (uint32_t)(g->len - g->ip_hlen);

		if (g->v6)
			nc_put_n16(cur + 4, (uint16_t)l4);
		else
			ipv4_fix(cur, (uint16_t)g->len, nc_get_n16(cur + 4));
		/* CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not inverted. */
		nc_put_n16(cur + g->ip_hlen + 16, (uint16_t)~nc_csum_fold(pseudo_sum(cur, g->v6, l4)));
		h.flags = OFF_F_NEEDS_CSUM;
		h.gso_type = g->v6 ? OFF_GSO_TCPV6 : OFF_GSO_TCPV4;
		h.hdr_len = g->hdr_len;
		h.gso_size = g->seg_payload;
		h.csum_start = g->ip_hlen;
		h.csum_offset = 16;
	}
	off_vnet_encode(g->buf, &h);
	out = OFF_VNET_LEN + g->len;
	g->len = 0;
	g->segs = 0;
	g->tcp = false;
	return out;
}
