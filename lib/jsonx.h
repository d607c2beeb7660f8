/*
 * jsonx.h - bounded JSON parsing on top of jansson: a depth limit checked
 * before jansson sees the text, raw NUL bytes and duplicate keys refused,
 * UTF-8 validated.  Every JSON text the programs read goes through
 * cl_json_parse.
 */
#ifndef CL_JSONX_H
#define CL_JSONX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Parse LEN bytes; on failure WHY (may be NULL) holds a short reason. */
json_t *cl_json_parse(const char *text, size_t len, int max_depth, char *why, size_t whylen);

/* 1 when the LEN bytes of S (valid UTF-8) hold no NUL and no C0 or C1
 * control character (U+0000..U+001F, U+007F, U+0080..U+009F). */
int cl_text_ok(const char *s, size_t len);

/* A JSON integer in [0, 2^63) as uint64, or -1 when absent or of another type. */
int cl_json_u64(const json_t *v, uint64_t *out);

#endif
