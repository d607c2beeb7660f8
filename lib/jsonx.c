/* jsonx.c - bounded JSON parsing. */
#include <stdio.h>
#include <string.h>

#include "jsonx.h"

/* Deepest nesting of [ and { outside strings; -1 on an unterminated string. */
static int json_depth(const char *s, size_t n, int limit)
{
	int depth = 0, max = 0, in_str = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
			if (max > limit)
				return max;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

json_t *cl_json_parse(const char *text, size_t len, int max_depth, char *why, size_t whylen)
{
	json_error_t err;
	json_t *root;
	const char *nul;
	char scratch[8];

	if (!why) {
		why = scratch;
		whylen = sizeof(scratch);
	}
	if (len == 0) {
		snprintf(why, whylen, "empty JSON text");
		return NULL;
	}
	/* jansson stops at a raw NUL in some states and would accept what
	 * precedes it: no JSON text of ours may hold one anywhere. */
	if ((nul = memchr(text, 0, len))) {
		snprintf(why, whylen, "invalid JSON at byte %zu: a raw NUL byte", (size_t)(nul - text));
		return NULL;
	}
	if (json_depth(text, len, max_depth) > max_depth) {
		snprintf(why, whylen, "JSON nested deeper than %d levels", max_depth);
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		snprintf(why, whylen, "invalid JSON at byte %d: %s", err.position,
			 strstr(err.text, "JSON_ALLOW_NUL") ? "\\u0000 is not allowed in a string" : err.text);
	return root;
}

int cl_text_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		/* U+0080..U+009F are C2 80..C2 9F in UTF-8 */
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return 0;
	}
	return 1;
}

int cl_json_u64(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}
