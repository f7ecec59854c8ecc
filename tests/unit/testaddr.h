/* Addresses for the unit tests, from text; a string that does not parse fails the test.
 * Include after <cmocka.h>. */
#ifndef NC_TESTADDR_H
#define NC_TESTADDR_H

#include <natcheck/addr.h>

/* "IP" or "IP:PORT" (an IPv6 address with a port in brackets). */
static inline struct nc_addr ep(const char *s)
{
	struct nc_addr a;
	assert_int_equal(nc_addr_parse(s, 0, &a), 0);
	return a;
}

/* A bare IP address, port 0: "IP:PORT" is refused. */
static inline struct nc_addr ip(const char *s)
{
	struct nc_addr a;
	assert_int_equal(nc_addr_parse_ip(s, &a), 0);
	return a;
}

#endif
