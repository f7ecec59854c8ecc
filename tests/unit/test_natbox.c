/* natbox translator, parser, impairment and CLI: crafted packets through the pure core. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cursor.h"
#include <natcheck/error.h>
#include "inetcsum.h"
#include "nb_cli.h"
#include "nb_delay.h"
#include "nb_nat.h"
#include "nb_pkt.h"
#include "stun.h"
#include <natcheck/addr.h>
#include <natcheck/result.h>

#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static const uint32_t H1 = IP(10, 0, 0, 2), H2 = IP(10, 0, 0, 3);
static const uint32_t W1 = IP(198, 18, 0, 1), W2 = IP(198, 18, 0, 5);
static const uint32_t R1 = IP(198, 18, 1, 2), R2 = IP(198, 18, 1, 3);

/* ---- packet crafting ---------------------------------------------------------------- */

static size_t ip_hdr(uint8_t *b, size_t l4len, uint8_t proto, uint32_t src, uint32_t dst)
{
	memset(b, 0, 20);
	b[0] = 0x45;
	nc_put_n16(b + 2, (uint16_t)(20 + l4len));
	nc_put_n16(b + 4, 0x1234);
	b[8] = 64;
	b[9] = proto;
	nc_put_n32(b + 12, src);
	nc_put_n32(b + 16, dst);
	nb_ip_csum_fix(b, 0, 20);
	return 20 + l4len;
}

static size_t udp(uint8_t *b, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp)
{
	static const char payload[] = "natbox test payload";
	size_t ulen = 8 + sizeof(payload);
	uint8_t *u = b + 20;

	nc_put_n16(u, sp);
	nc_put_n16(u + 2, dp);
	nc_put_n16(u + 4, (uint16_t)ulen);
	nc_put_n16(u + 6, 0);
	memcpy(u + 8, payload, sizeof(payload));
	nc_put_n16(u + 6, nc_csum_l4_ipv4(b + 20, ulen, src, dst, NB_IPPROTO_UDP));
	return ip_hdr(b, ulen, NB_IPPROTO_UDP, src, dst);
}

static size_t tcp(uint8_t *b, uint32_t src, uint16_t sp, uint32_t dst, uint16_t dp, uint8_t flags,
		  uint32_t seq, uint32_t ack)
{
	uint8_t *t = b + 20;

	memset(t, 0, 20);
	nc_put_n16(t, sp);
	nc_put_n16(t + 2, dp);
	nc_put_n32(t + 4, seq);
	nc_put_n32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	nc_put_n16(t + 14, 65535);
	nc_put_n16(t + 16, nc_csum_l4_ipv4(b + 20, 20, src, dst, NB_IPPROTO_TCP));
	return ip_hdr(b, 20, NB_IPPROTO_TCP, src, dst);
}

static size_t echo(uint8_t *b, uint32_t src, uint32_t dst, uint8_t type, uint16_t id)
{
	uint8_t *c = b + 20;

	memset(c, 0, 16);
	c[0] = type;
	nc_put_n16(c + 4, id);
	nc_put_n16(c + 6, 1);
	memcpy(c + 8, "pingping", 8);
	nc_put_n16(c + 2, nc_csum_fold(nc_csum_add(0, c, 16)));
	return ip_hdr(b, 16, NB_IPPROTO_ICMP, src, dst);
}

/* ICMP error from src to dst quoting the first 28 bytes of orig. */
static size_t icmp_err(uint8_t *b, uint32_t src, uint32_t dst, const uint8_t *orig)
{
	uint8_t *c = b + 20;

	memset(c, 0, 8);
	c[0] = NB_ICMP_UNREACH;
	c[1] = 3;
	memcpy(c + 8, orig, 28);
	nc_put_n16(c + 2, nc_csum_fold(nc_csum_add(0, c, 36)));
	return ip_hdr(b, 36, NB_IPPROTO_ICMP, src, dst);
}

/* ---- helpers ------------------------------------------------------------------------- */

struct fix {
	struct nb_config cfg;
	struct nb_state *s;
	struct nb_out *out;
	uint8_t pkt[2048];
};

static struct fix *fix_new(void)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->out = malloc(sizeof(*f->out));
	assert_non_null(f->out);
	nb_config_default(&f->cfg);
	f->cfg.wan_ip[f->cfg.n_wan++] = W1;
	f->cfg.lan[0] = (struct nb_prefix){.net = IP(10, 0, 0, 0), .mask = 0xffffff00};
	f->cfg.n_lan = 1;
	f->cfg.seed = 42;
	f->cfg.max_mappings = 1024;
	return f;
}

static void fix_start(struct fix *f)
{
	f->s = nb_state_new(&f->cfg);
	assert_non_null(f->s);
}

static void fix_free(struct fix *f)
{
	nb_state_free(f->s);
	free(f->out);
	free(f);
}

struct seen {
	uint32_t src, dst;
	uint16_t sport, dport;
};

/* Parses what natbox emitted, checks every checksum, returns the endpoints. */
static struct seen check_out(const struct nb_out *o)
{
	struct nb_pkt p;
	struct seen s;

	assert_int_equal(nb_parse(o->buf, o->len, &p), 0);
	assert_true(nb_csum_ok(o->buf, &p));
	s.src = p.ip.src;
	s.dst = p.ip.dst;
	s.sport = p.l4.sport;
	s.dport = p.l4.dport;
	return s;
}

/* Sends one UDP packet outbound and returns the external port (asserts forward). */
static uint16_t out_udp(struct fix *f, uint32_t h, uint16_t hp, uint32_t r, uint16_t rp,
			uint64_t now, uint32_t *eip)
{
	size_t n = udp(f->pkt, h, hp, r, rp);
	struct seen s;

	assert_int_equal(nb_translate(f->s, f->pkt, n, now, f->out), NB_FORWARD);
	s = check_out(f->out);
	assert_int_equal(s.dst, r);
	assert_int_equal(s.dport, rp);
	if (eip)
		*eip = s.src;
	return s.sport;
}

static enum nb_verdict in_udp(struct fix *f, uint32_t r, uint16_t rp, uint32_t w, uint16_t wp,
			      uint64_t now)
{
	size_t n = udp(f->pkt, r, rp, w, wp);
	return nb_translate(f->s, f->pkt, n, now, f->out);
}

/* A Binding success response from r:rp to w:wp that reports mapped = w:wp in MAPPED-ADDRESS
 * and XOR-MAPPED-ADDRESS, with FINGERPRINT (the reflector's answer). Returns its length. */
static size_t stun_answer(uint8_t *b, uint32_t r, uint16_t rp, uint32_t w, uint16_t wp)
{
	static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	struct stun_builder sb;
	struct nc_addr a;
	uint8_t ip[4];
	uint8_t *u = b + 20;
	int n;

	nc_put_n32(ip, w);
	nc_addr_set(&a, AF_INET, ip, wp);
	stun_build_init(&sb, u + 8, 512, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, tid);
	stun_add_xor_addr(&sb, STUN_ATTR_XOR_MAPPED_ADDRESS, &a);
	stun_add_addr(&sb, STUN_ATTR_MAPPED_ADDRESS, &a);
	stun_add_software(&sb, "test");
	n = stun_build_finish(&sb, true);
	assert_true(n > 0);
	nc_put_n16(u, rp);
	nc_put_n16(u + 2, wp);
	nc_put_n16(u + 4, (uint16_t)(8 + n));
	nc_put_n16(u + 6, 0);
	nc_put_n16(u + 6, nc_csum_l4_ipv4(u, 8 + (size_t)n, r, w, NB_IPPROTO_UDP));
	return ip_hdr(b, 8 + (size_t)n, NB_IPPROTO_UDP, r, w);
}

/* ---- parser -------------------------------------------------------------------------- */

static void test_parse_valid(void **st)
{
	uint8_t b[256];
	struct nb_pkt p;
	size_t n = udp(b, H1, 5000, R1, 3478);

	(void)st;
	assert_int_equal(nb_parse(b, n, &p), 0);
	assert_int_equal(p.ip.proto, NB_IPPROTO_UDP);
	assert_int_equal(p.ip.src, H1);
	assert_int_equal(p.l4.sport, 5000);
	assert_int_equal(p.l4.dport, 3478);
	assert_true(nb_csum_ok(b, &p));
	/* trailing bytes beyond Total Length are ignored */
	assert_int_equal(nb_parse(b, n + 10, &p), 0);
	assert_int_equal(p.ip.tot_len, n);
}

static void test_parse_every_truncation(void **st)
{
	uint8_t b[256], e[256];
	struct nb_pkt p;
	size_t lens[4];
	uint8_t *pk[4];
	uint8_t b2[256], b3[256];

	(void)st;
	lens[0] = udp(b, H1, 5000, R1, 3478);
	lens[1] = tcp(b2, H1, 5000, R1, 80, NB_TH_SYN, 1, 0);
	lens[2] = echo(b3, H1, R1, NB_ICMP_ECHO, 7);
	lens[3] = icmp_err(e, R1, W1, b);
	pk[0] = b;
	pk[1] = b2;
	pk[2] = b3;
	pk[3] = e;
	for (int k = 0; k < 4; k++) {
		assert_int_equal(nb_parse(pk[k], lens[k], &p), 0);
		for (size_t n = 0; n < lens[k]; n++)
			assert_true(nb_parse(pk[k], n, &p) < 0);
	}
}

static void test_parse_garbage(void **st)
{
	uint8_t b[256], g[256];
	struct nb_pkt p;
	size_t n = udp(b, H1, 5000, R1, 3478);

	(void)st;
	memcpy(g, b, n);
	g[0] = 0x65; /* IPv6 version nibble */
	assert_int_equal(nb_parse(g, n, &p), -NC_E_MALFORMED);
	memcpy(g, b, n);
	g[0] = 0x44; /* IHL 4 */
	assert_int_equal(nb_parse(g, n, &p), -NC_E_MALFORMED);
	memcpy(g, b, n);
	g[10] ^= 0xff; /* header checksum */
	assert_int_equal(nb_parse(g, n, &p), -NC_E_MALFORMED);
	memcpy(g, b, n);
	nc_put_n16(g + 24, 200); /* UDP length beyond the datagram */
	assert_int_equal(nb_parse(g, n, &p), -NC_E_MALFORMED);
	memcpy(g, b, n);
	nc_put_n16(g + 24, 7); /* UDP length below its header */
	assert_int_equal(nb_parse(g, n, &p), -NC_E_MALFORMED);
	memcpy(g, b, n);
	nc_put_n16(g + 6, 0x0010); /* non-first fragment */
	nb_ip_csum_fix(g, 0, 20);
	assert_int_equal(nb_parse(g, n, &p), -NC_E_UNSUPPORTED);
	memcpy(g, b, n);
	g[9] = 47; /* GRE */
	nb_ip_csum_fix(g, 0, 20);
	assert_int_equal(nb_parse(g, n, &p), -NC_E_UNSUPPORTED);
	memcpy(g, b, n);
	nc_put_n16(g + 2, 400); /* Total Length beyond the buffer */
	nb_ip_csum_fix(g, 0, 20);
	assert_int_equal(nb_parse(g, n, &p), -NC_E_TRUNCATED);
	n = tcp(b, H1, 5000, R1, 80, NB_TH_SYN, 1, 0);
	b[32] = 4 << 4; /* TCP data offset 4 */
	assert_int_equal(nb_parse(b, n, &p), -NC_E_MALFORMED);
}

/* ---- mapping and filtering ---------------------------------------------------------- */

static void test_eim_eif(void **st)
{
	struct fix *f = fix_new();
	uint32_t eip;
	struct seen s;

	(void)st;
	f->cfg.mapping = NB_BEH_EI;
	f->cfg.filtering = NB_BEH_EI;
	fix_start(f);
	assert_int_equal(out_udp(f, H1, 5000, R1, 3478, 0, &eip), 5000); /* preserved */
	assert_int_equal(eip, W1);
	assert_int_equal(out_udp(f, H1, 5000, R2, 3478, 10, NULL), 5000);
	assert_int_equal(out_udp(f, H1, 5000, R2, 3479, 20, NULL), 5000);
	assert_int_equal(nb_count(f->s), 1);
	/* anyone may send in */
	assert_int_equal(in_udp(f, IP(203, 0, 113, 9), 999, W1, 5000, 30), NB_FORWARD);
	s = check_out(f->out);
	assert_int_equal(s.dst, H1);
	assert_int_equal(s.dport, 5000);
	assert_int_equal(s.src, IP(203, 0, 113, 9));
	/* but not to a port without a binding */
	assert_int_equal(in_udp(f, R1, 3478, W1, 5001, 40), NB_DROP);
	assert_int_equal(f->out->reason, NB_R_NO_MAPPING);
	fix_free(f);
}

static void test_adf_apdf(void **st)
{
	for (int mode = NB_BEH_AD; mode <= NB_BEH_APD; mode++) {
		struct fix *f = fix_new();
		(void)st;
		f->cfg.filtering = (enum nb_beh)mode;
		fix_start(f);
		out_udp(f, H1, 5000, R1, 3478, 0, NULL);
		assert_int_equal(in_udp(f, R1, 3478, W1, 5000, 1), NB_FORWARD);
		assert_int_equal(in_udp(f, R1, 3479, W1, 5000, 2),
				 mode == NB_BEH_AD ? NB_FORWARD : NB_DROP);
		assert_int_equal(in_udp(f, R2, 3478, W1, 5000, 3), NB_DROP);
		assert_int_equal(f->out->reason, NB_R_FILTERED);
		/* once H1 sends to R2:3478 the filter opens for it */
		out_udp(f, H1, 5000, R2, 3478, 4, NULL);
		assert_int_equal(in_udp(f, R2, 3478, W1, 5000, 5), NB_FORWARD);
		fix_free(f);
	}
}

static void test_adm_apdm(void **st)
{
	struct fix *f = fix_new();
	uint16_t a, b, c;

	(void)st;
	f->cfg.mapping = NB_BEH_AD;
	fix_start(f);
	a = out_udp(f, H1, 5000, R1, 3478, 0, NULL);
	b = out_udp(f, H1, 5000, R1, 3479, 0, NULL);
	c = out_udp(f, H1, 5000, R2, 3478, 0, NULL);
	assert_int_equal(a, 5000);
	assert_int_equal(b, 5000); /* same address: same mapping */
	assert_int_not_equal(c, 5000); /* new address: new mapping, port taken -> fallback */
	assert_in_range(c, 1024, 65535);
	assert_int_equal(nb_count(f->s), 2);
	fix_free(f);

	f = fix_new();
	f->cfg.mapping = NB_BEH_APD;
	fix_start(f);
	a = out_udp(f, H1, 5000, R1, 3478, 0, NULL);
	b = out_udp(f, H1, 5000, R1, 3479, 0, NULL);
	assert_int_not_equal(a, b);
	assert_int_equal(out_udp(f, H1, 5000, R1, 3478, 0, NULL), a);
	assert_int_equal(nb_count(f->s), 2);
	/* each mapping answers only for its own destination */
	assert_int_equal(in_udp(f, R1, 3479, W1, a, 1), NB_DROP);
	assert_int_equal(in_udp(f, R1, 3479, W1, b, 1), NB_FORWARD);
	fix_free(f);
}

/* ---- allocation ---------------------------------------------------------------------- */

static void test_sequential(void **st)
{
	struct fix *f = fix_new();

	(void)st;
	f->cfg.mapping = NB_BEH_APD;
	f->cfg.alloc = NB_ALLOC_SEQUENTIAL;
	f->cfg.delta = 1;
	f->cfg.port_lo = 20000;
	f->cfg.port_hi = 20999;
	fix_start(f);
	assert_int_equal(out_udp(f, H1, 5000, R1, 1, 0, NULL), 20000);
	assert_int_equal(out_udp(f, H1, 5000, R1, 2, 0, NULL), 20001);
	assert_int_equal(out_udp(f, H2, 7000, R2, 2, 0, NULL), 20002);
	assert_int_equal(out_udp(f, H1, 5000, R1, 1, 0, NULL), 20000); /* existing binding */
	fix_free(f);

	f = fix_new();
	f->cfg.mapping = NB_BEH_APD;
	f->cfg.alloc = NB_ALLOC_SEQUENTIAL;
	f->cfg.delta = -3;
	f->cfg.port_lo = 20000;
	f->cfg.port_hi = 20009;
	fix_start(f);
	assert_int_equal(out_udp(f, H1, 5000, R1, 1, 0, NULL), 20000);
	assert_int_equal(out_udp(f, H1, 5000, R1, 2, 0, NULL), 20007); /* wraps in the range */
	assert_int_equal(out_udp(f, H1, 5000, R1, 3, 0, NULL), 20004);
	fix_free(f);
}

static void test_preserve_collision_overload(void **st)
{
	struct fix *f = fix_new();

	(void)st;
	fix_start(f);
	assert_int_equal(out_udp(f, H1, 5000, R1, 3478, 0, NULL), 5000);
	/* strict: a second internal endpoint never shares the external port */
	assert_int_not_equal(out_udp(f, H2, 5000, R2, 3478, 0, NULL), 5000);
	fix_free(f);

	f = fix_new();
	f->cfg.overload = true;
	fix_start(f);
	assert_int_equal(out_udp(f, H1, 5000, R1, 3478, 0, NULL), 5000);
	/* overloading: shared while the external 5-tuple stays unique */
	assert_int_equal(out_udp(f, H2, 5000, R2, 3478, 0, NULL), 5000);
	assert_int_not_equal(out_udp(f, IP(10, 0, 0, 9), 5000, R1, 3478, 0, NULL), 5000);
	/* inbound demultiplexes by who each binding talked to */
	assert_int_equal(in_udp(f, R2, 3478, W1, 5000, 1), NB_FORWARD);
	assert_int_equal(check_out(f->out).dst, H2);
	assert_int_equal(in_udp(f, R1, 3478, W1, 5000, 1), NB_FORWARD);
	assert_int_equal(check_out(f->out).dst, H1);
	fix_free(f);
}

static void test_first_fit_overloads(void **st)
{
	struct fix *f = fix_new();

	(void)st;
	f->cfg.alloc = NB_ALLOC_FIRST_FIT;
	f->cfg.overload = true;
	f->cfg.port_lo = 40000;
	f->cfg.port_hi = 40003;
	fix_start(f);
	/* Four endpoints to one server fill the pool... */
	for (uint16_t i = 0; i < 4; i++)
		assert_int_equal(out_udp(f, H1, (uint16_t)(5000 + i), R1, 3478, 0, NULL), 40000 + i);
	/* ...a fifth to that server finds no free 5-tuple (demultiplexing must stay possible) */
	assert_int_equal(nb_translate(f->s, f->pkt, udp(f->pkt, H1, 5004, R1, 3478), 0, f->out),
			 NB_DROP);
	assert_int_equal(f->out->reason, NB_R_NO_PORT);
	/* ...but any endpoint talking elsewhere reuses the lowest port at once */
	assert_int_equal(out_udp(f, H1, 5004, R1, 3479, 0, NULL), 40000);
	assert_int_equal(out_udp(f, H2, 5000, R2, 3478, 0, NULL), 40000);
	/* and answers reach the right endpoint */
	assert_int_equal(in_udp(f, R1, 3479, W1, 40000, 1), NB_FORWARD);
	assert_int_equal(check_out(f->out).dport, 5004);
	assert_int_equal(in_udp(f, R2, 3478, W1, 40000, 1), NB_FORWARD);
	assert_int_equal(check_out(f->out).dst, H2);
	assert_int_equal(in_udp(f, R1, 3478, W1, 40000, 1), NB_FORWARD);
	assert_int_equal(check_out(f->out).dport, 5000);
	fix_free(f);

	/* Without overloading, first-fit is the lowest free port. */
	f = fix_new();
	f->cfg.alloc = NB_ALLOC_FIRST_FIT;
	f->cfg.port_lo = 40000;
	f->cfg.port_hi = 40003;
	fix_start(f);
	assert_int_equal(out_udp(f, H1, 5000, R1, 3478, 0, NULL), 40000);
	assert_int_equal(out_udp(f, H2, 5000, R2, 3478, 0, NULL), 40001);
	fix_free(f);
}

static void test_remap(void **st)
{
	struct fix *f = fix_new();
	uint16_t p0, p1;

	(void)st;
	f->cfg.remap_s = 3;
	f->cfg.lifetime_s = 120;
	fix_start(f);
	p0 = out_udp(f, H1, 5000, R1, 3478, 0, NULL);
	assert_int_equal(p0, 5000);
	/* In use and stable for 3 s... */
	assert_int_equal(out_udp(f, H1, 5000, R1, 3478, 2999, NULL), p0);
	assert_int_equal(in_udp(f, R1, 3478, W1, p0, 2999), NB_FORWARD);
	/* ...then an answer to the old port finds nothing: the binding has moved */
	assert_int_equal(in_udp(f, R1, 3478, W1, p0, 3000), NB_DROP);
	assert_int_equal(f->out->reason, NB_R_NO_MAPPING);
	p1 = out_udp(f, H1, 5000, R1, 3478, 3001, NULL);
	assert_int_not_equal(p1, p0);
	assert_int_equal(nb_count(f->s), 1);               /* the same binding, moved */
	assert_int_equal(nb_state_stats(f->s)->remapped, 1);
	/* its permissions moved with it: the new port works for the same remote */
	assert_int_equal(in_udp(f, R1, 3478, W1, p1, 3002), NB_FORWARD);
	assert_int_equal(check_out(f->out).dport, 5000);
	/* and it moves again one period later, first noticed by outbound traffic */
	assert_int_not_equal(out_udp(f, H1, 5000, R1, 3478, 6001, NULL), p1);
	assert_int_equal(nb_state_stats(f->s)->remapped, 2);
	fix_free(f);

	/* remap_s = 0: stable for its whole life */
	f = fix_new();
	fix_start(f);
	p0 = out_udp(f, H1, 5000, R1, 3478, 0, NULL);
	assert_int_equal(out_udp(f, H1, 5000, R1, 3478, 100000, NULL), p0);
	fix_free(f);
}

static void test_stun_alg(void **st)
{
	struct fix *f = fix_new();
	struct stun_msg m;
	struct nb_pkt p;
	uint16_t ep;
	size_t n;

	(void)st;
	f->cfg.stun_alg = true;
	f->cfg.alloc = NB_ALLOC_RANDOM;
	fix_start(f);
	ep = out_udp(f, H1, 5000, R1, 3478, 0, NULL);
	n = stun_answer(f->pkt, R1, 3478, W1, ep);
	/* the answer is sound before the ALG sees it */
	assert_int_equal(stun_decode(f->pkt + 28, n - 28, &m), 0);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 1, f->out), NB_FORWARD);
	assert_int_equal(nb_parse(f->out->buf, f->out->len, &p), 0);
	assert_true(nb_csum_ok(f->out->buf, &p)); /* the UDP checksum was updated... */
	assert_int_equal(p.ip.dst, H1);
	/* ...FINGERPRINT was not */
	assert_int_equal(stun_decode(f->out->buf + 28, f->out->len - 28, &m), -NC_E_FINGERPRINT);
	assert_int_equal(nb_state_stats(f->s)->alg_rewrites, 1);
	/* Undo the FINGERPRINT check to read the attributes: MAPPED-ADDRESS is the private
	 * endpoint, XOR-MAPPED-ADDRESS still the public one. */
	f->out->buf[f->out->len - 1] ^= 0xff;
	memset(&m, 0, sizeof(m));
	stun_decode(f->out->buf + 28, f->out->len - 28, &m);
	assert_int_equal(m.mapped.port, 5000);
	assert_int_equal(nc_get_n32(m.mapped.ip), H1);
	assert_int_equal(m.xor_mapped.port, ep);
	assert_int_equal(nc_get_n32(m.xor_mapped.ip), W1);

	/* a MAPPED-ADDRESS naming someone else, and non-STUN data, pass untouched */
	n = stun_answer(f->pkt, R1, 3478, W1, ep);
	nc_put_n16(f->pkt + 28 + 20 + 12 + 4 + 2, 1); /* the port inside MAPPED-ADDRESS... */
	nc_put_n16(f->pkt + 26, 0);                   /* (no UDP checksum) */
	assert_int_equal(nb_translate(f->s, f->pkt, n, 2, f->out), NB_FORWARD);
	assert_int_equal(nb_state_stats(f->s)->alg_rewrites, 1);
	assert_int_equal(in_udp(f, R1, 3478, W1, ep, 3), NB_FORWARD);
	assert_int_equal(nb_state_stats(f->s)->alg_rewrites, 1);
	/* the same answer without the ALG keeps its FINGERPRINT */
	fix_free(f);
	f = fix_new();
	f->cfg.alloc = NB_ALLOC_RANDOM;
	fix_start(f);
	ep = out_udp(f, H1, 5000, R1, 3478, 0, NULL);
	n = stun_answer(f->pkt, R1, 3478, W1, ep);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 1, f->out), NB_FORWARD);
	assert_int_equal(stun_decode(f->out->buf + 28, f->out->len - 28, &m), 0);
	assert_int_equal(m.mapped.port, ep);
	fix_free(f);
}

/* Every truncation of a STUN answer through the ALG: no read past the end, checksums kept. */
static void test_stun_alg_truncations(void **st)
{
	uint8_t full[600], b[600];
	struct nb_pkt p;
	size_t n = stun_answer(full, R1, 3478, W1, 4000);

	(void)st;
	for (size_t cut = 28; cut <= n; cut++) {
		memcpy(b, full, n);
		nc_put_n16(b + 2, (uint16_t)cut);      /* IP total length */
		nc_put_n16(b + 24, (uint16_t)(cut - 20)); /* UDP length */
		nc_put_n16(b + 26, 0);
		nb_ip_csum_fix(b, 0, 20);
		assert_int_equal(nb_parse(b, cut, &p), 0);
		assert_true(nb_stun_alg(b, &p, W1, 4000, H1, 5000) <= 1);
		assert_int_equal(nb_stun_alg(b, &p, W1, 4000, H1, 5000), 0); /* already rewritten */
	}
}

static void test_link_blackout(void **st)
{
	struct nb_config c;
	struct nb_link l;

	(void)st;
	nb_config_default(&c);
	memset(&l, 0, sizeof(l));
	assert_true(nb_link_pass(&l, &c, 0)); /* off by default */
	c.blackout_ms = 500;
	c.blackout_idle_ms = 2000;
	memset(&l, 0, sizeof(l));
	assert_false(nb_link_pass(&l, &c, 10000)); /* the first packet wakes the link */
	assert_false(nb_link_pass(&l, &c, 10499));
	assert_true(nb_link_pass(&l, &c, 10500));
	assert_true(nb_link_pass(&l, &c, 12499)); /* 1999 ms of silence: still awake */
	assert_false(nb_link_pass(&l, &c, 14499)); /* 2000 ms: asleep again */
	assert_true(nb_link_pass(&l, &c, 14999));
	assert_int_equal(l.dropped, 3);
}

static void test_random_parity_range(void **st)
{
	struct fix *f = fix_new();

	(void)st;
	f->cfg.mapping = NB_BEH_APD;
	f->cfg.alloc = NB_ALLOC_RANDOM;
	f->cfg.parity_keep = true;
	f->cfg.port_lo = 30000;
	f->cfg.port_hi = 30199;
	fix_start(f);
	for (uint16_t i = 0; i < 100; i++) {
		uint16_t ip = (uint16_t)(6000 + i);
		uint16_t p = out_udp(f, H1, ip, R1, (uint16_t)(1 + i), 0, NULL);
		assert_in_range(p, 30000, 30199);
		assert_int_equal(p & 1, ip & 1);
	}
	/* 100 even + 100 odd ports, 50 + 50 used: 50 more even ones fill the even half */
	for (uint16_t i = 0; i < 50; i++)
		out_udp(f, H1, 7000, R2, (uint16_t)(1 + i), 0, NULL);
	assert_int_equal(nb_translate(f->s, f->pkt, udp(f->pkt, H1, 7000, R2, 999), 0, f->out),
			 NB_DROP);
	assert_int_equal(f->out->reason, NB_R_NO_PORT);
	fix_free(f);
}

static void test_blocks_and_pools(void **st)
{
	struct fix *f = fix_new();
	uint32_t e1, e2, e3;
	uint16_t p;

	(void)st;
	f->cfg.alloc = NB_ALLOC_SEQUENTIAL;
	f->cfg.block_size = 100;
	f->cfg.port_lo = 40000;
	f->cfg.port_hi = 40999;
	f->cfg.wan_ip[f->cfg.n_wan++] = W2;
	fix_start(f);
	p = out_udp(f, H1, 5000, R1, 1, 0, &e1);
	assert_int_equal(p, 40000);
	p = out_udp(f, H2, 5000, R1, 1, 0, &e2);
	assert_int_equal(p, 40100); /* second host, second block */
	p = out_udp(f, H1, 5001, R1, 1, 0, &e3);
	assert_int_equal(p, 40001);
	/* paired pooling: one external address per internal address */
	assert_int_equal(e1, W1);
	assert_int_equal(e2, W2);
	assert_int_equal(e3, W1);
	fix_free(f);

	f = fix_new();
	f->cfg.mapping = NB_BEH_APD;
	f->cfg.pool = NB_POOL_ARBITRARY;
	f->cfg.wan_ip[f->cfg.n_wan++] = W2;
	fix_start(f);
	out_udp(f, H1, 5000, R1, 1, 0, &e1);
	out_udp(f, H1, 5000, R1, 2, 0, &e2);
	assert_int_not_equal(e1, e2); /* one internal endpoint, two external addresses */
	fix_free(f);
}

/* ---- hairpin ------------------------------------------------------------------------- */

static void test_hairpin(void **st)
{
	static const struct {
		enum nb_hairpin hp;
		enum nb_beh filt;
		bool hfilter, prime;
		enum nb_verdict v;
		uint32_t src;
	} cases[] = {
		{NB_HP_EXTERNAL, NB_BEH_EI, true, false, NB_FORWARD, W1},
		{NB_HP_INTERNAL, NB_BEH_EI, true, false, NB_FORWARD, H2},
		{NB_HP_OFF, NB_BEH_EI, true, false, NB_DROP, 0},
		{NB_HP_EXTERNAL, NB_BEH_APD, true, false, NB_DROP, 0},
		{NB_HP_EXTERNAL, NB_BEH_APD, true, true, NB_FORWARD, W1},
		{NB_HP_EXTERNAL, NB_BEH_APD, false, false, NB_FORWARD, W1},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fix *f = fix_new();
		uint16_t m1, m2;
		size_t n;

		f->cfg.hairpin = cases[i].hp;
		f->cfg.filtering = cases[i].filt;
		f->cfg.hairpin_filter = cases[i].hfilter;
		fix_start(f);
		m1 = out_udp(f, H1, 5000, R1, 3478, 0, NULL);
		m2 = out_udp(f, H2, 6000, R1, 3478, 0, NULL);
		if (cases[i].prime && cases[i].hp != NB_HP_OFF) {
			n = udp(f->pkt, H1, 5000, W1, m2);
			nb_translate(f->s, f->pkt, n, 1, f->out); /* H1 -> H2's mapping */
		}
		n = udp(f->pkt, H2, 6000, W1, m1);
		assert_int_equal(nb_translate(f->s, f->pkt, n, 2, f->out), cases[i].v);
		if (cases[i].v == NB_FORWARD) {
			struct seen s = check_out(f->out);
			assert_true(f->out->hairpin);
			assert_int_equal(s.dst, H1);
			assert_int_equal(s.dport, 5000);
			assert_int_equal(s.src, cases[i].src);
			assert_int_equal(s.sport, cases[i].src == W1 ? m2 : 6000);
		}
		fix_free(f);
	}
}

/* ---- lifetime and refresh ------------------------------------------------------------- */

static void test_lifetime_refresh(void **st)
{
	struct fix *f = fix_new();

	(void)st;
	f->cfg.lifetime_s = 3;
	f->cfg.refresh = NB_REFRESH_OUTBOUND;
	fix_start(f);
	out_udp(f, H1, 5000, R1, 3478, 1000, NULL);
	assert_int_equal(in_udp(f, R1, 3478, W1, 5000, 2000), NB_FORWARD);
	assert_int_equal(in_udp(f, R1, 3478, W1, 5000, 3999), NB_FORWARD);
	/* inbound traffic did not refresh: dead 3 s after the last outbound packet */
	assert_int_equal(in_udp(f, R1, 3478, W1, 5000, 4000), NB_DROP);
	assert_int_equal(f->out->reason, NB_R_NO_MAPPING);
	assert_int_equal(nb_count(f->s), 0);
	fix_free(f);

	f = fix_new();
	f->cfg.lifetime_s = 3;
	f->cfg.refresh = NB_REFRESH_BOTH;
	fix_start(f);
	out_udp(f, H1, 5000, R1, 3478, 1000, NULL);
	assert_int_equal(in_udp(f, R1, 3478, W1, 5000, 3500), NB_FORWARD);
	assert_int_equal(in_udp(f, R1, 3478, W1, 5000, 6000), NB_FORWARD);
	assert_int_equal(nb_expire(f->s, 8999), 0);
	assert_int_equal(nb_expire(f->s, 9000), 1);
	assert_int_equal(in_udp(f, R1, 3478, W1, 5000, 9001), NB_DROP);
	fix_free(f);
}

/* ---- unsolicited answers, ICMP, TCP ------------------------------------------------- */

static void test_unsolicited(void **st)
{
	struct fix *f = fix_new();
	struct nb_pkt p;
	size_t n;

	(void)st;
	f->cfg.unsolicited = NB_UNSOL_ICMP;
	fix_start(f);
	assert_int_equal(in_udp(f, R1, 3478, W1, 5000, 0), NB_REPLY);
	assert_int_equal(nb_parse(f->out->buf, f->out->len, &p), 0);
	assert_true(nb_csum_ok(f->out->buf, &p));
	assert_int_equal(p.ip.src, W1);
	assert_int_equal(p.ip.dst, R1);
	assert_int_equal(p.l4.icmp_type, NB_ICMP_UNREACH);
	assert_int_equal(p.l4.icmp_code, 3);
	assert_true(p.icmp_error);
	assert_int_equal(p.in_l4.dport, 5000);
	fix_free(f);

	f = fix_new();
	f->cfg.unsolicited = NB_UNSOL_RST;
	fix_start(f);
	n = tcp(f->pkt, R1, 4444, W1, 80, NB_TH_SYN, 1000, 0);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 0, f->out), NB_REPLY);
	assert_int_equal(nb_parse(f->out->buf, f->out->len, &p), 0);
	assert_true(nb_csum_ok(f->out->buf, &p));
	assert_int_equal(p.l4.tcp_flags, NB_TH_RST | NB_TH_ACK);
	assert_int_equal(p.l4.tcp_ack, 1001);
	assert_int_equal(p.l4.dport, 4444);
	/* a RST is never answered */
	n = tcp(f->pkt, R1, 4444, W1, 80, NB_TH_RST, 1000, 0);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 0, f->out), NB_DROP);
	fix_free(f);
}

static void test_icmp_error_and_echo(void **st)
{
	struct fix *f = fix_new();
	uint8_t orig[256];
	struct nb_pkt p;
	size_t n;
	uint16_t e;

	(void)st;
	fix_start(f);
	e = out_udp(f, H1, 5000, R1, 3478, 0, NULL);
	memcpy(orig, f->out->buf, f->out->len); /* the translated datagram, as R1 saw it */
	n = icmp_err(f->pkt, IP(198, 18, 9, 9), W1, orig);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 1, f->out), NB_FORWARD);
	assert_int_equal(nb_parse(f->out->buf, f->out->len, &p), 0);
	assert_true(nb_csum_ok(f->out->buf, &p));
	assert_int_equal(p.ip.dst, H1);
	assert_int_equal(p.in_ip.src, H1);
	assert_int_equal(p.in_l4.sport, 5000);
	assert_int_equal(nc_csum_fold(nc_csum_add(0, f->out->buf + p.in_ip.off, 20)), 0);
	(void)e;

	/* echo: identifier mapped like a port */
	n = echo(f->pkt, H1, R1, NB_ICMP_ECHO, 77);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 2, f->out), NB_FORWARD);
	assert_int_equal(nb_parse(f->out->buf, f->out->len, &p), 0);
	assert_true(nb_csum_ok(f->out->buf, &p));
	e = p.l4.icmp_id;
	n = echo(f->pkt, R1, W1, NB_ICMP_ECHOREPLY, e);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 3, f->out), NB_FORWARD);
	assert_int_equal(nb_parse(f->out->buf, f->out->len, &p), 0);
	assert_true(nb_csum_ok(f->out->buf, &p));
	assert_int_equal(p.l4.icmp_id, 77);
	assert_int_equal(p.ip.dst, H1);
	/* pings to the WAN address are answered */
	n = echo(f->pkt, R1, W1, NB_ICMP_ECHO, 9);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 4, f->out), NB_REPLY);
	fix_free(f);
}

static void test_tcp_and_zero_udp_csum(void **st)
{
	struct fix *f = fix_new();
	struct nb_mapping_info mi;
	size_t n;

	(void)st;
	f->cfg.tcp_trans_s = 5;
	f->cfg.tcp_est_s = 100;
	fix_start(f);
	n = tcp(f->pkt, H1, 5000, R1, 80, NB_TH_SYN, 1, 0);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 0, f->out), NB_FORWARD);
	check_out(f->out);
	assert_true(nb_mapping_get(f->s, 0, &mi));
	assert_int_equal(mi.expires_ms, 5000); /* transitory */
	n = tcp(f->pkt, R1, 80, W1, 5000, NB_TH_SYN | NB_TH_ACK, 9, 2);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 10, f->out), NB_FORWARD);
	assert_int_equal(check_out(f->out).dst, H1);
	assert_true(nb_mapping_get(f->s, 0, &mi));
	assert_int_equal(mi.expires_ms, 100010); /* established */
	fix_free(f);

	/* UDP without checksum keeps it zero */
	f = fix_new();
	fix_start(f);
	n = udp(f->pkt, H1, 5000, R1, 3478);
	nc_put_n16(f->pkt + 26, 0);
	assert_int_equal(nb_translate(f->s, f->pkt, n, 0, f->out), NB_FORWARD);
	assert_int_equal(nc_get_n16(f->out->buf + 26), 0);
	fix_free(f);
}

static void test_garbage_through_translator(void **st)
{
	struct fix *f = fix_new();
	uint8_t b[256];
	size_t n;

	(void)st;
	fix_start(f);
	n = udp(b, H1, 5000, R1, 3478);
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(nb_translate(f->s, b, k, 0, f->out), NB_DROP);
		assert_int_equal(nb_translate_in(f->s, b, k, 0, f->out), NB_DROP);
		assert_int_equal(nb_translate_out(f->s, b, k, 0, f->out), NB_DROP);
	}
	assert_int_equal(nb_count(f->s), 0); /* bad input changed nothing */
	fix_free(f);
}

/* ---- impairment, CLI, --from-result -------------------------------------------------- */

static void test_delay_queue(void **st)
{
	struct nb_delayq *q = nb_delayq_new(4);
	uint8_t buf[16];
	struct fix *f = fix_new();
	uint64_t due;
	int lost = 0;

	(void)st;
	assert_int_equal(nb_delayq_push(q, 30, (const uint8_t *)"c", 1), 0);
	assert_int_equal(nb_delayq_push(q, 10, (const uint8_t *)"a", 1), 0);
	assert_int_equal(nb_delayq_push(q, 20, (const uint8_t *)"b", 1), 0);
	assert_int_equal(nb_delayq_push(q, 10, (const uint8_t *)"A", 1), 0);
	assert_int_equal(nb_delayq_push(q, 5, (const uint8_t *)"x", 1), -NC_E_NOSPACE);
	assert_int_equal(nb_delayq_next(q), 10);
	assert_int_equal(nb_delayq_pop(q, 9, buf, sizeof(buf)), 0);
	assert_int_equal(nb_delayq_pop(q, 100, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'a');
	assert_int_equal(nb_delayq_pop(q, 100, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'A'); /* same due time: arrival order */
	assert_int_equal(nb_delayq_pop(q, 100, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'b');
	assert_int_equal(nb_delayq_pop(q, 100, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'c');
	assert_int_equal(nb_delayq_next(q), UINT64_MAX);
	nb_delayq_free(q);

	f->cfg.loss_ppm = 250000;
	f->cfg.delay_ms = 100;
	f->cfg.jitter_ms = 20;
	fix_start(f);
	for (int i = 0; i < 10000; i++) {
		if (!nb_impair(f->s, 1000, &due)) {
			lost++;
			continue;
		}
		assert_in_range(due, 1080, 1120);
	}
	assert_in_range(lost, 2200, 2800);
	fix_free(f);
}

static int parse_args(struct nb_opts *o, char *err, size_t errlen, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)"natbox";
	va_start(ap, errlen);
	for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	return nb_cli_parse(argc, argv, o, err, errlen);
}

static void test_cli(void **st)
{
	struct nb_opts *o = malloc(sizeof(*o));
	char err[256];

	(void)st;
	assert_int_equal(parse_args(o, err, sizeof(err), "--mapping", "apd", "--filtering=ad",
				    "--alloc", "sequential", "--delta", "-2", "--port-range",
				    "2000-2999", "--loss", "12.5", "--wan-ip", "198.18.0.1",
				    "--lan-net", "10.1.2.0/24", "--hairpin", "internal", "-v",
				    NULL),
			 NB_CLI_RUN);
	assert_int_equal(o->cfg.mapping, NB_BEH_APD);
	assert_int_equal(o->cfg.filtering, NB_BEH_AD);
	assert_int_equal(o->cfg.delta, -2);
	assert_int_equal(o->cfg.port_lo, 2000);
	assert_int_equal(o->cfg.loss_ppm, 125000);
	assert_int_equal(o->cfg.wan_ip[0], IP(198, 18, 0, 1));
	assert_int_equal(o->cfg.lan[0].net, IP(10, 1, 2, 0));
	assert_int_equal(o->cfg.lan[0].mask, 0xffffff00u);
	assert_int_equal(o->cfg.hairpin, NB_HP_INTERNAL);
	assert_int_equal(o->verbose, 1);
	assert_true(parse_args(o, err, sizeof(err), "--mapping", "full", NULL) < 0);
	assert_non_null(strstr(err, "\"full\""));
	assert_true(parse_args(o, err, sizeof(err), "--port-range", "5-4", NULL) < 0);
	assert_true(parse_args(o, err, sizeof(err), "--lifetime", "3x", NULL) < 0);
	assert_true(parse_args(o, err, sizeof(err), "--lifetime", "-3", NULL) < 0);
	assert_true(parse_args(o, err, sizeof(err), "--loss", "101", NULL) < 0);
	assert_true(parse_args(o, err, sizeof(err), "--wan-ip", "::1", NULL) < 0);
	assert_true(parse_args(o, err, sizeof(err), "--bogus", "1", NULL) < 0);
	assert_true(parse_args(o, err, sizeof(err), "--lifetime", NULL) < 0);
	assert_int_equal(parse_args(o, err, sizeof(err), "--stun-alg", "mapped", "--alloc",
				    "first-fit", "--remap-after", "3", "--blackout", "500",
				    "--blackout-idle", "1500", NULL),
			 NB_CLI_RUN);
	assert_true(o->cfg.stun_alg);
	assert_int_equal(o->cfg.alloc, NB_ALLOC_FIRST_FIT);
	assert_int_equal(o->cfg.remap_s, 3);
	assert_int_equal(o->cfg.blackout_ms, 500);
	assert_int_equal(o->cfg.blackout_idle_ms, 1500);
	assert_true(parse_args(o, err, sizeof(err), "--stun-alg", "xor", NULL) < 0);
	assert_non_null(strstr(err, "\"xor\""));
	assert_true(parse_args(o, err, sizeof(err), "--blackout-idle", "0", NULL) < 0);
	assert_true(parse_args(o, err, sizeof(err), "--remap-after", "-1", NULL) < 0);
	free(o);
}

static void test_from_result(void **st)
{
	struct nc_result *r = malloc(sizeof(*r));
	struct nb_opts *o = malloc(sizeof(*o));
	struct nb_config c;
	char log[1024], err[256], path[] = "/tmp/test_natbox_result.XXXXXX";
	char *json;
	FILE *f;
	int fd;

	(void)st;
	nc_result_init(r);
	nb_config_default(&c);
	nb_config_from_result(&c, r, log, sizeof(log));
	assert_string_equal(log, ""); /* unknown fields leave the defaults */
	r->udp.mapping = NC_BEH_APD;
	r->udp.filtering = NC_BEH_AD;
	r->udp.alloc.pattern = NC_ALLOC_SEQUENTIAL;
	r->udp.alloc.delta = 2;
	r->udp.alloc.parity = NC_TRI_YES;
	r->udp.pooling = NC_POOL_ARBITRARY;
	r->udp.hairpin = NC_TRI_YES;
	r->udp.hairpin_src = NC_HP_INTERNAL;
	r->udp.lifetime_s = 30;
	r->udp.inbound_refresh = NC_TRI_NO;
	nb_config_from_result(&c, r, log, sizeof(log));
	assert_int_equal(c.mapping, NB_BEH_APD);
	assert_int_equal(c.filtering, NB_BEH_AD);
	assert_int_equal(c.alloc, NB_ALLOC_SEQUENTIAL);
	assert_int_equal(c.delta, 2);
	assert_true(c.parity_keep);
	assert_int_equal(c.pool, NB_POOL_ARBITRARY);
	assert_int_equal(c.hairpin, NB_HP_INTERNAL);
	assert_int_equal(c.lifetime_s, 30);
	assert_int_equal(c.refresh, NB_REFRESH_OUTBOUND);
	assert_non_null(strstr(log, "mapping=apd (udp.mapping)"));

	/* through a file and the CLI, where explicit flags win */
	json = nc_result_to_json(r, true);
	assert_non_null(json);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(json, f);
	fclose(f);
	free(json);
	assert_int_equal(parse_args(o, err, sizeof(err), "--lifetime", "7", "--from-result", path,
				    NULL),
			 NB_CLI_RUN);
	assert_int_equal(o->cfg.mapping, NB_BEH_APD);
	assert_int_equal(o->cfg.lifetime_s, 7);
	assert_int_equal(o->cfg.delta, 2);
	f = fopen(path, "w");
	fputs("{\"schema\": \"nope\"}", f);
	fclose(f);
	assert_true(parse_args(o, err, sizeof(err), "--from-result", path, NULL) < 0);
	unlink(path);
	free(o);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_every_truncation),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_eim_eif),
		cmocka_unit_test(test_adf_apdf),
		cmocka_unit_test(test_adm_apdm),
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_preserve_collision_overload),
		cmocka_unit_test(test_first_fit_overloads),
		cmocka_unit_test(test_remap),
		cmocka_unit_test(test_stun_alg),
		cmocka_unit_test(test_stun_alg_truncations),
		cmocka_unit_test(test_link_blackout),
		cmocka_unit_test(test_random_parity_range),
		cmocka_unit_test(test_blocks_and_pools),
		cmocka_unit_test(test_hairpin),
		cmocka_unit_test(test_lifetime_refresh),
		cmocka_unit_test(test_unsolicited),
		cmocka_unit_test(test_icmp_error_and_echo),
		cmocka_unit_test(test_tcp_and_zero_udp_csum),
		cmocka_unit_test(test_garbage_through_translator),
		cmocka_unit_test(test_delay_queue),
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_from_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
