/* libFuzzer target for the reflector fast path's frame parser (reflector/frame.c), which reads
 * raw frames off the interface before the kernel's IP layer has checked them. The first byte
 * says whether the kernel vouches for the UDP checksum; the rest is the frame. Whatever the
 * parser accepts must lie inside the frame and within FRAME_MAX_UDP, and the answer frame
 * built back to its sender must parse to the same addresses and payload. Seeds in
 * tests/fuzz/corpus/frame. */
#include "frame.h"
#include "fuzz_input.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mine[FRAME_MAC_LEN] = {0x02, 0, 0, 0, 0, 1};
	struct frame_udp4 req, back;
	uint8_t out[2048], *copy;
	int n;

	if (size < 1)
		return 0;
	if (!(copy = fuzz_rest_copy(data, size)))
		return 0;
	if (frame_parse_udp4(copy, size - 1, data[0] & 1, &req) == FRAME_OK) {
		if (req.payload < copy || req.payload + req.len > copy + size - 1 || req.len > FRAME_MAX_UDP - 8)
			abort();
		n = frame_build_udp4(out, sizeof(out), req.src_mac, mine, &req.dst, &req.src, req.payload, req.len);
		if (n != (int)(FRAME_HDRS_LEN + req.len))
			abort();
		/* The answer's source is the request's destination, which may be anything the
		 * request named; only a martian verdict (not ours to police here) is excused. */
		enum frame_verdict v = frame_parse_udp4(out, (size_t)n, false, &back);
		if (v != FRAME_OK && v != FRAME_MARTIAN)
			abort();
		if (v == FRAME_OK && (!nc_addr_eq(&back.src, &req.dst) || !nc_addr_eq(&back.dst, &req.src) ||
				      back.len != req.len || memcmp(back.payload, req.payload, req.len) != 0 ||
				      memcmp(back.src_mac, mine, FRAME_MAC_LEN) != 0))
			abort();
	}
	free(copy);
	return 0;
}
