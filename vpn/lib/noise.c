#include "noise.h"

#include <natcheck/error.h>

#include <sodium.h>
#include <string.h>

static const char noise_protocol_name[] = "Noise_IK_25519_ChaChaPoly_BLAKE2b";

#define BLAKE2B_BLOCKLEN 128

void noise_hmac(uint8_t out[NOISE_HASHLEN], const uint8_t *key, size_t keylen,
		const uint8_t *data, size_t len)
{
	uint8_t k[BLAKE2B_BLOCKLEN], pad[BLAKE2B_BLOCKLEN], inner[NOISE_HASHLEN];
	crypto_generichash_state st;

	/* RFC 2104: a key longer than the block is hashed first (never the case in Noise). */
	memset(k, 0, sizeof(k));
	if (keylen > BLAKE2B_BLOCKLEN)
		crypto_generichash(k, NOISE_HASHLEN, key, keylen, NULL, 0);
	else
		memcpy(k, key, keylen);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	crypto_generichash_init(&st, NULL, 0, NOISE_HASHLEN);
	crypto_generichash_update(&st, pad, sizeof(pad));
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, inner, NOISE_HASHLEN);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	crypto_generichash_init(&st, NULL, 0, NOISE_HASHLEN);
	crypto_generichash_update(&st, pad, sizeof(pad));
	crypto_generichash_update(&st, inner, sizeof(inner));
	crypto_generichash_final(&st, out, NOISE_HASHLEN);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

void noise_hkdf(const uint8_t ck[NOISE_HASHLEN], const uint8_t *ikm, size_t ikmlen,
		uint8_t out1[NOISE_HASHLEN], uint8_t out2[NOISE_HASHLEN], uint8_t *out3)
{
	uint8_t temp[NOISE_HASHLEN], buf[NOISE_HASHLEN + 1];

	noise_hmac(temp, ck, NOISE_HASHLEN, ikm, ikmlen);
	buf[0] = 0x01;
	noise_hmac(out1, temp, sizeof(temp), buf, 1);
	memcpy(buf, out1, NOISE_HASHLEN);
	buf[NOISE_HASHLEN] = 0x02;
	noise_hmac(out2, temp, sizeof(temp), buf, sizeof(buf));
	if (out3) {
		memcpy(buf, out2, NOISE_HASHLEN);
		buf[NOISE_HASHLEN] = 0x03;
		noise_hmac(out3, temp, sizeof(temp), buf, sizeof(buf));
	}
	sodium_memzero(temp, sizeof(temp));
	sodium_memzero(buf, sizeof(buf));
}

static void nonce_of(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int noise_encrypt(const uint8_t k[NOISE_KEYLEN], uint64_t n, const uint8_t *ad, size_t adlen,
		  const uint8_t *pt, size_t len, uint8_t *out)
{
	uint8_t nonce[12];
	unsigned long long clen;

	nonce_of(nonce, n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, len, ad, adlen, NULL, nonce, k);
	return (int)clen;
}

int noise_decrypt(const uint8_t k[NOISE_KEYLEN], uint64_t n, const uint8_t *ad, size_t adlen,
		  const uint8_t *ct, size_t len, uint8_t *out)
{
	uint8_t nonce[12];
	unsigned long long plen;

	if (len < NOISE_TAGLEN)
		return -NC_E_TRUNCATED;
	nonce_of(nonce, n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, ct, len, ad, adlen, nonce,
						      k) != 0)
		return -NC_E_AUTH;
	return (int)plen;
}

static void mix_hash(struct noise_hs *hs, const uint8_t *data, size_t len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, NOISE_HASHLEN);
	crypto_generichash_update(&st, hs->h, NOISE_HASHLEN);
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, hs->h, NOISE_HASHLEN);
}

static void mix_key(struct noise_hs *hs, const uint8_t *ikm, size_t len)
{
	uint8_t temp_k[NOISE_HASHLEN];

	noise_hkdf(hs->ck, ikm, len, hs->ck, temp_k, NULL);
	memcpy(hs->k, temp_k, NOISE_KEYLEN); /* HASHLEN 64: truncated to 32 (§5.2) */
	hs->has_k = true;
	hs->n = 0;
	sodium_memzero(temp_k, sizeof(temp_k));
}

/* MixKey(DH(priv, pub)). A low-order public key gives an all-zero result, which libsodium
 * reports as an error: the handshake fails instead of running on a known key. */
static int mix_dh(struct noise_hs *hs, const uint8_t *priv, const uint8_t *pub)
{
	uint8_t shared[NOISE_DHLEN];

	if (crypto_scalarmult(shared, priv, pub) != 0) {
		sodium_memzero(shared, sizeof(shared));
		return -NC_E_AUTH;
	}
	mix_key(hs, shared, sizeof(shared));
	sodium_memzero(shared, sizeof(shared));
	return 0;
}

/* EncryptAndHash: writes len + 16 bytes (every use here comes after a MixKey). */
static size_t encrypt_and_hash(struct noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out)
{
	int n = noise_encrypt(hs->k, hs->n++, hs->h, NOISE_HASHLEN, pt, len, out);

	mix_hash(hs, out, (size_t)n);
	return (size_t)n;
}

static int decrypt_and_hash(struct noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out)
{
	int n = noise_decrypt(hs->k, hs->n, hs->h, NOISE_HASHLEN, ct, len, out);

	if (n < 0)
		return n;
	hs->n++;
	mix_hash(hs, ct, len);
	return n;
}

int noise_hs_init(struct noise_hs *hs, bool initiator, const void *prologue, size_t prologue_len,
		  const uint8_t s_priv[NOISE_DHLEN], const uint8_t rs[NOISE_DHLEN])
{
	memset(hs, 0, sizeof(*hs));
	hs->initiator = initiator;
	memcpy(hs->s_priv, s_priv, NOISE_DHLEN);
	if (crypto_scalarmult_base(hs->s_pub, hs->s_priv) != 0)
		return -NC_E_INVALID;
	/* The name fits in HASHLEN: h = name padded with zeros (§5.2 InitializeSymmetric). */
	memcpy(hs->h, noise_protocol_name, sizeof(noise_protocol_name) - 1);
	memcpy(hs->ck, hs->h, NOISE_HASHLEN);
	mix_hash(hs, prologue, prologue_len);
	if (initiator) {
		if (!rs)
			return -NC_E_INVALID;
		memcpy(hs->rs, rs, NOISE_DHLEN);
		mix_hash(hs, rs, NOISE_DHLEN);
	} else {
		mix_hash(hs, hs->s_pub, NOISE_DHLEN);
	}
	return 0;
}

void noise_hs_wipe(struct noise_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

static int new_ephemeral(struct noise_hs *hs, const uint8_t *e_priv)
{
	if (e_priv)
		memcpy(hs->e_priv, e_priv, NOISE_DHLEN);
	else
		randombytes_buf(hs->e_priv, NOISE_DHLEN);
	return crypto_scalarmult_base(hs->e_pub, hs->e_priv) == 0 ? 0 : -NC_E_INVALID;
}

int noise_write_msg1(struct noise_hs *hs, const uint8_t *e_priv, const uint8_t *payload,
		     size_t len, uint8_t *out, size_t cap)
{
	size_t off = 0;
	int rc;

	if (!hs->initiator || cap < NOISE_MSG1_OVERHEAD || cap - NOISE_MSG1_OVERHEAD < len)
		return -NC_E_NOSPACE;
	if ((rc = new_ephemeral(hs, e_priv)) != 0)
		return rc;
	memcpy(out, hs->e_pub, NOISE_DHLEN); /* e */
	mix_hash(hs, hs->e_pub, NOISE_DHLEN);
	off += NOISE_DHLEN;
	if ((rc = mix_dh(hs, hs->e_priv, hs->rs)) != 0) /* es */
		return rc;
	off += encrypt_and_hash(hs, hs->s_pub, NOISE_DHLEN, out + off); /* s */
	if ((rc = mix_dh(hs, hs->s_priv, hs->rs)) != 0) /* ss */
		return rc;
	off += encrypt_and_hash(hs, payload, len, out + off);
	return (int)off;
}

int noise_read_msg1(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	uint8_t rs[NOISE_DHLEN];
	size_t plen;
	int rc;

	if (hs->initiator || len < NOISE_MSG1_OVERHEAD)
		return -NC_E_TRUNCATED;
	plen = len - NOISE_MSG1_OVERHEAD;
	if (cap < plen)
		return -NC_E_NOSPACE;
	memcpy(hs->re, msg, NOISE_DHLEN);
	mix_hash(hs, hs->re, NOISE_DHLEN);
	if ((rc = mix_dh(hs, hs->s_priv, hs->re)) != 0)
		return rc;
	if ((rc = decrypt_and_hash(hs, msg + NOISE_DHLEN, NOISE_DHLEN + NOISE_TAGLEN, rs)) < 0)
		return rc;
	memcpy(hs->rs, rs, NOISE_DHLEN);
	if ((rc = mix_dh(hs, hs->s_priv, hs->rs)) != 0)
		return rc;
	return decrypt_and_hash(hs, msg + 2 * NOISE_DHLEN + NOISE_TAGLEN, plen + NOISE_TAGLEN, out);
}

int noise_write_msg2(struct noise_hs *hs, const uint8_t *e_priv, const uint8_t *payload,
		     size_t len, uint8_t *out, size_t cap)
{
	size_t off = 0;
	int rc;

	if (hs->initiator || cap < NOISE_MSG2_OVERHEAD || cap - NOISE_MSG2_OVERHEAD < len)
		return -NC_E_NOSPACE;
	if ((rc = new_ephemeral(hs, e_priv)) != 0)
		return rc;
	memcpy(out, hs->e_pub, NOISE_DHLEN);
	mix_hash(hs, hs->e_pub, NOISE_DHLEN);
	off += NOISE_DHLEN;
	if ((rc = mix_dh(hs, hs->e_priv, hs->re)) != 0) /* ee */
		return rc;
	if ((rc = mix_dh(hs, hs->e_priv, hs->rs)) != 0) /* se: DH(initiator s, responder e) */
		return rc;
	off += encrypt_and_hash(hs, payload, len, out + off);
	return (int)off;
}

int noise_read_msg2(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	size_t plen;
	int rc;

	if (!hs->initiator || len < NOISE_MSG2_OVERHEAD)
		return -NC_E_TRUNCATED;
	plen = len - NOISE_MSG2_OVERHEAD;
	if (cap < plen)
		return -NC_E_NOSPACE;
	memcpy(hs->re, msg, NOISE_DHLEN);
	mix_hash(hs, hs->re, NOISE_DHLEN);
	if ((rc = mix_dh(hs, hs->e_priv, hs->re)) != 0)
		return rc;
	if ((rc = mix_dh(hs, hs->s_priv, hs->re)) != 0)
		return rc;
	return decrypt_and_hash(hs, msg + NOISE_DHLEN, plen + NOISE_TAGLEN, out);
}

void noise_split(struct noise_hs *hs, uint8_t k1[NOISE_KEYLEN], uint8_t k2[NOISE_KEYLEN])
{
	uint8_t t1[NOISE_HASHLEN], t2[NOISE_HASHLEN];

	noise_hkdf(hs->ck, NULL, 0, t1, t2, NULL);
	memcpy(k1, t1, NOISE_KEYLEN);
	memcpy(k2, t2, NOISE_KEYLEN);
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	noise_hs_wipe(hs);
}
