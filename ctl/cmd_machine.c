/* cmd_machine.c - corelockerctl machine list|rm: the seats of a license. */
#include <stdio.h>
#include <stdlib.h>

#include "remote.h"

static const struct col machine_cols[] = {
    {"ID", "id", 5},
    {"FINGERPRINT", "fingerprint", 64},
    {"HOSTNAME", "hostname", 20},
    {"ACTIVATED", "activated_at", 20},
    {"LAST SEEN", "last_seen", 20},
    {NULL, NULL, 0},
};

static int run_list(struct remote *rc, char **args, const char **val)
{
	(void)val;
	return remote_list(rc, "machines", machine_cols, "/v1/licenses/%s/machines", args[0]);
}

static int run_rm(struct remote *rc, char **args, const char **val)
{
	char done[512];

	(void)val;
	snprintf(done, sizeof(done), "machine %s of license %s deleted: its seat is free", args[1], args[0]);
	return remote_delete(rc, args[1], done, "/v1/licenses/%s/machines/%s", args[0], args[1]);
}

static const struct ctl_sub subs[] = {
    {"list", "LICENSE", 1, "list the machines holding seats of a license", NULL, run_list},
    {"rm", "LICENSE MACHINE", 2, "free a machine's seat", NULL, run_rm},
};

static int run(int argc, char **argv)
{
	return remote_main(&ctl_machine_cmd, subs, sizeof(subs) / sizeof(subs[0]), argc, argv);
}

const struct ctl_cmd ctl_machine_cmd = {
    "machine",
    "remote: list and free the machine seats of a license",
    "list|rm ...",
    run,
};
