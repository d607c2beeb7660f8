/* cmd_lock.c - corelockerctl lock: extract the key from a model. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int run(int argc, char **argv);

const struct ctl_opt ctl_lock_opts[] = {
	{'o', "output", 'o', "LOCKED", "write the locked model to LOCKED (a directory for a sharded one)"},
	{'k', "key", 'k', "KEY", "write the key (the owner's secret, mode 0600) to KEY"},
	{0, "ratio", 'r', "A", "fraction of the units to extract, in (0, 0.5]"},
	{0, "unit", 'u', "UNIT", "element (default), neuron or channel; auto with --target-utility"},
	{0, "scope", 's', "SCOPE", "global (default), layer or global-norm; auto with --target-utility"},
	{0, "include", 'i', "RE", "lock only tensors whose name matches RE"},
	{0, "exclude", 'x', "RE", "never lock tensors whose name matches RE"},
	{0, "select", 'S', "HOW", "top (default) or random: a baseline that never protects"},
	{0, "seed", 'e', "N", "the seed of --select random"},
	{0, "fill", 'F', "FILL", "what replaces extracted units: zero (default), resample or flip"},
	{0, "target-utility", 't', "U", "search the smallest key whose locked utility reaches U"},
	{0, "eval-cmd", 'E', "CMD", "with --target-utility: prints the utility of {model}"},
	{0, "max-ratio", 'M', "A", "with --target-utility: the largest ratio tried (default 0.5)"},
	{0, "allow-whole-tensor", 'W', NULL, "with --target-utility: accept locks that empty a tensor"},
	{0, "attack-cmd", 'A', "CMD", "with --target-utility: prints the attack advantage of {model}"},
	{0, "max-attack", 'X', "A", "with --attack-cmd: accept only locks whose advantage is at most A"},
	{0, "json", 'j', NULL, "print the result as one JSON object"},
	{0, "quiet", 'q', NULL, "with --target-utility: no progress lines on stderr"},
	{0},
};

const struct ctl_cmd ctl_lock_cmd = {
	"lock", "lock a model: extract its most significant units into a key",
	"MODEL -o LOCKED -k KEY --ratio A [--unit element|neuron|channel] [--scope global|layer|global-norm]\n"
	"       [--include RE] [--exclude RE] [--select top|random] [--seed N] [--fill FILL] [--json]\n"
	"   or: corelockerctl lock MODEL -o LOCKED -k KEY --target-utility U --eval-cmd 'CMD {model}'\n"
	"       [--unit auto|UNIT] [--scope auto|SCOPE] [--max-ratio A] [--allow-whole-tensor]\n"
	"       [--max-attack A --attack-cmd 'CMD {model}'] [--fill FILL] [--include RE] [--exclude RE] [--json] [--quiet]",
	run,
};

static int run(int argc, char **argv)
{
	/* Default unit and scope: the measured best unrestricted setting (docs/utility.md). */
	struct cl_lock_opts o = {.ratio = -1, .unit = CL_UNIT_ELEMENT, .scope = CL_SCOPE_GLOBAL,
				 .progress = ctl_progress};
	struct ctl_autolock a = {.target = NAN, .max_ratio = 0.5, .unit = -1, .scope = -1};
	struct cl_lock_stats st;
	const char *out = NULL, *key = NULL;
	int c, json = 0, r, unit_set = 0, scope_set = 0, ratio_set = 0, attack_set = 0;

	optind = 1;
	while ((c = ctl_getopt(argc, argv, ctl_lock_opts)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'k': key = optarg; break;
		case 'r':
			if (ctl_parse_double(optarg, &o.ratio) < 0)
				return ctl_usage(&ctl_lock_cmd, "--ratio '%s' is not a number", optarg);
			ratio_set = 1;
			break;
		case 'u':
			unit_set = 1;
			if (!strcmp(optarg, "auto"))
				a.unit = -1, unit_set = 2;
			else if ((o.unit = a.unit = cl_unit_parse(optarg)) < 0)
				return ctl_usage(&ctl_lock_cmd, "unknown --unit '%s'", optarg);
			break;
		case 's':
			scope_set = 1;
			if (!strcmp(optarg, "auto"))
				a.scope = -1, scope_set = 2;
			else if ((o.scope = a.scope = cl_scope_parse(optarg)) < 0)
				return ctl_usage(&ctl_lock_cmd, "unknown --scope '%s'", optarg);
			break;
		case 't':
			if (ctl_parse_double(optarg, &a.target) < 0)
				return ctl_usage(&ctl_lock_cmd, "--target-utility '%s' is not a number", optarg);
			break;
		case 'E': a.eval_cmd = optarg; break;
		case 'W': a.allow_whole_tensor = 1; break;
		case 'A': a.attack_cmd = optarg; break;
		case 'X':
			if (ctl_parse_double(optarg, &a.max_attack) < 0)
				return ctl_usage(&ctl_lock_cmd, "--max-attack '%s' is not a number", optarg);
			attack_set = 1;
			break;
		case 'q': a.quiet = 1; break;
		case 'M':
			if (ctl_parse_double(optarg, &a.max_ratio) < 0 || !(a.max_ratio > 0 && a.max_ratio <= 0.5))
				return ctl_usage(&ctl_lock_cmd, "--max-ratio '%s' is not in (0, 0.5]", optarg);
			break;
		case 'i': o.include = optarg; break;
		case 'x': o.exclude = optarg; break;
		case 'S':
			if (strcmp(optarg, "top") && strcmp(optarg, "random"))
				return ctl_usage(&ctl_lock_cmd, "unknown --select '%s'", optarg);
			o.select = strcmp(optarg, "top") ? CL_SELECT_RANDOM : CL_SELECT_TOP;
			break;
		case 'e':
			if (ctl_parse_u64(optarg, &o.seed) < 0)
				return ctl_usage(&ctl_lock_cmd, "--seed '%s' is not a non-negative integer", optarg);
			break;
		case 'F':
			if ((o.fill = cl_fill_parse(optarg)) < 0)
				return ctl_usage(&ctl_lock_cmd, "unknown --fill '%s' (zero, resample or flip)", optarg);
			break;
		case 'j': json = 1; break;
		default: return ctl_usage(&ctl_lock_cmd, "invalid option");
		}
	}
	if (optind != argc - 1)
		return ctl_usage(&ctl_lock_cmd, "expected exactly one MODEL");
	if (!out || !key)
		return ctl_usage(&ctl_lock_cmd, "-o and -k are required");
	if (!isnan(a.target) || a.eval_cmd) {
		if (isnan(a.target) || !a.eval_cmd || ratio_set)
			return ctl_usage(&ctl_lock_cmd, "--target-utility and --eval-cmd go together, without --ratio");
		if (!strstr(a.eval_cmd, "{model}"))
			return ctl_usage(&ctl_lock_cmd, "--eval-cmd must contain {model}");
		if (attack_set != !!a.attack_cmd)
			return ctl_usage(&ctl_lock_cmd, "--max-attack and --attack-cmd go together");
		if (a.attack_cmd && !strstr(a.attack_cmd, "{model}"))
			return ctl_usage(&ctl_lock_cmd, "--attack-cmd must contain {model}");
		return ctl_autolock(argv[optind], out, key, &o, &a, json);
	}
	if (unit_set == 2 || scope_set == 2 || a.allow_whole_tensor || attack_set || a.attack_cmd)
		return ctl_usage(&ctl_lock_cmd, "--unit auto, --scope auto, --allow-whole-tensor and --max-attack "
						"need --target-utility");
	if (!ratio_set)
		return ctl_usage(&ctl_lock_cmd, "--ratio is required (or --target-utility with --eval-cmd)");
	if (!(o.ratio > 0 && o.ratio <= 0.5))
		return ctl_usage(&ctl_lock_cmd, "--ratio %g is outside (0, 0.5]", o.ratio);
	if ((r = cl_lock(argv[optind], out, key, &o, &st)) < 0)
		return ctl_fail(r);
	ctl_progress_end();
	ctl_print_lock(out, key, &o, &st, json);
	if (json)
		putchar('\n');
	return 0;
}

void ctl_print_lock(const char *out, const char *key, const struct cl_lock_opts *o, const struct cl_lock_stats *st,
		    int json)
{
	char a[32], b[32];

	if (json) { /* through jansson: paths may hold quotes or control characters */
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:f, s:I, s:I, s:I, s:I}", "locked", out, "key", key,
				      "unit", cl_unit_name(o->unit), "scope", cl_scope_name(o->scope), "ratio",
				      o->ratio, "units_total", (json_int_t)st->units_total, "units_locked",
				      (json_int_t)st->units_locked, "model_bytes", (json_int_t)st->model_bytes,
				      "key_bytes", (json_int_t)st->key_bytes);
		json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
		json_decref(j);
		return;
	}
	printf("locked %llu of %llu %s units (%s scope, ratio %g) in %llu tensors\n",
	       (unsigned long long)st->units_locked, (unsigned long long)st->units_total, cl_unit_name(o->unit),
	       cl_scope_name(o->scope), o->ratio, (unsigned long long)st->tensors_touched);
	printf("model %s, key %s (%.3f%% of the model)\n", ctl_bytes(st->model_bytes, a, sizeof(a)),
	       ctl_bytes(st->key_bytes, b, sizeof(b)),
	       st->model_bytes ? 100.0 * (double)st->key_bytes / (double)st->model_bytes : 0.0);
}
