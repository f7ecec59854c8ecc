/* Bounds-checked cursors over byte buffers, for every wire format in the suite.
 *
 * A reader never reads past its end: each read checks `len - off < n` first and, on a short
 * buffer, sets the sticky `err` flag, returns zero and leaves `off` where it was. Callers read a
 * whole structure and test `err` once. Names carry the byte order: n16/n32 are network order.
 * Writers are the mirror image: a write that does not fit sets `err` and writes nothing. */
#ifndef NC_CURSOR_H
#define NC_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct nc_rd {
	const uint8_t *buf;
	size_t len;
	size_t off;
	bool err;
};

struct nc_wr {
	uint8_t *buf;
	size_t cap;
	size_t off;
	bool err;
};

static inline void nc_rd_init(struct nc_rd *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->off = 0;
	r->err = false;
}

static inline size_t nc_rd_left(const struct nc_rd *r)
{
	return r->len - r->off;
}

/* Returns a pointer to the next n bytes and advances, or NULL (and sets err) if short. */
static inline const uint8_t *nc_rd_ptr(struct nc_rd *r, size_t n)
{
	const uint8_t *p;

	if (r->err || r->len - r->off < n) {
		r->err = true;
		return NULL;
	}
	p = r->buf + r->off;
	r->off += n;
	return p;
}

static inline uint8_t nc_rd_u8(struct nc_rd *r)
{
	const uint8_t *p = nc_rd_ptr(r, 1);
	return p ? p[0] : 0;
}

static inline uint16_t nc_rd_n16(struct nc_rd *r)
{
	const uint8_t *p = nc_rd_ptr(r, 2);
	return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

static inline uint32_t nc_rd_n32(struct nc_rd *r)
{
	const uint8_t *p = nc_rd_ptr(r, 4);
	return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3] : 0;
}

static inline void nc_rd_bytes(struct nc_rd *r, void *dst, size_t n)
{
	const uint8_t *p = nc_rd_ptr(r, n);
	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

static inline void nc_rd_skip(struct nc_rd *r, size_t n)
{
	(void)nc_rd_ptr(r, n);
}

/* A sub-reader over the next n bytes (advancing this one past them). */
static inline struct nc_rd nc_rd_sub(struct nc_rd *r, size_t n)
{
	struct nc_rd sub;
	const uint8_t *p = nc_rd_ptr(r, n);

	nc_rd_init(&sub, p, p ? n : 0);
	sub.err = (p == NULL);
	return sub;
}

static inline void nc_wr_init(struct nc_wr *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->off = 0;
	w->err = false;
}

/* Reserves n bytes and returns them, or NULL (and sets err) if they do not fit. */
static inline uint8_t *nc_wr_ptr(struct nc_wr *w, size_t n)
{
	uint8_t *p;

	if (w->err || w->cap - w->off < n) {
		w->err = true;
		return NULL;
	}
	p = w->buf + w->off;
	w->off += n;
	return p;
}

static inline void nc_wr_u8(struct nc_wr *w, uint8_t v)
{
	uint8_t *p = nc_wr_ptr(w, 1);
	if (p)
		p[0] = v;
}

static inline void nc_put_n16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void nc_put_n32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t nc_get_n16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t nc_get_n32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void nc_wr_n16(struct nc_wr *w, uint16_t v)
{
	uint8_t *p = nc_wr_ptr(w, 2);
	if (p)
		nc_put_n16(p, v);
}

static inline void nc_wr_n32(struct nc_wr *w, uint32_t v)
{
	uint8_t *p = nc_wr_ptr(w, 4);
	if (p)
		nc_put_n32(p, v);
}

static inline void nc_wr_bytes(struct nc_wr *w, const void *src, size_t n)
{
	uint8_t *p = nc_wr_ptr(w, n);
	if (p && n)
		memcpy(p, src, n);
}

static inline void nc_wr_zero(struct nc_wr *w, size_t n)
{
	uint8_t *p = nc_wr_ptr(w, n);
	if (p && n)
		memset(p, 0, n);
}

#endif
