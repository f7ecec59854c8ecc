#include "ctrl.h"

#include <natcheck/error.h>

int ctrl_decode(const uint8_t *buf, size_t len, struct ctrl_msg *m)
{
	uint16_t port;

	if (len != CTRL_LEN || buf[0] != 0)
		return -NC_E_MALFORMED;
	port = (uint16_t)(buf[2] << 8 | buf[3]);
	if (buf[1] < CTRL_BDAY_PROBE || buf[1] > CTRL_BDAY_TARGET || port == 0)
		return -NC_E_MALFORMED;
	m->type = (enum ctrl_type)buf[1];
	m->port = port;
	return 0;
}

void ctrl_encode(uint8_t out[CTRL_LEN], const struct ctrl_msg *m)
{
	out[0] = 0;
	out[1] = (uint8_t)m->type;
	out[2] = (uint8_t)(m->port >> 8);
	out[3] = (uint8_t)m->port;
}
