/* Segmentation and coalescing offloads between the TUN device and the tunnel, so that the
 * kernel and punchvpn exchange 64 KiB TCP super-packets instead of MTU-sized ones.
 *
 * With IFF_VNET_HDR every TUN read and write starts with a struct virtio_net_hdr (10 bytes,
 * little endian on every host Linux runs TUN with legacy headers on; virtio 1.0 §5.1.6):
 *
 *   0        1          2        4          6            8             10
 *  +--------+----------+--------+----------+------------+-------------+
 *  | flags  | gso_type | hdr_len| gso_size | csum_start | csum_offset |
 *  +--------+----------+--------+----------+------------+-------------+
 *
 * Reads (TUNSETOFFLOAD with TUN_F_CSUM|TSO4|TSO6): a packet may carry a partial checksum
 * (flags NEEDS_CSUM: the field at csum_start+csum_offset holds the pseudo-header sum, the rest
 * is ours to add), or be a TCP super-packet (gso_type TCPV4/TCPV6) that we cut into gso_size
 * segments, each with its own IP length, id, TCP sequence number, flags and full checksum.
 * Writes: consecutive in-order segments of one TCP flow are merged back into one super-packet
 * (userspace GRO) that the kernel takes with gso_type TCPV4/6 and NEEDS_CSUM. */
#ifndef VPN_OFFLOAD_H
#define VPN_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OFF_VNET_LEN 10
#define OFF_F_NEEDS_CSUM 1
#define OFF_GSO_NONE 0
#define OFF_GSO_TCPV4 1
#define OFF_GSO_TCPV6 4
#define OFF_GSO_ECN 0x80
#define OFF_MAX_PACKET 65535

struct off_vnet {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

/* Decodes the 10-byte header at buf (len bytes available); -NC_E_TRUNCATED if short. */
int off_vnet_decode(const uint8_t *buf, size_t len, struct off_vnet *h);
void off_vnet_encode(uint8_t out[OFF_VNET_LEN], const struct off_vnet *h);

/* Completes a NEEDS_CSUM checksum in place. -NC_E_MALFORMED if the offsets fall outside. */
int off_csum_complete(uint8_t *pkt, size_t len, const struct off_vnet *h);

/* Cuts a TCP super-packet (IPv4 without options or IPv6 without extension headers, as the
 * kernel builds them) into segments of at most h->gso_size payload bytes, segment i written
 * at out + i * stride with its length in lens[i]. Returns the count, -NC_E_MALFORMED for a
 * packet that is not such a super-packet, -NC_E_NOSPACE if it needs more than max segments or
 * a segment longer than stride. */
int off_tso_segment(const uint8_t *pkt, size_t len, const struct off_vnet *h, uint8_t *out,
		    size_t stride, size_t max, uint16_t *lens);

/* Userspace GRO: one flow's super-packet under construction. buf holds the vnet header and
 * then the packet; it must have room for OFF_VNET_LEN + OFF_MAX_PACKET bytes. */
struct off_gro {
	uint8_t *buf;
	size_t len;    /* packet bytes after the vnet header (0: empty) */
	unsigned segs; /* segments merged */
	bool tcp;      /* a mergeable TCP packet starts the buffer */
	bool v6;
	uint16_t ip_hlen, hdr_len, seg_payload;
	uint32_t next_seq;
};

void off_gro_init(struct off_gro *g, uint8_t *buf);
/* Adds one packet: true if it went into g (merged or started g); false if g is not empty
 * and pkt cannot join it, so the caller flushes g and adds pkt again (false on an empty g
 * only for a packet longer than OFF_MAX_PACKET). */
bool off_gro_add(struct off_gro *g, const uint8_t *pkt, size_t len);
/* Finishes g's vnet header and IP/TCP fields; returns the bytes to write from g->buf (vnet
 * header included), 0 when empty. g is empty afterwards. */
size_t off_gro_finish(struct off_gro *g);

#endif
