/* Recording a run's own probe traffic with libpcap (natcheck --pcap FILE), for bug reports and
 * Wireshark. Link natcheck_capture and pass &nc_pcap_capture as nc_run_cfg.capture; the
 * measurement layers themselves never link libpcap. Needs CAP_NET_RAW. */
#ifndef NATCHECK_CAPTURE_H
#define NATCHECK_CAPTURE_H

struct nc_capture_ops;

/* The capture operations backed by libpcap. */
extern const struct nc_capture_ops nc_pcap_capture;
/* libpcap's words for the last failure to start a capture in this thread. */
const char *nc_pcap_last_error(void);

#endif
