/* pvcoord: a scriptable punchvpnd client for the integration tests (never installed).
 *
 *   pvcoord --server ADDR:PORT --server-key B64 --key FILE [--tcp] [--bind ADDR:PORT]
 *           [--want B64]... [--local ADDR:PORT]... [--every S]
 *
 * --every S re-registers every S seconds by itself, as punchvpn does every keepalive.
 *
 * Reads commands from stdin, one a line, and prints one JSON object a line on stdout for
 * everything it sends and receives:
 *
 *   register [OFFSET_MS]     a REGISTER stamped now (+ offset) with the wants, locals, profile
 *   want B64 | unwant        add a wanted peer / forget them all
 *   local ADDR:PORT          add a local endpoint
 *   mapping N                the profile's mapping behaviour (enum nc_beh), measured = true
 *   show 0|1                 COORD_REG_TCP_SHOW in the next REGISTERs (only shows the mapping)
 *   relay ID TEXT            a relay datagram to relay id ID carrying TEXT
 *   flood N                  N registrations back to back (rate limits)
 *   relayflood ID N SIZE     N relay datagrams of SIZE payload bytes
 *   raw HEX                  any datagram (a replay of a "sent" line's hex)
 *   pause                    stop reading the socket (a slow TCP reader; with --rcvbuf N)
 *   quit
 *
 *   {"event":"sent","kind":"register","ts":T,"hex":"..."}
 *   {"event":"registered","observed":"IP:PORT","relay_id":N,"keepalive":S,"ts":T}
 *   {"event":"intro","peer":"B64","relay_id":N,"observed":"IP:PORT","tcp":"IP:PORT","mapping":M,
 *    "local":[...]}   (observed and tcp: "" when the INTRO carries none)
 *   {"event":"relay","from":N,"len":L,"hex":"..."}
 *   {"event":"undecodable","len":L,"error":"..."} */
#include <natcheck/addr.h>
#include <natcheck/error.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../lib/coord.h"
#include "key.h"

struct client {
	bool paused; /* "pause": the socket is not read (a slow reader) */
	int rcvbuf;  /* --rcvbuf: SO_RCVBUF before connecting (0: the default) */
	int fd;
	bool tcp;
	struct sockaddr_storage srv;
	socklen_t srvlen;
	uint8_t priv[32], pub[32], spub[32], key[32];
	struct coord_register reg;
	uint8_t rx[2 + 65536];
	size_t rx_len;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void print_hex(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

static int send_dg(struct client *c, const uint8_t *buf, size_t len)
{
	if (c->tcp) {
		uint8_t frame[2 + 65536];
		frame[0] = (uint8_t)(len >> 8);
		frame[1] = (uint8_t)len;
		memcpy(frame + 2, buf, len);
		return send(c->fd, frame, len + 2, MSG_NOSIGNAL) == (ssize_t)(len + 2) ? 0 : -1;
	}
	return send(c->fd, buf, len, 0) == (ssize_t)len ? 0 : -1;
}

static void do_register(struct client *c, long long offset, bool quiet)
{
	struct coord_msg m;
	uint8_t dg[COORD_MAX_DATAGRAM];
	int n;

	memset(&m, 0, sizeof(m));
	m.kind = COORD_REGISTER;
	m.ts_ms = (uint64_t)((long long)wall_ms() + offset);
	m.u.reg = c->reg;
	n = coord_seal(c->key, c->pub, &m, dg, sizeof(dg));
	if (n < 0 || send_dg(c, dg, (size_t)n) != 0) {
		printf("{\"event\":\"error\",\"what\":\"register: %s\"}\n",
		       n < 0 ? nc_strerror(n) : strerror(errno));
		return;
	}
	if (quiet)
		return;
	printf("{\"event\":\"sent\",\"kind\":\"register\",\"ts\":%llu,\"hex\":\"",
	       (unsigned long long)m.ts_ms);
	print_hex(dg, (size_t)n);
	printf("\"}\n");
}

static void do_relay(struct client *c, uint32_t id, const uint8_t *payload, size_t len)
{
	uint8_t dg[COORD_RELAY_HDR_LEN + 65536];

	coord_put_relay_hdr(dg, id);
	memcpy(dg + COORD_RELAY_HDR_LEN, payload, len);
	if (send_dg(c, dg, COORD_RELAY_HDR_LEN + len) != 0)
		printf("{\"event\":\"error\",\"what\":\"relay: %s\"}\n", strerror(errno));
}

static void received(struct client *c, const uint8_t *buf, size_t len)
{
	struct coord_msg m;
	char a[NC_ADDR_STRLEN], k[VPN_KEY_B64_LEN + 1];
	const uint8_t *inner;
	size_t ilen;
	uint32_t id;
	int rc;

	if (len && buf[0] == COORD_RELAY_TYPE) {
		if ((rc = coord_relay_decode(buf, len, &id, &inner, &ilen)) == 0) {
			printf("{\"event\":\"relay\",\"from\":%u,\"len\":%zu,\"hex\":\"", id, ilen);
			print_hex(inner, ilen);
			printf("\"}\n");
			return;
		}
	} else if ((rc = coord_unseal(c->key, buf, len, &m)) == 0) {
		if (m.kind == COORD_REGISTERED) {
			printf("{\"event\":\"registered\",\"observed\":\"%s\",\"relay_id\":%u,"
			       "\"keepalive\":%u,\"ts\":%llu}\n",
			       nc_addr_str(&m.u.ack.observed, a), m.u.ack.relay_id,
			       m.u.ack.keepalive_s, (unsigned long long)m.ts_ms);
			return;
		}
		if (m.kind == COORD_INTRO) {
			vpn_key_to_b64(k, m.u.intro.peer);
			char t[NC_ADDR_STRLEN];
			printf("{\"event\":\"intro\",\"peer\":\"%s\",\"relay_id\":%u,\"observed\":"
			       "\"%s\",\"tcp\":\"%s\","
			       "\"mapping\":%u,\"measured\":%s,\"local\":[",
			       k, m.u.intro.relay_id,
			       m.u.intro.observed.family ? nc_addr_str(&m.u.intro.observed, a) : "",
			       m.u.intro.tcp.family ? nc_addr_str(&m.u.intro.tcp, t) : "",
			       m.u.intro.prof.mapping, m.u.intro.prof.measured ? "true" : "false");
			for (size_t i = 0; i < m.u.intro.n_local; i++)
				printf("%s\"%s\"", i ? "," : "",
				       nc_addr_str(&m.u.intro.local[i], a));
			printf("]}\n");
			return;
		}
		rc = -NC_E_PROTOCOL;
	}
	printf("{\"event\":\"undecodable\",\"len\":%zu,\"error\":\"%s\"}\n", len, nc_strerror(rc));
}

/* Reads the socket: one datagram, or every whole frame. Returns -1 when the server closed. */
static int readable(struct client *c)
{
	if (!c->tcp) {
		uint8_t buf[65536];
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0)
			received(c, buf, (size_t)n);
		return 0;
	}
	ssize_t n = recv(c->fd, c->rx + c->rx_len, sizeof(c->rx) - c->rx_len, 0);
	size_t off = 0;
	if (n <= 0) {
		printf("{\"event\":\"closed\"}\n");
		return -1;
	}
	c->rx_len += (size_t)n;
	while (c->rx_len - off >= 2) {
		size_t flen = (size_t)c->rx[off] << 8 | c->rx[off + 1];
		if (c->rx_len - off < 2 + flen)
			break;
		received(c, c->rx + off + 2, flen);
		off += 2 + flen;
	}
	memmove(c->rx, c->rx + off, c->rx_len - off);
	c->rx_len -= off;
	return 0;
}

static void command(struct client *c, char *line, bool *quit)
{
	char *cmd = strtok(line, " \t\r\n"), *a1 = strtok(NULL, " \t\r\n"),
	     *a2 = strtok(NULL, " \t\r\n"), *a3 = strtok(NULL, " \t\r\n");
	struct nc_addr ep;

	if (!cmd)
		return;
	if (!strcmp(cmd, "register")) {
		do_register(c, a1 ? atoll(a1) : 0, false);
	} else if (!strcmp(cmd, "flood") && a1) {
		for (long i = 0; i < atol(a1); i++)
			do_register(c, i, true);
	} else if (!strcmp(cmd, "want") && a1 && c->reg.n_wants < COORD_MAX_WANTS &&
		   vpn_key_from_b64(c->reg.wants[c->reg.n_wants], a1) == 0) {
		c->reg.n_wants++;
	} else if (!strcmp(cmd, "unwant")) {
		c->reg.n_wants = 0;
	} else if (!strcmp(cmd, "local") && a1 && c->reg.n_local < COORD_MAX_LOCAL &&
		   nc_addr_parse(a1, 0, &ep) == 0) {
		c->reg.local[c->reg.n_local++] = ep;
	} else if (!strcmp(cmd, "mapping") && a1) {
		c->reg.prof.measured = true;
		c->reg.prof.mapping = (uint8_t)atoi(a1);
	} else if (!strcmp(cmd, "show") && a1) {
		c->reg.tcp_show = atoi(a1) != 0;
	} else if (!strcmp(cmd, "relay") && a1 && a2) {
		do_relay(c, (uint32_t)strtoul(a1, NULL, 10), (const uint8_t *)a2, strlen(a2));
	} else if (!strcmp(cmd, "relayflood") && a1 && a2 && a3) {
		static uint8_t payload[65536];
		size_t size = (size_t)atol(a3);
		memset(payload, 'x', sizeof(payload));
		for (long i = 0; i < atol(a2) && size <= sizeof(payload) - COORD_RELAY_HDR_LEN; i++)
			do_relay(c, (uint32_t)strtoul(a1, NULL, 10), payload, size);
	} else if (!strcmp(cmd, "raw") && a1) {
		uint8_t buf[4096];
		size_t n = 0;
		if (sodium_hex2bin(buf, sizeof(buf), a1, strlen(a1), NULL, &n, NULL) == 0)
			send_dg(c, buf, n);
	} else if (!strcmp(cmd, "pause")) {
		c->paused = true;
	} else if (!strcmp(cmd, "quit")) {
		*quit = true;
	} else {
		printf("{\"event\":\"error\",\"what\":\"bad command %s\"}\n", cmd);
	}
}

static int open_socket(struct client *c, const char *server, const char *bind_to)
{
	struct nc_addr a, b;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;

	if (nc_addr_parse(server, 0, &a) != 0 || a.port == 0) {
		fprintf(stderr, "pvcoord: --server '%s' is not IP:PORT\n", server);
		return -1;
	}
	c->srvlen = nc_addr_to_sockaddr(&a, &c->srv);
	c->fd = socket(a.family, c->tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (c->rcvbuf)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &c->rcvbuf, sizeof(c->rcvbuf));
	if (bind_to) {
		if (nc_addr_parse(bind_to, 0, &b) != 0) {
			fprintf(stderr, "pvcoord: --bind '%s' is not IP:PORT\n", bind_to);
			return -1;
		}
		sl = nc_addr_to_sockaddr(&b, &ss);
		if (bind(c->fd, (struct sockaddr *)&ss, sl) != 0) {
			perror("pvcoord: bind");
			return -1;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&c->srv, c->srvlen) != 0) {
		perror("pvcoord: connect");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct client c;
	static const struct option longopts[] = {
	    {"server", required_argument, NULL, 's'}, {"server-key", required_argument, NULL, 'S'},
	    {"key", required_argument, NULL, 'k'},    {"tcp", no_argument, NULL, 't'},
	    {"bind", required_argument, NULL, 'b'},   {"want", required_argument, NULL, 'w'},
	    {"local", required_argument, NULL, 'l'},  {"every", required_argument, NULL, 'e'},
	    {"rcvbuf", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0},
	};
	const char *server = NULL, *skey = NULL, *keyfile = NULL, *bind_to = NULL;
	char err[512] = "", kb[VPN_KEY_B64_LEN + 1];
	static char in[16384];
	size_t in_len = 0;
	bool quit = false;
	int o, every_ms = -1;

	if (sodium_init() < 0)
		return 1;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 's':
			server = optarg;
			break;
		case 'S':
			skey = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 't':
			c.tcp = true;
			break;
		case 'b':
			bind_to = optarg;
			break;
		case 'r':
			c.rcvbuf = atoi(optarg);
			break;
		case 'e':
			every_ms = atoi(optarg) * 1000;
			break;
		case 'w':
			if (c.reg.n_wants == COORD_MAX_WANTS ||
			    vpn_key_from_b64(c.reg.wants[c.reg.n_wants++], optarg) != 0) {
				fprintf(stderr, "pvcoord: --want: bad key\n");
				return 2;
			}
			break;
		case 'l':
			if (c.reg.n_local == COORD_MAX_LOCAL ||
			    nc_addr_parse(optarg, 0, &c.reg.local[c.reg.n_local++]) != 0) {
				fprintf(stderr, "pvcoord: --local: bad endpoint\n");
				return 2;
			}
			break;
		default:
			return 2;
		}
	}
	if (!server || !skey || !keyfile) {
		fprintf(stderr,
			"usage: pvcoord --server IP:PORT --server-key B64 --key FILE [--tcp] "
			"[--bind IP:PORT] [--want B64]... [--local IP:PORT]...\n");
		return 2;
	}
	if (vpn_key_from_b64(c.spub, skey) != 0 ||
	    vpn_key_load_file(c.priv, keyfile, err, sizeof(err)) != 0 ||
	    vpn_key_public(c.pub, c.priv) != 0 || coord_shared_key(c.key, c.priv, c.spub) != 0) {
		fprintf(stderr, "pvcoord: bad key: %s\n", err);
		return 2;
	}
	if (open_socket(&c, server, bind_to) != 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	vpn_key_to_b64(kb, c.pub);
	printf("{\"event\":\"ready\",\"pub\":\"%s\"}\n", kb);
	while (!quit) {
		struct pollfd p[2] = {{.fd = 0, .events = POLLIN},
				      {.fd = c.paused ? -1 : c.fd, .events = POLLIN}};
		int r = poll(p, 2, every_ms);
		if (r < 0 && errno != EINTR)
			break;
		if (r ==
		    0) { /* --every: time to re-register (approximately: any input delays it) */
			do_register(&c, 0, true);
			continue;
		}
		if (p[1].revents && readable(&c) != 0)
			break;
		if (p[0].revents) {
			/* read(2), not stdio: poll must see every line that is not yet handled. */
			ssize_t n = read(0, in + in_len, sizeof(in) - 1 - in_len);
			char *nl;
			if (n <= 0)
				break;
			in_len += (size_t)n;
			in[in_len] = '\0';
			while (!quit && (nl = memchr(in, '\n', in_len)) != NULL) {
				size_t used = (size_t)(nl - in) + 1;
				*nl = '\0';
				command(&c, in, &quit);
				memmove(in, in + used, in_len - used);
				in_len -= used;
				in[in_len] = '\0';
			}
			if (in_len == sizeof(in) - 1)
				in_len = 0; /* a line longer than any command: dropped */
		}
	}
	sodium_memzero(c.priv, sizeof(c.priv));
	sodium_memzero(c.key, sizeof(c.key));
	return 0;
}
