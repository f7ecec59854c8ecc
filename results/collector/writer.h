/* Group commit: one writer thread takes every queued submission, stores the batch in one
 * transaction, and only then tells each waiting request its id. An answered submission is
 * therefore committed; a crash before the commit answers nobody. */
#ifndef COL_WRITER_H
#define COL_WRITER_H

#include "../store/store.h"

#include <stddef.h>

struct col_job {
	struct rs_sub sub;		   /* in: what to store; out: id, dup */
	int rc;				   /* out: 0 stored, or a negative code */
	void (*done)(struct col_job *job); /* called by the writer thread after the commit */
	struct col_job *next;		   /* the writer's queue */
};

struct col_writer;

/* Starts the writer over store s (owned by the writer from now on). max_batch: most rows per
 * transaction; max_queue: more waiting jobs than this are refused. */
int col_writer_start(struct rs_store *s, size_t max_batch, size_t max_queue,
		     struct col_writer **out);
/* Queues job; on_queued(arg) runs while the queue is locked, before the writer can see the
 * job (the HTTP side suspends its connection there, so the resume always follows it).
 * -NC_E_RATE_LIMITED when the queue is full. */
int col_writer_submit(struct col_writer *w, struct col_job *job, void (*on_queued)(void *),
		      void *arg);
/* Stores what is queued, stops the thread, closes the store. */
void col_writer_stop(struct col_writer *w);
/* Rows committed and transactions so far (for the log). */
void col_writer_counts(struct col_writer *w, unsigned long long *rows, unsigned long long *txns);

#endif
