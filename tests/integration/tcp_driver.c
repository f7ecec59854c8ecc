/* Test driver for the TCP integration tests (tests/integration/test_tcp_*.sh build it against
 * libnatcheck): the UDP probe, the third-party bounce and the TCP probe, as natcheck's CLI will
 * run them, printing the natcheck-result JSON.
 *
 *   tcp_driver [--tcp-full] [--no-udp] A1:P1 */
#include <natcheck/error.h>
#include "ncproto.h"
#include "probe.h"
#include <natcheck/result.h>
#include "tcpprobe.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void trace(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

int main(int argc, char **argv)
{
	static struct nc_result r;
	struct nc_probe_cfg ucfg = {0};
	struct nc_tcp_cfg tcfg = {0};
	struct nc_bounce_cfg bcfg = {0};
	struct nc_addr from;
	bool full = false, udp = true;
	int arrived = -1, i, err;
	uint64_t t0, t1;
	char *json;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--tcp-full"))
			full = true;
		else if (!strcmp(argv[i], "--no-udp"))
			udp = false;
	}
	if (argc < 2 || sodium_init() < 0 || nc_addr_parse(argv[argc - 1], 3478, &ucfg.server) < 0) {
		fprintf(stderr, "usage: tcp_driver [--tcp-full] [--no-udp] A1[:P1]\n");
		return 2;
	}
	nc_result_init(&r);
	if (udp) {
		ucfg.trace = trace;
		if ((err = nc_probe_udp(&ucfg, &r)) < 0)
			fprintf(stderr, "udp: %s\n", nc_strerror(err));
		bcfg.server = ucfg.server;
		bcfg.trace = trace;
		if (nc_probe_bounce_udp(&bcfg, &arrived, &from) == 0)
			nc_bounce_fold(&r, arrived, &from);
	}
	tcfg.server = ucfg.server;
	tcfg.other = r.server.other;
	tcfg.full = full;
	tcfg.trace = trace;
	t0 = nc_now_us();
	if ((err = nc_probe_tcp(&tcfg, &r)) < 0)
		fprintf(stderr, "tcp: %s\n", nc_strerror(err));
	t1 = nc_now_us();
	fprintf(stderr, "tcp probe took %llu ms; bounce %d\n", (unsigned long long)((t1 - t0) / 1000), arrived);
	/* As the run call ends: every verdict once more from the record, the classifier's notes
	 * marked as its own (a re-classification of this document then changes nothing). */
	nc_result_classify(&r);
	json = nc_result_to_json(&r, true);
	if (!json)
		return 1;
	printf("%s\n", json);
	free(json);
	return 0;
}
