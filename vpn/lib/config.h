/* punchvpn's configuration file, in WireGuard's style:
 *
 *   [Interface]
 *   PrivateKey = <base64>          (or PrivateKeyFile = /path, mode 0600)
 *   Address = 10.100.0.1/24        (one or more, comma-separated; IPv4 or IPv6)
 *   ListenPort = 51900             (0 or absent: any port)
 *   MTU = 1420                     (576..9000 for IPv4-only, 1280.. with IPv6 addresses)
 *   Server = 198.18.1.1:51901      (punchvpnd, optional; with ServerPublicKey)
 *   ServerPublicKey = <base64>
 *   NatCheck = 198.18.1.1:3478     (natcheck-reflector for the NAT profile; default: Server's
 *                                   address, port 3478; only with Server)
 *   OutcomeLog = /var/lib/punchvpn/outcomes
 *                                  (optional, only with Server: a directory for one anonymised
 *                                   punch-outcome document per connection attempt, outlog.h;
 *                                   an absolute path; made at `up` when missing)
 *
 *   [Peer]                         (any number)
 *   PublicKey = <base64>
 *   AllowedIPs = 10.100.0.2/32, fd00::2/128
 *   Endpoint = 198.18.0.2:51900    (optional: a static endpoint, numeric)
 *   PersistentKeepalive = 25       (optional, seconds, 0 = off)
 *
 * '#' starts a comment; keys are case-insensitive as in wg-quick. Every error names the file
 * and the line. The private key is held in the struct and wiped by vpn_cfg_free. */
#ifndef VPN_CONFIG_H
#define VPN_CONFIG_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"

#define VPN_MTU_DEFAULT 1420
#define VPN_CFG_MAX_PREFIXES 32
#define VPN_CFG_MAX_PEERS 1024
#define VPN_CFG_PATH_MAX 1024 /* OutcomeLog, with its NUL */

struct vpn_prefix {
	struct nc_addr ip; /* port unused */
	uint8_t len;       /* prefix length in bits */
};

struct vpn_peer_cfg {
	uint8_t pub[VPN_KEY_LEN];
	struct vpn_prefix allowed[VPN_CFG_MAX_PREFIXES];
	size_t n_allowed;
	struct nc_addr endpoint; /* unset when the peer has no static endpoint */
	uint16_t keepalive_s;
	unsigned line; /* of its [Peer] header, for later messages */
};

struct vpn_cfg {
	uint8_t priv[VPN_KEY_LEN];
	uint8_t pub[VPN_KEY_LEN];
	bool priv_inline; /* PrivateKey in the file itself (not PrivateKeyFile) */
	struct vpn_prefix address[VPN_CFG_MAX_PREFIXES];
	size_t n_address;
	uint16_t listen_port;
	unsigned mtu;
	struct nc_addr server; /* unset without a rendezvous server */
	uint8_t server_pub[VPN_KEY_LEN];
	struct nc_addr natcheck; /* the reflector for the NAT profile (set with server) */
	bool port_mapping;       /* PortMapping = on|off: map the tunnel's port at the gateway
				  * (NAT-PMP, PCP, UPnP-IGD; with Server only; default on) */
	char outcome_log[VPN_CFG_PATH_MAX]; /* OutcomeLog directory; "" = none */
	struct vpn_peer_cfg *peers;
	size_t n_peers;
};

/* Parses the file at path into *cfg (zeroed first). On error returns a negative code, frees
 * what was built and writes "PATH:LINE: reason" (or "PATH: reason") into err. */
int vpn_cfg_load(struct vpn_cfg *cfg, const char *path, char *err, size_t errlen);
/* Same, from text already in memory; name stands for the file in messages. */
int vpn_cfg_parse(struct vpn_cfg *cfg, const char *text, const char *name, char *err,
		  size_t errlen);
/* Whether path can be an OutcomeLog directory (absolute, shorter than VPN_CFG_PATH_MAX, no
 * control characters): NULL when it can, else why not (for "OutcomeLog: '%s' <why>"). */
const char *vpn_cfg_outcome_log_invalid(const char *path);
/* Wipes the private key and frees the peers. */
void vpn_cfg_free(struct vpn_cfg *cfg);

/* "10.0.0.1/24" or "fd00::1/64" (no length: a host prefix). Returns 0 or -NC_E_PARSE. */
int vpn_prefix_parse(const char *s, struct vpn_prefix *out);
/* Whether ip (family and bytes of a) lies inside p. */
bool vpn_prefix_contains(const struct vpn_prefix *p, const struct nc_addr *a);

#endif
