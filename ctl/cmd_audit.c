/* cmd_audit.c - corelockerctl audit: read the daemon's append-only audit log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

static const struct col audit_cols[] = {
    {"SEQ", "seq", 6},	      {"TIME", "ts", 20},	    {"ACTOR", "actor", 18}, {"ACTION", "action", 18},
    {"TARGET", "target", 28}, {"DETAIL", "detail_text", 0}, {NULL, NULL, 0},
};

static int run_show(struct remote *rc, char **args, const char **val)
{
	char q[256] = "/v1/audit";
	json_int_t since = 0, limit = 0;
	json_t *j;
	int r;

	(void)args;
	if (val[0] && remote_int(val[0], &since) < 0)
		return remote_fail_usage(rc, "--since '%s' is not a sequence number", val[0]);
	if (val[1] && remote_int(val[1], &limit) < 0)
		return remote_fail_usage(rc, "--limit '%s' is not a number", val[1]);
	snprintf(q, sizeof(q), "/v1/audit?since=%lld", (long long)since);
	if (val[1])
		snprintf(q + strlen(q), sizeof(q) - strlen(q), "&limit=%lld", (long long)limit);
	if ((r = remote_call(rc, "GET", q, NULL, &j)))
		return r;
	remote_print_list(rc, j, "entries", audit_cols);
	json_decref(j);
	return RX_OK;
}

/* The daemon verifies the whole chain (hashes and keyed macs) on every GET. */
static int run_verify(struct remote *rc, char **args, const char **val)
{
	json_t *j, *c;
	int r, good;

	(void)args;
	(void)val;
	if ((r = remote_call(rc, "GET", "/v1/audit?limit=1", NULL, &j)))
		return r;
	c = json_object_get(j, "chain");
	if (!json_is_object(c) || !json_is_boolean(json_object_get(c, "ok"))) {
		json_decref(j);
		fprintf(stderr, "corelockerctl: GET /v1/audit: the answer has no chain status\n");
		return RX_ERROR;
	}
	good = json_is_true(json_object_get(c, "ok"));
	if (rc->json) {
		char *text = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
		printf("%s\n", text ? text : "null");
		free(text);
	} else if (good) {
		printf("audit chain ok: %lld entries (%lld keyed)\n",
		       (long long)json_integer_value(json_object_get(c, "entries")),
		       (long long)json_integer_value(json_object_get(c, "keyed")));
	} else {
		printf("audit chain BROKEN at entry %lld: %s\n",
		       (long long)json_integer_value(json_object_get(c, "bad_seq")),
		       json_string_value(json_object_get(c, "reason")) ? json_string_value(json_object_get(c, "reason")) : "?");
	}
	json_decref(j);
	return good ? RX_OK : RX_ERROR;
}

static const struct sub_opt show_opts[] = {
    {"since", "N", "only entries whose sequence number is above N"},
    {"limit", "M", "at most M entries"},
    {NULL, NULL, NULL},
};

static const struct ctl_sub subs[] = {
    {"show", "", 0, "print the audit log, oldest first (the default)", show_opts, run_show},
    {"verify", "", 0, "have the daemon verify the keyed hash chain; exit 1 if broken", NULL, run_verify},
};
#define NSUBS (sizeof(subs) / sizeof(subs[0]))

static int run(int argc, char **argv)
{
	char *args[64];
	int n = 0;

	/* corelockerctl audit [OPTIONS] means corelockerctl audit show [OPTIONS] */
	if (argc < 2 || (strcmp(argv[1], "show") && strcmp(argv[1], "verify") && strcmp(argv[1], "--help") &&
			 strcmp(argv[1], "-h"))) {
		if (argc + 1 > (int)(sizeof(args) / sizeof(args[0])))
			return 2;
		args[n++] = argv[0];
		args[n++] = (char *)"show";
		for (int i = 1; i < argc; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		return remote_main(&ctl_audit_cmd, subs, NSUBS, n, args);
	}
	return remote_main(&ctl_audit_cmd, subs, NSUBS, argc, argv);
}

const struct ctl_cmd ctl_audit_cmd = {
    "audit",
    "remote: read and verify the audit log of admin actions and key deliveries",
    "[show] [--since N] [--limit M] | verify",
    run,
};
