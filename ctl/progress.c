/* progress.c - progress and estimates for repeated evaluations (progress.h). */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "progress.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "4.1 s", "3 min 05 s", "2 h 10 min" */
static const char *span(double s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 3600)
		snprintf(buf, len, "%d min %02d s", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, len, "%d h %02d min", (int)(s / 3600), (int)s % 3600 / 60);
	return buf;
}

void ctl_evals_init(struct ctl_evals *e, const char *who, int expected, int quiet)
{
	*e = (struct ctl_evals){.who = who, .quiet = quiet, .tty = isatty(STDERR_FILENO), .expected = expected};
}

int ctl_evals_run(struct ctl_evals *e, const char *cmd, const char *path, const char *what, double *utility)
{
	char t[32], left[32];
	double start = now(), took;
	int r;

	if (e->done >= e->expected)
		e->expected = e->done + 1;
	if (!e->quiet && e->tty) {
		int fill = 20 * e->done / e->expected;
		fprintf(stderr, "\r\033[K%s [%-20.*s] eval %d/~%d %s ...", e->who, fill, "####################",
			e->done + 1, e->expected, what);
		if (e->done)
			fprintf(stderr, " at most %s left",
				span(e->spent / e->done * (e->expected - e->done), left, sizeof(left)));
	}
	r = ctl_evaluate(cmd, path, utility);
	took = now() - start;
	e->spent += took;
	e->done++;
	if (r < 0 || e->quiet)
		return r;
	if (!e->tty)
		fprintf(stderr, "%s: eval %d/~%d %s -> %g (%s)\n", e->who, e->done, e->expected, what, *utility,
			span(took, t, sizeof(t)));
	if (e->done == 1) /* the estimate: the search's bound x this evaluation's time */
		fprintf(stderr, "%s%s: estimate: at most %d evaluations x %s = %s\n", e->tty ? "\r\033[K" : "", e->who,
			e->expected, span(took, t, sizeof(t)), span(took * e->expected, left, sizeof(left)));
	return 0;
}

void ctl_evals_end(struct ctl_evals *e)
{
	if (!e->quiet && e->tty && e->done)
		fputs("\r\033[K", stderr);
}
