/* Transport sessions: the keys one handshake produced, the send counter, the replay window,
 * and the limits that force a new handshake (WireGuard's timers, §6.1 of its paper).
 *
 * AEAD: AES-256-GCM when both ends' CPUs have AES-NI (libsodium's
 * crypto_aead_aes256gcm_is_available(); the handshake negotiates it), else ChaCha20-Poly1305
 * (libsodium). AES-256-GCM runs through OpenSSL's libcrypto: its stitched AES-NI/AVX2 GCM seals
 * a 1420-byte packet 1.6x as fast as libsodium's on the benchmark machine (2.59 against
 * 1.60 GB/s, one core), and the cipher was 28% of all CPU time under iperf3. Its contexts
 * carry state, so each thread keeps its own pair (seal, open), given a session's key once
 * (the key schedule) and only a nonce per packet; a thread's pair keeps the last key schedule
 * it used until its next session or its exit.
 * Nonce = 4 zero bytes || counter (64 bits, little endian); associated data = the 16-byte
 * header. A counter is used once per key: the send counter only grows, and a session refuses to
 * send once it reaches the reject limit. */
#ifndef VPN_TRANSPORT_H
#define VPN_TRANSPORT_H

#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay.h"
#include "wire.h"

enum tp_cipher { TP_CHACHA20POLY1305 = 0, TP_AES256GCM = 1 };

/* When a session must be replaced. Milliseconds and packets. */
struct tp_limits {
	uint64_t rekey_after_ms;    /* the initiator starts a new handshake */
	uint64_t reject_after_ms;   /* the session is dead both ways */
	uint64_t rekey_after_msgs;  /* sent packets before a new handshake */
	uint64_t reject_after_msgs; /* sent or received packets: dead */
};
extern const struct tp_limits tp_default_limits;

struct tp_session {
	uint32_t local_index, remote_index;
	enum tp_cipher cipher;
	bool initiator;
	uint64_t birth_ms;
	_Atomic uint64_t send_ctr; /* next counter to use */
	struct replay replay;      /* receive side: one thread only */
	uint64_t serial;           /* unique per initialised session: names its keys */
	uint8_t send_key[32], recv_key[32];
};

const char *tp_cipher_name(enum tp_cipher c);
/* Whether this CPU can run AES-256-GCM through libsodium. */
bool tp_aes_available(void);
/* Loads what the AES path needs from libcrypto before traffic flows (its providers and the
 * cipher's implementation, some 10-20 ms on first use), so that the first packet sealed after
 * a handshake does not pay for it. Harmless without AES; safe to call more than once. */
void tp_warm(void);
/* Fills s from the two keys (copied; the caller wipes its copies). */
int tp_session_init(struct tp_session *s, enum tp_cipher cipher, const uint8_t send_key[32],
		    const uint8_t recv_key[32], uint32_t local_index, uint32_t remote_index,
		    bool initiator, uint64_t now_ms);
void tp_session_wipe(struct tp_session *s);

/* Takes the next send counter, or returns false when the session may not send any more
 * (reject limit by count or age). */
bool tp_next_counter(struct tp_session *s, uint64_t now_ms, const struct tp_limits *lim,
		     uint64_t *ctr);
/* Seals one packet: writes the header and ciphertext (len + WIRE_DATA_OVERHEAD bytes) to
 * out, which may not overlap pt. Returns that length, or 0 when this thread cannot get a
 * cipher context (out of memory): nothing to send. */
size_t tp_seal(const struct tp_session *s, uint64_t ctr, const uint8_t *pt, size_t len,
	       uint8_t *out);
/* Opens a decoded DATA message into out (ct_len - 16 bytes): 0..n = plaintext length,
 * -NC_E_AUTH when the tag does not verify (out then holds nothing to use), -NC_E_NOMEM when
 * this thread cannot get a cipher context. Does not touch the replay window. */
int tp_open(const struct tp_session *s, const struct wire_msg *m, const uint8_t *hdr,
	    uint8_t *out);
/* True when this end should start a new handshake now (age: the initiator; volume: either). */
bool tp_wants_rekey(const struct tp_session *s, uint64_t now_ms, const struct tp_limits *lim);
/* True when s may no longer receive (too old). */
bool tp_expired(const struct tp_session *s, uint64_t now_ms, const struct tp_limits *lim);

#endif
