/* Control messages inside the tunnel: a transport packet (wire.h, type 4) whose plaintext
 * starts with a zero byte, which no IP packet does (its first nibble is the version, 4 or 6).
 * They are sealed, authenticated and replay-checked like the traffic they travel with, so
 * only the peer can send them; they never reach the TUN device.
 *
 *   0       1       2       3
 *  +-------+-------+-------+-------+
 *  |   0   | type  |  port (BE)    |  4 bytes, nothing after
 *  +-------+-------+-------+-------+
 *
 *   type 1  BDAY_PROBE  birthday probing's probe (bday.h): port = the destination port it was
 *                       sent to, so the side it reaches learns which of its mappings was found
 *   type 2  BDAY_HIT    the answer through the relay: "your probe to port reached me"
 *   type 3  BDAY_TARGET through the relay, from the side that probes: "aim your sockets at my
 *                       address, this port" (the mapping of the socket its probes go from) */
#ifndef VPN_CTRL_H
#define VPN_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTRL_LEN 4

enum ctrl_type { CTRL_BDAY_PROBE = 1, CTRL_BDAY_HIT = 2, CTRL_BDAY_TARGET = 3 };

struct ctrl_msg {
	enum ctrl_type type;
	uint16_t port;
};

/* Whether a plaintext is a control message rather than an IP packet. */
static inline bool ctrl_is(const uint8_t *plain, size_t len)
{
	return len > 0 && plain[0] == 0;
}

/* Returns 0, or -NC_E_MALFORMED (wrong length, unknown type, port 0). */
int ctrl_decode(const uint8_t *buf, size_t len, struct ctrl_msg *m);
/* Writes CTRL_LEN bytes. */
void ctrl_encode(uint8_t out[CTRL_LEN], const struct ctrl_msg *m);

#endif
