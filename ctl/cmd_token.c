/* cmd_token.c - corelockerctl token list|create|delete: the daemon's admin tokens. */
#include <stdio.h>

#include "remote.h"

static const struct col token_cols[] = {
    {"ID", "id", 5},		  {"NAME", "name", 20},	       {"SCOPE", "scope", 6},
    {"CREATED", "created_at", 20}, {"EXPIRES", "expires_at", 20}, {"EXPIRED", "expired", 7},
    {"CURRENT", "current", 7},	  {NULL, NULL, 0},
};

static const struct col token_fields[] = {
    {"id", "id", 0},		  {"name", "name", 0},		 {"scope", "scope", 0},
    {"created", "created_at", 0}, {"expires", "expires_at", 0}, {NULL, NULL, 0},
};

static int run_list(struct remote *rc, char **args, const char **val)
{
	(void)args;
	(void)val;
	return remote_list(rc, "tokens", token_cols, "/v1/tokens");
}

static int run_create(struct remote *rc, char **args, const char **val)
{
	json_t *body, *j = NULL;
	int r;

	if (!(body = json_pack("{s:s,s:s}", "name", args[0], "scope", val[0] ? val[0] : "admin")))
		return ctl_fail(CL_ENOMEM);
	if (val[1])
		json_object_set_new(body, "expires_at", remote_expiry(val[1]));
	r = remote_call(rc, "POST", "/v1/tokens", body, &j);
	json_decref(body);
	if (r)
		return r;
	remote_print_object(rc, j, token_fields);
	if (!rc->json && json_is_string(json_object_get(j, "token"))) {
		printf("%-16s %s\n", "token", json_string_value(json_object_get(j, "token")));
		fprintf(stderr, "corelockerctl: the token is shown only this once\n");
	}
	json_decref(j);
	return RX_OK;
}

static int run_delete(struct remote *rc, char **args, const char **val)
{
	(void)val;
	return remote_delete(rc, args[0], "deleted", "/v1/tokens/%s", args[0]);
}

static const struct sub_opt create_opts[] = {
    {"scope", "S", "admin (everything, the default) or read (GET only)"},
    {"expires-at", "TIME", "RFC 3339 time after which the token is refused, or 'never' (the default)"},
    {NULL, NULL, NULL},
};

static const struct ctl_sub subs[] = {
    {"list", "", 0, "list the admin tokens (never their secrets)", NULL, run_list},
    {"create", "NAME", 1, "create a token; its secret is printed once", create_opts, run_create},
    {"delete", "ID", 1, "delete a token: it is refused from its next use (not the last admin one)", NULL,
     run_delete},
};

static int run(int argc, char **argv)
{
	return remote_main(&ctl_token_cmd, subs, sizeof(subs) / sizeof(subs[0]), argc, argv);
}

const struct ctl_cmd ctl_token_cmd = {
    "token",
    "remote: list, create and delete the daemon's admin tokens",
    "list|create|delete ...",
    run,
};
