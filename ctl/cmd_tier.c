/* cmd_tier.c - corelockerctl tier set|list|rm: the tiers the daemon cuts from a key. */
#include <stdio.h>
#include <stdlib.h>

#include "remote.h"

extern const struct col ctl_tier_cols[];

static const struct col tier_fields[] = {
    {"tier", "name", 0},   {"ratio", "ratio", 0},	 {"utility", "utility", 0},
    {"label", "label", 0}, {"units", "units", 0},	 {"spans", "entries", 0},
    {"bytes", "bytes", 0}, {"fingerprint", "fingerprint", 0}, {"created", "created_at", 0},
    {"updated", "updated_at", 0}, {NULL, NULL, 0},
};

static int run_set(struct remote *rc, char **args, const char **val)
{
	json_t *body, *j, *label = NULL;
	double ratio, utility = 0;
	char *path;
	int r;

	if (!val[0] || ctl_parse_double(val[0], &ratio) < 0)
		return remote_fail_usage(rc, "tier set needs --ratio B, a number in [0, alpha]");
	if (val[1] && ctl_parse_double(val[1], &utility) < 0)
		return remote_fail_usage(rc, "--utility needs a number (the utility measured at this ratio)");
	if (val[2] && !val[1])
		return remote_fail_usage(rc, "--label names the scale of --utility: give --utility too");
	if (val[2] && !(label = json_string(val[2])))
		return remote_fail_usage(rc, "--label must be UTF-8 text");
	path = remote_path("/v1/models/%s/tiers/%s", args[0], args[1]);
	body = json_pack("{s:f}", "ratio", ratio);
	if (!path || !body || (val[1] && json_object_set_new(body, "utility", json_real(utility)) < 0) ||
	    (label && json_object_set_new(body, "label", label) < 0) ||
	    (val[3] && json_object_set_new(body, "fingerprint", json_true()) < 0)) {
		free(path);
		json_decref(body);
		return ctl_fail(CL_ENOMEM);
	}
	r = remote_call(rc, "PUT", path, body, &j);
	json_decref(body);
	free(path);
	if (r)
		return r;
	remote_print_object(rc, j, tier_fields);
	json_decref(j);
	return RX_OK;
}

static int run_list(struct remote *rc, char **args, const char **val)
{
	(void)val;
	return remote_list(rc, "tiers", ctl_tier_cols, "/v1/models/%s/tiers", args[0]);
}

static int run_rm(struct remote *rc, char **args, const char **val)
{
	char done[512];

	(void)val;
	snprintf(done, sizeof(done), "tier %s of model %s deleted", args[1], args[0]);
	return remote_delete(rc, args[1], done, "/v1/models/%s/tiers/%s", args[0], args[1]);
}

static const struct sub_opt set_opts[] = {
    {"ratio", "B", "the fraction of units that stay extracted, in [0, alpha]; 0 is the full model"},
    {"utility", "U",
     "the utility measured at this ratio (e.g. by calibrate), on any scale; shown by the console"},
    {"label", "L", "what U measures, e.g. 'top-1 accuracy %' (needs --utility)"},
    {"fingerprint", NULL, "give every license its own marked values, for corelockerctl trace"},
    {NULL, NULL, NULL},
};

static const struct ctl_sub subs[] = {
    {"set", "MODEL TIER", 2, "create a tier, or cut it again at another ratio", set_opts, run_set},
    {"list", "MODEL", 1, "list a model's tiers, highest ratio first", NULL, run_list},
    {"rm", "MODEL TIER", 2, "delete a tier no license uses", NULL, run_rm},
};

static int run(int argc, char **argv)
{
	return remote_main(&ctl_tier_cmd, subs, sizeof(subs) / sizeof(subs[0]), argc, argv);
}

const struct ctl_cmd ctl_tier_cmd = {
    "tier",
    "remote: set, list and delete the tiers of a model",
    "set|list|rm ...",
    run,
};
