/* What natcheck --submit and --resend will do, as a small program for the integration tests
 * (the CLI gets the same calls when the lead wires its flags):
 *
 *   submit_driver submit URL RESULT.json OUTBOX [VENDOR]   prints the document on stderr,
 *                                                          then "stored ID" or "saved FILE"
 *   submit_driver resend URL OUTBOX                        prints "left N"
 *   submit_driver document RESULT.json [VENDOR]            prints the document (compact)
 * Retries are quick here (3 tries, 200 ms backoff) so tests stay short. */
#include <natcheck/result.h>
#include <natcheck/outcome.h>
#include <natcheck/submit.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void told(void *ctx, const char *file, int rc, const struct nc_submit_status *st)
{
	(void)ctx;
	fprintf(stderr, "resend %s: %s\n", file, rc == 0 ? "stored" : st->message);
}

/* check-outcome FILE...: the outcome reader's verdict on each file, one line each ("ok" or
 * "refused: MESSAGE"), for the schema agreement test. */
static int check_outcomes(int n, char **files)
{
	for (int i = 0; i < n; i++) {
		struct nc_punch_outcome o;
		char *text = NULL, err[200];
		size_t cap = 0;
		FILE *f = fopen(files[i], "r");
		ssize_t len = f ? getdelim(&text, &cap, '\0', f) : -1;
		if (f)
			fclose(f);
		if (len < 0) {
			printf("refused: cannot read %s\n", files[i]);
		} else if (nc_punch_outcome_from_json(text, (size_t)len, &o, err, sizeof(err)) <
			   0) {
			printf("refused: %s\n", err);
		} else {
			printf("ok\n");
		}
		free(text);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct nc_submit_cfg cfg = {.attempts = 3, .backoff_ms = 200, .timeout_ms = 5000};
	struct nc_submit_status st;
	static struct nc_result r;
	char err[256], id[NC_SUBMIT_ID_LEN], *text = NULL, *doc;
	size_t cap = 0;
	ssize_t len;
	FILE *f;

	if (argc >= 4 && strcmp(argv[1], "resend") == 0) {
		cfg.url = argv[2];
		cfg.outbox = argv[3];
		int left = nc_submit_resend(&cfg, told, NULL);
		printf("left %d\n", left);
		return left == 0 ? 0 : 1;
	}
	if (argc >= 3 && strcmp(argv[1], "check-outcome") == 0)
		return check_outcomes(argc - 2, argv + 2);
	bool document = argc >= 3 && strcmp(argv[1], "document") == 0;
	if (!document && (argc < 5 || strcmp(argv[1], "submit") != 0)) {
		fprintf(stderr, "usage: submit_driver submit URL RESULT.json OUTBOX [VENDOR]\n"
				"       submit_driver resend URL OUTBOX\n"
				"       submit_driver document RESULT.json [VENDOR]\n");
		return 2;
	}
	const char *file = document ? argv[2] : argv[3];
	cfg.url = document ? NULL : argv[2];
	cfg.outbox = document ? NULL : argv[4];
	cfg.vendor = document ? (argc > 3 ? argv[3] : NULL) : (argc > 5 ? argv[5] : NULL);
	f = fopen(file, "r");
	if (!f || (len = getdelim(&text, &cap, '\0', f)) < 0) {
		fprintf(stderr, "submit_driver: cannot read %s\n", file);
		return 1;
	}
	fclose(f);
	if (nc_result_from_json(text, (size_t)len, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "submit_driver: %s: %s\n", file, err);
		return 1;
	}
	free(text);
	doc = nc_submit_document(&cfg, &r, id);
	if (!doc)
		return 1;
	if (document) {
		/* One line: the benchmark sends it as it is, with its own key per request. */
		for (char *c = doc; *c; c++)
			if (*c == '\n')
				*c = ' ';
		printf("%s\n", doc);
		free(doc);
		return 0;
	}
	fprintf(stderr, "%s\n", doc);
	int rc = nc_submit(&cfg, doc, &st);
	fprintf(stderr, "submit_driver: %s\n", st.message);
	if (rc == 0)
		printf("stored %s %s\n", st.id, id);
	else
		printf("saved %s\n", st.saved[0] ? st.saved : "-");
	free(doc);
	return rc == 0 ? 0 : 1;
}
