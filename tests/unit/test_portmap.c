/* Port mapping against a fake gateway on 127.0.0.1: one UDP socket answers NAT-PMP (version 0),
 * PCP (version 2) and SSDP M-SEARCH on the same port, with success, error codes, garbage or
 * silence. Checks the probe's words, its budget, map/unmap and the registry; plus the
 * /proc/net/route and SSDP LOCATION parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include "netutil.h"
#include "portmap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the fake gateway ------------------------------------------------------------------ */

enum fake_mode {
	FAKE_OK,          /* NAT-PMP and PCP succeed, external 203.0.113.9 */
	FAKE_REFUSE,      /* NAT-PMP NOT_AUTHORIZED, PCP NOT_AUTHORIZED */
	FAKE_GARBAGE,     /* short junk to everything; SSDP without LOCATION */
	FAKE_NATPMP_ONLY, /* NAT-PMP works, PCP gets a version 0 UNSUPP_VERSION */
	FAKE_SILENT,      /* never answers */
	FAKE_MAP_ERRORS,  /* PCP ANNOUNCE ok, MAP with the result code in fake.pcp_code */
};

struct fake {
	int fd;
	int stop[2];
	uint16_t port;
	enum fake_mode mode;
	uint8_t pcp_code;
	unsigned maps, deletes, pmp_maps, pmp_deletes, ssdp;
	uint8_t nonce[12]; /* of the last PCP MAP */
	pthread_t thread;
};

static const uint8_t ext_ip[4] = {203, 0, 113, 9};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t answer_natpmp(struct fake *f, const uint8_t *q, size_t n, uint8_t *a)
{
	if (f->mode == FAKE_GARBAGE) {
		memcpy(a, "\x00\x80\x00", 3); /* 3 bytes: looks like NAT-PMP, is not */
		return 3;
	}
	if (n < 2)
		return 0;
	memset(a, 0, 16);
	a[1] = (uint8_t)(128 + q[1]);
	put32(a + 4, 77); /* epoch */
	if (f->mode == FAKE_REFUSE) {
		a[3] = 2; /* NOT_AUTHORIZED */
		return q[1] == 0 ? 12 : 16;
	}
	if (q[1] == 0) {
		memcpy(a + 8, ext_ip, 4);
		return 12;
	}
	if (n < 12)
		return 0;
	/* map: private port, public port = private + 1000 (0 on delete), lifetime echoed */
	memcpy(a + 8, q + 4, 2);
	if (q[8] | q[9] | q[10] | q[11]) {
		uint16_t pub = (uint16_t)(((q[4] << 8) | q[5]) + 1000);
		a[10] = (uint8_t)(pub >> 8), a[11] = (uint8_t)pub;
		f->pmp_maps++;
	} else {
		f->pmp_deletes++;
	}
	memcpy(a + 12, q + 8, 4);
	return 16;
}

static size_t answer_pcp(struct fake *f, const uint8_t *q, size_t n, uint8_t *a)
{
	uint8_t op = q[1] & 0x7f;
	size_t len = 24;

	if (f->mode == FAKE_GARBAGE) {
		memset(a, 0, 10);
		a[0] = 2, a[1] = 0x81; /* 10 bytes: a truncated PCP response */
		return 10;
	}
	if (f->mode == FAKE_NATPMP_ONLY) {
		/* RFC 6887 §9 / RFC 6886 §3.5 */
		a[0] = 0, a[1] = (uint8_t)(128 + op), a[2] = 0, a[3] = 1;
		put32(a + 4, 77);
		return 8;
	}
	if (n < 24)
		return 0;
	memset(a, 0, 60);
	a[0] = 2;
	a[1] = 0x80 | op;
	memcpy(a + 4, q + 4, 4); /* lifetime */
	put32(a + 8, 77);
	if (f->mode == FAKE_REFUSE)
		a[3] = 2;
	if (op == 1 && n >= 60) {
		uint32_t life = ((uint32_t)q[4] << 24) | ((uint32_t)q[5] << 16) | (q[6] << 8) | q[7];
		memcpy(a + 24, q + 24, 36); /* nonce, protocol, ports, address */
		memcpy(f->nonce, q + 24, sizeof(f->nonce));
		a[42] = q[40], a[43] = q[41]; /* assigned external = internal port */
		memset(a + 44, 0, 10);
		a[54] = 0xff, a[55] = 0xff;
		memcpy(a + 56, ext_ip, 4);
		if (f->mode == FAKE_MAP_ERRORS)
			a[3] = f->pcp_code;
		if (life)
			f->maps++;
		else
			f->deletes++;
		len = 60;
	}
	return len;
}

static size_t answer_ssdp(struct fake *f, uint8_t *a, size_t cap)
{
	f->ssdp++;
	if (f->mode == FAKE_GARBAGE)
		return (size_t)snprintf((char *)a, cap, "HTTP/1.1 200 OK\r\nST: x\r\n\r\n");
	/* a LOCATION on a port where nothing listens: the description fetch fails */
	return (size_t)snprintf((char *)a, cap,
				"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
				"LOCATION: http://127.0.0.1:9/rootDesc.xml\r\n"
				"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n");
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = f->fd, .events = POLLIN},
					{.fd = f->stop[0], .events = POLLIN}};
		uint8_t q[1500], a[1500];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n;
		size_t alen = 0;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		n = recvfrom(f->fd, q, sizeof(q), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n <= 0 || f->mode == FAKE_SILENT)
			continue;
		if (q[0] == 0)
			alen = answer_natpmp(f, q, (size_t)n, a);
		else if (q[0] == 2)
			alen = answer_pcp(f, q, (size_t)n, a);
		else if (q[0] == 'M')
			alen = answer_ssdp(f, a, sizeof(a));
		if (alen)
			(void)sendto(f->fd, a, alen, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void fake_start_code(struct fake *f, enum fake_mode mode, uint8_t pcp_code)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->pcp_code = pcp_code;
	f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sin, &sl), 0);
	f->port = ntohs(sin.sin_port);
	assert_int_equal(pipe(f->stop), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
	fake_start_code(f, mode, 0);
}

static void fake_stop(struct fake *f)
{
	assert_int_equal(write(f->stop[1], "x", 1), 1);
	pthread_join(f->thread, NULL);
	close(f->fd);
	close(f->stop[0]);
	close(f->stop[1]);
}

static void cfg_for(struct nc_pm_cfg *cfg, const struct fake *f, unsigned protos)
{
	memset(cfg, 0, sizeof(*cfg));
	assert_int_equal(nc_addr_parse_ip("127.0.0.1", &cfg->gateway), 0);
	cfg->pmp_port = f->port;
	cfg->ssdp_port = f->port;
	cfg->ssdp_unicast_only = true;
	cfg->budget_ms = 400;
	cfg->map_timeout_ms = 400;
	cfg->protos = protos;
}

static uint64_t probe_ms(const struct nc_pm_cfg *cfg, struct nc_portmap_result out[NC_PM_COUNT])
{
	uint64_t t0 = nc_now_us();

	assert_int_equal(nc_pm_probe(cfg, out), 0);
	return (nc_now_us() - t0) / 1000;
}

#define PMP_PCP ((1u << NC_PM_NATPMP) | (1u << NC_PM_PCP))
#define ALL ((1u << NC_PM_COUNT) - 1)
#define SLACK_MS 100

/* Runs the probe against a fresh fake gateway (stopped again before returning, so its
 * counters can be read) and checks the budget. */
static void probe_fake(struct fake *f, enum fake_mode mode, uint8_t pcp_code, unsigned protos,
		       struct nc_portmap_result out[NC_PM_COUNT])
{
	struct nc_pm_cfg cfg;

	fake_start_code(f, mode, pcp_code);
	cfg_for(&cfg, f, protos);
	assert_true(probe_ms(&cfg, out) <= cfg.budget_ms + SLACK_MS);
	fake_stop(f);
}

/* ---- probe ----------------------------------------------------------------------------- */

static void test_probe_success(void **state)
{
	struct fake f;
	struct nc_portmap_result out[NC_PM_COUNT];
	char a[NC_ADDR_STRLEN];
	(void)state;

	probe_fake(&f, FAKE_OK, 0, PMP_PCP, out);
	for (int p = NC_PM_NATPMP; p <= NC_PM_PCP; p++) {
		assert_true(out[p].tested);
		assert_int_equal(out[p].present, NC_TRI_YES);
		assert_string_equal(nc_addr_ip_str(&out[p].external, a), "203.0.113.9");
		assert_string_equal(out[p].error, "");
	}
	assert_false(out[NC_PM_UPNP].tested);
	/* the probe's temporary PCP mapping was deleted again */
	assert_int_equal(f.maps, 1);
	assert_int_equal(f.deletes, 1);
}

static void test_probe_refused(void **state)
{
	struct fake f;
	struct nc_portmap_result out[NC_PM_COUNT];
	(void)state;

	probe_fake(&f, FAKE_REFUSE, 0, PMP_PCP, out);
	assert_int_equal(out[NC_PM_NATPMP].present, NC_TRI_YES);
	assert_non_null(strstr(out[NC_PM_NATPMP].error, "NAT-PMP: NOT_AUTHORIZED"));
	assert_int_equal(out[NC_PM_PCP].present, NC_TRI_YES);
	assert_string_equal(out[NC_PM_PCP].error,
			    "PCP: NOT_AUTHORIZED (the gateway refused the mapping)");
	assert_false(nc_addr_is_set(&out[NC_PM_PCP].external));
	assert_int_equal(f.deletes, 0);
}

static void test_probe_map_error_codes(void **state)
{
	struct nc_portmap_result out[NC_PM_COUNT];
	char expect[NC_NOTE_LEN];
	(void)state;

	for (uint8_t code = 1; code <= 13; code++) {
		struct fake f;

		probe_fake(&f, FAKE_MAP_ERRORS, code, 1u << NC_PM_PCP, out);
		snprintf(expect, sizeof(expect), "PCP: %s (%s)", pcp_result_name(code),
			 pcp_result_message(code));
		assert_int_equal(out[NC_PM_PCP].present, NC_TRI_YES);
		assert_string_equal(out[NC_PM_PCP].error, expect);
	}
}

static void test_probe_garbage(void **state)
{
	struct fake f;
	struct nc_portmap_result out[NC_PM_COUNT];
	(void)state;

	probe_fake(&f, FAKE_GARBAGE, 0, ALL, out);
	for (int p = 0; p < NC_PM_COUNT; p++) {
		assert_true(out[p].tested);
		assert_int_equal(out[p].present, NC_TRI_NO);
		print_message("%s: %s\n", nc_pm_proto_name((enum nc_pm_proto)p), out[p].error);
	}
	assert_non_null(strstr(out[NC_PM_NATPMP].error, "but not in NAT-PMP"));
	assert_non_null(strstr(out[NC_PM_PCP].error, "but not in PCP"));
	assert_non_null(strstr(out[NC_PM_UPNP].error, "no usable LOCATION"));
	assert_true(f.ssdp >= 1);
}

static void test_probe_natpmp_only(void **state)
{
	struct fake f;
	struct nc_portmap_result out[NC_PM_COUNT];
	(void)state;

	probe_fake(&f, FAKE_NATPMP_ONLY, 0, ALL, out);
	assert_int_equal(out[NC_PM_NATPMP].present, NC_TRI_YES);
	assert_int_equal(out[NC_PM_PCP].present, NC_TRI_NO);
	assert_non_null(strstr(out[NC_PM_PCP].error, "NAT-PMP only"));
	/* SSDP answered with a LOCATION nobody serves */
	assert_int_equal(out[NC_PM_UPNP].present, NC_TRI_NO);
	assert_non_null(strstr(out[NC_PM_UPNP].error, "not a usable Internet Gateway Device"));
}

static void test_probe_silent_within_budget(void **state)
{
	struct fake f;
	struct nc_pm_cfg cfg;
	struct nc_portmap_result out[NC_PM_COUNT];
	uint64_t ms;
	(void)state;

	fake_start(&f, FAKE_SILENT);
	cfg_for(&cfg, &f, ALL);
	cfg.budget_ms = 300;
	ms = probe_ms(&cfg, out);
	fake_stop(&f);
	print_message("silent gateway: %llu ms\n", (unsigned long long)ms);
	assert_true(ms >= 250 && ms <= cfg.budget_ms + SLACK_MS);
	for (int p = 0; p < NC_PM_COUNT; p++)
		assert_int_equal(out[p].present, NC_TRI_NO);
	assert_non_null(strstr(out[NC_PM_NATPMP].error, "no answer from 127.0.0.1:"));
	assert_non_null(strstr(out[NC_PM_PCP].error, "no answer from 127.0.0.1:"));
}

static void test_probe_closed_port(void **state)
{
	struct fake f;
	struct nc_pm_cfg cfg;
	struct nc_portmap_result out[NC_PM_COUNT];
	(void)state;

	/* a port nobody listens on: ICMP port unreachable, reported at once */
	fake_start(&f, FAKE_SILENT);
	cfg_for(&cfg, &f, PMP_PCP);
	fake_stop(&f);
	assert_true(probe_ms(&cfg, out) < cfg.budget_ms);
	assert_int_equal(out[NC_PM_NATPMP].present, NC_TRI_NO);
	assert_non_null(strstr(out[NC_PM_NATPMP].error, "ICMP port unreachable"));
	assert_int_equal(out[NC_PM_PCP].present, NC_TRI_NO);
	assert_non_null(strstr(out[NC_PM_PCP].error, "ICMP port unreachable"));
}

static void test_probe_bad_gateway(void **state)
{
	struct nc_pm_cfg cfg = {0};
	struct nc_portmap_result out[NC_PM_COUNT];
	(void)state;

	assert_int_equal(nc_addr_parse_ip("::1", &cfg.gateway), 0);
	assert_int_equal(nc_pm_probe(&cfg, out), 0);
	for (int p = 0; p < NC_PM_COUNT; p++) {
		assert_int_equal(out[p].present, NC_TRI_NO);
		assert_non_null(strstr(out[p].error, "no IPv4 default gateway"));
	}
	assert_int_equal(nc_pm_probe(&cfg, NULL), -NC_E_INVALID);
}

/* ---- map / unmap / registry ------------------------------------------------------------ */

static void test_map_unmap(void **state)
{
	struct fake f;
	struct nc_pm_cfg cfg;
	struct nc_pm_registry reg;
	struct nc_pm_mapping pcp, pmp;
	char err[NC_NOTE_LEN] = "", a[NC_ADDR_STRLEN];
	(void)state;

	memset(&reg, 0, sizeof(reg));
	fake_start(&f, FAKE_OK);
	cfg_for(&cfg, &f, 0);
	assert_int_equal(nc_pm_map(&cfg, &reg, NC_PM_PCP, 40000, 600, &pcp, err, sizeof(err)), 0);
	assert_true(pcp.live);
	assert_string_equal(nc_addr_str(&pcp.external, a), "203.0.113.9:40000");
	assert_string_equal(nc_addr_str(&pcp.internal, a), "127.0.0.1:40000");
	assert_int_equal(pcp.lifetime_s, 600);
	assert_int_equal(nc_pm_map(&cfg, &reg, NC_PM_NATPMP, 40001, 600, &pmp, err, sizeof(err)),
			 0);
	assert_string_equal(nc_addr_str(&pmp.external, a), "203.0.113.9:41001");
	assert_int_equal(nc_pm_registry_count(&reg), 2);
	assert_int_equal(f.maps, 1);
	assert_int_equal(f.pmp_maps, 1);

	/* explicit delete of one, then everything left */
	assert_int_equal(nc_pm_unmap(&reg, &pcp, err, sizeof(err)), 0);
	assert_false(pcp.live);
	assert_int_equal(nc_pm_registry_count(&reg), 1);
	assert_int_equal(nc_pm_unmap(&reg, &pcp, err, sizeof(err)), -NC_E_INVALID);
	assert_int_equal(nc_pm_unmap_all(&reg), 0);
	assert_int_equal(nc_pm_registry_count(&reg), 0);
	fake_stop(&f);
	assert_int_equal(f.deletes, 1);
	assert_int_equal(f.pmp_deletes, 1);
}

static void test_map_refresh(void **state)
{
	struct fake f;
	struct nc_pm_cfg cfg;
	struct nc_pm_registry reg;
	struct nc_pm_mapping pcp, pmp;
	uint8_t nonce[12];
	char err[NC_NOTE_LEN] = "", a[NC_ADDR_STRLEN];
	(void)state;

	memset(&reg, 0, sizeof(reg));
	fake_start(&f, FAKE_OK);
	cfg_for(&cfg, &f, 0);
	assert_int_equal(nc_pm_map(&cfg, &reg, NC_PM_PCP, 40010, 600, &pcp, err, sizeof(err)), 0);
	memcpy(nonce, f.nonce, sizeof(nonce));
	assert_int_equal(nc_pm_map(&cfg, &reg, NC_PM_NATPMP, 40011, 600, &pmp, err, sizeof(err)),
			 0);
	/* RFC 6887 §11.2.1: a renewal is the same MAP (same nonce) with a new lifetime */
	assert_int_equal(nc_pm_refresh(&cfg, &reg, &pcp, 1200, err, sizeof(err)), 0);
	assert_memory_equal(f.nonce, nonce, sizeof(nonce));
	assert_int_equal(pcp.lifetime_s, 1200);
	assert_string_equal(nc_addr_str(&pcp.external, a), "203.0.113.9:40010");
	assert_int_equal(nc_pm_refresh(&cfg, &reg, &pmp, 1200, err, sizeof(err)), 0);
	assert_int_equal(pmp.lifetime_s, 1200);
	assert_string_equal(nc_addr_str(&pmp.external, a), "203.0.113.9:41011");
	/* the registry's copies follow */
	assert_int_equal(nc_pm_registry_count(&reg), 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(reg.m[i].lifetime_s, 1200);
	assert_int_equal(f.maps, 2);
	assert_int_equal(f.pmp_maps, 2);
	assert_int_equal(nc_pm_unmap_all(&reg), 0);
	pcp.live = false;
	assert_int_equal(nc_pm_refresh(&cfg, &reg, &pcp, 600, err, sizeof(err)), -NC_E_INVALID);
	fake_stop(&f);
}

static void test_map_errors_in_words(void **state)
{
	struct fake f;
	struct nc_pm_cfg cfg;
	struct nc_pm_registry reg;
	struct nc_pm_mapping m;
	char err[NC_NOTE_LEN];
	(void)state;

	memset(&reg, 0, sizeof(reg));
	fake_start(&f, FAKE_REFUSE);
	cfg_for(&cfg, &f, 0);
	assert_true(nc_pm_map(&cfg, &reg, NC_PM_PCP, 40000, 600, &m, err, sizeof(err)) < 0);
	assert_string_equal(err, "PCP: NOT_AUTHORIZED (the gateway refused the mapping)");
	assert_true(nc_pm_map(&cfg, &reg, NC_PM_NATPMP, 40000, 600, &m, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "NAT-PMP: NOT_AUTHORIZED"));
	assert_int_equal(nc_pm_registry_count(&reg), 0);
	fake_stop(&f);

	fake_start(&f, FAKE_SILENT);
	cfg_for(&cfg, &f, 0);
	cfg.map_timeout_ms = 300;
	assert_int_equal(nc_pm_map(&cfg, &reg, NC_PM_PCP, 40000, 600, &m, err, sizeof(err)),
			 -NC_E_TIMEOUT);
	assert_non_null(strstr(err, "no answer"));
	assert_true(nc_pm_map(&cfg, &reg, NC_PM_UPNP, 40000, 600, &m, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "UPnP-IGD"));
	fake_stop(&f);
	assert_int_equal(nc_pm_map(&cfg, &reg, NC_PM_COUNT, 40000, 600, &m, err, sizeof(err)),
			 -NC_E_INVALID);
	assert_int_equal(nc_pm_map(&cfg, &reg, NC_PM_PCP, 0, 600, &m, err, sizeof(err)),
			 -NC_E_INVALID);
}

static void test_registry_full(void **state)
{
	struct fake f;
	struct nc_pm_cfg cfg;
	struct nc_pm_registry reg;
	struct nc_pm_mapping m;
	char err[NC_NOTE_LEN];
	(void)state;

	memset(&reg, 0, sizeof(reg));
	fake_start(&f, FAKE_OK);
	cfg_for(&cfg, &f, 0);
	for (int i = 0; i < NC_PM_MAX_LIVE; i++)
		assert_int_equal(nc_pm_map(&cfg, &reg, NC_PM_PCP, (uint16_t)(42000 + i), 60, &m,
					   err, sizeof(err)),
				 0);
	assert_int_equal(nc_pm_map(&cfg, &reg, NC_PM_PCP, 43000, 60, &m, err, sizeof(err)),
			 -NC_E_NOSPACE);
	assert_false(m.live);
	assert_int_equal(nc_pm_unmap_all(&reg), 0);
	fake_stop(&f);
	/* the one that did not fit was deleted at once, like all the others later */
	assert_int_equal(f.maps, NC_PM_MAX_LIVE + 1);
	assert_int_equal(f.deletes, NC_PM_MAX_LIVE + 1);
}

/* ---- parsers ----------------------------------------------------------------------------- */

static void test_parse_route(void **state)
{
	static const char route[] =
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		"eth0\t0000010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
		"wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
		"eth0\t00000000\t0100010A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
		"tun0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n";
	static const char none[] =
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		"eth0\t0000010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
	struct nc_addr gw;
	char a[NC_ADDR_STRLEN];
	uint32_t probe = 0x01020304;
	(void)state;

	if (*(uint8_t *)&probe != 4)
		skip(); /* the sample is a little-endian kernel's */
	assert_int_equal(nc_pm_parse_route(route, &gw), 0);
	assert_string_equal(nc_addr_ip_str(&gw, a), "10.1.0.1");
	assert_int_equal(nc_pm_parse_route(none, &gw), -NC_E_UNSUPPORTED);
	assert_int_equal(nc_pm_parse_route("", &gw), -NC_E_UNSUPPORTED);
	assert_int_equal(nc_pm_parse_route("garbage\n\n\t\n", &gw), -NC_E_UNSUPPORTED);
}

static void test_ssdp_location(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\n"
				 "CACHE-CONTROL: max-age=120\r\n"
				 "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
				 "location:   http://10.1.0.1:5000/rootDesc.xml  \r\n"
				 "\r\n";
	char url[NC_PM_URL_LEN], big[600];
	uint8_t *p;
	(void)state;

	assert_int_equal(nc_pm_ssdp_location((const uint8_t *)ok, strlen(ok), url, sizeof(url)), 0);
	assert_string_equal(url, "http://10.1.0.1:5000/rootDesc.xml");
	assert_int_equal(nc_pm_ssdp_location((const uint8_t *)ok, strlen(ok), url, 20),
			 -NC_E_NOSPACE);
#define LOC(s) nc_pm_ssdp_location((const uint8_t *)(s), sizeof(s) - 1, url, sizeof(url))
	assert_int_equal(LOC("HTTP/1.1 404 Not Found\r\nLOCATION: http://a/\r\n\r\n"),
			 -NC_E_MALFORMED);
	assert_int_equal(LOC("HTTP/1.1 200 OK\r\nST: x\r\n\r\n"), -NC_E_MALFORMED);
	assert_int_equal(LOC("HTTP/1.1 200 OK\r\n\r\nLOCATION: http://a/x\r\n"), -NC_E_MALFORMED);
	assert_int_equal(LOC("HTTP/1.1 200 OK\r\nLOCATION: ftp://a/x\r\n\r\n"), -NC_E_MALFORMED);
	assert_int_equal(LOC("HTTP/1.1 200 OK\r\nLOCATION: http://a/\x01x\r\n\r\n"),
			 -NC_E_MALFORMED);
	assert_int_equal(LOC("HTTP/1.1 200 OK\r\nLOCATION: http://a/\0x\r\n\r\n"),
			 -NC_E_MALFORMED);
	assert_int_equal(LOC("HTTP/1.1 200 OK\nLocation: http://a/b\n"), 0);
	assert_string_equal(url, "http://a/b");
	assert_int_equal(LOC(""), -NC_E_MALFORMED);
	assert_int_equal(LOC("HTTP/1.1"), -NC_E_MALFORMED);
	/* an overlong LOCATION line */
	memset(big, 'a', sizeof(big));
	memcpy(big, "HTTP/1.1 200 OK\r\nLOCATION: http://", 34);
	assert_int_equal(nc_pm_ssdp_location((const uint8_t *)big, sizeof(big), url, sizeof(url)),
			 -NC_E_NOSPACE);
	/* every prefix, in a buffer of exactly that size */
	for (size_t n = 0; n <= strlen(ok); n++) {
		p = malloc(n ? n : 1);
		memcpy(p, ok, n);
		(void)nc_pm_ssdp_location(p, n, url, sizeof(url));
		free(p);
	}
}

static void test_natpmp_names(void **state)
{
	(void)state;
	assert_string_equal(nc_pm_natpmp_result_name(0), "SUCCESS");
	assert_string_equal(nc_pm_natpmp_result_name(2), "NOT_AUTHORIZED");
	assert_string_equal(nc_pm_natpmp_result_name(5), "UNSUPPORTED_OPCODE");
	assert_string_equal(nc_pm_natpmp_result_name(6), "UNKNOWN");
	assert_non_null(nc_pm_natpmp_result_message(1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_success),
		cmocka_unit_test(test_probe_refused),
		cmocka_unit_test(test_probe_map_error_codes),
		cmocka_unit_test(test_probe_garbage),
		cmocka_unit_test(test_probe_natpmp_only),
		cmocka_unit_test(test_probe_silent_within_budget),
		cmocka_unit_test(test_probe_closed_port),
		cmocka_unit_test(test_probe_bad_gateway),
		cmocka_unit_test(test_map_unmap),
		cmocka_unit_test(test_map_refresh),
		cmocka_unit_test(test_map_errors_in_words),
		cmocka_unit_test(test_registry_full),
		cmocka_unit_test(test_parse_route),
		cmocka_unit_test(test_ssdp_location),
		cmocka_unit_test(test_natpmp_names),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
