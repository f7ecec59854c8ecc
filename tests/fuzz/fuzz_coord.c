/* libFuzzer target for the coordination-message parser and the bouncer's checks: arbitrary
 * datagrams through ncp_coord_parse() and bouncer_handle_coord(). Whatever parses must
 * re-encode to the same bytes (the codec is symmetric), and nothing unauthenticated may ever
 * be accepted. Inputs starting with 0x00 are re-sealed under the test key first, so the
 * fuzzer also reaches the checks after the MAC (replay, target, rate limits). Also drives the
 * suite's STUN attribute reader. */
#include "bouncer.h"
#include "ncproto.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key[NCP_KEY_LEN] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
					 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
#define NOW_MS 1800000000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bouncer *b;
	static struct ncp_coord m, m2;
	static uint8_t buf[NCP_COORD_MAX + 64], out[NCP_COORD_MAX + 64];
	struct ncp_cb_request req;
	struct ncp_result res;
	struct nc_addr origin;
	bool has;
	size_t len;

	if (!b) {
		struct bouncer_cfg cfg = {0};
		if (sodium_init() < 0)
			abort();
		memcpy(cfg.key, key, sizeof(key));
		if (bouncer_new(&b, &cfg) < 0)
			abort();
	}
	if (size > sizeof(buf) - NCP_MAC_LEN)
		return 0;
	len = size;
	memcpy(buf, data, size);
	if (size > 1 && data[0] == 0) {
		/* Seal the rest under the real key: reach everything after authentication. */
		memmove(buf, data + 1, size - 1);
		len = size - 1;
		if (len >= NCP_MAC_LEN)
			crypto_auth(buf + len - NCP_MAC_LEN, buf, len - NCP_MAC_LEN, key);
	}
	if (ncp_coord_parse(buf, len, NOW_MS, &m) == NCP_OK) {
		int n = ncp_coord_encode(&m, key, out, sizeof(out));
		/* Symmetric codec: what parsed re-encodes to the same header and body. */
		if (n < 0 || (size_t)n != len || memcmp(out, buf, len - NCP_MAC_LEN) != 0)
			abort();
		if (ncp_coord_parse(out, (size_t)n, NOW_MS, &m2) != NCP_OK)
			abort();
	}
	if (bouncer_handle_coord(b, 1000000, NOW_MS, buf, len, &m) == BNC_OK &&
	    !ncp_coord_verify(buf, len, key))
		abort(); /* accepted without a valid MAC */
	/* The STUN side: attribute reader on anything that looks like STUN. */
	if (stun_is_message(data, size, false))
		(void)ncp_parse_attrs(data, size, &req, &origin, &res, &has);
	return 0;
}
