/* cmd_unlock.c - corelockerctl unlock: the owner's offline restore of a tier. */
#include <getopt.h>
#include <stdio.h>

#include "ctl.h"

static int run(int argc, char **argv);

const struct ctl_cmd ctl_unlock_cmd = {
	"unlock", "restore a tier (or, by default, the original) from a key, offline",
	"LOCKED -k KEY [--tier-ratio B] -o OUT",
	run,
};

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"key", required_argument, NULL, 'k'},
		{"tier-ratio", required_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL, *key = NULL;
	double beta = 0;
	uint64_t restored = 0;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:k:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'k': key = optarg; break;
		case 'b':
			if (ctl_parse_double(optarg, &beta) < 0)
				return ctl_usage(&ctl_unlock_cmd, "--tier-ratio '%s' is not a number", optarg);
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
