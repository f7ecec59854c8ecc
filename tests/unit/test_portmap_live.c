/* Port mapping against a real gateway (driven by tests/integration/test_portmap_miniupnpd.sh).
 *
 * Without NC_PM_GATEWAY in the environment it exits 77, which ctest reports as skipped (never
 * as passed). With it, the mode comes
 * from NC_PM_MODE:
 *
 *   probe  nc_pm_probe(); NC_PM_EXPECT=present checks that all three protocols are present with
 *          external address NC_PM_EXTERNAL, NC_PM_EXPECT=absent that all three are absent; both
 *          check that the probe returned within its budget (NC_PM_BUDGET_MS, default 500) plus
 *          NC_PM_SLACK_MS (default 150).
 *   map    maps UDP port NC_PM_PORT (default 40000) + i through each protocol i (NAT-PMP, PCP,
 *          UPnP), prints "MAPPED <proto> <external> -> <internal>" per mapping and "READY",
 *          then waits for a signal: SIGUSR1 deletes each mapping with nc_pm_unmap(), SIGINT or
 *          SIGTERM with nc_pm_unmap_all() (the Ctrl-C path: the handler only sets a flag, the
 *          main loop deletes). Prints "UNMAPPED <n left>" and checks nothing is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include "netutil.h"
#include "portmap.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static unsigned env_u(const char *name, unsigned dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return dflt;
	v = strtoul(s, &end, 10);
	if (*end || v > 65535) {
		fprintf(stderr, "bad %s '%s'\n", name, s);
		exit(2);
	}
	return (unsigned)v;
}

static void trace(void *arg, const char *line)
{
	(void)arg;
	printf("# %s\n", line);
}

static void cfg_from_env(struct nc_pm_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	assert_int_equal(nc_addr_parse_ip(getenv("NC_PM_GATEWAY"), &cfg->gateway), 0);
	cfg->budget_ms = env_u("NC_PM_BUDGET_MS", NC_PM_DEFAULT_BUDGET_MS);
	cfg->trace = trace;
}

static void live_probe(void)
{
	struct nc_pm_cfg cfg;
	struct nc_portmap_result out[NC_PM_COUNT];
	const char *expect = getenv("NC_PM_EXPECT");
	const char *ext = getenv("NC_PM_EXTERNAL");
	char a[NC_ADDR_STRLEN];
	uint64_t t0, ms;

	cfg_from_env(&cfg);
	t0 = nc_now_us();
	assert_int_equal(nc_pm_probe(&cfg, out), 0);
	ms = (nc_now_us() - t0) / 1000;
	printf("elapsed %llu ms\n", (unsigned long long)ms);
	for (int p = 0; p < NC_PM_COUNT; p++)
		printf("%s present=%s external=%s error=%s\n", nc_pm_proto_name((enum nc_pm_proto)p),
		       out[p].present == NC_TRI_YES  ? "yes"
		       : out[p].present == NC_TRI_NO ? "no"
						     : "unknown",
		       nc_addr_is_set(&out[p].external) ? nc_addr_ip_str(&out[p].external, a) : "-",
		       out[p].error[0] ? out[p].error : "-");
	fflush(stdout);
	assert_true(ms <= cfg.budget_ms + env_u("NC_PM_SLACK_MS", 150));
	for (int p = 0; p < NC_PM_COUNT; p++) {
		assert_true(out[p].tested);
		if (expect && strcmp(expect, "present") == 0) {
			assert_int_equal(out[p].present, NC_TRI_YES);
			if (ext)
				assert_string_equal(nc_addr_ip_str(&out[p].external, a), ext);
		} else if (expect && strcmp(expect, "absent") == 0) {
			assert_int_equal(out[p].present, NC_TRI_NO);
			assert_true(out[p].error[0] != '\0');
		}
	}
}

static void live_map(void)
{
	struct nc_pm_cfg cfg;
	struct nc_pm_registry reg;
	struct nc_pm_mapping m[NC_PM_COUNT];
	struct sigaction sa;
	sigset_t block, old;
	unsigned port = env_u("NC_PM_PORT", 40000);
	char err[NC_NOTE_LEN], a[NC_ADDR_STRLEN], b[NC_ADDR_STRLEN];
	int failed = 0;

	cfg_from_env(&cfg);
	memset(&reg, 0, sizeof(reg));
	/* Signals stay blocked except inside sigsuspend, so none is lost between the check of the
	 * flag and the wait. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);

	for (int p = 0; p < NC_PM_COUNT; p++) {
		int r = nc_pm_map(&cfg, &reg, (enum nc_pm_proto)p, (uint16_t)(port + (unsigned)p), 600,
				  &m[p], err, sizeof(err));
		if (r < 0) {
			printf("MAPFAIL %s %s\n", nc_pm_proto_name((enum nc_pm_proto)p), err);
			failed++;
			continue;
		}
		printf("MAPPED %s %s -> %s lifetime %u\n", nc_pm_proto_name((enum nc_pm_proto)p),
		       nc_addr_str(&m[p].external, a), nc_addr_str(&m[p].internal, b),
		       m[p].lifetime_s);
	}
	printf("READY %u\n", nc_pm_registry_count(&reg));
	fflush(stdout);

	while (!got_signal)
		sigsuspend(&old);
	if (got_signal == SIGUSR1) {
		for (int p = 0; p < NC_PM_COUNT; p++) {
			if (!m[p].live)
				continue;
			if (nc_pm_unmap(&reg, &m[p], err, sizeof(err)) < 0) {
				printf("UNMAPFAIL %s\n", err);
				failed++;
			}
		}
	} else {
		printf("signal %d: deleting every mapping\n", (int)got_signal);
		failed += nc_pm_unmap_all(&reg);
	}
	printf("UNMAPPED %u\n", nc_pm_registry_count(&reg));
	fflush(stdout);
	sigprocmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(nc_pm_registry_count(&reg), 0);
	assert_int_equal(failed, 0);
}

static void test_live(void **state)
{
	const char *mode = getenv("NC_PM_MODE");
	(void)state;

	if (!getenv("NC_PM_GATEWAY")) {
		print_message("NC_PM_GATEWAY not set: no gateway to talk to\n");
		skip();
	}
	if (!mode || strcmp(mode, "probe") == 0)
		live_probe();
	else if (strcmp(mode, "map") == 0)
		live_map();
	else
		fail_msg("unknown NC_PM_MODE '%s'", mode);
}

int main(void)
{
	if (!getenv("NC_PM_GATEWAY")) {
		printf("SKIP: NC_PM_GATEWAY not set (tests/integration/test_portmap_miniupnpd.sh "
		       "drives this against miniupnpd)\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
