/* One STUN client transaction (RFC 8489 §6.2.1): a random transaction id, retransmission on
 * an RTO taken from the run's RTT estimator, and matching an answer by id and by the source it
 * must come from. Every probe of libnatcheck sends its requests through this module.
 *
 * Two ways to drive it:
 *
 *  * Caller-driven, non-blocking (libnatpmp's getnatpmprequesttimeout /
 *    readnatpmpresponseorretry shape): the caller owns the socket and the poll. It calls
 *    stun_txn_tick() when stun_txn_next() says so (sending or retiring the transaction), and
 *    hands every decoded datagram to stun_txn_accept(). A daemon drives any number of
 *    transactions from its own event loop this way.
 *
 *        stun_txn_init(&t, &server, 0, 0, 7);
 *        for (;;) {
 *                uint64_t next = stun_txn_next(&t, &rtt);
 *                if (next == 0) break;                     // answered or given up
 *                poll(fd, timeout until next);
 *                if (readable && stun_txn_recv(fd, buf, sizeof buf, &m, &from) == 0)
 *                        stun_txn_accept(&t, &rtt, &m, &from, nc_now_us());
 *                stun_txn_tick(&t, fd, &rtt, nc_now_us());
 *        }
 *
 *  * Blocking, for one-shot probes: stun_txn_run() does the loop above on one socket, bounded
 *    by the run's limits (deadline, cancellation) and by a cap on unrelated datagrams.
 */
#ifndef NC_STUN_TXN_H
#define NC_STUN_TXN_H

#include "netutil.h"
#include "stun.h"

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RTT estimator (RFC 6298 §2, alpha 1/8, beta 1/4) shared by the transactions of one run;
 * Karn's rule: only answers to a first transmission are sampled. Zero-initialised = no sample
 * yet and default bounds. */
struct stun_rtt {
	uint64_t srtt_us, rttvar_us; /* srtt 0 = no sample yet */
	unsigned samples;
	uint64_t initial_us;         /* RTO before any sample; 0 = 100 ms (Tailscale uses it too) */
	uint64_t min_us, max_us;     /* RTO bounds; 0 = 15 ms / 1 s */
};

void stun_rtt_sample(struct stun_rtt *e, uint64_t rtt_us);
/* 2 * srtt + 4 * rttvar within the bounds (RFC 6298 uses srtt + 4 rttvar; doubled because a
 * lost answer costs only a retransmission while a premature one costs a wrong verdict). */
uint64_t stun_rtt_rto(const struct stun_rtt *e);

enum stun_txn_state {
	STUN_TXN_PENDING = 0, /* sending, or waiting for an answer */
	STUN_TXN_ANSWERED,    /* a response (success or error) from the expected source */
	STUN_TXN_EXPIRED,     /* attempts used up and the last one waited out */
	STUN_TXN_SEND_FAILED, /* the local stack refused to send (no route, ...) */
};

/* What stun_txn_accept() made of a message. */
enum stun_txn_verdict {
	STUN_TXN_NOT_OURS = 0, /* another transaction id, or not a response */
	STUN_TXN_MATCHED,      /* this transaction's answer: state is now ANSWERED */
	STUN_TXN_WRONG_SOURCE, /* our id, but from another source than expected: noted, still waiting */
	STUN_TXN_DUPLICATE,    /* our id again after the answer (a retransmission's echo) */
};

#define STUN_TXN_PKT_MAX 64
/* Retransmissions back off up to this multiple of the RTO; before the run has an RTT sample
 * from the first wait, after one from the wait after STUN_TXN_FIXED_ROUNDS (see stun_txn.c). */
#define STUN_TXN_BACKOFF_MAX 4
#define STUN_TXN_FIXED_ROUNDS 2

struct stun_txn {
	uint8_t tid[STUN_TID_LEN];
	uint8_t pkt[STUN_TXN_PKT_MAX];
	size_t len;
	struct nc_addr dest;       /* where the requests go */
	struct nc_addr expect;     /* where the answer must come from; unset = from anywhere */
	unsigned max_attempts;     /* transmissions, the first included */
	unsigned attempts;
	unsigned rounds;           /* scheduled transmissions (attempts less resend copies) */
	uint64_t linger_us;        /* wait after the last attempt; 0 = 2 RTOs */
	uint64_t first_us, last_us, next_us; /* first and last transmission, next action */
	uint64_t answered_us;
	uint32_t rtt_us;           /* last transmission to answer */
	enum stun_txn_state state;
	int send_err;              /* -errno when SEND_FAILED */
	unsigned wrong_source;     /* answers with our id from another source */
	struct nc_addr wrong_from; /* the first such source */
};

/* A Binding request to dest with CHANGE-REQUEST and RESPONSE-PORT (0 = without), a fresh
 * transaction id from libsodium's RNG, and the answer expected from dest itself. The first
 * transmission is due at once. Returns 0 or a negative error. */
int stun_txn_init(struct stun_txn *t, const struct nc_addr *dest, uint32_t change,
		  uint16_t response_port, unsigned max_attempts);

/* When the transaction next needs stun_txn_tick() (absolute nc_now_us() time), or 0 when it
 * is finished (answered, expired or failed). An RTO that shrank since the last send
 * shortens the wait. */
uint64_t stun_txn_next(const struct stun_txn *t, const struct stun_rtt *rtt);

/* Does what is due at now: sends (first transmission or a retransmission) from fd, or retires
 * the transaction when its last attempt has been waited out. Returns 1 when a packet was sent,
 * 0 when nothing was due or it just expired, or a negative error when sending failed (then
 * the state is SEND_FAILED). EAGAIN/ENOBUFS/EINTR count as sent: a lost packet is what
 * retransmission is for. */
int stun_txn_tick(struct stun_txn *t, int fd, const struct stun_rtt *rtt, uint64_t now);

/* Offers a decoded message that arrived from `from` at time now. Responses (success or error)
 * with this transaction's id are matched against the expected source; a first-transmission
 * answer feeds the RTT estimator (rtt may be NULL). Requests are never ours. */
enum stun_txn_verdict stun_txn_accept(struct stun_txn *t, struct stun_rtt *rtt,
				      const struct stun_msg *m, const struct nc_addr *from,
				      uint64_t now);

/* One more transmission of the same request now, outside the RTO schedule: a redundant copy
 * against loss, for probes whose silence is a verdict. It counts as an attempt (so Karn's
 * rule takes no RTT sample from its answer) and moves last_us, but not the next scheduled
 * retransmission. Returns 1, or a negative error (then the state is SEND_FAILED). */
int stun_txn_resend(struct stun_txn *t, int fd, uint64_t now);

/* The caller ends the wait: a pending transaction becomes EXPIRED at once. For waits that
 * end on evidence (a control's answer and the measured RTT) rather than on the schedule. */
void stun_txn_expire(struct stun_txn *t);

/* Whether m carries this transaction's id (whatever its class or source). */
bool stun_txn_owns(const struct stun_txn *t, const struct stun_msg *m);

/* Reads one datagram from fd (non-blocking) and decodes it. Returns 0 with *m and *from set;
 * -EAGAIN when nothing waits; or a negative error for a datagram that is not usable STUN
 * (-NC_E_TRUNCATED also for one larger than cap), with *from set when it could be read, so
 * the caller can skip it and read on. ICMP errors queued on the socket read as their errno. */
int stun_txn_recv(int fd, uint8_t *buf, size_t cap, struct stun_msg *m, struct nc_addr *from);

/* Unrelated datagrams stun_txn_run() skips before it gives up with -NC_E_PROTOCOL. */
#define STUN_TXN_MAX_SKIP 256

/* The blocking form: drives t on fd until it is answered, expires, or the limits stop it.
 * Returns 0 when answered (the answer in *m, its source in *from; either may be NULL), or
 * -NC_E_TIMEOUT (no answer; -NC_E_WRONG_SOURCE if one came only from elsewhere),
 * -NC_E_CANCELLED / -NC_E_DEADLINE, -NC_E_PROTOCOL (more than STUN_TXN_MAX_SKIP unrelated
 * datagrams), or a send error. The deadline and cancellation are checked on every turn. */
int stun_txn_run(struct stun_txn *t, int fd, struct stun_rtt *rtt, const struct nc_limits *lim,
		 struct stun_msg *m, struct nc_addr *from);

#endif
