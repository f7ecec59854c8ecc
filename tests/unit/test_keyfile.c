/* Secret files (natcheck/keyfile.h): regular files of mode 0600 or stricter only; FIFOs,
 * devices and directories refused without blocking; size bound; the messages' remedies; and
 * the coordination key loader (ncp_key_load) applying the same rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <natcheck/keyfile.h>
#include "ncproto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/nc-keyfile-XXXXXX";
static char path[256];

static void put(const char *name, const char *text, mode_t mode)
{
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	(void)state;
	/* A FIFO that is opened blocking would hang the test: let SIGALRM end it instead. */
	alarm(20);
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_private_regular_file(void **state)
{
	char buf[64];
	(void)state;
	put("k", "secret\n", 0600);
	assert_int_equal(nc_read_secret_file(path, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "secret\n", 7);
	put("k", "secret\n", 0400);
	assert_int_equal(nc_read_secret_file(path, buf, sizeof(buf)), 7);
	/* Exactly cap bytes fit; one more does not. */
	put("k", "12345678", 0600);
	assert_int_equal(nc_read_secret_file(path, buf, 8), 8);
	put("k", "123456789", 0600);
	memset(buf, 'q', sizeof(buf));
	assert_int_equal(nc_read_secret_file(path, buf, 8), -NC_E_RANGE);
	assert_int_equal(buf[0], 0); /* nothing of the file is left behind on error */
	/* An empty file reads as 0 bytes (the key parser then refuses it). */
	put("k", "", 0600);
	assert_int_equal(nc_read_secret_file(path, buf, sizeof(buf)), 0);
}

static void test_open_modes_refused(void **state)
{
	static const mode_t bad[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601, 0666, 0660};
	char buf[64], msg[512], want[300];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put("k", "secret\n", bad[i]);
		assert_int_equal(nc_read_secret_file(path, buf, sizeof(buf)), -NC_E_FILE_MODE);
	}
	put("k", "secret\n", 0644);
	nc_secret_file_error(path, -NC_E_FILE_MODE, msg, sizeof(msg));
	assert_non_null(strstr(msg, "(mode 0644)"));
	snprintf(want, sizeof(want), "run 'chmod 600 %s'", path);
	assert_non_null(strstr(msg, want));
	assert_true(strncmp(msg, path, strlen(path)) == 0);
}

static void test_not_regular_refused(void **state)
{
	char buf[64], msg[512], lnk[300];
	(void)state;
	/* A FIFO with no writer: a blocking open would wait forever. */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(nc_read_secret_file(path, buf, sizeof(buf)), -NC_E_NOT_REGULAR);
	nc_secret_file_error(path, -NC_E_NOT_REGULAR, msg, sizeof(msg));
	assert_non_null(strstr(msg, "not a regular file"));
	assert_int_equal(nc_read_secret_file("/dev/null", buf, sizeof(buf)), -NC_E_NOT_REGULAR);
	assert_int_equal(nc_read_secret_file(dir, buf, sizeof(buf)), -NC_E_NOT_REGULAR);
	assert_int_equal(nc_read_secret_file("/nonexistent/nc-key", buf, sizeof(buf)), -ENOENT);
	/* A symbolic link to a private regular file is followed: the rule applies to the target. */
	put("target", "secret\n", 0600);
	snprintf(lnk, sizeof(lnk), "%s/link", dir);
	assert_int_equal(symlink(path, lnk), 0);
	assert_int_equal(nc_read_secret_file(lnk, buf, sizeof(buf)), 7);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(nc_read_secret_file(lnk, buf, sizeof(buf)), -NC_E_FILE_MODE);
}

static void test_key_loader_same_rule(void **state)
{
	static const char hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	uint8_t key[NCP_KEY_LEN];
	(void)state;
	put("key", hex, 0600);
	assert_int_equal(ncp_key_load(path, key), 0);
	assert_int_equal(key[31], 0x1f);
	put("key", hex, 0644);
	assert_int_equal(ncp_key_load(path, key), -NC_E_FILE_MODE);
	snprintf(path, sizeof(path), "%s/keyfifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(ncp_key_load(path, key), -NC_E_NOT_REGULAR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_regular_file),
		cmocka_unit_test(test_open_modes_refused),
		cmocka_unit_test(test_not_regular_refused),
		cmocka_unit_test(test_key_loader_same_rule),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
