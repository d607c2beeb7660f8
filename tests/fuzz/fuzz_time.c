/*
 * fuzz_time.c - libFuzzer target for the time parser,
 * int64_t cl_time_parse(const char *s): an RFC 3339 time as seconds since
 * the epoch, or -1.
 *
 * The input, NUL-terminated, is parsed, and checked against an independent
 * oracle written from RFC 3339 (section 5.6):
 *
 *   date-time = YYYY "-" MM "-" DD ("T" / "t" / " ") hh ":" mm ":" ss
 *               ["." 1*DIGIT] ("Z" / "z" / ("+" / "-") hh ":" mm)
 *
 * - The result is -1 or a time in [1970-01-01T00:00:00Z,
 *   9999-12-31T23:59:59Z], after the offset: never another negative value,
 *   never a year past 9999.
 * - An accepted string matches that grammar with real fields (month 1-12,
 *   a day the month has, hh <= 23, mm <= 59, ss <= 60, offset <= 23:59) and
 *   its value is the oracle's (fraction dropped; second 60 counts as 59 or
 *   as the next second).
 * - An accepted value, formatted YYYY-MM-DDThh:mm:ssZ, parses back to
 *   itself; and every such canonical string in range is accepted.
 *
 * Where the library has the one formatter (lib/timefmt.h, cl_time_fmt), it
 * must write what strftime writes for an accepted value, and the input's
 * first 8 bytes, as a time, format (or, out of range, are refused) and parse
 * back.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "volume.h"
#if defined(__has_include)
#if __has_include("timefmt.h")
#include "timefmt.h"
#define HAVE_TIME_FMT 1
#endif
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz_time: input breaks '%s' (%s:%d)\n", #cond, \
				__FILE__, __LINE__);                                      \
			abort();                                                          \
		}                                                                         \
	} while (0)

#define MAX_TIME 253402300799LL /* 9999-12-31T23:59:59Z */

/* N digits at S as a number, or -1. */
static int num(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days from 1970-01-01 to Y-M-D (proleptic Gregorian; H. Hinnant's rule). */
static int64_t days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int month_days(int y, int m)
{
	static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) ? 29 : n[m - 1];
}

/* The oracle: 0 and *SECS (second 60 read as 59), *LEAP, *CANON when S is
 * YYYY-MM-DDThh:mm:ssZ exactly; -1 when S is no RFC 3339 date-time. */
static int oracle(const char *s, int64_t *secs, int *leap, int *canon)
{
	int y = num(s, 4), mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;

	if (y < 0 || s[4] != '-' || (mo = num(s + 5, 2)) < 0 || s[7] != '-' || (d = num(s + 8, 2)) < 0 ||
	    !strchr("Tt ", s[10]) || !s[10] || (h = num(s + 11, 2)) < 0 || s[13] != ':' ||
	    (mi = num(s + 14, 2)) < 0 || s[16] != ':' || (sec = num(s + 17, 2)) < 0)
		return -1;
	p = s + 19;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		p++;
	} else if ((*p == '+' || *p == '-') && (oh = num(p + 1, 2)) >= 0 && p[3] == ':' &&
		   (om = num(p + 4, 2)) >= 0 && !p[6]) {
		sign = *p == '+' ? 1 : -1;
	} else {
		return -1;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 60 || oh > 23 ||
	    om > 59)
		return -1;
	*leap = sec == 60;
	*secs = days(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) - sign * (oh * 3600 + om * 60);
	*canon = strlen(s) == 20 && s[10] == 'T' && s[19] == 'Z' && sec < 60;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), again[64];
	int64_t r, want = 0;
	int leap = 0, canon = 0, ok;
	struct tm tm;
	time_t t;

	CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = 0;
	r = cl_time_parse(s);
	ok = oracle(s, &want, &leap, &canon) == 0;
	CHECK(r == -1 || (r >= 0 && r <= MAX_TIME));
	if (r >= 0) {
		CHECK(ok);
		CHECK(r == want || (leap && r == want + 1));
		t = (time_t)r;
		CHECK(gmtime_r(&t, &tm) != NULL);
		CHECK(strftime(again, sizeof(again), "%Y-%m-%dT%H:%M:%SZ", &tm) == 20);
		CHECK(cl_time_parse(again) == r);
#ifdef HAVE_TIME_FMT
		char fmt[CL_TIME_LEN];
		CHECK(cl_time_fmt(r, fmt) == 0 && !strcmp(fmt, again));
#endif
	}
	if (ok && canon && want >= 0 && want <= MAX_TIME)
		CHECK(r == want);
#ifdef HAVE_TIME_FMT
	if (size >= 8) {
		char fmt[CL_TIME_LEN];
		int64_t v;
		memcpy(&v, data, 8);
		if (cl_time_fmt(v, fmt) == 0)
			CHECK(v >= 0 && v <= MAX_TIME && cl_time_parse(fmt) == v);
		else
			CHECK(v < 0 || v > MAX_TIME);
	}
#endif
	free(s);
	return 0;
}
