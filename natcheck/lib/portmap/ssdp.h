/* SSDP search for the gateway's Internet Gateway Device. */
#ifndef NC_SSDP_H
#define NC_SSDP_H

#include "pmcommon.h"

/* M-SEARCH for an IGD at the gateway (o->gateway, port o->ssdp_port; multicast too unless
 * o->ssdp_unicast_only) within timeout_ms. 0 with the LOCATION URL (host = the gateway) in
 * url; -ECONNREFUSED (nothing listens on the gateway's SSDP port), -NC_E_TIMEOUT or another
 * error, with the reason in why. Blocks: the UPnP workers call it. */
int ssdp_search(const struct pm_opts *o, uint32_t timeout_ms, char *url, size_t cap, char *why,
		size_t whylen);

#endif
