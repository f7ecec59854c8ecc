#include "pcapture.h"

#include <natcheck/error.h>

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_pcap {
	pcap_t *pc;
	pcap_dumper_t *dump;
};

static _Thread_local char last_error[PCAP_ERRBUF_SIZE + 64];

const char *nc_pcap_last_error(void)
{
	return last_error;
}

static int fail(struct nc_pcap *p, int err, const char *what, const char *msg)
{
	snprintf(last_error, sizeof(last_error), "%s: %s", what, msg);
	if (p->dump)
		pcap_dump_close(p->dump);
	if (p->pc)
		pcap_close(p->pc);
	free(p);
	return err;
}

int nc_pcap_open(struct nc_pcap **out, const char *path, const uint16_t *ports, size_t n)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	char filter[16 + 16 * 32];
	struct bpf_program prog;
	struct nc_pcap *p;
	size_t off;
	int rc;

	if (n == 0 || n > 32)
		return -NC_E_INVALID;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -NC_E_NOMEM;
	p->pc = pcap_create("any", errbuf);
	if (!p->pc)
		return fail(p, -NC_E_UNSUPPORTED, "pcap", errbuf);
	pcap_set_snaplen(p->pc, 2048);
	pcap_set_immediate_mode(p->pc, 1);
	pcap_set_timeout(p->pc, 1);
	rc = pcap_activate(p->pc);
	if (rc < 0)
		return fail(p, -NC_E_UNSUPPORTED, "pcap", rc == PCAP_ERROR_PERM_DENIED
				   ? "permission denied (capturing needs root or CAP_NET_RAW)"
				   : pcap_geterr(p->pc));
	off = (size_t)snprintf(filter, sizeof(filter), "udp and (");
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(filter + off, sizeof(filter) - off, "%sport %u",
					i ? " or " : "", ports[i]);
	snprintf(filter + off, sizeof(filter) - off, ")");
	if (pcap_compile(p->pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0)
		return fail(p, -NC_E_INVALID, "pcap filter", pcap_geterr(p->pc));
	rc = pcap_setfilter(p->pc, &prog);
	pcap_freecode(&prog);
	if (rc < 0)
		return fail(p, -NC_E_INVALID, "pcap filter", pcap_geterr(p->pc));
	if (pcap_setnonblock(p->pc, 1, errbuf) < 0)
		return fail(p, -NC_E_INVALID, "pcap", errbuf);
	p->dump = pcap_dump_open(p->pc, path);
	if (!p->dump)
		/* libpcap's message would repeat the path; the caller names it once. */
		return fail(p, -NC_E_INVALID, "cannot create the file", strerror(errno));
	*out = p;
	return 0;
}

int nc_pcap_fd(const struct nc_pcap *p)
{
	return pcap_get_selectable_fd(p->pc);
}

void nc_pcap_pump(struct nc_pcap *p)
{
	pcap_dispatch(p->pc, -1, pcap_dump, (u_char *)p->dump);
}

void nc_pcap_close(struct nc_pcap *p)
{
	nc_pcap_pump(p);
	pcap_dump_close(p->dump);
	pcap_close(p->pc);
	free(p);
}

static int ops_open(void **handle, const char *path, const uint16_t *ports, size_t n)
{
	struct nc_pcap *p = NULL;
	int err = nc_pcap_open(&p, path, ports, n);

	*handle = p;
	return err;
}

static int ops_fd(const void *handle)
{
	return nc_pcap_fd(handle);
}

static void ops_pump(void *handle)
{
	nc_pcap_pump(handle);
}

static void ops_close(void *handle)
{
	nc_pcap_close(handle);
}

const struct nc_capture_ops nc_pcap_capture = {
	.open = ops_open,
	.fd = ops_fd,
	.pump = ops_pump,
	.close = ops_close,
};
