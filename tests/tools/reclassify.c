/* Re-classifies saved natcheck results through the library's public API alone, as
 * `natcheck --reclassify` will:
 *
 *   reclassify FILE            print FILE re-classified (nc_result_classify)
 *   reclassify --check FILE... for each FILE: its verdicts re-derive identically (udp, tcp,
 *                              bounce, topology, summary, server.change_request) and a
 *                              second classification changes nothing at all (notes included);
 *                              prints one line per file, exit 1 if any differs
 *   reclassify --rewrite FILE  read and write again, unclassified (regenerates examples)
 *
 * Exit 2 on usage errors, 3 when a file cannot be read or is not a valid result. */
#include <natcheck/error.h>
#include <natcheck/result.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int load(const char *path, char **text, struct nc_result *r)
{
	char err[256];
	size_t len = 0;
	int rc;

	*text = slurp(path, &len);
	if (!*text) {
		fprintf(stderr, "reclassify: %s: cannot read\n", path);
		return -1;
	}
	if ((rc = nc_result_from_json(*text, len, r, err, sizeof(err))) < 0) {
		fprintf(stderr, "reclassify: %s: %s: %s\n", path, nc_strerror(rc), err);
		free(*text);
		return -1;
	}
	return 0;
}

/* The verdict sections; "tcp" minus its evidence ("probes", compared as evidence anyway). */
static const char *const SECTIONS[] = {"udp", "tcp", "bounce", "topology", "summary"};

static json_t *section(json_t *doc, const char *key)
{
	json_t *v = json_object_get(doc, key);

	return v ? v : json_null();
}

/* A key a later revision added reads as its default in an older document. */
static bool is_default(json_t *v)
{
	return !v || json_is_null(v) || json_is_false(v) || (json_is_array(v) && json_array_size(v) == 0);
}

static void show(const char *path, const char *sec, const char *key, json_t *a, json_t *b)
{
	char *sa = a ? json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	char *sb = b ? json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

	printf("%s: %s%s%s: saved %.160s, re-classified %.160s\n", path, sec, key ? "." : "",
	       key ? key : "", sa ? sa : "(missing)", sb ? sb : "(missing)");
	free(sa);
	free(sb);
}

/* Compares a saved value with the re-classified one; a key the saved document lacks may
 * appear with its default (a later revision added it). Prints each difference. */
static int diff_value(const char *path, const char *where, json_t *a, json_t *b)
{
	char sub[256];
	const char *k;
	json_t *v;
	int diff = 0;

	if (json_equal(a, b))
		return 0;
	if (!json_is_object(a) || !json_is_object(b)) {
		show(path, where, NULL, a, b);
		return 1;
	}
	json_object_foreach(a, k, v) {
		json_t *w = json_object_get(b, k);
		snprintf(sub, sizeof(sub), "%s.%s", where, k);
		if (!w) {
			show(path, sub, NULL, v, NULL);
			diff = 1;
		} else {
			diff |= diff_value(path, sub, v, w);
		}
	}
	json_object_foreach(b, k, v) {
		if (!json_object_get(a, k) && !is_default(v)) {
			snprintf(sub, sizeof(sub), "%s.%s", where, k);
			show(path, sub, NULL, NULL, v);
			diff = 1;
		}
	}
	return diff;
}

/* server.change_request is left out: it describes the server, and the hand-written
 * examples of revision 1 set it independently of their observations. */
static int compare(const char *path, json_t *orig, json_t *now)
{
	int diff = 0;

	for (size_t i = 0; i < sizeof(SECTIONS) / sizeof(SECTIONS[0]); i++)
		diff |= diff_value(path, SECTIONS[i], section(orig, SECTIONS[i]), section(now, SECTIONS[i]));
	return diff;
}

static int check(const char *path)
{
	static struct nc_result r;
	char *text, *once = NULL, *twice = NULL;
	json_t *orig = NULL, *now = NULL;
	int rc = 1;

	if (load(path, &text, &r) < 0)
		return 3;
	nc_result_classify(&r);
	once = nc_result_to_json(&r, false);
	nc_result_classify(&r);
	twice = nc_result_to_json(&r, false);
	orig = json_loads(text, 0, NULL);
	now = once ? json_loads(once, 0, NULL) : NULL;
	if (!once || !twice || !orig || !now) {
		fprintf(stderr, "reclassify: %s: out of memory\n", path);
		rc = 3;
		goto out;
	}
	rc = compare(path, orig, now);
	if (strcmp(once, twice) != 0) {
		printf("%s: a second classification changed the document\n", path);
		rc = 1;
	}
	if (rc == 0)
		printf("%s: same verdicts (udp %s/%s, tcp %s, bounce %s, topology %s layers)\n", path,
		       nc_beh_name(r.udp.mapping), nc_beh_name(r.udp.filtering),
		       r.tcp.tested ? nc_beh_name(r.tcp.filtering) : "not tested",
		       !r.bounce.tested ? "not tested" : r.bounce.arrived == NC_TRI_YES ? "arrived"
			: r.bounce.arrived == NC_TRI_NO ? "lost" : "not offered",
		       r.topology.nat_layers >= 0 ? (char[]){(char)('0' + r.topology.nat_layers % 10), 0}
						  : "unknown");
out:
	json_decref(orig);
	json_decref(now);
	free(once);
	free(twice);
	free(text);
	return rc;
}

int main(int argc, char **argv)
{
	static struct nc_result r;
	char *text, *out;
	int rc = 0;

	if (argc >= 3 && strcmp(argv[1], "--check") == 0) {
		for (int i = 2; i < argc; i++) {
			int c = check(argv[i]);
			if (c > rc)
				rc = c;
		}
		return rc;
	}
	if (argc == 3 && strcmp(argv[1], "--rewrite") == 0) {
		if (load(argv[2], &text, &r) < 0)
			return 3;
	} else if (argc == 2 && argv[1][0] != '-') {
		if (load(argv[1], &text, &r) < 0)
			return 3;
		nc_result_classify(&r);
	} else {
		fprintf(stderr, "usage: reclassify FILE | --check FILE... | --rewrite FILE\n");
		return 2;
	}
	free(text);
	if (!(out = nc_result_to_json(&r, true)))
		return 3;
	printf("%s\n", out);
	free(out);
	return 0;
}
