/* Loopback sockets for the unit tests. Include after <cmocka.h>. */
#ifndef NC_TESTSOCK_H
#define NC_TESTSOCK_H

#include <natcheck/addr.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* A UDP socket on a free loopback port that nobody reads: requests sent to *a are taken and
 * never answered, so a probe waits on it. */
static inline int silent_udp(struct nc_addr *a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(nc_addr_from_sockaddr(a, (struct sockaddr *)&sin, sl), 0);
	return fd;
}

#endif
