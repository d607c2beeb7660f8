/*
 * cmd_calibrate.c - corelockerctl calibrate: find the tier ratio (beta) that
 * gives each target utility.  Candidate tiers are unlocked into a temporary
 * directory and measured by the owner's evaluation command, whose last stdout
 * line is the utility.  Utility falls as beta grows, but not strictly, so
 * the search keeps a bracket [lo, hi] with u(lo) >= target >= u(hi), bisects
 * it, and reports the closest tier measured.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

#define MAX_TARGETS 32
#define MAX_EVALS 256
#define EVALS_PER_TARGET 24

static int run(int argc, char **argv);

const struct ctl_cmd ctl_calibrate_cmd = {
	"calibrate", "measure tiers with an evaluation command and find the ratio for each target utility",
	"LOCKED -k KEY --eval-cmd 'CMD {model}' --target U [--target U ...] [--tolerance T]\n"
	"       [--curve N] [--csv] [--json]",
	run,
};

struct calib {
	const char *locked, *key, *cmd;
	char dir[64];
	double alpha;
	struct {
		double beta, utility;
	} seen[MAX_EVALS];
	int nseen;
};

/* Utility of tier BETA, measured once and remembered. */
static int utility_at(struct calib *c, double beta, double *u)
{
	char path[128];
	int r;

	for (int i = 0; i < c->nseen; i++)
		if (c->seen[i].beta == beta) {
			*u = c->seen[i].utility;
			return 0;
		}
	if (c->nseen == MAX_EVALS) {
		fprintf(stderr, "corelockerctl: more than %d evaluations\n", MAX_EVALS);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/tier.safetensors", c->dir);
	if ((r = cl_unlock(c->locked, c->key, beta, path, NULL)) < 0) {
		ctl_fail(r);
		return -1;
	}
	r = ctl_evaluate(c->cmd, path, u);
	unlink(path);
	if (r < 0)
		return -1;
	c->seen[c->nseen].beta = beta;
	c->seen[c->nseen++].utility = *u;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "  beta %-12.6g utility %g\n", beta, *u);
	return 0;
}

struct result {
	double target, beta, utility;
	int evals, within;
	double lo, ulo, hi, uhi; /* the final bracket: where the curve jumps over the target */
};

static int search(struct calib *c, double target, double tol, struct result *res)
{
	double lo = 0, hi = c->alpha, ulo, uhi, best_b, best_u;
	int start = c->nseen, evals = 0;

	if (utility_at(c, lo, &ulo) < 0 || utility_at(c, hi, &uhi) < 0)
		return -1;
	best_b = fabs(ulo - target) <= fabs(uhi - target) ? lo : hi;
	best_u = best_b == lo ? ulo : uhi;
	while (fabs(best_u - target) > tol && ulo > target && uhi < target && evals < EVALS_PER_TARGET &&
	       hi - lo > c->alpha * 1e-6) {
		double mid = (lo + hi) / 2, um;
		if (utility_at(c, mid, &um) < 0)
			return -1;
		evals++;
		if (fabs(um - target) < fabs(best_u - target)) {
			best_b = mid;
			best_u = um;
		}
		if (um >= target) { /* a step or noise may break monotony: keep the bracket valid */
			lo = mid;
			ulo = um;
		} else {
			hi = mid;
			uhi = um;
		}
	}
	res->target = target;
	res->beta = best_b;
	res->utility = best_u;
	res->evals = c->nseen - start;
	res->within = fabs(best_u - target) <= tol;
	res->lo = lo, res->ulo = ulo, res->hi = hi, res->uhi = uhi;
	return 0;
}

/* Why a target was missed: a jump between two measured tiers, or outside the curve. */
static void miss_note(const struct result *x, char *buf, size_t len)
{
	if (x->ulo < x->target || x->uhi > x->target)
		snprintf(buf, len, "target outside the curve: %g at beta %g .. %g at beta %g; closest tier shown",
			 x->ulo, x->lo, x->uhi, x->hi);
	else
		snprintf(buf, len, "target falls in a jump: %g at beta %g, %g at beta %g; closest tier shown", x->ulo,
			 x->lo, x->uhi, x->hi);
}

static int print_curve(struct calib *c, int n, int json, int csv)
{
	if (n < 2)
		n = 2;
	if (json)
		printf("[");
	else if (csv)
		printf("beta,utility\n");
	else
		printf("%-14s %s\n", "BETA", "UTILITY");
	for (int i = 0; i < n; i++) {
		double beta = c->alpha * i / (n - 1), u;
		if (utility_at(c, beta, &u) < 0)
			return 1;
		if (json)
			printf("%s{\"beta\":%.17g,\"utility\":%.17g}", i ? "," : "", beta, u);
		else if (csv)
			printf("%.17g,%.17g\n", beta, u);
		else
			printf("%-14.6g %g\n", beta, u);
	}
	if (json)
		printf("]\n");
	return 0;
}

static int read_alpha(const char *key, double *alpha)
{
	json_t *d;
	int r = cl_describe(key, &d);

	if (r < 0)
		return r;
	if (strcmp(json_string_value(json_object_get(d, "type")), "clkey")) {
		json_decref(d);
		fprintf(stderr, "corelockerctl: %s is not a .clkey key\n", key);
		return CL_EINVAL;
	}
	*alpha = json_real_value(json_object_get(d, "alpha"));
	json_decref(d);
	return 0;
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},	     {"eval-cmd", required_argument, NULL, 'e'},
		{"target", required_argument, NULL, 't'},    {"tolerance", required_argument, NULL, 'T'},
		{"curve", required_argument, NULL, 'c'},     {"json", no_argument, NULL, 'j'},
		{"csv", no_argument, NULL, 'v'},	     {NULL, 0, NULL, 0},
	};
	static struct calib c;
	struct result res[MAX_TARGETS];
	double targets[MAX_TARGETS], tol = 1.5;
	int ntargets = 0, curve = 0, json = 0, csv = 0, ch, status = 0;
	uint64_t n;

	memset(&c, 0, sizeof(c));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
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
		default: return ctl_usage(&ctl_calibrate_cmd, "invalid option");
		}
	}
	if (optind != argc - 1 || !c.key || !c.cmd || (!ntargets && !curve))
		return ctl_usage(&ctl_calibrate_cmd, "LOCKED, -k, --eval-cmd and --target or --curve are required");
	if (!strstr(c.cmd, "{model}"))
		return ctl_usage(&ctl_calibrate_cmd, "--eval-cmd must contain {model}");
	c.locked = argv[optind];
	int r = read_alpha(c.key, &c.alpha);
	if (r == CL_EINVAL)
		return 1;
	if (r < 0)
		return ctl_fail(r);
	const char *tmp = getenv("TMPDIR");
	snprintf(c.dir, sizeof(c.dir), "%.40s/clcalib.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(c.dir)) {
		perror("corelockerctl: mkdtemp");
		return 1;
	}
	if (curve) {
		status = print_curve(&c, curve, json, csv);
		goto out;
	}
	for (int i = 0; i < ntargets; i++)
		if (search(&c, targets[i], tol, &res[i]) < 0) {
			status = 1;
			goto out;
		}
	if (json)
		printf("[");
	else if (!csv)
		printf("%-10s %-14s %-10s %-6s %s\n", "TARGET", "BETA", "UTILITY", "EVALS", "NOTE");
	else
		printf("target,beta,utility,evals,within_tolerance\n");
	for (int i = 0; i < ntargets; i++) {
		const struct result *x = &res[i];
		char note[256] = "";
		if (!x->within)
			miss_note(x, note, sizeof(note));
		if (json) {
			printf("%s{\"target\":%.17g,\"beta\":%.17g,\"utility\":%.17g,\"evals\":%d,\"within_tolerance\":%s",
			       i ? "," : "", x->target, x->beta, x->utility, x->evals, x->within ? "true" : "false");
			if (!x->within) /* the two measured tiers around the miss */
				printf(",\"bracket\":[{\"beta\":%.17g,\"utility\":%.17g},{\"beta\":%.17g,\"utility\":%.17g}]",
				       x->lo, x->ulo, x->hi, x->uhi);
			printf("}");
		} else if (csv) {
			printf("%.17g,%.17g,%.17g,%d,%d\n", x->target, x->beta, x->utility, x->evals, x->within);
		} else {
			printf("%-10g %-14.6g %-10g %-6d %s\n", x->target, x->beta, x->utility, x->evals, note);
		}
	}
	if (json)
		printf("]\n");
out:
	rmdir(c.dir);
	return status;
}
