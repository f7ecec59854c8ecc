#include "tun.h"

#include <natcheck/error.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/route.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "offload.h"

/* Not in every libc's headers. */
struct vpn_in6_ifreq {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

int tun_open(struct tun *t, const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	int hdrsz = OFF_VNET_LEN, rc;
	unsigned offl = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "interface name '%s' longer than %d characters", name, IFNAMSIZ - 1);
		return -NC_E_INVALID;
	}
	if (tun_exists(name)) {
		snprintf(err, errlen, "interface %s already exists (another punchvpn up?)", name);
		return -EEXIST;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "/dev/net/tun: %s (is the tun module loaded, are you root?)",
			 strerror(errno));
		return rc;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) != 0) {
		rc = -errno;
		snprintf(err, errlen, "creating %s: %s", name, strerror(errno));
		tun_close(t);
		return rc;
	}
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: TUNSETVNETHDRSZ: %s", name, strerror(errno));
		tun_close(t);
		return rc;
	}
	/* Offloads are a speed matter only: without them every packet arrives MTU-sized with a
	 * full checksum, which the data path handles too. */
	t->offload = ioctl(t->fd, TUNSETOFFLOAD, offl) == 0;
	return 0;
}

static int ifreq_ioctl(int s, unsigned long req, struct ifreq *ifr, const char *what,
		       const char *name, char *err, size_t errlen)
{
	int rc;

	if (ioctl(s, req, ifr) == 0)
		return 0;
	rc = -errno;
	snprintf(err, errlen, "%s: %s: %s", name, what, strerror(errno));
	return rc;
}

static void mask_of(uint8_t *out, size_t bytes, unsigned len)
{
	memset(out, 0, bytes);
	for (unsigned i = 0; i < len; i++)
		out[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

static int add_route(int s4, int s6, int ifindex, const char *name, const struct vpn_prefix *p,
		     unsigned mtu, char *err, size_t errlen)
{
	int rc;

	if (p->ip.family == AF_INET) {
		struct rtentry rt;
		struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
		struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
		uint8_t m[4];
		char dev[IFNAMSIZ];

		memset(&rt, 0, sizeof(rt));
		mask_of(m, 4, p->len);
		dst->sin_family = AF_INET;
		mask->sin_family = AF_INET;
		memcpy(&mask->sin_addr, m, 4);
		for (int i = 0; i < 4; i++)
			((uint8_t *)&dst->sin_addr)[i] = p->ip.ip[i] & m[i];
		snprintf(dev, sizeof(dev), "%s", name);
		rt.rt_dev = dev;
		rt.rt_flags = RTF_UP | (p->len == 32 ? RTF_HOST : 0);
		(void)mtu;
		if (ioctl(s4, SIOCADDRT, &rt) == 0 || errno == EEXIST)
			return 0;
	} else {
		struct in6_rtmsg rt;

		memset(&rt, 0, sizeof(rt));
		memcpy(&rt.rtmsg_dst, p->ip.ip, 16);
		rt.rtmsg_dst_len = p->len;
		rt.rtmsg_ifindex = ifindex;
		rt.rtmsg_metric = 1;
		rt.rtmsg_flags = RTF_UP | (p->len == 128 ? RTF_HOST : 0);
		if (s6 >= 0 && (ioctl(s6, SIOCADDRT, &rt) == 0 || errno == EEXIST))
			return 0;
	}
	rc = -errno;
	snprintf(err, errlen, "%s: adding a route: %s", name, strerror(errno));
	return rc;
}

int tun_configure(struct tun *t, const struct vpn_cfg *cfg, char *err, size_t errlen)
{
	struct ifreq ifr;
	int s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0, ifindex = (int)if_nametoindex(t->name);

	if (s4 < 0) {
		rc = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->name);
	ifr.ifr_mtu = (int)cfg->mtu;
	if ((rc = ifreq_ioctl(s4, SIOCSIFMTU, &ifr, "setting the MTU", t->name, err, errlen)) != 0)
		goto out;
	t->mtu = cfg->mtu;
	for (size_t i = 0; i < cfg->n_address; i++) {
		const struct vpn_prefix *a = &cfg->address[i];

		if (a->ip.family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
			uint8_t m[4];

			memset(&ifr, 0, sizeof(ifr));
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->name);
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, a->ip.ip, 4);
			if ((rc = ifreq_ioctl(s4, SIOCSIFADDR, &ifr, "setting an address", t->name, err,
					      errlen)) != 0)
				goto out;
			mask_of(m, 4, a->len);
			memcpy(&sin->sin_addr, m, 4);
			if ((rc = ifreq_ioctl(s4, SIOCSIFNETMASK, &ifr, "setting a netmask", t->name,
					      err, errlen)) != 0)
				goto out;
		} else {
			struct vpn_in6_ifreq r6;

			memset(&r6, 0, sizeof(r6));
			memcpy(&r6.addr, a->ip.ip, 16);
			r6.prefixlen = a->len;
			r6.ifindex = ifindex;
			if (s6 < 0 || ioctl(s6, SIOCSIFADDR, &r6) != 0) {
				rc = -errno;
				snprintf(err, errlen, "%s: setting an IPv6 address: %s", t->name,
					 strerror(errno));
				goto out;
			}
		}
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->name);
	if ((rc = ifreq_ioctl(s4, SIOCGIFFLAGS, &ifr, "reading flags", t->name, err, errlen)) != 0)
		goto out;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if ((rc = ifreq_ioctl(s4, SIOCSIFFLAGS, &ifr, "bringing it up", t->name, err, errlen)) != 0)
		goto out;
	for (size_t i = 0; i < cfg->n_peers; i++)
		for (size_t j = 0; j < cfg->peers[i].n_allowed; j++) {
			const struct vpn_prefix *p = &cfg->peers[i].allowed[j];
			bool covered = false;

			/* The address's own subnet already routes here. */
			for (size_t k = 0; k < cfg->n_address; k++)
				covered |= cfg->address[k].len <= p->len &&
					   vpn_prefix_contains(&cfg->address[k], &p->ip);
			if (!covered && (rc = add_route(s4, s6, ifindex, t->name, p, cfg->mtu, err,
							errlen)) != 0)
				goto out;
		}
out:
	if (s4 >= 0)
		close(s4);
	if (s6 >= 0)
		close(s6);
	return rc;
}

void tun_close(struct tun *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

bool tun_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}
