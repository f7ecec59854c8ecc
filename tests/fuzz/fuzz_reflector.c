/* libFuzzer target for natcheck-reflector's answering logic: arbitrary datagrams on every
 * socket, in two-address and single-address mode. Whatever it answers must be a STUN message
 * that decodes, leave from a socket that exists, go only to the requester's IP, and be no
 * larger than the request plus the fixed attributes (no amplification). */
#include "reflector.h"

#include <stdlib.h>
#include <string.h>

static struct refl_ctx ctx2, ctx1;
static struct nc_addr client;

static void setup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	nc_addr_parse("198.18.1.1:3478", 0, &ctx2.local[REFL_PP]);
	nc_addr_parse("198.18.1.1:3479", 0, &ctx2.local[REFL_PA]);
	nc_addr_parse("198.18.1.2:3478", 0, &ctx2.local[REFL_AP]);
	nc_addr_parse("198.18.1.2:3479", 0, &ctx2.local[REFL_AA]);
	ctx2.has_alternate = true;
	ctx2.software = "fuzz";
	ctx1 = ctx2;
	ctx1.has_alternate = false;
	memset(&ctx1.local[REFL_AP], 0, sizeof(ctx1.local[REFL_AP]));
	memset(&ctx1.local[REFL_AA], 0, sizeof(ctx1.local[REFL_AA]));
	nc_addr_parse("203.0.113.7:40000", 0, &client);
}

static void check(const struct refl_ctx *ctx, enum refl_sock in, const uint8_t *pkt, size_t len)
{
	static struct refl_answer a;
	struct stun_msg m;

	if (refl_handle(ctx, in, &client, pkt, len, &a) != REFL_ANSWER)
		return;
	if (a.len > sizeof(a.buf) || stun_decode(a.buf, a.len, &m) != 0)
		abort();
	if (!nc_addr_is_set(&ctx->local[a.out]) || !nc_addr_ip_eq(&a.dest, &client))
		abort();
	if (a.len > len + 160) /* the fixed attributes of an answer fit in 160 bytes */
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	setup();
	if (size > STUN_MAX_MSG)
		return 0; /* the server drops larger datagrams (MSG_TRUNC) before parsing */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	for (int s = 0; s < REFL_NSOCK; s++)
		check(&ctx2, (enum refl_sock)s, copy, size);
	check(&ctx1, REFL_PP, copy, size);
	check(&ctx1, REFL_PA, copy, size);
	free(copy);
	return 0;
}
