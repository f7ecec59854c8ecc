/* The smallest program over libnatcheck: measure the NAT towards one RFC 5780 server and print
 * the result as JSON. Built against natcheck/include alone and linked with natcheck_run
 * (docs/libnatcheck.md; tests/integration/test_example.sh runs it in the lab).
 *
 *   nc_example SERVER_IP[:PORT] [--fast]
 *
 * Ctrl-C stops the run within about a second (test mappings deleted) and still prints what
 * was measured. */
#include <natcheck/addr.h>
#include <natcheck/cancel.h>
#include <natcheck/error.h>
#include <natcheck/result.h>
#include <natcheck/run.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct nc_cancel *cancel;

static void on_sigint(int sig)
{
	(void)sig;
	nc_cancel_fire(cancel); /* async-signal-safe */
}

int main(int argc, char **argv)
{
	struct nc_run_cfg cfg = {0};
	struct nc_result *r;
	char *json;
	int err;

	if (argc < 2 || nc_addr_parse(argv[1], 3478, &cfg.server) < 0) {
		fprintf(stderr, "usage: %s SERVER_IP[:PORT] [--fast]\n", argv[0]);
		return 2;
	}
	cfg.preset = argc > 2 && strcmp(argv[2], "--fast") == 0 ? NC_PRESET_FAST : NC_PRESET_FULL;
	cfg.cancel = cancel = nc_cancel_new();
	signal(SIGINT, on_sigint);

	r = malloc(sizeof(*r)); /* about 40 KB: every probe is kept as an observation */
	if (!r || !cancel)
		return 3;
	err = nc_run(&cfg, r);
	if (err < 0 && err != -NC_E_CANCELLED) {
		fprintf(stderr, "natcheck run failed: %s\n", nc_strerror(err));
		return 3;
	}
	json = nc_result_to_json(r, true);
	if (!json)
		return 3;
	puts(json);
	fprintf(stderr, "mapping %s, filtering %s: %s\n", nc_beh_name(r->udp.mapping),
		nc_beh_name(r->udp.filtering), nc_result_classic_label(r));
	free(json);
	free(r);
	nc_cancel_free(cancel);
	return err == 0 ? 0 : 130;
}
