/* One error vocabulary for the whole suite.
 *
 * Functions return 0 (or a byte count) on success and a negative code on failure. Codes below
 * NC_ERR_BASE are -errno values from system calls; codes from NC_ERR_BASE up are the suite's own,
 * generated from the table below together with their names and messages. */
#ifndef NC_ERROR_H
#define NC_ERROR_H

#define NC_ERR_BASE 1000

/*  X(NAME, message) */
#define NC_ERROR_TABLE(X)                                                        \
	X(TRUNCATED, "input ends before the structure it declares")             \
	X(MALFORMED, "malformed message")                                       \
	X(NOT_STUN, "not a STUN message")                                       \
	X(FINGERPRINT, "FINGERPRINT does not match the message")                \
	X(UNKNOWN_REQUIRED, "unknown comprehension-required attribute")         \
	X(NOSPACE, "output buffer too small")                                   \
	X(INVALID, "invalid argument")                                          \
	X(FAMILY, "unsupported address family")                                 \
	X(TIMEOUT, "no answer before the deadline")                             \
	X(WRONG_SOURCE, "answer came from an unexpected address")               \
	X(NOMEM, "out of memory")                                               \
	X(RANGE, "value out of range")                                          \
	X(PARSE, "cannot parse value")                                          \
	X(SCHEMA, "document does not follow the natcheck-result schema")        \
	X(UNSUPPORTED, "not supported")                                         \
	X(RATE_LIMITED, "rate limit exceeded")                                  \
	X(AUTH, "authentication failed")                                        \
	X(PROTOCOL, "protocol error")                                           \
	X(CANCELLED, "cancelled")                                               \
	X(DEADLINE, "the run's time budget ran out")                            \
	X(NOT_REGULAR, "not a regular file")                                    \
	X(FILE_MODE, "readable or writable by group or others")

enum nc_err {
	NC_ERR_FIRST_ = NC_ERR_BASE - 1,
#define NC_ERR_ENUM_(name, msg) NC_E_##name,
	NC_ERROR_TABLE(NC_ERR_ENUM_)
#undef NC_ERR_ENUM_
	NC_ERR_END_
};

/* Message for a negative return value (suite code or -errno); never NULL. */
const char *nc_strerror(int err);
/* Symbolic name ("NC_E_TRUNCATED", or "errno" for system errors); never NULL. */
const char *nc_errname(int err);

#endif
