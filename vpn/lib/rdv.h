/* The rendezvous client: registration with punchvpnd from the tunnel's own UDP socket (so the
 * server observes the mapping the tunnel uses), with a fallback to TCP on the same server port
 * when UDP goes unanswered, and the relay's transport (UDP datagrams to the server, or frames
 * of a 2-byte length + datagram on the TCP connection). See coord.h for the messages.
 *
 *   UDP: a round of REGISTERs (one per COORD_MAX_WANTS wanted peers) every keepalive the
 *        server gives; unanswered, again every RDV_RETRY_MS (RDV_START_RETRY_MS before the
 *        server's first answer); after RDV_UDP_TRIES unanswered
 *        rounds the server counts as unreachable over UDP:
 *   TCP: connect to the same address and port (bounded by RDV_CONNECT_MS), register over it,
 *        relay over it; when it closes or fails, back to UDP.
 *
 *   TCP simultaneous open (tcppunch.h) needs the server to know our TCP mapping: the relay's
 *   TCP connection shows it when we are on TCP; otherwise, while the device wants it
 *   (rdv_tcp_show), a second connection to the server carries a REGISTER with
 *   COORD_REG_TCP_SHOW every keepalive (sent only when no UDP round is in flight, so the two
 *   transports never reorder the strictly growing timestamps). Both connections leave from the
 *   tunnel's port number (rdv.tcp_port), as the peers' TCP connections do.
 *
 * Thread safety: one lock; the TX and RX threads call rdv_mode and rdv_send, the main
 * thread the rest. */
#ifndef VPN_RDV_H
#define VPN_RDV_H

#include <natcheck/addr.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"
#include "tcpframe.h"
#include "udp.h"

#define RDV_RETRY_MS 1000
#define RDV_START_RETRY_MS 100 /* until the server has answered once */
#define RDV_UDP_TRIES 3
#define RDV_CONNECT_MS 3000

enum rdv_mode { RDV_OFF, RDV_UDP, RDV_TCP };

struct rdv {
	pthread_mutex_t lock;
	enum rdv_mode mode;
	struct nc_addr server;
	uint8_t key[32]; /* the box key between our static key and the server's */
	uint8_t pub[VPN_KEY_LEN];
	bool registered;
	struct nc_addr observed;
	uint32_t relay_id;
	uint16_t keepalive_s;
	unsigned binding_ms;            /* this side's NAT forgets the server sooner: re-register
					 * this often (rdv_set_binding_ms; 0 = keepalive_s rules) */
	uint64_t last_ts, round_ts;     /* REGISTER timestamps: the latest, the round's first */
	uint64_t last_round_ms, last_ack_ms, registered_at_ms;
	unsigned unanswered;            /* rounds sent since the last REGISTERED */
	unsigned n_acks, n_intros, n_tcp_fallbacks;
	bool unreachable;               /* never registered, and neither UDP nor TCP answered */
	int tcp_err;                    /* why the latest TCP attempt failed (errno, 0 = timeout) */
	bool force;
	struct tcpf tcp;                /* the relay's TCP connection */
	bool tcp_up;
	uint64_t tcp_start_ms;
	uint16_t tcp_port;              /* local port of every TCP connection (0: any) */
	/* Our TCP mapping shown to the server (COORD_REG_TCP_SHOW) */
	struct tcpf show;
	bool show_up, show_acked;
	uint64_t show_start_ms, show_next_ms, show_sent_ms, show_ts;
	struct nc_addr tcp_observed;    /* our TCP endpoint as the server sees it */
	uint8_t show_wants[COORD_MAX_WANTS][VPN_KEY_LEN];
	size_t n_show_wants;
	/* the latest round's profile and local endpoints, for the REGISTER that shows */
	struct coord_profile reg_prof;
	struct nc_addr reg_local[COORD_MAX_LOCAL];
	size_t reg_n_local;
};

/* With server unset the client stays off (every call is a no-op). */
int rdv_init(struct rdv *r, const struct nc_addr *server, const uint8_t server_pub[VPN_KEY_LEN],
	     const uint8_t priv[VPN_KEY_LEN], const uint8_t pub[VPN_KEY_LEN]);
void rdv_free(struct rdv *r);

/* Whether a registration round is due now (it also drives the UDP -> TCP fallback and the TCP
 * connect). */
bool rdv_due(struct rdv *r, struct udp *u, uint64_t now);
/* This side's NAT binding toward the server needs a packet every ms (from the measured
 * binding lifetime, strategy_keepalive; 0 = not measured): when that is shorter than the
 * server's keepalive, registrations go that often, so that the relay still reaches an idle
 * peer behind a NAT that forgets a binding in seconds. */
void rdv_set_binding_ms(struct rdv *r, unsigned ms);
/* The interval between registration rounds in force (ms). */
unsigned rdv_interval_ms(struct rdv *r);
/* Registers now at the next rdv_due (a network change, a new profile). */
void rdv_force(struct rdv *r);
/* The host's network changed: register at once, and over UDP again (a TCP connection from an
 * old address is dead, and the new network may pass UDP). */
void rdv_net_change(struct rdv *r);
/* Sends one round of REGISTERs. Returns 0 or a negative code. */
int rdv_register(struct rdv *r, struct udp *u, const struct coord_profile *prof,
		 const struct nc_addr *local, size_t n_local, const uint8_t (*wants)[VPN_KEY_LEN],
		 size_t n_wants, uint64_t now);
/* A coordination datagram (type 5) from the server: 0 and *m for an INTRO the caller handles
 * (a REGISTERED is taken here: returns 1); negative when it does not open or is stale. */
int rdv_input(struct rdv *r, const uint8_t *buf, size_t len, uint64_t now, struct coord_msg *m);

/* At start, the server answered neither over UDP (RDV_UDP_TRIES rounds) nor over TCP: true,
 * with the reason in words (`up` stops with it: a server that never answered is a
 * configuration error; one that answered once and went away is waited for). */
bool rdv_unreachable(struct rdv *r, char *why, size_t len);

enum rdv_mode rdv_mode(struct rdv *r);
/* One datagram to the server over the current transport (UDP, or a TCP frame). */
int rdv_send(struct rdv *r, struct udp *u, const uint8_t *buf, size_t len);
/* TCP: the socket to poll (-1 without one), and reading what arrived: every whole frame is
 * handed to fn. Returns false when the connection closed (back to UDP). */
int rdv_tcp_fd(struct rdv *r);
bool rdv_tcp_read(struct rdv *r, void (*fn)(void *ctx, const uint8_t *dgram, size_t len),
		  void *ctx);

/* Main thread, every tick: the peers (wants) toward which the device wants a TCP simultaneous
 * open; none closes the connection that shows our TCP mapping. Over UDP, keeps that
 * connection up and registers over it (COORD_REG_TCP_SHOW) when due. */
void rdv_tcp_show(struct rdv *r, const uint8_t (*wants)[VPN_KEY_LEN], size_t n_wants,
		  uint64_t now);
/* Whether the server knows our TCP mapping now (registered over the relay's TCP connection,
 * or a REGISTERED came back over the showing one), and what it is. */
bool rdv_tcp_presence(struct rdv *r, struct nc_addr *ep);
/* The showing connection once connected (-1 otherwise), and its input (REGISTERED). Returns
 * false when it closed. */
int rdv_show_fd(struct rdv *r);
bool rdv_show_read(struct rdv *r, uint64_t now);

#endif
