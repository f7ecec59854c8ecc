/* stunload: a Binding-request load generator for benchmarking STUN servers.
 *
 *   stunload SERVER[:PORT] [--rate PPS] [--seconds S] [--sockets N]
 *
 * Sends Binding requests from N sockets (N source ports) at a fixed rate with sendmmsg,
 * counts the success responses that come back with recvmmsg, and prints one line:
 *   sent=... answered=... lost=... seconds=...
 * It stops by itself after S seconds plus a short drain. Only for addresses on this machine
 * or inside its own namespaces. */
#include <natcheck/addr.h>
#include "netutil.h"
#include "numparse.h"
#include "stun.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define MAX_SOCKS 64

/* A plain decimal number, or exit 2 quoting the bad value. */
static double num(const char *opt, const char *s)
{
	double v;

	if (nc_parse_number(s, 0, 1e12, false, &v) < 0) {
		fprintf(stderr, "stunload: %s: invalid value '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"rate", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 's'},
		{"sockets", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct nc_addr server, src;
	struct sockaddr_storage ss;
	socklen_t sl;
	double rate = 20000, seconds = 5;
	int nsock = 16, fds[MAX_SOCKS], c;
	uint8_t req[BATCH][32];
	uint64_t sent = 0, answered = 0, t0, end, drain_end;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': rate = num("--rate", optarg); break;
		case 's': seconds = num("--seconds", optarg); break;
		case 'n': nsock = (int)num("--sockets", optarg); break;
		default: return 2;
		}
	}
	if (optind >= argc || nc_addr_parse(argv[optind], 3478, &server) < 0 || rate <= 0 ||
	    seconds <= 0 || seconds > 600 || nsock < 1 || nsock > MAX_SOCKS) {
		fprintf(stderr, "usage: stunload SERVER[:PORT] [--rate PPS] [--seconds S (<=600)] "
				"[--sockets N (<=%d)]\n", MAX_SOCKS);
		return 2;
	}
	if (sodium_init() < 0 || nc_route_source(&server, &src) < 0) {
		fprintf(stderr, "stunload: no route to the server\n");
		return 1;
	}
	sl = nc_addr_to_sockaddr(&server, &ss);
	for (int i = 0; i < nsock; i++) {
		struct nc_addr bound;
		int sz = 4 << 20;
		fds[i] = nc_udp_bind(&src, 0, &bound);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&ss, sl) < 0) {
			perror("stunload: socket");
			return 1;
		}
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	for (int i = 0; i < BATCH; i++) {
		struct stun_builder b;
		uint8_t tid[STUN_TID_LEN];
		randombytes_buf(tid, sizeof(tid));
		stun_build_init(&b, req[i], sizeof(req[i]), STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
		stun_build_finish(&b, false);
	}

	t0 = nc_now_us();
	end = t0 + (uint64_t)(seconds * 1e6);
	drain_end = end + 300000;
	for (int turn = 0;; turn++) {
		uint64_t now = nc_now_us();
		uint64_t due = (uint64_t)((double)(now - t0) * rate / 1e6);
		struct mmsghdr msg[BATCH];
		struct iovec iov[BATCH];
		uint8_t rbuf[BATCH][256];
		struct pollfd pfd[MAX_SOCKS];

		if (now >= drain_end)
			break;
		if (now < end && sent < due) {
			unsigned n = due - sent > BATCH ? BATCH : (unsigned)(due - sent);
			int fd = fds[turn % nsock];
			for (unsigned i = 0; i < n; i++) {
				iov[i] = (struct iovec){.iov_base = req[i], .iov_len = STUN_HEADER_LEN};
				msg[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
			}
			int k = sendmmsg(fd, msg, n, MSG_DONTWAIT);
			if (k > 0)
				sent += (uint64_t)k;
		}
		for (int i = 0; i < nsock; i++)
			pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		if (poll(pfd, (nfds_t)nsock, sent < due && now < end ? 0 : 1) <= 0)
			continue;
		for (int i = 0; i < nsock; i++) {
			int k;
			if (!(pfd[i].revents & POLLIN))
				continue;
			for (int j = 0; j < BATCH; j++) {
				iov[j] = (struct iovec){.iov_base = rbuf[j], .iov_len = sizeof(rbuf[j])};
				msg[j].msg_hdr = (struct msghdr){.msg_iov = &iov[j], .msg_iovlen = 1};
			}
			k = recvmmsg(fds[i], msg, BATCH, MSG_DONTWAIT, NULL);
			for (int j = 0; j < k; j++)
				answered += msg[j].msg_len >= STUN_HEADER_LEN && rbuf[j][0] == 0x01 &&
					    rbuf[j][1] == 0x01;
		}
	}
	printf("sent=%llu answered=%llu lost=%llu seconds=%.2f\n", (unsigned long long)sent,
	       (unsigned long long)answered, (unsigned long long)(sent - answered), seconds);
	return 0;
}
