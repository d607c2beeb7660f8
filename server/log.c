/*
 * log.c - one line per message on stderr, with a syslog prefix under journald.
 *
 * Messages carry client data (paths, names, addresses), so this is the one
 * place that makes a line safe to log: every control byte (a newline would
 * start a forged line, "<0>" at its start an emergency under journald),
 * DEL, backslash and non-ASCII byte is written as \xHH (a backslash as \\),
 * and a line is cut at MAX_LINE bytes.  No call site can forget it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MAX_LINE 1024

int log_threshold = LOG_INFO;

size_t log_escape(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!outlen)
		return 0;
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		int plain = *p >= 0x20 && *p < 0x7f && *p != '\\';
		size_t need = plain ? 1 : *p == '\\' ? 2 : 4;
		if (o + need + 3 >= outlen) { /* room for "..." and the NUL */
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			out[o++] = (char)*p;
		} else if (*p == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = 0;
	return o;
}

void log_msg(int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	static const int syslog_prio[] = {3, 4, 6, 7};
	char line[MAX_LINE], safe[MAX_LINE + 4];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_escape(line, safe, sizeof(safe));
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>%s\n", syslog_prio[level], safe);
	else
		fprintf(stderr, "corelockerd: %s: %s\n", names[level], safe);
}
