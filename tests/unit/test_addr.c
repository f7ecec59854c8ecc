/* Transport endpoints: parsing (literals only, strict ports), formatting, sockaddr conversion,
 * comparison and the address scopes the topology code relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/addr.h>
#include <natcheck/error.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void test_parse_and_format(void **state)
{
	static const struct {
		const char *in;
		uint16_t default_port;
		int family;
		uint16_t port;
		const char *str, *ip;
	} cases[] = {
		{"198.18.1.1", 3478, AF_INET, 3478, "198.18.1.1:3478", "198.18.1.1"},
		{"203.0.113.9:65535", 1, AF_INET, 65535, "203.0.113.9:65535", "203.0.113.9"},
		{"0.0.0.0:1", 1, AF_INET, 1, "0.0.0.0:1", "0.0.0.0"},
		/* Without a port the default is used, 0 included (an address, not an endpoint). */
		{"10.0.0.1", 0, AF_INET, 0, "10.0.0.1:0", "10.0.0.1"},
		{"[::1]:9", 3478, AF_INET6, 9, "[::1]:9", "::1"},
		/* Bare (no brackets): every colon is the address's, the port is the default. */
		{"2001:db8::1", 5, AF_INET6, 5, "[2001:db8::1]:5", "2001:db8::1"},
		{"[2001:db8::1]", 6, AF_INET6, 6, "[2001:db8::1]:6", "2001:db8::1"},
		/* Formatting is canonical (RFC 5952): lower case, zeros compressed. */
		{"[2001:0DB8:0:0:0:0:0:00AB]:443", 0, AF_INET6, 443, "[2001:db8::ab]:443",
		 "2001:db8::ab"},
		/* The longest forms fit NC_ADDR_STRLEN. */
		{"[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535", 0, AF_INET6, 65535,
		 "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	};
	struct nc_addr a;
	char s[NC_ADDR_STRLEN];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(nc_addr_parse(cases[i].in, cases[i].default_port, &a), 0);
		assert_int_equal(a.family, cases[i].family);
		assert_int_equal(a.port, cases[i].port);
		assert_string_equal(nc_addr_str(&a, s), cases[i].str);
		assert_string_equal(nc_addr_ip_str(&a, s), cases[i].ip);
	}
	/* IPv4 sits in the first four bytes, the rest zero, so memcmp-based equality works. */
	assert_int_equal(nc_addr_parse("198.18.1.1", 0, &a), 0);
	assert_memory_equal(a.ip, "\xc6\x12\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0", 16);
}

static void test_parse_rejects_garbage(void **state)
{
	static const char *bad[] = {
		"",
		"stun.example.org",   /* no name resolution */
		"localhost:3478",
		"1.2.3",
		"1.2.3.4.5",
		"256.1.1.1",
		"1.2.3.4:",           /* empty port */
		"1.2.3.4:0",          /* port 0 is no endpoint */
		"1.2.3.4:65536",
		"1.2.3.4:99999999999999999999",
		"1.2.3.4:-1",
		"1.2.3.4:+1",
		"1.2.3.4: 1",
		"1.2.3.4:1 ",
		"1.2.3.4:1x",
		"1.2.3.4:0x10",
		" 1.2.3.4",
		"1.2.3.4:5:6",
		"[::1",
		"::1]",
		"[::1]x",
		"[::1]:",
		"[::1]:0",
		"[::1]:70000",
		"[]",
		"[]:1",
		"::g",
		"2001:db8::1::2",
		"fe80::1%eth0",       /* scoped literals are not endpoints we can report */
		"[fe80::1%eth0]:1",
	};
	struct nc_addr a;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = nc_addr_parse(bad[i], 1, &a);
		if (rc != -NC_E_PARSE)
			fail_msg("\"%s\" parsed (rc %d)", bad[i], rc);
	}
	assert_int_equal(nc_addr_parse_ip("1.2.3.4:5", &a), -NC_E_PARSE);
	assert_int_equal(nc_addr_parse_ip("[::1]", &a), -NC_E_PARSE);
	assert_int_equal(nc_addr_parse_ip("::1", &a), 0);
	assert_int_equal(a.port, 0);
}

static void test_unset(void **state)
{
	struct nc_addr none = {0};
	char s[NC_ADDR_STRLEN];
	struct sockaddr_storage ss;
	(void)state;

	assert_false(nc_addr_is_set(&none));
	assert_string_equal(nc_addr_str(&none, s), "(none)");
	assert_string_equal(nc_addr_ip_str(&none, s), "(none)");
	assert_int_equal(nc_addr_to_sockaddr(&none, &ss), 0);
	assert_int_equal(nc_addr_scope(&none), NC_SCOPE_OTHER_RESERVED);
}

static void test_sockaddr(void **state)
{
	struct nc_addr a, b;
	struct sockaddr_storage ss;
	struct sockaddr_in6 in6;
	struct sockaddr_un_like {
		sa_family_t family;
		char path[8];
	} other = {AF_UNIX, "x"};
	(void)state;

	/* To a sockaddr and back, both families; ports in network order on the wire. */
	assert_int_equal(nc_addr_parse("192.0.2.7:4242", 0, &a), 0);
	assert_int_equal(nc_addr_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in));
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, htons(4242));
	assert_int_equal(nc_addr_from_sockaddr(&b, (struct sockaddr *)&ss,
					       sizeof(struct sockaddr_in)), 0);
	assert_true(nc_addr_eq(&a, &b));

	assert_int_equal(nc_addr_parse("[2001:db8::7]:1", 0, &a), 0);
	assert_int_equal(nc_addr_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in6));
	assert_int_equal(nc_addr_from_sockaddr(&b, (struct sockaddr *)&ss,
					       sizeof(struct sockaddr_in6)), 0);
	assert_true(nc_addr_eq(&a, &b));

	/* A v4-mapped IPv6 source (dual-stack socket) is the IPv4 endpoint it stands for. */
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(53);
	assert_int_equal(inet_pton(AF_INET6, "::ffff:198.51.100.4", &in6.sin6_addr), 1);
	assert_int_equal(nc_addr_from_sockaddr(&b, (struct sockaddr *)&in6, sizeof(in6)), 0);
	assert_int_equal(nc_addr_parse("198.51.100.4:53", 0, &a), 0);
	assert_true(nc_addr_eq(&a, &b));

	/* Short lengths and other families are refused, leaving the address unset. */
	assert_int_equal(nc_addr_from_sockaddr(&b, (struct sockaddr *)&in6, sizeof(in6) - 1),
			 -NC_E_FAMILY);
	assert_false(nc_addr_is_set(&b));
	assert_int_equal(nc_addr_from_sockaddr(&b, (struct sockaddr *)&other, sizeof(other)),
			 -NC_E_FAMILY);
	assert_false(nc_addr_is_set(&b));
}

static void test_compare(void **state)
{
	struct nc_addr a, b;
	(void)state;

	assert_int_equal(nc_addr_parse("192.0.2.1:1", 0, &a), 0);
	assert_int_equal(nc_addr_parse("192.0.2.1:2", 0, &b), 0);
	assert_false(nc_addr_eq(&a, &b));
	assert_true(nc_addr_ip_eq(&a, &b));
	b.port = 1;
	assert_true(nc_addr_eq(&a, &b));
	assert_int_equal(nc_addr_parse("192.0.2.2:1", 0, &b), 0);
	assert_false(nc_addr_ip_eq(&a, &b));
	/* Same bytes, different family: different addresses. */
	nc_addr_set(&b, AF_INET6, "\xc0\x00\x02\x01\0\0\0\0\0\0\0\0\0\0\0\0", 1);
	assert_false(nc_addr_eq(&a, &b));
	nc_addr_set(&b, AF_INET, "\xc0\x00\x02\x01", 1);
	assert_true(nc_addr_eq(&a, &b));
}

static void test_scopes(void **state)
{
	static const struct {
		const char *ip;
		enum nc_addr_scope scope;
	} cases[] = {
		{"10.1.2.3", NC_SCOPE_PRIVATE},         {"172.16.0.1", NC_SCOPE_PRIVATE},
		{"172.31.255.255", NC_SCOPE_PRIVATE},   {"172.32.0.1", NC_SCOPE_PUBLIC},
		{"172.15.255.255", NC_SCOPE_PUBLIC},    {"192.168.1.1", NC_SCOPE_PRIVATE},
		{"100.64.0.1", NC_SCOPE_CGNAT},         {"100.127.255.254", NC_SCOPE_CGNAT},
		{"100.128.0.1", NC_SCOPE_PUBLIC},       {"100.63.255.255", NC_SCOPE_PUBLIC},
		{"127.0.0.1", NC_SCOPE_LOOPBACK},       {"169.254.1.1", NC_SCOPE_LINKLOCAL},
		{"0.0.0.0", NC_SCOPE_OTHER_RESERVED},   {"224.0.0.1", NC_SCOPE_OTHER_RESERVED},
		{"255.255.255.255", NC_SCOPE_OTHER_RESERVED},
		{"192.0.2.1", NC_SCOPE_OTHER_RESERVED}, {"198.51.100.1", NC_SCOPE_OTHER_RESERVED},
		{"203.0.113.1", NC_SCOPE_OTHER_RESERVED},
		/* 198.18/15 is the lab's "internet" (RFC 2544 test networks): public here. */
		{"198.18.10.1", NC_SCOPE_PUBLIC},       {"198.19.0.1", NC_SCOPE_PUBLIC},
		{"8.8.8.8", NC_SCOPE_PUBLIC},
		{"::1", NC_SCOPE_LOOPBACK},             {"fd00::1", NC_SCOPE_PRIVATE},
		{"fc00::1", NC_SCOPE_PRIVATE},          {"fe80::1", NC_SCOPE_LINKLOCAL},
		{"febf::1", NC_SCOPE_LINKLOCAL},        {"fec0::1", NC_SCOPE_PUBLIC},
		{"ff02::1", NC_SCOPE_OTHER_RESERVED},   {"2001:db8::1", NC_SCOPE_OTHER_RESERVED},
		{"2001:4860::8888", NC_SCOPE_PUBLIC},
	};
	struct nc_addr a;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(nc_addr_parse(cases[i].ip, 0, &a), 0);
		if (nc_addr_scope(&a) != cases[i].scope)
			fail_msg("%s: scope %s, want %s", cases[i].ip,
				 nc_addr_scope_name(nc_addr_scope(&a)),
				 nc_addr_scope_name(cases[i].scope));
	}
	assert_string_equal(nc_addr_scope_name(NC_SCOPE_PUBLIC), "public");
	assert_string_equal(nc_addr_scope_name(NC_SCOPE_PRIVATE), "private");
	assert_string_equal(nc_addr_scope_name(NC_SCOPE_CGNAT), "shared-cgnat");
	assert_string_equal(nc_addr_scope_name(NC_SCOPE_LOOPBACK), "loopback");
	assert_string_equal(nc_addr_scope_name(NC_SCOPE_LINKLOCAL), "link-local");
	assert_string_equal(nc_addr_scope_name(NC_SCOPE_OTHER_RESERVED), "reserved");
}

/* Which addresses may be one end of a unicast exchange (server roles, learned endpoints). */
static void test_unicast(void **state)
{
	static const char *const yes[] = {"1.2.3.4", "10.0.0.1", "127.0.0.1", "198.18.1.1",
					  "223.255.255.255", "169.254.1.1", "::1", "2001:db8::1",
					  "fe80::1", "::ffff:1.2.3.4"};
	static const char *const no[] = {"0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250",
					 "240.0.0.1", "255.255.255.255", "::", "ff02::1", "ff0e::1",
					 "::ffff:0.0.0.0", "::ffff:224.0.0.1", "::ffff:255.255.255.255"};
	struct nc_addr a = {0};
	(void)state;

	assert_false(nc_addr_ip_is_unicast(&a)); /* unset */
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		assert_int_equal(nc_addr_parse_ip(yes[i], &a), 0);
		if (!nc_addr_ip_is_unicast(&a))
			fail_msg("%s: not unicast, want unicast", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		assert_int_equal(nc_addr_parse_ip(no[i], &a), 0);
		if (nc_addr_ip_is_unicast(&a))
			fail_msg("%s: unicast, want not", no[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format),
		cmocka_unit_test(test_parse_rejects_garbage),
		cmocka_unit_test(test_unset),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_compare),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_unicast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
