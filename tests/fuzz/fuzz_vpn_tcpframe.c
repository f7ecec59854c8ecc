/* libFuzzer target for the TCP framing punchvpn reads from punchvpnd's relay connection and
 * from a peer's direct TCP path (vpn/lib/tcpframe.c: a 2-byte big-endian length and the
 * datagram). The input is the byte stream, cut into reads whose sizes the stream itself picks
 * (each read's first byte, 1-256); every read goes into the connection's buffer and through
 * tcpf_frames as the device does it. Checks: each datagram handed on is exactly the next frame
 * of the stream (its length bytes, then those bytes), none is empty, the frames come in
 * order with nothing skipped, and what stays buffered is a frame's incomplete beginning; a
 * zero length stops the stream there. Seeds in tests/fuzz/corpus/vpn_tcpframe. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../vpn/lib/tcpframe.h"
#include "fuzz_input.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

struct want {
	const uint8_t *stream; /* the bytes fed so far, in order */
	size_t len, off;       /* fed, and consumed by whole frames */
};

static void frame(void *ctx, const uint8_t *dgram, size_t len)
{
	struct want *w = ctx;

	check(len > 0);
	check(w->len - w->off >= 2 + len);
	check(((size_t)w->stream[w->off] << 8 | w->stream[w->off + 1]) == len);
	check(memcmp(dgram, w->stream + w->off + 2, len) == 0);
	w->off += 2 + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tcpf f;
	static int ready;
	uint8_t *stream = malloc(size ? size : 1);
	struct want w = {.stream = stream};
	size_t i = 0;

	if (!stream)
		return 0;
	if (!ready) {
		if (tcpf_init(&f) != 0)
			abort();
		ready = 1;
	}
	f.in_len = 0;
	while (i < size) {
		size_t chunk = (size_t)data[i++] + 1, room = TCPF_IN_CAP - f.in_len;
		bool ok;

		if (chunk > size - i)
			chunk = size - i;
		if (chunk > room)
			chunk = room;
		memcpy(f.in + f.in_len, data + i, chunk);
		memcpy(stream + w.len, data + i, chunk);
		f.in_len += chunk;
		w.len += chunk;
		i += chunk;
		ok = tcpf_frames(&f, frame, &w);
		/* What stays is exactly the stream after the last whole frame. */
		check(f.in_len == w.len - w.off);
		check(memcmp(f.in, stream + w.off, f.in_len) == 0);
		if (!ok) {
			check(f.in_len >= 2 && f.in[0] == 0 && f.in[1] == 0);
			break;
		}
		/* A frame is never held back once it is whole. */
		check(f.in_len < 2 || f.in_len < 2 + ((size_t)f.in[0] << 8 | f.in[1]));
		if (chunk == 0)
			break;
	}
	free(stream);
	return 0;
}
