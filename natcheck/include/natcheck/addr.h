/* Transport endpoints (IP address + port), IPv4 and IPv6, as plain comparable values. */
#ifndef NC_ADDR_H
#define NC_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define NC_ADDR_STRLEN 56 /* "[ffff:...:ffff]:65535" plus NUL, rounded up */

struct nc_addr {
	uint8_t family; /* AF_INET, AF_INET6, or 0 = unset */
	uint16_t port;  /* host byte order */
	uint8_t ip[16]; /* IPv4 in the first 4 bytes, rest zero */
};

/* Address ranges that matter for NAT topology (RFC 1918, RFC 6598, ...). */
enum nc_addr_scope {
	NC_SCOPE_PUBLIC,
	NC_SCOPE_PRIVATE,  /* 10/8, 172.16/12, 192.168/16, fc00::/7 */
	NC_SCOPE_CGNAT,    /* 100.64/10 shared address space */
	NC_SCOPE_LOOPBACK,
	NC_SCOPE_LINKLOCAL,
	NC_SCOPE_OTHER_RESERVED, /* documentation, benchmarking, multicast, ... */
};

static inline bool nc_addr_is_set(const struct nc_addr *a)
{
	return a->family == 2 /* AF_INET */ || a->family == 10 /* AF_INET6 */;
}

/* Fills *out from a sockaddr; -NC_E_FAMILY for anything but AF_INET/AF_INET6. */
int nc_addr_from_sockaddr(struct nc_addr *out, const struct sockaddr *sa, socklen_t len);
/* Fills *ss and returns the sockaddr length (0 if a is unset). */
socklen_t nc_addr_to_sockaddr(const struct nc_addr *a, struct sockaddr_storage *ss);
/* Builds an endpoint from raw address bytes (4 or 16) and a port. */
void nc_addr_set(struct nc_addr *a, int family, const void *ip, uint16_t port);

bool nc_addr_eq(const struct nc_addr *a, const struct nc_addr *b);    /* IP and port */
bool nc_addr_ip_eq(const struct nc_addr *a, const struct nc_addr *b); /* IP only */

/* Parses "1.2.3.4", "1.2.3.4:5", "::1", "[::1]:5". Without a port, default_port is used.
 * No name resolution: returns -NC_E_PARSE for anything that is not a literal. */
int nc_addr_parse(const char *s, uint16_t default_port, struct nc_addr *out);
/* Parses an IP literal without port. */
int nc_addr_parse_ip(const char *s, struct nc_addr *out);
/* "1.2.3.4:5" or "[::1]:5"; returns buf. */
char *nc_addr_str(const struct nc_addr *a, char buf[NC_ADDR_STRLEN]);
/* "1.2.3.4" or "::1"; returns buf. */
char *nc_addr_ip_str(const struct nc_addr *a, char buf[NC_ADDR_STRLEN]);

enum nc_addr_scope nc_addr_scope(const struct nc_addr *a);
/* Whether a's IP can be one end of a unicast exchange: set, and not unspecified (0.0.0.0/8,
 * ::), multicast (224/4, ff00::/8), the limited broadcast 255.255.255.255 or the rest of
 * 240/4; IPv4-mapped IPv6 addresses by their IPv4 rule. The port is not looked at. */
bool nc_addr_ip_is_unicast(const struct nc_addr *a);
const char *nc_addr_scope_name(enum nc_addr_scope s);

#endif
