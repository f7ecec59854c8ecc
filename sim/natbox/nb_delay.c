/* natbox impairment: loss decision and the delay queue (binary min-heap). */
#include "nb_delay.h"

#include <natcheck/error.h>

#include <stdlib.h>
#include <string.h>

struct ent {
	uint64_t due, seq;
	size_t len;
	uint8_t *data;
};

struct nb_delayq {
	struct ent *heap;
	size_t n, max;
	uint64_t seq;
};

bool nb_impair(struct nb_state *s, uint64_t now, uint64_t *due)
{
	const struct nb_config *c = nb_state_config(s);
	int64_t d = c->delay_ms;

	if (c->loss_ppm && nb_rand_below(s, 1000000) < c->loss_ppm)
		return false;
	if (c->jitter_ms)
		d += (int64_t)nb_rand_below(s, 2 * c->jitter_ms + 1) - (int64_t)c->jitter_ms;
	*due = now + (uint64_t)(d > 0 ? d : 0);
	return true;
}

bool nb_link_pass(struct nb_link *l, const struct nb_config *c, uint64_t now)
{
	if (!c->blackout_ms)
		return true;
	if (!l->seen || now - l->last_ms >= c->blackout_idle_ms)
		l->wake_ms = now; /* asleep: this packet wakes the link up */
	l->seen = true;
	l->last_ms = now; /* packets lost while waking up count as activity too */
	if (now - l->wake_ms < c->blackout_ms) {
		l->dropped++;
		return false;
	}
	return true;
}

struct nb_delayq *nb_delayq_new(size_t max)
{
	struct nb_delayq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->max = max ? max : 1;
	q->heap = calloc(q->max, sizeof(*q->heap));
	if (!q->heap) {
		free(q);
		return NULL;
	}
	return q;
}

void nb_delayq_free(struct nb_delayq *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->heap[i].data);
	free(q->heap);
	free(q);
}

static bool before(const struct ent *a, const struct ent *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

int nb_delayq_push(struct nb_delayq *q, uint64_t due, const uint8_t *pkt, size_t len)
{
	struct ent e = {.due = due, .seq = q->seq++, .len = len};
	size_t i;

	if (q->n == q->max)
		return -NC_E_NOSPACE;
	e.data = malloc(len ? len : 1);
	if (!e.data)
		return -NC_E_NOMEM;
	memcpy(e.data, pkt, len);
	for (i = q->n++; i > 0; i = (i - 1) / 2) { /* sift up */
		struct ent *parent = &q->heap[(i - 1) / 2];
		if (!before(&e, parent))
			break;
		q->heap[i] = *parent;
	}
	q->heap[i] = e;
	return 0;
}

uint64_t nb_delayq_next(const struct nb_delayq *q)
{
	return q->n ? q->heap[0].due : UINT64_MAX;
}

size_t nb_delayq_len(const struct nb_delayq *q)
{
	return q->n;
}

int nb_delayq_pop(struct nb_delayq *q, uint64_t now, uint8_t *buf, size_t cap)
{
	struct ent top, last;
	size_t i = 0;

	if (!q->n || q->heap[0].due > now)
		return 0;
	top = q->heap[0];
	last = q->heap[--q->n];
	while (q->n) { /* sift down */
		size_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && before(&q->heap[c + 1], &q->heap[c]))
			c++;
		if (!before(&q->heap[c], &last))
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	if (q->n)
		q->heap[i] = last;
	if (top.len > cap) {
		free(top.data);
		return -NC_E_NOSPACE;
	}
	memcpy(buf, top.data, top.len);
	free(top.data);
	return (int)top.len;
}
