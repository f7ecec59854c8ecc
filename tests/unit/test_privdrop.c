/* nc_drop_privileges (natcheck/lib/core/privdrop.c), in forked children so the test process
 * keeps its own identity: as root it drops to nobody for good (groups, gid, uid; setuid(0) and
 * seteuid(0) fail afterwards), keeps root for --user root, refuses an unknown user; once
 * unprivileged it has nothing to drop for its own user and refuses another. Without root only
 * the last two cases and the unknown user run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <natcheck/privdrop.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn in a child; returns its exit status (0 = every check there held). */
static int in_child(int (*fn)(void))
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int drop_to_nobody(void)
{
	struct passwd *pw = getpwnam("nobody");
	gid_t groups[8];
	uid_t r, e, s;

	if (!pw)
		return 10;
	if (nc_drop_privileges("nobody") != 0)
		return 11;
	if (getresuid(&r, &e, &s) != 0 || r != pw->pw_uid || e != pw->pw_uid || s != pw->pw_uid)
		return 12;
	if (getgid() != pw->pw_gid || getegid() != pw->pw_gid)
		return 13;
	if (getgroups(8, groups) != 1 || groups[0] != pw->pw_gid)
		return 14;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 15;
	/* Unprivileged now: its own user has nothing to drop, another user is refused. */
	if (nc_drop_privileges("nobody") != 0)
		return 16;
	if (nc_drop_privileges("root") != -EPERM)
		return 17;
	return 0;
}

static int stay_root(void)
{
	if (nc_drop_privileges("root") != 0)
		return 20;
	return geteuid() == 0 && getuid() == 0 ? 0 : 21;
}

static int unknown_user(void)
{
	if (nc_drop_privileges("no-such-user-natcheck") != -NC_E_INVALID)
		return 30;
	if (nc_drop_privileges(NULL) != -NC_E_INVALID)
		return 31;
	return 0;
}

static int unprivileged(void)
{
	struct passwd *pw = getpwuid(geteuid());

	if (!pw)
		return 40;
	if (nc_drop_privileges(pw->pw_name) != 0)
		return 41;
	return nc_drop_privileges("root") == -EPERM ? 0 : 42;
}

static void test_privdrop(void **state)
{
	(void)state;
	assert_int_equal(in_child(unknown_user), 0);
	if (geteuid() != 0) {
		assert_int_equal(in_child(unprivileged), 0);
		return;
	}
	assert_int_equal(in_child(drop_to_nobody), 0);
	assert_int_equal(in_child(stay_root), 0);
	assert_int_equal(geteuid(), 0); /* the parent is untouched */
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_privdrop)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
