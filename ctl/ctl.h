/*
 * ctl.h - corelockerctl's command table and the helpers its commands share.
 * Exit status: 0 success, 1 failure, 2 usage error (remote commands: remote.h).
 */
#ifndef CTL_H
#define CTL_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "corelocker.h"

/*
 * One option of a local command: the table drives both getopt_long
 * (ctl_getopt) and --help (ctl_help), so the two cannot drift apart.
 */
struct ctl_opt {
	char shrt;	  /* the short option (then VAL is the same character), or 0 */
	const char *name; /* the long option */
	int val;	  /* what ctl_getopt returns for it */
	const char *arg;  /* its argument, for --help; NULL for a flag */
	const char *help;
};

struct ctl_cmd {
	const char *name;
	const char *summary;
	const char *usage;
	int (*run)(int argc, char **argv);
};

extern const struct ctl_cmd ctl_lock_cmd, ctl_unlock_cmd, ctl_inspect_cmd, ctl_calibrate_cmd;
/* Their option tables (each ends with {0}), for main.c's --help. */
extern const struct ctl_opt ctl_lock_opts[], ctl_unlock_opts[], ctl_inspect_opts[], ctl_calibrate_opts[];
/* Remote commands (remote.c): exit statuses follow the HTTP result, see remote.h. */
extern const struct ctl_cmd ctl_model_cmd, ctl_tier_cmd, ctl_license_cmd, ctl_machine_cmd, ctl_audit_cmd,
	ctl_token_cmd, ctl_trace_cmd;

/* Print "corelockerctl: <msg>" for a library failure; returns exit status 1. */
int ctl_fail(int code);
/* --help of a local command: usage, summary and its option table OPTS (NULL: none). */
void ctl_help(const struct ctl_cmd *cmd, const struct ctl_opt *opts, FILE *f);
/* getopt_long over the option table OPTS (set optind first, as for getopt_long). */
int ctl_getopt(int argc, char **argv, const struct ctl_opt *opts);
/* Print "corelockerctl: <fmt>" and the usage line; returns exit status 2. */
int ctl_usage(const struct ctl_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Strict number parsing: the whole string, finite. 0 or -1. */
int ctl_parse_double(const char *s, double *out);
int ctl_parse_u64(const char *s, uint64_t *out);
/* Progress callback drawing a bar on stderr when it is a terminal. */
void ctl_progress(void *arg, const char *phase, uint64_t done, uint64_t total);
void ctl_progress_end(void);
/* Print a finished lock: two human lines, or one JSON object without a newline. */
void ctl_print_lock(const char *out, const char *key, const struct cl_lock_opts *o, const struct cl_lock_stats *st,
		    int json);

/* lock --target-utility (autolock.c): search settings with the evaluation command, then lock. */
struct ctl_autolock {
	double target;	      /* utility the locked model must reach or go below */
	double max_ratio;     /* largest ratio tried */
	const char *eval_cmd; /* contains {model} */
	int unit, scope;      /* -1: try every one */
	int allow_whole_tensor; /* accept locks that extract every unit of a tensor */
	int quiet;		/* no progress lines */
	const char *attack_cmd; /* NULL, or prints the attack advantage of {model} */
	double max_attack;	/* with attack_cmd: the largest advantage accepted */
};
int ctl_autolock(const char *model, const char *out, const char *key, const struct cl_lock_opts *opts,
		 const struct ctl_autolock *a, int json);

/*
 * Run the evaluation command CMD with {model} replaced by PATH; its last
 * non-empty stdout line is the utility.  0, or -1 after printing why.
 */
int ctl_evaluate(const char *cmd, const char *path, double *utility);
/* Human-readable byte count into BUF. */
const char *ctl_bytes(uint64_t n, char *buf, int len);

#endif
