#include "frame.h"

#include "cursor.h"
#include <natcheck/error.h>
#include "inetcsum.h"
#include "ipv4.h"

#include <string.h>
#include <sys/socket.h>

enum { ETHERTYPE_IPV4 = 0x0800, PROTO_UDP = 17, IP_DF = 0x4000, IP_MF_OFFSET = 0x3fff };

/* Sources an answer must never go to: "this network" 0/8, loopback 127/8, multicast 224/4 and
 * the reserved 240/4 with the limited broadcast. */
static bool martian_source(uint32_t ip)
{
	uint8_t first = (uint8_t)(ip >> 24);
	return first == 0 || first == 127 || first >= 224;
}

enum frame_verdict frame_parse_udp4(const uint8_t *frame, size_t len, bool csum_trusted,
				    struct frame_udp4 *out)
{
	struct nc_rd r, u;
	struct nc_ipv4 ip;
	const uint8_t *eth, *udp;
	size_t ulen;
	uint16_t sport, dport;

	nc_rd_init(&r, frame, len);
	eth = nc_rd_ptr(&r, FRAME_ETH_LEN);
	if (!eth)
		return FRAME_BAD;
	if (nc_get_n16(eth + 12) != ETHERTYPE_IPV4)
		return FRAME_NOT_OURS;
	/* Ethernet may pad a short frame: bytes after Total Length are allowed. */
	if (nc_ipv4_read(&r, &ip, true) < 0)
		return FRAME_BAD;
	if (ip.proto != PROTO_UDP || (ip.frag & IP_MF_OFFSET))
		return FRAME_NOT_OURS;
	/* The datagram: exactly the IP payload, read through its own bounded reader. */
	udp = frame + ip.off + ip.hlen;
	nc_rd_init(&u, udp, ip.tot_len - ip.hlen);
	sport = nc_rd_n16(&u);
	dport = nc_rd_n16(&u);
	ulen = nc_rd_n16(&u);
	nc_rd_skip(&u, 2);
	if (u.err || ulen < 8 || ulen > ip.tot_len - ip.hlen)
		return FRAME_BAD;
	if (ulen > FRAME_MAX_UDP)
		return FRAME_NOT_OURS;
	if (!csum_trusted && nc_get_n16(udp + 6) != 0 &&
	    nc_csum_l4_ipv4(udp, ulen, ip.src, ip.dst, PROTO_UDP) != 0)
		return FRAME_BAD;
	if (sport == 0 || (eth[6] & 0x01) || martian_source(ip.src) || ip.src == ip.dst)
		return FRAME_MARTIAN;
	memcpy(out->src_mac, eth + 6, FRAME_MAC_LEN);
	nc_addr_set(&out->src, AF_INET, frame + ip.off + 12, sport);
	nc_addr_set(&out->dst, AF_INET, frame + ip.off + 16, dport);
	out->payload = udp + 8;
	out->len = ulen - 8;
	return FRAME_OK;
}

int frame_build_udp4(uint8_t *frame, size_t cap, const uint8_t dst_mac[FRAME_MAC_LEN],
		     const uint8_t src_mac[FRAME_MAC_LEN], const struct nc_addr *src,
		     const struct nc_addr *dst, const uint8_t *payload, size_t len)
{
	struct nc_wr w;
	uint8_t *iph, *udp;
	uint32_t s, d;

	if (src->family != AF_INET || dst->family != AF_INET)
		return -NC_E_FAMILY;
	if (len > 0xffff - 28)
		return -NC_E_NOSPACE;
	s = nc_get_n32(src->ip);
	d = nc_get_n32(dst->ip);
	nc_wr_init(&w, frame, cap);
	nc_wr_bytes(&w, dst_mac, FRAME_MAC_LEN);
	nc_wr_bytes(&w, src_mac, FRAME_MAC_LEN);
	nc_wr_n16(&w, ETHERTYPE_IPV4);
	iph = frame + w.off;
	nc_wr_u8(&w, 0x45);
	nc_wr_u8(&w, 0);
	nc_wr_n16(&w, (uint16_t)(20 + 8 + len));
	nc_wr_n16(&w, 0); /* an atomic datagram (DF): the id is not used (RFC 6864 §4.1) */
	nc_wr_n16(&w, IP_DF);
	nc_wr_u8(&w, 64);
	nc_wr_u8(&w, PROTO_UDP);
	nc_wr_n16(&w, 0);
	nc_wr_n32(&w, s);
	nc_wr_n32(&w, d);
	udp = frame + w.off;
	nc_wr_n16(&w, src->port);
	nc_wr_n16(&w, dst->port);
	nc_wr_n16(&w, (uint16_t)(8 + len));
	nc_wr_n16(&w, 0);
	nc_wr_bytes(&w, payload, len);
	if (w.err)
		return -NC_E_NOSPACE;
	nc_put_n16(iph + 10, nc_csum_fold(nc_csum_add(0, iph, 20)));
	uint16_t c = nc_csum_l4_ipv4(udp, 8 + len, s, d, PROTO_UDP);
	nc_put_n16(udp + 6, c ? c : 0xffff); /* RFC 768: a computed zero is sent as all ones */
	return (int)w.off;
}

const char *frame_verdict_name(enum frame_verdict v)
{
	switch (v) {
	case FRAME_OK: return "ok";
	case FRAME_NOT_OURS: return "not for the fast path";
	case FRAME_BAD: return "malformed";
	case FRAME_MARTIAN: return "source not answerable";
	}
	return "?";
}
