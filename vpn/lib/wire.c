#include "wire.h"

#include <natcheck/error.h>

#include "cursor.h"

void wire_put_data_hdr(uint8_t out[WIRE_DATA_HDR], uint32_t receiver, uint64_t counter)
{
	out[0] = WIRE_DATA;
	out[1] = out[2] = out[3] = 0;
	nc_put_n32(out + 4, receiver);
	nc_put_n32(out + 8, (uint32_t)(counter >> 32));
	nc_put_n32(out + 12, (uint32_t)counter);
}

int wire_decode(const uint8_t *buf, size_t len, struct wire_msg *m)
{
	struct nc_rd r;
	uint8_t type;
	uint32_t hi;

	memset(m, 0, sizeof(*m));
	nc_rd_init(&r, buf, len);
	type = nc_rd_u8(&r);
	if (nc_rd_u8(&r) | nc_rd_u8(&r) | nc_rd_u8(&r))
		return r.err ? -NC_E_TRUNCATED : -NC_E_MALFORMED;
	if (r.err)
		return -NC_E_TRUNCATED;
	switch (type) {
	case WIRE_INIT:
		/* Fixed sizes: a handshake message of any other length is not ours (and padding
		 * would be a free amplification of work). */
		if (len != WIRE_INIT_LEN)
			return -NC_E_TRUNCATED;
		m->sender = nc_rd_n32(&r);
		m->noise_len = WIRE_INIT_NOISE;
		m->noise = nc_rd_ptr(&r, WIRE_INIT_NOISE);
		m->mac_off = r.off;
		m->mac1 = nc_rd_ptr(&r, WIRE_MAC_LEN);
		break;
	case WIRE_RESP:
		if (len != WIRE_RESP_LEN)
			return -NC_E_TRUNCATED;
		m->sender = nc_rd_n32(&r);
		m->receiver = nc_rd_n32(&r);
		m->noise_len = WIRE_RESP_NOISE;
		m->noise = nc_rd_ptr(&r, WIRE_RESP_NOISE);
		m->mac_off = r.off;
		m->mac1 = nc_rd_ptr(&r, WIRE_MAC_LEN);
		break;
	case WIRE_DATA:
		m->receiver = nc_rd_n32(&r);
		hi = nc_rd_n32(&r);
		m->counter = ((uint64_t)hi << 32) | nc_rd_n32(&r);
		if (r.err || nc_rd_left(&r) < WIRE_TAG_LEN)
			return -NC_E_TRUNCATED;
		m->ct_len = nc_rd_left(&r);
		m->ct = nc_rd_ptr(&r, m->ct_len);
		break;
	case WIRE_COORD:
	case WIRE_RELAY:
		/* Only punchvpnd sends these (the caller checks the source); coord.c decodes. */
		m->ct = buf;
		m->ct_len = len;
		break;
	default:
		return -NC_E_MALFORMED;
	}
	if (r.err)
		return -NC_E_TRUNCATED;
	m->type = (enum wire_type)type;
	return 0;
}
