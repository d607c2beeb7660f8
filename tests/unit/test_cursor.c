/*
 * test_cursor.c - lib/cursor.h's LEB128 integers (the undo journal's span
 * offsets and lengths): every encoding below is written out by hand from
 * the LEB128 rule (7 bits a byte, low first, the high bit set on all but
 * the last), never produced by the code under test; truncated, overlong
 * and wider than 64 bits input sets `bad`; cl_cur_varint_min (the key
 * volume's) also refuses overlong encodings.
 */
#include <stdint.h>
#include <string.h>

#include "cursor.h"
#include "testutil.h"

static const struct {
	uint64_t v;
	uint8_t n, b[10];
} cases[] = {
	{0, 1, {0x00}},
	{1, 1, {0x01}},
	{127, 1, {0x7f}},
	{128, 2, {0x80, 0x01}},
	{300, 2, {0xac, 0x02}},
	{16383, 2, {0xff, 0x7f}},
	{16384, 3, {0x80, 0x80, 0x01}},
	{624485, 3, {0xe5, 0x8e, 0x26}},
	{UINT32_MAX, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
	{UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[12];
		unsigned n = cl_put_varint(buf, cases[i].v);
		CHECK(n == cases[i].n && !memcmp(buf, cases[i].b, n), "put %llu: %u bytes",
		      (unsigned long long)cases[i].v, n);
		/* read back from the hand-written bytes, followed by a sentinel it must not consume */
		memcpy(buf, cases[i].b, cases[i].n);
		buf[cases[i].n] = 0x55;
		struct cl_cursor c = {buf, (size_t)cases[i].n + 1, 0};
		uint64_t v = cl_cur_varint(&c);
		CHECK(!c.bad && v == cases[i].v && c.left == 1 && *c.p == 0x55, "read %llu: got %llu, %zu left",
		      (unsigned long long)cases[i].v, (unsigned long long)v, c.left);
		/* every case is minimal: the strict reader takes it too */
		c = (struct cl_cursor){buf, (size_t)cases[i].n + 1, 0};
		v = cl_cur_varint_min(&c);
		CHECK(!c.bad && v == cases[i].v && c.left == 1, "read minimal %llu: got %llu",
		      (unsigned long long)cases[i].v, (unsigned long long)v);
		/* the same bytes cut short by one */
		c = (struct cl_cursor){cases[i].b, (size_t)cases[i].n - 1, 0};
		v = cl_cur_varint(&c);
		CHECK(c.bad && v == 0, "truncated %llu: bad %d, value %llu", (unsigned long long)cases[i].v, c.bad,
		      (unsigned long long)v);
	}
	/* eleven bytes (more than 64 bits can need) are refused */
	uint8_t over[11];
	memset(over, 0x80, sizeof(over) - 1);
	over[10] = 0x00;
	struct cl_cursor c = {over, sizeof(over), 0};
	CHECK(cl_cur_varint(&c) == 0 && c.bad, "an 11-byte integer was accepted");
	/* ten bytes whose last carries bits past the 64th */
	uint8_t wide[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	c = (struct cl_cursor){wide, sizeof(wide), 0};
	CHECK(cl_cur_varint(&c) == 0 && c.bad, "a 65-bit integer was accepted");
	/* overlong encodings (key volume v3): accepted by the lenient reader, refused by the strict one */
	static const struct {
		uint8_t n, b[10];
	} overlong[] = {
		{2, {0x80, 0x00}},
		{2, {0x81, 0x00}},
		{3, {0xac, 0x82, 0x00}},
		{10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}},
	};
	for (size_t i = 0; i < sizeof(overlong) / sizeof(overlong[0]); i++) {
		c = (struct cl_cursor){overlong[i].b, overlong[i].n, 0};
		(void)cl_cur_varint(&c);
		CHECK(!c.bad && !c.left, "overlong case %zu: the lenient reader refused it", i);
		c = (struct cl_cursor){overlong[i].b, overlong[i].n, 0};
		CHECK(cl_cur_varint_min(&c) == 0 && c.bad, "overlong case %zu was accepted", i);
	}
	c = (struct cl_cursor){wide, sizeof(wide), 0};
	CHECK(cl_cur_varint_min(&c) == 0 && c.bad, "a 65-bit integer was accepted by the strict reader");
	/* once bad, a cursor reads nothing more */
	uint8_t one = 0x05;
	c = (struct cl_cursor){&one, 1, 1};
	CHECK(cl_cur_varint(&c) == 0 && c.bad && c.left == 1, "a bad cursor went on reading");
	return test_end("test_cursor");
}
