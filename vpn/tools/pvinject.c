/* pvinject: sends hostile datagrams at a punchvpn socket, for the integration tests.
 *
 *   pvinject init PEER_PUBKEY IP:PORT   a well-formed initiation (correct mac1) from a fresh
 *                                       static key that the peer does not list
 *   pvinject data IP:PORT               a transport packet for a session index nobody has
 *   pvinject raw HEX IP:PORT            any datagram (a captured packet, replayed or modified)
 *
 * Test tool only: never installed. */
#include <natcheck/addr.h>
#include <natcheck/error.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handshake.h"
#include "key.h"
#include "wire.h"

static int send_to(const char *where, const uint8_t *buf, size_t len)
{
	struct nc_addr a;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	if (nc_addr_parse(where, 0, &a) != 0 || a.port == 0) {
		fprintf(stderr, "pvinject: '%s' is not IP:PORT\n", where);
		return 2;
	}
	sl = nc_addr_to_sockaddr(&a, &ss);
	fd = socket(a.family, SOCK_DGRAM, 0);
	if (fd < 0 || sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl) != (ssize_t)len) {
		perror("pvinject: send");
		return 1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t buf[2048];

	if (sodium_init() < 0)
		return 1;
	if (argc == 4 && !strcmp(argv[1], "init")) {
		uint8_t priv[32], pub[32];
		struct hs_local l;
		struct hs_peer p;

		if (vpn_key_from_b64(pub, argv[2]) != 0) {
			fprintf(stderr, "pvinject: bad public key\n");
			return 2;
		}
		vpn_key_generate(priv);
		hs_local_init(&l, priv);
		hs_peer_init(&p, pub);
		if (hs_initiation(&l, &p, randombytes_random(), buf) != 0)
			return 1;
		return send_to(argv[3], buf, WIRE_INIT_LEN);
	}
	if (argc == 3 && !strcmp(argv[1], "data")) {
		randombytes_buf(buf, 100);
		wire_put_data_hdr(buf, randombytes_random(), 7);
		return send_to(argv[2], buf, 100);
	}
	if (argc == 4 && !strcmp(argv[1], "raw")) {
		size_t n = 0;
		if (sodium_hex2bin(buf, sizeof(buf), argv[2], strlen(argv[2]), NULL, &n, NULL) != 0) {
			fprintf(stderr, "pvinject: bad hex\n");
			return 2;
		}
		return send_to(argv[3], buf, n);
	}
	fprintf(stderr, "usage: pvinject init PUBKEY IP:PORT | data IP:PORT | raw HEX IP:PORT\n");
	return 2;
}
