/* textbuf.c - a growing, always NUL-terminated byte buffer. */
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"

int cl_textbuf_append(char **buf, size_t *len, size_t *cap, size_t min_cap, const void *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : min_cap;
		while (c < *len + n + 1)
			c *= 2;
		char *b = realloc(*buf, c);
		if (!b)
			return -1;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = 0;
	return 0;
}
