/* NAT-PMP client (RFC 6886) over libnatpmp, driven by the caller: libnatpmp keeps the
 * retransmission timer (250 ms doubling), we peek at every datagram before it does (it checks
 * neither the length nor which request an answer belongs to) and we own the poll, so every
 * wait honours the run's deadline and cancel handle. */
#ifndef NC_NATPMP_CLIENT_H
#define NC_NATPMP_CLIENT_H

#include "pmcommon.h"

#include <natpmp.h>

struct pmp {
	natpmp_t np;
	bool open;
	uint8_t op;            /* opcode in flight: 0 external address, 1 map UDP */
	unsigned garbage;      /* datagrams that were not an answer */
	char garbage_why[128];
};

/* Opens libnatpmp's socket towards server (ip:port; libnatpmp alone would always use 5351). */
int pmp_open(struct pmp *p, const struct nc_addr *server);
void pmp_close(struct pmp *p);
/* Reads what is queued and retransmits when due. 1 = an answer arrived (*result: its result
 * code; *resp filled on success), 0 = pending, -ECONNREFUSED, -NC_E_TIMEOUT (libnatpmp gave
 * up) or another negative error. */
int pmp_step(struct pmp *p, natpmpresp_t *resp, uint16_t *result);
/* Milliseconds until libnatpmp wants to retransmit (0 if due). */
int pmp_wait_ms(struct pmp *p);
/* Words for an outcome r of pmp_step/pmp_wait that is not success. */
void pmp_words(char *buf, size_t len, int r, uint16_t result, const struct pmp *p,
	       const struct nc_addr *server, uint32_t ms);

/* Creates (or, with the same internal port, renews) a UDP mapping internal -> suggested
 * external port for lifetime s; fills out->external (ip from a second request) and
 * out->lifetime_s. Waits within lim. */
int pmp_map(const struct pm_opts *o, const struct nc_limits *lim, uint16_t port, uint16_t ext,
	    uint32_t lifetime, struct nc_pm_mapping *out, char *err, size_t errlen);
/* Deletes m (lifetime 0) within lim. */
int pmp_unmap(const struct nc_pm_mapping *m, const struct nc_limits *lim, char *err,
	      size_t errlen);

#endif
