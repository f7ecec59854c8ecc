#include "upnp.h"

#include "ssdp.h"
#include <natcheck/error.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#define UPNP_ERR_NO_SUCH_ENTRY 714
#define UPNP_ERR_CONFLICT 718
#define UPNP_ERR_ONLY_PERMANENT 725

static const char *upnp_words(int r)
{
	return strupnperror(r) ? strupnperror(r) : "unknown error";
}

/* Search, fetch the device description, optionally ask for the external address. Blocking:
 * workers only. */
static void upnp_discover(const struct pm_opts *o, uint32_t timeout_ms, bool want_external,
			  struct upnp_found *f)
{
	struct UPNPUrls urls;
	struct IGDdatas data;
	char url[NC_PM_URL_LEN], ext[64] = "";
	int r;

	memset(f, 0, sizeof(*f));
	f->present = NC_TRI_NO;
	if (ssdp_search(o, timeout_ms, url, sizeof(url), f->error, sizeof(f->error)) < 0)
		return;
	memset(&urls, 0, sizeof(urls));
	memset(&data, 0, sizeof(data));
	if (UPNP_GetIGDFromUrl(url, &urls, &data, f->lanaddr, sizeof(f->lanaddr)) != 1 ||
	    !urls.controlURL || !urls.controlURL[0]) {
		snprintf(f->error, sizeof(f->error),
			 "UPnP-IGD: %.80s is not a usable Internet Gateway Device description", url);
		FreeUPNPUrls(&urls);
		return;
	}
	f->present = NC_TRI_YES;
	f->error[0] = '\0';
	snprintf(f->control_url, sizeof(f->control_url), "%s", urls.controlURL);
	snprintf(f->service_type, sizeof(f->service_type), "%s", data.first.servicetype);
	if (want_external) {
		r = UPNP_GetExternalIPAddress(urls.controlURL, data.first.servicetype, ext);
		ext[sizeof(ext) - 1] = '\0';
		if (r != UPNPCOMMAND_SUCCESS)
			snprintf(f->error, sizeof(f->error),
				 "UPnP-IGD: GetExternalIPAddress failed: %d (%s)", r, upnp_words(r));
		else if (nc_addr_parse_ip(ext, &f->external) < 0)
			snprintf(f->error, sizeof(f->error),
				 "UPnP-IGD: the gateway claims an unparsable external address");
	}
	FreeUPNPUrls(&urls);
}

/* Blocking AddPortMapping (workers only); fills out on success. */
static int add_mapping(const struct pm_opts *o, uint16_t port, uint16_t ext_want,
		       uint32_t lifetime, struct nc_pm_mapping *out, char *err, size_t errlen)
{
	struct upnp_found f;
	char in[8], ext[8], lease[16];
	char srcbuf[NC_ADDR_STRLEN];
	const char *client;
	int r = -1;

	memset(&f, 0, sizeof(f));
	if (!out->control_url[0]) {
		upnp_discover(o, o->map_timeout_ms, true, &f);
		if (f.present != NC_TRI_YES) {
			pm_say(err, errlen, "%s", f.error);
			return -NC_E_TIMEOUT;
		}
	} else {
		/* A refresh: the gateway and its service are known. */
		snprintf(f.control_url, sizeof(f.control_url), "%s", out->control_url);
		snprintf(f.service_type, sizeof(f.service_type), "%s", out->service_type);
		f.external = out->external;
		f.external.port = 0;
		nc_addr_ip_str(&out->internal, f.lanaddr);
	}
	client = f.lanaddr[0] ? f.lanaddr : nc_addr_ip_str(&o->src, srcbuf);
	snprintf(in, sizeof(in), "%u", port);
	snprintf(lease, sizeof(lease), "%u", lifetime);
	/* The wanted port first; on a conflict (new mappings only), a few random ports of the
	 * dynamic range. */
	for (int attempt = 0; attempt < 4; attempt++) {
		uint16_t e = attempt == 0 ? (ext_want ? ext_want : port)
					  : (uint16_t)(49152 + randombytes_uniform(16384));

		snprintf(ext, sizeof(ext), "%u", e);
		r = UPNP_AddPortMapping(f.control_url, f.service_type, ext, in, client, NC_PM_DESC,
					"UDP", NULL, lease);
		if (r == UPNP_ERR_ONLY_PERMANENT && strcmp(lease, "0") != 0) {
			snprintf(lease, sizeof(lease), "0");
			attempt--;
			continue;
		}
		if (r != UPNP_ERR_CONFLICT || out->control_url[0])
			break;
	}
	if (r != UPNPCOMMAND_SUCCESS) {
		pm_say(err, errlen, "UPnP-IGD: AddPortMapping failed: %d (%s)", r, upnp_words(r));
		return -NC_E_PROTOCOL;
	}
	out->external = f.external;
	out->external.port = (uint16_t)atoi(ext);
	if (!nc_addr_is_set(&out->external))
		out->external.family = AF_INET;
	if (nc_addr_parse_ip(client, &out->internal) == 0)
		out->internal.port = port;
	out->lifetime_s = (uint32_t)strtoul(lease, NULL, 10);
	snprintf(out->control_url, sizeof(out->control_url), "%s", f.control_url);
	snprintf(out->service_type, sizeof(out->service_type), "%s", f.service_type);
	return 0;
}

/* Blocking DeletePortMapping (workers only). */
static int delete_mapping(const struct nc_pm_mapping *m, char *err, size_t errlen)
{
	char ext[8];
	int r;

	snprintf(ext, sizeof(ext), "%u", m->external.port);
	r = UPNP_DeletePortMapping(m->control_url, m->service_type, ext, "UDP", NULL);
	if (r == UPNPCOMMAND_SUCCESS || r == UPNP_ERR_NO_SUCH_ENTRY)
		return 0;
	pm_say(err, errlen, "UPnP-IGD: DeletePortMapping failed: %d (%s)", r, upnp_words(r));
	return -NC_E_PROTOCOL;
}

/* ---- workers ----------------------------------------------------------------------------- */

enum upnp_op { UPNP_DISCOVER, UPNP_MAP, UPNP_UNMAP };

struct upnp_job {
	pthread_mutex_t mu;
	int refs;
	int efd;
	enum upnp_op op;
	struct pm_opts o;       /* without the caller's cancel handle and trace sink */
	uint32_t timeout_ms;    /* DISCOVER: the search's */
	uint16_t port, ext;
	uint32_t lifetime;
	bool refresh;           /* MAP of a mapping the caller already holds */
	bool done, abandoned;
	int r;
	char err[NC_NOTE_LEN];
	struct nc_pm_mapping m; /* MAP: in (refresh) and out; UNMAP: in */
	struct upnp_found f;    /* DISCOVER: out */
};

void upnp_job_put(struct upnp_job *j)
{
	int left;

	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left == 0) {
		close(j->efd);
		pthread_mutex_destroy(&j->mu);
		free(j);
	}
}

static void *upnp_thread(void *arg)
{
	struct upnp_job *j = arg;
	struct nc_pm_mapping m = j->m;
	struct upnp_found f = {0}; /* only discovery fills it; the job copies it back either way */
	char err[NC_NOTE_LEN] = "";
	bool abandoned;
	int r = 0;

	switch (j->op) {
	case UPNP_DISCOVER:
		upnp_discover(&j->o, j->timeout_ms, true, &f);
		break;
	case UPNP_MAP:
		r = add_mapping(&j->o, j->port, j->ext, j->lifetime, &m, err, sizeof(err));
		break;
	case UPNP_UNMAP:
		r = delete_mapping(&m, err, sizeof(err));
		break;
	}
	pthread_mutex_lock(&j->mu);
	j->done = true;
	j->r = r;
	j->m = m;
	j->f = f;
	memcpy(j->err, err, sizeof(err));
	abandoned = j->abandoned;
	pthread_mutex_unlock(&j->mu);
	(void)eventfd_write(j->efd, 1);
	/* Nobody waits for this mapping any more: it must not outlive the caller's interest. */
	if (abandoned && j->op == UPNP_MAP && r == 0 && !j->refresh)
		(void)delete_mapping(&m, NULL, 0);
	upnp_job_put(j);
	return NULL;
}

/* Everything the worker reads is set before it starts. */
struct job_args {
	enum upnp_op op;
	uint32_t timeout_ms;
	uint16_t port, ext;
	uint32_t lifetime;
	const struct nc_pm_mapping *m;
};

static struct upnp_job *job_start(const struct pm_opts *o, const struct job_args *a, char *err,
				  size_t errlen)
{
	struct upnp_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int r;

	if (!j) {
		pm_say(err, errlen, "UPnP-IGD: %s", nc_strerror(-NC_E_NOMEM));
		return NULL;
	}
	j->op = a->op;
	j->timeout_ms = a->timeout_ms;
	j->port = a->port;
	j->ext = a->ext;
	j->lifetime = a->lifetime;
	if (o)
		j->o = *o;
	j->o.lim = (struct nc_limits){0};
	j->o.trace = NULL;
	if (a->m) {
		j->m = *a->m;
		j->refresh = a->m->control_url[0] != '\0';
	}
	j->refs = 2;
	j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (j->efd < 0 || pthread_mutex_init(&j->mu, NULL) != 0) {
		pm_say(err, errlen, "UPnP-IGD: %s", strerror(errno));
		if (j->efd >= 0)
			close(j->efd);
		free(j);
		return NULL;
	}
	/* The worker blocks every signal, so they reach the caller's threads (which may be in
	 * sigsuspend or poll waiting for them). Only this thread's mask changes, for the
	 * duration of pthread_create; the new thread inherits it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, upnp_thread, j);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pm_say(err, errlen, "UPnP-IGD: cannot start a thread (%s)", strerror(r));
		close(j->efd);
		pthread_mutex_destroy(&j->mu);
		free(j);
		return NULL;
	}
	return j;
}

struct upnp_job *upnp_job_discover(const struct pm_opts *o, uint32_t search_ms, char *err,
				   size_t errlen)
{
	struct job_args a = {.op = UPNP_DISCOVER, .timeout_ms = search_ms};

	return job_start(o, &a, err, errlen);
}

int upnp_job_fd(const struct upnp_job *j)
{
	return j->efd;
}

bool upnp_job_found(struct upnp_job *j, struct upnp_found *f)
{
	bool done;

	pthread_mutex_lock(&j->mu);
	done = j->done;
	if (done)
		*f = j->f;
	pthread_mutex_unlock(&j->mu);
	return done;
}

static bool job_done(struct upnp_job *j)
{
	bool done;

	pthread_mutex_lock(&j->mu);
	done = j->done;
	pthread_mutex_unlock(&j->mu);
	return done;
}

/* Waits for a MAP or UNMAP worker within lim; after a cancel or the deadline, a MAP worker
 * PM_GRACE_MS more (a gateway that answers at once finishes, and what it made is known and can
 * be deleted).
 * Returns the worker's result, or -NC_E_CANCELLED / -NC_E_TIMEOUT after abandoning it. */
static int job_wait(struct upnp_job *j, const struct nc_limits *lim, struct nc_pm_mapping *m,
		    char *err, size_t errlen)
{
	struct pollfd pfd = {.fd = j->efd, .events = POLLIN};
	struct nc_limits grace;
	int r, stop = 0;

	while (!job_done(j) && !stop) {
		if ((r = pm_poll(&pfd, 1, 0, lim)) < 0) {
			stop = r;
			/* Only a MAP can leave something behind; an abandoned UNMAP goes on
			 * deleting by itself. */
			grace = pm_limits_within(NULL, j->op == UPNP_MAP ? PM_GRACE_MS : 0);
			while (!job_done(j) && pm_poll(&pfd, 1, 0, &grace) == 0)
				;
		}
	}
	pthread_mutex_lock(&j->mu);
	if (j->done) {
		r = j->r;
		if (m)
			*m = j->m;
		pm_say(err, errlen, "%s", j->err);
	} else {
		j->abandoned = true;
		r = stop == -NC_E_CANCELLED ? stop : -NC_E_TIMEOUT;
		pm_say(err, errlen, "UPnP-IGD: %s (the gateway's HTTP server is too slow)",
		       nc_strerror(r));
	}
	pthread_mutex_unlock(&j->mu);
	upnp_job_put(j);
	return r;
}

int upnp_map(const struct pm_opts *o, const struct nc_limits *lim, uint16_t port, uint16_t ext,
	     uint32_t lifetime, struct nc_pm_mapping *out, char *err, size_t errlen)
{
	struct job_args a = {.op = UPNP_MAP, .port = port, .ext = ext, .lifetime = lifetime,
			     .m = out};
	struct upnp_job *j = job_start(o, &a, err, errlen);

	if (!j)
		return -NC_E_NOMEM;
	return job_wait(j, lim, out, err, errlen);
}

int upnp_unmap(const struct nc_pm_mapping *m, const struct nc_limits *lim, char *err,
	       size_t errlen)
{
	struct job_args a = {.op = UPNP_UNMAP, .m = m};
	struct upnp_job *j = job_start(NULL, &a, err, errlen);

	if (!j)
		return -NC_E_NOMEM;
	return job_wait(j, lim, NULL, err, errlen);
}
