/* PCP client (RFC 6887) over the codec in pcp.h: one connected UDP socket per exchange,
 * retransmission from 250 ms doubling (RFC 6887 §8.1.1 allows it for a short-lived client),
 * answers matched by opcode and nonce, and every wait inside the run's limits. */
#ifndef NC_PCPCLIENT_H
#define NC_PCPCLIENT_H

#include "pmcommon.h"

struct pcpc {
	int fd;
	struct nc_addr server, client;
	uint8_t req[PCP_HDR_LEN + PCP_MAP_LEN];
	size_t req_len;
	uint8_t opcode;
	struct pcp_map map;
	uint64_t next_us;
	uint32_t rto_ms;
	unsigned tries;
	unsigned garbage;
	char garbage_why[128];
};

/* A socket from src (random port) connected to the server: the kernel then drops datagrams
 * from anyone else and reports ICMP port unreachable as ECONNREFUSED. */
int pcpc_open(struct pcpc *s, const struct nc_addr *server, const struct nc_addr *src);
void pcpc_close(struct pcpc *s);
/* (Re)transmits the request in flight and schedules the next try. */
int pcpc_send(struct pcpc *s, uint64_t now);
/* Encodes and sends a request; m may be NULL for ANNOUNCE. */
int pcpc_start(struct pcpc *s, uint8_t opcode, uint32_t lifetime, const struct pcp_map *m);
/* Reads queued datagrams: 1 = the answer to the request in flight (in *resp), 0 = none yet,
 * negative = the socket failed (-ECONNREFUSED: nothing listens on the port). */
int pcpc_read(struct pcpc *s, struct pcp_response *resp);
/* Reads and retransmits until the answer to the request in flight (1, in *resp) or a limit
 * (-NC_E_TIMEOUT for a deadline, -NC_E_CANCELLED) or a socket error. */
int pcpc_wait(struct pcpc *s, const struct nc_limits *lim, struct pcp_response *resp);
/* Words for an outcome r that is not success. */
void pcpc_words(char *buf, size_t len, int r, const struct pcp_response *resp,
		const struct pcpc *s, const struct nc_addr *server, uint32_t ms);

/* MAP UDP port -> suggested external port ext for lifetime s, within lim. nonce: the mapping's
 * nonce (a refresh passes the old one; RFC 6887 §11.2.1). Fills out's external, lifetime and
 * nonce. */
int pcpc_map(const struct pm_opts *o, const struct nc_limits *lim, uint16_t port, uint16_t ext,
	     const uint8_t nonce[PCP_NONCE_LEN], uint32_t lifetime, struct nc_pm_mapping *out,
	     char *err, size_t errlen);
/* Deletes m: MAP with lifetime 0 and the same nonce (RFC 6887 §15), within lim. */
int pcpc_unmap(const struct nc_pm_mapping *m, const struct nc_limits *lim, char *err,
	       size_t errlen);

#endif
