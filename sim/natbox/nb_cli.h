/* natbox command line and configuration sources: flags, and a natcheck result document
 * (--from-result) whose measured behaviour natbox then replays. Pure: no I/O but the result
 * file read in nb_cli_parse() and the printing functions. */
#ifndef NB_CLI_H
#define NB_CLI_H

#include "nb_nat.h"
#include <natcheck/result.h>

#include <stdbool.h>
#include <stdio.h>

#define NB_IFNAMSIZ 16

struct nb_opts {
	struct nb_config cfg;
	char tun[NB_IFNAMSIZ];
	char lan_if[NB_IFNAMSIZ];
	char wan_if[NB_IFNAMSIZ];
	const char *pidfile;
	const char *logfile;
	const char *from_result;
	int verbose;
	bool dry_run;
};

enum { NB_CLI_RUN = 0, NB_CLI_EXIT = 1 }; /* EXIT: --help / --version printed */

/* Parses argv into *o (defaults first, then --from-result, then the other flags in order,
 * so explicit flags override the document). Returns NB_CLI_RUN, NB_CLI_EXIT or a negative
 * error with a message naming the bad flag and value in err. */
int nb_cli_parse(int argc, char **argv, struct nb_opts *o, char *err, size_t errlen);

/* Sets the fields of c that r measured; unknown fields leave c alone. Writes one line per
 * field taken ("mapping=ad (udp.mapping)") into log. */
void nb_config_from_result(struct nb_config *c, const struct nc_result *r, char *log,
			   size_t loglen);

/* One "key=value" per line; the same keys as the flags. */
void nb_config_print(FILE *f, const struct nb_config *c);
void nb_usage(FILE *f);

#endif
