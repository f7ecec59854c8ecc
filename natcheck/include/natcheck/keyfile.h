/* Secret files (shared keys, private keys): one reader with one rule for every program.
 *
 * A secret file must be a regular file (after following symbolic links, so a key mounted
 * through a link still works) that neither group nor others may read or write (mode 0600 or
 * stricter, as OpenSSH requires of private keys). Anything else is refused, never warned
 * about: a key others could read is already disclosed, and one they could write is theirs.
 *
 * The file is opened with O_NONBLOCK and checked with fstat() before the first read, so a
 * FIFO, a socket or a device named by mistake is refused at once instead of blocking the
 * program (a daemon that blocks there before its signal handling is set up cannot even be
 * stopped). */
#ifndef NATCHECK_KEYFILE_H
#define NATCHECK_KEYFILE_H

#include <stddef.h>

/* Reads the whole file into buf. Returns the byte count (0..cap) or a negative error:
 * -NC_E_NOT_REGULAR, -NC_E_FILE_MODE, -NC_E_RANGE (larger than cap), or -errno from
 * open/read (-ENOENT, -EACCES, ...). On error buf holds nothing of the file. The caller
 * wipes buf after use. */
int nc_read_secret_file(const char *path, void *buf, size_t cap);

/* A one-line message for an error of nc_read_secret_file() on path, with what to do about it
 * ("key: readable or writable by group or others (mode 0644): run 'chmod 600 key'").
 * Returns msg. */
char *nc_secret_file_error(const char *path, int err, char *msg, size_t cap);

#endif
