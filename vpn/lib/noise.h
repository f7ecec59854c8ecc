/* The Noise IK handshake, Noise_IK_25519_ChaChaPoly_BLAKE2b (Noise Protocol Framework rev. 34),
 * from libsodium's primitives: X25519 (crypto_scalarmult), ChaCha20-Poly1305 IETF and BLAKE2b
 * (crypto_generichash, HASHLEN 64, with RFC 2104 HMAC and Noise's HKDF on top, §4.3).
 *
 *   IK:
 *     <- s
 *     ...
 *     -> e, es, s, ss     (msg1: 32 + 48 + payload+16 bytes)
 *     <- e, ee, se        (msg2: 32 + payload+16 bytes)
 *
 * The initiator knows the responder's static key in advance; its own static key travels
 * encrypted under es, so a passive observer never learns who initiated (identity hiding).
 * Both ephemeral DHs give forward secrecy; es+ss and ee+se give mutual authentication once
 * msg2 decrypts. This module is the pattern only; framing, replay and flood protection are
 * handshake.c's. Checked against the cacophony test vectors (tests/unit/test_vpn_noise.c). */
#ifndef VPN_NOISE_H
#define VPN_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOISE_HASHLEN 64
#define NOISE_DHLEN 32
#define NOISE_KEYLEN 32
#define NOISE_TAGLEN 16
#define NOISE_MSG1_OVERHEAD (NOISE_DHLEN + NOISE_DHLEN + NOISE_TAGLEN + NOISE_TAGLEN)
#define NOISE_MSG2_OVERHEAD (NOISE_DHLEN + NOISE_TAGLEN)

struct noise_hs {
	uint8_t ck[NOISE_HASHLEN];
	uint8_t h[NOISE_HASHLEN];
	uint8_t k[NOISE_KEYLEN];
	bool has_k;
	uint64_t n;
	uint8_t s_priv[NOISE_DHLEN], s_pub[NOISE_DHLEN];
	uint8_t e_priv[NOISE_DHLEN], e_pub[NOISE_DHLEN];
	uint8_t rs[NOISE_DHLEN], re[NOISE_DHLEN];
	bool initiator;
};

/* Starts a handshake. The initiator passes the responder's static public key rs; the
 * responder passes NULL (its own public key is the pre-message). Returns 0 or -NC_E_INVALID
 * for an unusable static key. */
int noise_hs_init(struct noise_hs *hs, bool initiator, const void *prologue, size_t prologue_len,
		  const uint8_t s_priv[NOISE_DHLEN], const uint8_t rs[NOISE_DHLEN]);
/* Wipes the whole state. */
void noise_hs_wipe(struct noise_hs *hs);

/* msg1 into out (cap bytes): returns its length or -NC_E_NOSPACE / -NC_E_INVALID. e_priv is
 * the ephemeral private key to use (tests) or NULL for a fresh random one. */
int noise_write_msg1(struct noise_hs *hs, const uint8_t *e_priv, const uint8_t *payload,
		     size_t len, uint8_t *out, size_t cap);
/* Reads msg1: returns the payload length (payload written to out) or -NC_E_AUTH (does not
 * decrypt), -NC_E_TRUNCATED, -NC_E_NOSPACE. On success hs->rs holds the initiator's key. */
int noise_read_msg1(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *out, size_t cap);
int noise_write_msg2(struct noise_hs *hs, const uint8_t *e_priv, const uint8_t *payload,
		     size_t len, uint8_t *out, size_t cap);
int noise_read_msg2(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *out, size_t cap);
/* After msg2: the initiator-to-responder key k1 and the responder-to-initiator key k2. The
 * handshake state is wiped. */
void noise_split(struct noise_hs *hs, uint8_t k1[NOISE_KEYLEN], uint8_t k2[NOISE_KEYLEN]);

/* Noise's ChaChaPoly cipher with nonce n (32 zero bits then n little-endian, §12.3), for
 * the vectors' transport messages. Returns the output length or -NC_E_AUTH. */
int noise_encrypt(const uint8_t k[NOISE_KEYLEN], uint64_t n, const uint8_t *ad, size_t adlen,
		  const uint8_t *pt, size_t len, uint8_t *out);
int noise_decrypt(const uint8_t k[NOISE_KEYLEN], uint64_t n, const uint8_t *ad, size_t adlen,
		  const uint8_t *ct, size_t len, uint8_t *out);

/* HMAC-BLAKE2b (RFC 2104, block 128, output 64) and Noise's HKDF with 2 or 3 outputs. */
void noise_hmac(uint8_t out[NOISE_HASHLEN], const uint8_t *key, size_t keylen,
		const uint8_t *data, size_t len);
void noise_hkdf(const uint8_t ck[NOISE_HASHLEN], const uint8_t *ikm, size_t ikmlen,
		uint8_t out1[NOISE_HASHLEN], uint8_t out2[NOISE_HASHLEN], uint8_t *out3);

#endif
