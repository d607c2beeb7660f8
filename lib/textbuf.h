/*
 * textbuf.h - a growing, always NUL-terminated byte buffer: the HTTP bodies
 * that the server collects and the client receives in memory.
 */
#ifndef CL_TEXTBUF_H
#define CL_TEXTBUF_H

#include <stddef.h>

/* Append N bytes of P to *BUF (LEN used, CAP allocated; all zero at first),
 * doubling from MIN_CAP as needed, and keep a NUL after them.  0, or -1 when
 * out of memory (the buffer is then unchanged). */
int cl_textbuf_append(char **buf, size_t *len, size_t *cap, size_t min_cap, const void *p, size_t n);

#endif
