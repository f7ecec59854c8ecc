/* The tunnel's UDP socket: dual-stack (IPv4 as v4-mapped IPv6) when the host has IPv6, with
 * large buffers, UDP_GRO on receive and UDP_SEGMENT (GSO) on send when the kernel takes them. */
#ifndef VPN_UDP_H
#define VPN_UDP_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct udp {
	int fd;
	int family;
	bool gso, gro;
	uint16_t port;
};

int udp_open(struct udp *u, uint16_t port, char *err, size_t errlen);
void udp_close(struct udp *u);
/* An endpoint as this socket addresses it. */
socklen_t udp_sockaddr(const struct udp *u, const struct nc_addr *a, struct sockaddr_storage *ss);
/* Sends n datagrams of seg bytes each (the last may be shorter), laid out back to back in buf:
 * one sendmsg with UDP_SEGMENT when possible, else sendmmsg. Returns 0 or -errno. */
int udp_send_batch(struct udp *u, const struct sockaddr_storage *to, socklen_t tolen,
		   const uint8_t *buf, size_t total, size_t seg);

#endif
