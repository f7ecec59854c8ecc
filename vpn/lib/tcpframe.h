/* Datagrams over a TCP stream, each framed by a 2-byte big-endian length (coord.h): the relay's
 * connection to punchvpnd (rdv.c) and a peer's direct TCP path (tcppunch.c) share this one
 * framing. Buffers are bounded: one frame of up to 65535 bytes coming in, TCPF_OUT_MAX bytes
 * waiting to go out. A frame that does not fit whole is dropped whole (as a full UDP socket
 * buffer would drop a datagram): a partial frame would desynchronise the stream.
 *
 * Not thread-safe: the owner serialises writers and the reader (rdv and tcppunch each hold a
 * lock around the descriptor and the out buffer; the in buffer is the reading thread's). */
#ifndef VPN_TCPFRAME_H
#define VPN_TCPFRAME_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TCPF_IN_CAP (2 + 65535)
#define TCPF_OUT_MAX (256 * 1024)

struct tcpf {
	int fd; /* -1: none */
	uint8_t *in, *out;
	size_t in_len, out_len;
};

/* A non-blocking TCP socket connecting to `to` (TCP_NODELAY), from local port lport when it is
 * not 0 (SO_REUSEADDR and SO_REUSEPORT, so that several connections share the port; any port
 * when that one cannot be had). The descriptor, or -errno. */
int tcpf_connect(const struct nc_addr *to, uint16_t lport);
/* A connecting socket: 1 connected, 0 still connecting, -errno failed. */
int tcpf_connected(int fd);

/* Allocates the buffers (fd = -1). 0 or -NC_E_NOMEM. */
int tcpf_init(struct tcpf *f);
/* Closes the descriptor and frees the buffers. */
void tcpf_free(struct tcpf *f);
/* Takes fd as the stream (closing any previous one) and empties both buffers. */
void tcpf_attach(struct tcpf *f, int fd);
/* Closes the descriptor and empties both buffers. With abort, an established connection is
 * reset (SO_LINGER 0) rather than left in TIME_WAIT: the same 4-tuple can connect again. */
void tcpf_close(struct tcpf *f, bool abort);

/* Queues one frame and sends what the socket takes. 0; -ENOBUFS when the out buffer cannot
 * hold it (dropped whole); -NC_E_RANGE for a datagram over 65535 bytes; -errno when the
 * connection failed. */
int tcpf_write(struct tcpf *f, const uint8_t *buf, size_t len);
/* Sends what waits. 0, or -errno when the connection failed. */
int tcpf_flush(struct tcpf *f);
/* Whether bytes wait to go out. */
bool tcpf_pending(const struct tcpf *f);
/* Reads what the socket holds into the in buffer: true, or false when the stream ended (EOF or
 * an error). */
bool tcpf_recv(struct tcpf *f);
/* Hands every whole frame in the in buffer to fn and keeps the rest. false for a zero-length
 * frame: no datagram is empty, so the stream is not ours. */
bool tcpf_frames(struct tcpf *f, void (*fn)(void *ctx, const uint8_t *dgram, size_t len),
		 void *ctx);

#endif
