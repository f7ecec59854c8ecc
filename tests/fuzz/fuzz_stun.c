/* libFuzzer target for the STUN codec: decode arbitrary bytes; whatever decodes is encoded
 * again from the decoded values and must decode to the same values (a symmetric codec). */
#include "stun.h"

#include <stdlib.h>
#include <string.h>

static void reencode(const struct stun_msg *m)
{
	uint8_t buf[4096];
	struct stun_builder b;
	struct stun_msg again;
	int n;

	if (m->classic)
		return; /* RFC 3489 ids cannot be rebuilt from the 12-byte tid */
	stun_build_init(&b, buf, sizeof(buf), m->method, m->cls, m->tid);
	if (m->has & STUN_HAS_XOR_MAPPED)
		stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &m->xor_mapped);
	if (m->has & STUN_HAS_MAPPED)
		stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, &m->mapped);
	if (m->has & STUN_HAS_OTHER)
		stun_add_addr(&b, STUN_ATTR_OTHER_ADDRESS, &m->other);
	if (m->has & STUN_HAS_RESPONSE_ORIGIN)
		stun_add_addr(&b, STUN_ATTR_RESPONSE_ORIGIN, &m->response_origin);
	if (m->has & STUN_HAS_CHANGE_REQUEST)
		stun_add_u32(&b, STUN_ATTR_CHANGE_REQUEST, m->change_flags);
	if (m->has & STUN_HAS_RESPONSE_PORT)
		stun_add_response_port(&b, m->response_port);
	n = stun_build_finish(&b, true);
	if (n < 0)
		abort();
	if (stun_decode(buf, (size_t)n, &again) != 0)
		abort();
	if (again.method != m->method || again.cls != m->cls ||
	    memcmp(again.tid, m->tid, STUN_TID_LEN) != 0 || !again.fingerprint_ok)
		abort();
	if ((m->has & STUN_HAS_XOR_MAPPED) && !nc_addr_eq(&again.xor_mapped, &m->xor_mapped))
		abort();
	if ((m->has & STUN_HAS_MAPPED) && !nc_addr_eq(&again.mapped, &m->mapped))
		abort();
	if ((m->has & STUN_HAS_CHANGE_REQUEST) && again.change_flags != m->change_flags)
		abort();
	if ((m->has & STUN_HAS_RESPONSE_PORT) && again.response_port != m->response_port)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stun_msg m;
	uint8_t *copy;

	/* A heap copy of exactly size bytes, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	(void)stun_is_message(copy, size, true);
	if (stun_decode(copy, size, &m) == 0)
		reencode(&m);
	free(copy);
	return 0;
}
