/* The bounds-checked cursors every decoder in the suite reads through: byte order, and what a
 * short read or write does (sets the sticky error, yields zeros, moves nothing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cursor.h"

static const uint8_t bytes[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};

static void test_read_network_order(void **state)
{
	struct nc_rd r;
	uint8_t three[3];
	(void)state;

	nc_rd_init(&r, bytes, sizeof(bytes));
	assert_int_equal(nc_rd_left(&r), 9);
	assert_int_equal(nc_rd_u8(&r), 0x01);
	assert_int_equal(nc_rd_n16(&r), 0x0203);
	assert_int_equal(nc_rd_n32(&r), 0x04050607u);
	nc_rd_bytes(&r, three, 2);
	assert_memory_equal(three, "\x08\x09", 2);
	assert_int_equal(nc_rd_left(&r), 0);
	assert_false(r.err);
	/* A zero-length read at the very end is fine. */
	assert_non_null(nc_rd_ptr(&r, 0));
	assert_false(r.err);

	assert_int_equal(nc_get_n16(bytes + 7), 0x0809);
	assert_int_equal(nc_get_n32(bytes + 5), 0x06070809u);
	/* High bits survive the shifts (no sign extension from int promotion). */
	assert_int_equal(nc_get_n32((const uint8_t *)"\xff\xfe\xfd\xfc"), 0xfffefdfcu);
	assert_int_equal(nc_get_n16((const uint8_t *)"\xff\xfe"), 0xfffe);
}

static void test_short_read_is_sticky(void **state)
{
	struct nc_rd r;
	uint8_t out[4] = {0xAA, 0xAA, 0xAA, 0xAA};
	(void)state;

	/* Three bytes left, four asked: error, zero, offset unchanged. */
	nc_rd_init(&r, bytes, sizeof(bytes));
	nc_rd_skip(&r, 6);
	assert_int_equal(nc_rd_n32(&r), 0);
	assert_true(r.err);
	assert_int_equal(r.off, 6);
	/* Sticky: later reads fail even where the bytes exist. */
	assert_int_equal(nc_rd_u8(&r), 0);
	assert_int_equal(nc_rd_n16(&r), 0);
	assert_null(nc_rd_ptr(&r, 0));
	assert_int_equal(r.off, 6);
	/* A failed copy leaves zeros, not stale bytes. */
	nc_rd_bytes(&r, out, sizeof(out));
	assert_memory_equal(out, "\0\0\0\0", 4);

	/* Every read kind, each on a buffer one byte too short. */
	nc_rd_init(&r, bytes, 0);
	assert_int_equal(nc_rd_u8(&r), 0);
	assert_true(r.err);
	nc_rd_init(&r, bytes, 1);
	assert_int_equal(nc_rd_n16(&r), 0);
	assert_true(r.err);
	nc_rd_init(&r, bytes, 3);
	assert_int_equal(nc_rd_n32(&r), 0);
	assert_true(r.err);
	nc_rd_init(&r, bytes, 3);
	nc_rd_skip(&r, 4);
	assert_true(r.err);
	assert_int_equal(r.off, 0);

	/* A huge length cannot wrap the check around. */
	nc_rd_init(&r, bytes, sizeof(bytes));
	nc_rd_skip(&r, 1);
	assert_null(nc_rd_ptr(&r, SIZE_MAX));
	assert_true(r.err);
	assert_int_equal(r.off, 1);
}

static void test_sub_reader(void **state)
{
	struct nc_rd r, sub;
	(void)state;

	/* A sub-reader covers exactly its n bytes and advances the parent past them. */
	nc_rd_init(&r, bytes, sizeof(bytes));
	nc_rd_skip(&r, 1);
	sub = nc_rd_sub(&r, 4);
	assert_false(sub.err);
	assert_int_equal(r.off, 5);
	assert_int_equal(nc_rd_left(&sub), 4);
	assert_int_equal(nc_rd_n32(&sub), 0x02030405u);
	assert_int_equal(nc_rd_u8(&sub), 0); /* its own end, not the parent's */
	assert_true(sub.err);
	assert_false(r.err);
	assert_int_equal(nc_rd_u8(&r), 0x06);

	/* A sub-reader longer than what is left fails both, and reads nothing. */
	nc_rd_init(&r, bytes, sizeof(bytes));
	nc_rd_skip(&r, 5);
	sub = nc_rd_sub(&r, 5);
	assert_true(sub.err);
	assert_true(r.err);
	assert_int_equal(nc_rd_left(&sub), 0);
	assert_int_equal(nc_rd_u8(&sub), 0);
	assert_int_equal(r.off, 5);
}

static void test_writer(void **state)
{
	uint8_t buf[8];
	struct nc_wr w;
	(void)state;

	memset(buf, 0xEE, sizeof(buf));
	nc_wr_init(&w, buf, sizeof(buf));
	nc_wr_u8(&w, 0x01);
	nc_wr_n16(&w, 0x0203);
	nc_wr_n32(&w, 0x04050607u);
	assert_false(w.err);
	assert_int_equal(w.off, 7);
	assert_memory_equal(buf, "\x01\x02\x03\x04\x05\x06\x07\xEE", 8);

	/* Two bytes into one byte of room: nothing written, error set, offset kept. */
	nc_wr_n16(&w, 0x0809);
	assert_true(w.err);
	assert_int_equal(w.off, 7);
	assert_int_equal(buf[7], 0xEE);
	/* Sticky: a write that would fit is refused too. */
	nc_wr_u8(&w, 0x42);
	nc_wr_bytes(&w, "x", 1);
	nc_wr_zero(&w, 1);
	assert_int_equal(w.off, 7);
	assert_int_equal(buf[7], 0xEE);
	assert_null(nc_wr_ptr(&w, 0));

	nc_wr_init(&w, buf, sizeof(buf));
	nc_wr_bytes(&w, "abc", 3);
	nc_wr_zero(&w, 2);
	nc_wr_bytes(&w, NULL, 0);
	assert_false(w.err);
	assert_memory_equal(buf, "abc\0\0", 5);
	nc_wr_n32(&w, 0xFFFFFFFFu); /* 4 into 3 */
	assert_true(w.err);
	assert_memory_equal(buf + 5, "\x06\x07\xEE", 3);

	nc_wr_init(&w, buf, 2);
	assert_null(nc_wr_ptr(&w, SIZE_MAX));
	assert_true(w.err);

	nc_put_n16(buf, 0xBEEF);
	nc_put_n32(buf + 2, 0xDEADC0DEu);
	assert_memory_equal(buf, "\xBE\xEF\xDE\xAD\xC0\xDE", 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_network_order),
		cmocka_unit_test(test_short_read_is_sticky),
		cmocka_unit_test(test_sub_reader),
		cmocka_unit_test(test_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
