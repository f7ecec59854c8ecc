/* The IPv4 header (RFC 791), read through a cursor: for the code that handles whole datagrams,
 * natbox (sim/natbox/nb_pkt.c) and the reflector's fast path (reflector/frame.c).
 *
 *    0                   1                   2                   3
 *   |Version|  IHL  |      TOS      |          Total Length         |
 *   |         Identification        |Flags|     Fragment Offset     |
 *   |      TTL      |   Protocol    |        Header Checksum        |
 *   |                        Source Address                         |
 *   |                     Destination Address                       |
 *   |                    Options (IHL > 5)                          | */
#ifndef NC_IPV4_H
#define NC_IPV4_H

#include "cursor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nc_ipv4 {
	size_t off;     /* where the header starts in the reader's buffer */
	size_t hlen;    /* header length in bytes (IHL * 4) */
	size_t tot_len; /* Total Length as declared */
	uint16_t frag;  /* flags + fragment offset */
	uint8_t ttl;
	uint8_t proto;
	uint32_t src, dst; /* host byte order */
};

/* Reads the header at r's position and leaves r after its options. whole: a datagram as
 * received, whose Total Length must lie within r's buffer and whose header checksum must
 * verify; otherwise a header quoted in an ICMP error, of which only the header is present.
 * Returns 0, -NC_E_TRUNCATED or -NC_E_MALFORMED (version, IHL, Total Length, checksum).
 * Fragments are the caller's to judge. */
int nc_ipv4_read(struct nc_rd *r, struct nc_ipv4 *ip, bool whole);

#endif
