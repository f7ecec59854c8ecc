#include "ipv4.h"

#include <natcheck/error.h>
#include "inetcsum.h"

int nc_ipv4_read(struct nc_rd *r, struct nc_ipv4 *ip, bool whole)
{
	uint8_t vihl;

	ip->off = r->off;
	vihl = nc_rd_u8(r);
	nc_rd_skip(r, 1); /* TOS */
	ip->tot_len = nc_rd_n16(r);
	nc_rd_skip(r, 2); /* identification */
	ip->frag = nc_rd_n16(r);
	ip->ttl = nc_rd_u8(r);
	ip->proto = nc_rd_u8(r);
	nc_rd_skip(r, 2); /* checksum: verified over the whole header below */
	ip->src = nc_rd_n32(r);
	ip->dst = nc_rd_n32(r);
	if (r->err)
		return -NC_E_TRUNCATED;
	if ((vihl >> 4) != 4)
		return -NC_E_MALFORMED;
	ip->hlen = (size_t)(vihl & 0x0f) * 4;
	if (ip->hlen < 20 || ip->tot_len < ip->hlen)
		return -NC_E_MALFORMED; /* IHL >= 5; Total Length includes the header */
	nc_rd_skip(r, ip->hlen - 20); /* options */
	if (r->err)
		return -NC_E_TRUNCATED;
	if (whole) {
		if (ip->tot_len > r->len - ip->off)
			return -NC_E_TRUNCATED;
		if (nc_csum_fold(nc_csum_add(0, r->buf + ip->off, ip->hlen)) != 0)
			return -NC_E_MALFORMED;
	}
	return 0;
}
