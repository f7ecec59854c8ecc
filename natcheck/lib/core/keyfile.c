/* Secret files (natcheck/keyfile.h): regular, private, read without blocking. */
#include <natcheck/error.h>
#include <natcheck/keyfile.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nc_read_secret_file(const char *path, void *buf, size_t cap)
{
	unsigned char *p = buf;
	struct stat st;
	size_t n = 0;
	ssize_t k;
	int err = 0;
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. O_NOCTTY: a
	 * terminal named by mistake must not become our controlling one. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -NC_E_NOT_REGULAR;
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		err = -NC_E_FILE_MODE;
		goto out;
	}
	/* One byte past cap tells a file that is too large from one that fills buf exactly. */
	for (;;) {
		unsigned char extra;
		if (n < cap)
			k = read(fd, p + n, cap - n);
		else
			k = read(fd, &extra, 1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (k == 0)
			break;
		if (n == cap) {
			err = -NC_E_RANGE;
			break;
		}
		n += (size_t)k;
	}
out:
	close(fd);
	if (err < 0) {
		explicit_bzero(buf, cap);
		return err;
	}
	return (int)n;
}

char *nc_secret_file_error(const char *path, int err, char *msg, size_t cap)
{
	struct stat st;

	if (err == -NC_E_FILE_MODE && stat(path, &st) == 0)
		snprintf(msg, cap, "%s: %s (mode %04o): run 'chmod 600 %s'", path, nc_strerror(err),
			 (unsigned)(st.st_mode & 07777), path);
	else if (err == -NC_E_FILE_MODE)
		snprintf(msg, cap, "%s: %s: run 'chmod 600 %s'", path, nc_strerror(err), path);
	else if (err == -NC_E_NOT_REGULAR)
		snprintf(msg, cap, "%s: %s (a FIFO, socket, device or directory cannot hold a key)", path,
			 nc_strerror(err));
	else if (err == -NC_E_RANGE)
		snprintf(msg, cap, "%s: larger than a key file can be", path);
	else
		snprintf(msg, cap, "%s: %s", path, nc_strerror(err));
	return msg;
}
