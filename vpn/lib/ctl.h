/* punchvpn's control socket: a Unix stream socket per interface, RUN_DIR/IFNAME.sock (RUN_DIR
 * is /run/punchvpn, or $PUNCHVPN_RUN_DIR), mode 0600. A client sends one line, the daemon
 * answers and closes:
 *
 *   "status"       the text status      "status json"   the JSON status
 *   "down"         "ok", then the daemon tears the interface down and exits */
#ifndef VPN_CTL_H
#define VPN_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

const char *ctl_dir(void);
/* RUN_DIR/name.sock into buf; -NC_E_NOSPACE if it does not fit a sockaddr_un. */
int ctl_path(char *buf, size_t cap, const char *name);
/* Binds and listens; refuses (-EADDRINUSE) when a live daemon answers there already. */
int ctl_listen(const char *name, char *err, size_t errlen);
/* Reads one request line from a freshly accepted connection (bounded wait). */
int ctl_read_request(int fd, char *line, size_t cap);
/* Sends cmd to the daemon of interface name and copies its answer to out. */
int ctl_request(const char *name, const char *cmd, FILE *out, char *err, size_t errlen);
/* Interface names with a socket in RUN_DIR, into names[max][16]; returns the count. */
size_t ctl_list(char names[][16], size_t max);

#endif
