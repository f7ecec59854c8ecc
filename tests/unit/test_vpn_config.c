/* punchvpn keys and configuration: base64 round trip, key files that others can read refused,
 * every config error names file and line, secrets never appear in messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "key.h"

static char priv_b64[VPN_KEY_B64_LEN + 1], pub_b64[VPN_KEY_B64_LEN + 1];
static char peer_b64[VPN_KEY_B64_LEN + 1], peer2_b64[VPN_KEY_B64_LEN + 1];

static int setup(void **state)
{
	uint8_t k[32], p[32];
	(void)state;

	vpn_key_generate(k);
	vpn_key_to_b64(priv_b64, k);
	assert_int_equal(vpn_key_public(p, k), 0);
	vpn_key_to_b64(pub_b64, p);
	vpn_key_generate(k);
	vpn_key_public(p, k);
	vpn_key_to_b64(peer_b64, p);
	vpn_key_generate(k);
	vpn_key_public(p, k);
	vpn_key_to_b64(peer2_b64, p);
	return 0;
}

static void test_key_b64(void **state)
{
	uint8_t k[32], back[32], pub[32];
	char txt[VPN_KEY_B64_LEN + 1], padded[64];
	(void)state;

	vpn_key_generate(k);
	assert_int_equal(k[0] & 7, 0); /* clamped */
	assert_int_equal(k[31] & 0xC0, 0x40);
	vpn_key_to_b64(txt, k);
	assert_int_equal(strlen(txt), 44);
	assert_int_equal(vpn_key_from_b64(back, txt), 0);
	assert_memory_equal(k, back, 32);
	snprintf(padded, sizeof(padded), "  %s\n", txt);
	assert_int_equal(vpn_key_from_b64(back, padded), 0);
	/* RFC 7748 §6.1 Alice: a known public key. */
	assert_int_equal(vpn_key_from_b64(k, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="), 0);
	assert_int_equal(vpn_key_public(pub, k), 0);
	vpn_key_to_b64(txt, pub);
	assert_string_equal(txt, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");

	memset(back, 0xAA, 32);
	assert_int_equal(vpn_key_from_b64(back, ""), -NC_E_PARSE);
	assert_int_equal(vpn_key_from_b64(back, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LC"), -NC_E_PARSE);
	assert_int_equal(vpn_key_from_b64(back, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=x"), -NC_E_PARSE);
	assert_int_equal(vpn_key_from_b64(back, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L!o="), -NC_E_PARSE);
	assert_int_equal(vpn_key_from_b64(back, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCoA"), -NC_E_PARSE);
	assert_true(back[0] == 0xAA && back[31] == 0xAA); /* untouched */
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_key_file_modes(void **state)
{
	char dir[] = "/tmp/vpncfgXXXXXX", path[64], err[512], line[64];
	uint8_t k[32];
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(line, sizeof(line), "%s\n", priv_b64);
	write_file(path, line, 0600);
	assert_int_equal(vpn_key_load_file(k, path, err, sizeof(err)), 0);
	write_file(path, line, 0644);
	assert_int_equal(vpn_key_load_file(k, path, err, sizeof(err)), -NC_E_FILE_MODE);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "chmod 600"));
	assert_null(strstr(err, priv_b64));
	write_file(path, line, 0640);
	assert_int_equal(vpn_key_load_file(k, path, err, sizeof(err)), -NC_E_FILE_MODE);
	write_file(path, "not a key\n", 0600);
	assert_int_equal(vpn_key_load_file(k, path, err, sizeof(err)), -NC_E_PARSE);
	assert_non_null(strstr(err, path));
	unlink(path);
	assert_int_equal(vpn_key_load_file(k, path, err, sizeof(err)), -ENOENT);
	rmdir(dir);
}

static void test_config_good(void **state)
{
	struct vpn_cfg c;
	char text[2048], err[512];
	(void)state;

	snprintf(text, sizeof(text),
		 "# a comment\n[Interface]\nPrivateKey = %s\naddress = 10.100.0.1/24, fd00::1/64\n"
		 "ListenPort = 51900\nServer = 198.18.1.1:51901\nServerPublicKey = %s\n\n"
		 "[Peer]\nPublicKey = %s  # the other end\nAllowedIPs = 10.100.0.2/32\n"
		 "Endpoint = 192.0.2.7:51900\nPersistentKeepalive = 25\n"
		 "[Peer]\nPublicKey = %s\nAllowedIPs = 10.100.0.3/32,10.200.0.0/16\n"
		 "Endpoint = [2001:db8::9]:4000\n",
		 priv_b64, peer_b64, peer_b64, peer2_b64);
	assert_int_equal(vpn_cfg_parse(&c, text, "t.conf", err, sizeof(err)), 0);
	assert_int_equal(c.mtu, VPN_MTU_DEFAULT);
	assert_int_equal(c.listen_port, 51900);
	assert_int_equal(c.n_address, 2);
	assert_int_equal(c.address[1].ip.family, AF_INET6);
	assert_int_equal(c.address[1].len, 64);
	assert_int_equal(c.n_peers, 2);
	assert_int_equal(c.peers[0].keepalive_s, 25);
	assert_int_equal(c.peers[0].endpoint.port, 51900);
	assert_int_equal(c.peers[1].n_allowed, 2);
	assert_int_equal(c.peers[1].endpoint.family, AF_INET6);
	assert_int_equal(c.peers[1].line, 14);
	assert_true(nc_addr_is_set(&c.server));
	assert_true(c.priv_inline);
	assert_string_equal(c.outcome_log, ""); /* none unless asked for */
	vpn_cfg_free(&c);
	assert_true(sodium_is_zero(c.priv, 32));

	/* OutcomeLog, with Server: the directory as written. */
	snprintf(text, sizeof(text),
		 "[Interface]\nPrivateKey = %s\nAddress = 10.100.0.1/24\nServer = 198.18.1.1:51901\n"
		 "ServerPublicKey = %s\noutcomelog = /var/lib/punchvpn/outcomes\n",
		 priv_b64, peer_b64);
	assert_int_equal(vpn_cfg_parse(&c, text, "t.conf", err, sizeof(err)), 0);
	assert_string_equal(c.outcome_log, "/var/lib/punchvpn/outcomes");
	vpn_cfg_free(&c);
	/* Too long for the buffer: refused, not cut. */
	{
		char longp[VPN_CFG_PATH_MAX + 8];

		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		assert_string_equal(vpn_cfg_outcome_log_invalid(longp), "is too long");
		assert_null(vpn_cfg_outcome_log_invalid("/tmp/x"));
	}

	/* Prefix matching. */
	struct vpn_prefix p;
	struct nc_addr a;
	assert_int_equal(vpn_prefix_parse("10.200.0.0/16", &p), 0);
	nc_addr_parse_ip("10.200.9.9", &a);
	assert_true(vpn_prefix_contains(&p, &a));
	nc_addr_parse_ip("10.201.0.1", &a);
	assert_false(vpn_prefix_contains(&p, &a));
	assert_int_equal(vpn_prefix_parse("10.0.0.0/33", &p), -NC_E_PARSE);
	assert_int_equal(vpn_prefix_parse("10.0.0.0/", &p), -NC_E_PARSE);
	assert_int_equal(vpn_prefix_parse("fd00::/129", &p), -NC_E_PARSE);
}

/* Copies body with @K replaced by the private key and @P by a peer's public key. */
static void expand(char *out, size_t cap, const char *body)
{
	size_t o = 0;

	for (const char *s = body; *s && o + 1 < cap; s++) {
		const char *sub = NULL;
		if (s[0] == '@' && s[1] == 'K')
			sub = priv_b64;
		else if (s[0] == '@' && s[1] == 'P')
			sub = peer_b64;
		if (sub) {
			o += (size_t)snprintf(out + o, cap - o, "%s", sub);
			s++;
		} else {
			out[o++] = *s;
		}
	}
	out[o < cap ? o : cap - 1] = '\0';
}

/* Each bad document fails with "t.conf:LINE:" and a word of the reason, never the key. */
static void test_config_errors(void **state)
{
	struct {
		const char *body; /* @K = private key, @P = a peer key */
		const char *where;
		const char *word;
	} cases[] = {
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nBogus = 1\n", "t.conf:4:", "unknown key"},
		{"[Interface]\nPrivateKey = abc\nAddress = 10.0.0.1/24\n", "t.conf:2:", "base64"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.300/24\n", "t.conf:3:", "Address"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nMTU = 99999\n", "t.conf:4:", "MTU"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nMTU = 0x500\n", "t.conf:4:", "MTU"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nListenPort = 70000\n", "t.conf:4:", "ListenPort"},
		{"PrivateKey = @K\n", "t.conf:1:", "before any"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\n[Peer]\nAllowedIPs = 10.0.0.2/32\n", "t.conf:4:", "without PublicKey"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = @P\n[Peer]\nPublicKey = @P\n", "t.conf:6:", "repeats"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = @P\nEndpoint = host:1\n", "t.conf:6:", "IP:PORT"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = @P\nEndpoint = 10.0.0.9\n", "t.conf:6:", "IP:PORT"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\n[Peers]\n", "t.conf:4:", "unknown section"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\njunk\n", "t.conf:4:", "Key = Value"},
		{"[Interface]\nPrivateKey = @K\nPrivateKey = @K\n", "t.conf:3:", "second private key"},
		{"[Interface]\nAddress = 10.0.0.1/24\n", "t.conf:", "PrivateKey"},
		{"[Interface]\nPrivateKey = @K\n", "t.conf:", "Address"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nServer = 1.2.3.4:5\n", "t.conf:", "ServerPublicKey"},
		{"[Interface]\nPrivateKey = @K\nAddress = fd00::1/64\nMTU = 1000\n", "t.conf:", "1280"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nPrivateKeyFile = /nonexistent/k\n", "t.conf:4:", "second"},
		{"[Interface]\nPrivateKeyFile = /nonexistent/k\n", "t.conf:2:", "/nonexistent/k"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nOutcomeLog = outcomes\n", "t.conf:4:", "absolute"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nOutcomeLog = /a\x01b\n", "t.conf:4:", "control"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nOutcomeLog = /a\nOutcomeLog = /b\n", "t.conf:5:", "second OutcomeLog"},
		{"[Interface]\nPrivateKey = @K\nAddress = 10.0.0.1/24\nOutcomeLog = /var/x\n", "t.conf:4:", "without Server"},
	};
	char text[1024], err[512];
	struct vpn_cfg c;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expand(text, sizeof(text), cases[i].body);
		err[0] = '\0';
		int rc = vpn_cfg_parse(&c, text, "t.conf", err, sizeof(err));
		if (rc == 0 || !strstr(err, cases[i].where) || !strstr(err, cases[i].word))
			fail_msg("case %zu: rc %d, message '%s'", i, rc, err);
		assert_null(strstr(err, priv_b64));
		assert_null(c.peers);
	}
	/* The node's own key listed as a peer. */
	snprintf(text, sizeof(text), "[Interface]\nPrivateKey = %s\nAddress = 10.0.0.1/24\n[Peer]\nPublicKey = %s\n",
		 priv_b64, pub_b64);
	assert_int_equal(vpn_cfg_parse(&c, text, "t.conf", err, sizeof(err)), -NC_E_PARSE);
	assert_non_null(strstr(err, "t.conf:4:"));
}

static void test_config_file_modes(void **state)
{
	char dir[] = "/tmp/vpncfgXXXXXX", path[64], kpath[64], text[512], err[512];
	struct vpn_cfg c;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	snprintf(kpath, sizeof(kpath), "%s/key", dir);
	snprintf(text, sizeof(text), "%s\n", priv_b64);
	write_file(kpath, text, 0600);
	/* A config that points at a key file may be readable by others... */
	snprintf(text, sizeof(text), "[Interface]\nPrivateKeyFile = %s\nAddress = 10.0.0.1/24\n", kpath);
	write_file(path, text, 0644);
	assert_int_equal(vpn_cfg_load(&c, path, err, sizeof(err)), 0);
	assert_false(c.priv_inline);
	vpn_cfg_free(&c);
	/* ...but not the key file it points at... */
	chmod(kpath, 0604);
	assert_int_equal(vpn_cfg_load(&c, path, err, sizeof(err)), -NC_E_FILE_MODE);
	assert_non_null(strstr(err, kpath));
	assert_non_null(strstr(err, ":2:"));
	/* ...and not one that holds the key itself. */
	snprintf(text, sizeof(text), "[Interface]\nPrivateKey = %s\nAddress = 10.0.0.1/24\n", priv_b64);
	write_file(path, text, 0640);
	assert_int_equal(vpn_cfg_load(&c, path, err, sizeof(err)), -NC_E_FILE_MODE);
	assert_non_null(strstr(err, path));
	assert_null(strstr(err, priv_b64));
	chmod(path, 0600);
	assert_int_equal(vpn_cfg_load(&c, path, err, sizeof(err)), 0);
	vpn_cfg_free(&c);
	unlink(path);
	unlink(kpath);
	assert_true(vpn_cfg_load(&c, path, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, path));
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_b64),
		cmocka_unit_test(test_key_file_modes),
		cmocka_unit_test(test_config_good),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_file_modes),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
