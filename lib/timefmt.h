/*
 * timefmt.h - the one RFC 3339 parser and formatter, used by the daemon, the
 * agent and the library.  Times are seconds since the Unix epoch, bounded to
 * [1970-01-01T00:00:00Z, 9999-12-31T23:59:59Z] after the offset is applied,
 * so that every time we accept can also be formatted back in four digits.
 */
#ifndef CL_TIMEFMT_H
#define CL_TIMEFMT_H

#include <stdint.h>

#define CL_TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define CL_TIME_LEN 21                    /* "YYYY-MM-DDTHH:MM:SSZ" and its NUL */

/*
 * YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), 'T' and 'Z' in either case.
 * The fraction is dropped; a leap second (:60) counts as :59 of the same
 * minute.  The seconds, or -1 for anything else or a result out of bounds.
 */
int64_t cl_time_parse(const char *s);

/* T as "YYYY-MM-DDTHH:MM:SSZ" in OUT (CL_TIME_LEN bytes); 0, or -1 when T is
 * out of bounds (OUT then holds the nearest bound). */
int cl_time_fmt(int64_t t, char *out);

#endif
