/* The Internet checksum against the plain RFC 1071 definition (16-bit network-order words, one
 * at a time): every length up to 600 at every alignment, with carried-in sums, and the known
 * answers that catch a byte-order slip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "inetcsum.h"

static uint32_t reference(uint32_t sum, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)((buf[i] << 8) | buf[i + 1]);
	if (len & 1)
		sum += (uint32_t)(buf[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void test_matches_reference(void **state)
{
	static uint8_t buf[608];
	uint32_t seed = 12345;
	(void)state;

	for (size_t round = 0; round < 4; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245u + 12345u;
			/* round 1: all 0xff, the sum that wraps the most; round 2: all zero */
			buf[i] = round == 1 ? 0xff : round == 2 ? 0 : (uint8_t)(seed >> 16);
		}
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len + off <= 600; len++) {
				uint32_t carry = (uint32_t)(len * 2654435761u) & 0x1ffff;

				assert_int_equal(nc_csum_add(0, buf + off, len), reference(0, buf + off, len));
				assert_int_equal(nc_csum_add(carry, buf + off, len),
						 reference(carry, buf + off, len));
			}
	}
}

static void test_known_answers(void **state)
{
	/* RFC 1071 §3's example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to ddf2. */
	static const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	/* An IPv4 header whose checksum field (b1e6) is filled in verifies to 0. */
	static const uint8_t ip[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				     0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	(void)state;

	assert_int_equal(nc_csum_add(0, rfc, sizeof(rfc)), 0xddf2);
	assert_int_equal(nc_csum_fold(nc_csum_add(0, ip, sizeof(ip))), 0);
	assert_int_equal(nc_csum_add(0, (const uint8_t *)"\xab", 1), 0xab00);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_known_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
