/* The topology classifier: NAT layers and carrier-grade NAT from the host's address, the
 * routers on the path and what port-mapping gateways claim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testaddr.h"
#include "topology.h"

#include <string.h>

static struct nc_result R;

static void natted(const char *local, const char *public_ep)
{
	nc_result_init(&R);
	R.udp.nat = NC_TRI_YES;
	R.udp.local = ep(local);
	R.udp.public_ep = ep(public_ep);
}

static struct nc_hops path(const char *h1, const char *h2, uint8_t reached_at)
{
	struct nc_hops h;

	memset(&h, 0, sizeof(h));
	h.n = 6;
	if (h1)
		h.hop[0] = ep(h1);
	if (h2)
		h.hop[1] = ep(h2);
	h.reached_at = reached_at;
	return h;
}

static void expect(int layers, enum nc_tri cgnat, enum nc_tri dbl)
{
	assert_int_equal(R.topology.nat_layers, layers);
	assert_int_equal(R.topology.cgnat, cgnat);
	assert_int_equal(R.topology.double_nat, dbl);
}

static void test_no_nat(void **state)
{
	(void)state;
	nc_result_init(&R);
	R.udp.nat = NC_TRI_NO;
	nc_classify_topology(&R, NULL);
	expect(0, NC_TRI_NO, NC_TRI_NO);
}

static void test_single_nat(void **state)
{
	struct nc_hops h;
	(void)state;

	/* Private gateway, then the server itself. */
	natted("10.1.0.2:40000", "198.18.10.1:40000");
	h = path("10.1.0.1", NULL, 2);
	nc_classify_topology(&R, &h);
	expect(1, NC_TRI_NO, NC_TRI_NO);

	/* Private gateway, then a public router. */
	natted("10.1.0.2:40000", "198.18.10.1:40000");
	h = path("10.1.0.1", "198.18.10.254", 0);
	nc_classify_topology(&R, &h);
	expect(1, NC_TRI_NO, NC_TRI_NO);
}

static void test_cgnat_and_double(void **state)
{
	struct nc_hops h;
	(void)state;

	natted("10.1.0.2:40000", "198.18.30.1:40000");
	h = path("10.1.0.1", "100.64.0.1", 3);
	nc_classify_topology(&R, &h);
	expect(2, NC_TRI_YES, NC_TRI_YES);

	natted("10.1.0.2:40000", "198.18.30.1:40000");
	h = path("10.1.0.1", "192.168.50.1", 3);
	nc_classify_topology(&R, &h);
	expect(2, NC_TRI_NO, NC_TRI_YES);

	/* A host that itself has a shared-space address sits right behind the carrier's NAT. */
	natted("100.80.1.2:40000", "203.0.113.9:40000");
	nc_classify_topology(&R, NULL);
	expect(1, NC_TRI_YES, NC_TRI_NO);
}

static void test_silent_hops_decide_nothing(void **state)
{
	struct nc_hops h;
	(void)state;

	natted("10.1.0.2:40000", "198.18.10.1:40000");
	h = path(NULL, NULL, 0);
	nc_classify_topology(&R, &h);
	expect(-1, NC_TRI_UNKNOWN, NC_TRI_UNKNOWN);
}

static void test_gateway_claims(void **state)
{
	(void)state;

	/* Tailscale #5236: NAT-PMP hands out a CGNAT address. */
	natted("10.1.0.2:40000", "203.0.113.9:40000");
	R.portmap[NC_PM_NATPMP].present = NC_TRI_YES;
	R.portmap[NC_PM_NATPMP].external = ep("100.125.87.73");
	nc_classify_topology(&R, NULL);
	expect(2, NC_TRI_YES, NC_TRI_YES);

	/* A public claim that differs from what servers see: another NAT above the gateway. */
	natted("10.1.0.2:40000", "203.0.113.9:40000");
	R.portmap[NC_PM_UPNP].present = NC_TRI_YES;
	R.portmap[NC_PM_UPNP].external = ep("198.51.100.20");
	nc_classify_topology(&R, NULL);
	expect(2, NC_TRI_NO, NC_TRI_YES);
	assert_true(R.n_notes > 0 && strstr(R.notes[R.n_notes - 1], "another NAT"));

	/* The claim matches: the gateway is the only NAT. */
	natted("10.1.0.2:40000", "2.1.1.1:40000");
	R.portmap[NC_PM_PCP].present = NC_TRI_YES;
	R.portmap[NC_PM_PCP].external = ep("2.1.1.1");
	nc_classify_topology(&R, NULL);
	expect(1, NC_TRI_NO, NC_TRI_NO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_nat),
		cmocka_unit_test(test_single_nat),
		cmocka_unit_test(test_cgnat_and_double),
		cmocka_unit_test(test_silent_hops_decide_nothing),
		cmocka_unit_test(test_gateway_claims),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
