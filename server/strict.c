/* strict.c - request head and target checks (see strict.h). */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "strict.h"

/* RFC 9110 tchar: the bytes a header name may hold. */
static int is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int is_ctl(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

struct scan {
	unsigned n_cl, n_te, n_host;
	const char *te;
	size_t te_len;
	const char *bad;
	const char *prev_end; /* the end of the previous value, to find a hidden NUL */
};

/*
 * libmicrohttpd 0.9.75 cuts a header value at a NUL byte (it measures values
 * with strlen) and keeps the rest of the line in its read buffer.  Values
 * point into that buffer, in order, each followed by the NUL bytes that
 * replaced its CR LF: anything else between one value's end and the next
 * name is the rest of a value that held a NUL.
 */
static int hidden_tail(const char *end, const char *next)
{
#if MHD_VERSION <= 0x00097500
	if (next > end && next - end <= 64) /* the next line follows in the same buffer */
		for (const char *p = end; p < next; p++)
			if (*p)
				return 1;
#else
	(void)end;
	(void)next;
#endif
	return 0;
}

/*
 * libmicrohttpd 0.9.75 stores a field as it found it in the line: the name,
 * a NUL where the colon was, optional blanks, the value.  An obs-fold
 * (a value continued on the next line) is joined onto the *name* and breaks
 * that layout, so it is refused (RFC 9112 5.2 allows 400) rather than read
 * as some other field.
 */
static int folded(const char *key, size_t klen, const char *value)
{
#if MHD_VERSION <= 0x00097500
	const char *p = key + klen + 1;

	if (!value || value < p || value - p > 256 || key[klen])
		return 1;
	for (; p < value; p++)
		if (*p != ' ' && *p != '\t')
			return 1;
#else
	(void)key;
	(void)klen;
	(void)value;
#endif
	return 0;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t klen,
				   const char *value, size_t vlen)
{
	struct scan *s = cls;

	(void)kind;
	if (s->prev_end && hidden_tail(s->prev_end, key))
		s->bad = "a header value holds a NUL byte";
	s->prev_end = value ? value + vlen : NULL;
	if (!s->bad && folded(key, klen, value))
		s->bad = "a header is continued on the next line (obs-fold)";
	if (s->bad)
		return MHD_NO;
	if (klen == 0)
		s->bad = "empty header name";
	for (size_t i = 0; i < klen && !s->bad; i++)
		if (!is_tchar((unsigned char)key[i]))
			s->bad = "a header name holds a space, separator or control byte";
	for (size_t i = 0; value && i < vlen && !s->bad; i++)
		if (!value[i])
			s->bad = "a header value holds a NUL byte";
		else if (is_ctl((unsigned char)value[i]) && value[i] != '\t')
			s->bad = "a header value holds a control byte";
	if (s->bad)
		return MHD_NO;
	if (klen == 14 && !strncasecmp(key, "Content-Length", 14))
		s->n_cl++;
	if (klen == 17 && !strncasecmp(key, "Transfer-Encoding", 17)) {
		s->n_te++;
		s->te = value;
		s->te_len = vlen;
	}
	if (klen == 4 && !strncasecmp(key, "Host", 4))
		s->n_host++;
	return MHD_YES;
}

const char *strict_headers(struct MHD_Connection *c, const char *version)
{
	struct scan s = {0};

	MHD_get_connection_values_n(c, MHD_HEADER_KIND, scan_header, &s);
	/* After the last value come its CR LF and the empty line's, all NULs now. */
	if (!s.bad && s.prev_end && MHD_VERSION <= 0x00097500 && s.prev_end[1])
		s.bad = "a header value holds a NUL byte";
	if (s.bad)
		return s.bad;
	if (s.n_cl > 1)
		return "Content-Length is given more than once";
	if (s.n_te && s.n_cl)
		return "Content-Length and Transfer-Encoding are both given";
	if (s.n_te > 1 || (s.n_te && !(s.te_len == 7 && !strncasecmp(s.te, "chunked", 7))))
		return "the only Transfer-Encoding accepted is one 'chunked'";
	if (s.n_host > 1)
		return "Host is given more than once";
	if (!s.n_host && version && !strcmp(version, MHD_HTTP_VERSION_1_1))
		return "an HTTP/1.1 request needs a Host header";
	return NULL;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

const char *strict_target(const char *target, const char *url, const char *version)
{
	size_t len = strlen(target), plen = strcspn(target, "?");

	/* In 0.9.75 the target ends one byte (the space) before the version. */
	if (MHD_VERSION <= 0x00097500 && version > url && (size_t)(version - url) - 1 > len &&
	    (size_t)(version - url) <= len + 4096)
		return "the request target holds a NUL byte";
	if (target[0] != '/')
		return "the path must start with '/'";
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)target[i];
		if (is_ctl(ch) || ch == ' ' || ch >= 0x80)
			return "the request target holds a space, control or non-ASCII byte";
		if (i < plen && ch == '\\')
			return "the path holds a backslash";
		if (ch != '%')
			continue;
		int hi = hexval((unsigned char)target[i + 1]),
		    lo = hi < 0 ? -1 : hexval((unsigned char)target[i + 2]);
		if (hi < 0 || lo < 0)
			return "bad %-escape in the request target";
		ch = (unsigned char)(hi << 4 | lo);
		if (i < plen && (ch == '/' || ch == '\\' || is_ctl(ch)))
			return "the path holds an escaped '/', '\\' or control byte";
		i += 2;
	}
	return NULL;
}

static enum MHD_Result scan_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t klen,
				const char *value, size_t vlen)
{
	const char **bad = cls;

	(void)kind;
	for (size_t i = 0; i < klen; i++)
		if (is_ctl((unsigned char)key[i]))
			*bad = "a query parameter name holds a NUL or control byte";
	for (size_t i = 0; value && i < vlen; i++)
		if (is_ctl((unsigned char)value[i]))
			*bad = "a query parameter holds a NUL or control byte";
	return *bad ? MHD_NO : MHD_YES;
}

const char *strict_query(struct MHD_Connection *c)
{
	const char *bad = NULL;

	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, scan_arg, &bad);
	return bad;
}

void strict_decode_segment(char *seg)
{
	char *w = seg;

	for (const char *p = seg; *p; p++) {
		if (*p == '%' && hexval((unsigned char)p[1]) >= 0 && hexval((unsigned char)p[2]) >= 0) {
			*w++ = (char)(hexval((unsigned char)p[1]) << 4 | hexval((unsigned char)p[2]));
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = 0;
}
