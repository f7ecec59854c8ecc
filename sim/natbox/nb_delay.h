/* natbox impairment: loss, delay and jitter without netem (this kernel has no sch_netem).
 *
 * nb_impair() decides per packet from the NAT state's seeded PRNG: lost, or due at
 * now + delay + uniform(-jitter, +jitter) (never before now). Packets that must wait sit in a
 * delay queue, a binary min-heap ordered by due time and then by arrival, which the event loop
 * drains when its earliest entry falls due. Jitter can reorder packets, as netem's does. */
#ifndef NB_DELAY_H
#define NB_DELAY_H

#include "nb_nat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nb_delayq;

/* A link that sleeps when idle and drops everything while it wakes up (--blackout): the
 * first packet after blackout_idle_ms of silence (or the very first) starts a blackout of
 * blackout_ms during which every packet, in both directions, is lost before the NAT sees it
 * (issue 13, item 3: a path that drops the first ~0.5 s). Zero-initialise. */
struct nb_link {
	bool seen;
	uint64_t last_ms, wake_ms;
	uint64_t dropped;
};

/* false: the link is waking up, drop the packet. */
bool nb_link_pass(struct nb_link *l, const struct nb_config *c, uint64_t now_ms);

/* false: drop the packet (loss); true: send it at *due_ms (== now when no delay is set). */
bool nb_impair(struct nb_state *s, uint64_t now_ms, uint64_t *due_ms);

struct nb_delayq *nb_delayq_new(size_t max_pkts);
void nb_delayq_free(struct nb_delayq *q);
/* Copies the packet in. -NC_E_NOSPACE when the queue holds max_pkts, -NC_E_NOMEM. */
int nb_delayq_push(struct nb_delayq *q, uint64_t due_ms, const uint8_t *pkt, size_t len);
/* Due time of the earliest packet, UINT64_MAX when empty. */
uint64_t nb_delayq_next(const struct nb_delayq *q);
/* Pops the earliest packet if it is due at now_ms: copies it to buf and returns its length;
 * 0 if nothing is due; -NC_E_NOSPACE if cap is too small (the packet is dropped). */
int nb_delayq_pop(struct nb_delayq *q, uint64_t now_ms, uint8_t *buf, size_t cap);
size_t nb_delayq_len(const struct nb_delayq *q);

#endif
