/* cmd_license.c - corelockerctl license issue|list|show|update|revoke|suspend|reinstate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

static const struct col license_cols[] = {
    {"ID", "id", 5},
    {"MODEL", "model_name", 16},
    {"TIER", "tier", 12},
    {"CUSTOMER", "customer", 20},
    {"STATUS", "status", 10},
    {"SEATS", "machines", 5},
    {"MAX", "max_machines", 5},
    {"EXPIRES", "expires_at", 20},
    {NULL, NULL, 0},
};

static const struct col license_fields[] = {
    {"id", "id", 0},
    {"model", "model", 0},
    {"model name", "model_name", 0},
    {"tier", "tier", 0},
    {"customer", "customer", 0},
    {"status", "status", 0},
    {"expires", "expires_at", 0},
    {"machines", "machines", 0},
    {"max machines", "max_machines", 0},
    {"created", "created_at", 0},
    {"updated", "updated_at", 0},
    {NULL, NULL, 0},
};

static int show_result(struct remote *rc, int r, json_t *j)
{
	if (r)
		return r;
	remote_print_object(rc, j, license_fields);
	if (!rc->json && json_is_string(json_object_get(j, "key"))) { /* only at issue */
		printf("%-16s %s\n", "key", json_string_value(json_object_get(j, "key")));
		fprintf(stderr,
			"corelockerctl: the license key is shown only this once: give it to the customer\n");
	}
	json_decref(j);
	return RX_OK;
}

/* Add --tier, --expires-at and --max-machines (val[A..A+2]) to BODY; -1 on a bad number. */
static int add_common(json_t *body, const char **val, int a)
{
	json_int_t n;

	if (val[a])
		json_object_set_new(body, "tier", json_string(val[a]));
	if (val[a + 1])
		json_object_set_new(body, "expires_at", remote_expiry(val[a + 1]));
	if (val[a + 2]) {
		if (remote_int(val[a + 2], &n) < 0)
			return -1;
		json_object_set_new(body, "max_machines", json_integer(n));
	}
	return 0;
}

static int run_issue(struct remote *rc, char **args, const char **val)
{
	json_t *body, *j = NULL;
	int r;

	(void)args;
	if (!val[0] || !val[1] || !val[4])
		return remote_fail_usage(rc, "license issue needs --model, --tier and --customer");
	if (!(body = json_pack("{s:s,s:s}", "model", val[0], "customer", val[4])))
		return ctl_fail(CL_ENOMEM);
	if (add_common(body, val, 1) < 0) {
		json_decref(body);
		return remote_fail_usage(rc, "--max-machines '%s' is not a number", val[3]);
	}
	r = remote_call(rc, "POST", "/v1/licenses", body, &j);
	json_decref(body);
	return show_result(rc, r, j);
}

static int run_list(struct remote *rc, char **args, const char **val)
{
	static const char *const names[] = {"model", "customer", "status", "limit", "after"};
	char q[1024] = "/v1/licenses", *esc;
	size_t n = strlen(q);
	json_t *j;
	int r, first = 1;

	(void)args;
	for (int i = 0; i < 5; i++) {
		if (!val[i])
			continue;
		if (!(esc = clh_escape(val[i])))
			return ctl_fail(CL_ENOMEM);
		n += (size_t)snprintf(q + n, sizeof(q) - n, "%c%s=%s", first ? '?' : '&', names[i], esc);
		free(esc);
		first = 0;
		if (n >= sizeof(q))
			return remote_fail_usage(rc, "filters too long");
	}
	if ((r = remote_call(rc, "GET", q, NULL, &j)))
		return r;
	remote_print_list(rc, j, "licenses", license_cols);
	json_decref(j);
	return RX_OK;
}

static int by_id(struct remote *rc, const char *method, const char *fmt, const char *id, json_t *body)
{
	char *path = remote_path(fmt, id);
	json_t *j = NULL;
	int r;

	if (!path)
		return ctl_fail(CL_ENOMEM);
	r = remote_call(rc, method, path, body, &j);
	free(path);
	return show_result(rc, r, j);
}

static int run_show(struct remote *rc, char **args, const char **val)
{
	(void)val;
	return by_id(rc, "GET", "/v1/licenses/%s", args[0], NULL);
}

static int run_update(struct remote *rc, char **args, const char **val)
{
	json_t *body = json_object();
	int r;

	if (!body)
		return ctl_fail(CL_ENOMEM);
	if (add_common(body, val, 0) < 0) {
		json_decref(body);
		return remote_fail_usage(rc, "--max-machines '%s' is not a number", val[2]);
	}
	if (!json_object_size(body)) {
		json_decref(body);
		return remote_fail_usage(rc, "license update needs --tier, --expires-at or --max-machines");
	}
	r = by_id(rc, "PATCH", "/v1/licenses/%s", args[0], body);
	json_decref(body);
	return r;
}

static int run_revoke(struct remote *rc, char **args, const char **val)
{
	(void)val;
	return by_id(rc, "POST", "/v1/licenses/%s/revoke", args[0], NULL);
}

static int run_suspend(struct remote *rc, char **args, const char **val)
{
	(void)val;
	return by_id(rc, "POST", "/v1/licenses/%s/suspend", args[0], NULL);
}

static int run_reinstate(struct remote *rc, char **args, const char **val)
{
	(void)val;
	return by_id(rc, "POST", "/v1/licenses/%s/reinstate", args[0], NULL);
}

static const struct sub_opt issue_opts[] = {
    {"model", "MODEL", "the model, by id or name"},
    {"tier", "TIER", "the tier the license unlocks"},
    {"expires-at", "TIME", "RFC 3339 time (2027-01-01T00:00:00Z), or 'never' (the default)"},
    {"max-machines", "N", "how many machines may activate it (default 1)"},
    {"customer", "NAME", "who it is for"},
    {NULL, NULL, NULL},
};
static const struct sub_opt list_opts[] = {
    {"model", "MODEL", "only this model's licenses"},	      {"customer", "NAME", "only this customer's"},
    {"status", "S", "active, suspended, revoked or expired"}, {"limit", "N", "at most N (default 1000)"},
    {"after", "ID", "start after this license id"},	      {NULL, NULL, NULL},
};
static const struct sub_opt update_opts[] = {
    {"tier", "TIER", "move to another tier (upgrade or downgrade)"},
    {"expires-at", "TIME", "renew: a new expiry, or 'never'"},
    {"max-machines", "N", "a new seat count"},
    {NULL, NULL, NULL},
};

static const struct ctl_sub subs[] = {
    {"issue", "", 0, "issue a license; its key is printed once", issue_opts, run_issue},
    {"list", "", 0, "list licenses, with filters", list_opts, run_list},
    {"show", "ID", 1, "show a license", NULL, run_show},
    {"update", "ID", 1, "change a license's tier, expiry or seats", update_opts, run_update},
    {"revoke", "ID", 1, "revoke a license, for good", NULL, run_revoke},
    {"suspend", "ID", 1, "suspend a license", NULL, run_suspend},
    {"reinstate", "ID", 1, "lift a suspension", NULL, run_reinstate},
};

static int run(int argc, char **argv)
{
	return remote_main(&ctl_license_cmd, subs, sizeof(subs) / sizeof(subs[0]), argc, argv);
}

const struct ctl_cmd ctl_license_cmd = {
    "license",
    "remote: issue, list, change, revoke, suspend and reinstate licenses",
    "issue|list|show|update|revoke|suspend|reinstate ...",
    run,
};
