/* nc_cancel: an eventfd plus a flag. The flag answers nc_cancel_fired() without a system
 * call; the eventfd wakes any poll or epoll that includes it. The flag is a lock-free atomic:
 * it is fired from signal handlers and from other threads alike (volatile sig_atomic_t covers
 * only the first, and ThreadSanitizer rightly called the second a data race). */
#include <natcheck/cancel.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Only a lock-free atomic may be stored from a signal handler. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");

struct nc_cancel {
	int fd;
	atomic_int fired;
};

struct nc_cancel *nc_cancel_new(void)
{
	struct nc_cancel *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	atomic_init(&c->fired, 0);
	c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->fd < 0) {
		free(c);
		return NULL;
	}
	return c;
}

void nc_cancel_free(struct nc_cancel *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

void nc_cancel_fire(struct nc_cancel *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	atomic_store(&c->fired, 1);
	/* Never drained: the descriptor stays readable for every poller from now on. */
	if (write(c->fd, &one, sizeof(one)) < 0) {
		/* Only EAGAIN at the counter's limit, which keeps it readable anyway. */
	}
}

bool nc_cancel_fired(const struct nc_cancel *c)
{
	return c && atomic_load(&c->fired);
}

int nc_cancel_fd(const struct nc_cancel *c)
{
	return c ? c->fd : -1;
}
