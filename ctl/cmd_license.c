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
    {"lease seconds", "lease_seconds", 0},
    {"floating", "floating", 0},
    {"max checkout", "max_checkout", 0},
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

/* The options issue and update share, in this order after issue's own. */
enum field_kind { F_TEXT, F_EXPIRY, F_INT, F_INT_OR_NONE, F_BOOL };
static const struct {
	const char *opt, *field;
	enum field_kind kind;
} common[] = {
	{"tier", "tier", F_TEXT},
	{"expires-at", "expires_at", F_EXPIRY},
	{"max-machines", "max_machines", F_INT},
	{"lease-seconds", "lease_seconds", F_INT_OR_NONE},
	{"floating", "floating", F_BOOL},
	{"max-checkout", "max_checkout", F_INT},
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))

/* Add the common options given (val[A..]) to BODY; 0, or a usage failure. */
static int add_common(struct remote *rc, json_t *body, const char **val, int a)
{
	json_int_t n;
	json_t *v;

	for (size_t i = 0; i < NCOMMON; i++) {
		const char *s = val[a + (int)i];
		if (!s)
			continue;
		switch (common[i].kind) {
		case F_TEXT:
			v = json_string(s);
			break;
		case F_EXPIRY:
			v = remote_expiry(s);
			break;
		case F_BOOL:
			if (strcmp(s, "yes") && strcmp(s, "no"))
				return remote_fail_usage(rc, "--%s must be yes or no, not '%s'", common[i].opt, s);
			v = json_boolean(!strcmp(s, "yes"));
			break;
		default:
			if (common[i].kind == F_INT_OR_NONE && !strcmp(s, "none")) {
				v = json_null();
				break;
			}
			if (remote_int(s, &n) < 0)
				return remote_fail_usage(rc, "--%s '%s' is not a number%s", common[i].opt, s,
							 common[i].kind == F_INT_OR_NONE ? " (or 'none')" : "");
			v = json_integer(n);
		}
		json_object_set_new(body, common[i].field, v);
	}
	return 0;
}

static int run_issue(struct remote *rc, char **args, const char **val)
{
	json_t *body, *j = NULL;
	int r;

	(void)args;
	if (!val[0] || !val[1] || !val[2])
		return remote_fail_usage(rc, "license issue needs --model, --tier and --customer");
	if (!(body = json_pack("{s:s,s:s}", "model", val[0], "customer", val[1])))
		return ctl_fail(CL_ENOMEM);
	if ((r = add_common(rc, body, val, 2))) {
		json_decref(body);
		return r;
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
	if ((r = add_common(rc, body, val, 0))) {
		json_decref(body);
		return r;
	}
	if (!json_object_size(body)) {
		json_decref(body);
		return remote_fail_usage(rc, "license update needs at least one of --tier, --expires-at, --max-machines, "
					     "--lease-seconds, --floating, --max-checkout");
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
    {"customer", "NAME", "who it is for"},
    {"tier", "TIER", "the tier the license unlocks"},
    {"expires-at", "TIME", "RFC 3339 time (2027-01-01T00:00:00Z), or 'never' (the default)"},
    {"max-machines", "N", "how many machines may activate it (default 1)"},
    {"lease-seconds", "S", "heartbeat lease of each seat, 1 to 2592000 s, or 'none' (the default)"},
    {"floating", "yes|no", "yes: a seat whose lease lapsed goes to another machine (default no)"},
    {"max-checkout", "S", "longest offline checkout in seconds (default 0: none)"},
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
    {"lease-seconds", "S", "a new lease, or 'none'"},
    {"floating", "yes|no", "yes or no"},
    {"max-checkout", "S", "a new longest checkout (0: none)"},
    {NULL, NULL, NULL},
};

static const struct ctl_sub subs[] = {
    {"issue", "", 0, "issue a license; its key is printed once", issue_opts, run_issue},
    {"list", "", 0, "list licenses, with filters", list_opts, run_list},
    {"show", "ID", 1, "show a license", NULL, run_show},
    {"update", "ID", 1, "change a license's tier, expiry, seats or lease", update_opts, run_update},
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
