/* nc_drop_privileges: see <natcheck/privdrop.h>. */
#include <natcheck/error.h>
#include <natcheck/log.h>
#include <natcheck/privdrop.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

int nc_drop_privileges(const char *user)
{
	struct passwd *pw = user ? getpwnam(user) : NULL;
	uid_t uid;
	gid_t gid;
	int rc;

	if (!pw) {
		nc_log_error("--user %s: no such user", user ? user : "(none)");
		return -NC_E_INVALID;
	}
	/* getpwnam's record is static storage: keep what is needed before the next call. */
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (geteuid() != 0) {
		if (uid == geteuid()) {
			nc_log_info("not started as root: --user %s has nothing to drop", user);
			return 0;
		}
		nc_log_error("--user %s: only root can switch users (running as uid %u)", user,
			     (unsigned)geteuid());
		return -EPERM;
	}
	if (uid == 0) {
		nc_log_warnx("--user %s: staying root, as asked", user);
		return 0;
	}
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		rc = -errno;
		nc_log_error("cannot drop privileges to '%s': %s", user, strerror(errno));
		return rc;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || geteuid() == 0) {
		nc_log_error("privileges could be regained after dropping them; refusing to run");
		return -EPERM;
	}
	nc_log_info("running as user %s", user);
	return 0;
}
