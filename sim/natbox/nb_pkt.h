/* natbox packet layer: a bounds-checked IPv4 / UDP / TCP / ICMP parser, Internet checksums
 * (full and RFC 1624 incremental) and builders for the answers natbox sends itself (ICMP
 * destination unreachable, TCP RST, ICMP echo reply).
 *
 *   IPv4 (RFC 791)                          UDP (RFC 768)
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-------+-------+---------------+-------------------------------+
 *   |Version|  IHL  |      TOS      |          Total Length         |
 *   +-------+-------+---------------+-----+-------------------------+
 *   |         Identification        |Flags|     Fragment Offset     |
 *   +---------------+---------------+-----+-------------------------+
 *   |      TTL      |   Protocol    |        Header Checksum        |
 *   +---------------+---------------+-------------------------------+
 *   |                        Source Address                         |
 *   |                     Destination Address                       |
 *   +---------------------------------------------------------------+
 *   |    Source Port (UDP/TCP)      |    Destination Port           |   ICMP: type code csum
 *   |  UDP: Length  Checksum        |   TCP: seq, ack, off, flags.. |   echo: id seq; error:
 *   +---------------------------------------------------------------+   unused + IP hdr + 8 B
 *
 * The parser reads only through natcheck/lib/cursor.h and records *offsets* of the fields the
 * translator rewrites; the translator writes through nc_put_n16/n32 at those offsets into its
 * own copy of the packet. No packet byte is ever cast to a struct. */
#ifndef NB_PKT_H
#define NB_PKT_H

#include "ipv4.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NB_MAX_PKT 65535

enum { NB_IPPROTO_ICMP = 1, NB_IPPROTO_TCP = 6, NB_IPPROTO_UDP = 17 };

/* TCP flag bits (RFC 9293 §3.1). */
enum { NB_TH_FIN = 0x01, NB_TH_SYN = 0x02, NB_TH_RST = 0x04, NB_TH_PSH = 0x08, NB_TH_ACK = 0x10 };

/* ICMP types natbox understands (RFC 792). */
enum {
	NB_ICMP_ECHOREPLY = 0,
	NB_ICMP_UNREACH = 3,
	NB_ICMP_SOURCEQUENCH = 4,
	NB_ICMP_REDIRECT = 5,
	NB_ICMP_ECHO = 8,
	NB_ICMP_TIMXCEED = 11,
	NB_ICMP_PARAMPROB = 12,
};

struct nb_l4 {
	bool ports;       /* sport/dport are meaningful (UDP, TCP, ICMP echo id) */
	size_t off;       /* transport header start */
	size_t len;       /* transport bytes present (outer: header + payload up to tot_len) */
	size_t sport_off; /* where the source port (ICMP echo: the id) lives */
	size_t dport_off; /* where the destination port (ICMP echo: the id) lives */
	size_t csum_off;  /* transport checksum; 0 = not present in the captured bytes */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t tcp_seq, tcp_ack;
	size_t tcp_payload; /* TCP payload bytes (outer only) */
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;
};

struct nb_pkt {
	struct nc_ipv4 ip;
	struct nb_l4 l4;
	bool icmp_error;    /* ICMP error: in_ip / in_l4 describe the datagram it quotes */
	struct nc_ipv4 in_ip;
	struct nb_l4 in_l4;
};

/* Parses one IPv4 datagram. Returns 0, -NC_E_TRUNCATED (shorter than a header or its declared
 * length), -NC_E_MALFORMED (bad version, IHL, lengths, header checksum, quoted datagram) or
 * -NC_E_UNSUPPORTED (non-first fragment, protocol other than UDP/TCP/ICMP, ICMP type that
 * natbox does not translate). Trailing bytes after Total Length are ignored. */
int nb_parse(const uint8_t *buf, size_t len, struct nb_pkt *p);

/* Checksums: natcheck/lib/inetcsum.h (full sums); here the incremental updates. */
/* RFC 1624 eqn. 3: checksum field at csum after a 16-bit / 32-bit word changed old -> new.
 * udp set: a stored 0 means "no checksum" and stays 0; a result of 0 is sent as 0xffff. */
void nb_csum_update16(uint8_t *csum, uint16_t oldv, uint16_t newv, bool udp);
void nb_csum_update32(uint8_t *csum, uint32_t oldv, uint32_t newv, bool udp);
/* Recomputes the IPv4 header checksum at buf + ip_off (hlen bytes). */
void nb_ip_csum_fix(uint8_t *buf, size_t ip_off, size_t hlen);
/* True if the IPv4 header and (for UDP/TCP with a checksum, ICMP) the transport checksum of a
 * parsed packet verify. Used by tests and debug logging. */
bool nb_csum_ok(const uint8_t *buf, const struct nb_pkt *p);

/* Builders. Each writes a complete IPv4 datagram into out (cap bytes) and returns its length
 * or -NC_E_NOSPACE. src/dst are the answer's addresses. */
int nb_build_icmp_unreach(uint8_t *out, size_t cap, uint32_t src, uint32_t dst, uint8_t code,
			  const uint8_t *orig, size_t orig_len);
int nb_build_tcp_rst(uint8_t *out, size_t cap, const struct nb_pkt *orig);
int nb_build_echo_reply(uint8_t *out, size_t cap, const uint8_t *orig, const struct nb_pkt *p);

/* A naive STUN ALG on the parsed UDP datagram p in buf: in a Binding success response, each
 * MAPPED-ADDRESS equal to from_ip:from_port becomes to_ip:to_port and the UDP checksum is
 * updated; FINGERPRINT is left stale and XOR-MAPPED-ADDRESS untouched (issue 13, item 9).
 * Returns how many attributes it rewrote (0 for anything else, including non-STUN data). */
int nb_stun_alg(uint8_t *buf, const struct nb_pkt *p, uint32_t from_ip, uint16_t from_port,
		uint32_t to_ip, uint16_t to_port);

#endif
