/* util.c - small helpers shared by the routes. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "digest.h"
#include "seal.h"
#include "util.h"

int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

void time_fmt(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

int time_parse(const char *s, int64_t *out)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p = s;
	time_t t;

	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't') || !*p++ || digits(&p, 2, &h) < 0 || *p++ != ':' ||
	    digits(&p, 2, &mi) < 0 || *p++ != ':' || digits(&p, 2, &sec) < 0)
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec > 59 ? 59 : sec;
	t = timegm(&tm);
	/* timegm normalizes 31 February: refuse dates that moved. */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	*out = (int64_t)t - sign * (oh * 3600 + om * 60);
	return 0;
}

json_t *json_time(int64_t t, int has)
{
	char buf[32];

	if (!has)
		return json_null();
	time_fmt(t, buf);
	return json_string(buf);
}

int name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("._+-", *s)))
			return 0;
	return 1;
}

int text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int64_t parse_id(const char *s)
{
	int64_t v = 0;

	if (!*s || strlen(s) > 18 || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int random_secret(const char *prefix, size_t nbytes, char *out)
{
	uint8_t b[64];
	size_t pl = strlen(prefix);

	if (nbytes > sizeof(b) || cl_random(b, nbytes) < 0)
		return -1;
	memcpy(out, prefix, pl);
	cl_hex(b, nbytes, out + pl);
	memset(b, 0, sizeof(b));
	return 0;
}
