/* util.c - error reporting, number parsing and the progress bar. */
#include <errno.h>
#include <getopt.h>
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

void ctl_help(const struct ctl_cmd *cmd, const struct ctl_opt *opts, FILE *f)
{
	char left[64];

	fprintf(f, "usage: corelockerctl %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
	if (!opts)
		return;
	fprintf(f, "\noptions:\n");
	for (const struct ctl_opt *o = opts; o->name; o++) {
		if (o->shrt)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shrt, o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
}

#define CTL_MAX_OPTS 32

int ctl_getopt(int argc, char **argv, const struct ctl_opt *opts)
{
	/* Built once per table: a process runs one command. */
	static const struct ctl_opt *built;
	static struct option lo[CTL_MAX_OPTS + 1];
	static char shorts[3 * CTL_MAX_OPTS + 1];

	if (built != opts) {
		size_t n = 0, k = 0;
		for (const struct ctl_opt *o = opts; o->name && n < CTL_MAX_OPTS; o++, n++) {
			lo[n] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->val};
			if (o->shrt) {
				shorts[k++] = o->shrt;
				if (o->arg)
					shorts[k++] = ':';
			}
		}
		lo[n] = (struct option){NULL, 0, NULL, 0};
		shorts[k] = 0;
		built = opts;
	}
	return getopt_long(argc, argv, shorts, lo, NULL);
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
