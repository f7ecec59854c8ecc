#include "reflector.h"

#include <string.h>

enum refl_sock refl_change_sock(enum refl_sock in, uint32_t flags)
{
	unsigned s = (unsigned)in;

	/* Bit 1 of the index is the address, bit 0 the port (see the enum). */
	if (flags & STUN_CHANGE_IP)
		s ^= 2u;
	if (flags & STUN_CHANGE_PORT)
		s ^= 1u;
	return (enum refl_sock)s;
}

static void error_answer(struct stun_builder *b, const uint8_t *pkt, size_t len,
			 struct refl_answer *a, uint16_t code, const uint16_t *unknown, size_t n)
{
	stun_build_reply(b, a->buf, sizeof(a->buf), pkt, len, STUN_CLASS_ERROR);
	stun_add_error(b, code, NULL);
	if (n)
		stun_add_unknown_attrs(b, unknown, n);
}

enum refl_drop refl_handle(const struct refl_ctx *ctx, enum refl_sock in,
			   const struct nc_addr *src, const uint8_t *pkt, size_t len,
			   struct refl_answer *a)
{
	struct stun_msg m;
	struct stun_builder b;
	enum refl_sock out = in;
	int n;

	if (stun_decode(pkt, len, &m) < 0)
		return REFL_DROP_MALFORMED;
	if (m.cls != STUN_CLASS_REQUEST)
		return REFL_DROP_NOT_REQUEST; /* never answer answers or indications */
	a->dest = *src;
	a->out = in;

	if (m.method != STUN_METHOD_BINDING) {
		error_answer(&b, pkt, len, a, 400, NULL, 0);
	} else if (m.n_unknown_required) {
		/* RFC 8489 §6.3.1.1: 420 listing what we did not understand. */
		error_answer(&b, pkt, len, a, 420, m.unknown_required, m.n_unknown_required);
	} else if (((m.change_flags & (STUN_CHANGE_IP | STUN_CHANGE_PORT)) &&
		    (!ctx->has_alternate || ctx->refuse_change)) ||
		   ((m.has & STUN_HAS_RESPONSE_PORT) && ctx->refuse_change)) {
		/* RFC 5780 §6: without an alternate address CHANGE-REQUEST is not supported and
		 * gets 420. Over TCP the answer can only go back on the same connection, so a
		 * CHANGE-REQUEST asking for another origin, and RESPONSE-PORT (§7.5: "optional",
		 * so clients must accept a 420), are refused the same way. */
		uint16_t refused[2];
		size_t k = 0;
		if ((m.change_flags & (STUN_CHANGE_IP | STUN_CHANGE_PORT)) &&
		    (!ctx->has_alternate || ctx->refuse_change))
			refused[k++] = STUN_ATTR_CHANGE_REQUEST;
		if ((m.has & STUN_HAS_RESPONSE_PORT) && ctx->refuse_change)
			refused[k++] = STUN_ATTR_RESPONSE_PORT;
		error_answer(&b, pkt, len, a, 420, refused, k);
	} else if ((m.has & STUN_HAS_PADDING) && (m.has & STUN_HAS_RESPONSE_PORT)) {
		/* RFC 5780 §7.4/§7.5: PADDING with RESPONSE-PORT is refused with 400. */
		error_answer(&b, pkt, len, a, 400, NULL, 0);
	} else {
		out = refl_change_sock(in, m.change_flags);
		if (m.has & STUN_HAS_RESPONSE_PORT) {
			/* RFC 5780 §7.5: to the request's source IP, at the given port; never to
			 * any other address, so the port cannot aim traffic at third parties. */
			if (m.response_port == 0)
				return REFL_DROP_MALFORMED;
			a->dest.port = m.response_port;
		}
		stun_build_reply(&b, a->buf, sizeof(a->buf), pkt, len, STUN_CLASS_SUCCESS);
		if (m.classic) {
			/* RFC 3489 §11.2: MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS. */
			stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, src);
			stun_add_addr(&b, STUN_ATTR_SOURCE_ADDRESS, &ctx->local[out]);
			if (ctx->has_alternate)
				stun_add_addr(&b, STUN_ATTR_CHANGED_ADDRESS,
					      &ctx->local[refl_change_sock(in, STUN_CHANGE_IP | STUN_CHANGE_PORT)]);
		} else {
			/* RFC 5780 §6: both mapped addresses (so ALGs show), RESPONSE-ORIGIN, and
			 * OTHER-ADDRESS when there is an alternate. */
			stun_add_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, src);
			stun_add_addr(&b, STUN_ATTR_MAPPED_ADDRESS, src);
			stun_add_addr(&b, STUN_ATTR_RESPONSE_ORIGIN, &ctx->local[out]);
			if (ctx->has_alternate)
				stun_add_addr(&b, STUN_ATTR_OTHER_ADDRESS,
					      &ctx->local[refl_change_sock(in, STUN_CHANGE_IP | STUN_CHANGE_PORT)]);
		}
		if (ctx->software && !m.classic)
			stun_add_software(&b, ctx->software);
		if (m.has & STUN_HAS_PADDING) {
			/* RFC 5780 §7.4: pad the answer like the request (bounded: an answer is
			 * never larger than what asked for it plus the fixed attributes). */
			size_t pad = m.padding_len < REFL_MAX_PADDING ? m.padding_len : REFL_MAX_PADDING;
			stun_add_padding(&b, pad);
		}
	}
	n = stun_build_finish(&b, !m.classic);
	if (n < 0)
		return REFL_DROP_MALFORMED;
	a->len = (size_t)n;
	a->out = out;
	return REFL_ANSWER;
}
