/* util.c - small helpers shared by the routes. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "digest.h"
#include "jsonx.h"
#include "seal.h"
#include "util.h"

int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

json_t *json_time(int64_t t, int has)
{
	char buf[CL_TIME_LEN];

	if (!has)
		return json_null();
	cl_time_fmt(t, buf);
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
	return cl_text_ok(s, strlen(s));
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
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}
