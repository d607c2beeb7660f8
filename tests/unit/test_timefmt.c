/*
 * test_timefmt.c - lib/timefmt.c, the one RFC 3339 parser and formatter:
 * leap seconds, offsets, fractions, the year bounds (after the offset),
 * impossible dates and garbage.  Expected values come from an independent
 * count of days (365 a year plus leap days), never from the code under test.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"
#include "testutil.h"

/* Seconds at Y-M-D 00:00:00Z, counted day by day from 1970. */
static int64_t midnight(int y, int m, int d)
{
	static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t days = 0;

	for (int i = 1970; i < y; i++)
		days += 365 + ((i % 4 == 0 && i % 100 != 0) || i % 400 == 0);
	for (int i = 1; i < m; i++)
		days += md[i - 1] + (i == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	return (days + d - 1) * 86400;
}

static const struct {
	const char *s;
	int y, m, d;
	int64_t plus; /* seconds after that midnight; the whole row is refused when y == 0 */
} cases[] = {
	{"1970-01-01T00:00:00Z", 1970, 1, 1, 0},
	{"1970-01-01t00:00:00z", 1970, 1, 1, 0},
	{"2024-02-29T12:34:56Z", 2024, 2, 29, 12 * 3600 + 34 * 60 + 56},
	{"2000-02-29T00:00:00Z", 2000, 2, 29, 0},
	{"2016-12-31T23:59:60Z", 2016, 12, 31, 86399},          /* leap second: :59 */
	{"2016-12-31T23:59:60.5Z", 2016, 12, 31, 86399},
	{"2030-06-01T10:00:00.123456789Z", 2030, 6, 1, 36000}, /* fraction dropped */
	{"2030-06-01T10:00:00+02:00", 2030, 6, 1, 8 * 3600},
	{"2030-06-01T10:00:00-05:30", 2030, 6, 1, 15 * 3600 + 1800},
	{"2030-06-01T00:00:00+23:59", 2030, 5, 31, 60},
	{"1970-01-01T01:00:00+01:00", 1970, 1, 1, 0},           /* lowest bound, reached by an offset */
	{"1969-12-31T23:00:00-01:00", 1970, 1, 1, 0},
	{"9999-12-31T23:59:59Z", 9999, 12, 31, 86399},          /* highest bound */
	{"9999-12-31T23:59:60Z", 9999, 12, 31, 86399},
	{"9999-12-31T23:59:59+00:01", 9999, 12, 31, 86339},
	/* refused */
	{"9999-12-31T23:59:60-23:59", 0, 0, 0, 0}, /* year 10000 once the offset is applied */
	{"9999-12-31T23:59:59-00:01", 0, 0, 0, 0},
	{"1970-01-01T00:00:00+00:01", 0, 0, 0, 0}, /* before the epoch */
	{"1969-12-31T23:59:59Z", 0, 0, 0, 0},
	{"0000-01-01T00:00:00Z", 0, 0, 0, 0},
	{"2023-02-29T00:00:00Z", 0, 0, 0, 0},
	{"1900-02-29T00:00:00Z", 0, 0, 0, 0},
	{"2024-04-31T00:00:00Z", 0, 0, 0, 0},
	{"2024-13-01T00:00:00Z", 0, 0, 0, 0},
	{"2024-00-01T00:00:00Z", 0, 0, 0, 0},
	{"2024-01-00T00:00:00Z", 0, 0, 0, 0},
	{"2024-01-01T24:00:00Z", 0, 0, 0, 0},
	{"2024-01-01T23:60:00Z", 0, 0, 0, 0},
	{"2024-01-01T23:59:61Z", 0, 0, 0, 0},
	{"2024-01-01T00:00:00+24:00", 0, 0, 0, 0},
	{"2024-01-01T00:00:00+01:60", 0, 0, 0, 0},
	{"2024-01-01T00:00:00+0100", 0, 0, 0, 0},
	{"2024-01-01T00:00:00", 0, 0, 0, 0},
	{"2024-01-01 00:00:00Z", 0, 0, 0, 0},
	{"2024-01-01T00:00:00.Z", 0, 0, 0, 0},
	{"2024-01-01T00:00:00.1234567890Z", 0, 0, 0, 0},
	{"2024-01-01T00:00:00ZZ", 0, 0, 0, 0},
	{"2024-01-01T00:00:00Z ", 0, 0, 0, 0},
	{" 2024-01-01T00:00:00Z", 0, 0, 0, 0},
	{"+2024-01-01T00:00:00Z", 0, 0, 0, 0},
	{"12024-01-01T00:00:00Z", 0, 0, 0, 0},
	{"2024-1-01T00:00:00Z", 0, 0, 0, 0},
	{"2024-01-01T0:00:00Z", 0, 0, 0, 0},
	{"2024-01-01", 0, 0, 0, 0},
	{"", 0, 0, 0, 0},
	{"garbage", 0, 0, 0, 0},
};

int main(void)
{
	char out[CL_TIME_LEN];
	int64_t t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t want = cases[i].y ? midnight(cases[i].y, cases[i].m, cases[i].d) + cases[i].plus : -1;
		t = cl_time_parse(cases[i].s);
		CHECK(t == want, "cl_time_parse(\"%s\") = %lld, want %lld", cases[i].s, (long long)t, (long long)want);
	}
	CHECK(cl_time_parse(NULL) == -1, "cl_time_parse(NULL)");
	/* a NUL ends the string: nothing after it is seen, and it is no terminator for the parser */
	CHECK(cl_time_parse("2024-01-01T00:00:00Z\0junk") == midnight(2024, 1, 1), "NUL after the time");
	CHECK(cl_time_parse("2024-01-01T00:00\0:00Z") == -1, "NUL inside the time");

	/* the formatter, and the round trip over the whole range */
	CHECK(cl_time_fmt(0, out) == 0 && !strcmp(out, "1970-01-01T00:00:00Z"), "fmt(0) = %s", out);
	CHECK(cl_time_fmt(CL_TIME_MAX, out) == 0 && !strcmp(out, "9999-12-31T23:59:59Z"), "fmt(max) = %s", out);
	CHECK(CL_TIME_MAX == midnight(9999, 12, 31) + 86399, "CL_TIME_MAX");
	CHECK(cl_time_fmt(midnight(2024, 2, 29) + 3723, out) == 0 && !strcmp(out, "2024-02-29T01:02:03Z"),
	      "fmt(2024-02-29T01:02:03Z) = %s", out);
	CHECK(cl_time_fmt(CL_TIME_MAX + 1, out) == -1 && !strcmp(out, "9999-12-31T23:59:59Z"), "fmt(max + 1) = %s", out);
	CHECK(cl_time_fmt(-1, out) == -1 && !strcmp(out, "1970-01-01T00:00:00Z"), "fmt(-1) = %s", out);
	for (int64_t s = 0; s <= CL_TIME_MAX; s += 86400 * 7 + 3607) {
		cl_time_fmt(s, out);
		if (cl_time_parse(out) != s) {
			CHECK(0, "round trip of %lld through %s", (long long)s, out);
			break;
		}
	}
	for (int y = 1970; y <= 9999; y++) {
		snprintf(out, sizeof(out), "%04d-03-01T00:00:00Z", y);
		if (cl_time_parse(out) != midnight(y, 3, 1)) {
			CHECK(0, "%s", out);
			break;
		}
	}
	if (!t_fail)
		printf("ok - timefmt: %zu cases, formatter bounds, round trip 1970..9999\n", sizeof(cases) / sizeof(cases[0]));
	return test_end("timefmt");
}
