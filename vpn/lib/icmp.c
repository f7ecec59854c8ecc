#include "icmp.h"

#include <natcheck/error.h>

#include <string.h>
#include <sys/socket.h>

#include "cursor.h"
#include "inetcsum.h"

static int too_big_v4(const uint8_t *pkt, size_t len, unsigned mtu, const struct nc_addr *src,
		      uint8_t *out, size_t cap)
{
	size_t ihl = (size_t)(pkt[0] & 0x0F) * 4, quote, total;
	uint16_t frag;

	if (len < 20 || ihl < 20 || len < ihl)
		return -NC_E_MALFORMED;
	frag = nc_get_n16(pkt + 6);
	/* Without DF a router fragments; never answer an ICMP error (RFC 1122 §3.2.2) or a
	 * non-first fragment; never to multicast/broadcast-looking sources. */
	if (!(frag & 0x4000) || (frag & 0x1FFF))
		return 0;
	if (pkt[9] == 1 && len > ihl && pkt[ihl] != 0 && pkt[ihl] != 8)
		return 0;
	if (pkt[12] >= 224 || src->family != AF_INET)
		return 0;
	/* RFC 1812 §4.3.2.3: as much of the original as fits in 576 bytes. */
	quote = len < 576 - 28 ? len : 576 - 28;
	total = 28 + quote;
	if (cap < total)
		return -NC_E_NOSPACE;
	memset(out, 0, 28);
	out[0] = 0x45;
	nc_put_n16(out + 2, (uint16_t)total);
	out[8] = 64;
	out[9] = 1;
	memcpy(out + 12, src->ip, 4);
	memcpy(out + 16, pkt + 12, 4); /* back to the sender */
	nc_put_n16(out + 10, nc_csum_fold(nc_csum_add(0, out, 20)));
	out[20] = 3;
	out[21] = 4;
	nc_put_n16(out + 26, (uint16_t)mtu);
	memcpy(out + 28, pkt, quote);
	nc_put_n16(out + 22, nc_csum_fold(nc_csum_add(0, out + 20, 8 + quote)));
	return (int)total;
}

static int too_big_v6(const uint8_t *pkt, size_t len, unsigned mtu, const struct nc_addr *src,
		      uint8_t *out, size_t cap)
{
	size_t quote, total;
	uint32_t sum, l4;

	if (len < 40)
		return -NC_E_MALFORMED;
	/* No answer to ICMPv6 errors (RFC 4443 §2.4 e.1) or from multicast sources. */
	if (pkt[6] == 58 && len > 40 && pkt[40] < 128)
		return 0;
	if (pkt[8] == 0xFF || src->family != AF_INET6)
		return 0;
	/* RFC 4443 §3.2: as much of the packet as fits in the minimum MTU. */
	quote = len < 1280 - 48 ? len : 1280 - 48;
	total = 48 + quote;
	if (cap < total)
		return -NC_E_NOSPACE;
	l4 = (uint32_t)(8 + quote);
	memset(out, 0, 48);
	out[0] = 0x60;
	nc_put_n16(out + 4, (uint16_t)l4);
	out[6] = 58;
	out[7] = 64;
	memcpy(out + 8, src->ip, 16);
	memcpy(out + 24, pkt + 8, 16);
	out[40] = 2;
	nc_put_n32(out + 44, mtu);
	memcpy(out + 48, pkt, quote);
	sum = nc_csum_add(0, out + 8, 32) + 58 + (l4 >> 16) + (l4 & 0xffff);
	nc_put_n16(out + 42, nc_csum_fold(nc_csum_add(sum, out + 40, l4)));
	return (int)total;
}

int icmp_too_big(const uint8_t *pkt, size_t len, unsigned mtu, const struct nc_addr *src,
		 uint8_t *out, size_t cap)
{
	if (len < 1)
		return -NC_E_MALFORMED;
	switch (pkt[0] >> 4) {
	case 4:
		return too_big_v4(pkt, len, mtu, src, out, cap);
	case 6:
		return too_big_v6(pkt, len, mtu, src, out, cap);
	default:
		return -NC_E_MALFORMED;
	}
}
