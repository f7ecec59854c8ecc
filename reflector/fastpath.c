#include "fastpath.h"

#include "cursor.h"
#include <natcheck/error.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* Ring geometry, per worker. Receive: 4096 frames of 1 KB (a request the fast path takes is
 * at most 14 + 60 + 548 bytes after a header of about 80), 4 MB like a UDP socket's receive
 * buffer here, so a burst that a socket would absorb does not overflow the ring. Transmit: 512
 * frames of 2 KB (an answer is padded at most like its request). 64 KB blocks. */
#define BLOCK_SIZE 65536u
#define RX_FRAME_SIZE 1024u
#define RX_BLOCKS 64u
#define RX_FRAMES (RX_BLOCKS * (BLOCK_SIZE / RX_FRAME_SIZE))
#define TX_FRAME_SIZE 2048u
#define TX_BLOCKS 16u
#define TX_FRAMES (TX_BLOCKS * (BLOCK_SIZE / TX_FRAME_SIZE))
/* Where a frame's bytes start in a transmit slot (no PACKET_TX_HAS_OFF). */
#define TX_DATA_OFF (TPACKET_ALIGN(sizeof(struct tpacket2_hdr)))

static struct tpacket2_hdr *rx_frame(const struct fp_ring *r, unsigned i)
{
	return (struct tpacket2_hdr *)(r->map + (size_t)i * RX_FRAME_SIZE);
}

static struct tpacket2_hdr *tx_frame(const struct fp_ring *r, unsigned i)
{
	return (struct tpacket2_hdr *)(r->map + (size_t)RX_BLOCKS * BLOCK_SIZE + (size_t)i * TX_FRAME_SIZE);
}

static uint32_t status_of(const struct tpacket2_hdr *h)
{
	return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

static void set_status(struct tpacket2_hdr *h, uint32_t v)
{
	__atomic_store_n(&h->tp_status, v, __ATOMIC_RELEASE);
}

/* The packet socket's filter: PACKET_HOST, no VLAN tag (a tagged frame belongs to the VLAN
 * device, whose answers this socket cannot send), IPv4, UDP, not a fragment, to one of the
 * endpoint addresses and ports, UDP length at most FRAME_MAX_UDP. ips/ports hold two values
 * each (the same one twice when there is only one). */
static int attach_rx_filter(int fd, const uint32_t ips[2], const uint16_t ports[2])
{
	enum { DROP = 20 };
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (uint8_t)(t), (uint8_t)(f))
	struct sock_filter prog[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
		/* 1 */ JEQ(PACKET_HOST, 0, DROP - 2),
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT)),
		/* 3 */ JEQ(0, 0, DROP - 4),
		/* 4 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		/* 5 */ JEQ(ETH_P_IP, 0, DROP - 6),
		/* 6 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 9),
		/* 7 */ JEQ(IPPROTO_UDP, 0, DROP - 8),
		/* 8 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 14 + 6),
		/* 9 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, DROP - 10, 0),
		/* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 14 + 16),
		/* 11 */ JEQ(ips[0], 1, 0),
		/* 12 */ JEQ(ips[1], 0, DROP - 13),
		/* 13 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
		/* 14 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14 + 2),
		/* 15 */ JEQ(ports[0], 1, 0),
		/* 16 */ JEQ(ports[1], 0, DROP - 17),
		/* 17 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14 + 4),
		/* 18 */ BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, FRAME_MAX_UDP, DROP - 19, 0),
		/* 19 */ BPF_STMT(BPF_RET | BPF_K, 0xffff),
		/* 20 = DROP */ BPF_STMT(BPF_RET | BPF_K, 0),
	};
#undef JEQ
	struct sock_fprog fp = {.len = sizeof(prog) / sizeof(prog[0]), .filter = prog};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0 ? -errno : 0;
}

int fp_udp_socket_filter(int fd, int ifindex)
{
	/* At a UDP socket the filter sees the datagram from its UDP header on, so the length is
	 * the UDP length the packet-socket filter compared. */
	struct sock_filter prog[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_IFINDEX)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ifindex, 0, 2),
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, FRAME_MAX_UDP, 0, 1),
		/* 4 */ BPF_STMT(BPF_RET | BPF_K, 0xffffffffu), /* keep: the socket answers it */
		/* 5 */ BPF_STMT(BPF_RET | BPF_K, 0),           /* the fast path took it */
	};
	struct sock_fprog fp = {.len = sizeof(prog) / sizeof(prog[0]), .filter = prog};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) < 0 ? -errno : 0;
}

static int interface(int fd, const char *ifname, struct fp_ring *r)
{
	struct ifreq ifr = {0};

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -NC_E_INVALID;
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		return -errno;
	r->ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return -NC_E_FAMILY;
	memcpy(r->mac, ifr.ifr_hwaddr.sa_data, FRAME_MAC_LEN);
	return 0;
}

int fp_open(struct fp_ring *r, const char *ifname, const struct nc_addr local[REFL_NSOCK],
	    uint16_t *group)
{
	struct tpacket_req rx = {.tp_block_size = BLOCK_SIZE, .tp_block_nr = RX_BLOCKS,
				 .tp_frame_size = RX_FRAME_SIZE, .tp_frame_nr = RX_FRAMES};
	struct tpacket_req tx = {.tp_block_size = BLOCK_SIZE, .tp_block_nr = TX_BLOCKS,
				 .tp_frame_size = TX_FRAME_SIZE, .tp_frame_nr = TX_FRAMES};
	int version = TPACKET_V2, one = 1, err, fanout = *group | (PACKET_FANOUT_HASH << 16);
	socklen_t fanout_len = sizeof(fanout);
	uint32_t ips[2] = {0, 0};
	uint16_t ports[2] = {0, 0};
	unsigned nips = 0, nports = 0;
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP)};

	*r = (struct fp_ring){.fd = -1};
	for (int i = 0; i < REFL_NSOCK; i++) {
		if (local[i].family != AF_INET)
			continue;
		uint32_t ip = nc_get_n32(local[i].ip);
		if (nips < 2 && (nips == 0 || ips[0] != ip))
			ips[nips++] = ip;
		if (nports < 2 && (nports == 0 || ports[0] != local[i].port))
			ports[nports++] = local[i].port;
	}
	if (nips == 0)
		return -NC_E_FAMILY;
	if (nips == 1)
		ips[1] = ips[0];
	if (nports == 1)
		ports[1] = ports[0];

	/* Protocol 0 until bound: nothing is queued before the filter is in place. */
	r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->fd < 0)
		return -errno;
	if ((err = interface(r->fd, ifname, r)) < 0 || (err = attach_rx_filter(r->fd, ips, ports)) < 0)
		goto fail;
	/* Frames queued to a NIC count against the send buffer until it has sent them: room for
	 * every transmit frame, so a flush is never refused with EAGAIN (FORCE works while we are
	 * still root). */
	int sndbuf = (int)(TX_FRAMES * TX_FRAME_SIZE * 2);
	if (setsockopt(r->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	/* The version and PACKET_LOSS (skip a malformed transmit frame instead of stopping) only
	 * before the rings exist. */
	if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0 ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof(one)) < 0 ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) < 0 ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) < 0 ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0) {
		err = -errno;
		goto fail;
	}
	r->map_len = (size_t)(RX_BLOCKS + TX_BLOCKS) * BLOCK_SIZE;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, r->fd, 0);
	if (r->map == MAP_FAILED) /* without the locked-memory allowance, unlocked */
		r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		err = -errno;
		goto fail;
	}
	sll.sll_ifindex = r->ifindex;
	/* A group id picked by the kernel cannot collide with another process's group. */
	if (!*group)
		fanout |= PACKET_FANOUT_FLAG_UNIQUEID << 16;
	if (bind(r->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)) < 0 ||
	    getsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &fanout, &fanout_len) < 0) {
		err = -errno;
		goto fail;
	}
	*group = (uint16_t)fanout;
	return 0;
fail:
	fp_close(r);
	return err;
}

void fp_close(struct fp_ring *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	*r = (struct fp_ring){.fd = -1};
}

const uint8_t *fp_rx_next(struct fp_ring *r, size_t *len, bool *csum_trusted)
{
	for (;;) {
		struct tpacket2_hdr *h = rx_frame(r, r->rx_head);
		uint32_t st = status_of(h);

		if (!(st & TP_STATUS_USER))
			return NULL;
		/* A frame cut short by the ring's frame size is no request the fast path takes
		 * (the filter passes small ones only), nor is a tagged one: skip them. */
		if (h->tp_snaplen != h->tp_len || h->tp_mac + h->tp_snaplen > RX_FRAME_SIZE ||
		    (st & TP_STATUS_VLAN_VALID)) {
			fp_rx_release(r);
			continue;
		}
		*len = h->tp_snaplen;
		*csum_trusted = (st & (TP_STATUS_CSUM_VALID | TP_STATUS_CSUMNOTREADY)) != 0;
		return (const uint8_t *)h + h->tp_mac;
	}
}

void fp_rx_release(struct fp_ring *r)
{
	set_status(rx_frame(r, r->rx_head), TP_STATUS_KERNEL);
	r->rx_head = (r->rx_head + 1) % RX_FRAMES;
}

uint8_t *fp_tx_slot(struct fp_ring *r, size_t *cap)
{
	struct tpacket2_hdr *h = tx_frame(r, r->tx_head);
	uint32_t st = status_of(h);

	if (st == TP_STATUS_WRONG_FORMAT)
		set_status(h, TP_STATUS_AVAILABLE); /* cannot happen with frames built here */
	else if (st != TP_STATUS_AVAILABLE) {
		/* Still queued or in flight: send what is pending and look once more. */
		fp_tx_flush(r);
		if (status_of(h) != TP_STATUS_AVAILABLE)
			return NULL;
	}
	*cap = TX_FRAME_SIZE - TX_DATA_OFF;
	return (uint8_t *)h + TX_DATA_OFF;
}

void fp_tx_commit(struct fp_ring *r, size_t len)
{
	struct tpacket2_hdr *h = tx_frame(r, r->tx_head);

	h->tp_len = (uint32_t)len;
	set_status(h, TP_STATUS_SEND_REQUEST);
	r->tx_head = (r->tx_head + 1) % TX_FRAMES;
	r->tx_pending++;
}

int fp_take_error(struct fp_ring *r)
{
	int err = 0;
	socklen_t len = sizeof(err);

	return getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ? -errno : -err;
}

uint64_t fp_rx_drops(struct fp_ring *r)
{
	struct tpacket_stats st = {0};
	socklen_t len = sizeof(st);

	/* Reading the statistics resets them. */
	return getsockopt(r->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0 ? st.tp_drops : 0;
}

int fp_tx_flush(struct fp_ring *r)
{
	if (!r->tx_pending)
		return 0;
	r->tx_pending = 0;
	/* Without MSG_DONTWAIT the call would wait for the frames to leave the ring. */
	return send(r->fd, NULL, 0, MSG_DONTWAIT) < 0 && errno != EAGAIN ? -errno : 0;
}
