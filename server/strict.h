/*
 * strict.h - the request head checks corelockerd adds to libmicrohttpd's
 * parser (RFC 9112 / RFC 9110): framing headers that could be read two ways
 * (request smuggling), malformed header names and values, Host, and the
 * request target, which is routed as sent (see docs/api.md, "HTTP").
 *
 * Each check returns NULL when the head is acceptable, else a short reason
 * (a static string) for the 400 answer.
 */
#ifndef SRV_STRICT_H
#define SRV_STRICT_H

#include <microhttpd.h>
#include <stddef.h>

/* Headers of the request on C; VERSION as libmicrohttpd passed it. */
const char *strict_headers(struct MHD_Connection *c, const char *version);

/* The raw request target TARGET (path and query, as sent): no space or
 * control byte, no bad %-escape, no escaped '/', '\\' or control byte in
 * the path.  URL and VERSION are the pointers libmicrohttpd passed to the
 * handler: in 0.9.75 both point into the request line, and their distance
 * tells a NUL inside the target, which C strings hide. */
const char *strict_target(const char *target, const char *url, const char *version);

/* Query parameters, decoded by libmicrohttpd each on its own: no NUL or
 * control byte. */
const char *strict_query(struct MHD_Connection *c);

/* Percent-decode one path segment in place (strict_target has vetted it). */
void strict_decode_segment(char *seg);

#endif
