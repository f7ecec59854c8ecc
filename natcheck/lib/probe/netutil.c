#include "netutil.h"

#include <natcheck/error.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t nc_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void nc_tracef(nc_trace_fn fn, void *arg, uint64_t t0_us, const char *fmt, ...)
{
	char line[320];
	int n;
	va_list ap;

	if (!fn)
		return;
	n = snprintf(line, sizeof(line), "%+10.3f ms  ", (double)(nc_now_us() - t0_us) / 1000.0);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fn(arg, line);
}

int nc_route_source(const struct nc_addr *dst, struct nc_addr *src)
{
	struct sockaddr_storage ss, ls;
	socklen_t sl = nc_addr_to_sockaddr(dst, &ss), ll = sizeof(ls);
	int fd, err;

	fd = socket(dst->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* connect() on a datagram socket sends nothing: it only asks the routing table. */
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ls, &ll) < 0)
		err = -errno;
	else
		err = nc_addr_from_sockaddr(src, (struct sockaddr *)&ls, ll);
	close(fd);
	src->port = 0;
	return err;
}

int nc_udp_bind(const struct nc_addr *src, uint16_t port, struct nc_addr *bound)
{
	struct sockaddr_storage ss;
	int fd, err;

	fd = socket(src->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (int tries = 0; tries < 64; tries++) {
		struct nc_addr a = *src;
		socklen_t sl;

		a.port = port ? port : (uint16_t)(49152 + randombytes_uniform(16384));
		sl = nc_addr_to_sockaddr(&a, &ss);
		if (bind(fd, (struct sockaddr *)&ss, sl) == 0) {
			*bound = a;
			return fd;
		}
		if (errno != EADDRINUSE || port)
			break;
	}
	err = errno == EADDRINUSE ? -EADDRINUSE : -errno;
	close(fd);
	return err;
}

int nc_local_interface(const struct nc_addr *ip, char name[IF_NAMESIZE])
{
	struct ifaddrs *list, *i;
	int err = -NC_E_INVALID;

	if (getifaddrs(&list) < 0)
		return -errno;
	for (i = list; i; i = i->ifa_next) {
		struct nc_addr a;
		if (!i->ifa_addr || nc_addr_from_sockaddr(&a, i->ifa_addr, sizeof(struct sockaddr_storage)) < 0 ||
		    !nc_addr_ip_eq(&a, ip) || strlen(i->ifa_name) >= IF_NAMESIZE)
			continue;
		if (name)
			strcpy(name, i->ifa_name);
		err = 0;
		break;
	}
	freeifaddrs(list);
	return err;
}

int nc_limits_check(const struct nc_limits *lim, uint64_t now)
{
	if (!lim)
		return 0;
	if (nc_cancel_fired(lim->cancel))
		return -NC_E_CANCELLED;
	if (lim->deadline_us && now >= lim->deadline_us)
		return -NC_E_DEADLINE;
	return 0;
}

int nc_limits_timeout_ms(const struct nc_limits *lim, uint64_t next_us, uint64_t now)
{
	uint64_t until = next_us;

	if (lim && lim->deadline_us && (until == 0 || lim->deadline_us < until))
		until = lim->deadline_us;
	if (until == 0)
		return -1;
	if (until <= now)
		return 0;
	return (int)((until - now + 999) / 1000);
}
