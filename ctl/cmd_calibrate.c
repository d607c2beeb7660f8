/*
 * cmd_calibrate.c - corelockerctl calibrate: find the tier that gives each
 * target utility.  Candidate tiers are unlocked into a temporary directory
 * and measured by the owner's evaluation command, whose last stdout line is
 * the utility.
 *
 * A tier is a count of units still locked (0: the original; all of the
 * key's: the locked model), so the search runs on these counts and stops at
 * one unit.  The metric's scale and direction are not assumed: the two ends
 * are measured first; the default tolerance is a share of their span, and a
 * target beyond them is reported as such.  Utility moves from the original
 * towards the locked end as units stay locked, but not strictly, so the
 * search keeps a bracket [lo, hi] of counts around the target, bisects it,
 * and reports the closest tier measured.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "progress.h"

#define MAX_TARGETS 32
#define MAX_EVALS 256
#define EVALS_PER_TARGET 24
#define TOLERANCE_SHARE 0.015 /* default tolerance: of |original - locked| */

static int run(int argc, char **argv);

const struct ctl_opt ctl_calibrate_opts[] = {
	{'k', "key", 'k', "KEY", "the model's .clkey"},
	{0, "eval-cmd", 'e', "CMD", "prints the utility of {model} (any scale, higher or lower is better)"},
	{0, "target", 't', "U", "a utility to find the ratio for; repeat for several tiers"},
	{0, "tolerance", 'T', "T", "how close counts as reached (default 1.5 % of the measured span)"},
	{0, "curve", 'c', "N", "measure N evenly spaced ratios instead (2 to 256)"},
	{0, "csv", 'v', NULL, "print the result as CSV"},
	{0, "json", 'j', NULL, "print the result as one JSON object"},
	{'q', "quiet", 'q', NULL, "no progress lines on stderr"},
	{0},
};

const struct ctl_cmd ctl_calibrate_cmd = {
	"calibrate", "measure tiers with an evaluation command and find the ratio for each target utility",
	"LOCKED -k KEY --eval-cmd 'CMD {model}' --target U [--target U ...] [--tolerance T]\n"
	"       [--curve N] [--csv] [--json] [--quiet]",
	run,
};

struct calib {
	const char *locked, *key, *cmd;
	char dir[64];
	double alpha;
	int layer;		/* scope layer: each group rounds its own count */
	uint64_t finite, count; /* the model's scored units; the key's units */
	uint64_t *gfinite;	/* per group (scope layer) */
	size_t ng;
	struct ctl_evals evals;
	struct {
		uint64_t units;
		double beta, utility;
	} seen[MAX_EVALS];
	int nseen;
};

/* Units tier BETA keeps locked (as the library's cl_key_kept counts them). */
static uint64_t kept(const struct calib *c, double beta)
{
	uint64_t n = 0;

	if (!c->layer)
		return cl_count(beta, c->finite);
	for (size_t i = 0; i < c->ng; i++)
		n += cl_count(beta, c->gfinite[i]);
	return n;
}

/* The smallest ratio that keeps at least M units locked. */
static double edge(const struct calib *c, uint64_t m)
{
	double lo = 0, hi = c->alpha;

	if (kept(c, 0) >= m)
		return 0;
	for (double mid = lo + (hi - lo) / 2; mid > lo && mid < hi; mid = lo + (hi - lo) / 2)
		if (kept(c, mid) >= m)
			hi = mid;
		else
			lo = mid;
	return hi;
}

/* The tier with the fewest locked units >= M (scope layer skips counts). */
static uint64_t tier_at_least(const struct calib *c, uint64_t m)
{
	return m >= c->count ? c->count : kept(c, edge(c, m));
}

/* A ratio in the middle of tier N's ratios, so that a rounded print of it still names N. */
static double beta_of(const struct calib *c, uint64_t n)
{
	double b;

	if (n == 0 || n >= c->count)
		return n ? c->alpha : 0;
	b = (edge(c, n) + edge(c, n + 1)) / 2;
	return kept(c, b) == n ? b : edge(c, n);
}

/* Utility of the tier keeping N units locked, measured once and remembered. */
static int utility_at(struct calib *c, uint64_t n, double *u)
{
	char path[128], what[96];
	double beta = beta_of(c, n);
	int r;

	for (int i = 0; i < c->nseen; i++)
		if (c->seen[i].units == n) {
			*u = c->seen[i].utility;
			return 0;
		}
	if (c->nseen == MAX_EVALS) {
		fprintf(stderr, "corelockerctl: more than %d evaluations\n", MAX_EVALS);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/tier.safetensors", c->dir);
	if ((r = cl_unlock(c->locked, c->key, beta, path, NULL)) < 0) {
		ctl_evals_end(&c->evals);
		ctl_fail(r);
		return -1;
	}
	snprintf(what, sizeof(what), "beta %.6g (%llu units locked)", beta, (unsigned long long)n);
	r = ctl_evals_run(&c->evals, c->cmd, path, what, u);
	unlink(path);
	if (r < 0)
		return -1;
	c->seen[c->nseen].units = n;
	c->seen[c->nseen].beta = beta;
	c->seen[c->nseen++].utility = *u;
	return 0;
}

/* The two ends, measured before anything else: they give the metric's direction and span. */
struct ends {
	double original, locked;
	int dir; /* +1: higher is better (the original scores more), -1: lower is better */
};

enum outcome { WITHIN, OUTSIDE, JUMP, EXHAUSTED };
static const char *const outcome_names[] = {"within_tolerance", "outside", "jump", "not_within_tolerance"};

struct result {
	double target, beta, utility;
	uint64_t units;
	int evals;
	enum outcome outcome;
	/* the final bracket (the ends for a target outside them) */
	uint64_t lo, hi;
	double ulo, uhi;
};

static int search(struct calib *c, const struct ends *e, double target, double tol, struct result *res)
{
	uint64_t lo = 0, hi = c->count, best;
	double ulo = e->original, uhi = e->locked, best_u, t = e->dir * target;
	int start = c->nseen, evals = 0, outside = t > e->dir * e->original || t < e->dir * e->locked;

	best = fabs(ulo - target) <= fabs(uhi - target) ? lo : hi;
	best_u = best == lo ? ulo : uhi;
	while (!outside && fabs(best_u - target) > tol && evals < EVALS_PER_TARGET) {
		uint64_t mid = tier_at_least(c, lo + (hi - lo + 1) / 2);
		double um;
		if (mid >= hi && (mid = tier_at_least(c, lo + 1)) >= hi)
			break; /* lo and hi are neighbours: the target is in a jump */
		if (utility_at(c, mid, &um) < 0)
			return -1;
		evals++;
		if (fabs(um - target) < fabs(best_u - target)) {
			best = mid;
			best_u = um;
		}
		if (e->dir * um >= t) { /* a step or noise may break monotony: keep the bracket valid */
			lo = mid;
			ulo = um;
		} else {
			hi = mid;
			uhi = um;
		}
	}
	*res = (struct result){target, beta_of(c, best), best_u, best, c->nseen - start, WITHIN, lo, hi, ulo, uhi};
	if (outside)
		res->outcome = OUTSIDE;
	else if (fabs(best_u - target) > tol)
		res->outcome = tier_at_least(c, lo + 1) >= hi ? JUMP : EXHAUSTED;
	return 0;
}

/* Why a target was missed, for the table. */
static void miss_note(const struct calib *c, const struct result *x, char *buf, size_t len)
{
	double blo = beta_of(c, x->lo), bhi = beta_of(c, x->hi);

	if (x->outcome == OUTSIDE)
		snprintf(buf, len,
			 "target outside the curve: the ends measure %g (original, beta 0) and %g (locked, beta %g); "
			 "closest end shown",
			 x->ulo, x->uhi, bhi);
	else if (x->outcome == JUMP)
		snprintf(buf, len,
			 "target falls in a jump: %g at beta %.6g (%llu units locked), %g at beta %.6g (%llu units "
			 "locked); closest tier shown",
			 x->ulo, blo, (unsigned long long)x->lo, x->uhi, bhi, (unsigned long long)x->hi);
	else if (x->outcome == EXHAUSTED)
		snprintf(buf, len, "not within tolerance after %d evaluations: %g at beta %.6g .. %g at beta %.6g",
			 EVALS_PER_TARGET, x->ulo, blo, x->uhi, bhi);
	else
		buf[0] = 0;
}

static void print_results(const struct calib *c, const struct ends *e, const struct result *res, int n, double tol,
			  int json, int csv)
{
	if (json)
		printf("[");
	else if (csv)
		printf("target,beta,utility,evals,within_tolerance,units_locked,result\n");
	else
		printf("ends: original %g, locked %g (%llu units): %s is better; tolerance %g\n\n"
		       "%-10s %-14s %-8s %-10s %-6s %s\n",
		       e->original, e->locked, (unsigned long long)c->count, e->dir > 0 ? "higher" : "lower", tol,
		       "TARGET", "BETA", "UNITS", "UTILITY", "EVALS", "NOTE");
	for (int i = 0; i < n; i++) {
		const struct result *x = &res[i];
		char note[320];
		miss_note(c, x, note, sizeof(note));
		if (json) {
			printf("%s{\"target\":%.17g,\"beta\":%.17g,\"utility\":%.17g,\"evals\":%d,\"units_locked\":%llu,"
			       "\"within_tolerance\":%s,\"result\":\"%s\",\"tolerance\":%.17g,\"higher_is_better\":%s",
			       i ? "," : "", x->target, x->beta, x->utility, x->evals, (unsigned long long)x->units,
			       x->outcome == WITHIN ? "true" : "false", outcome_names[x->outcome], tol,
			       e->dir > 0 ? "true" : "false");
			if (x->outcome != WITHIN) /* the two measured tiers around the miss */
				printf(",\"bracket\":[{\"beta\":%.17g,\"utility\":%.17g,\"units_locked\":%llu},"
				       "{\"beta\":%.17g,\"utility\":%.17g,\"units_locked\":%llu}]",
				       beta_of(c, x->lo), x->ulo, (unsigned long long)x->lo, beta_of(c, x->hi), x->uhi,
				       (unsigned long long)x->hi);
			printf("}");
		} else if (csv) {
			printf("%.17g,%.17g,%.17g,%d,%d,%llu,%s\n", x->target, x->beta, x->utility, x->evals,
			       x->outcome == WITHIN, (unsigned long long)x->units, outcome_names[x->outcome]);
		} else {
			printf("%-10g %-14.8g %-8llu %-10g %-6d %s\n", x->target, x->beta, (unsigned long long)x->units,
			       x->utility, x->evals, note);
		}
	}
	if (json)
		printf("]\n");
}

static int print_curve(struct calib *c, int n, int json, int csv)
{
	if (json)
		printf("[");
	else if (csv)
		printf("beta,utility,units_locked\n");
	else
		printf("%-14s %-8s %s\n", "BETA", "UNITS", "UTILITY");
	for (int i = 0; i < n; i++) {
		double beta = c->alpha * i / (n - 1), u;
		uint64_t units = kept(c, beta);
		if (utility_at(c, units, &u) < 0)
			return 1;
		if (json)
			printf("%s{\"beta\":%.17g,\"utility\":%.17g,\"units_locked\":%llu}", i ? "," : "", beta, u,
			       (unsigned long long)units);
		else if (csv)
			printf("%.17g,%.17g,%llu\n", beta, u, (unsigned long long)units);
		else
			printf("%-14.6g %-8llu %g\n", beta, (unsigned long long)units, u);
	}
	if (json)
		printf("]\n");
	return 0;
}

/* Alpha, scope and unit counts of KEY: what maps a count of locked units to a ratio. */
static int read_key(struct calib *c)
{
	json_t *d, *g;
	size_t i;
	int r = cl_describe(c->key, &d);

	if (r < 0)
		return r;
	if (strcmp(json_string_value(json_object_get(d, "type")), "clkey")) {
		json_decref(d);
		fprintf(stderr, "corelockerctl: %s is not a .clkey key\n", c->key);
		return CL_EINVAL;
	}
	c->alpha = json_real_value(json_object_get(d, "alpha"));
	c->layer = !strcmp(json_string_value(json_object_get(d, "scope")), "layer");
	c->finite = (uint64_t)json_integer_value(json_object_get(d, "units"));
	c->count = (uint64_t)json_integer_value(json_object_get(d, "extracted"));
	c->ng = json_array_size(json_object_get(d, "groups"));
	if (!(c->gfinite = calloc(c->ng + 1, sizeof(*c->gfinite)))) {
		json_decref(d);
		fprintf(stderr, "corelockerctl: out of memory\n");
		return CL_EINVAL;
	}
	json_array_foreach(json_object_get(d, "groups"), i, g)
		c->gfinite[i] = (uint64_t)json_integer_value(json_object_get(g, "finite"));
	json_decref(d);
	return 0;
}

static int measure_ends(struct calib *c, struct ends *e)
{
	if (utility_at(c, 0, &e->original) < 0 || utility_at(c, c->count, &e->locked) < 0)
		return -1;
	if (e->original == e->locked) {
		ctl_evals_end(&c->evals);
		fprintf(stderr,
			"corelockerctl: the original and the locked model both measure %g: the evaluation command "
			"cannot tell tiers apart\n",
			e->original);
		return -1;
	}
	e->dir = e->original > e->locked ? 1 : -1;
	return 0;
}

/* An upper bound of the evaluations: both ends, then a bisection of the key's units per target. */
static int expected_evals(const struct calib *c, int ntargets)
{
	int bits = 0;

	while (bits < EVALS_PER_TARGET && ((uint64_t)1 << bits) < c->count)
		bits++;
	return 2 + ntargets * bits;
}

static int run(int argc, char **argv)
{
	static struct calib c;
	struct result res[MAX_TARGETS];
	struct ends e;
	double targets[MAX_TARGETS], tol = -1;
	int ntargets = 0, curve = 0, json = 0, csv = 0, quiet = 0, ch, status = 1;
	uint64_t n;

	memset(&c, 0, sizeof(c));
	optind = 1;
	while ((ch = ctl_getopt(argc, argv, ctl_calibrate_opts)) != -1) {
		switch (ch) {
		case 'k': c.key = optarg; break;
		case 'e': c.cmd = optarg; break;
		case 't':
			if (ntargets == MAX_TARGETS || ctl_parse_double(optarg, &targets[ntargets]) < 0)
				return ctl_usage(&ctl_calibrate_cmd, "bad --target '%s'", optarg);
			ntargets++;
			break;
		case 'T':
			if (ctl_parse_double(optarg, &tol) < 0 || tol < 0)
				return ctl_usage(&ctl_calibrate_cmd, "bad --tolerance '%s'", optarg);
			break;
		case 'c':
			if (ctl_parse_u64(optarg, &n) < 0 || n < 2 || n > MAX_EVALS)
				return ctl_usage(&ctl_calibrate_cmd, "--curve takes 2 to %d points", MAX_EVALS);
			curve = (int)n;
			break;
		case 'j': json = 1; break;
		case 'v': csv = 1; break;
		case 'q': quiet = 1; break;
		default: return ctl_usage(&ctl_calibrate_cmd, "invalid option");
		}
	}
	if (optind != argc - 1 || !c.key || !c.cmd || (!ntargets && !curve))
		return ctl_usage(&ctl_calibrate_cmd, "LOCKED, -k, --eval-cmd and --target or --curve are required");
	if (!strstr(c.cmd, "{model}"))
		return ctl_usage(&ctl_calibrate_cmd, "--eval-cmd must contain {model}");
	c.locked = argv[optind];
	int r = read_key(&c);
	if (r == CL_EINVAL)
		return 1;
	if (r < 0)
		return ctl_fail(r);
	const char *tmp = getenv("TMPDIR");
	snprintf(c.dir, sizeof(c.dir), "%.40s/clcalib.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(c.dir)) {
		perror("corelockerctl: mkdtemp");
		free(c.gfinite);
		return 1;
	}
	ctl_evals_init(&c.evals, "calibrate", curve ? curve : expected_evals(&c, ntargets), quiet);
	if (curve) {
		status = print_curve(&c, curve, json, csv);
		goto out;
	}
	if (measure_ends(&c, &e) < 0)
		goto out;
	if (tol < 0)
		tol = TOLERANCE_SHARE * fabs(e.original - e.locked);
	for (int i = 0; i < ntargets; i++)
		if (search(&c, &e, targets[i], tol, &res[i]) < 0)
			goto out;
	ctl_evals_end(&c.evals);
	print_results(&c, &e, res, ntargets, tol, json, csv);
	status = 0;
out:
	ctl_evals_end(&c.evals);
	free(c.gfinite);
	rmdir(c.dir);
	return status;
}
