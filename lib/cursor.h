/*
 * cursor.h - a bounded little-endian reader over untrusted bytes.  Reads past
 * the end return zeros and set `bad`, so a parser checks once, at the end of
 * a step, instead of after every field.
 */
#ifndef CL_CURSOR_H
#define CL_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct cl_cursor {
	const uint8_t *p;
	size_t left;
	int bad;
};

static inline const uint8_t *cl_cur_take(struct cl_cursor *c, size_t n)
{
	const uint8_t *p = c->p;
	if (c->bad || n > c->left) {
		c->bad = 1;
		return NULL;
	}
	c->p += n;
	c->left -= n;
	return p;
}

static inline uint64_t cl_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* An N-byte (1..8) little-endian integer, or 0 with `bad` set. */
static inline uint64_t cl_cur_uint(struct cl_cursor *c, unsigned n)
{
	const uint8_t *p = cl_cur_take(c, n);
	return p ? cl_le(p, n) : 0;
}

static inline void cl_put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* An unsigned LEB128 integer of at most 64 bits (10 bytes), or 0 with `bad` set. */
static inline uint64_t cl_cur_varint(struct cl_cursor *c)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		const uint8_t *p = cl_cur_take(c, 1);
		if (!p)
			return 0;
		if (shift == 63 && *p > 1) /* bits past the 64th */
			break;
		v |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	c->bad = 1;
	return 0;
}

/*
 * cl_cur_varint() that also refuses an overlong encoding (a last byte of 0
 * after the first): each value has one encoding, so a parse rebuilt gives
 * the same bytes.
 */
static inline uint64_t cl_cur_varint_min(struct cl_cursor *c)
{
	const uint8_t *start = c->p;
	uint64_t v = cl_cur_varint(c);

	if (!c->bad && c->p - start > 1 && c->p[-1] == 0)
		c->bad = 1;
	return c->bad ? 0 : v;
}

/* Write V as unsigned LEB128 at P (room for 10 bytes); the bytes used. */
static inline unsigned cl_put_varint(uint8_t *p, uint64_t v)
{
	unsigned n = 0;
	for (; v >= 0x80; v >>= 7)
		p[n++] = (uint8_t)(v | 0x80);
	p[n++] = (uint8_t)v;
	return n;
}

#endif
