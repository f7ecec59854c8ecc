/* Logging for the suite's programs and daemons (natcheck-reflector, natbox, later punchvpn).
 *
 * One line per call on stderr, "PROGRAM: [tag: ]message", written with a single write(2) so
 * lines from several threads never interleave. Under systemd (JOURNAL_STREAM names our
 * stderr) each line starts with the sd-daemon priority prefix ("<3>" ...), so journald files
 * it at the right level. The program name is set once by main() with nc_log_init().
 *
 *   nc_log_error   always shown        "prog: error: msg"
 *   nc_log_warn    level >= WARN       "prog: warning: msg: strerror(errno)"
 *   nc_log_warnx   level >= WARN       "prog: warning: msg"
 *   nc_log_info    level >= INFO       "prog: msg"
 *   nc_log_debug   level >= DEBUG      "prog: debug: msg"
 *   nc_log_debug_limited               the same, at most NC_LOG_LIMIT_PER_SEC lines a second
 *                                      across all threads; the rest are counted and one line
 *                                      "N similar lines suppressed" follows when the next
 *                                      second's first line is let through
 *   nc_fatal / nc_fatalx               "prog: fatal: msg[: strerror(errno)]", then exit(1)
 *
 * Per-packet lines (malformed input from the network) go through nc_log_debug_limited, so a
 * flood of junk cannot become a flood of log lines. The library itself never logs: it returns
 * errors. This module holds the process's only logging state (name, level, rate window),
 * set by main() before threads start. */
#ifndef NATCHECK_LOG_H
#define NATCHECK_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum nc_log_level { NC_LOG_ERROR = 0, NC_LOG_WARN, NC_LOG_INFO, NC_LOG_DEBUG };

#define NC_LOG_LIMIT_PER_SEC 10

/* Sets the program name printed before every line (the pointer is kept: pass a literal or
 * argv[0]'s basename) and looks for journald on stderr. Before it is called the name is
 * "natcheck". The level stays as it is (NC_LOG_INFO until set). */
void nc_log_init(const char *progname);
void nc_log_set_level(enum nc_log_level level);
enum nc_log_level nc_log_get_level(void);

void nc_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nc_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nc_log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nc_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nc_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nc_log_debug_limited(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nc_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void nc_fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Lines nc_log_debug_limited() has suppressed since the process started. */
uint64_t nc_log_suppressed_total(void);

/* The rate limiter under nc_log_debug_limited, usable on its own (lock-free, any thread).
 * Zero-initialise. A window is one second of now_us (any monotonic microsecond clock):
 * nc_log_limit_take() returns true for the first per_window calls of a window and false,
 * counting, for the rest; when a call opens a new window it sets *closed to the count of the
 * window that ended (else 0), for the caller to report. */
struct nc_log_limit {
	_Atomic uint64_t window_start;
	_Atomic uint64_t lines;
	_Atomic uint64_t suppressed;
};

bool nc_log_limit_take(struct nc_log_limit *l, uint64_t now_us, unsigned per_window, uint64_t *closed);

#endif
