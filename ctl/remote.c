/* remote.c - the remote commands' shared layer: tables in, HTTPS, tables or JSON out. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "error.h"
#include "jsonx.h"
#include "remote.h"

#define ANSWER_DEPTH 8 /* the daemon's answers: objects of lists of objects, and audit details */

enum { K_CONFIG, K_SERVER, K_TOKEN, K_TOKEN_FILE, K_CACERT };
static const struct clc_key keys[] = {
    [K_CONFIG] = {"config", "CORELOCKER_CONFIG", "FILE", CLC_FLAG | CLC_ENV,
		  "read settings from FILE ([ctl] section)"},
    [K_SERVER] = {"server", "CORELOCKER_SERVER", "URL[,URL]", CLC_ALL,
		  "the daemon, https://HOST:PORT; a list of nodes to fail over"},
    [K_TOKEN] = {"token", "CORELOCKER_TOKEN", "T", CLC_ALL,
		 "admin token (corelockerd init prints the first); as a flag, ps shows it"},
    [K_TOKEN_FILE] = {"token-file", "CORELOCKER_TOKEN_FILE", "FILE", CLC_ALL,
		      "read the admin token from FILE's first line"},
    [K_CACERT] = {"cacert", "CORELOCKER_CACERT", "PEM", CLC_ALL, "CA certificates to verify the server with"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#define MAX_OPTS 16
#define TOKEN_FILE_MAX 512

/* The token in FILE's first line, into BUF; 0, or -1 with a message. */
static int read_token_file(const char *file, char *buf, size_t len)
{
	FILE *f = fopen(file, "r");
	size_t n;

	if (!f)
		return cl_fail(CL_ESYS, "--token-file %s: %s", file, strerror(errno));
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	if (!buf[0] || strlen(buf) >= len - 2)
		return cl_fail(CL_EINVAL, "--token-file %s: %s", file,
			       buf[0] ? "the first line is too long for a token" : "no token on the first line");
	for (const char *p = buf; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return cl_fail(CL_EINVAL, "--token-file %s: the token holds a space or a control character", file);
	return 0;
}

enum { O_JSON = 256, O_HELP, O_SUB = 300, O_KEYS = 400 };

static const struct {
	int status;
	const char *meaning;
} exit_table[] = {
    {RX_OK, "success"},
    {RX_ERROR, "any other failure (HTTP 429, 5xx, an unexpected answer)"},
    {RX_USAGE, "bad command line or settings"},
    {RX_NOT_FOUND, "not found (HTTP 404)"},
    {RX_CONFLICT, "conflict (HTTP 409): already exists, in use, or revoked"},
    {RX_AUTH, "not authorised (HTTP 401, 403): missing or unknown token"},
    {RX_UNREACHABLE, "no answer: the server is unreachable or its certificate is not trusted"},
    {RX_INVALID, "the server refused the input (HTTP 400, 413)"},
};

static void sub_usage_line(FILE *f, const struct ctl_cmd *cmd, const struct ctl_sub *s)
{
	/* a command of one unnamed subcommand (trace) has no name to print */
	fprintf(f, "  corelockerctl %s%s%s%s%s", cmd->name, *s->name ? " " : "", s->name, *s->args ? " " : "", s->args);
	for (const struct sub_opt *o = s->opts; o && o->name; o++)
		fprintf(f, " [--%s%s%s]", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
	fputc('\n', f);
}

static void usage(FILE *f, struct remote *rc, const struct ctl_sub *subs, size_t n,
		  const struct ctl_sub *only)
{
	char left[64];

	fprintf(f, "usage:\n");
	for (size_t i = 0; i < n; i++)
		if (!only || only == &subs[i])
			sub_usage_line(f, rc->cmd, &subs[i]);
	fprintf(f, "\n%s\n", only ? only->summary : rc->cmd->summary);
	if (!only) {
		fprintf(f, "\nsubcommands:\n");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "  %-10s %s\n", subs[i].name, subs[i].summary);
	} else if (only->opts && only->opts[0].name) {
		fprintf(f, "\noptions:\n");
		for (const struct sub_opt *o = only->opts; o->name; o++) {
			snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
			fprintf(f, "  %-26s %s\n", left, o->help);
		}
	}
	fprintf(f, "\nsettings (flag, environment variable, or KEY = VALUE in the config file):\n");
	clc_help(&rc->conf, f);
	fprintf(f, "  %-26s %s\n\nexit status:\n", "--json", "print the server's JSON instead of a table");
	for (size_t i = 0; i < sizeof(exit_table) / sizeof(exit_table[0]); i++)
		fprintf(f, "  %d  %s\n", exit_table[i].status, exit_table[i].meaning);
}

int remote_fail_usage(struct remote *rc, const char *fmt, ...)
{
	va_list ap;

	fputs("corelockerctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (rc->sub)
		sub_usage_line(stderr, rc->cmd, rc->sub);
	else
		fprintf(stderr, "(corelockerctl %s --help shows the usage)\n", rc->cmd->name);
	return RX_USAGE;
}

int remote_main(const struct ctl_cmd *cmd, const struct ctl_sub *subs, size_t n, int argc, char **argv)
{
	struct remote rc;
	struct option opts[MAX_OPTS + NKEYS + 3];
	const char *val[MAX_OPTS] = {0};
	struct clh_opts ho = {0};
	char file_token[TOKEN_FILE_MAX];
	size_t k = 0, nopts = 0;
	int c, r, status, token_flag = 0;

	memset(&rc, 0, sizeof(rc));
	rc.cmd = cmd;
	if (clc_init(&rc.conf, keys, NKEYS) < 0)
		return ctl_fail(CL_ENOMEM);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout, &rc, subs, n, NULL);
		clc_free(&rc.conf);
		return argc < 2 ? RX_USAGE : RX_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(argv[1], subs[i].name))
			rc.sub = &subs[i];
	if (!rc.sub) {
		status = remote_fail_usage(&rc, "%s: unknown subcommand '%s'", cmd->name, argv[1]);
		goto out;
	}
	for (const struct sub_opt *o = rc.sub->opts; o && o->name && nopts < MAX_OPTS; o++, nopts++)
		opts[k++] = (struct option){o->name, o->metavar ? required_argument : no_argument, NULL,
					    O_SUB + (int)nopts};
	k += clc_options(&rc.conf, opts + k, O_KEYS);
	opts[k++] = (struct option){"json", no_argument, NULL, O_JSON};
	opts[k++] = (struct option){"help", no_argument, NULL, O_HELP};
	opts[k] = (struct option){NULL, 0, NULL, 0};
	optind = 1;
	argc--, argv++; /* getopt starts after the subcommand */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == O_JSON) {
			rc.json = 1;
		} else if (c == O_HELP || c == 'h') {
			usage(stdout, &rc, subs, n, rc.sub);
			status = RX_OK;
			goto out;
		} else if (c >= O_SUB && c < O_SUB + (int)nopts) {
			val[c - O_SUB] = optarg ? optarg : "1";
		} else if (c >= O_KEYS && c < O_KEYS + (int)NKEYS) {
			token_flag |= c == O_KEYS + K_TOKEN;
			if (clc_set(&rc.conf, (size_t)(c - O_KEYS), optarg) < 0) {
				status = ctl_fail(CL_ENOMEM);
				goto out;
			}
		} else {
			status = remote_fail_usage(&rc, "invalid option");
			goto out;
		}
	}
	if (argc - optind != rc.sub->nargs) {
		status = remote_fail_usage(&rc, "%s%s%s takes %d argument%s (%s)", cmd->name, *rc.sub->name ? " " : "",
					   rc.sub->name, rc.sub->nargs, rc.sub->nargs == 1 ? "" : "s",
					   *rc.sub->args ? rc.sub->args : "none");
		goto out;
	}
	if (clc_complete(&rc.conf, "config", "ctl") < 0) {
		status = remote_fail_usage(&rc, "%s", cl_errmsg());
		goto out;
	}
	ho.url = clc_get(&rc.conf, "server");
	ho.who = "corelockerctl";
	ho.cacert = clc_get(&rc.conf, "cacert");
	ho.token = clc_get(&rc.conf, "token");
	file_token[0] = 0;
	if (ho.token && clc_get(&rc.conf, "token-file")) {
		status = remote_fail_usage(&rc, "give the token or a token file, not both");
		goto out;
	}
	if (clc_get(&rc.conf, "token-file")) {
		if (read_token_file(clc_get(&rc.conf, "token-file"), file_token, sizeof(file_token)) < 0) {
			status = remote_fail_usage(&rc, "%s", cl_errmsg());
			goto out;
		}
		ho.token = file_token;
	}
	if (token_flag)
		fprintf(stderr, "corelockerctl: warning: --token on the command line is visible to other users "
				"(ps); prefer CORELOCKER_TOKEN or --token-file\n");
	if (!ho.url) {
		status = remote_fail_usage(&rc, "no server: give --server URL (or CORELOCKER_SERVER)");
		goto out;
	}
	if (!ho.token) {
		status = remote_fail_usage(&rc, "no admin token: set CORELOCKER_TOKEN or give --token-file FILE");
		goto out;
	}
	if ((r = clh_open(&ho, &rc.h)) < 0) {
		status = remote_fail_usage(&rc, "%s", cl_errmsg());
		goto out;
	}
	status = rc.sub->run(&rc, argv + optind, val);
out:
	OPENSSL_cleanse(file_token, sizeof(file_token));
	clh_close(rc.h);
	clc_free(&rc.conf);
	return status;
}

/* ---- calls ---- */

static int http_status_exit(long status)
{
	if (status == 404)
		return RX_NOT_FOUND;
	if (status == 409)
		return RX_CONFLICT;
	if (status == 401 || status == 403)
		return RX_AUTH;
	if (status == 400 || status == 413 || status == 422)
		return RX_INVALID;
	return RX_ERROR;
}

static int finish(struct remote *rc, int r, struct clh_resp *resp, const char *method, const char *path,
		  json_t **out)
{
	char why[160];
	int status;

	ctl_progress_end();
	if (r < 0) {
		fprintf(stderr, "corelockerctl: %s\n", cl_errmsg());
		return r == CLH_EUNREACHABLE || r == CLH_ETLS ? RX_UNREACHABLE : RX_ERROR;
	}
	if (resp->status < 200 || resp->status >= 300) {
		status = http_status_exit(resp->status);
		if (resp->code[0])
			fprintf(stderr, "corelockerctl: %s %s: HTTP %ld %s: %s\n", method, path, resp->status,
				resp->code, resp->message);
		else
			fprintf(stderr, "corelockerctl: %s %s: HTTP %ld\n", method, path, resp->status);
		clh_resp_free(resp);
		return status;
	}
	*out = NULL;
	if (resp->len) {
		*out = cl_json_parse(resp->body, resp->len, ANSWER_DEPTH, why, sizeof(why));
		if (!*out) {
			fprintf(stderr, "corelockerctl: %s %s: the answer is not JSON: %s\n", method, path, why);
			clh_resp_free(resp);
			return RX_ERROR;
		}
	}
	(void)rc;
	clh_resp_free(resp);
	return RX_OK;
}

int remote_call(struct remote *rc, const char *method, const char *path, json_t *body, json_t **out)
{
	struct clh_resp resp;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int r;

	if (body && !text)
		return ctl_fail(CL_ENOMEM);
	r = clh_call(rc->h, method, path, text, 0, 0, &resp); /* GET and DELETE fail over: clh_call */
	free(text);
	return finish(rc, r, &resp, method, path, out);
}

static void upload_progress(void *arg, uint64_t done, uint64_t total)
{
	ctl_progress(arg, "push", done, total);
}

int remote_upload(struct remote *rc, const char *path, const char *file, json_t **out)
{
	struct clh_resp resp;
	struct stat st;
	int fd = open(file, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "corelockerctl: %s: %s\n", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return RX_ERROR;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "corelockerctl: %s: not a regular file\n", file);
		close(fd);
		return RX_ERROR;
	}
	r = clh_upload(rc->h, "POST", path, fd, (uint64_t)st.st_size, upload_progress, NULL, 0, &resp);
	close(fd);
	return finish(rc, r, &resp, "POST", path, out);
}

static char *remote_vpath(const char *fmt, va_list ap)
{
	char out[2048], *esc;
	size_t n = 0;

	for (const char *p = fmt; *p && n < sizeof(out) - 1; p++) {
		if (p[0] == '%' && p[1] == 's') {
			if (!(esc = clh_escape(va_arg(ap, const char *))))
				return NULL;
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", esc);
			free(esc);
			p++;
		} else {
			out[n++] = *p;
		}
	}
	if (n >= sizeof(out))
		return NULL;
	out[n] = 0;
	return strdup(out);
}

char *remote_path(const char *fmt, ...)
{
	va_list ap;
	char *path;

	va_start(ap, fmt);
	path = remote_vpath(fmt, ap);
	va_end(ap);
	return path;
}

static int remote_vcall(struct remote *rc, const char *method, json_t *body, json_t **out, const char *fmt,
			va_list ap)
{
	char *path = remote_vpath(fmt, ap);
	int r;

	if (!path)
		return ctl_fail(CL_ENOMEM);
	r = remote_call(rc, method, path, body, out);
	free(path);
	return r;
}

int remote_callf(struct remote *rc, const char *method, json_t *body, json_t **out, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = remote_vcall(rc, method, body, out, fmt, ap);
	va_end(ap);
	return r;
}

int remote_list(struct remote *rc, const char *listkey, const struct col *cols, const char *fmt, ...)
{
	json_t *j;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = remote_vcall(rc, "GET", NULL, &j, fmt, ap);
	va_end(ap);
	if (r)
		return r;
	remote_print_list(rc, j, listkey, cols);
	json_decref(j);
	return RX_OK;
}

int remote_delete(struct remote *rc, const char *id, const char *done, const char *fmt, ...)
{
	json_t *j;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = remote_vcall(rc, "DELETE", NULL, &j, fmt, ap);
	va_end(ap);
	if (r)
		return r;
	json_decref(j);
	if (rc->json)
		printf("{\"deleted\": \"%s\"}\n", id);
	else
		printf("%s\n", done);
	return RX_OK;
}

/* ---- values ---- */

int remote_int(const char *s, json_int_t *out)
{
	uint64_t v;
	if (ctl_parse_u64(s, &v) < 0 || v > (uint64_t)INT64_MAX)
		return -1;
	*out = (json_int_t)v;
	return 0;
}

json_t *remote_expiry(const char *s)
{
	if (!strcmp(s, "never") || !strcmp(s, "none") || !strcmp(s, "null"))
		return json_null();
	return json_string(s);
}

/* ---- output ---- */

void remote_field(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else if (json_is_true(v))
		snprintf(buf, len, "yes");
	else if (json_is_false(v))
		snprintf(buf, len, "no");
	else if (json_is_array(v))
		snprintf(buf, len, "%zu", json_array_size(v));
	else
		snprintf(buf, len, "-");
}

static void print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
}

void remote_print_list(struct remote *rc, json_t *j, const char *listkey, const struct col *cols)
{
	json_t *list = listkey ? json_object_get(j, listkey) : j, *row;
	char buf[512];
	size_t i;

	if (rc->json) {
		print_json(j);
		return;
	}
	for (const struct col *c = cols; c->title; c++)
		printf("%-*s%s", c[1].title ? c->width : 0, c->title, c[1].title ? " " : "\n");
	json_array_foreach(list, i, row)
	{
		for (const struct col *c = cols; c->title; c++) {
			remote_field(json_object_get(row, c->key), buf, sizeof(buf));
			printf("%-*s%s", c[1].title ? c->width : 0, buf, c[1].title ? " " : "\n");
		}
	}
}

void remote_print_object(struct remote *rc, json_t *j, const struct col *cols)
{
	char buf[512];

	if (rc->json) {
		print_json(j);
		return;
	}
	for (const struct col *c = cols; c->title; c++) {
		remote_field(json_object_get(j, c->key), buf, sizeof(buf));
		printf("%-16s %s\n", c->title, buf);
	}
}
