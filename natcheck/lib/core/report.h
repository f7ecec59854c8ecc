/* The human-readable natcheck report: RFC 4787 words first, the classic label second, then a
 * plain verdict on hole punching and what could not be tested.
 *
 *   natcheck 0.1.0: server 198.51.100.10:3478 (alternate 198.51.100.11:3479), RTT 18.4 ms
 *
 *   UDP            reachable, NAT present (public 203.0.113.45:40000)
 *   Mapping        endpoint-independent (RFC 4787 EIM)
 *   Filtering      address-and-port-dependent (APDF)
 *   Port alloc.    preserving (parity kept)
 *   Hairpin        yes (source: external mapping)
 *   ALG            none detected
 *   NAT type       port-restricted cone
 *   Hole punching  works with most peers (EIM): it fails only with peers behind ...
 *   Not tested     TCP, port mapping, binding lifetime (--lifetime)
 *
 * TCP, port-mapping and topology lines appear only for what was tested. Text that came from
 * the network (server SOFTWARE, router errors) is printed with control characters replaced,
 * so a result file cannot drive the terminal. */
#ifndef NC_REPORT_H
#define NC_REPORT_H

#include <natcheck/result.h>

#include <stdbool.h>
#include <stdio.h>

struct nc_report_opts {
	bool color;   /* ANSI colours; the caller decides (only on a terminal) */
	bool verbose; /* also a table of every probe */
};

/* Writes the report; returns 0 or -EIO if the stream failed. opts may be NULL. */
int nc_report_write(FILE *f, const struct nc_result *r, const struct nc_report_opts *o);

#endif
