/* main.c - corelockerctl: the owner's tool.  One table drives the commands. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl.h"

static const struct ctl_cmd *const commands[] = {
	&ctl_lock_cmd,
	&ctl_unlock_cmd,
	&ctl_inspect_cmd,
	&ctl_calibrate_cmd,
	&ctl_model_cmd,
	&ctl_tier_cmd,
	&ctl_license_cmd,
	&ctl_machine_cmd,
	&ctl_audit_cmd,
	&ctl_token_cmd,
	&ctl_trace_cmd,
};
/* The local commands' option tables, in the order above. */
static const struct ctl_opt *const local_opts[] = {ctl_lock_opts, ctl_unlock_opts, ctl_inspect_opts,
						   ctl_calibrate_opts};
/* Commands with subcommands answer --help themselves (remote.c). */
#define FIRST_REMOTE 4
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))
_Static_assert(sizeof(local_opts) / sizeof(local_opts[0]) == FIRST_REMOTE, "one option table per local command");

static void usage(FILE *f)
{
	fprintf(f, "usage: corelockerctl COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fprintf(f, "\n'corelockerctl COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("corelockerctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[1], commands[i]->name))
			continue;
		for (int a = 2; a < argc && i < FIRST_REMOTE; a++)
			if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
				ctl_help(commands[i], local_opts[i], stdout);
				return 0;
			}
		return commands[i]->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "corelockerctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
