/*
 * progress.h - the owner's evaluation command run over and over (calibrate,
 * lock --target-utility): a line per evaluation on stderr when it is not a
 * terminal, an updating line when it is, and after the first evaluation an
 * estimate of the whole (evaluations x the time of one).
 */
#ifndef CTL_PROGRESS_H
#define CTL_PROGRESS_H

struct ctl_evals {
	const char *who; /* the command, as the lines start with it */
	int quiet, tty;
	int done, expected; /* expected: the search's bound; raised if passed */
	double spent;	    /* seconds spent evaluating */
};

void ctl_evals_init(struct ctl_evals *e, const char *who, int expected, int quiet);
/* ctl_evaluate with progress; WHAT names the candidate ("beta 0.01 (4 units locked)"). */
int ctl_evals_run(struct ctl_evals *e, const char *cmd, const char *path, const char *what, double *utility);
/* Clear the terminal's updating line. */
void ctl_evals_end(struct ctl_evals *e);

#endif
