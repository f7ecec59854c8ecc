/* The Internet checksum (RFC 1071) and the IPv4 pseudo header of UDP and TCP (RFC 768,
 * RFC 9293 §3.1), for code that reads or writes whole IPv4 datagrams: natbox, and the
 * reflector's packet-ring fast path. Words are taken in network byte order. */
#ifndef NC_INETCSUM_H
#define NC_INETCSUM_H

#include <stddef.h>
#include <stdint.h>

/* One's complement sum of len bytes added to sum, folded to 16 bits but not inverted. */
uint32_t nc_csum_add(uint32_t sum, const uint8_t *buf, size_t len);
/* Folds and inverts: the value to store in a checksum field (0 over data that verifies). */
uint16_t nc_csum_fold(uint32_t sum);
/* UDP/TCP checksum over buf[0 .. len) with the IPv4 pseudo header of src, dst (host byte
 * order) and proto. Over a segment whose checksum field is filled in, 0 means it verifies. */
uint16_t nc_csum_l4_ipv4(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst, uint8_t proto);

#endif
