/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors header parser.
 *
 * It calls cl_fuzz_safetensors(), the public entry point, and then, for an
 * input the parser accepts, checks with an independent oracle that the file
 * really is well formed (docs: DESIGN.md section 3): a bounded header that is
 * valid UTF-8 and starts with '{', known dtypes, shapes whose byte size
 * matches data_offsets, and tensors that tile the data section exactly.  An
 * accepted malformed file aborts, like a crash.  Every tensor byte is read,
 * so that a wrong data pointer shows under AddressSanitizer.
 *
 * Built two ways (tests/fuzz/Makefile.inc): with libFuzzer (fuzz_safetensors)
 * and with tests/fuzz/replay.c, which replays the corpus in `make check`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corelocker.h"
#include "dtype.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "fuzz_safetensors: accepted input breaks '%s' (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                                  \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if (n - i < len)
			return 0;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static int json_depth(const json_t *v)
{
	int d = 0;
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			int e = json_depth(x);
			d = e > d ? e : d;
		}
		return d + 1;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			int e = json_depth(x);
			d = e > d ? e : d;
		}
		return d + 1;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void oracle(const uint8_t *buf, size_t size, const struct cl_st *st)
{
	uint64_t hlen = 0, data_size, pos = 0;
	volatile uint8_t sink = 0;
	const char **names;

	CHECK(size >= 8);
	for (int b = 7; b >= 0; b--)
		hlen = hlen << 8 | buf[b];
	CHECK(hlen <= CL_MAX_HEADER);
	CHECK(hlen <= size - 8);
	CHECK(hlen >= 2 && buf[8] == '{');
	CHECK(utf8_valid(buf + 8, hlen));
	CHECK(memchr(buf + 8, 0, hlen) == NULL);
	CHECK(st->header_len == hlen);
	CHECK(json_is_object(st->header));
	CHECK(json_depth(st->header) <= 3);
	data_size = size - 8 - hlen;
	CHECK(json_object_size(st->header) == st->n + (st->metadata != NULL));
	if (st->metadata) {
		const char *k;
		json_t *v;
		CHECK(json_object_get(st->header, "__metadata__") == st->metadata);
		CHECK(json_is_object(st->metadata));
		json_object_foreach(st->metadata, k, v)
			CHECK(json_is_string(v));
	} else {
		CHECK(json_object_get(st->header, "__metadata__") == NULL);
	}
	names = calloc(st->n + 1, sizeof(*names));
	CHECK(names != NULL);
	for (size_t i = 0; i < st->n; i++) {
		const struct cl_tensor *t = &st->t[i];
		const struct cl_dtype *dt = cl_dtype_get(t->dtype);
		json_t *e = json_object_get(st->header, t->name);
		uint64_t nelem = 1;

		CHECK(t->name && strcmp(t->name, "__metadata__") != 0);
		CHECK(json_is_object(e) && json_object_size(e) == 3);
		CHECK(strcmp(json_string_value(json_object_get(e, "dtype")), dt->name) == 0);
		CHECK(json_array_size(json_object_get(e, "shape")) == t->ndim && t->ndim <= CL_MAX_NDIM);
		for (unsigned d = 0; d < t->ndim; d++) {
			CHECK((uint64_t)json_integer_value(json_array_get(json_object_get(e, "shape"), d)) ==
			      t->shape[d]);
			CHECK(!__builtin_mul_overflow(nelem, t->shape[d], &nelem));
		}
		CHECK(nelem == t->nelem);
		CHECK(t->begin <= t->end && t->end <= data_size);
		CHECK(t->nelem <= UINT64_MAX / dt->size && t->nelem * dt->size == t->end - t->begin);
		/* offset order, and an exact tiling of [0, data_size) */
		CHECK(t->begin == pos);
		pos = t->end;
		CHECK(t->file_off == 8 + hlen + t->begin);
		CHECK(t->data == buf + t->file_off);
		for (uint64_t j = 0; j < t->end - t->begin; j++)
			sink ^= t->data[j];
		if (dt->lockable && t->nelem)
			(void)cl_dtype_l1(t->dtype, t->data, t->nelem > 4096 ? 4096 : t->nelem);
		names[i] = t->name;
	}
	CHECK(pos == data_size);
	qsort(names, st->n, sizeof(*names), by_name);
	for (size_t i = 1; i < st->n; i++)
		CHECK(strcmp(names[i - 1], names[i]) != 0);
	free(names);
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_st st;
	int api = cl_fuzz_safetensors(data, size);
	int r = cl_st_parse(data, size, 0, &st);

	CHECK((api == 0) == (r == 0));
	if (r == 0) {
		oracle(data, size, &st);
		cl_st_free(&st);
	} else {
		CHECK(*cl_errmsg() != 0); /* every refusal says why */
	}
	return 0;
}
