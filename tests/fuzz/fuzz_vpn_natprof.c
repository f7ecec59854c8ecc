/* libFuzzer target for punchvpn's rtnetlink change filter (natprof_nl_changed). The first byte
 * is the tunnel's interface index to skip (0 = none); the rest is one read from the
 * subscription, as the kernel's netlink messages arrive.
 *
 * Seeds (corpus/vpn_natprof/) are real reads captured in a namespace while an interface came
 * up, got IPv4 and IPv6 addresses and routes, and lost them again.
 *
 * Checks: no crash, no read outside the input; skipping an interface can only hide changes,
 * never invent one. */
#include <stdlib.h>

#include "fuzz_input.h"
#include "natprof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *msgs;
	bool with_skip, without;

	if (size < 1)
		return 0;
	msgs = fuzz_rest_copy(data, size);
	if (!msgs)
		return 0;
	with_skip = natprof_nl_changed(msgs, size - 1, data[0]);
	without = natprof_nl_changed(msgs, size - 1, 0);
	if (with_skip && !without)
		abort();
	free(msgs);
	return 0;
}
