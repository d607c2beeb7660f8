/* cmd_lock.c - corelockerctl lock: extract the key from a model. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int run(int argc, char **argv);

const struct ctl_cmd ctl_lock_cmd = {
	"lock", "lock a model: extract its most significant units into a key",
	"MODEL -o LOCKED -k KEY --ratio A [--unit element|neuron|channel] [--scope layer|global|global-norm]\n"
	"       [--include RE] [--exclude RE] [--select top|random] [--seed N] [--json]",
	run,
};

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"key", required_argument, NULL, 'k'},
		{"ratio", required_argument, NULL, 'r'},  {"unit", required_argument, NULL, 'u'},
		{"scope", required_argument, NULL, 's'},  {"include", required_argument, NULL, 'i'},
		{"exclude", required_argument, NULL, 'x'}, {"select", required_argument, NULL, 'S'},
		{"seed", required_argument, NULL, 'e'},   {"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	struct cl_lock_opts o = {.ratio = -1, .unit = CL_UNIT_ELEMENT, .scope = CL_SCOPE_LAYER,
				 .progress = ctl_progress};
	struct cl_lock_stats st;
	const char *out = NULL, *key = NULL;
	int c, json = 0, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:k:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'k': key = optarg; break;
		case 'r':
			if (ctl_parse_double(optarg, &o.ratio) < 0)
				return ctl_usage(&ctl_lock_cmd, "--ratio '%s' is not a number", optarg);
			break;
		case 'u':
			if ((o.unit = cl_unit_parse(optarg)) < 0)
				return ctl_usage(&ctl_lock_cmd, "unknown --unit '%s'", optarg);
			break;
		case 's':
			if ((o.scope = cl_scope_parse(optarg)) < 0)
				return ctl_usage(&ctl_lock_cmd, "unknown --scope '%s'", optarg);
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
		case 'j': json = 1; break;
		default: return ctl_usage(&ctl_lock_cmd, "invalid option");
		}
	}
	if (optind != argc - 1)
		return ctl_usage(&ctl_lock_cmd, "expected exactly one MODEL");
	if (!out || !key || o.ratio < 0)
		return ctl_usage(&ctl_lock_cmd, "-o, -k and --ratio are required");
	if ((r = cl_lock(argv[optind], out, key, &o, &st)) < 0)
		return ctl_fail(r);
	ctl_progress_end();
	if (json) {
		printf("{\"locked\":\"%s\",\"key\":\"%s\",\"unit\":\"%s\",\"scope\":\"%s\",\"ratio\":%.17g,"
		       "\"units_total\":%llu,\"units_locked\":%llu,\"model_bytes\":%llu,\"key_bytes\":%llu}\n",
		       out, key, cl_unit_name(o.unit), cl_scope_name(o.scope), o.ratio,
		       (unsigned long long)st.units_total, (unsigned long long)st.units_locked,
		       (unsigned long long)st.model_bytes, (unsigned long long)st.key_bytes);
	} else {
		char a[32], b[32];
		printf("locked %llu of %llu %s units (%s scope, ratio %g) in %llu tensors\n",
		       (unsigned long long)st.units_locked, (unsigned long long)st.units_total,
		       cl_unit_name(o.unit), cl_scope_name(o.scope), o.ratio,
		       (unsigned long long)st.tensors_touched);
		printf("model %s, key %s (%.3f%% of the model)\n", ctl_bytes(st.model_bytes, a, sizeof(a)),
		       ctl_bytes(st.key_bytes, b, sizeof(b)),
		       st.model_bytes ? 100.0 * (double)st.key_bytes / (double)st.model_bytes : 0.0);
	}
	return 0;
}
