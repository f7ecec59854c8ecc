/* The port-mapping layer's private face: the public API (<natcheck/portmap.h>) plus the
 * parsers and names the suite's own tests and fuzz targets reach directly.
 *
 * Modules (one prefix each):
 *   pmcommon.[ch]   pm_     options, limits and the poll every wait goes through
 *   gateway.c       nc_pm_  the default gateway from /proc/net/route
 *   pmpclient.[ch]  pmp_    NAT-PMP client over libnatpmp (caller-driven)
 *   pcpclient.[ch]  pcpc_   PCP client over our codec pcp.[ch]
 *   ssdp.[ch]       ssdp_   the SSDP search for the gateway's IGD, nc_pm_ssdp_location
 *   upnp.[ch]       upnp_   UPnP-IGD through miniupnpc on abandonable workers
 *   registry.c      nc_pm_  map / refresh / unmap / the registry of live mappings
 *   pmprobe.c       nc_pm_  the three-protocol presence probe
 *   pmtest.[ch]     nc_pm_  the real test: does traffic through a mapping arrive? */
#ifndef NC_PORTMAP_PRIV_H
#define NC_PORTMAP_PRIV_H

#include <natcheck/portmap.h>
#include "netutil.h"
#include "pcp.h"

#include <stddef.h>
#include <stdint.h>

#define NC_PM_FIRST_RTO_MS 250 /* RFC 6886 §3.1: 250 ms, doubling */
#define NC_PM_SSDP_PORT 1900
#define NC_PM_DESC "natcheck"

_Static_assert(NC_PM_NONCE_LEN == PCP_NONCE_LEN, "public nonce size follows RFC 6887");

/* The same as nc_pm_default_gateway() from the text of a /proc/net/route file (for tests). */
int nc_pm_parse_route(const char *text, struct nc_addr *gw);

/* Extracts the LOCATION header's URL from an SSDP M-SEARCH response ("HTTP/1.1 200 OK" and
 * headers). The URL must start with "http://" and be printable ASCII shorter than cap.
 * Returns 0, -NC_E_MALFORMED (not a 200 response, no or bad LOCATION) or -NC_E_NOSPACE. */
int nc_pm_ssdp_location(const uint8_t *buf, size_t len, char *url, size_t cap);

/* NAT-PMP result code names and words (RFC 6886 §3.5); never NULL. */
const char *nc_pm_natpmp_result_name(unsigned code);
const char *nc_pm_natpmp_result_message(unsigned code);

#endif
