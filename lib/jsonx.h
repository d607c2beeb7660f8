/*
 * jsonx.h - bounded JSON parsing on top of jansson: a depth limit checked
 * before jansson sees the text, duplicate keys refused, UTF-8 validated.
 */
#ifndef CL_JSONX_H
#define CL_JSONX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Parse LEN bytes; on failure *why holds a short reason (static or in buf). */
json_t *cl_json_parse(const char *text, size_t len, int max_depth, char *why, size_t whylen);

/* A JSON integer in [0, 2^63) as uint64, or -1 when absent or of another type. */
int cl_json_u64(const json_t *v, uint64_t *out);

#endif
