/* Dropping root for good, one function for every daemon of the suite (natcheck-reflector,
 * natcheck-collector, punchvpnd): they bind their sockets and read their keys as root, then
 * call this before they read a byte from the network.
 *
 * The order is fixed and every step checked (as OpenSMTPD does): supplementary groups (only
 * the user's own group is kept), then the gid, then the uid (real, effective and saved, with
 * setresgid/setresuid), then a check that the way back is closed (neither setuid(0) nor
 * seteuid(0) succeeds). */
#ifndef NATCHECK_PRIVDROP_H
#define NATCHECK_PRIVDROP_H

/* Becomes user (a name, for --user). Logs one line through <natcheck/log.h> whatever happens,
 * so every daemon says the same:
 *   dropped                  info  "running as user NAME"                         returns 0
 *   started as NAME already  info  "not started as root: --user NAME has nothing to drop"  0
 *   NAME is root             warn  "--user root: staying root, as asked"           returns 0
 *   no such user             error "--user NAME: no such user"                     -NC_E_INVALID
 *   not root, another user   error "--user NAME: only root can switch users (running as uid N)"
 *                                                                                   -EPERM
 *   a step failed            error "cannot drop privileges to 'NAME': <strerror>"  -errno
 *   root could come back     error "privileges could be regained after dropping them;
 *                                   refusing to run"                                -EPERM
 * The caller exits on a negative return. */
int nc_drop_privileges(const char *user);

#endif
