#include <natcheck/addr.h>

#include <natcheck/error.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nc_addr_set(struct nc_addr *a, int family, const void *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)family;
	a->port = port;
	memcpy(a->ip, ip, family == AF_INET ? 4 : 16);
}

int nc_addr_from_sockaddr(struct nc_addr *out, const struct sockaddr *sa, socklen_t len)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		nc_addr_set(out, AF_INET, &in->sin_addr, ntohs(in->sin_port));
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		/* An IPv4-mapped IPv6 address is the IPv4 endpoint it stands for. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			nc_addr_set(out, AF_INET, &in6->sin6_addr.s6_addr[12], ntohs(in6->sin6_port));
		else
			nc_addr_set(out, AF_INET6, &in6->sin6_addr, ntohs(in6->sin6_port));
		return 0;
	}
	return -NC_E_FAMILY;
}

socklen_t nc_addr_to_sockaddr(const struct nc_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(a->port);
		memcpy(&in->sin_addr, a->ip, 4);
		return sizeof(*in);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(a->port);
		memcpy(&in6->sin6_addr, a->ip, 16);
		return sizeof(*in6);
	}
	return 0;
}

bool nc_addr_ip_eq(const struct nc_addr *a, const struct nc_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, sizeof(a->ip)) == 0;
}

bool nc_addr_eq(const struct nc_addr *a, const struct nc_addr *b)
{
	return nc_addr_ip_eq(a, b) && a->port == b->port;
}

int nc_addr_parse_ip(const char *s, struct nc_addr *out)
{
	uint8_t buf[16];

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, buf) == 1) {
		nc_addr_set(out, AF_INET, buf, 0);
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		nc_addr_set(out, AF_INET6, buf, 0);
		return 0;
	}
	return -NC_E_PARSE;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -NC_E_PARSE;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return -NC_E_PARSE;
	*port = (uint16_t)v;
	return 0;
}

int nc_addr_parse(const char *s, uint16_t default_port, struct nc_addr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port_str = NULL;
	size_t hlen;
	uint16_t port = default_port;
	int err;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return -NC_E_PARSE;
		hlen = (size_t)(close - s - 1);
		if (close[1] == ':')
			port_str = close + 2;
		else if (close[1] != '\0')
			return -NC_E_PARSE;
		s++;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':') == NULL) { /* exactly one colon: IPv4:port */
			hlen = (size_t)(colon - s);
			port_str = colon + 1;
		} else {
			hlen = strlen(s);
		}
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -NC_E_PARSE;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if ((err = nc_addr_parse_ip(host, out)) < 0)
		return err;
	if (port_str && (err = parse_port(port_str, &port)) < 0)
		return err;
	out->port = port;
	return 0;
}

char *nc_addr_ip_str(const struct nc_addr *a, char buf[NC_ADDR_STRLEN])
{
	if (!nc_addr_is_set(a) || !inet_ntop(a->family, a->ip, buf, NC_ADDR_STRLEN))
		snprintf(buf, NC_ADDR_STRLEN, "(none)");
	return buf;
}

char *nc_addr_str(const struct nc_addr *a, char buf[NC_ADDR_STRLEN])
{
	char ip[INET6_ADDRSTRLEN];

	if (!nc_addr_is_set(a)) {
		snprintf(buf, NC_ADDR_STRLEN, "(none)");
		return buf;
	}
	if (!inet_ntop(a->family, a->ip, ip, sizeof(ip)))
		ip[0] = '\0';
	if (a->family == AF_INET6)
		snprintf(buf, NC_ADDR_STRLEN, "[%s]:%u", ip, a->port);
	else
		snprintf(buf, NC_ADDR_STRLEN, "%s:%u", ip, a->port);
	return buf;
}

static bool in_v4(const uint8_t *ip, uint32_t net, unsigned bits)
{
	uint32_t v = ((uint32_t)ip[0] << 24) | ((uint32_t)ip[1] << 16) | ((uint32_t)ip[2] << 8) | ip[3];
	uint32_t mask = bits ? ~(uint32_t)0 << (32 - bits) : 0;
	return (v & mask) == (net & mask);
}

enum nc_addr_scope nc_addr_scope(const struct nc_addr *a)
{
	const uint8_t *ip = a->ip;

	if (a->family == AF_INET) {
		if (in_v4(ip, 0x0A000000, 8) || in_v4(ip, 0xAC100000, 12) || in_v4(ip, 0xC0A80000, 16))
			return NC_SCOPE_PRIVATE;
		if (in_v4(ip, 0x64400000, 10))
			return NC_SCOPE_CGNAT;
		if (in_v4(ip, 0x7F000000, 8))
			return NC_SCOPE_LOOPBACK;
		if (in_v4(ip, 0xA9FE0000, 16))
			return NC_SCOPE_LINKLOCAL;
		if (in_v4(ip, 0x00000000, 8) || in_v4(ip, 0xE0000000, 3) || in_v4(ip, 0xC0000200, 24) ||
		    in_v4(ip, 0xC6336400, 24) || in_v4(ip, 0xCB007100, 24))
			return NC_SCOPE_OTHER_RESERVED;
		/* 198.18.0.0/15 (benchmarking) is deliberately public here: the lab uses it as
		 * its "internet", as RFC 2544 intends such addresses for test networks. */
		return NC_SCOPE_PUBLIC;
	}
	if (a->family == AF_INET6) {
		static const uint8_t loop[16] = {[15] = 1};
		if (memcmp(ip, loop, 16) == 0)
			return NC_SCOPE_LOOPBACK;
		if ((ip[0] & 0xfe) == 0xfc)
			return NC_SCOPE_PRIVATE;
		if (ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80)
			return NC_SCOPE_LINKLOCAL;
		if (ip[0] == 0xff || (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0x0d && ip[3] == 0xb8))
			return NC_SCOPE_OTHER_RESERVED;
		return NC_SCOPE_PUBLIC;
	}
	return NC_SCOPE_OTHER_RESERVED;
}

bool nc_addr_ip_is_unicast(const struct nc_addr *a)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	const uint8_t *v4 = NULL;

	if (a->family == AF_INET)
		v4 = a->ip;
	else if (a->family == AF_INET6 && memcmp(a->ip, mapped, sizeof(mapped)) == 0)
		v4 = a->ip + 12;
	else if (a->family == AF_INET6) {
		static const uint8_t zero[16];
		return a->ip[0] != 0xff && memcmp(a->ip, zero, sizeof(zero)) != 0;
	} else
		return false;
	/* 0/8 is "this network" (RFC 1122 3.2.1.3: a source only while booting), 224/4
	 * multicast, 240/4 reserved with 255.255.255.255 the limited broadcast. */
	return !in_v4(v4, 0x00000000, 8) && !in_v4(v4, 0xE0000000, 3);
}

const char *nc_addr_scope_name(enum nc_addr_scope s)
{
	switch (s) {
	case NC_SCOPE_PUBLIC: return "public";
	case NC_SCOPE_PRIVATE: return "private";
	case NC_SCOPE_CGNAT: return "shared-cgnat";
	case NC_SCOPE_LOOPBACK: return "loopback";
	case NC_SCOPE_LINKLOCAL: return "link-local";
	case NC_SCOPE_OTHER_RESERVED: return "reserved";
	}
	return "reserved";
}
