/* libFuzzer target for punchvpn's in-tunnel control messages (vpn/lib/ctrl.c): what the RX
 * thread parses from an authenticated plaintext that starts with a zero byte.
 *
 * Checks: no crash; ctrl_is says "control" exactly for a non-empty input starting with 0; a
 * refused input leaves the output untouched; an accepted one is a known type with a port,
 * and re-encodes to the same four bytes. */
#include <natcheck/error.h>

#include <stdlib.h>
#include <string.h>

#include "../../vpn/lib/ctrl.h"

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctrl_msg m, before;
	uint8_t again[CTRL_LEN];
	int rc;

	memset(&m, 0xA5, sizeof(m));
	before = m;
	check(ctrl_is(data, size) == (size > 0 && data[0] == 0));
	rc = ctrl_decode(data, size, &m);
	if (rc != 0) {
		check(rc == -NC_E_MALFORMED);
		check(memcmp(&m, &before, sizeof(m)) == 0);
		return 0;
	}
	check(size == CTRL_LEN && m.port != 0);
	check(m.type == CTRL_BDAY_PROBE || m.type == CTRL_BDAY_HIT || m.type == CTRL_BDAY_TARGET);
	ctrl_encode(again, &m);
	check(memcmp(again, data, CTRL_LEN) == 0);
	return 0;
}
