/* The RFC 5780 answering logic of natcheck-reflector, as a pure function: a request and where
 * it arrived in, the answer and where it must leave from and go to out. No sockets, no clock:
 * the server loop (server.c) does the I/O, the unit tests call this directly.
 *
 * Sockets are numbered by address and port (RFC 5780 §6 calls them Da:Dp and Ca:Cp):
 *   REFL_PP  primary address,   primary port      A1:P1
 *   REFL_PA  primary address,   alternate port    A1:P2
 *   REFL_AP  alternate address, primary port      A2:P1
 *   REFL_AA  alternate address, alternate port    A2:P2
 * In single-address mode only REFL_PP and REFL_PA exist. */
#ifndef REFL_REFLECTOR_H
#define REFL_REFLECTOR_H

#include <natcheck/addr.h>
#include "stun.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum refl_sock { REFL_PP = 0, REFL_PA, REFL_AP, REFL_AA, REFL_NSOCK };

/* RFC 5780 §7.4: PADDING makes a message larger than the path MTU so that it is fragmented.
 * Requests may be that large (coturn's natdiscovery -P pads 1500 bytes, jumbo paths more):
 * datagrams up to REFL_MAX_REQUEST are read, larger ones are dropped as truncated. An answer
 * is padded like its request but never beyond REFL_MAX_PADDING, enough to fragment on a
 * 1500-byte path, and never more than the request's own padding (no amplification). */
#define REFL_MAX_REQUEST 16384
#define REFL_MAX_PADDING 1500
#define REFL_MAX_ANSWER (REFL_MAX_PADDING + 256) /* + header, addresses, SOFTWARE, FINGERPRINT */

struct refl_ctx {
	struct nc_addr local[REFL_NSOCK]; /* the four endpoints (unset ones do not exist) */
	bool has_alternate;
	bool refuse_change;               /* over TCP: the answer cannot leave from another
					   * endpoint nor go to another port, so CHANGE-REQUEST
					   * (ip or port) and RESPONSE-PORT get 420 */
	const char *software;             /* SOFTWARE attribute, or NULL */
};

struct refl_answer {
	enum refl_sock out;    /* socket to send from */
	struct nc_addr dest;   /* where to send */
	size_t len;
	uint8_t buf[REFL_MAX_ANSWER];
};

/* Why a packet got no answer (for counters and debug logs). */
enum refl_drop {
	REFL_ANSWER = 0,
	REFL_DROP_MALFORMED, /* not STUN, or undecodable: never answered (no reflection) */
	REFL_DROP_NOT_REQUEST,
};

/* Fills *a and returns REFL_ANSWER, or returns the reason for staying silent. Error answers
 * (400, 420) are answers. */
enum refl_drop refl_handle(const struct refl_ctx *ctx, enum refl_sock in,
			   const struct nc_addr *src, const uint8_t *pkt, size_t len,
			   struct refl_answer *a);

/* The socket that answers a request that arrived on `in` with CHANGE-REQUEST flags. */
enum refl_sock refl_change_sock(enum refl_sock in, uint32_t flags);

#endif
