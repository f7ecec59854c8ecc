/* libFuzzer target for the STUN codec.
 *
 * Any input is decoded from a heap copy of exactly its size (so ASan sees a read past the end).
 * Whatever decodes is encoded again from the decoded values alone and decoded a second time;
 * the two decodes must agree field for field (the struct has no pointers and is zeroed before
 * decoding, so memcmp compares every value). That checks the codec is symmetric and that the
 * decoder's normalisations (text sanitising, first-wins duplicates, capped lists) are stable.
 * Any disagreement aborts, which libFuzzer reports as a crash with the input saved. */
#include <natcheck/error.h>
#include "stun.h"

#include <stdlib.h>
#include <string.h>

/* The re-encoded message is never longer than the original: each attribute comes back at
 * most as long as it was, duplicates and ignored ones are dropped. */
#define MAX_MSG (STUN_HEADER_LEN + 0xFFFF)

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void add_if(struct stun_builder *b, const struct stun_msg *m, uint32_t bit, uint16_t type,
		   const struct nc_addr *a)
{
	if (m->has & bit)
		stun_add_addr(b, type, a);
}

/* Encodes what m holds. Presence-only attributes come back empty (USERNAME) or zeroed
 * (MESSAGE-INTEGRITY, last before FINGERPRINT since whatever follows it is ignored). */
static int reencode(const struct stun_msg *m, const uint8_t *orig, size_t orig_len, uint8_t *buf)
{
	static const uint8_t no_hmac[20];
	struct stun_builder b;

	if (m->classic)
		stun_build_reply(&b, buf, MAX_MSG, orig, orig_len, m->cls); /* the 16-byte id */
	else
		stun_build_init(&b, buf, MAX_MSG, m->method, m->cls, m->tid);
	if (m->has & STUN_HAS_XOR_MAPPED)
		stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &m->xor_mapped);
	add_if(&b, m, STUN_HAS_MAPPED, STUN_ATTR_MAPPED_ADDRESS, &m->mapped);
	add_if(&b, m, STUN_HAS_RESPONSE_ORIGIN, STUN_ATTR_RESPONSE_ORIGIN, &m->response_origin);
	add_if(&b, m, STUN_HAS_OTHER, STUN_ATTR_OTHER_ADDRESS, &m->other);
	add_if(&b, m, STUN_HAS_CHANGED, STUN_ATTR_CHANGED_ADDRESS, &m->changed);
	add_if(&b, m, STUN_HAS_SOURCE, STUN_ATTR_SOURCE_ADDRESS, &m->source);
	if (m->has & STUN_HAS_CHANGE_REQUEST)
		stun_add_u32(&b, STUN_ATTR_CHANGE_REQUEST, m->change_flags); /* every bit */
	if (m->has & STUN_HAS_RESPONSE_PORT)
		stun_add_response_port(&b, m->response_port);
	if (m->has & STUN_HAS_PADDING)
		stun_add_padding(&b, m->padding_len);
	if (m->has & STUN_HAS_SOFTWARE)
		stun_add_software(&b, m->software);
	if (m->has & STUN_HAS_ERROR)
		stun_add_error(&b, m->error_code, m->error_reason);
	if (m->has & STUN_HAS_UNKNOWN_ATTRS)
		stun_add_unknown_attrs(&b, m->unknown_attrs, m->n_unknown_attrs);
	if (m->has & STUN_HAS_USERNAME)
		stun_add_bytes(&b, STUN_ATTR_USERNAME, NULL, 0);
	for (size_t i = 0; i < m->n_unknown_required; i++)
		stun_add_bytes(&b, m->unknown_required[i], NULL, 0);
	if (m->has & STUN_HAS_INTEGRITY)
		stun_add_bytes(&b, STUN_ATTR_MESSAGE_INTEGRITY, no_hmac, sizeof(no_hmac));
	return stun_build_finish(&b, m->has & STUN_HAS_FINGERPRINT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg m, again;
	uint8_t *copy, *buf;
	int rc, n;

	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	rc = stun_decode(copy, size, &m);
	/* The quick demultiplexing check and the decoder agree on what is STUN. */
	check(stun_is_message(copy, size, true) == (rc != -NC_E_NOT_STUN));
	check(rc == 0 || rc == -NC_E_NOT_STUN || rc == -NC_E_TRUNCATED || rc == -NC_E_MALFORMED ||
	      rc == -NC_E_FINGERPRINT);
	if (rc != 0)
		goto out;
	check(!(m.has & STUN_HAS_FINGERPRINT) || m.fingerprint_ok);
	check(strlen(m.software) < sizeof(m.software));
	check(strlen(m.error_reason) < sizeof(m.error_reason));

	buf = malloc(MAX_MSG);
	if (!buf)
		goto out;
	n = reencode(&m, copy, size, buf);
	check(n >= STUN_HEADER_LEN && (size_t)n <= size && n % 4 == 0);
	check(stun_is_message(buf, (size_t)n, m.classic));
	check(stun_decode(buf, (size_t)n, &again) == 0);
	/* RFC 3489 messages never get a FINGERPRINT from the encoder. */
	if (m.classic) {
		m.has &= ~(uint32_t)STUN_HAS_FINGERPRINT;
		m.fingerprint_ok = false;
	}
	check(memcmp(&m, &again, sizeof(m)) == 0);
	free(buf);
out:
	free(copy);
	return 0;
}
