/*
 * autolock.c - lock --target-utility: find the unit, scope and ratio whose
 * lock brings the model's measured utility to U with the smallest key, then
 * lock with them.  The metric's direction is read from two measured ends,
 * the original and a lock at --max-ratio: "to U" is "down to at most U"
 * for an accuracy, "up to at least U" for a loss or a perplexity.
 *
 * Each candidate setting is locked into a private directory beside the
 * output and measured by the owner's evaluation command.  Per setting, the
 * ratio climbs a doubling grid until the utility reaches the target, then a
 * few bisection steps shrink it, down to one unit at most: for the global
 * scopes on the count of units itself, else geometrically on the ratio.  The key only grows with the
 * ratio, so a setting stops as soon as its key is no smaller than the best
 * key found so far.  Utility is not strictly monotone in the ratio: the
 * answer is the smallest ratio on the search path that reached the target,
 * and the final lock repeats exactly that measured setting.
 *
 * With --max-attack A --attack-cmd, a lock that reaches the target is also
 * attacked (the owner's own fine-tuning run prints the attack advantage),
 * and only a lock at most A counts as a hit.  The search treats the pair
 * like the utility alone: a larger key is assumed to leave the attacker no
 * more (docs/utility.md section 12 measures the advantage falling with the
 * key), so the answer is the smallest key on the search path that passed both.
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
#include "progress.h"

#define GRID_STEPS 12  /* the grid starts at max_ratio / 2^12 */
#define REFINE_STEPS 5 /* then bisects a doubling down to about 2%, or to one unit */

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

enum state { REACHED, NOT_REACHED, WHOLE_TENSOR, PRUNED, NO_UNITS, ATTACK_ABOVE };
static const char *const state_names[] = {"reached", "not_reached", "whole_tensor", "pruned", "no_units",
					  "attack_above"};

struct trial {
	double ratio, utility;
	uint64_t units, total, key_bytes, model_bytes; /* total: the units that could be extracted */
	int wiped; /* extracts every unit of a tensor (not accepted unless --allow-whole-tensor) */
	int attacked;  /* the attack command ran on it (it reached the target): ATTACK is measured */
	double attack; /* the attack advantage it printed */
};

struct outcome {
	enum state state;
	struct trial hit;    /* found: the smallest ratio found at or below the target */
	struct trial lowest; /* measured: the utility closest to the target of a lock that wipes no tensor */
	struct trial below;  /* has_below: the largest measured lock below the hit, short of the target */
	int evals, found, measured, has_below;
	int util_reached; /* some lock reached the target (without --max-attack: found) */
	int wiped; /* the search stopped where a lock wipes a whole tensor */
};

struct search {
	const char *model, *cmd;
	const char *attack_cmd; /* NULL, or the owner's attack: a hit must also score at most max_attack */
	double max_attack;
	struct cl_lock_opts opts; /* unit, scope and ratio vary per trial */
	double target, max_ratio;
	int sense; /* +1: the lock must bring the utility down (higher is better), -1: up */
	struct ctl_evals evals;
	char dir[4096], locked[4200], key[4200];
	char eval_path[8400]; /* what {model} names: the locked file, or a sharded lock's index */
	const struct trial *best; /* smallest key reaching the target so far */
	struct trial last;	  /* the previous trial, to skip re-measuring an identical lock */
	int have_last, allow_whole;
};

/* Does utility U reach the target, in the metric's direction? */
static int reached(const struct search *s, double u)
{
	return s->sense * u <= s->sense * s->target;
}

/* Is T a hit: the target reached and, with --max-attack, the attack at most A? */
static int accepted(const struct search *s, const struct trial *t)
{
	return reached(s, t->utility) && (!s->attack_cmd || (t->attacked && t->attack <= s->max_attack));
}

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
	*t = (struct trial){ratio, 0, st.units_locked, st.units_total, st.key_bytes, st.model_bytes, 0, 0, 0};
	if (s->best && t->key_bytes >= s->best->key_bytes)
		return 2;
	t->wiped = !s->allow_whole && wipes_a_tensor(s->key);
	char what[200];
	snprintf(what, sizeof(what), "%s/%s ratio %.6g (%llu units, key %llu bytes%s)", cl_unit_name(s->opts.unit),
		 cl_scope_name(s->opts.scope), ratio, (unsigned long long)t->units, (unsigned long long)t->key_bytes,
		 t->wiped ? ", a whole tensor" : "");
	/* Top units at an equal count are the same units (per-tensor counts only grow with the ratio). */
	if (s->have_last && s->opts.select == CL_SELECT_TOP && s->last.units == t->units &&
	    s->last.key_bytes == t->key_bytes) {
		t->utility = s->last.utility;
		t->attack = s->last.attack;
		t->attacked = s->last.attacked;
	} else {
		if (ctl_evals_run(&s->evals, s->cmd, s->eval_path, what, &t->utility) < 0)
			return -1;
		o->evals++;
		if (s->attack_cmd && !t->wiped && reached(s, t->utility)) {
			char attack_what[220];
			snprintf(attack_what, sizeof(attack_what), "attack on %s", what);
			if (ctl_evals_run(&s->evals, s->attack_cmd, s->eval_path, attack_what, &t->attack) < 0)
				return -1;
			t->attacked = 1;
			o->evals++;
		}
	}
	o->util_reached |= !t->wiped && reached(s, t->utility);
	s->last = *t;
	s->have_last = 1;
	o->wiped |= t->wiped;
	if (!t->wiped && (!o->measured || s->sense * t->utility < s->sense * o->lowest.utility)) {
		o->lowest = *t;
		o->measured = 1;
	}
	return 1;
}

/*
 * The next ratio between LO and HI.  Global scopes rank every unit against
 * every other, so a count of units is a ratio: the smallest ratio that locks
 * the middle count (a lower one locks fewer units).  Layer scope rounds per
 * tensor: the geometric mean of the ratios.
 */
static double between(const struct search *s, double lo, double hi, uint64_t lo_units, uint64_t hi_units,
		      uint64_t total)
{
	if (s->opts.scope != CL_SCOPE_LAYER && total && hi_units > lo_units + 1) {
		uint64_t m = lo_units + (hi_units - lo_units) / 2;
		double r = ((double)m - 0.5) / (double)total;
		while (cl_count(r, total) < m)
			r = nextafter(r, 1);
		if (r > lo && r < hi)
			return r;
	}
	return lo > 0 ? sqrt(lo * hi) : hi / 2;
}

/* Move the lower end to a measured trial short of the target. */
static void short_of_target(struct outcome *o, const struct trial *t, int r, uint64_t *lo_units)
{
	*lo_units = r ? t->units : 0; /* r 0: nothing extracted */
	if (r == 1) {
		o->below = *t;
		o->has_below = 1;
	}
}

/*
 * Search one setting: climb the grid to the first acceptable hit (or to the
 * first lock that wipes a whole tensor: every larger ratio does too), then
 * bisect below it, until one unit separates the two ends.
 */
static int search_setting(struct search *s, struct outcome *o)
{
	double lo = 0, hi = 0;
	uint64_t lo_units = 0, hi_units = 0, total = 0;
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
		if (r == 1 && (t.wiped || accepted(s, &t))) {
			hi = ratio;
			hi_units = t.units;
			total = t.total;
			if (!t.wiped)
				o->hit = t, o->found = 1;
		} else {
			lo = ratio;
			short_of_target(o, &t, r, &lo_units);
		}
	}
	if (!hi) {
		o->state = !any ? NO_UNITS : o->util_reached ? ATTACK_ABOVE : NOT_REACHED;
		return 0;
	}
	/* Without a hit yet, a few more steps look below the wiping ratio.  One unit apart, nothing lies between. */
	for (int i = 0; i < REFINE_STEPS + (o->found ? 0 : 3) && hi_units > lo_units + 1; i++) {
		struct trial t;
		double mid = between(s, lo, hi, lo_units, hi_units, total);
		if ((r = try_ratio(s, mid, o, &t)) < 0)
			return -1;
		if (r == 1 && (t.wiped || accepted(s, &t))) {
			hi = mid;
			hi_units = t.units;
			if (!t.wiped)
				o->hit = t, o->found = 1;
		} else {
			lo = mid; /* nothing extracted, or still short of the target */
			short_of_target(o, &t, r, &lo_units);
		}
	}
	o->state = o->found ? REACHED : o->util_reached ? ATTACK_ABOVE : o->wiped ? WHOLE_TENSOR : NOT_REACHED;
	return 0;
}

static int wanted(int i, int unit, int scope)
{
	return (unit < 0 || settings[i].unit == unit) && (scope < 0 || settings[i].scope == scope);
}

/*
 * One row per searched setting: the hit when the setting reached the
 * target (utility, and the measured lock just short of it: below), else
 * its measured point closest to the target (lowest_utility, or
 * highest_utility for a metric where lower is better).
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
			json_object_set_new(r, "units", json_integer((json_int_t)t->units));
			json_object_set_new(r, "key_bytes", json_integer((json_int_t)t->key_bytes));
			json_object_set_new(r, "key_percent",
					    json_real(100.0 * (double)t->key_bytes / (double)t->model_bytes));
			json_object_set_new(r,
					    o->state == REACHED ? "utility"
					    : s->sense > 0	? "lowest_utility"
								: "highest_utility",
					    json_real(t->utility));
			if (t->attacked)
				json_object_set_new(r, "attack", json_real(t->attack));
		}
		if (o->state == REACHED && o->has_below)
			json_object_set_new(r, "below",
					    json_pack("{s:f, s:I, s:f}", "ratio", o->below.ratio, "units",
						      (json_int_t)o->below.units, "utility", o->below.utility));
		json_object_set_new(r, "chosen", json_boolean(o->state == REACHED && &o->hit == s->best));
		json_array_append_new(arr, r);
	}
	return arr;
}

/* The RESULT column: what the row's state means, and what its numbers are. */
static void row_note(json_t *r, const char *state, int measured, char *buf, size_t len)
{
	static const struct {
		const char *state, *text;
	} notes[] = {
		{"reached", "reaches the target"},
		{"not_reached", "not reached within --max-ratio"},
		{"whole_tensor", "not reached without extracting a whole tensor"},
		{"pruned", "stopped: a larger ratio's key is no smaller than the best"},
		{"no_units", "nothing to extract"},
		{"attack_above", "reaches the target, but every such lock's attack is above --max-attack"},
	};
	json_t *b = json_object_get(r, "below"), *attack = json_object_get(r, "attack");
	int n = snprintf(buf, len, "%s", state);

	for (size_t k = 0; k < sizeof(notes) / sizeof(notes[0]); k++)
		if (!strcmp(notes[k].state, state))
			n = snprintf(buf, len, "%s", notes[k].text);
	if (attack && n < (int)len)
		n += snprintf(buf + n, len - (size_t)n, " (attack %g)", json_real_value(attack));
	if (n >= (int)len)
		return;
	if (b) /* the step the target lies in */
		snprintf(buf + n, len - (size_t)n, " at %lld units (%lld units score %g)",
			 (long long)json_integer_value(json_object_get(r, "units")),
			 (long long)json_integer_value(json_object_get(b, "units")),
			 json_real_value(json_object_get(b, "utility")));
	else if (measured && strcmp(state, "reached"))
		snprintf(buf + n, len - (size_t)n, "; the closest utility measured shown");
	else if (!strcmp(state, "pruned"))
		snprintf(buf + n, len - (size_t)n, " (before its first measurement)");
}

static void print_table(json_t *arr)
{
	size_t i;
	json_t *r;

	printf("%-8s %-12s %-12s %-9s %-11s %-7s %-6s %s\n", "UNIT", "SCOPE", "RATIO", "UTILITY", "KEY BYTES",
	       "KEY %", "EVALS", "RESULT");
	json_array_foreach(arr, i, r) {
		const char *state = json_string_value(json_object_get(r, "result"));
		json_t *u = json_object_get(r, "utility");
		char ratio[32] = "-", util[32] = "-", kb[32] = "-", kp[32] = "-", note[160];
		if (!u)
			u = json_object_get(r, "lowest_utility");
		if (!u)
			u = json_object_get(r, "highest_utility");
		row_note(r, state, u != NULL, note, sizeof(note));
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

/*
 * The metric's direction, from the original's utility and the first
 * wanted setting's lock at --max-ratio (the other end).  With no setting
 * that extracts anything, the target's side of the original tells.
 */
static int read_direction(struct search *s, const struct ctl_autolock *a, double original)
{
	char what[160];
	double end;
	int r;

	for (size_t i = 0; i < NSETTINGS; i++) {
		struct cl_lock_stats st;
		if (!wanted((int)i, a->unit, a->scope))
			continue;
		s->opts.unit = settings[i].unit;
		s->opts.scope = settings[i].scope;
		s->opts.ratio = s->max_ratio;
		if ((r = cl_lock(s->model, s->locked, s->key, &s->opts, &st)) == CL_ENOUNITS)
			continue;
		if (r < 0)
			return ctl_fail(r), -1;
		ctl_progress_end();
		snprintf(what, sizeof(what), "the other end, %s/%s ratio %g (%llu units)", cl_unit_name(s->opts.unit),
			 cl_scope_name(s->opts.scope), s->max_ratio, (unsigned long long)st.units_locked);
		if (ctl_evals_run(&s->evals, s->cmd, s->eval_path, what, &end) < 0)
			return -1;
		if (end == original) {
			ctl_evals_end(&s->evals);
			fprintf(stderr,
				"corelockerctl: %s and its lock at ratio %g both measure %g: the evaluation command "
				"cannot tell them apart\n",
				s->model, s->max_ratio, end);
			return -1;
		}
		s->sense = original > end ? 1 : -1;
		return 0;
	}
	s->sense = s->target < original ? 1 : -1;
	return 0;
}

static int search_all(struct search *s, const struct ctl_autolock *a, const char *out, const char *key, int json)
{
	static struct outcome outcomes[NSETTINGS];
	struct cl_lock_stats st;
	double original;
	int best = -1, r, n = 0;

	for (size_t i = 0; i < NSETTINGS; i++)
		n += wanted((int)i, a->unit, a->scope);
	/* the bound: both ends, then every wanted setting's whole grid and refinement (each trial attacked too) */
	ctl_evals_init(&s->evals, "lock", 2 + n * (GRID_STEPS + 1 + REFINE_STEPS + 3) * (s->attack_cmd ? 2 : 1),
		       a->quiet);
	if (ctl_evals_run(&s->evals, s->cmd, s->model, "the original", &original) < 0 ||
	    read_direction(s, a, original) < 0)
		return 1;
	if (s->sense * original <= s->sense * s->target) {
		ctl_evals_end(&s->evals);
		fprintf(stderr, "corelockerctl: %s already scores %g, at or %s --target-utility %g\n", s->model,
			original, s->sense > 0 ? "below" : "above", s->target);
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
	ctl_evals_end(&s->evals);
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
		printf("{\"target_utility\":%.17g,\"original_utility\":%.17g,\"higher_is_better\":%s,", s->target,
		       original, s->sense > 0 ? "true" : "false");
		if (s->attack_cmd)
			printf("\"max_attack\":%.17g,", s->max_attack);
		printf("\"settings\":");
		json_dumpf(arr, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
		if (best >= 0) {
			printf(",\"utility\":%.17g,", outcomes[best].hit.utility);
			if (s->attack_cmd)
				printf("\"attack\":%.17g,", outcomes[best].hit.attack);
			printf("\"chosen\":");
			ctl_print_lock(out, key, &s->opts, &st, 1);
		} else {
			printf(",\"chosen\":null");
		}
		printf("}\n");
	} else {
		printf("original utility %g, target %s %g", original, s->sense > 0 ? "<=" : ">=", s->target);
		if (s->attack_cmd)
			printf(", attack advantage <= %g", s->max_attack);
		putchar('\n');
		print_table(arr);
	}
	json_decref(arr);
	if (best < 0) {
		char bound[80] = "";
		if (s->attack_cmd)
			snprintf(bound, sizeof(bound), " with an attack advantage of at most %g", s->max_attack);
		fprintf(stderr, "corelockerctl: no setting brings the utility to %g or %s within --max-ratio %g%s\n",
			s->target, s->sense > 0 ? "below" : "above", s->max_ratio, bound);
		return 1;
	}
	if (!json) {
		printf("chosen: --unit %s --scope %s --ratio %.17g (utility %g", cl_unit_name(s->opts.unit),
		       cl_scope_name(s->opts.scope), s->opts.ratio, outcomes[best].hit.utility);
		if (s->attack_cmd)
			printf(", attack %g", outcomes[best].hit.attack);
		printf(")\n");
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
	struct search s = {.model = model, .cmd = a->eval_cmd, .attack_cmd = a->attack_cmd,
			   .max_attack = a->max_attack, .opts = *opts, .target = a->target,
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
