#include "transport.h"

#include <natcheck/error.h>

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
	memcpy(s->send_key, send_key, 32);
	memcpy(s->recv_key, recv_key, 32);
	if (cipher == TP_AES256GCM) {
		crypto_aead_aes256gcm_beforenm(&s->aes_send, send_key);
		crypto_aead_aes256gcm_beforenm(&s->aes_recv, recv_key);
	}
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
		crypto_aead_aes256gcm_encrypt_afternm(out + WIRE_DATA_HDR, &clen, pt, len, out,
						      WIRE_DATA_HDR, NULL, nonce, &s->aes_send);
	else
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
	if (s->cipher == TP_AES256GCM)
		rc = crypto_aead_aes256gcm_decrypt_afternm(out, &plen, NULL, m->ct, m->ct_len, hdr,
							   WIRE_DATA_HDR, nonce, &s->aes_recv);
	else
		rc = crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, m->ct, m->ct_len,
							       hdr, WIRE_DATA_HDR, nonce, s->recv_key);
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
