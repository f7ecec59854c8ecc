/* UPnP-IGD: our own SSDP search, then miniupnpc for the device description and the SOAP
 * calls. miniupnpc blocks (up to 5 s per byte of a slow HTTP reply), so every miniupnpc call
 * runs on a worker thread that the caller waits for within its limits and abandons when they
 * run out. The worker's state is freed by whoever lets go of it last; a worker abandoned after
 * it created a mapping deletes that mapping itself. An abandoned worker never touches the
 * caller's cancel handle or trace sink, which may be gone by then. */
#ifndef NC_UPNP_H
#define NC_UPNP_H

#include "pmcommon.h"

struct upnp_found {
	enum nc_tri present;
	struct nc_addr external;
	char error[NC_NOTE_LEN];
	char control_url[NC_PM_URL_LEN];
	char service_type[NC_PM_URL_LEN];
	char lanaddr[64];
};

struct upnp_job;

/* Starts the probe's discovery (search within search_ms, description, external address) on a
 * worker. NULL with the reason in err if no worker could start. */
struct upnp_job *upnp_job_discover(const struct pm_opts *o, uint32_t search_ms, char *err,
				   size_t errlen);
/* Readable once the worker is done. */
int upnp_job_fd(const struct upnp_job *j);
/* True once done; then *f holds what it found. */
bool upnp_job_found(struct upnp_job *j, struct upnp_found *f);
/* Lets go of the job: frees it, or leaves it to the still running worker. */
void upnp_job_put(struct upnp_job *j);

/* AddPortMapping of UDP port -> ext (0: port itself, then random ports on a conflict) for
 * lifetime s. A new mapping (out->control_url empty) first discovers the gateway; a refresh
 * uses the control URL it has. Within lim; -NC_E_TIMEOUT or -NC_E_CANCELLED when the worker is
 * abandoned (it then deletes what it creates). */
int upnp_map(const struct pm_opts *o, const struct nc_limits *lim, uint16_t port, uint16_t ext,
	     uint32_t lifetime, struct nc_pm_mapping *out, char *err, size_t errlen);
/* DeletePortMapping of m within lim (a gateway that does not know it counts as deleted). */
int upnp_unmap(const struct nc_pm_mapping *m, const struct nc_limits *lim, char *err,
	       size_t errlen);

#endif
