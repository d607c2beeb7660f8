/*
 * autolock.c - lock --target-utility: find the unit, scope and ratio whose
 * lock brings the model's measured utility down to at most U with the
 * smallest key, then lock with them.
 *
 * Each candidate setting is locked into a private directory beside the
 * output and measured by the owner's evaluation command.  Per setting, the
 * ratio climbs a doubling grid until the utility reaches the target, then a
 * few geometric bisection steps shrink it.  The key only grows with the
 * ratio, so a setting stops as soon as its key is no smaller than the best
 * key found so far.  Utility is not strictly monotone in the ratio: the
 * answer is the smallest ratio on the search path that reached the target,
 * and the final lock repeats exactly that measured setting.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"

#define GRID_STEPS 12  /* the grid starts at max_ratio / 2^12 */
#define REFINE_STEPS 5 /* then bisects a doubling down to about 2% */

/* Candidates, the measured best first (docs/utility.md): it prunes the rest early. */
static const struct {
	int unit, scope;
} settings[] = {
	{CL_UNIT_ELEMENT, CL_SCOPE_GLOBAL},	{CL_UNIT_ELEMENT, CL_SCOPE_GLOBAL_NORM},
	{CL_UNIT_ELEMENT, CL_SCOPE_LAYER},	{CL_UNIT_CHANNEL, CL_SCOPE_LAYER},
	{CL_UNIT_CHANNEL, CL_SCOPE_GLOBAL},	{CL_UNIT_NEURON, CL_SCOPE_GLOBAL},
	{CL_UNIT_NEURON, CL_SCOPE_LAYER},	{CL_UNIT_NEURON, CL_SCOPE_GLOBAL_NORM},
	{CL_UNIT_CHANNEL, CL_SCOPE_GLOBAL_NORM},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

enum state { REACHED, NOT_REACHED, WHOLE_TENSOR, PRUNED, NO_UNITS };
static const char *const state_names[] = {"reached", "not_reached", "whole_tensor", "pruned", "no_units"};

struct trial {
	double ratio, utility;
	uint64_t units, key_bytes, model_bytes;
	int wiped; /* extracts every unit of a tensor (not accepted unless --allow-whole-tensor) */
};

struct outcome {
	enum state state;
	struct trial hit;    /* found: the smallest ratio found at or below the target */
	struct trial lowest; /* measured: the lowest utility of a lock that wipes no tensor */
	int evals, found, measured;
	int wiped; /* the search stopped where a lock wipes a whole tensor */
};

struct search {
	const char *model, *cmd;
	struct cl_lock_opts opts; /* unit, scope and ratio vary per trial */
	double target, max_ratio;
	char dir[4096], locked[4200], key[4200];
	char eval_path[8400]; /* what {model} names: the locked file, or a sharded lock's index */
	const struct trial *best; /* smallest key reaching the target so far */
	struct trial last;	  /* the previous trial, to skip re-measuring an identical lock */
	int have_last, allow_whole;
};

/* Does the key extract every unit of some tensor (or BN layer)?  That lock
 * deletes a layer, which whoever holds a little data retrains (a head). */
static int wipes_a_tensor(const char *key)
{
	json_t *d, *g;
	size_t i;
	int wiped = 0;

	if (cl_describe(key, &d) < 0)
		return 0; /* cannot happen for a key just written; the lock stands */
	json_array_foreach(json_object_get(d, "groups"), i, g) {
		json_int_t finite = json_integer_value(json_object_get(g, "finite"));
		wiped |= finite > 0 && json_integer_value(json_object_get(g, "extracted")) == finite;
	}
	json_decref(d);
	return wiped;
}

/* Lock at RATIO into the private directory and measure it.  1: measured,
 * 0: the lock extracts nothing, 2: pruned (key no smaller than the best), -1: error. */
static int try_ratio(struct search *s, double ratio, struct outcome *o, struct trial *t)
{
	struct cl_lock_stats st;
	int r;

	s->opts.ratio = ratio;
	if ((r = cl_lock(s->model, s->locked, s->key, &s->opts, &st)) == CL_ENOUNITS)
		return 0;
	if (r < 0)
		return ctl_fail(r), -1;
	ctl_progress_end();
	*t = (struct trial){ratio, 0, st.units_locked, st.key_bytes, st.model_bytes, 0};
	if (s->best && t->key_bytes >= s->best->key_bytes)
		return 2;
	t->wiped = !s->allow_whole && wipes_a_tensor(s->key);
	/* Top units at an equal count are the same units (per-tensor counts only grow with the ratio). */
	if (s->have_last && s->opts.select == CL_SELECT_TOP && s->last.units == t->units &&
	    s->last.key_bytes == t->key_bytes) {
		t->utility = s->last.utility;
	} else {
		if (ctl_evaluate(s->cmd, s->eval_path, &t->utility) < 0)
			return -1;
		o->evals++;
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "  %s/%s ratio %-12.6g key %llu bytes utility %g%s\n",
				cl_unit_name(s->opts.unit), cl_scope_name(s->opts.scope), ratio,
				(unsigned long long)t->key_bytes, t->utility, t->wiped ? " (a whole tensor)" : "");
	}
	s->last = *t;
	s->have_last = 1;
	o->wiped |= t->wiped;
	if (!t->wiped && (!o->measured || t->utility < o->lowest.utility)) {
		o->lowest = *t;
		o->measured = 1;
	}
	return 1;
}

/*
 * Search one setting: climb the grid to the first acceptable hit (or to the
 * first lock that wipes a whole tensor: every larger ratio does too), then
 * bisect below it.
 */
static int search_setting(struct search *s, struct outcome *o)
{
	double lo = 0, hi = 0;
	int r = 0, any = 0;

	memset(o, 0, sizeof(*o));
	s->have_last = 0;
	for (int k = GRID_STEPS; k >= 0 && !hi; k--) {
		struct trial t;
		double ratio = ldexp(s->max_ratio, -k);
		if ((r = try_ratio(s, ratio, o, &t)) < 0)
			return -1;
		any |= r != 0; /* a setting with no eligible tensor extracts nothing at any ratio */
		if (r == 2) {
			o->state = PRUNED;
			return 0;
		}
		if (r == 1 && (t.wiped || t.utility <= s->target)) {
			hi = ratio;
			if (!t.wiped)
				o->hit = t, o->found = 1;
		} else {
			lo = ratio;
		}
	}
	if (!hi) {
		o->state = any ? NOT_REACHED : NO_UNITS;
		return 0;
	}
	/* Without a hit yet, a few more steps look below the wiping ratio. */
	for (int i = 0; i < REFINE_STEPS + (o->found ? 0 : 3); i++) {
		struct trial t;
		double mid = lo > 0 ? sqrt(lo * hi) : hi / 2;
		if ((r = try_ratio(s, mid, o, &t)) < 0)
			return -1;
		if (r == 1 && (t.wiped || t.utility <= s->target)) {
			hi = mid;
			if (!t.wiped)
				o->hit = t, o->found = 1;
		} else {
			lo = mid; /* nothing extracted, or still above the target */
		}
	}
	o->state = o->found ? REACHED : o->wiped ? WHOLE_TENSOR : NOT_REACHED;
	return 0;
}

static int wanted(int i, int unit, int scope)
{
	return (unit < 0 || settings[i].unit == unit) && (scope < 0 || settings[i].scope == scope);
}

/*
 * One row per searched setting: the hit when the setting reached the
 * target (utility), else its lowest measured point (lowest_utility).
 */
static json_t *rows(const struct search *s, const struct outcome *out, int unit, int scope)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct outcome *o = &out[i];
		const struct trial *t = o->state == REACHED ? &o->hit : &o->lowest;
		if (!wanted((int)i, unit, scope))
			continue;
		json_t *r = json_pack("{s:s, s:s, s:s, s:i}", "unit", cl_unit_name(settings[i].unit), "scope",
				      cl_scope_name(settings[i].scope), "result", state_names[o->state], "evals",
				      o->evals);
		if (o->state == REACHED || o->measured) {
			json_object_set_new(r, "ratio", json_real(t->ratio));
			json_object_set_new(r, "key_bytes", json_integer((json_int_t)t->key_bytes));
			json_object_set_new(r, "key_percent",
					    json_real(100.0 * (double)t->key_bytes / (double)t->model_bytes));
		}
		if (o->state == REACHED || o->measured)
			json_object_set_new(r, o->state == REACHED ? "utility" : "lowest_utility", json_real(t->utility));
		json_object_set_new(r, "chosen", json_boolean(o->state == REACHED && &o->hit == s->best));
		json_array_append_new(arr, r);
	}
	return arr;
}

static void print_table(json_t *arr)
{
	static const struct {
		const char *state, *text;
	} notes[] = {
		{"reached", "reaches the target"},
		{"not_reached", "not reached within --max-ratio: lowest utility shown"},
		{"whole_tensor", "not reached without extracting a whole tensor: lowest utility shown"},
		{"pruned", "stopped: a larger ratio's key is no smaller than the best; lowest utility shown"},
		{"no_units", "nothing to extract"},
	};
	size_t i;
	json_t *r;

	printf("%-8s %-12s %-12s %-9s %-11s %-7s %-6s %s\n", "UNIT", "SCOPE", "RATIO", "UTILITY", "KEY BYTES",
	       "KEY %", "EVALS", "RESULT");
	json_array_foreach(arr, i, r) {
		const char *state = json_string_value(json_object_get(r, "result")), *note = state;
		json_t *u = json_object_get(r, "utility");
		char ratio[32] = "-", util[32] = "-", kb[32] = "-", kp[32] = "-";
		if (!u)
			u = json_object_get(r, "lowest_utility");
		for (size_t k = 0; k < sizeof(notes) / sizeof(notes[0]); k++)
			if (!strcmp(notes[k].state, state))
				note = notes[k].text;
		if (json_object_get(r, "ratio")) {
			snprintf(ratio, sizeof(ratio), "%.6g", json_real_value(json_object_get(r, "ratio")));
			snprintf(kb, sizeof(kb), "%lld", (long long)json_integer_value(json_object_get(r, "key_bytes")));
			snprintf(kp, sizeof(kp), "%.3f", json_real_value(json_object_get(r, "key_percent")));
		}
		if (u)
			snprintf(util, sizeof(util), "%g", json_real_value(u));
		printf("%-8s %-12s %-12s %-9s %-11s %-7s %-6lld %s%s\n", json_string_value(json_object_get(r, "unit")),
		       json_string_value(json_object_get(r, "scope")), ratio, util, kb, kp,
		       (long long)json_integer_value(json_object_get(r, "evals")), note,
		       json_is_true(json_object_get(r, "chosen")) ? ": chosen" : "");
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static int search_all(struct search *s, const struct ctl_autolock *a, const char *out, const char *key, int json)
{
	static struct outcome outcomes[NSETTINGS];
	struct cl_lock_stats st;
	double original;
	int best = -1, r;

	if (ctl_evaluate(s->cmd, s->model, &original) < 0)
		return 1;
	if (original <= s->target) {
		fprintf(stderr, "corelockerctl: %s already scores %g, at or below --target-utility %g\n", s->model,
			original, s->target);
		return 1;
	}
	for (size_t i = 0; i < NSETTINGS; i++) {
		if (!wanted((int)i, a->unit, a->scope))
			continue;
		s->opts.unit = settings[i].unit;
		s->opts.scope = settings[i].scope;
		if (search_setting(s, &outcomes[i]) < 0)
			return 1; /* the reason is printed: nothing is locked */
		if (outcomes[i].state == REACHED) {
			best = (int)i;
			s->best = &outcomes[i].hit;
		}
	}
	if (best >= 0) { /* the outputs appear only for a setting that reached the target */
		s->opts.unit = settings[best].unit;
		s->opts.scope = settings[best].scope;
		s->opts.ratio = outcomes[best].hit.ratio;
		if ((r = cl_lock(s->model, out, key, &s->opts, &st)) < 0)
			return ctl_fail(r);
		ctl_progress_end();
	}
	json_t *arr = rows(s, outcomes, a->unit, a->scope);
	if (json) {
		printf("{\"target_utility\":%.17g,\"original_utility\":%.17g,\"settings\":", s->target, original);
		json_dumpf(arr, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
		if (best >= 0) {
			printf(",\"utility\":%.17g,\"chosen\":", outcomes[best].hit.utility);
			ctl_print_lock(out, key, &s->opts, &st, 1);
		} else {
			printf(",\"chosen\":null");
		}
		printf("}\n");
	} else {
		printf("original utility %g, target <= %g\n", original, s->target);
		print_table(arr);
	}
	json_decref(arr);
	if (best < 0) {
		fprintf(stderr, "corelockerctl: no setting brings the utility to %g or below within --max-ratio %g\n",
			s->target, s->max_ratio);
		return 1;
	}
	if (!json) {
		printf("chosen: --unit %s --scope %s --ratio %.17g (utility %g)\n", cl_unit_name(s->opts.unit),
		       cl_scope_name(s->opts.scope), s->opts.ratio, outcomes[best].hit.utility);
		ctl_print_lock(out, key, &s->opts, &st, 0);
	}
	return 0;
}

static pid_t search_pid;

/* To the search's process group: its evaluation command stops with it. */
static void forward(int sig)
{
	if (search_pid > 0)
		kill(-search_pid, sig);
}

/* The private directory beside OUT, so trials land on the output's file system. */
static int make_dir(struct search *s, const char *out)
{
	const char *slash = strrchr(out, '/');
	int n = slash ? (int)(slash - out) + 1 : 0;

	snprintf(s->dir, sizeof(s->dir), "%.*s.corelocker-search.XXXXXX", n, out);
	if (!mkdtemp(s->dir)) {
		fprintf(stderr, "corelockerctl: cannot create %s: %s\n", s->dir, strerror(errno));
		return -1;
	}
	const char *base = strrchr(s->model, '/');
	base = base ? base + 1 : s->model;
	snprintf(s->key, sizeof(s->key), "%s/key.clkey", s->dir);
	if (strstr(base, ".index.json")) { /* sharded: the lock is a directory holding the index */
		snprintf(s->locked, sizeof(s->locked), "%s/locked", s->dir);
		snprintf(s->eval_path, sizeof(s->eval_path), "%s/%s", s->locked, base);
	} else {
		snprintf(s->locked, sizeof(s->locked), "%s/locked.safetensors", s->dir);
		snprintf(s->eval_path, sizeof(s->eval_path), "%s", s->locked);
	}
	return 0;
}

int ctl_autolock(const char *model, const char *out, const char *key, const struct cl_lock_opts *opts,
		 const struct ctl_autolock *a, int json)
{
	struct search s = {.model = model, .cmd = a->eval_cmd, .opts = *opts, .target = a->target,
			   .max_ratio = a->max_ratio, .allow_whole = a->allow_whole_tensor};
	struct sigaction sa = {.sa_handler = forward}, old[3];
	static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	int status = 1;

	if (make_dir(&s, out) < 0)
		return 1;
	/* The search runs in a child so that the directory is removed however it ends. */
	fflush(NULL);
	if ((search_pid = fork()) < 0) {
		fprintf(stderr, "corelockerctl: fork: %s\n", strerror(errno));
	} else if (search_pid == 0) {
		setpgid(0, 0);
		status = search_all(&s, a, out, key, json);
		fflush(NULL);
		_exit(status);
	} else {
		setpgid(search_pid, search_pid); /* also here: no window before the child does it */
		for (int i = 0; i < 3; i++)
			sigaction(sigs[i], &sa, &old[i]);
		while (waitpid(search_pid, &status, 0) < 0 && errno == EINTR)
			;
		for (int i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	nftw(s.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return status;
}
