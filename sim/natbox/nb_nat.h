/* natbox NAT table: a pure translator, no I/O, no clock of its own, no global state.
 *
 * nb_translate_out() takes a datagram sent by an internal host, nb_translate_in() one that
 * arrived from outside for an external address; each returns a verdict and, unless the verdict
 * is a drop, the datagram to write back to the TUN (the rewritten packet, or an answer natbox
 * generates itself: ICMP unreachable, TCP RST, echo reply). nb_translate() picks the direction
 * from the configured LAN prefixes and WAN addresses.
 *
 * Behaviours follow RFC 4787 (UDP) and RFC 5382 (TCP): mapping (§4.1), port assignment (§4.2:
 * preservation, sequential with a delta, random; parity; port blocks per host; overloading),
 * address pooling (paired / arbitrary), filtering (§5), hairpinning (§6, with or without
 * filtering, external or internal source), binding lifetime with outbound-only or two-way
 * refresh (§4.3). ICMP echo identifiers are mapped like ports (RFC 5508). ICMP errors about a
 * mapped flow have their quoted header translated (RFC 5508 §4.2).
 *
 * And misbehaviours that real routers show and natcheck must report (issue 13): a naive STUN
 * ALG (rewrites MAPPED-ADDRESS of inbound Binding responses from the external to the internal
 * endpoint, recomputes the UDP checksum, leaves FINGERPRINT stale and XOR-MAPPED-ADDRESS
 * alone), first-fit port allocation that overloads ports as early as it can, and unstable
 * bindings that move to a new external port while in use. */
#ifndef NB_NAT_H
#define NB_NAT_H

#include "nb_pkt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NB_MAX_WAN 16
#define NB_MAX_LAN 8

enum nb_beh { NB_BEH_EI = 0, NB_BEH_AD, NB_BEH_APD };
enum nb_alloc { NB_ALLOC_PRESERVE = 0, NB_ALLOC_SEQUENTIAL, NB_ALLOC_RANDOM, NB_ALLOC_FIRST_FIT };
enum nb_pool { NB_POOL_PAIRED = 0, NB_POOL_ARBITRARY };
enum nb_hairpin { NB_HP_OFF = 0, NB_HP_EXTERNAL, NB_HP_INTERNAL };
enum nb_refresh { NB_REFRESH_OUTBOUND = 0, NB_REFRESH_BOTH };
enum nb_unsol { NB_UNSOL_DROP = 0, NB_UNSOL_ICMP, NB_UNSOL_RST };

struct nb_prefix {
	uint32_t net, mask; /* host byte order */
};

struct nb_config {
	enum nb_beh mapping;
	enum nb_beh filtering;
	enum nb_alloc alloc;
	int32_t delta;            /* sequential: added to the counter per new mapping */
	uint16_t port_lo, port_hi;
	bool parity_keep;
	uint32_t block_size;      /* 0 = no blocks; else ports per internal host */
	bool overload;
	enum nb_pool pool;
	uint32_t wan_ip[NB_MAX_WAN];
	unsigned n_wan;
	struct nb_prefix lan[NB_MAX_LAN];
	unsigned n_lan;
	enum nb_hairpin hairpin;
	bool hairpin_filter;
	uint32_t lifetime_s;      /* UDP and ICMP echo bindings */
	enum nb_refresh refresh;
	uint32_t tcp_est_s;       /* TCP, SYN seen both ways and not closing */
	uint32_t tcp_trans_s;     /* TCP, before the handshake completes */
	uint32_t tcp_close_s;     /* TCP after FIN both ways or RST */
	uint32_t loss_ppm;        /* packet loss, parts per million (impairment, see nb_delay.h) */
	uint32_t delay_ms, jitter_ms;
	uint64_t seed;
	bool seeded;              /* seed given by the user (else main draws one) */
	enum nb_unsol unsolicited;
	uint32_t max_mappings;
	/* Misbehaviours real routers show (issue 13). */
	bool stun_alg;            /* rewrite MAPPED-ADDRESS in inbound Binding responses */
	uint32_t remap_s;         /* 0 = stable; else a binding moves to a new external port
				   * every remap_s seconds while it lives */
	uint32_t blackout_ms;     /* link wake-up: drop everything for this long after ... */
	uint32_t blackout_idle_ms; /* ... the first packet that follows this much silence */
};

enum nb_verdict {
	NB_DROP = 0, /* nothing to send */
	NB_FORWARD,  /* out holds the translated datagram */
	NB_REPLY,    /* out holds an answer natbox made (ICMP error, RST, echo reply) */
};

enum nb_reason {
	NB_R_OK = 0,
	NB_R_MALFORMED,   /* parser rejected it */
	NB_R_UNSUPPORTED, /* fragment, protocol or ICMP type natbox does not translate */
	NB_R_NOT_OURS,    /* neither from the LAN nor to a WAN address */
	NB_R_NO_MAPPING,  /* inbound, no binding */
	NB_R_FILTERED,    /* inbound, binding exists but filtering refused the source */
	NB_R_HAIRPIN_OFF,
	NB_R_NO_PORT,     /* port range / block exhausted */
	NB_R_TABLE_FULL,
	NB_R_COUNT_
};

struct nb_out {
	enum nb_verdict verdict;
	enum nb_reason reason;
	bool hairpin;
	size_t len;
	uint8_t buf[NB_MAX_PKT];
};

struct nb_stats {
	uint64_t out, in, hairpin, replies;
	uint64_t drops[NB_R_COUNT_];
	uint64_t created, expired;
	uint64_t alg_rewrites; /* MAPPED-ADDRESS attributes the STUN ALG rewrote */
	uint64_t remapped;     /* bindings moved to a new external port (--remap-after) */
};

/* One binding as nb_mapping_get() reports it (for tests and the SIGUSR1 dump). */
struct nb_mapping_info {
	uint8_t proto;
	uint32_t iip, eip;
	uint16_t iport, eport;
	uint32_t rip; /* remote part of the mapping key (0 for EIM) */
	uint16_t rport;
	uint64_t refreshed_ms, expires_ms;
	unsigned n_perm;
};

struct nb_state;

void nb_config_default(struct nb_config *c);
/* Checks consistency (ranges, at least one WAN address, ...); -NC_E_INVALID with a message. */
int nb_config_check(const struct nb_config *c, char *err, size_t errlen);

/* Copies the config. Returns NULL on allocation failure or invalid config. */
struct nb_state *nb_state_new(const struct nb_config *c);
void nb_state_free(struct nb_state *s);
const struct nb_config *nb_state_config(const struct nb_state *s);
const struct nb_stats *nb_state_stats(const struct nb_state *s);

enum nb_verdict nb_translate_out(struct nb_state *s, const uint8_t *pkt, size_t len,
				 uint64_t now_ms, struct nb_out *out);
enum nb_verdict nb_translate_in(struct nb_state *s, const uint8_t *pkt, size_t len,
				uint64_t now_ms, struct nb_out *out);
enum nb_verdict nb_translate(struct nb_state *s, const uint8_t *pkt, size_t len, uint64_t now_ms,
			     struct nb_out *out);

/* Removes bindings idle past their lifetime; returns how many. Lookups also ignore expired
 * bindings, so this only frees memory: the lifetime is exact without it. */
size_t nb_expire(struct nb_state *s, uint64_t now_ms);
size_t nb_count(const struct nb_state *s);
/* The i-th live binding in table order (0 <= i < capacity); false if slot i is empty. */
bool nb_mapping_get(const struct nb_state *s, size_t i, struct nb_mapping_info *info);
size_t nb_capacity(const struct nb_state *s);

/* The state's PRNG (xoshiro256**, seeded from config.seed), shared with the impairment layer. */
uint64_t nb_rand(struct nb_state *s);
uint32_t nb_rand_below(struct nb_state *s, uint32_t n);

const char *nb_reason_name(enum nb_reason r);
const char *nb_beh_name(enum nb_beh b);
const char *nb_alloc_name(enum nb_alloc a);
const char *nb_pool_name(enum nb_pool p);
const char *nb_hairpin_name(enum nb_hairpin h);
const char *nb_refresh_name(enum nb_refresh r);
const char *nb_unsol_name(enum nb_unsol u);

#endif
