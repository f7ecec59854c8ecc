/* Noise_IK_25519_ChaChaPoly_BLAKE2b against the cacophony known-answer vector (the vector
 * file of the Haskell "cacophony" implementation, as shipped in snow's tests/vectors/), then
 * negative cases: a wrong responder key, a changed byte, a low-order ephemeral key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <natcheck/error.h>
#include <sodium.h>
#include <string.h>

#include "noise.h"

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
	return n;
}

#define V_PROLOGUE "4a6f686e2047616c74"
#define V_INIT_S "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"
#define V_INIT_E "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"
#define V_INIT_RS "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62"
#define V_RESP_S "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"
#define V_RESP_E "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"
#define V_HASH                                                                              \
	"1c8fa891cb414fedba6daa7c6f4ae0a6d98e5f9768cc9cecd27e805614943ee9c8a1b27fbfb76dc197255c8" \
	"aa69f6b4285c423840b8bedf45e652ca64f797d81"

static const char *const v_payload[] = {
	"4c756477696720766f6e204d69736573", "4d757272617920526f746862617264",
	"462e20412e20486179656b",           "4361726c204d656e676572",
	"4a65616e2d426170746973746520536179", "457567656e2042f6686d20766f6e2042617765726b",
};
static const char *const v_ct[] = {
	"ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944ba83a447b38c83e327ad936"
	"929812f624884847b7831e95e197b2f797088efdd2f88f1db7e1fb0e99c64419097af91cee64e470f4b6fcd"
	"9298ce0b56fe20f86e13bf70439c538e3602a7127af71a29cc",
	"95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088439f069b267a06b3de3ecb104"
	"3bcb098e9af91d9c64748d998c7b47890871571",
	"cd54383060e7a28434cca27fb1cc524cfbabeb18181589df219d07",
	"a856d3bf0246bfc476c655009cd1ed677b8dcc5b349ae8ef2a05f2",
	"49063084b2c51f098337cb8a13739ac848f907e67cfb2cc8a8b60586467aa02fc7",
	"8b9709d23b47e4639df7678d7a21741eba4ef1e9c60383001c7435549c20f9d56f30e935d3",
};

struct pair {
	struct noise_hs i, r;
	uint8_t pro[16];
	size_t prolen;
};

static void start(struct pair *p, const char *rs_hex)
{
	uint8_t is[32], rs_priv[32], rs[32];

	p->prolen = unhex(p->pro, sizeof(p->pro), V_PROLOGUE);
	unhex(is, 32, V_INIT_S);
	unhex(rs_priv, 32, V_RESP_S);
	unhex(rs, 32, rs_hex);
	assert_int_equal(noise_hs_init(&p->i, true, p->pro, p->prolen, is, rs), 0);
	assert_int_equal(noise_hs_init(&p->r, false, p->pro, p->prolen, rs_priv, NULL), 0);
}

static void test_cacophony_vector(void **state)
{
	struct pair p;
	uint8_t ie[32], re[32], msg[256], want[256], pl[64], got[256];
	uint8_t hash[64], k1i[32], k2i[32], k1r[32], k2r[32];
	size_t wl, pll;
	int n;
	(void)state;

	start(&p, V_INIT_RS);
	/* The vector's init_remote_static is the public key of resp_static. */
	assert_memory_equal(p.i.rs, p.r.s_pub, 32);
	unhex(ie, 32, V_INIT_E);
	unhex(re, 32, V_RESP_E);

	pll = unhex(pl, sizeof(pl), v_payload[0]);
	wl = unhex(want, sizeof(want), v_ct[0]);
	n = noise_write_msg1(&p.i, ie, pl, pll, msg, sizeof(msg));
	assert_int_equal(n, (int)wl);
	assert_memory_equal(msg, want, wl);
	n = noise_read_msg1(&p.r, msg, wl, got, sizeof(got));
	assert_int_equal(n, (int)pll);
	assert_memory_equal(got, pl, pll);
	assert_memory_equal(p.r.rs, p.i.s_pub, 32);

	pll = unhex(pl, sizeof(pl), v_payload[1]);
	wl = unhex(want, sizeof(want), v_ct[1]);
	n = noise_write_msg2(&p.r, re, pl, pll, msg, sizeof(msg));
	assert_int_equal(n, (int)wl);
	assert_memory_equal(msg, want, wl);
	n = noise_read_msg2(&p.i, msg, wl, got, sizeof(got));
	assert_int_equal(n, (int)pll);
	assert_memory_equal(got, pl, pll);

	unhex(hash, 64, V_HASH);
	assert_memory_equal(p.i.h, hash, 64);
	assert_memory_equal(p.r.h, hash, 64);
	noise_split(&p.i, k1i, k2i);
	noise_split(&p.r, k1r, k2r);
	assert_memory_equal(k1i, k1r, 32);
	assert_memory_equal(k2i, k2r, 32);
	assert_true(sodium_is_zero(p.i.s_priv, 32)); /* split wipes the handshake state */

	/* Transport: initiator sends with k1, responder with k2, alternately, nonces 0, 1. */
	for (int m = 2; m < 6; m++) {
		const uint8_t *k = (m % 2 == 0) ? k1i : k2r;
		pll = unhex(pl, sizeof(pl), v_payload[m]);
		wl = unhex(want, sizeof(want), v_ct[m]);
		n = noise_encrypt(k, (uint64_t)(m - 2) / 2, NULL, 0, pl, pll, msg);
		assert_int_equal(n, (int)wl);
		assert_memory_equal(msg, want, wl);
		assert_int_equal(noise_decrypt(k, (uint64_t)(m - 2) / 2, NULL, 0, msg, wl, got),
				 (int)pll);
	}
}

static void test_wrong_responder_key(void **state)
{
	struct pair p;
	uint8_t other[32], otherpub[32], msg[256], got[64];
	char hex[65];
	int n;
	(void)state;

	randombytes_buf(other, 32);
	crypto_scalarmult_base(otherpub, other);
	sodium_bin2hex(hex, sizeof(hex), otherpub, 32);
	start(&p, hex); /* the initiator believes in a key the responder does not hold */
	n = noise_write_msg1(&p.i, NULL, (const uint8_t *)"x", 1, msg, sizeof(msg));
	assert_true(n > 0);
	assert_int_equal(noise_read_msg1(&p.r, msg, (size_t)n, got, sizeof(got)), -NC_E_AUTH);
}

static void test_modified_bytes(void **state)
{
	uint8_t msg[256], got[64], m2[256];
	int n, n2;
	(void)state;

	/* Every single-byte change of msg1 and of msg2 fails authentication. */
	for (size_t at = 0;; at++) {
		struct pair p;
		start(&p, V_INIT_RS);
		n = noise_write_msg1(&p.i, NULL, (const uint8_t *)"hello", 5, msg, sizeof(msg));
		if (at >= (size_t)n)
			break;
		msg[at] ^= 0x01;
		n2 = noise_read_msg1(&p.r, msg, (size_t)n, got, sizeof(got));
		assert_true(n2 < 0);
	}
	for (size_t at = 0;; at++) {
		struct pair p;
		start(&p, V_INIT_RS);
		n = noise_write_msg1(&p.i, NULL, NULL, 0, msg, sizeof(msg));
		assert_int_equal(noise_read_msg1(&p.r, msg, (size_t)n, got, sizeof(got)), 0);
		n2 = noise_write_msg2(&p.r, NULL, NULL, 0, m2, sizeof(m2));
		if (at >= (size_t)n2)
			break;
		m2[at] ^= 0x80;
		assert_true(noise_read_msg2(&p.i, m2, (size_t)n2, got, sizeof(got)) < 0);
	}
}

static void test_low_order_and_short(void **state)
{
	struct pair p;
	uint8_t msg[256], got[64];
	int n;
	(void)state;

	start(&p, V_INIT_RS);
	n = noise_write_msg1(&p.i, NULL, NULL, 0, msg, sizeof(msg));
	memset(msg, 0, 32); /* the identity point as ephemeral key: DH gives zero, refused */
	assert_int_equal(noise_read_msg1(&p.r, msg, (size_t)n, got, sizeof(got)), -NC_E_AUTH);
	start(&p, V_INIT_RS);
	assert_int_equal(noise_read_msg1(&p.r, msg, NOISE_MSG1_OVERHEAD - 1, got, sizeof(got)),
			 -NC_E_TRUNCATED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cacophony_vector),
		cmocka_unit_test(test_wrong_responder_key),
		cmocka_unit_test(test_modified_bytes),
		cmocka_unit_test(test_low_order_and_short),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
