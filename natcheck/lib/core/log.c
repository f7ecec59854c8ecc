/* The suite's log module (natcheck/log.h): stderr, levels, errno variants, rate-limited debug. */
#include <natcheck/log.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Set by main() before any thread starts; read-only afterwards. */
static const char *log_name = "natcheck";
static bool log_journal;
static _Atomic int log_level = NC_LOG_INFO;
static struct nc_log_limit debug_limit;
static _Atomic uint64_t debug_suppressed_total;

/* journald connects a service's stderr to a stream and names it in JOURNAL_STREAM
 * ("device:inode"); only if stderr is still that stream do the priority prefixes belong. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void nc_log_init(const char *progname)
{
	if (progname && *progname)
		log_name = progname;
	log_journal = stderr_is_journal();
}

void nc_log_set_level(enum nc_log_level level)
{
	log_level = (int)level;
}

enum nc_log_level nc_log_get_level(void)
{
	return (enum nc_log_level)log_level;
}

static void vlog(int prio, const char *tag, int errnum, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/* Builds the whole line first and writes it with one write(2): stdio on an unbuffered stderr
 * may split one fprintf into several writes, which threads then interleave. */
static void vlog(int prio, const char *tag, int errnum, const char *fmt, va_list ap)
{
	char line[1024], ebuf[128];
	size_t n = 0, cap = sizeof(line) - 1; /* room kept for the newline */
	int k;

	if (log_journal) {
		k = snprintf(line, cap, "<%d>", prio);
		n = k > 0 ? (size_t)k : 0;
	}
	k = snprintf(line + n, cap - n, "%s: %s", log_name, tag);
	n = k < 0 ? n : n + (size_t)k < cap ? n + (size_t)k : cap - 1;
	k = vsnprintf(line + n, cap - n, fmt, ap);
	n = k < 0 ? n : n + (size_t)k < cap ? n + (size_t)k : cap - 1;
	if (errnum) {
		/* strerror_r (GNU form: may return a static string instead of filling ebuf). */
		const char *es = strerror_r(errnum, ebuf, sizeof(ebuf));
		k = snprintf(line + n, cap - n, ": %s", es);
		n = k < 0 ? n : n + (size_t)k < cap ? n + (size_t)k : cap - 1;
	}
	line[n++] = '\n';
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

/* sd-daemon priorities: LOG_CRIT 2, LOG_ERR 3, LOG_WARNING 4, LOG_INFO 6, LOG_DEBUG 7. */
#define LOG_AT(name, lvl, prio, tag, with_errno)                 \
	void name(const char *fmt, ...)                          \
	{                                                        \
		int saved = errno;                               \
		va_list ap;                                      \
		if (log_level < (int)(lvl))                      \
			return;                                  \
		va_start(ap, fmt);                               \
		vlog(prio, tag, (with_errno) ? saved : 0, fmt, ap); \
		va_end(ap);                                      \
		errno = saved;                                   \
	}

LOG_AT(nc_log_error, NC_LOG_ERROR, 3, "error: ", 0)
LOG_AT(nc_log_warn, NC_LOG_WARN, 4, "warning: ", 1)
LOG_AT(nc_log_warnx, NC_LOG_WARN, 4, "warning: ", 0)
LOG_AT(nc_log_info, NC_LOG_INFO, 6, "", 0)
LOG_AT(nc_log_debug, NC_LOG_DEBUG, 7, "debug: ", 0)

void nc_fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(2, "fatal: ", saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void nc_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(2, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

bool nc_log_limit_take(struct nc_log_limit *l, uint64_t now_us, unsigned per_window, uint64_t *closed)
{
	uint64_t start = atomic_load(&l->window_start);

	*closed = 0;
	/* One thread wins the exchange and opens the new window; the others count in it. */
	if (now_us - start >= 1000000u && atomic_compare_exchange_strong(&l->window_start, &start, now_us)) {
		*closed = atomic_exchange(&l->suppressed, 0);
		atomic_store(&l->lines, 0);
	}
	if (atomic_fetch_add(&l->lines, 1) >= per_window) {
		atomic_fetch_add(&l->suppressed, 1);
		return false;
	}
	return true;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t nc_log_suppressed_total(void)
{
	return atomic_load(&debug_suppressed_total);
}

void nc_log_debug_limited(const char *fmt, ...)
{
	uint64_t closed;
	int saved = errno;
	bool take;
	va_list ap;

	if (log_level < NC_LOG_DEBUG)
		return;
	take = nc_log_limit_take(&debug_limit, mono_us(), NC_LOG_LIMIT_PER_SEC, &closed);
	if (closed)
		nc_log_debug("%llu similar lines suppressed", (unsigned long long)closed);
	if (!take) {
		atomic_fetch_add(&debug_suppressed_total, 1);
		return;
	}
	va_start(ap, fmt);
	vlog(7, "debug: ", 0, fmt, ap);
	va_end(ap);
	errno = saved;
}
