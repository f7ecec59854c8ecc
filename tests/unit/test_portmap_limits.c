/* Port mapping inside a run's limits (issue 13, item 1): every call returns by its deadline
 * (plus the short grace an interrupted mapping request gets) and within that grace of a cancel,
 * against gateways that never answer: a silent NAT-PMP/PCP port, and a UPnP device that
 * answers SSDP at once and then never sends a byte of HTTP (miniupnpc alone would wait 5 s
 * per byte). All on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/cancel.h>
#include <natcheck/error.h>
#include <natcheck/portmap.h>
#include "netutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SLACK_MS 150
/* PM_GRACE_MS: how long a mapping request the limits interrupted is still waited for (its
 * answer makes a mapping the gateway may already hold known, so it can be deleted) */
#define GRACE_MS 300

/* A gateway that hears everything and says nothing but SSDP answers. */
struct hang {
	int udp, tcp, stop[2];
	uint16_t udp_port, tcp_port;
	pthread_t thread;
	unsigned accepted;
};

static int bind_lo(int type, uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void *hang_main(void *arg)
{
	struct hang *h = arg;
	int conns[32], nconn = 0;

	for (;;) {
		struct pollfd p[3] = {{.fd = h->udp, .events = POLLIN},
				      {.fd = h->tcp, .events = POLLIN},
				      {.fd = h->stop[0], .events = POLLIN}};
		if (poll(p, 3, -1) < 0 || p[2].revents)
			break;
		if (p[0].revents) {
			uint8_t buf[2048];
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(h->udp, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
			if (n >= 8 && memcmp(buf, "M-SEARCH", 8) == 0) {
				char ans[256];
				int k = snprintf(ans, sizeof(ans),
						 "HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:"
						 "InternetGatewayDevice:1\r\nLOCATION: http://127.0.0.1:"
						 "%u/rootDesc.xml\r\n\r\n", h->tcp_port);
				(void)sendto(h->udp, ans, (size_t)k, 0, (struct sockaddr *)&from, fl);
			}
			/* NAT-PMP and PCP requests: silence */
		}
		if (p[1].revents) {
			int c = accept(h->tcp, NULL, NULL);
			if (c >= 0 && nconn < 32) {
				conns[nconn++] = c; /* held open, never answered */
				h->accepted++;
			} else if (c >= 0) {
				close(c);
			}
		}
	}
	for (int i = 0; i < nconn; i++)
		close(conns[i]);
	return NULL;
}

static void hang_start(struct hang *h)
{
	memset(h, 0, sizeof(*h));
	h->udp = bind_lo(SOCK_DGRAM, &h->udp_port);
	h->tcp = bind_lo(SOCK_STREAM, &h->tcp_port);
	assert_int_equal(listen(h->tcp, 16), 0);
	assert_int_equal(pipe(h->stop), 0);
	assert_int_equal(pthread_create(&h->thread, NULL, hang_main, h), 0);
}

static void hang_stop(struct hang *h)
{
	assert_int_equal(write(h->stop[1], "x", 1), 1);
	pthread_join(h->thread, NULL);
	close(h->udp);
	close(h->tcp);
	close(h->stop[0]);
	close(h->stop[1]);
}

static void cfg_for(struct nc_pm_cfg *cfg, const struct hang *h, enum nc_pm_proto p)
{
	memset(cfg, 0, sizeof(*cfg));
	assert_int_equal(nc_addr_parse_ip("127.0.0.1", &cfg->gateway), 0);
	cfg->pmp_port = h->udp_port;
	cfg->ssdp_port = h->udp_port;
	cfg->ssdp_unicast_only = true;
	cfg->budget_ms = 2000;
	cfg->map_timeout_ms = 10000; /* far beyond the limits under test */
	cfg->protos = 1u << p;
}

/* Fires a cancel handle after a delay, from another thread (as a signal handler would). */
struct firer {
	struct nc_cancel *c;
	unsigned ms;
	pthread_t t;
};

static void *fire_main(void *arg)
{
	struct firer *f = arg;

	usleep(f->ms * 1000);
	nc_cancel_fire(f->c);
	return NULL;
}

static void fire_after(struct firer *f, struct nc_cancel *c, unsigned ms)
{
	f->c = c;
	f->ms = ms;
	assert_int_equal(pthread_create(&f->t, NULL, fire_main, f), 0);
}

static uint64_t ms_since(uint64_t t0)
{
	return (nc_now_us() - t0) / 1000;
}

/* ---- map within the deadline / cancel, each protocol --------------------------------------- */

static void map_deadline(enum nc_pm_proto p, unsigned deadline_ms, unsigned max_ms)
{
	struct hang h;
	struct nc_pm_cfg cfg;
	struct nc_pm_registry reg;
	struct nc_pm_mapping m;
	char err[NC_NOTE_LEN] = "";
	uint64_t t0, ms;
	int r;

	memset(&reg, 0, sizeof(reg));
	hang_start(&h);
	cfg_for(&cfg, &h, p);
	t0 = nc_now_us();
	cfg.deadline_us = t0 + deadline_ms * 1000ull;
	r = nc_pm_map(&cfg, &reg, p, 40000, 60, &m, err, sizeof(err));
	ms = ms_since(t0);
	hang_stop(&h);
	print_message("%s at a %u ms deadline: %d after %llu ms: %s\n", nc_pm_proto_name(p),
		      deadline_ms, r, (unsigned long long)ms, err);
	assert_true(r < 0);
	assert_true(ms >= deadline_ms - 5 && ms <= max_ms);
	assert_int_equal(nc_pm_registry_count(&reg), 0);
	assert_true(err[0] != '\0');
}

static void test_map_deadline_natpmp(void **state)
{
	(void)state;
	map_deadline(NC_PM_NATPMP, 300, 300 + GRACE_MS + SLACK_MS);
}

static void test_map_deadline_pcp(void **state)
{
	(void)state;
	map_deadline(NC_PM_PCP, 300, 300 + GRACE_MS + SLACK_MS);
}

static void test_map_deadline_upnp(void **state)
{
	(void)state;
	/* the description fetch hangs: the worker is abandoned after the grace */
	map_deadline(NC_PM_UPNP, 300, 300 + GRACE_MS + SLACK_MS);
}

static void map_cancel(enum nc_pm_proto p, unsigned max_ms)
{
	struct hang h;
	struct nc_pm_cfg cfg;
	struct nc_pm_mapping m;
	struct nc_cancel *c = nc_cancel_new();
	struct firer f;
	char err[NC_NOTE_LEN] = "";
	uint64_t t0, ms;
	int r;

	assert_non_null(c);
	hang_start(&h);
	cfg_for(&cfg, &h, p);
	cfg.cancel = c;
	t0 = nc_now_us();
	fire_after(&f, c, 200);
	r = nc_pm_map(&cfg, NULL, p, 40001, 60, &m, err, sizeof(err));
	ms = ms_since(t0);
	pthread_join(f.t, NULL);
	hang_stop(&h);
	nc_cancel_free(c);
	print_message("%s cancelled at 200 ms: %d after %llu ms: %s\n", nc_pm_proto_name(p), r,
		      (unsigned long long)ms, err);
	assert_int_equal(r, -NC_E_CANCELLED);
	assert_true(ms >= 195 && ms <= max_ms);
}

static void test_map_cancel_natpmp(void **state)
{
	(void)state;
	map_cancel(NC_PM_NATPMP, 200 + GRACE_MS + SLACK_MS);
}

static void test_map_cancel_pcp(void **state)
{
	(void)state;
	map_cancel(NC_PM_PCP, 200 + GRACE_MS + SLACK_MS);
}

static void test_map_cancel_upnp(void **state)
{
	(void)state;
	map_cancel(NC_PM_UPNP, 200 + GRACE_MS + SLACK_MS);
}

/* ---- the probe: a cancel ends it at once and leaves the silent ones unknown ------------- */

static void test_probe_cancel(void **state)
{
	struct hang h;
	struct nc_pm_cfg cfg;
	struct nc_portmap_result out[NC_PM_COUNT];
	struct nc_cancel *c = nc_cancel_new();
	struct firer f;
	uint64_t t0, ms;
	(void)state;

	hang_start(&h);
	cfg_for(&cfg, &h, NC_PM_NATPMP);
	cfg.protos = (1u << NC_PM_COUNT) - 1;
	cfg.cancel = c;
	t0 = nc_now_us();
	fire_after(&f, c, 100);
	assert_int_equal(nc_pm_probe(&cfg, out), 0);
	ms = ms_since(t0);
	pthread_join(f.t, NULL);
	hang_stop(&h);
	nc_cancel_free(c);
	print_message("probe cancelled at 100 ms: returned after %llu ms\n",
		      (unsigned long long)ms);
	assert_true(ms >= 95 && ms <= 100 + SLACK_MS);
	for (int p = 0; p < NC_PM_COUNT; p++) {
		/* silence cut short by a cancel proves nothing: unknown, not absent */
		assert_int_equal(out[p].present, NC_TRI_UNKNOWN);
		assert_non_null(strstr(out[p].error, "not determined (cancelled"));
	}
}

/* ---- deleting what is left: bounded even when the gateway hangs ------------------------- */

static void test_unmap_all_within(void **state)
{
	struct hang h;
	struct nc_pm_registry reg;
	struct nc_pm_mapping *m;
	char url[64];
	uint64_t t0, ms;
	int left;
	(void)state;

	hang_start(&h);
	memset(&reg, 0, sizeof(reg));
	for (int i = 0; i < 2; i++) {
		m = &reg.m[i];
		m->live = true;
		m->proto = i == 0 ? NC_PM_UPNP : NC_PM_NATPMP;
		m->ipproto = 17;
		assert_int_equal(nc_addr_parse("127.0.0.1:40002", 0, &m->internal), 0);
		m->internal.port = (uint16_t)(40002 + i);
		m->external = m->internal;
		assert_int_equal(nc_addr_parse_ip("127.0.0.1", &m->server), 0);
		m->server.port = h.udp_port;
		m->timeout_ms = 10000;
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/ctl/IPConn", h.tcp_port);
		snprintf(m->control_url, sizeof(m->control_url), "%s", url);
		snprintf(m->service_type, sizeof(m->service_type),
			 "urn:schemas-upnp-org:service:WANIPConnection:1");
	}
	t0 = nc_now_us();
	left = nc_pm_unmap_all_within(&reg, 400);
	ms = ms_since(t0);
	hang_stop(&h);
	print_message("unmap_all_within(400) on a hanging gateway: %d left after %llu ms\n", left,
		      (unsigned long long)ms);
	assert_int_equal(left, 2);
	assert_int_equal(nc_pm_registry_count(&reg), 2); /* not deleted: still listed */
	assert_true(ms <= 400 + SLACK_MS); /* no grace for deletes: abandoned ones go on alone */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_deadline_natpmp),
		cmocka_unit_test(test_map_deadline_pcp),
		cmocka_unit_test(test_map_deadline_upnp),
		cmocka_unit_test(test_map_cancel_natpmp),
		cmocka_unit_test(test_map_cancel_pcp),
		cmocka_unit_test(test_map_cancel_upnp),
		cmocka_unit_test(test_probe_cancel),
		cmocka_unit_test(test_unmap_all_within),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
