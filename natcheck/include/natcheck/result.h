/* The natcheck result model: what one run observed (probe records) and what it concluded
 * (verdicts). The same model is written as JSON (schema "natcheck-result", version 1, published
 * in results/schema/natcheck-result.v1.schema.json) by natcheck, read back by the lab's replay
 * and validated by the results collector: nc_result_from_json() is that validator.
 *
 * Conventions: enum value 0 is always "unknown / not tested"; tri-states are JSON true, false
 * or null; endpoints are "ip:port" / "[ip6]:port" strings. */
#ifndef NC_RESULT_H
#define NC_RESULT_H

#include <natcheck/addr.h>

#include <stdbool.h>
#include <stdint.h>

#define NC_RESULT_SCHEMA "natcheck-result"
#define NC_RESULT_VERSION 1

#define NC_MAX_OBS 96
#define NC_MAX_ALLOC 16
#define NC_MAX_NOTES 24
#define NC_NOTE_LEN 200
#define NC_MAX_PUBLIC 8
#define NC_MAX_UNREACHABLE 4

enum nc_tri { NC_TRI_UNKNOWN = 0, NC_TRI_NO, NC_TRI_YES };

/* RFC 4787 §4.1 mapping / §5 filtering behaviour, RFC 5382 for TCP. */
enum nc_beh {
	NC_BEH_UNKNOWN = 0,
	NC_BEH_NONE,     /* no NAT (mapping) / nothing filters (filtering) */
	NC_BEH_EI,       /* endpoint-independent */
	NC_BEH_AD,       /* address-dependent */
	NC_BEH_APD,      /* address-and-port-dependent */
};

/* Port allocation pattern across several internal endpoints (RFC 4787 §4.2). */
enum nc_alloc {
	NC_ALLOC_UNKNOWN = 0,
	NC_ALLOC_PRESERVING, /* external port = internal port */
	NC_ALLOC_SEQUENTIAL, /* each new mapping = previous + delta */
	NC_ALLOC_RANDOM,     /* no pattern found */
};

/* IP address pooling (RFC 4787 §4.1). */
enum nc_pooling {
	NC_POOL_UNKNOWN = 0,
	NC_POOL_SINGLE,    /* one external address seen */
	NC_POOL_PAIRED,    /* several, but one per internal endpoint */
	NC_POOL_ARBITRARY, /* one internal endpoint seen at several external addresses */
};

/* Source address a hairpinned packet carried (RFC 4787 REQ-9 wants the external one). */
enum nc_hairpin_src {
	NC_HP_UNKNOWN = 0,
	NC_HP_EXTERNAL, /* the sender's public mapping */
	NC_HP_INTERNAL, /* the sender's private address */
	NC_HP_OTHER,
};

/* What each probe was for. New roles are appended; their JSON names are in result.c. */
enum nc_role {
	NC_ROLE_MAP_PRIMARY = 0, /* mapping test I:   S_map -> A1:P1 */
	NC_ROLE_MAP_ALT_IP,      /* mapping test II:  S_map -> A2:P1 */
	NC_ROLE_MAP_ALT_BOTH,    /* mapping test III: S_map -> A2:P2 */
	NC_ROLE_MAP_ALT_PORT,    /* port-only change: S_map -> A1:P2 */
	NC_ROLE_MAP_SERVER2,     /* S_map -> a second server given on the command line */
	NC_ROLE_FILTER_CONTROL,  /* filter socket's plain request to A1:P1 (positive control) */
	NC_ROLE_FILTER_IP_PORT,  /* filtering test II: CHANGE-REQUEST ip+port, reply from A2:P2 */
	NC_ROLE_FILTER_PORT,     /* filtering test III: CHANGE-REQUEST port, reply from A1:P2 */
	NC_ROLE_ALLOC,           /* allocation sample: fresh socket -> A1:P1 */
	NC_ROLE_HAIRPIN,         /* S_hp -> S_map's public endpoint; "from" = source S_map saw */
	NC_ROLE_LIFETIME,        /* binding lifetime probe (RESPONSE-PORT) */
	NC_ROLE_COUNT_
};

enum nc_outcome {
	NC_OUT_NONE = 0,     /* not sent */
	NC_OUT_ANSWERED,     /* answer from the expected source */
	NC_OUT_TIMEOUT,      /* no answer before the adaptive deadline */
	NC_OUT_WRONG_SOURCE, /* answered, but from another address than the test needs */
	NC_OUT_ERROR,        /* STUN error response (error_code) */
	NC_OUT_SEND_FAILED,  /* the local stack refused to send (e.g. no route) */
	NC_OUT_MALFORMED,    /* answered, but the answer is unusable: an attribute that does not
			      * decode, no mapped address, or one of another family than asked */
};

/* Why a server that answered gave no usable answer to the primary mapping request (RFC 5780
 * test I): what "udp.server_problem" says instead of "UDP blocked". */
enum nc_server_problem {
	NC_SRV_OK = 0,          /* no problem found (JSON null) */
	NC_SRV_ERRORS,          /* "error-responses": STUN error responses (400, 500, ...) */
	NC_SRV_WRONG_SOURCE,    /* "wrong-source": answers from another address/port than asked */
	NC_SRV_MALFORMED,       /* "malformed-answers": answers that do not decode or make no sense */
};

/* One probe: a request (with its retransmissions) and what came back. */
struct nc_obs {
	uint8_t role;      /* enum nc_role */
	uint8_t socket;    /* index of the local socket that sent it */
	uint8_t outcome;   /* enum nc_outcome */
	uint8_t attempts;  /* transmissions, including the first */
	uint32_t change_flags; /* CHANGE-REQUEST bits sent */
	uint16_t response_port; /* RESPONSE-PORT sent (0 = none) */
	uint16_t error_code;
	uint32_t rtt_us;   /* first transmission to answer (of the transmission answered) */
	uint32_t sent_ms;  /* first transmission, ms after the run started */
	/* Evidence behind a silence (0 = not recorded, as in results written before): the last
	 * transmission and the moment the probe stopped waiting, us after the run started. A
	 * negative verdict needs the probe to have tried at least as long as its positive
	 * control needed to succeed, and to have waited out an RTT after its last copy. */
	uint32_t last_sent_us;
	uint32_t given_up_us;
	bool fp_stale;     /* FINGERPRINT present but wrong: the answer was rewritten on the way */
	struct nc_addr local;   /* local endpoint (the address the kernel sent from) */
	struct nc_addr dest;    /* where the request went */
	struct nc_addr expect;  /* where the answer must come from */
	struct nc_addr from;    /* where it did come from */
	struct nc_addr mapped;  /* MAPPED-ADDRESS */
	struct nc_addr xor_mapped; /* XOR-MAPPED-ADDRESS */
	struct nc_addr response_origin;
	struct nc_addr other;   /* OTHER-ADDRESS or CHANGED-ADDRESS */
};

struct nc_alloc_sample {
	uint16_t local_port;
	struct nc_addr public_ep;
};

struct nc_udp_result {
	enum nc_tri reachable;      /* any answer to a plain Binding */
	enum nc_tri nat;            /* mapped address differs from the local one */
	enum nc_beh mapping;
	enum nc_beh filtering;
	bool mapping_port_only;     /* mapping changed with the port but not with the address */
	struct nc_addr local;       /* S_map's local endpoint */
	struct nc_addr public_ep;   /* S_map's mapping as A1:P1 saw it */
	enum nc_tri port_preserved; /* public port == local port for S_map */
	struct {
		enum nc_alloc pattern;
		int32_t delta;          /* for SEQUENTIAL */
		enum nc_tri parity;     /* port parity kept in every sample */
		/* Port overloading: distinct internal endpoints seen on one public endpoint
		 * (RFC 4787 §4.2.3 says NAT "MUST NOT" do it for NAT-friendly behaviour). */
		enum nc_tri port_overloading;
		uint8_t n;
		struct nc_alloc_sample s[NC_MAX_ALLOC];
	} alloc;
	enum nc_pooling pooling;
	uint8_t n_public;
	struct nc_addr public_ips[NC_MAX_PUBLIC]; /* distinct external addresses seen (port 0) */
	enum nc_tri hairpin;
	enum nc_hairpin_src hairpin_src;
	struct nc_addr hairpin_from;
	enum nc_tri alg;            /* MAPPED-ADDRESS != XOR-MAPPED-ADDRESS somewhere, or a
				     * FINGERPRINT gone stale on the way */
	enum nc_server_problem server_problem; /* why the server's answers were unusable */
	uint32_t rtt_us;            /* smoothed RTT to the primary server */
	/* Binding lifetime (natcheck --lifetime); 0 = not measured. */
	uint32_t lifetime_s;        /* longest idle time the binding survived */
	uint32_t lifetime_upper_s;  /* shortest idle time it did not survive (0 = not found) */
	enum nc_tri inbound_refresh;
};

struct nc_tcp_result {
	bool tested;
	enum nc_beh mapping;
	enum nc_beh filtering;
	enum nc_tri consistent;     /* NAT Check "TCP consistent translation" */
	enum nc_tri simultaneous_open;
	enum nc_tri hairpin;
	char unsolicited[24];       /* "dropped", "rst", "icmp-port-unreachable", "accepted", ... */
	uint32_t unsolicited_ms;    /* when the answer to the unsolicited SYN came */
};

enum nc_pm_proto { NC_PM_NATPMP = 0, NC_PM_PCP, NC_PM_UPNP, NC_PM_COUNT };

struct nc_portmap_result {
	bool tested;
	enum nc_tri present;
	struct nc_addr external;    /* external address the protocol claims */
	enum nc_tri test_mapping;   /* a test packet reached us through the mapping */
	enum nc_tri deleted;        /* the test mapping was removed again */
	char error[NC_NOTE_LEN];    /* error in words, if any */
};

struct nc_topology {
	int8_t nat_layers;          /* -1 unknown */
	enum nc_tri cgnat;
	enum nc_tri double_nat;
};

struct nc_server_info {
	struct nc_addr primary;     /* A1:P1 */
	struct nc_addr other;       /* A2:P2 from OTHER-ADDRESS (unset if none) */
	struct nc_addr secondary;   /* a second server given by the user (unset if none) */
	bool change_supported;      /* CHANGE-REQUEST honoured (answers from the right source) */
	/* An OTHER-ADDRESS (or CHANGED-ADDRESS) the server gave that natcheck refused to send to:
	 * not a unicast endpoint of the server's family and scope (unset if none). */
	struct nc_addr bogus_other;
	/* Server endpoints that never answered a plain request while the primary did (e.g. a
	 * firewall that passes only port 3478): the tests that needed them are unknown. */
	uint8_t n_unreachable;
	struct nc_addr unreachable[NC_MAX_UNREACHABLE];
	char software[128];
};

struct nc_result {
	uint32_t version;           /* NC_RESULT_VERSION */
	char tool_version[32];
	char started[32];           /* ISO 8601 UTC */
	uint32_t duration_ms;
	struct nc_server_info server;
	struct nc_udp_result udp;
	struct nc_tcp_result tcp;
	struct nc_portmap_result portmap[NC_PM_COUNT];
	struct nc_topology topology;
	uint8_t n_notes;
	char notes[NC_MAX_NOTES][NC_NOTE_LEN];
	uint16_t n_obs;
	struct nc_obs obs[NC_MAX_OBS];
};

/* Sets every field to "unknown" (not zero where zero would mean something). */
void nc_result_init(struct nc_result *r);
/* Appends a note (printf format); silently drops it if the list is full. */
void nc_result_note(struct nc_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Names for enum values as the JSON and the report use them; parse returns -NC_E_SCHEMA. */
const char *nc_beh_name(enum nc_beh b);          /* "endpoint-independent", ... "none", "unknown" */
const char *nc_alloc_name(enum nc_alloc a);
const char *nc_pooling_name(enum nc_pooling p);
const char *nc_hairpin_src_name(enum nc_hairpin_src h);
const char *nc_role_name(enum nc_role r);
const char *nc_outcome_name(enum nc_outcome o);
const char *nc_pm_proto_name(enum nc_pm_proto p);
const char *nc_server_problem_name(enum nc_server_problem p); /* "error-responses", ...; NULL for OK */
int nc_beh_parse(const char *s, enum nc_beh *out);

/* Derived, plain-words verdicts (pure functions of the result). */
const char *nc_result_classic_label(const struct nc_result *r); /* "full cone", "symmetric", ... */
/* One sentence on UDP hole punching; written into buf, which is returned. */
const char *nc_result_punch_verdict(const struct nc_result *r, char *buf, size_t len);

/* Exit statuses a program maps a result to (natcheck documents them): */
#define NC_EXIT_OK 0         /* the run completed, whatever the NAT does */
#define NC_EXIT_NO_ANSWER 1  /* no server answered at all: UDP blocked, or the servers are down */
#define NC_EXIT_SERVER 4     /* the server answered, but unusably (udp.server_problem says how) */
/* (2 = usage error and 3 = the run could not start are the program's own.) */
int nc_result_exit_status(const struct nc_result *r);

/* Re-derives every verdict of r from its recorded observations (the classifier is a pure
 * function of them): what `natcheck --reclassify FILE` does to a saved result. */
void nc_result_classify(struct nc_result *r);

/* JSON (jansson). to_json returns a malloc'd NUL-terminated string (NULL on allocation
 * failure), pretty-printed when pretty is set. from_json validates against the schema and
 * fills *r only if the whole document is valid; on error it returns -NC_E_SCHEMA (or
 * -NC_E_PARSE for bad JSON) and, if err is not NULL, writes a message naming the field. */
char *nc_result_to_json(const struct nc_result *r, bool pretty);
int nc_result_from_json(const char *text, size_t len, struct nc_result *r, char *err,
			size_t errlen);

#endif
