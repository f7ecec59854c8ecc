#include "log.h"

#include "netutil.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

static _Atomic int level = LOG_LVL_INFO;
static _Atomic uint64_t window_start, window_lines, suppressed;

void log_set_level(enum log_level l)
{
	level = l;
}

static void vlog(const char *tag, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void vlog(const char *tag, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "natcheck-reflector: %s%s\n", tag, line);
}

#define LOG_AT(name, lvl, tag)                           \
	void name(const char *fmt, ...)                  \
	{                                                \
		va_list ap;                              \
		if (level < (lvl))                       \
			return;                          \
		va_start(ap, fmt);                       \
		vlog(tag, fmt, ap);                      \
		va_end(ap);                              \
	}

LOG_AT(log_error, LOG_LVL_ERROR, "error: ")
LOG_AT(log_info, LOG_LVL_INFO, "")
LOG_AT(log_debug, LOG_LVL_DEBUG, "debug: ")

void log_debug_limited(const char *fmt, ...)
{
	uint64_t now, start;
	va_list ap;

	if (level < LOG_LVL_DEBUG)
		return;
	now = nc_now_us();
	start = window_start;
	if (now - start > 1000000u && atomic_compare_exchange_strong(&window_start, &start, now)) {
		uint64_t dropped = atomic_exchange(&suppressed, 0);
		window_lines = 0;
		if (dropped)
			log_debug("%llu similar lines suppressed", (unsigned long long)dropped);
	}
	if (atomic_fetch_add(&window_lines, 1) >= 10) {
		atomic_fetch_add(&suppressed, 1);
		return;
	}
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}
