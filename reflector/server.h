/* The natcheck-reflector server: UDP and STUN-over-TCP on the four RFC 5780 endpoints.
 *
 * Every worker thread owns one UDP socket per endpoint, all bound with SO_REUSEPORT, so the
 * kernel spreads sources over threads and no lock is taken on the packet path; a thread reads
 * batches with recvmmsg(), answers through refl_handle(), and writes each batch with
 * sendmmsg() per outgoing socket (a CHANGE-REQUEST answer leaves from the thread's own socket
 * on the other endpoint). Thread 0 also serves the TCP listeners. */
#ifndef REFL_SERVER_H
#define REFL_SERVER_H

#include "reflector.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

struct coord;

struct refl_server_cfg {
	struct nc_addr primary, alternate; /* alternate unset: single-address mode */
	bool alternate_remote; /* alternate is a partner host (coord.h): no sockets bound for it */
	struct coord *coord;   /* suite methods and relays (coord.h), or NULL */
	uint16_t port, alt_port;
	unsigned threads;
	double rate_pps;     /* per source; 0 = no limit */
	double rate_burst;
	double byte_budget;  /* answer bytes per second per source; 0 = no limit */
	unsigned tcp_max_conns;
	unsigned tcp_idle_ms;
	const char *software;
	const char *fast_path_if; /* packet-ring fast path on this interface (fastpath.h), or NULL */
};

struct refl_counters {
	_Atomic uint64_t answered;
	_Atomic uint64_t errors_sent;   /* 400/420 answers */
	_Atomic uint64_t malformed;
	_Atomic uint64_t rate_limited;
	_Atomic uint64_t send_failed;
	_Atomic uint64_t fast_path;     /* answers sent by the packet-ring fast path */
	_Atomic uint64_t ring_drops;    /* requests lost to a full receive ring (fast path) */
	_Atomic uint64_t tcp_conns;
	_Atomic uint64_t tcp_refused;   /* connection limit: the longest idle one was closed */
};

struct refl_server;

/* Binds every socket (UDP and TCP). Call before dropping privileges. */
int refl_server_open(struct refl_server **out, const struct refl_server_cfg *cfg);
/* Runs the worker threads until refl_server_stop(); returns 0 or a negative error. */
int refl_server_run(struct refl_server *s);
/* Async-signal-safe: asks every thread to stop. */
void refl_server_stop(struct refl_server *s);
/* The counters, with the fast path's ring statistics folded in first. */
const struct refl_counters *refl_server_counters(struct refl_server *s);
const struct refl_ctx *refl_server_ctx(const struct refl_server *s);
/* Thread 0's UDP socket on endpoint i (-1 if none), for the coordination service's relays. */
int refl_server_udp_fd(const struct refl_server *s, enum refl_sock i);
void refl_server_free(struct refl_server *s);

#endif
