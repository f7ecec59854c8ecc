#include "writer.h"

#include <natcheck/error.h>
#include <natcheck/log.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct col_writer {
	struct rs_store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct col_job *head, **tail;
	size_t queued, max_batch, max_queue;
	bool stopping;
	unsigned long long rows, txns;
};

static void *writer_main(void *arg)
{
	struct col_writer *w = arg;
	struct rs_sub *subs = calloc(w->max_batch, sizeof(*subs));
	struct col_job **jobs = calloc(w->max_batch, sizeof(*jobs));
	char err[256];

	for (;;) {
		size_t n = 0;
		int rc;

		pthread_mutex_lock(&w->lock);
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->head && w->stopping) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		/* Everything that arrived while the last batch was committing forms the next one:
		 * the busier the collector, the larger the batches. */
		while (w->head && n < w->max_batch && subs && jobs) {
			jobs[n] = w->head;
			w->head = w->head->next;
			n++;
		}
		if (!w->head)
			w->tail = &w->head;
		w->queued -= n;
		pthread_mutex_unlock(&w->lock);

		if (!subs || !jobs) {
			/* No memory for a batch at all: answer the jobs one by one as failed. */
			struct col_job *j;
			pthread_mutex_lock(&w->lock);
			j = w->head;
			w->head = NULL;
			w->tail = &w->head;
			w->queued = 0;
			pthread_mutex_unlock(&w->lock);
			while (j) {
				struct col_job *next = j->next;
				j->rc = -NC_E_NOMEM;
				j->done(j);
				j = next;
			}
			continue;
		}
		for (size_t i = 0; i < n; i++)
			subs[i] = jobs[i]->sub;
		rc = rs_put(w->store, subs, n, err, sizeof(err));
		if (rc < 0)
			nc_log_error("store: %s (%zu submissions refused)", err, n);
		else {
			pthread_mutex_lock(&w->lock);
			w->rows += n;
			w->txns++;
			pthread_mutex_unlock(&w->lock);
		}
		for (size_t i = 0; i < n; i++) {
			jobs[i]->sub.id = subs[i].id;
			jobs[i]->sub.dup = subs[i].dup;
			jobs[i]->rc = rc;
			jobs[i]->done(jobs[i]);
		}
	}
	free(subs);
	free(jobs);
	return NULL;
}

int col_writer_start(struct rs_store *s, size_t max_batch, size_t max_queue,
		     struct col_writer **out)
{
	struct col_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return -NC_E_NOMEM;
	w->store = s;
	w->max_batch = max_batch ? max_batch : 1;
	w->max_queue = max_queue;
	w->tail = &w->head;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		free(w);
		return -NC_E_NOMEM;
	}
	*out = w;
	return 0;
}

int col_writer_submit(struct col_writer *w, struct col_job *job, void (*on_queued)(void *),
		      void *arg)
{
	pthread_mutex_lock(&w->lock);
	if (w->queued >= w->max_queue || w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return -NC_E_RATE_LIMITED;
	}
	job->next = NULL;
	*w->tail = job;
	w->tail = &job->next;
	w->queued++;
	if (on_queued)
		on_queued(arg);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void col_writer_counts(struct col_writer *w, unsigned long long *rows, unsigned long long *txns)
{
	pthread_mutex_lock(&w->lock);
	*rows = w->rows;
	*txns = w->txns;
	pthread_mutex_unlock(&w->lock);
}

void col_writer_stop(struct col_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	rs_close(w->store);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}
