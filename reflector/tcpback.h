/* TCP connect-back: a nonblocking connect from one of this host's endpoints to a client's
 * public TCP endpoint, and what came back (RFC 5382 REQ-4 / NAT Check's unsolicited SYN).
 *
 * The outcome: the connect completed (the NAT let the SYN through, or the client opened
 * towards us at the same time: simultaneous open); ECONNREFUSED with no ICMP error queued (a
 * TCP RST); an ICMP error, with its exact type and code read from the socket's error queue
 * (IP_RECVERR / IPV6_RECVERR); or nothing before the deadline (a silent drop). An ICMP port
 * unreachable also surfaces as ECONNREFUSED, which is why the error queue decides. The caller
 * owns the loop: it polls fd for EPOLLOUT (and errors) and calls tcpback_event(), and calls
 * tcpback_timeout() when the deadline passes. */
#ifndef REFL_TCPBACK_H
#define REFL_TCPBACK_H

#include "ncproto.h"

#include <stdbool.h>
#include <stdint.h>

struct tcpback {
	int fd;              /* -1 once done and closed */
	uint64_t start_us;
	uint64_t deadline_us;
	bool done;
	struct ncp_result res;
};

/* Binds a socket to from (SO_REUSEADDR: many connect-backs share one origin port) and starts
 * the connect to `to`. Returns 0 with t->fd to poll, or fills t->res with NCP_ST_ERROR (or a
 * result the connect produced at once) and sets t->done; the return value is then 0 as well,
 * unless the arguments were invalid (-NC_E_INVALID). */
int tcpback_start(struct tcpback *t, const struct nc_addr *from, const struct nc_addr *to,
		  uint32_t wait_ms, uint64_t now_us);
/* The fd became writable or has an error: classify. True when the outcome is known. */
bool tcpback_event(struct tcpback *t, uint64_t now_us);
/* True (and the outcome "timeout") once now_us passes the deadline. */
bool tcpback_timeout(struct tcpback *t, uint64_t now_us);
void tcpback_close(struct tcpback *t);

/* The classification itself, for the unit tests: connect errno plus what the error queue said
 * (origin 0 = nothing queued, else SO_EE_ORIGIN_ICMP/ICMP6 with its type and code). */
void tcpback_classify(int so_error, int ee_origin, uint8_t type, uint8_t code,
		      struct ncp_result *r);

#endif
