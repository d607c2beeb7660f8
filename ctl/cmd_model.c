/* cmd_model.c - corelockerctl model push|list|show|rm: the keys the daemon holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

static const struct col model_cols[] = {
    {"ID", "id", 4},
    {"NAME", "name", 20},
    {"VERSION", "version", 8},
    {"UNIT", "unit", 8},
    {"SCOPE", "scope", 7},
    {"ALPHA", "alpha", 8},
    {"UNITS", "units_locked", 10},
    {"KEY BYTES", "key_bytes", 10},
    {"CREATED", "created_at", 20},
    {NULL, NULL, 0},
};

static const struct col model_fields[] = {
    {"id", "id", 0},
    {"name", "name", 0},
    {"version", "version", 0},
    {"unit", "unit", 0},
    {"scope", "scope", 0},
    {"alpha", "alpha", 0},
    {"units locked", "units_locked", 0},
    {"units finite", "units_finite", 0},
    {"key bytes", "key_bytes", 0},
    {"locked sha256", "locked_sha256", 0},
    {"original sha256", "original_sha256", 0},
    {"key sha256", "key_sha256", 0},
    {"shards", "shards", 0},
    {"created", "created_at", 0},
    {NULL, NULL, 0},
};

const struct col ctl_tier_cols[] = {
    {"TIER", "name", 16},   {"RATIO", "ratio", 10},	   {"UTILITY", "utility", 10}, {"UNITS", "units", 10},
    {"SPANS", "entries", 10}, {"BYTES", "bytes", 10}, {"FP", "fingerprint", 4}, {"UPDATED", "updated_at", 20},
    {NULL, NULL, 0},
};

static int show(struct remote *rc, json_t *m)
{
	remote_print_object(rc, m, model_fields);
	if (!rc->json && json_array_size(json_object_get(m, "tiers"))) {
		printf("\n");
		remote_print_list(rc, m, "tiers", ctl_tier_cols);
	}
	return RX_OK;
}

static int run_push(struct remote *rc, char **args, const char **val)
{
	json_t *m;
	char *path;
	int r;

	if (!val[0])
		return remote_fail_usage(rc, "model push needs --name NAME");
	if (!(path = remote_path("/v1/models?name=%s&version=%s", val[0], val[1] ? val[1] : "1")))
		return ctl_fail(CL_ENOMEM);
	r = remote_upload(rc, path, args[0], &m);
	free(path);
	if (r)
		return r;
	show(rc, m);
	json_decref(m);
	return RX_OK;
}

static int run_list(struct remote *rc, char **args, const char **val)
{
	(void)args, (void)val;
	return remote_list(rc, "models", model_cols, "/v1/models");
}

static int run_show(struct remote *rc, char **args, const char **val)
{
	json_t *j;
	int r = remote_callf(rc, "GET", NULL, &j, "/v1/models/%s", args[0]);

	(void)val;
	if (r)
		return r;
	show(rc, j);
	json_decref(j);
	return RX_OK;
}

static int run_rm(struct remote *rc, char **args, const char **val)
{
	char done[512];

	(void)val;
	snprintf(done, sizeof(done), "model %s deleted", args[0]);
	return remote_delete(rc, args[0], done, "/v1/models/%s", args[0]);
}

static const struct sub_opt push_opts[] = {
    {"name", "NAME", "the model's name (1 to 64 of [A-Za-z0-9._+-])"},
    {"version", "V", "its version (default 1)"},
    {NULL, NULL, NULL},
};

static const struct ctl_sub subs[] = {
    {"push", "KEY.clkey", 1, "store a .clkey on the server (streamed; a progress bar on a TTY)", push_opts,
     run_push},
    {"list", "", 0, "list the stored models", NULL, run_list},
    {"show", "MODEL", 1, "show a model (by id, or by name for its newest version) and its tiers", NULL,
     run_show},
    {"rm", "MODEL", 1, "delete a model, its tiers and its revoked or expired licenses", NULL, run_rm},
};

static int run(int argc, char **argv)
{
	return remote_main(&ctl_model_cmd, subs, sizeof(subs) / sizeof(subs[0]), argc, argv);
}

const struct ctl_cmd ctl_model_cmd = {
    "model",
    "remote: store, list, show and delete model keys on corelockerd",
    "push|list|show|rm ...",
    run,
};
