/* libFuzzer target for punchvpn's handshake parsers. The first byte picks what the rest is:
 *
 *   0  a datagram at a responder: wire_decode, then mac1, rate and Noise (hs_consume_initiation)
 *      and, if it authenticates as the known initiator, hs_respond
 *   1  a Noise IK msg1 straight into noise_read_msg1 (past mac1, which the fuzzer cannot forge)
 *   2  a Noise IK msg2 against a pending handshake made with fixed keys (noise_read_msg2)
 *   3  a datagram at an initiator with a pending handshake (hs_consume_response)
 *
 * Keys are fixed so runs are reproducible and the seed corpus (real messages under these keys)
 * reaches the deep paths. Checks: no crash, results within the documented codes, a payload
 * never longer than the message allows. */
#include <natcheck/error.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "handshake.h"
#include "noise.h"
#include "wire.h"

/* The seed corpus holds real messages under these keys (docs/punchvpn.md, "Fuzzing"). */
static const uint8_t init_priv[32] = {0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
				      16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 0x41};
static const uint8_t resp_priv[32] = {0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
				      16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 0x42};
static const uint8_t init_eph[32] = {0x30, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
				     9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0x43};

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hs_local il, rl;
	static bool ready;
	struct hs_peer i_sees_r, r_sees_i;
	uint8_t *in, out[256];
	size_t len;
	int rc;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		hs_local_init(&il, init_priv);
		hs_local_init(&rl, resp_priv);
		ready = true;
	}
	if (size < 1)
		return 0;
	in = fuzz_rest_copy(data, size);
	if (!in)
		return 0;
	len = size - 1;
	hs_peer_init(&i_sees_r, rl.pub);
	hs_peer_init(&r_sees_i, il.pub);

	switch (data[0] % 4) {
	case 0: {
		struct wire_msg m;
		struct hs_init hi;
		struct tp_session s;

		rc = wire_decode(in, len, &m);
		check(rc == 0 || rc == -NC_E_TRUNCATED || rc == -NC_E_MALFORMED);
		if (rc != 0 || m.type != WIRE_INIT)
			break;
		check(len == WIRE_INIT_LEN && m.mac_off + WIRE_MAC_LEN == len);
		rc = hs_consume_initiation(&rl, &m, in, NULL, 1000, &hi);
		check(rc == 0 || rc == -NC_E_AUTH);
		if (rc != 0)
			break;
		if (sodium_memcmp(hi.peer_pub, il.pub, 32) != 0) {
			noise_hs_wipe(&hi.hs);
			break;
		}
		rc = hs_respond(&r_sees_i, &hi, 7, 1000, out, &s);
		check(rc == 0 || rc == -NC_E_PROTOCOL || rc == -NC_E_UNSUPPORTED);
		break;
	}
	case 1: {
		struct noise_hs hs;
		noise_hs_init(&hs, false, "punchvpn v1", 11, resp_priv, NULL);
		rc = noise_read_msg1(&hs, in, len, out, sizeof(out));
		check(rc < 0 || (size_t)rc + NOISE_MSG1_OVERHEAD == len);
		noise_hs_wipe(&hs);
		break;
	}
	case 2: {
		struct noise_hs hs;
		uint8_t msg1[128];
		noise_hs_init(&hs, true, "punchvpn v1", 11, init_priv, rl.pub);
		check(noise_write_msg1(&hs, init_eph, NULL, 0, msg1, sizeof(msg1)) == NOISE_MSG1_OVERHEAD);
		rc = noise_read_msg2(&hs, in, len, out, sizeof(out));
		check(rc < 0 || (size_t)rc + NOISE_MSG2_OVERHEAD == len);
		noise_hs_wipe(&hs);
		break;
	}
	default: {
		struct wire_msg m;
		struct tp_session s;
		uint8_t init[WIRE_INIT_LEN];

		check(hs_initiation(&il, &i_sees_r, 0x01020304, init) == 0);
		if (wire_decode(in, len, &m) != 0 || m.type != WIRE_RESP)
			break;
		rc = hs_consume_response(&il, &i_sees_r, &m, in, 1000, &s);
		check(rc == 0 || rc == -NC_E_AUTH || rc == -NC_E_PROTOCOL);
		break;
	}
	}
	hs_peer_wipe(&i_sees_r);
	hs_peer_wipe(&r_sees_i);
	free(in);
	return 0;
}
