/*
 * remote.h - what corelockerctl's remote commands (model, tier, license,
 * machine, audit) share: the settings (--server, --token, --cacert, or
 * CORELOCKER_* variables, or the [ctl] section of a config file), the HTTPS
 * client of net/http.h, the subcommand and option tables, exit statuses
 * that follow the HTTP result, and table or JSON output.
 */
#ifndef CTL_REMOTE_H
#define CTL_REMOTE_H

#include <jansson.h>

#include "conf.h"
#include "ctl.h"
#include "http.h"

/* Exit statuses of the remote commands (docs/man/corelockerctl.1). */
enum {
	RX_OK = 0,
	RX_ERROR = 1,	    /* anything else: 5xx, 429, a bad answer */
	RX_USAGE = 2,	    /* bad command line or settings */
	RX_NOT_FOUND = 3,   /* 404 */
	RX_CONFLICT = 4,    /* 409: exists, in use, revoked */
	RX_AUTH = 5,	    /* 401, 403: missing or unknown token */
	RX_UNREACHABLE = 6, /* no answer: cannot connect, or the certificate is not trusted */
	RX_INVALID = 7,	    /* 400, 413: the server refused the input */
};

/* One option of a subcommand; METAVAR NULL for a flag (value "1"). */
struct sub_opt {
	const char *name, *metavar, *help;
};

struct remote;

struct ctl_sub {
	const char *name;
	const char *args; /* positional arguments, for the usage line */
	int nargs;	  /* how many */
	const char *summary;
	const struct sub_opt *opts; /* ends with {NULL} */
	/* ARGS: the positionals; VAL[i]: the value of opts[i], or NULL. */
	int (*run)(struct remote *rc, char **args, const char **val);
};

struct remote {
	struct clc conf;
	struct clh *h;
	int json;
	const struct ctl_cmd *cmd;
	const struct ctl_sub *sub;
};

/* The run() of a command with subcommands: parse, connect, dispatch. */
int remote_main(const struct ctl_cmd *cmd, const struct ctl_sub *subs, size_t n, int argc, char **argv);

/*
 * METHOD PATH with BODY (borrowed; NULL for none).  On a 2xx answer: 0 and
 * *OUT the parsed JSON (NULL for an empty body).  Otherwise one line on
 * stderr and the exit status.
 */
int remote_call(struct remote *rc, const char *method, const char *path, json_t *body, json_t **out);
/* Stream FILE as the body of POST PATH, with a progress bar on a TTY. */
int remote_upload(struct remote *rc, const char *path, const char *file, json_t **out);
/* The exit status for a transport failure or HTTP status (and print why). */
int remote_fail_usage(struct remote *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* PATH built with printf, each %s argument URL-escaped first (malloc'd). */
char *remote_path(const char *fmt, ...);


/* ---- output ---- */
struct col {
	const char *title;
	const char *key; /* a top-level field */
	int width;	 /* column width in tables */
};
/* Print J (a list in LISTKEY, or an object) as a table, or as JSON with --json. */
void remote_print_list(struct remote *rc, json_t *j, const char *listkey, const struct col *cols);
void remote_print_object(struct remote *rc, json_t *j, const struct col *cols);
/* remote_call on a path built by remote_path's rules. */
int remote_callf(struct remote *rc, const char *method, json_t *body, json_t **out, const char *fmt, ...);
/* GET the path and print its LISTKEY array as a table (or the JSON with --json). */
int remote_list(struct remote *rc, const char *listkey, const struct col *cols, const char *fmt, ...);
/* DELETE the path; print DONE (or {"deleted": ID} with --json). */
int remote_delete(struct remote *rc, const char *id, const char *done, const char *fmt, ...);
/* One field as text: strings as they are, null as "-". */
void remote_field(json_t *v, char *buf, size_t len);
/* Parse an integer or a ratio; 0 or -1. */
int remote_int(const char *s, json_int_t *out);
/* A JSON value for --expires-at: RFC 3339 text, or null for "never". */
json_t *remote_expiry(const char *s);

#endif
