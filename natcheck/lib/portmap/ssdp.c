/* SSDP (UPnP Device Architecture 1.1 §1.3): the M-SEARCH for an Internet Gateway Device and
 * the parser of its answer's LOCATION. */
#include "ssdp.h"

#include "cursor.h"
#include <natcheck/error.h>

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define SSDP_MCAST "239.255.255.250"
#define SSDP_ST "urn:schemas-upnp-org:device:InternetGatewayDevice:1"

static bool line_is_location(const char *line, size_t n, char *url, size_t cap, int *err)
{
	size_t i = 9, end = n, ulen;

	if (n < 9 || strncasecmp(line, "LOCATION:", 9) != 0)
		return false;
	while (i < end && (line[i] == ' ' || line[i] == '\t'))
		i++;
	while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	ulen = end - i;
	*err = -NC_E_MALFORMED;
	if (ulen < 8 || strncasecmp(line + i, "http://", 7) != 0)
		return true;
	for (size_t k = i; k < end; k++)
		if ((unsigned char)line[k] < 0x21 || (unsigned char)line[k] > 0x7e)
			return true;
	if (ulen >= cap) {
		*err = -NC_E_NOSPACE;
		return true;
	}
	memcpy(url, line + i, ulen);
	url[ulen] = '\0';
	*err = 0;
	return true;
}

int nc_pm_ssdp_location(const uint8_t *buf, size_t len, char *url, size_t cap)
{
	struct nc_rd r;
	char line[512];
	bool first = true;

	nc_rd_init(&r, buf, len);
	while (nc_rd_left(&r) > 0) {
		size_t n = 0;
		bool overlong = false, nul = false;
		int err;

		/* One line, read byte by byte through the cursor; CR LF or bare LF ends it. */
		while (nc_rd_left(&r) > 0) {
			uint8_t c = nc_rd_u8(&r);
			if (c == '\n')
				break;
			if (c == '\0')
				nul = true;
			if (n < sizeof(line) - 1)
				line[n++] = (char)c;
			else
				overlong = true;
		}
		if (n > 0 && line[n - 1] == '\r' && !overlong)
			n--;
		line[n] = '\0';
		if (first) {
			/* "HTTP/1.1 200 OK" (UPnP Device Architecture 1.1 §1.3.3) */
			if (overlong || nul || n < 12 || strncmp(line, "HTTP/1.", 7) != 0 ||
			    memcmp(line + 8, " 200", 4) != 0)
				return -NC_E_MALFORMED;
			first = false;
			continue;
		}
		if (n == 0)
			break; /* end of headers */
		if (overlong || nul) {
			if (n >= 9 && strncasecmp(line, "LOCATION:", 9) == 0)
				return overlong ? -NC_E_NOSPACE : -NC_E_MALFORMED;
			continue;
		}
		if (line_is_location(line, n, url, cap, &err))
			return err;
	}
	return -NC_E_MALFORMED;
}

/* True when the URL's host is exactly this IPv4 address: the description must come from the
 * device that answered, so a spoofed SSDP answer cannot send miniupnpc elsewhere. */
static bool url_host_is(const char *url, const struct nc_addr *ip)
{
	char a[NC_ADDR_STRLEN];
	const char *h = url + 7; /* after "http://" (checked by nc_pm_ssdp_location) */
	size_t n = strcspn(h, ":/");

	nc_addr_ip_str(ip, a);
	return n == strlen(a) && strncmp(h, a, n) == 0;
}


/* True when the error queue holds an ICMP port unreachable for a datagram sent to dst: the
 * gateway has nothing on its SSDP port, so it is no IGD (UDA 1.1 §1.3.2: devices listen on
 * 1900). Multicast never draws such an error, so only the unicast search can. */
static bool ssdp_refused(int fd, const struct nc_addr *dst)
{
	bool refused = false;

	for (;;) {
		struct sockaddr_storage to;
		union {
			char buf[512];
			struct cmsghdr align;
		} ctrl;
		uint8_t b[64];
		struct iovec iov = {.iov_base = b, .iov_len = sizeof(b)};
		struct msghdr mh = {.msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
				    .msg_iovlen = 1, .msg_control = ctrl.buf,
				    .msg_controllen = sizeof(ctrl.buf)};
		struct nc_addr ta;

		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return refused;
		if (nc_addr_from_sockaddr(&ta, (struct sockaddr *)&to, mh.msg_namelen) < 0 ||
		    !nc_addr_eq(&ta, dst))
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			struct sock_extended_err ee;

			if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR ||
			    c->cmsg_len < CMSG_LEN(sizeof(ee)))
				continue;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin == SO_EE_ORIGIN_ICMP && ee.ee_errno == ECONNREFUSED)
				refused = true;
		}
	}
}

/* SSDP M-SEARCH for an IGD, answered by the gateway. miniupnpc's upnpDiscover() waits at
 * least one second per device type (it rounds MX up to 1 s and then listens for the whole
 * delay), far beyond a 500 ms budget, so the search is ours: unicast to the gateway (answered
 * at once, or refused at once by ICMP when nothing listens) and, unless told otherwise,
 * multicast too, retransmitted 250 ms doubling. Only an answer from the gateway's address whose
 * LOCATION names that address counts. Runs on a worker: bounded by timeout_ms alone. */
int ssdp_search(const struct pm_opts *o, uint32_t timeout_ms, char *url, size_t cap,
		       char *why, size_t whylen)
{
	static const char msg[] = "M-SEARCH * HTTP/1.1\r\n"
				  "HOST: " SSDP_MCAST ":1900\r\n"
				  "MAN: \"ssdp:discover\"\r\n"
				  "MX: 1\r\n"
				  "ST: " SSDP_ST "\r\n"
				  "\r\n";
	struct sockaddr_storage uni, mc;
	socklen_t ul, ml;
	struct nc_addr gw = o->gateway, bound, mca;
	uint64_t deadline = nc_now_us() + (uint64_t)timeout_ms * 1000, next = 0;
	uint32_t rto = NC_PM_FIRST_RTO_MS;
	int fd, r = -NC_E_TIMEOUT, on = 1;
	unsigned char ttl = 2;

	gw.port = o->ssdp_port;
	ul = nc_addr_to_sockaddr(&gw, &uni);
	nc_addr_parse_ip(SSDP_MCAST, &mca);
	mca.port = NC_PM_SSDP_PORT;
	ml = nc_addr_to_sockaddr(&mca, &mc);
	fd = nc_udp_bind(&o->src, 0, &bound);
	if (fd < 0) {
		snprintf(why, whylen, "UPnP-IGD: cannot open a socket (%s)", nc_strerror(fd));
		return fd;
	}
	(void)setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
	(void)setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof(on));
	snprintf(why, whylen, "UPnP-IGD: no answer to an SSDP search within %u ms", timeout_ms);

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = nc_now_us();

		if (now >= deadline)
			break;
		if (now >= next) {
			(void)sendto(fd, msg, sizeof(msg) - 1, 0, (struct sockaddr *)&uni, ul);
			if (!o->ssdp_unicast_only)
				(void)sendto(fd, msg, sizeof(msg) - 1, 0, (struct sockaddr *)&mc, ml);
			next = now + (uint64_t)rto * 1000;
			rto *= 2;
		}
		if (pm_poll(&pfd, 1, next < deadline ? next : deadline, NULL) < 0)
			break;
		for (;;) {
			uint8_t buf[1500];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			struct nc_addr fa;
			char a[NC_ADDR_STRLEN];
			ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &fl);
			int e;

			/* The error queue, not errno: the pending error may already have been
			 * reported (and cleared) by the multicast sendto. */
			if (ssdp_refused(fd, &gw)) {
				snprintf(why, whylen, "UPnP-IGD: %s refused the SSDP search (ICMP "
						      "port unreachable)", nc_addr_str(&gw, a));
				r = -ECONNREFUSED;
				goto out;
			}
			if (n < 0 && errno == ECONNREFUSED)
				continue; /* reported, now read on */
			if (n < 0)
				break;
			if (nc_addr_from_sockaddr(&fa, (struct sockaddr *)&from, fl) < 0)
				continue;
			if (!nc_addr_ip_eq(&fa, &o->gateway)) {
				snprintf(why, whylen, "UPnP-IGD: only %s answered, which is not the "
						      "default gateway", nc_addr_ip_str(&fa, a));
				continue;
			}
			e = nc_pm_ssdp_location(buf, (size_t)n, url, cap);
			if (e < 0) {
				snprintf(why, whylen, "UPnP-IGD: the gateway's SSDP answer (%zd bytes) "
						      "has no usable LOCATION (%s)", n, nc_strerror(e));
				continue;
			}
			if (!url_host_is(url, &o->gateway)) {
				snprintf(why, whylen, "UPnP-IGD: the gateway's SSDP answer points "
						      "elsewhere (%.80s)", url);
				continue;
			}
			r = 0;
			goto out;
		}
	}
out:
	close(fd);
	return r;
}
