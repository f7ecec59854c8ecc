#include "config.h"

#include <natcheck/error.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "numparse.h"

#define CFG_MAX_FILE (1 << 20)

enum section { SEC_NONE, SEC_INTERFACE, SEC_PEER };

struct parser {
	struct vpn_cfg *cfg;
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
	enum section sec;
	bool have_priv, have_server, have_server_pub, have_mtu, have_natcheck, have_port_mapping;
	unsigned natcheck_line, outcome_line;
	bool peer_have_pub;
};

static int fail(struct parser *p, int rc, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%u: %s", p->name, p->line, msg);
	return rc;
}

int vpn_prefix_parse(const char *s, struct vpn_prefix *out)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	struct vpn_prefix p;
	double len;
	unsigned max;

	if (n == 0 || n >= sizeof(ip))
		return -NC_E_PARSE;
	memcpy(ip, s, n);
	ip[n] = '\0';
	memset(&p, 0, sizeof(p));
	if (nc_addr_parse_ip(ip, &p.ip) != 0)
		return -NC_E_PARSE;
	max = p.ip.family == AF_INET ? 32 : 128;
	if (slash) {
		if (nc_parse_number(slash + 1, 0, max, true, &len) != 0)
			return -NC_E_PARSE;
		p.len = (uint8_t)len;
	} else {
		p.len = (uint8_t)max;
	}
	*out = p;
	return 0;
}

bool vpn_prefix_contains(const struct vpn_prefix *p, const struct nc_addr *a)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (p->ip.family != a->family)
		return false;
	if (memcmp(p->ip.ip, a->ip, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xFF << (8 - rest));
		if ((p->ip.ip[full] & mask) != (a->ip[full] & mask))
			return false;
	}
	return true;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A comma-separated prefix list appended to list[*n]. */
static int parse_prefixes(struct parser *p, char *v, struct vpn_prefix *list, size_t *n,
			  const char *key)
{
	char *save = NULL, *tok;

	for (tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		if (*tok == '\0')
			continue;
		if (*n >= VPN_CFG_MAX_PREFIXES)
			return fail(p, -NC_E_RANGE, "%s: more than %d prefixes", key,
				    VPN_CFG_MAX_PREFIXES);
		if (vpn_prefix_parse(tok, &list[*n]) != 0)
			return fail(p, -NC_E_PARSE, "%s: '%s' is not an address/prefix", key, tok);
		(*n)++;
	}
	if (*n == 0)
		return fail(p, -NC_E_PARSE, "%s: empty list", key);
	return 0;
}

static int parse_key(struct parser *p, const char *v, uint8_t out[VPN_KEY_LEN], const char *key,
		     bool secret)
{
	if (vpn_key_from_b64(out, v) == 0)
		return 0;
	/* A secret value is never echoed into a message. */
	if (secret)
		return fail(p, -NC_E_PARSE, "%s: not a base64 key (44 characters)", key);
	return fail(p, -NC_E_PARSE, "%s: '%s' is not a base64 key (44 characters)", key, v);
}

static int parse_endpoint(struct parser *p, const char *v, struct nc_addr *out, const char *key)
{
	if (nc_addr_parse(v, 0, out) != 0 || out->port == 0)
		return fail(p, -NC_E_PARSE,
			    "%s: '%s' is not IP:PORT (numeric, e.g. 192.0.2.1:51900 or [2001:db8::1]:51900)",
			    key, v);
	return 0;
}

const char *vpn_cfg_outcome_log_invalid(const char *path)
{
	if (path[0] != '/')
		return "is not an absolute path";
	if (strlen(path) >= VPN_CFG_PATH_MAX)
		return "is too long";
	for (const char *q = path; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return "holds a control character";
	return NULL;
}

static int parse_interface(struct parser *p, const char *k, char *v)
{
	struct vpn_cfg *c = p->cfg;
	double num;
	char kerr[512];
	int rc;

	if (!strcasecmp(k, "PrivateKey") || !strcasecmp(k, "PrivateKeyFile")) {
		if (p->have_priv)
			return fail(p, -NC_E_PARSE, "a second private key (PrivateKey or PrivateKeyFile)");
		if (!strcasecmp(k, "PrivateKey")) {
			if ((rc = parse_key(p, v, c->priv, k, true)) != 0)
				return rc;
			c->priv_inline = true;
		} else if ((rc = vpn_key_load_file(c->priv, v, kerr, sizeof(kerr))) != 0) {
			return fail(p, rc, "PrivateKeyFile: %s", kerr);
		}
		if (vpn_key_public(c->pub, c->priv) != 0)
			return fail(p, -NC_E_INVALID, "%s: the key is not a usable X25519 key", k);
		p->have_priv = true;
		return 0;
	}
	if (!strcasecmp(k, "Address"))
		return parse_prefixes(p, v, c->address, &c->n_address, k);
	if (!strcasecmp(k, "ListenPort")) {
		if (nc_parse_number(v, 0, 65535, true, &num) != 0)
			return fail(p, -NC_E_PARSE, "ListenPort: '%s' is not a port (0-65535)", v);
		c->listen_port = (uint16_t)num;
		return 0;
	}
	if (!strcasecmp(k, "MTU")) {
		if (nc_parse_number(v, 576, 9000, true, &num) != 0)
			return fail(p, -NC_E_PARSE, "MTU: '%s' is not a number in 576-9000", v);
		c->mtu = (unsigned)num;
		p->have_mtu = true;
		return 0;
	}
	if (!strcasecmp(k, "Server")) {
		p->have_server = true;
		return parse_endpoint(p, v, &c->server, k);
	}
	if (!strcasecmp(k, "NatCheck")) {
		p->have_natcheck = true;
		p->natcheck_line = p->line;
		return parse_endpoint(p, v, &c->natcheck, k);
	}
	if (!strcasecmp(k, "PortMapping")) {
		if (strcasecmp(v, "on") && strcasecmp(v, "off"))
			return fail(p, -NC_E_PARSE, "PortMapping: '%s' is neither on nor off", v);
		c->port_mapping = !strcasecmp(v, "on");
		p->have_port_mapping = true;
		return 0;
	}
	if (!strcasecmp(k, "OutcomeLog")) {
		const char *why = vpn_cfg_outcome_log_invalid(v);

		if (p->outcome_line)
			return fail(p, -NC_E_PARSE, "a second OutcomeLog (line %u has one)",
				    p->outcome_line);
		if (why)
			return fail(p, -NC_E_PARSE, "OutcomeLog: '%.200s' %s", v, why);
		snprintf(c->outcome_log, sizeof(c->outcome_log), "%s", v);
		p->outcome_line = p->line;
		return 0;
	}
	if (!strcasecmp(k, "ServerPublicKey")) {
		p->have_server_pub = true;
		return parse_key(p, v, c->server_pub, k, false);
	}
	return fail(p, -NC_E_PARSE, "unknown key '%s' in [Interface]", k);
}

static int parse_peer(struct parser *p, const char *k, char *v)
{
	struct vpn_peer_cfg *peer = &p->cfg->peers[p->cfg->n_peers - 1];
	double num;
	int rc;

	if (!strcasecmp(k, "PublicKey")) {
		if (p->peer_have_pub)
			return fail(p, -NC_E_PARSE, "a second PublicKey in this [Peer]");
		if ((rc = parse_key(p, v, peer->pub, k, false)) != 0)
			return rc;
		p->peer_have_pub = true;
		return 0;
	}
	if (!strcasecmp(k, "AllowedIPs"))
		return parse_prefixes(p, v, peer->allowed, &peer->n_allowed, k);
	if (!strcasecmp(k, "Endpoint"))
		return parse_endpoint(p, v, &peer->endpoint, k);
	if (!strcasecmp(k, "PersistentKeepalive")) {
		if (nc_parse_number(v, 0, 3600, true, &num) != 0)
			return fail(p, -NC_E_PARSE, "PersistentKeepalive: '%s' is not seconds (0-3600)", v);
		peer->keepalive_s = (uint16_t)num;
		return 0;
	}
	return fail(p, -NC_E_PARSE, "unknown key '%s' in [Peer]", k);
}

/* Checks that close a [Peer] section (at its end: the next header or the end of file). */
static int finish_peer(struct parser *p)
{
	struct vpn_cfg *c = p->cfg;
	struct vpn_peer_cfg *peer;
	unsigned save = p->line;
	int rc = 0;

	if (p->sec != SEC_PEER)
		return 0;
	peer = &c->peers[c->n_peers - 1];
	p->line = peer->line;
	if (!p->peer_have_pub)
		rc = fail(p, -NC_E_PARSE, "[Peer] without PublicKey");
	for (size_t i = 0; rc == 0 && i + 1 < c->n_peers; i++)
		if (sodium_memcmp(c->peers[i].pub, peer->pub, VPN_KEY_LEN) == 0)
			rc = fail(p, -NC_E_PARSE, "[Peer] repeats the PublicKey of the peer at line %u",
				  c->peers[i].line);
	p->line = save;
	return rc;
}

static int new_peer(struct parser *p)
{
	struct vpn_cfg *c = p->cfg;
	struct vpn_peer_cfg *np;

	if (c->n_peers >= VPN_CFG_MAX_PEERS)
		return fail(p, -NC_E_RANGE, "more than %d peers", VPN_CFG_MAX_PEERS);
	np = realloc(c->peers, (c->n_peers + 1) * sizeof(*np));
	if (!np)
		return fail(p, -NC_E_NOMEM, "out of memory");
	c->peers = np;
	memset(&np[c->n_peers], 0, sizeof(*np));
	np[c->n_peers].line = p->line;
	c->n_peers++;
	p->peer_have_pub = false;
	return 0;
}

static int parse_line(struct parser *p, char *line)
{
	char *hash = strchr(line, '#'), *eq, *k, *v;
	int rc;

	if (hash)
		*hash = '\0';
	line = trim(line);
	if (*line == '\0')
		return 0;
	if (*line == '[') {
		if ((rc = finish_peer(p)) != 0)
			return rc;
		if (!strcasecmp(line, "[Interface]")) {
			if (p->sec == SEC_INTERFACE || p->have_priv || p->cfg->n_address)
				return fail(p, -NC_E_PARSE, "a second [Interface] section");
			p->sec = SEC_INTERFACE;
			return 0;
		}
		if (!strcasecmp(line, "[Peer]")) {
			p->sec = SEC_PEER;
			return new_peer(p);
		}
		return fail(p, -NC_E_PARSE, "unknown section '%s' (expect [Interface] or [Peer])", line);
	}
	eq = strchr(line, '=');
	if (!eq)
		return fail(p, -NC_E_PARSE, "expect 'Key = Value' or a [Section] header");
	*eq = '\0';
	k = trim(line);
	v = trim(eq + 1);
	if (*k == '\0')
		return fail(p, -NC_E_PARSE, "missing key before '='");
	if (*v == '\0')
		return fail(p, -NC_E_PARSE, "%s: empty value", k);
	switch (p->sec) {
	case SEC_INTERFACE:
		return parse_interface(p, k, v);
	case SEC_PEER:
		return parse_peer(p, k, v);
	default:
		return fail(p, -NC_E_PARSE, "'%s' before any [Interface] or [Peer] section", k);
	}
}

static int finish(struct parser *p)
{
	struct vpn_cfg *c = p->cfg;
	bool v6 = false;
	int rc;

	if ((rc = finish_peer(p)) != 0)
		return rc;
	if (!p->have_priv) {
		snprintf(p->err, p->errlen, "%s: [Interface] needs PrivateKey or PrivateKeyFile", p->name);
		return -NC_E_PARSE;
	}
	if (c->n_address == 0) {
		snprintf(p->err, p->errlen, "%s: [Interface] needs Address", p->name);
		return -NC_E_PARSE;
	}
	if (p->have_server != p->have_server_pub) {
		snprintf(p->err, p->errlen, "%s: Server and ServerPublicKey go together", p->name);
		return -NC_E_PARSE;
	}
	if (p->have_natcheck && !p->have_server) {
		snprintf(p->err, p->errlen, "%s:%u: NatCheck without Server (the profile is for punchvpnd)",
			 p->name, p->natcheck_line);
		return -NC_E_PARSE;
	}
	if (p->outcome_line && !p->have_server) {
		snprintf(p->err, p->errlen,
			 "%s:%u: OutcomeLog without Server (attempts start at punchvpnd's introductions)",
			 p->name, p->outcome_line);
		return -NC_E_PARSE;
	}
	if (!p->have_port_mapping)
		c->port_mapping = true;
	if (p->have_server && !p->have_natcheck) {
		/* natcheck-reflector beside punchvpnd, on STUN's port. */
		c->natcheck = c->server;
		c->natcheck.port = 3478;
	}
	for (size_t i = 0; i < c->n_address; i++)
		v6 |= c->address[i].ip.family == AF_INET6;
	if (!p->have_mtu)
		c->mtu = VPN_MTU_DEFAULT;
	else if (v6 && c->mtu < 1280) {
		snprintf(p->err, p->errlen, "%s: MTU %u is below IPv6's minimum of 1280", p->name, c->mtu);
		return -NC_E_RANGE;
	}
	for (size_t i = 0; i < c->n_peers; i++)
		if (sodium_memcmp(c->peers[i].pub, c->pub, VPN_KEY_LEN) == 0) {
			snprintf(p->err, p->errlen, "%s:%u: [Peer] has this interface's own public key",
				 p->name, c->peers[i].line);
			return -NC_E_PARSE;
		}
	return 0;
}

int vpn_cfg_parse(struct vpn_cfg *cfg, const char *text, const char *name, char *err,
		  size_t errlen)
{
	struct parser p = {.cfg = cfg, .name = name, .err = err, .errlen = errlen};
	char *copy, *line, *next;
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	copy = strdup(text);
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -NC_E_NOMEM;
	}
	for (line = copy; line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p.line++;
		if (strlen(line) > 4096) {
			rc = fail(&p, -NC_E_PARSE, "line too long");
			break;
		}
		rc = parse_line(&p, line);
	}
	if (rc == 0)
		rc = finish(&p);
	/* The copy may hold a PrivateKey line. */
	sodium_memzero(copy, strlen(text));
	free(copy);
	if (rc != 0)
		vpn_cfg_free(cfg);
	return rc;
}

int vpn_cfg_load(struct vpn_cfg *cfg, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	memset(cfg, 0, sizeof(*cfg));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CFG_MAX_FILE) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB", path);
		rc = -NC_E_INVALID;
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		rc = -NC_E_NOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	if (memchr(text, '\0', got)) {
		snprintf(err, errlen, "%s: binary data (a NUL byte) in a text file", path);
		rc = -NC_E_PARSE;
		goto out;
	}
	rc = vpn_cfg_parse(cfg, text, path, err, errlen);
	/* A PrivateKey written inline makes the file a key file: same rule as PrivateKeyFile. */
	if (rc == 0 && cfg->priv_inline && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		vpn_cfg_free(cfg);
		snprintf(err, errlen,
			 "%s: holds a PrivateKey but is accessible by group or others (mode %04o); "
			 "run: chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		rc = -NC_E_FILE_MODE;
	}
out:
	if (text) {
		sodium_memzero(text, got);
		free(text);
	}
	close(fd);
	return rc;
}

void vpn_cfg_free(struct vpn_cfg *cfg)
{
	sodium_memzero(cfg->priv, sizeof(cfg->priv));
	free(cfg->peers);
	cfg->peers = NULL;
	cfg->n_peers = 0;
}
