/* libFuzzer target for the port-mapping parsers of untrusted bytes: PCP/NAT-PMP responses
 * (pcp_decode_response, then the matching and the words a report would print) and SSDP
 * M-SEARCH answers (nc_pm_ssdp_location). The first byte picks the parser, so one corpus holds
 * both; seeds in tests/fuzz/corpus/pcp. */
#include <natcheck/error.h>
#include "fuzz_input.h"
#include "pcp.h"
#include "portmap.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcp_response r;
	struct pcp_map req = {.protocol = 17, .internal_port = 5000};
	char words[256], url[NC_PM_URL_LEN];
	uint8_t *copy;

	if (size < 1)
		return 0;
	if (!(copy = fuzz_rest_copy(data, size)))
		return 0;
	if (data[0] & 1) {
		if (nc_pm_ssdp_location(copy, size - 1, url, sizeof(url)) == 0 &&
		    (strlen(url) >= sizeof(url) || strncasecmp(url, "http://", 7) != 0))
			abort();
	} else if (pcp_decode_response(copy, size - 1, &r) == 0) {
		(void)pcp_response_matches(&r, r.opcode, &req);
		(void)pcp_response_str(&r, words, sizeof(words));
		if (r.has_map && r.opcode != PCP_OP_MAP)
			abort();
	}
	free(copy);
	return 0;
}
