/* Recording a run's own probe traffic with libpcap (natcheck --pcap FILE), for bug reports
 * and Wireshark, which dissects every STUN packet. The capture is filtered to the run's local
 * UDP ports, so it holds natcheck's probes and nothing else the host sends. */
#ifndef NC_PCAPTURE_H
#define NC_PCAPTURE_H

#include "probe.h"

#include <stddef.h>
#include <stdint.h>

struct nc_pcap;

/* Opens a live capture on all interfaces filtered to the given UDP ports, writing to path.
 * Returns 0, or -NC_E_UNSUPPORTED (no permission: needs CAP_NET_RAW) / -NC_E_INVALID. */
int nc_pcap_open(struct nc_pcap **out, const char *path, const uint16_t *ports, size_t n);
/* Pollable descriptor (readable when packets wait), or -1. */
int nc_pcap_fd(const struct nc_pcap *p);
/* Writes whatever has been captured so far. */
void nc_pcap_pump(struct nc_pcap *p);
/* Flushes the rest and closes the file. */
void nc_pcap_close(struct nc_pcap *p);
/* libpcap's message for the last failure of nc_pcap_open in this thread. */
const char *nc_pcap_last_error(void);

/* The same calls as the probe engine's capture hook (nc_probe_cfg.capture). */
extern const struct nc_capture_ops nc_pcap_capture;

#endif
