/* Cancelling a measurement from another thread or a signal handler.
 *
 * A program that wants Ctrl-C to stop a run creates one nc_cancel, passes it in the run's
 * config, and calls nc_cancel_fire() from its own SIGINT handler (the library never installs
 * signal handlers or changes the signal mask). Every loop of the library polls
 * nc_cancel_fd() next to its sockets, so a run ends within about a second of the call, after
 * deleting the port mappings it created. */
#ifndef NATCHECK_CANCEL_H
#define NATCHECK_CANCEL_H

#include <stdbool.h>

struct nc_cancel;

/* Returns a new, unfired handle, or NULL when no descriptor is left. */
struct nc_cancel *nc_cancel_new(void);
void nc_cancel_free(struct nc_cancel *c);
/* Requests cancellation. Async-signal-safe; idempotent. */
void nc_cancel_fire(struct nc_cancel *c);
/* Whether it has been fired (false for NULL). */
bool nc_cancel_fired(const struct nc_cancel *c);
/* A descriptor that becomes readable once fired (-1 for NULL), for poll/epoll sets. */
int nc_cancel_fd(const struct nc_cancel *c);

#endif
