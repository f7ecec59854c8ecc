/* Port mapping for the tunnel's UDP port (issue 11 §2): the gateway is asked, through
 * libnatcheck (<natcheck/portmap.h>), to forward an external UDP port to the tunnel's own port,
 * by NAT-PMP, then PCP, then UPnP-IGD (the first that grants one). The mapping is refreshed at
 * half its lifetime (RFC 6886 §3.3; retried with backoff when a refresh fails), given up once
 * it has expired anyway, asked for again when the network changes, and deleted on stop.
 *
 * A gateway's claimed external address is only worth advertising when it is the address the
 * rest of the world sees: punchvpnd's REGISTERED says what that is (vpnmap_set_observed). A
 * gateway behind a second NAT (CGNAT, a second home router) grants mappings on an address
 * nobody outside can reach, so such a mapping is held (it still helps peers behind the same
 * upstream NAT) but kept out of the advertisement, with the reason in words.
 *
 * Threads: the protocol exchanges block (up to a few seconds each, UPnP's HTTP included), so
 * they run on a thread of vpnmap's own; the device's loop polls vpnmap_fd() and reads
 * vpnmap_state() when it becomes readable (a mapping came or went, its endpoint or the
 * advertisement changed, a refresh went through). Every other call returns at once, except
 * vpnmap_stop, which returns within the bound it is given.
 *
 * The module never logs (the device logs what changed) and installs no signal handler: a
 * SIGTERM or SIGINT handler sets the device's flag, and the device's teardown calls
 * vpnmap_stop from its own thread. */
#ifndef VPN_VPNMAP_H
#define VPN_VPNMAP_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord.h"

#define VPNMAP_LIFETIME_S  7200 /* asked for per mapping (RFC 6886 §3.3 recommends it) */
#define VPNMAP_RETRY_MAX_S 300	/* longest wait between rounds when no gateway answers */
#define VPNMAP_STOP_MS	   3000 /* vpnmap_stop's bound when given 0 */
#define VPNMAP_WHY_LEN	   320

enum vpnmap_status {
	VPNMAP_IDLE = 0,    /* not started */
	VPNMAP_SEARCHING,   /* asking the gateway for a mapping */
	VPNMAP_MAPPED,	    /* holding one */
	VPNMAP_NO_GATEWAY,  /* no IPv4 default route: nobody to ask (until the network changes) */
	VPNMAP_UNAVAILABLE, /* the gateway granted no mapping by any protocol; asking again later */
	VPNMAP_STOPPED,	    /* vpnmap_stop ran (or is running): every mapping is being deleted */
};

struct vpnmap_cfg {
	uint16_t port;		 /* the tunnel's UDP port: internal, and the external one asked */
	uint32_t lifetime_s;	 /* asked per mapping; 0: VPNMAP_LIFETIME_S */
	unsigned protos;	 /* bit (1u << enum nc_pm_proto) per protocol; 0: all three */
	struct nc_addr gateway;	 /* unset: the default route's, looked up on every round */
	uint16_t pmp_port;	 /* NAT-PMP/PCP server port; 0: 5351 */
	uint32_t map_timeout_ms; /* each exchange; 0: libnatcheck's (2 s) */
	uint32_t retry_max_s;	 /* 0: VPNMAP_RETRY_MAX_S */
};

struct vpnmap_state {
	enum vpnmap_status status;
	enum coord_pm proto;	  /* COORD_PM_NONE unless MAPPED */
	struct nc_addr gateway;	  /* the gateway asked last (unset: none) */
	struct nc_addr external;  /* the mapping's external ip:port, as the gateway claims it */
	struct nc_addr observed;  /* the public address punchvpnd saw (unset: not told yet) */
	bool advertise;		  /* reachable from outside: put it in the profile */
	char why[VPNMAP_WHY_LEN]; /* the state in words; why it is not advertised */
	uint32_t lifetime_s;	  /* granted (0 = permanent, UPnP only) */
	uint32_t expires_in_s;	  /* until the mapping lapses unless refreshed (0: none held) */
	uint32_t next_in_ms;	  /* until the next refresh or attempt */
	unsigned failures;	  /* consecutive failed attempts or refreshes */
	uint64_t refreshes;	  /* successful refreshes since the mapping was made */
	uint64_t generation;	  /* grows with every change vpnmap_fd reports */
};

struct vpnmap;

/* Starts the thread, which asks for the first mapping at once. Returns 0, -NC_E_INVALID
 * (port 0, an IPv6 gateway), -NC_E_NOMEM or -errno. */
int vpnmap_start(struct vpnmap **vm, const struct vpnmap_cfg *cfg);
/* An eventfd, readable when the state changed; vpnmap_state drains it. */
int vpnmap_fd(const struct vpnmap *vm);
void vpnmap_state(struct vpnmap *vm, struct vpnmap_state *out);
/* The public address punchvpnd observed (its REGISTERED); NULL or unset forgets it. The
 * advertisement is judged again at once. */
void vpnmap_set_observed(struct vpnmap *vm, const struct nc_addr *observed);
/* The host's addresses or routes changed: the mapping (if any) is deleted, best effort and
 * bounded, and a new one asked for from the gateway the routes now name. The observed address
 * is forgotten too (it may have changed): call vpnmap_set_observed on the next REGISTERED. */
void vpnmap_network_changed(struct vpnmap *vm);
/* Stops the thread and deletes every mapping it made, all within about within_ms (0:
 * VPNMAP_STOP_MS; an exchange under way is cancelled first, which takes up to about a second
 * of it). Frees vm (NULL is fine). Returns how many mappings could not be deleted (they expire
 * with their lifetime). Not async-signal-safe: call it from the device's teardown. */
int vpnmap_stop(struct vpnmap *vm, uint32_t within_ms);

/* The registration profile's port-mapping fields from the state: proto and external endpoint
 * when the mapping is advertised, COORD_PM_NONE and an unset endpoint otherwise (a mapping
 * nobody outside can reach, or none). */
void vpnmap_fill_profile(const struct vpnmap_state *st, struct coord_profile *prof);

/* "idle", "searching", "mapped", "no-gateway", "unavailable", "stopped". */
const char *vpnmap_status_name(enum vpnmap_status s);
/* "none", "nat-pmp", "pcp", "upnp-igd". */
const char *vpnmap_pm_name(enum coord_pm pm);

/* --- the pure parts (vpnmap_sm.c), exposed for the unit test -------------------------------
 *
 * The schedule as a state machine over a caller's clock (ms): what is due, and what follows
 * from each outcome. The thread runs it with CLOCK_MONOTONIC; the unit test with a fake one. */

enum vpnmap_act {
	VPNMAP_ACT_NONE = 0, /* nothing due yet: wait until vpnmap_sm.due_ms */
	VPNMAP_ACT_ACQUIRE,  /* ask the gateway, protocol by protocol */
	VPNMAP_ACT_REFRESH,  /* renew the mapping held */
	VPNMAP_ACT_RELEASE,  /* delete it (the network changed), then acquire again */
};

enum vpnmap_outcome { VPNMAP_OK = 0, VPNMAP_FAILED, VPNMAP_NO_GW };

struct vpnmap_sm {
	enum vpnmap_status status;
	bool mapped;	     /* a mapping is held (the gateway has it, as far as we know) */
	bool net_changed;    /* a network change waits to be acted on */
	uint64_t due_ms;     /* when the next attempt or refresh is due */
	uint64_t expires_ms; /* when the mapping held lapses (UINT64_MAX: permanent) */
	uint32_t lifetime_s; /* granted */
	unsigned failures;   /* consecutive failures (of the attempt or refresh kind) */
	uint64_t refreshes;
	uint32_t ask_s; /* lifetime asked for */
	uint32_t retry_max_ms;
};

#define VPNMAP_RETRY_FIRST_MS 1000u /* first wait after a failure; doubles */
#define VPNMAP_REFRESH_MIN_MS 500u  /* no refresh or retry comes sooner than this */

void vpnmap_sm_init(struct vpnmap_sm *sm, uint32_t ask_s, uint32_t retry_max_s, uint64_t now);
/* What is due at now. */
enum vpnmap_act vpnmap_sm_next(const struct vpnmap_sm *sm, uint64_t now);
/* The outcome of act (granted: the lifetime the gateway granted, for ACQUIRE and REFRESH
 * with VPNMAP_OK). A failed refresh keeps the mapping until it expires; after that it is
 * lost (mapped turns false) and the next step is a new attempt. RELEASE always ends with
 * nothing held and an attempt due at once. */
void vpnmap_sm_done(struct vpnmap_sm *sm, enum vpnmap_act act, enum vpnmap_outcome out,
		    uint32_t granted, uint64_t now);
void vpnmap_sm_net_changed(struct vpnmap_sm *sm, uint64_t now);

/* Whether a mapping's external address may be advertised, given the observed public
 * address; writes the reason in words either way. */
bool vpnmap_judge(const struct nc_addr *external, const struct nc_addr *observed, char *why,
		  size_t len);

#endif
