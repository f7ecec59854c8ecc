#include "inetcsum.h"

uint32_t nc_csum_add(uint32_t sum, const uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)((buf[i] << 8) | buf[i + 1]);
	if (len & 1)
		sum += (uint32_t)(buf[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t nc_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t nc_csum_l4_ipv4(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst, uint8_t proto)
{
	uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + (uint32_t)len;

	return nc_csum_fold(nc_csum_add(sum, buf, len));
}
