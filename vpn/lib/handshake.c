#include "handshake.h"

#include <natcheck/error.h>

#include <sodium.h>
#include <string.h>
#include <time.h>

#include "cursor.h"

/* Bound into every handshake hash: a message of another protocol (or version) never decrypts. */
static const char hs_prologue[] = "punchvpn v1";

static void mac1_key_of(uint8_t key[32], const uint8_t pub[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"mac1----", 8);
	crypto_generichash_update(&st, pub, 32);
	crypto_generichash_final(&st, key, 32);
}

static void mac1_of(uint8_t mac[WIRE_MAC_LEN], const uint8_t key[32], const uint8_t *msg,
		    size_t len)
{
	crypto_generichash(mac, WIRE_MAC_LEN, msg, len, key, 32);
}

void hs_tai64n(uint8_t out[WIRE_TS_LEN])
{
	struct timespec ts;
	uint64_t secs;

	clock_gettime(CLOCK_REALTIME, &ts);
	secs = 0x400000000000000aull + (uint64_t)ts.tv_sec;
	nc_put_n32(out, (uint32_t)(secs >> 32));
	nc_put_n32(out + 4, (uint32_t)secs);
	nc_put_n32(out + 8, (uint32_t)ts.tv_nsec);
}

int hs_local_init(struct hs_local *l, const uint8_t priv[32])
{
	memset(l, 0, sizeof(*l));
	memcpy(l->priv, priv, 32);
	if (crypto_scalarmult_base(l->pub, l->priv) != 0)
		return -NC_E_INVALID;
	mac1_key_of(l->mac1_key, l->pub);
	hsrl_init(&l->rl, HS_RATE_PER_SECOND, HS_RATE_BURST);
	return 0;
}

void hs_local_wipe(struct hs_local *l)
{
	sodium_memzero(l, sizeof(*l));
}

void hs_peer_init(struct hs_peer *p, const uint8_t pub[32])
{
	memset(p, 0, sizeof(*p));
	memcpy(p->pub, pub, 32);
	mac1_key_of(p->mac1_key, pub);
}

void hs_peer_wipe(struct hs_peer *p)
{
	sodium_memzero(p, sizeof(*p));
}

/* A timestamp newer than the last one sent, even if the clock stepped back or two initiations
 * fall into one nanosecond reading. */
static void next_ts(struct hs_local *l, uint8_t ts[WIRE_TS_LEN])
{
	hs_tai64n(ts);
	if (memcmp(ts, l->last_ts, WIRE_TS_LEN) <= 0) {
		memcpy(ts, l->last_ts, WIRE_TS_LEN);
		for (int i = WIRE_TS_LEN - 1; i >= 0 && ++ts[i] == 0; i--)
			;
	}
	memcpy(l->last_ts, ts, WIRE_TS_LEN);
}

int hs_initiation(struct hs_local *l, struct hs_peer *p, uint32_t sender_index,
		  uint8_t out[WIRE_INIT_LEN])
{
	uint8_t payload[WIRE_INIT_PAYLOAD];
	int rc;

	noise_hs_wipe(&p->hs);
	p->hs_active = false;
	rc = noise_hs_init(&p->hs, true, hs_prologue, sizeof(hs_prologue) - 1, l->priv, p->pub);
	if (rc != 0)
		return rc;
	next_ts(l, payload);
	payload[WIRE_TS_LEN] = tp_aes_available() ? HS_FLAG_AES : 0;
	out[0] = WIRE_INIT;
	out[1] = out[2] = out[3] = 0;
	nc_put_n32(out + 4, sender_index);
	rc = noise_write_msg1(&p->hs, NULL, payload, sizeof(payload), out + 8, WIRE_INIT_NOISE);
	if (rc != WIRE_INIT_NOISE) {
		noise_hs_wipe(&p->hs);
		return rc < 0 ? rc : -NC_E_INVALID;
	}
	mac1_of(out + 8 + WIRE_INIT_NOISE, p->mac1_key, out, 8 + WIRE_INIT_NOISE);
	p->hs_active = true;
	p->hs_index = sender_index;
	return 0;
}

static bool mac1_ok(const uint8_t key[32], const struct wire_msg *m, const uint8_t *buf)
{
	uint8_t want[WIRE_MAC_LEN];

	mac1_of(want, key, buf, m->mac_off);
	return sodium_memcmp(want, m->mac1, WIRE_MAC_LEN) == 0;
}

int hs_consume_initiation(struct hs_local *l, const struct wire_msg *m, const uint8_t *buf,
			  const struct nc_addr *src, uint64_t now_ms, struct hs_init *out)
{
	uint8_t payload[WIRE_INIT_PAYLOAD];
	int rc;

	if (m->type != WIRE_INIT || !mac1_ok(l->mac1_key, m, buf))
		return -NC_E_AUTH;
	if (src && !hsrl_allow(&l->rl, src, now_ms))
		return -NC_E_RATE_LIMITED;
	memset(out, 0, sizeof(*out));
	noise_hs_init(&out->hs, false, hs_prologue, sizeof(hs_prologue) - 1, l->priv, NULL);
	rc = noise_read_msg1(&out->hs, m->noise, m->noise_len, payload, sizeof(payload));
	if (rc != WIRE_INIT_PAYLOAD) {
		noise_hs_wipe(&out->hs);
		return -NC_E_AUTH;
	}
	memcpy(out->peer_pub, out->hs.rs, 32);
	memcpy(out->ts, payload, WIRE_TS_LEN);
	out->flags = payload[WIRE_TS_LEN];
	out->sender = m->sender;
	return 0;
}

static void split_into(struct noise_hs *hs, bool initiator, uint8_t send[32], uint8_t recv[32])
{
	if (initiator)
		noise_split(hs, send, recv);
	else
		noise_split(hs, recv, send);
}

int hs_respond(struct hs_peer *p, struct hs_init *in, uint32_t local_index, uint64_t now_ms,
	       uint8_t out[WIRE_RESP_LEN], struct tp_session *sess)
{
	uint8_t payload[WIRE_RESP_PAYLOAD], send[32], recv[32];
	enum tp_cipher cipher;
	int rc;

	if (sodium_memcmp(in->peer_pub, p->pub, 32) != 0)
		return -NC_E_INVALID;
	if (memcmp(in->ts, p->last_ts, WIRE_TS_LEN) <= 0) {
		rc = -NC_E_PROTOCOL;
		goto out;
	}
	if (p->last_init_ms && now_ms - p->last_init_ms < HS_MIN_INIT_INTERVAL_MS) {
		rc = -NC_E_RATE_LIMITED;
		goto out;
	}
	cipher = (in->flags & HS_FLAG_AES) && tp_aes_available() ? TP_AES256GCM : TP_CHACHA20POLY1305;
	payload[0] = (uint8_t)cipher;
	out[0] = WIRE_RESP;
	out[1] = out[2] = out[3] = 0;
	nc_put_n32(out + 4, local_index);
	nc_put_n32(out + 8, in->sender);
	rc = noise_write_msg2(&in->hs, NULL, payload, sizeof(payload), out + 12, WIRE_RESP_NOISE);
	if (rc != WIRE_RESP_NOISE) {
		rc = rc < 0 ? rc : -NC_E_INVALID;
		goto out;
	}
	mac1_of(out + 12 + WIRE_RESP_NOISE, p->mac1_key, out, 12 + WIRE_RESP_NOISE);
	split_into(&in->hs, false, send, recv);
	rc = tp_session_init(sess, cipher, send, recv, local_index, in->sender, false, now_ms);
	sodium_memzero(send, sizeof(send));
	sodium_memzero(recv, sizeof(recv));
	if (rc == 0) {
		/* Committed only now: an initiation that fails above leaves no trace. */
		memcpy(p->last_ts, in->ts, WIRE_TS_LEN);
		p->last_init_ms = now_ms ? now_ms : 1;
	}
out:
	noise_hs_wipe(&in->hs);
	return rc;
}

int hs_consume_response(struct hs_local *l, struct hs_peer *p, const struct wire_msg *m,
			const uint8_t *buf, uint64_t now_ms, struct tp_session *sess)
{
	uint8_t payload[WIRE_RESP_PAYLOAD], send[32], recv[32];
	struct noise_hs hs;
	int rc;

	if (m->type != WIRE_RESP || !p->hs_active || m->receiver != p->hs_index)
		return -NC_E_PROTOCOL;
	if (!mac1_ok(l->mac1_key, m, buf))
		return -NC_E_AUTH;
	/* On a copy: a forged response must not spoil the handshake the real one completes. */
	hs = p->hs;
	rc = noise_read_msg2(&hs, m->noise, m->noise_len, payload, sizeof(payload));
	if (rc != WIRE_RESP_PAYLOAD) {
		noise_hs_wipe(&hs);
		return -NC_E_AUTH;
	}
	if (payload[0] != TP_CHACHA20POLY1305 && !(payload[0] == TP_AES256GCM && tp_aes_available())) {
		noise_hs_wipe(&hs);
		return -NC_E_PROTOCOL;
	}
	split_into(&hs, true, send, recv);
	rc = tp_session_init(sess, (enum tp_cipher)payload[0], send, recv, p->hs_index, m->sender,
			     true, now_ms);
	sodium_memzero(send, sizeof(send));
	sodium_memzero(recv, sizeof(recv));
	noise_hs_wipe(&p->hs);
	p->hs_active = false;
	return rc;
}
