/* Punch outcome documents: one anonymised JSON document per connection attempt of punchvpn (or
 * any peer-to-peer program), saying which NAT classes met, which method was tried, whether it
 * worked and how fast. Collected by the results collector (POST /api/v1/outcomes), they fill
 * the report's "punch outcomes per class pair" table. The schema is
 * results/schema/punch-outcome.v1.schema.json; this is its reference reader and writer
 * (natcheck_core, jansson only).
 *
 * Writing one (punchvpn):
 *
 *   struct nc_punch_outcome o;
 *   nc_punch_outcome_init(&o, time(NULL));                 // started = that day, 00:00:00Z
 *   nc_nat_class_from_result(&my_result, &o.local);  // or fill the five fields by hand
 *   o.peer.mapping = NC_BEH_APD; ...                 // the peer's, from its profile
 *   o.method = NC_METHOD_BIRTHDAY;
 *   o.success = true;
 *   o.first_packet_ms = 812;
 *   char *json = nc_punch_outcome_to_json(&o, true);       // malloc'd; NULL on allocation failure
 *
 * Anonymous by construction: the document has no address, port, key, name or free text; the
 * only time of day is the day. */
#ifndef NC_OUTCOME_H
#define NC_OUTCOME_H

#include <natcheck/result.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NC_OUTCOME_SCHEMA   "punch-outcome"
#define NC_OUTCOME_VERSION  1
#define NC_OUTCOME_TOOL_LEN 32 /* tool name and version, with NUL */

/* How a connection attempt tried to reach the peer (issue 11's candidate paths). The JSON
 * words are in nc_punch_method_name(). */
enum nc_punch_method {
	NC_METHOD_SAME_LAN = 0, /* "same-lan": the peer's local address */
	NC_METHOD_PUBLIC,	/* "public-address": a side without NAT or filter */
	NC_METHOD_PORT_MAPPING, /* "port-mapping": a NAT-PMP / PCP / UPnP-IGD mapping */
	NC_METHOD_UDP_PUNCH,	/* "udp-punch": simultaneous UDP, peer-reflexive learning */
	NC_METHOD_PREDICTION,	/* "port-prediction": a sequential allocator's next ports */
	NC_METHOD_BIRTHDAY,	/* "birthday": many sockets against random probes */
	NC_METHOD_TCP_SIMOPEN,	/* "tcp-simultaneous-open" */
	NC_METHOD_RELAY,	/* "relay": through the rendezvous server */
	NC_METHOD_COUNT
};

/* One side's NAT, in the words of the natcheck-result schema. */
struct nc_nat_class {
	enum nc_beh mapping;	  /* RFC 4787 §4.1; NC_BEH_NONE: no NAT */
	enum nc_beh filtering;	  /* RFC 4787 §5 */
	enum nc_alloc allocation; /* port allocation pattern */
	enum nc_tri port_mapping; /* a NAT-PMP / PCP / UPnP-IGD mapping could be made */
	enum nc_tri udp_blocked;  /* no UDP reached the STUN server */
};

struct nc_punch_outcome {
	char tool_name[NC_OUTCOME_TOOL_LEN];	/* "" = not given; [A-Za-z0-9._+-] only */
	char tool_version[NC_OUTCOME_TOOL_LEN]; /* "" = not given; same characters */
	char started[24];			/* "YYYY-MM-DDT00:00:00Z" (a day) or "" (unknown) */
	struct nc_nat_class local;		/* the side that wrote the document */
	struct nc_nat_class peer;
	enum nc_punch_method method;
	bool success;		 /* the method carried a packet from the peer */
	int64_t first_packet_ms; /* attempt start to the first packet from the peer on this
				    path; -1 = none or not measured (always -1 when !success) */
};

/* Everything unknown, method udp-punch, not a success, no time, no tool (set tool_name and
 * tool_version to say which program wrote it), started = the UTC day of when (0: unknown). */
void nc_punch_outcome_init(struct nc_punch_outcome *o, time_t when);
/* One side's class from a natcheck result: mapping, filtering, allocation pattern; port
 * mapping YES when any protocol is present with a working test mapping (or present and the
 * mapping untested), NO when every tested protocol is absent; udp_blocked from udp.reachable. */
void nc_nat_class_from_result(const struct nc_result *r, struct nc_nat_class *out);

/* "udp-punch" etc.; NULL for a value out of range. */
const char *nc_punch_method_name(enum nc_punch_method m);
/* The method of a word; -1 if unknown. */
int nc_punch_method_parse(const char *s);

/* The document (every key, in schema order), compact or pretty; malloc'd, NULL on allocation
 * failure or when o is not valid (an enum out of range, a bad tool string, a success without
 * time that is negative other than -1, ...). */
char *nc_punch_outcome_to_json(const struct nc_punch_outcome *o, bool pretty);
/* Reads and validates a document, all or nothing: 0 and *o filled, or -NC_E_PARSE (not JSON,
 * duplicate keys), -NC_E_SCHEMA (message naming the field, e.g. "peer.mapping: unknown value
 * \"cone\""), -NC_E_NOMEM; *o is untouched on error. Unknown keys are ignored (forward
 * compatibility within version 1); a newer version is refused with a message that says so. */
int nc_punch_outcome_from_json(const char *text, size_t len, struct nc_punch_outcome *o, char *err,
			       size_t errlen);
/* The same for a document jansson already parsed (with JSON_REJECT_DUPLICATES). */
struct json_t;
int nc_punch_outcome_from_json_value(struct json_t *doc, struct nc_punch_outcome *o, char *err,
				     size_t errlen);

#endif
