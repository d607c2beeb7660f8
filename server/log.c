/* log.c - one line per message on stderr, with a syslog prefix under journald. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int log_threshold = LOG_INFO;

void log_msg(int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	static const int syslog_prio[] = {3, 4, 6, 7};
	char line[1024];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>%s\n", syslog_prio[level], line);
	else
		fprintf(stderr, "corelockerd: %s: %s\n", names[level], line);
}
