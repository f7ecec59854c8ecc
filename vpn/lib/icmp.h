/* What a router answers when a packet does not fit the next link (RFC 1191 / RFC 8201): an
 * ICMPv4 "fragmentation needed and DF set" (type 3 code 4, next-hop MTU in bytes 6-7) or an
 * ICMPv6 "packet too big" (type 2, MTU in bytes 4-7). punchvpn writes it back into the TUN
 * device so the sending socket learns the tunnel's MTU, exactly as if the kernel had answered. */
#ifndef VPN_ICMP_H
#define VPN_ICMP_H

#include <natcheck/addr.h>

#include <stddef.h>
#include <stdint.h>

/* Builds the answer to pkt (an IP packet of len bytes that exceeds mtu) from src (our tunnel
 * address of the same family) into out. Returns its length, 0 when no answer is due (IPv4
 * without DF, ICMP errors, fragments after the first, multicast), -NC_E_MALFORMED for a packet
 * that is not IP, -NC_E_NOSPACE if cap is too small (576 IPv4 / 1280 IPv6 always suffice). */
int icmp_too_big(const uint8_t *pkt, size_t len, unsigned mtu, const struct nc_addr *src,
		 uint8_t *out, size_t cap);

#endif
