/* libFuzzer target: arbitrary bytes as inbound and outbound packets through one translator.
 *
 * Input layout:
 *   byte 0..1   configuration (mapping, filtering, allocation, hairpin, pooling, overload,
 *               parity, blocks, unsolicited answer, refresh)
 *   byte 2      misbehaviours: bit 0 STUN ALG, bit 1 first-fit allocation, bit 2 remap every
 *               second, bit 3 link blackout (500 ms after 1 s idle)
 *   then records: [ctl][len_hi][len_lo][len bytes of packet]
 *     ctl bits 0-1: 0 = nb_translate (auto), 1 = nb_translate_out, 2 = nb_translate_in,
 *                   3 = auto after an nb_expire sweep
 *     bit 2:        fix the IPv4 header checksum first (so the translator, not only the
 *                   parser, gets exercised)
 *     bits 3-7:     clock advance, (ctl >> 3) * 250 ms
 * Invariants checked: whatever natbox emits parses; a forwarded packet whose checksums were
 * valid still has valid checksums; the table never exceeds its capacity. */
#include "cursor.h"
#include "nb_delay.h"
#include "nb_nat.h"
#include "nb_pkt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nb_out out;
static uint8_t pkt[NB_MAX_PKT];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nb_config cfg;
	struct nb_state *s;
	struct nc_rd r;
	uint64_t now = 1000;
	uint8_t c0, c1, c2;
	struct nb_link link;

	nc_rd_init(&r, data, size);
	c0 = nc_rd_u8(&r);
	c1 = nc_rd_u8(&r);
	c2 = nc_rd_u8(&r);
	if (r.err)
		return 0;
	nb_config_default(&cfg);
	cfg.mapping = (enum nb_beh)(c0 % 3);
	cfg.filtering = (enum nb_beh)((c0 / 3) % 3);
	cfg.alloc = (enum nb_alloc)((c0 / 9) % 3);
	cfg.hairpin = (enum nb_hairpin)((c0 / 27) % 3);
	cfg.hairpin_filter = (c0 & 0x80) != 0;
	cfg.pool = (c1 & 1) ? NB_POOL_ARBITRARY : NB_POOL_PAIRED;
	cfg.overload = (c1 & 2) != 0;
	cfg.parity_keep = (c1 & 4) != 0;
	cfg.block_size = (c1 & 8) ? 16 : 0;
	cfg.unsolicited = (enum nb_unsol)(((c1 >> 4) & 3) % 3);
	cfg.refresh = (c1 & 0x40) ? NB_REFRESH_OUTBOUND : NB_REFRESH_BOTH;
	cfg.delta = (c1 & 0x80) ? -3 : 1;
	cfg.port_lo = 1000;
	cfg.port_hi = 1127; /* small: exhaustion and collisions happen */
	cfg.lifetime_s = 2;
	cfg.tcp_trans_s = 3;
	cfg.tcp_est_s = 5;
	cfg.max_mappings = 48;
	cfg.wan_ip[cfg.n_wan++] = 0xc6120001; /* 198.18.0.1 */
	cfg.wan_ip[cfg.n_wan++] = 0xc6120005;
	cfg.lan[0] = (struct nb_prefix){.net = 0x0a000000, .mask = 0xffffff00};
	cfg.n_lan = 1;
	cfg.loss_ppm = 100000;
	cfg.jitter_ms = 5;
	cfg.seed = c0 ^ ((uint64_t)c1 << 8);
	cfg.stun_alg = (c2 & 1) != 0;
	if (c2 & 2)
		cfg.alloc = NB_ALLOC_FIRST_FIT;
	cfg.remap_s = (c2 & 4) ? 1 : 0;
	cfg.blackout_ms = (c2 & 8) ? 500 : 0;
	cfg.blackout_idle_ms = 1000;
	memset(&link, 0, sizeof(link));
	s = nb_state_new(&cfg);
	if (!s)
		return 0;

	for (;;) {
		uint8_t ctl = nc_rd_u8(&r);
		uint16_t len = nc_rd_n16(&r);
		const uint8_t *p;
		struct nb_pkt in, o;
		enum nb_verdict v;
		bool in_ok = false;
		uint64_t due;

		if (r.err)
			break;
		if (len > nc_rd_left(&r))
			len = (uint16_t)nc_rd_left(&r);
		p = nc_rd_ptr(&r, len);
		if (!p)
			break;
		memcpy(pkt, p, len);
		if ((ctl & 4) && len >= 20 && (pkt[0] & 0x0f) >= 5 && (size_t)(pkt[0] & 0x0f) * 4 <= len)
			nb_ip_csum_fix(pkt, 0, (size_t)(pkt[0] & 0x0f) * 4);
		now += (uint64_t)(ctl >> 3) * 250;
		if (nb_parse(pkt, len, &in) == 0 && !(in.ip.frag & 0x2000))
			in_ok = nb_csum_ok(pkt, &in);
		if (!nb_link_pass(&link, &cfg, now))
			continue; /* lost while the link wakes up: the translator never sees it */
		switch (ctl & 3) {
		case 1:
			v = nb_translate_out(s, pkt, len, now, &out);
			break;
		case 2:
			v = nb_translate_in(s, pkt, len, now, &out);
			break;
		case 3:
			nb_expire(s, now);
			/* fall through */
		default:
			v = nb_translate(s, pkt, len, now, &out);
			break;
		}
		if (v != NB_DROP) {
			if (nb_parse(out.buf, out.len, &o) != 0)
				abort();
			if (v == NB_REPLY && !nb_csum_ok(out.buf, &o))
				abort();
			if (v == NB_FORWARD && in_ok && !nb_csum_ok(out.buf, &o))
				abort();
			(void)nb_impair(s, now, &due);
		} else if (out.len != 0) {
			abort();
		}
		if (nb_count(s) > nb_capacity(s))
			abort();
	}
	nb_state_free(s);
	return 0;
}
