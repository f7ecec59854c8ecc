/* Small socket and clock helpers shared by the probe engines. */
#ifndef NC_NETUTIL_H
#define NC_NETUTIL_H

#include <natcheck/addr.h>
#include <natcheck/cancel.h>

#include <net/if.h>
#include <stdint.h>

/* A progress/trace sink: one line per call, no newline. */
typedef void (*nc_trace_fn)(void *arg, const char *line);

/* Calls fn with "+12.345 ms  <message>", the time counted from t0_us; nothing if fn is NULL. */
void nc_tracef(nc_trace_fn fn, void *arg, uint64_t t0_us, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Monotonic time in microseconds. */
uint64_t nc_now_us(void);

/* The limits every loop of a measurement honours on every turn: an absolute deadline and a
 * cancellation handle (both optional). nc_run() fills one for the whole run and hands it to
 * each phase, so --budget and Ctrl-C reach every read loop. */
struct nc_limits {
	uint64_t deadline_us;            /* nc_now_us() value to stop at; 0 = none */
	const struct nc_cancel *cancel;  /* NULL = not cancellable */
};

/* 0 while the run may go on, else -NC_E_CANCELLED or -NC_E_DEADLINE. lim may be NULL. */
int nc_limits_check(const struct nc_limits *lim, uint64_t now);
/* A poll timeout in ms for waiting until next_us (0 = no timer of one's own), shortened to
 * the deadline; -1 when nothing bounds the wait. */
int nc_limits_timeout_ms(const struct nc_limits *lim, uint64_t next_us, uint64_t now);

/* The local address the kernel sends from towards dst (port 0). */
int nc_route_source(const struct nc_addr *dst, struct nc_addr *src);

/* A nonblocking UDP socket bound to src's address and port, or, when port is 0, to a fresh
 * random port from the dynamic range 49152-65535 (RFC 5780 §4.1). Returns the descriptor and
 * fills *bound, or a negative error. */
int nc_udp_bind(const struct nc_addr *src, uint16_t port, struct nc_addr *bound);

/* Whether an interface of this host holds ip's address (the port is ignored), and if name is
 * not NULL which one. Returns 0, -NC_E_INVALID (none does) or a negative errno. */
int nc_local_interface(const struct nc_addr *ip, char name[IF_NAMESIZE]);

#endif
