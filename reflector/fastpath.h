/* The reflector's packet-ring fast path (natcheck-reflector --fast-path IFACE), IPv4 only.
 *
 * Why: with recvmmsg/sendmmsg batches, about 90% of the server's CPU per answer is the
 * kernel's per-datagram UDP path, most of it on the way out (socket, route lookup, IP output,
 * neighbour). A fast-path worker instead reads the requests from a TPACKET_V2 receive ring
 * (the kernel copies them there in its receive context; no system call per datagram) and
 * writes the answers' frames into a transmit ring that one send() hands to the driver with
 * PACKET_QDISC_BYPASS: no socket lookup, no route lookup, no IP output path per answer.
 *
 * What it takes and what it leaves:
 *  - A packet-socket filter (classic BPF) passes only unfragmented IPv4 UDP datagrams of at
 *    most FRAME_MAX_UDP bytes to one of the four endpoints, addressed to this host. Every
 *    other packet still reaches the UDP sockets, which answer it as without the fast path;
 *    their own filter drops exactly what the fast path takes (same interface, UDP length at
 *    most FRAME_MAX_UDP), so each request is answered once.
 *  - Answers go back to the Ethernet address the request came from, out of the same
 *    interface: the reverse of the request's path, as a STUN server's answers must take.
 *  - Requests are read before the host firewall (netfilter) sees them and answers are not
 *    seen by it either: the reflector's own rate limits are what protects the path, as with
 *    any AF_PACKET or AF_XDP server. docs/reflector.md says when to use it.
 * One ring pair per worker thread; the workers' packet sockets form a PACKET_FANOUT group
 * (hash by flow), so one source stays with one thread as on the SO_REUSEPORT sockets. */
#ifndef REFL_FASTPATH_H
#define REFL_FASTPATH_H

#include "frame.h"
#include "reflector.h"

#include <stddef.h>
#include <stdint.h>

struct fp_ring {
	int fd;
	int ifindex;
	uint8_t mac[FRAME_MAC_LEN];
	uint8_t *map;
	size_t map_len;
	unsigned rx_head, tx_head; /* next frame to read / to fill */
	unsigned tx_pending;       /* frames filled since the last flush */
};

/* Opens ring pair r on interface ifname for the IPv4 endpoints in local[] (unset ones and
 * IPv6 ones are skipped). *group 0: creates a fanout group with an id unique on the host and
 * stores it in *group; otherwise joins that group (the process's other workers). Needs
 * CAP_NET_RAW; call before dropping privileges. Returns 0 or a negative error: -NC_E_FAMILY
 * (not an Ethernet interface, or no IPv4 endpoint), -errno. */
int fp_open(struct fp_ring *r, const char *ifname, const struct nc_addr local[REFL_NSOCK],
	    uint16_t *group);
void fp_close(struct fp_ring *r);


/* Attaches to UDP socket fd the filter that drops the datagrams the fast path on ifindex
 * takes, leaving it everything else. */
int fp_udp_socket_filter(int fd, int ifindex);

/* The next received frame, or NULL when the ring is empty. *csum_trusted as for
 * frame_parse_udp4(). Give it back with fp_rx_release() before asking for the next. */
const uint8_t *fp_rx_next(struct fp_ring *r, size_t *len, bool *csum_trusted);
void fp_rx_release(struct fp_ring *r);

/* A free transmit frame of *cap bytes, or NULL when the ring is full (even after flushing).
 * fp_tx_commit() queues its first len bytes; fp_tx_flush() sends what is queued. */
uint8_t *fp_tx_slot(struct fp_ring *r, size_t *cap);
void fp_tx_commit(struct fp_ring *r, size_t len);
int fp_tx_flush(struct fp_ring *r);

/* Reads and clears the socket's pending error (the interface went down: ENETDOWN); the rings
 * keep working once it is up again. Returns it as a negative errno, or 0. */
int fp_take_error(struct fp_ring *r);
/* Requests the kernel dropped because the receive ring was full, since the last call. */
uint64_t fp_rx_drops(struct fp_ring *r);

#endif
