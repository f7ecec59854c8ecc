/* Ethernet II + IPv4 + UDP frames for the reflector's packet-ring fast path (fastpath.h): the
 * parser decides whether a frame read off the interface is a datagram the fast path may answer
 * itself, the builder writes the answer's frame. Pure functions: no sockets, no clock.
 *
 *   Ethernet: dst MAC (6) | src MAC (6) | EtherType 0x0800 (2)
 *   IPv4 (RFC 791): version/IHL, TOS, total length, id, flags/fragment offset, TTL, protocol,
 *                   header checksum, source, destination [, options]
 *   UDP (RFC 768):  source port, destination port, length, checksum
 *
 * The fast path reads frames before the kernel's IP layer has looked at them, so this parser
 * does the checks the kernel would have done for a UDP socket: header checksum, lengths,
 * fragments (never taken: the kernel reassembles those and the UDP sockets answer them), the
 * UDP checksum unless the kernel vouches for it, and a source that a unicast answer may go to. */
#ifndef REFL_FRAME_H
#define REFL_FRAME_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_MAC_LEN 6
#define FRAME_ETH_LEN 14
#define FRAME_HDRS_LEN (FRAME_ETH_LEN + 20 + 8) /* answers carry no IP options */
/* The largest UDP datagram (header + payload) the fast path takes. Larger ones stay with the
 * kernel and the UDP sockets (fastpath.c keeps the two sets disjoint by this length); 548 is
 * what fits the 576-byte IPv4 minimum, so nobody has a reason to fragment a datagram this
 * small, and every Binding request without PADDING is far below it. */
#define FRAME_MAX_UDP 548

struct frame_udp4 {
	uint8_t src_mac[FRAME_MAC_LEN];
	struct nc_addr src, dst; /* AF_INET, ports set */
	const uint8_t *payload;  /* points into the frame */
	size_t len;
};

enum frame_verdict {
	FRAME_OK = 0,
	FRAME_NOT_OURS,  /* not IPv4/UDP, a fragment, or larger than FRAME_MAX_UDP */
	FRAME_BAD,       /* truncated, inconsistent lengths, a checksum that does not verify */
	FRAME_MARTIAN,   /* a source no answer may go to (RFC 1122 §3.2.1.3, §3.3.6) */
};

/* Parses frame[0 .. len). csum_trusted: the kernel has verified the UDP checksum or the frame
 * was sent from this host and carries none yet (TP_STATUS_CSUM_VALID, TP_STATUS_CSUMNOTREADY).
 * On FRAME_OK fills *out. */
enum frame_verdict frame_parse_udp4(const uint8_t *frame, size_t len, bool csum_trusted,
				    struct frame_udp4 *out);

/* Writes the frame of a UDP datagram from src to dst (both AF_INET) carrying payload: Ethernet
 * from src_mac to dst_mac, IPv4 with DF, TTL 64 and no options, both checksums computed.
 * Returns the frame's length, -NC_E_NOSPACE if it does not fit cap, -NC_E_FAMILY. */
int frame_build_udp4(uint8_t *frame, size_t cap, const uint8_t dst_mac[FRAME_MAC_LEN],
		     const uint8_t src_mac[FRAME_MAC_LEN], const struct nc_addr *src,
		     const struct nc_addr *dst, const uint8_t *payload, size_t len);

const char *frame_verdict_name(enum frame_verdict v);

#endif
