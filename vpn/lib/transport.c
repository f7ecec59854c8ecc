#include "transport.h"

#include <natcheck/error.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "since.h"

const struct tp_limits tp_default_limits = {
	.rekey_after_ms = 120 * 1000,
	.reject_after_ms = 180 * 1000,
	.rekey_after_msgs = 1ull << 60,
	.reject_after_msgs = UINT64_MAX - (1ull << 13) - 1,
};

const char *tp_cipher_name(enum tp_cipher c)
{
	return c == TP_AES256GCM ? "aes-256-gcm" : "chacha20-poly1305";
}

bool tp_aes_available(void)
{
	return crypto_aead_aes256gcm_is_available() != 0;
}

/* ---- AES-256-GCM: per-thread libcrypto contexts ------------------------------------------ */

struct aes_ctx {
	EVP_CIPHER_CTX *c;
	uint64_t serial; /* the session whose key c holds; 0: none */
};
struct aes_thread {
	struct aes_ctx seal, open;
};

static _Atomic uint64_t next_serial = 1;
static pthread_key_t aes_key;
static pthread_once_t aes_once = PTHREAD_ONCE_INIT;
static bool aes_key_ok;

static void aes_thread_free(void *arg)
{
	struct aes_thread *t = arg;

	EVP_CIPHER_CTX_free(t->seal.c); /* clears the key schedule */
	EVP_CIPHER_CTX_free(t->open.c);
	free(t);
}

static void aes_key_make(void)
{
	aes_key_ok = pthread_key_create(&aes_key, aes_thread_free) == 0;
}

/* This thread's context for one direction of session s, keyed for it; NULL without memory. */
static EVP_CIPHER_CTX *aes_for(const struct tp_session *s, bool seal)
{
	struct aes_thread *t;
	struct aes_ctx *a;

	if (pthread_once(&aes_once, aes_key_make) != 0 || !aes_key_ok)
		return NULL;
	if (!(t = pthread_getspecific(aes_key))) {
		if (!(t = calloc(1, sizeof(*t))))
			return NULL;
		if (pthread_setspecific(aes_key, t) != 0) {
			free(t);
			return NULL;
		}
	}
	a = seal ? &t->seal : &t->open;
	if (!a->c && !(a->c = EVP_CIPHER_CTX_new()))
		return NULL;
	if (a->serial != s->serial) {
		a->serial = 0;
		if (EVP_CipherInit_ex(a->c, EVP_aes_256_gcm(), NULL, seal ? s->send_key : s->recv_key,
				      NULL, seal ? 1 : 0) != 1)
			return NULL;
		a->serial = s->serial;
	}
	return a->c;
}

void tp_warm(void)
{
	static const uint8_t zero[32];
	uint8_t out[16];
	EVP_CIPHER_CTX *c;
	int n;

	if (!tp_aes_available() || !(c = EVP_CIPHER_CTX_new()))
		return;
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, zero, zero) == 1)
		(void)EVP_EncryptUpdate(c, out, &n, zero, sizeof(out));
	EVP_CIPHER_CTX_free(c);
}

/* ct gets len bytes of ciphertext and the WIRE_TAG_LEN-byte tag after them. */
static bool aes_seal(const struct tp_session *s, const uint8_t nonce[12], const uint8_t *ad,
		     const uint8_t *pt, size_t len, uint8_t *ct)
{
	EVP_CIPHER_CTX *c = aes_for(s, true);
	int n;

	return c && EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) == 1 &&
	       EVP_EncryptUpdate(c, NULL, &n, ad, WIRE_DATA_HDR) == 1 &&
	       (len == 0 || EVP_EncryptUpdate(c, ct, &n, pt, (int)len) == 1) &&
	       EVP_EncryptFinal_ex(c, ct + len, &n) == 1 &&
	       EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, WIRE_TAG_LEN, ct + len) == 1;
}

/* ct: ct_len bytes, the last WIRE_TAG_LEN the tag. Plaintext length, -NC_E_AUTH or -NC_E_NOMEM. */
static int aes_open(const struct tp_session *s, const uint8_t nonce[12], const uint8_t *ad,
		    const uint8_t *ct, size_t ct_len, uint8_t *out)
{
	EVP_CIPHER_CTX *c = aes_for(s, false);
	size_t len = ct_len - WIRE_TAG_LEN;
	uint8_t tag[WIRE_TAG_LEN];
	int n;

	if (!c)
		return -NC_E_NOMEM;
	memcpy(tag, ct + len, WIRE_TAG_LEN);
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) == 1 &&
	    EVP_DecryptUpdate(c, NULL, &n, ad, WIRE_DATA_HDR) == 1 &&
	    (len == 0 || EVP_DecryptUpdate(c, out, &n, ct, (int)len) == 1) &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, WIRE_TAG_LEN, tag) == 1 &&
	    EVP_DecryptFinal_ex(c, out + len, &n) == 1)
		return (int)len;
	return -NC_E_AUTH;
}

/* ---- sessions ---------------------------------------------------------------------------- */

int tp_session_init(struct tp_session *s, enum tp_cipher cipher, const uint8_t send_key[32],
		    const uint8_t recv_key[32], uint32_t local_index, uint32_t remote_index,
		    bool initiator, uint64_t now_ms)
{
	memset(s, 0, sizeof(*s));
	if (cipher == TP_AES256GCM && !tp_aes_available())
		return -NC_E_UNSUPPORTED;
	s->cipher = cipher;
	s->local_index = local_index;
	s->remote_index = remote_index;
	s->initiator = initiator;
	s->birth_ms = now_ms;
	atomic_init(&s->send_ctr, 0);
	replay_init(&s->replay);
	s->serial = atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed);
	memcpy(s->send_key, send_key, 32);
	memcpy(s->recv_key, recv_key, 32);
	return 0;
}

void tp_session_wipe(struct tp_session *s)
{
	sodium_memzero(s, sizeof(*s));
}

bool tp_next_counter(struct tp_session *s, uint64_t now_ms, const struct tp_limits *lim,
		     uint64_t *ctr)
{
	uint64_t c;

	if (vpn_since(now_ms, s->birth_ms) >= lim->reject_after_ms)
		return false;
	c = atomic_fetch_add_explicit(&s->send_ctr, 1, memory_order_relaxed);
	if (c >= lim->reject_after_msgs)
		return false;
	*ctr = c;
	return true;
}

static void nonce_of(uint8_t nonce[12], uint64_t ctr)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(ctr >> (8 * i));
}

size_t tp_seal(const struct tp_session *s, uint64_t ctr, const uint8_t *pt, size_t len,
	       uint8_t *out)
{
	uint8_t nonce[12];
	unsigned long long clen;

	wire_put_data_hdr(out, s->remote_index, ctr);
	nonce_of(nonce, ctr);
	if (s->cipher == TP_AES256GCM)
		return aes_seal(s, nonce, out, pt, len, out + WIRE_DATA_HDR) ? len + WIRE_DATA_OVERHEAD
									     : 0;
	crypto_aead_chacha20poly1305_ietf_encrypt(out + WIRE_DATA_HDR, &clen, pt, len, out,
						  WIRE_DATA_HDR, NULL, nonce, s->send_key);
	return WIRE_DATA_HDR + (size_t)clen;
}

int tp_open(const struct tp_session *s, const struct wire_msg *m, const uint8_t *hdr,
	    uint8_t *out)
{
	uint8_t nonce[12];
	unsigned long long plen;
	int rc;

	nonce_of(nonce, m->counter);
	if (m->ct_len < WIRE_TAG_LEN) /* wire_decode ensures it; aes_open relies on it */
		return -NC_E_AUTH;
	if (s->cipher == TP_AES256GCM)
		return aes_open(s, nonce, hdr, m->ct, m->ct_len, out);
	rc = crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, m->ct, m->ct_len, hdr,
						       WIRE_DATA_HDR, nonce, s->recv_key);
	return rc == 0 ? (int)plen : -NC_E_AUTH;
}

bool tp_wants_rekey(const struct tp_session *s, uint64_t now_ms, const struct tp_limits *lim)
{
	/* Age: only the initiator, so the two ends do not both start one at once (WireGuard's
	 * rule); volume: whichever end sends, since it is that end's counter that runs out. */
	return (s->initiator && vpn_since(now_ms, s->birth_ms) >= lim->rekey_after_ms) ||
	       atomic_load_explicit(&s->send_ctr, memory_order_relaxed) >= lim->rekey_after_msgs;
}

bool tp_expired(const struct tp_session *s, uint64_t now_ms, const struct tp_limits *lim)
{
	return vpn_since(now_ms, s->birth_ms) >= lim->reject_after_ms;
}
