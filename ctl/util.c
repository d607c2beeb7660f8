/* util.c - error reporting, number parsing and the progress bar. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"

int ctl_fail(int code)
{
	const char *msg = cl_errmsg();
	ctl_progress_end();
	fprintf(stderr, "corelockerctl: %s\n", *msg ? msg : cl_strerror(code));
	return 1;
}

int ctl_usage(const struct ctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("corelockerctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: corelockerctl %s %s\n", cmd->name, cmd->usage);
	return 2;
}

int ctl_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int ctl_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-')
		return -1;
	*out = v;
	return 0;
}

static int bar_shown;

void ctl_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	int width = 30, fill;

	(void)arg;
	if (!isatty(STDERR_FILENO) || total == 0)
		return;
	fill = (int)(width * done / total);
	fprintf(stderr, "\r%-8s [%-*.*s] %3d%%", phase, width, fill,
		"##############################", (int)(100 * done / total));
	bar_shown = 1;
}

void ctl_progress_end(void)
{
	if (bar_shown)
		fputs("\r\033[K", stderr);
	bar_shown = 0;
}

const char *ctl_bytes(uint64_t n, char *buf, int len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, (size_t)len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}
