/* cmd_unlock.c - corelockerctl unlock: the owner's offline restore of a tier. */
#include <stdio.h>

#include "ctl.h"

static int run(int argc, char **argv);

const struct ctl_opt ctl_unlock_opts[] = {
	{'o', "output", 'o', "OUT", "write the restored model to OUT (a directory for a sharded one)"},
	{'k', "key", 'k', "KEY", "the model's .clkey"},
	{0, "tier-ratio", 'b', "B", "restore the tier whose ratio is B, in [0, the key's ratio]; default 0"},
	{0},
};

const struct ctl_cmd ctl_unlock_cmd = {
	"unlock", "restore a tier (or, by default, the original) from a key, offline",
	"LOCKED -k KEY [--tier-ratio B] -o OUT",
	run,
};

static int run(int argc, char **argv)
{
	const char *out = NULL, *key = NULL;
	double beta = 0;
	uint64_t restored = 0;
	int c, r;

	optind = 1;
	while ((c = ctl_getopt(argc, argv, ctl_unlock_opts)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'k': key = optarg; break;
		case 'b':
			if (ctl_parse_double(optarg, &beta) < 0)
				return ctl_usage(&ctl_unlock_cmd, "--tier-ratio '%s' is not a number", optarg);
			if (!(beta >= 0 && beta <= 0.5)) /* the key's own ratio is checked with the key */
				return ctl_usage(&ctl_unlock_cmd, "--tier-ratio %g is outside [0, 0.5]", beta);
			break;
		default: return ctl_usage(&ctl_unlock_cmd, "invalid option");
		}
	}
	if (optind != argc - 1)
		return ctl_usage(&ctl_unlock_cmd, "expected exactly one LOCKED model");
	if (!out || !key)
		return ctl_usage(&ctl_unlock_cmd, "-o and -k are required");
	if ((r = cl_unlock(argv[optind], key, beta, out, &restored)) < 0)
		return ctl_fail(r);
	printf("restored %llu units: %s is tier %g%s\n", (unsigned long long)restored, out, beta,
	       beta == 0 ? " (the original, SHA-256 verified)" : "");
	return 0;
}
