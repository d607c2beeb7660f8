/* util.h - times (RFC 3339 UTC), names, random secrets. */
#ifndef SRV_UTIL_H
#define SRV_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "timefmt.h"

int64_t now_s(void);
/* Times are lib/timefmt.h's cl_time_parse and cl_time_fmt. */
/* A time as a JSON string, or null when HAS is 0. */
json_t *json_time(int64_t t, int has);

/* 1..MAX characters of [A-Za-z0-9._+-], not starting with '.' or '-'. */
int name_ok(const char *s, size_t max);
/* UTF-8 without C0 or C1 control characters (lib/jsonx.h cl_text_ok). */
int text_ok(const char *s);
/* A path segment or query value that is an id (digits, fits int64): the id, else -1. */
int64_t parse_id(const char *s);

/* PREFIX followed by NBYTES random bytes in hex; OUT holds strlen(PREFIX) + 2 NBYTES + 1. */
int random_secret(const char *prefix, size_t nbytes, char *out);

#endif
