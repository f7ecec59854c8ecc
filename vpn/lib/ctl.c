#include "ctl.h"

#include <natcheck/error.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

const char *ctl_dir(void)
{
	const char *d = getenv("PUNCHVPN_RUN_DIR");
	return d && *d ? d : "/run/punchvpn";
}

int ctl_path(char *buf, size_t cap, const char *name)
{
	struct sockaddr_un sun;
	int n = snprintf(buf, cap, "%s/%s.sock", ctl_dir(), name);

	if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof(sun.sun_path))
		return -NC_E_NOSPACE;
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int ctl_listen(const char *name, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char path[sizeof(sun.sun_path)];
	mode_t old;
	int fd, rc;

	if (ctl_path(path, sizeof(path), name) != 0) {
		snprintf(err, errlen, "control socket path too long under %s", ctl_dir());
		return -NC_E_NOSPACE;
	}
	if (mkdir(ctl_dir(), 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", ctl_dir(), strerror(errno));
		return rc;
	}
	fd = connect_to(path);
	if (fd >= 0) {
		close(fd);
		snprintf(err, errlen, "%s: a punchvpn for %s is already running", path, name);
		return -EADDRINUSE;
	}
	unlink(path); /* stale, from a daemon that died */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return rc;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	old = umask(0077);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0 || listen(fd, 8) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int ctl_read_request(int fd, char *line, size_t cap)
{
	struct timeval tv = {.tv_sec = 1};
	size_t got = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got + 1 < cap) {
		ssize_t n = read(fd, line + got, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (line[got] == '\n')
			break;
		got++;
	}
	line[got] = '\0';
	return got ? 0 : -NC_E_PROTOCOL;
}

int ctl_request(const char *name, const char *cmd, FILE *out, char *err, size_t errlen)
{
	char path[108], buf[4096];
	int fd;
	ssize_t n;

	if (ctl_path(path, sizeof(path), name) != 0) {
		snprintf(err, errlen, "control socket path too long");
		return -NC_E_NOSPACE;
	}
	fd = connect_to(path);
	if (fd < 0) {
		snprintf(err, errlen, "%s: no punchvpn running for %s (%s)", path, name, strerror(-fd));
		return fd;
	}
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, out);
	close(fd);
	return 0;
}

size_t ctl_list(char names[][16], size_t max)
{
	DIR *dir = opendir(ctl_dir());
	struct dirent *e;
	size_t n = 0;

	if (!dir)
		return 0;
	while ((e = readdir(dir)) && n < max) {
		size_t len = strlen(e->d_name);
		if (len > 5 && len - 5 < 16 && strcmp(e->d_name + len - 5, ".sock") == 0) {
			memcpy(names[n], e->d_name, len - 5);
			names[n][len - 5] = '\0';
			n++;
		}
	}
	closedir(dir);
	return n;
}
