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
/* Compatible revisions of version 1: optional keys only, so every version-1 reader reads them
 * (results/README.md has the changelog). Revision 2: tcp.probes, bounce, topology.hops,
 * mapping_samples, udp.mapping_stable / mapping_change_ms, derived_notes. */
#define NC_RESULT_REVISION 2

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
	NC_ROLE_ALLOC_ALT,       /* port sharing: fresh socket -> A2:P2, another remote than the
				  * samples' (an overloading NAT hands it a port already in use) */
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
	/* Mapping stability (revision 2), from mapping_samples: false when one binding in use
	 * was seen at two public endpoints; mapping_change_ms = when the new one was first seen,
	 * counted from the binding's first answer (0 with mapping_stable not false). */
	enum nc_tri mapping_stable;
	uint32_t mapping_change_ms;
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

/* --- Observations behind the TCP, third-party and topology verdicts (revision 2) ---------- */

/* The TCP tests (tcpprobe.h has the plan). New tests are appended; names in result.c. */
enum nc_tcp_test {
	NC_TCP_MAP_PRIMARY = 0, /* T1: Binding over TCP from port p to A1:P1 */
	NC_TCP_MAP_ALT_IP,      /* T1: the same local port to A2:P1 */
	NC_TCP_MAP_ALT_BOTH,    /* T1: the same local port to A2:P2 */
	NC_TCP_FILTER_MAP,      /* T5: Binding from port q to A1:P1 (q's mapping) */
	NC_TCP_CB_BOUNCER,      /* T2: CONNECT-BACK from the third-party bouncer to p's mapping */
	NC_TCP_CB_PORT,         /* T5: CONNECT-BACK from A1:Pcb (another port) to q's mapping */
	NC_TCP_CB_ADDR,         /* T5: CONNECT-BACK from A2:Pcb (another address) to q's mapping */
	NC_TCP_HAIRPIN,         /* T4: port h connects to q's mapping */
	NC_TCP_SIMOPEN,         /* T3: p connects to the bouncer while the bouncer's SYN is pending */
	NC_TCP_TEST_COUNT_
};

/* What a CONNECT-BACK origin reported about its own connection attempt. */
enum nc_cb_report {
	NC_CB_NONE = 0,    /* no report (not asked, or the poll failed) */
	NC_CB_PENDING,     /* still trying when the wait ended */
	NC_CB_CONNECTED,   /* its connect completed */
	NC_CB_RST,         /* refused with a TCP RST */
	NC_CB_ICMP_PORT,   /* ICMP port unreachable */
	NC_CB_ICMP_ADMIN,  /* ICMP administratively prohibited */
	NC_CB_ICMP_OTHER,  /* another ICMP error */
	NC_CB_TIMEOUT,     /* nothing came back */
	NC_CB_ERROR,       /* the origin could not try (error_code = its errno) */
	NC_CB_COUNT_
};

#define NC_MAX_TCP_OBS 12

/* One TCP test. outcome: for Binding tests answered / timeout / error (STUN error) /
 * send-failed (no connection); for CONNECT-BACK answered = the server took the request, error
 * = it refused (not-sent = never asked); for hairpin and simultaneous open answered = the
 * connection completed, timeout / send-failed otherwise. */
struct nc_tcp_obs {
	uint8_t test;          /* enum nc_tcp_test */
	uint8_t outcome;       /* enum nc_outcome */
	uint8_t report;        /* enum nc_cb_report (CONNECT-BACK) */
	enum nc_tri arrived;   /* CONNECT-BACK, hairpin: a connection from `from` reached the
				* listener on `mapped` */
	uint16_t error_code;   /* STUN error code, or the origin's errno for NC_CB_ERROR */
	uint32_t at_ms;        /* when the test began, ms after the TCP tests started */
	uint32_t wait_ms;      /* CONNECT-BACK: how long the origin was asked to keep trying */
	uint32_t elapsed_ms;   /* CONNECT-BACK: the arrival, else the origin's report, ms after
				* the request (0 = none) */
	struct nc_addr local;  /* local endpoint */
	struct nc_addr dest;   /* where the connection or request went */
	struct nc_addr mapped; /* Binding: the mapping the server saw; CONNECT-BACK: the target */
	struct nc_addr from;   /* CONNECT-BACK: the origin's address; hairpin: the peer seen */
};

/* The third-party UDP test (Ford's server 3): did the bouncer's datagram arrive? */
struct nc_bounce {
	bool tested;           /* the test ran */
	bool offered;          /* the server has a bouncer (it acknowledged the request) */
	enum nc_tri arrived;
	struct nc_addr from;   /* the bouncer's source, when it arrived */
};

#define NC_MAX_HOPS 8

/* The path: TTL-limited Binding requests and who answered them (topology.h). */
struct nc_hops {
	uint8_t n;                       /* hops probed (TTL 1..n); 0 = not probed */
	struct nc_addr hop[NC_MAX_HOPS]; /* router that answered TTL i+1 (unset: silent) */
	uint8_t reached_at;              /* TTL at which the server answered (0: never) */
};

#define NC_MAX_MAP_SAMPLES 16

/* The public endpoint of one binding in use, sampled over time (natcheck --lifetime): the
 * first and the last answer of every run of equal endpoints. */
struct nc_map_sample {
	uint32_t at_ms;            /* after the binding's first answer */
	struct nc_addr public_ep;
};

struct nc_map_track {
	uint8_t n;
	struct nc_addr local;
	struct nc_map_sample s[NC_MAX_MAP_SAMPLES];
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
	/* Revision 2: the evidence of the TCP, third-party and topology verdicts. revision is
	 * the document's (1 when a document read had no marker): a revision-1 document has no
	 * such evidence, so re-classifying it keeps its TCP, third-party and topology verdicts. */
	uint32_t revision;
	uint8_t n_tcp_obs;
	struct nc_tcp_obs tcp_obs[NC_MAX_TCP_OBS];
	struct nc_bounce bounce;
	struct nc_hops hops;
	struct nc_map_track track;
	/* Which notes the classifier wrote (bit i = notes[i]): nc_result_classify() drops and
	 * rewrites those, and keeps the probes' own. classifying is set while it runs. */
	uint32_t notes_derived;
	bool classifying;
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
const char *nc_tcp_test_name(enum nc_tcp_test t);
const char *nc_cb_report_name(enum nc_cb_report c);
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
 * function of them): UDP from obs[], the third-party fold from bounce, TCP from tcp_obs[],
 * topology from hops and the port-mapping answers, mapping stability from track. What
 * `natcheck --reclassify FILE` does to a saved result. Idempotent: the notes the classifier
 * wrote (notes_derived) are dropped and written again, the probes' own notes are kept.
 * (lifetime_s, lifetime_upper_s and inbound_refresh are measured values, left as they are.) */
void nc_result_classify(struct nc_result *r);

/* JSON (jansson). to_json returns a malloc'd NUL-terminated string (NULL on allocation
 * failure), pretty-printed when pretty is set. from_json validates against the schema and
 * fills *r only if the whole document is valid; on error it returns -NC_E_SCHEMA (or
 * -NC_E_PARSE for bad JSON) and, if err is not NULL, writes a message naming the field. */
char *nc_result_to_json(const struct nc_result *r, bool pretty);
int nc_result_from_json(const char *text, size_t len, struct nc_result *r, char *err,
			size_t errlen);
/* The same reader for a document jansson has already parsed (a json_t *, e.g. a member of a
 * larger document; parse it with JSON_REJECT_DUPLICATES as from_json does): no second parse.
 * Same rules and results, except that it cannot return -NC_E_PARSE. doc is only read. */
struct json_t;
int nc_result_from_json_value(struct json_t *doc, struct nc_result *r, char *err, size_t errlen);

#endif
