/* Logging for the daemons: stderr (journald under systemd), levels, and a rate limit for
 * per-packet debug lines so a flood cannot turn into a log flood. */
#ifndef REFL_LOG_H
#define REFL_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level l);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Debug, at most 10 lines a second across all threads; the rest are counted and summarised. */
void log_debug_limited(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
