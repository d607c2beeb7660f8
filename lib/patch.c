/* patch.c - copy with patches, chunk by chunk. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "patch.h"

#define CHUNK (4u << 20)

int cl_patch_stream(const uint8_t *src, uint64_t size, cl_span_next next, void *ctx,
		    struct cl_out *o)
{
	uint8_t *buf = malloc(CHUNK);
	struct cl_span s;
	int have = next(ctx, &s), r = 0;
	uint64_t last_end = 0;

	if (!buf)
		return cl_fail(CL_ENOMEM, "out of memory");
	for (uint64_t pos = 0; pos < size && r == 0; pos += CHUNK) {
		uint64_t end = size - pos < CHUNK ? size : pos + CHUNK;
		if (!have || s.off >= end) { /* untouched: write straight from the map */
			r = cl_out_write(o, src + pos, (size_t)(end - pos));
			continue;
		}
		memcpy(buf, src + pos, (size_t)(end - pos));
		while (have && s.off < end) {
			if (s.off < last_end || s.len > size - s.off) {
				r = cl_fail(CL_EINVAL, "patch span at offset %llu is out of order or out of range",
					    (unsigned long long)s.off);
				break;
			}
			uint64_t a = s.off, b = s.off + s.len < end ? s.off + s.len : end;
			if (s.src)
				memcpy(buf + (a - pos), s.src, (size_t)(b - a));
			else
				memset(buf + (a - pos), 0, (size_t)(b - a));
			if (b < s.off + s.len) { /* continues in the next chunk */
				if (s.src)
					s.src += b - a;
				s.len -= b - a;
				s.off = b;
				break;
			}
			last_end = s.off + s.len;
			have = next(ctx, &s);
		}
		if (r == 0)
			r = cl_out_write(o, buf, (size_t)(end - pos));
	}
	if (r == 0 && have)
		r = cl_fail(CL_EINVAL, "patch span at offset %llu lies beyond the file (%llu bytes)",
			    (unsigned long long)s.off, (unsigned long long)size);
	free(buf);
	return r;
}
