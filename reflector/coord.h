/* The coordination service of natcheck-reflector: the suite's STUN methods (CONNECT-BACK and
 * its result, ncproto.h), the link between reflector hosts, the bouncer role and TCP
 * connect-back, on one thread of its own.
 *
 * Deployments (docs/protocol.md has the pictures):
 *   one host:    --primary A1 --alternate A2 --bouncer A3 (A3 a third address of this host;
 *                no key needed: nothing crosses a network between reflectors)
 *   three hosts: S1 --primary A1 --partner A2 --bouncer A3 --key K
 *                S2 --primary A2 --partner A1 --bouncer A3 --key K
 *                S3 --primary A3 --bouncer A3 --key K   (the bouncer: acts for S1 and S2)
 *   With --partner the partner is this reflector's alternate address: OTHER-ADDRESS names it,
 *   answers to CHANGE-REQUEST(ip) are relayed to it (coord_relay), and address-changing
 *   connect-backs are done by it.
 *
 * Integration is a few calls: coord_open() before dropping privileges, coord_start(), and in
 * the packet handlers coord_handle_stun() for requests where ncp_is_suite_method() is true and
 * coord_relay() for answers that must leave from the partner. Every function but
 * coord_open/coord_free is thread-safe. */
#ifndef REFL_COORD_H
#define REFL_COORD_H

#include "bouncer.h"
#include "ncproto.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COORD_DEFAULT_PORT 3480    /* coordination datagrams, on the primary address */
#define COORD_DEFAULT_CB_PORT 3481 /* connect-backs and bounces leave from this port */

struct coord_cfg {
	bool has_key;
	uint8_t key[NCP_KEY_LEN];
	struct nc_addr primary, alternate; /* IPs of this reflector (alternate may be unset) */
	uint16_t port, alt_port;           /* its STUN ports */
	uint16_t coord_port, cb_port;      /* 0 = defaults */
	struct nc_addr partner;            /* alternate address on another host (three hosts) */
	struct nc_addr bouncer;            /* the bouncer's IP (unset: no third-party tests) */
	bool bouncer_local;                /* that IP is this host's: act as bouncer here */
	double target_rate, target_burst, global_rate, global_burst; /* 0 = bouncer defaults */
};

struct coord_counters {
	_Atomic uint64_t requests;       /* CONNECT-BACK requests from clients */
	_Atomic uint64_t target_refused; /* NC-CB-TARGET was not the observed source */
	_Atomic uint64_t unavailable;    /* origin not offered here (403/503) */
	_Atomic uint64_t local_rate;     /* locally executed actions refused by the limits */
	_Atomic uint64_t actions_sent;   /* ACTION messages to a partner/bouncer */
	_Atomic uint64_t actions_done;   /* connect-backs / bounces executed here */
	_Atomic uint64_t results;        /* RESULT messages received */
	_Atomic uint64_t polls;          /* CONNECT-BACK-RESULT requests */
	_Atomic uint64_t unknown_ticket;
	_Atomic uint64_t relays_sent, relays_done, relays_refused;
	_Atomic uint64_t unexpected_source; /* coordination datagram from a non-peer address */
};

struct coord;

/* Binds the coordination socket (with a key) and the connect-back/bounce origins. */
int coord_open(struct coord **out, const struct coord_cfg *cfg);
/* Starts the service thread. */
int coord_start(struct coord *c);
void coord_stop(struct coord *c);
void coord_free(struct coord *c);

/* Answers a request with one of the suite's methods that arrived at `local` (the reflector's
 * endpoint) from `src` over transport (NCP_PROTO_UDP/TCP). Writes the STUN answer into out and
 * returns its length, or 0 when the packet gets no answer. */
size_t coord_handle_stun(struct coord *c, int transport, const struct nc_addr *local,
			 const struct nc_addr *src, const uint8_t *pkt, size_t len, uint8_t *out,
			 size_t cap);

/* Three hosts: asks the partner to send msg (a Binding success response) to dest from its
 * primary (alt_port false) or alternate port. True if handed over. */
bool coord_relay(struct coord *c, bool alt_port, const struct nc_addr *dest, const uint8_t *msg,
		 size_t len);
/* The reflector's UDP sockets on this host's primary address (primary and alternate port),
 * used to send what a partner relays to us. */
void coord_set_relay_fds(struct coord *c, int fd_port, int fd_alt_port);

const struct coord_counters *coord_counters(const struct coord *c);
const struct bouncer_counters *coord_bouncer_counters(const struct coord *c);
/* One line with every non-zero counter, for the reflector's SIGUSR1 and exit logs. */
void coord_format_counters(const struct coord *c, char *buf, size_t len);

#endif
