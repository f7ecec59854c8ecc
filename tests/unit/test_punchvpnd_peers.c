/* punchvpnd's registration table (vpn/punchvpnd/peers.c, compiled into this test): lookups by
 * key, relay id and endpoint; least-recently-registered eviction; relay ids stable per key for
 * the table's life, even across eviction; one registrant per UDP endpoint; wants with their
 * TTL, the per-peer cap and the table's budget; the mutual-listing rule; token buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#include "../../vpn/punchvpnd/peers.h"

static void key_n(uint8_t k[VPN_KEY_LEN], unsigned n)
{
	memset(k, 0, VPN_KEY_LEN);
	memcpy(k, &n, sizeof(n));
	k[31] = 0x40;
}

static struct pvd_peer *add(struct pvd_peers *t, unsigned n, bool *evicted)
{
	uint8_t k[VPN_KEY_LEN], box[32] = {0};
	bool ev;
	struct pvd_peer *p;

	key_n(k, n);
	p = pvd_peer_add(t, k, box, evicted ? evicted : &ev);
	p->registered = true;
	return p;
}

static struct pvd_peer *get(struct pvd_peers *t, unsigned n)
{
	uint8_t k[VPN_KEY_LEN];
	key_n(k, n);
	return pvd_peer_by_pub(t, k);
}

static void test_lookup_and_ids(void **state)
{
	struct pvd_peers t;
	uint32_t ids[100];
	(void)state;

	assert_int_equal(pvd_peers_init(&t, 100), 0);
	for (unsigned i = 0; i < 100; i++) {
		struct pvd_peer *p = add(&t, i, NULL);
		ids[i] = p->relay_id;
		assert_int_not_equal(ids[i], 0);
		for (unsigned j = 0; j < i; j++)
			assert_int_not_equal(ids[i], ids[j]);
	}
	for (unsigned i = 0; i < 100; i++) {
		struct pvd_peer *p = get(&t, i);
		assert_non_null(p);
		assert_ptr_equal(pvd_peer_by_id(&t, ids[i]), p);
	}
	assert_null(get(&t, 1000));
	assert_null(pvd_peer_by_id(&t, 0));
	pvd_peers_free(&t);
}

static void test_eviction(void **state)
{
	struct pvd_peers t;
	bool ev;
	uint32_t id0;
	(void)state;

	assert_int_equal(pvd_peers_init(&t, 4), 0);
	id0 = add(&t, 0, &ev)->relay_id;
	assert_false(ev);
	for (unsigned i = 1; i < 4; i++) {
		add(&t, i, &ev);
		assert_false(ev);
	}
	/* 0 registers again: 1 is now the least recently registered. */
	pvd_peer_touch(&t, get(&t, 0));
	add(&t, 4, &ev);
	assert_true(ev);
	assert_null(get(&t, 1));
	assert_non_null(get(&t, 0));
	add(&t, 5, &ev);
	assert_true(ev);
	assert_null(get(&t, 2));
	add(&t, 6, &ev);
	add(&t, 7, &ev);
	assert_null(get(&t, 0));
	assert_int_equal(t.used, 4);
	/* Evicted and back: the same relay id (stable per key for the table's life). */
	assert_int_equal(add(&t, 0, &ev)->relay_id, id0);
	assert_ptr_equal(pvd_peer_by_id(&t, id0), get(&t, 0));
	pvd_peers_free(&t);
}

static void test_endpoints(void **state)
{
	struct pvd_peers t;
	struct nc_addr e1, e2, none = {0};
	struct pvd_peer *a, *b;
	(void)state;

	assert_int_equal(pvd_peers_init(&t, 8), 0);
	nc_addr_parse("198.51.100.1:4000", 0, &e1);
	nc_addr_parse("[2001:db8::1]:4000", 0, &e2);
	a = add(&t, 1, NULL);
	b = add(&t, 2, NULL);
	pvd_peer_set_udp(&t, a, &e1);
	assert_ptr_equal(pvd_peer_by_ep(&t, &e1), a);
	assert_null(pvd_peer_by_ep(&t, &e2));
	/* Another key from the same endpoint takes it over; a loses it. */
	uint32_t gen = a->gen;
	pvd_peer_set_udp(&t, b, &e1);
	assert_ptr_equal(pvd_peer_by_ep(&t, &e1), b);
	assert_int_equal(a->udp_ep.family, 0);
	assert_int_not_equal(a->gen, gen);
	pvd_peer_set_udp(&t, b, &e2);
	assert_null(pvd_peer_by_ep(&t, &e1));
	assert_ptr_equal(pvd_peer_by_ep(&t, &e2), b);
	pvd_peer_set_udp(&t, b, &none);
	assert_null(pvd_peer_by_ep(&t, &e2));
	/* Unregistering drops endpoint and wants, keeps key and id. */
	pvd_peer_set_udp(&t, a, &e1);
	uint32_t id = a->relay_id;
	pvd_peer_unregister(&t, a);
	assert_null(pvd_peer_by_ep(&t, &e1));
	assert_ptr_equal(get(&t, 1), a);
	assert_ptr_equal(pvd_peer_by_id(&t, id), a);
	assert_false(a->registered);
	pvd_peers_free(&t);
}

static void test_wants(void **state)
{
	struct pvd_peers t;
	struct pvd_peer *a, *b;
	uint8_t k[VPN_KEY_LEN];
	bool dropped;
	(void)state;

	assert_int_equal(pvd_peers_init(&t, 64), 0);
	a = add(&t, 1, NULL);
	b = add(&t, 2, NULL);
	assert_false(pvd_mutual(a, b, 1000));
	assert_non_null(pvd_want_refresh(&t, a, b->pub, 1000, 90000, &dropped));
	assert_false(pvd_mutual(a, b, 1000)); /* one way only */
	assert_non_null(pvd_want_refresh(&t, b, a->pub, 1000, 90000, &dropped));
	assert_true(pvd_mutual(a, b, 1000));
	assert_true(pvd_mutual(b, a, 90999));
	assert_false(pvd_mutual(a, b, 91000)); /* expired */
	pvd_want_refresh(&t, a, b->pub, 50000, 90000, &dropped);
	assert_false(pvd_mutual(a, b, 91000)); /* b's side still expired */
	pvd_want_refresh(&t, b, a->pub, 50000, 90000, &dropped);
	assert_true(pvd_mutual(a, b, 91000));
	assert_int_equal(a->n_wants, 1); /* refreshed, not added */
	b->registered = false;
	assert_false(pvd_mutual(a, b, 60000));
	assert_false(pvd_mutual(a, a, 60000));

	/* The per-peer cap: the entry closest to expiry goes, counted as dropped. */
	for (unsigned i = 0; i < PVD_MAX_WANTS - 1; i++) { /* b's want is the first */
		key_n(k, 1000 + i);
		assert_non_null(pvd_want_refresh(&t, a, k, 100000 + i, 90000, &dropped));
		assert_false(dropped);
	}
	assert_int_equal(a->n_wants, PVD_MAX_WANTS);
	key_n(k, 5000);
	assert_non_null(pvd_want_refresh(&t, a, k, 130000, 90000, &dropped)); /* all live */
	assert_true(dropped);
	assert_int_equal(a->n_wants, PVD_MAX_WANTS);
	assert_null(pvd_want_find(a, b->pub, 0)); /* b's want was the oldest: replaced */
	key_n(k, 1000);
	assert_non_null(pvd_want_find(a, k, 0));
	pvd_peers_free(&t);
}

static void test_want_budget(void **state)
{
	struct pvd_peers t;
	struct pvd_peer *p[4];
	uint8_t k[VPN_KEY_LEN];
	bool dropped;
	size_t kept = 0;
	(void)state;

	/* Two slots: a budget of 2 x PVD_WANTS_PER_SLOT wants over the whole table. */
	assert_int_equal(pvd_peers_init(&t, 2), 0);
	p[0] = add(&t, 1, NULL);
	p[1] = add(&t, 2, NULL);
	for (unsigned i = 0; i < 100; i++) {
		key_n(k, 100 + i);
		kept += pvd_want_refresh(&t, p[i % 2], k, 1000, 90000, &dropped) != NULL;
	}
	assert_int_equal(kept, 2 * PVD_WANTS_PER_SLOT);
	assert_int_equal(t.wants_total, 2 * PVD_WANTS_PER_SLOT);
	/* Once its own wants expire, a peer reuses them within the budget. */
	key_n(k, 999);
	assert_null(pvd_want_refresh(&t, p[0], k, 1000, 90000, &dropped));
	assert_non_null(pvd_want_refresh(&t, p[0], k, 91000, 90000, &dropped));
	assert_false(dropped);
	/* Unregistering gives the budget back. */
	pvd_peer_unregister(&t, p[1]);
	assert_int_equal(t.wants_total, PVD_WANTS_PER_SLOT);
	key_n(k, 998);
	assert_non_null(pvd_want_refresh(&t, p[0], k, 1000, 90000, &dropped));
	pvd_peers_free(&t);
}

static void test_bucket(void **state)
{
	struct pvd_bucket b = {0};
	unsigned ok = 0;
	(void)state;

	for (int i = 0; i < 100; i++)
		ok += pvd_bucket_take(&b, 50, 1, 10000);
	assert_int_equal(ok, 50); /* one second's worth */
	assert_false(pvd_bucket_take(&b, 50, 1, 10019));
	assert_true(pvd_bucket_take(&b, 50, 1, 10020)); /* 20 ms = one token at 50/s */
	assert_false(pvd_bucket_take(&b, 50, 1, 10020));
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += pvd_bucket_take(&b, 50, 1, 100000); /* long idle: refilled, capped */
	assert_int_equal(ok, 50);
	/* Bytes: a cost larger than the rate never passes; smaller ones do. */
	struct pvd_bucket by = {0};
	assert_false(pvd_bucket_take(&by, 4096, 5000, 1));
	assert_true(pvd_bucket_take(&by, 4096, 4000, 1));
	assert_false(pvd_bucket_take(&by, 4096, 100, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup_and_ids), cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_endpoints),	   cmocka_unit_test(test_wants),
	    cmocka_unit_test(test_want_budget),	   cmocka_unit_test(test_bucket),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
