/* The IPv4 default gateway, from /proc/net/route: the only gateway the port-mapping
 * protocols may talk to (RFC 6886 §3, RFC 6887 §8.1). */
#include "portmap.h"

#include <natcheck/error.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int nc_pm_parse_route(const char *text, struct nc_addr *gw)
{
	const char *line = text;
	long best_metric = -1;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char buf[256], iface[64];
		unsigned long dest, gwv, mask;
		unsigned flags;
		int metric;

		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = '\0';
			/* Iface Destination Gateway Flags RefCnt Use Metric Mask ... (hex fields are the
			 * raw network-order words printed as host integers) */
			if (sscanf(buf, "%63s %lx %lx %x %*d %*d %d %lx", iface, &dest, &gwv, &flags,
				   &metric, &mask) == 6 &&
			    dest == 0 && mask == 0 && (flags & 0x3) == 0x3 /* RTF_UP|RTF_GATEWAY */ &&
			    (best_metric < 0 || metric < best_metric)) {
				uint32_t v = (uint32_t)gwv;

				nc_addr_set(gw, AF_INET, &v, 0);
				best_metric = metric;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return best_metric < 0 ? -NC_E_UNSUPPORTED : 0;
}

int nc_pm_default_gateway(struct nc_addr *gw)
{
	char text[16384];
	size_t n = 0;
	ssize_t k;
	int fd = open("/proc/net/route", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (n < sizeof(text) - 1 && (k = read(fd, text + n, sizeof(text) - 1 - n)) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			k = -errno;
			close(fd);
			return (int)k;
		}
		n += (size_t)k;
	}
	close(fd);
	text[n] = '\0';
	return nc_pm_parse_route(text, gw);
}

