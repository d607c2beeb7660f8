/*
 * agent.c - corelocker-agent: runs on the customer's machine, fetches the
 * signed key volume its license is entitled to and patches the locked model
 * up to that tier.  One table drives the commands, one the settings, one the
 * exit statuses (and docs/man/corelocker-agent.1 follows them).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "error.h"
#include "model.h"
#include "outfile.h"

const struct ax_row ax_table[] = {
    {AX_OK, "ok", "success (validate: the license is VALID)"},
    {AX_OTHER, "error", "any other failure"},
    {AX_USAGE, "usage", "bad command line or settings (also: no pinned server key)"},
    {AX_UNREACHABLE, "unreachable",
     "the server cannot be reached (resolve, connect, timeout, connection lost)"},
    {AX_TLS, "certificate", "TLS failed: the server's certificate is not trusted (see --cacert)"},
    {AX_SIGNATURE, "signature",
     "a signed answer or key volume does not verify with the pinned key, or is a replay"},
    {AX_REVOKED, "revoked", "the license is revoked"},
    {AX_EXPIRED, "expired",
     "the license, or the key volume's license, has expired; or a volume file is older than --max-age"},
    {AX_SUSPENDED, "suspended", "the license is suspended"},
    {AX_MACHINES, "machines", "the license has no free seat for this machine (TOO_MANY_MACHINES)"},
    {AX_NOT_FOUND, "not-found", "the server does not know the license key"},
    {AX_BASE, "wrong-base", "the file to patch is not the model (or tier) the key volume is for"},
    {AX_DISK, "disk-full", "no space left on the device; nothing was left half-written"},
    {AX_VOLUME, "bad-volume", "the key volume is malformed, or the result fails its SHA-256 check"},
    {AX_NOT_ACTIVATED, "not-activated", "this machine holds no seat of the license (validate)"},
    {AX_REFUSED, "refused", "the server refused for another reason (rate limit, server error, tier change)"},
    {AX_LEASE, "lease-expired",
     "the machine's lease lapsed (LEASE_EXPIRED), or run could not renew it before it lapsed"},
};
const unsigned ax_count = sizeof(ax_table) / sizeof(ax_table[0]);

int ax_fail(int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cl_fail(AXF(status), "%s", msg);
}

int ax_exit(int code)
{
	if (code >= 0)
		return AX_OK;
	if (code <= AXF(0) && code >= AXF(AX_LAST))
		return -code - 100;
	switch (code) {
	case CL_ENOSPACE: return AX_DISK;
	case CLH_EUNREACHABLE: return AX_UNREACHABLE;
	case CLH_ETLS: return AX_TLS;
	case CL_EINVAL: return AX_OTHER;
	default: return AX_OTHER;
	}
}

/* ---- settings: flags > environment > config file ([agent] section) ---- */

enum { K_CONFIG, K_SERVER, K_LICENSE, K_CACERT, K_SERVER_KEY, K_FINGERPRINT };
static const struct clc_key keys[] = {
    [K_CONFIG] = {"config", "CORELOCKER_CONFIG", "FILE", CLC_FLAG | CLC_ENV,
		  "read settings from FILE ([agent] section)"},
    [K_SERVER] = {"server", "CORELOCKER_SERVER", "URL[,URL]", CLC_ALL,
		  "the licensing server, https://HOST:PORT; a list of nodes to fail over"},
    [K_LICENSE] = {"license", "CORELOCKER_LICENSE", "KEY", CLC_ALL, "the license key (clk_...)"},
    [K_CACERT] = {"cacert", "CORELOCKER_CACERT", "PEM", CLC_ALL, "CA certificates to verify the server with"},
    [K_SERVER_KEY] = {"server_key", "CORELOCKER_SERVER_KEY", "PUB.pem", CLC_ALL,
		      "pin the server's Ed25519 signing key (GET /v1/pubkey)"},
    [K_FINGERPRINT] = {"fingerprint", "CORELOCKER_FINGERPRINT", "F", CLC_ALL,
		       "machine fingerprint (default: SHA-256 of /etc/machine-id)"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* ---- commands ---- */

struct agent_cmd {
	const char *name, *args, *summary;
	int (*run)(struct agent *a, int argc, char **argv);
};

/* The directory PATH is in (malloc'd): "." or "/" where it names none. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
}

/*
 * OUT can be written before the server hears of this run: its directory
 * (which also takes the state file and the temp files) is writable, OUT is
 * a file (DIR: a directory, for a sharded model) or does not exist yet, and
 * it is not LOCKED itself (nor, DIR, LOCKED's own directory).
 */
static int check_output(const char *out, const char *locked, int dir)
{
	struct stat so, sl;
	char *d = dir_of(out), *ld = dir ? dir_of(locked) : NULL;
	const char *same = dir ? ld : locked;
	int exists = stat(out, &so) == 0, r = 0;

	if (!d || (dir && !ld))
		r = cl_fail(CL_ENOMEM, "out of memory");
	else if (exists && !dir && S_ISDIR(so.st_mode))
		r = ax_fail(AX_USAGE, "-o %s is a directory: name the file to write", out);
	else if (exists && dir && !S_ISDIR(so.st_mode))
		r = ax_fail(AX_USAGE, "-o %s is not a directory: a sharded model unlocks into one", out);
	else if (exists && same && stat(same, &sl) == 0 && so.st_dev == sl.st_dev && so.st_ino == sl.st_ino)
		r = ax_fail(AX_USAGE, "-o %s is %s", out,
			    dir ? "the locked model's own directory: give another one"
				: "the locked model itself: give another file, or --in-place to patch it");
	else if (exists && dir && access(out, W_OK | X_OK) < 0)
		r = ax_fail(AX_USAGE, "cannot write into -o %s: %s", out, strerror(errno));
	else if (access(d, W_OK | X_OK) < 0)
		r = ax_fail(AX_USAGE, "cannot write -o %s: directory %s: %s", out, d, strerror(errno));
	free(d);
	free(ld);
	return r;
}

static int cmd_unlock(struct agent *a, int argc, char **argv);
static int cmd_validate(struct agent *a, int argc, char **argv);
static int cmd_recover(struct agent *a, int argc, char **argv);
static int cmd_heartbeat(struct agent *a, int argc, char **argv);
static int cmd_run(struct agent *a, int argc, char **argv);
static int cmd_checkout(struct agent *a, int argc, char **argv);

static const struct agent_cmd commands[] = {
    {"unlock", "LOCKED -o OUT [--in-place] [--mode MODE] [--volume-file FILE [--nonce N] [--max-age AGE]] [SETTINGS]",
     "fetch the license's key volume and patch LOCKED up to its tier (OUT, or LOCKED itself with --in-place)",
     cmd_unlock},
    {"validate", "[SETTINGS]", "ask the server whether the license is valid for this machine; print the code",
     cmd_validate},
    {"heartbeat", "[--every SECONDS] [SETTINGS]",
     "renew this machine's lease once (or every SECONDS until it is not VALID); print the code", cmd_heartbeat},
    {"run", "LOCKED [--grace SECONDS] [--every SECONDS] [SETTINGS] -- CMD [ARG...]",
     "unlock LOCKED into sealed memory only and run CMD on it ($CORELOCKER_MODEL, {model}) while the "
     "license stays valid",
     cmd_run},
    {"checkout", "--ttl SECONDS -o VOLUME [SETTINGS]",
     "check out a signed key volume for offline use (unlock --volume-file) for up to SECONDS", cmd_checkout},
    {"recover", "FILE", "roll back an interrupted --in-place patch of FILE (unlock does this by itself)",
     cmd_recover},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

enum {
	O_OUTPUT = 'o',
	O_QUIET = 'q',
	O_HELP = 'h',
	O_IN_PLACE = 256,
	O_VOLUME_FILE,
	O_NONCE,
	O_TOFU,
	O_MODE,
	O_MAX_AGE,
	O_EVERY,
	O_GRACE,
	O_TTL,
	O_KEYS = 512,
};

static const struct option cmd_opts[] = {
    {"output", required_argument, NULL, O_OUTPUT},
    {"in-place", no_argument, NULL, O_IN_PLACE},
    {"volume-file", required_argument, NULL, O_VOLUME_FILE},
    {"nonce", required_argument, NULL, O_NONCE},
    {"insecure-trust-on-first-use", no_argument, NULL, O_TOFU},
    {"mode", required_argument, NULL, O_MODE},
    {"max-age", required_argument, NULL, O_MAX_AGE},
    {"every", required_argument, NULL, O_EVERY},
    {"grace", required_argument, NULL, O_GRACE},
    {"ttl", required_argument, NULL, O_TTL},
    {"quiet", no_argument, NULL, O_QUIET},
    {"help", no_argument, NULL, O_HELP},
};
#define NCMDOPTS (sizeof(cmd_opts) / sizeof(cmd_opts[0]))

static void usage(FILE *f, struct agent *a)
{
	fprintf(f, "usage: corelocker-agent COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n            %s\n", commands[i].name, commands[i].args,
			commands[i].summary);
	fprintf(f, "\nsettings (flag, environment variable, or KEY = VALUE in the config file):\n");
	clc_help(&a->conf, f);
	fprintf(f,
		"\noptions:\n"
		"  -o, --output OUT           write the unlocked model to OUT (temp file, fsync, rename)\n"
		"  --in-place                 patch LOCKED itself (a file, or every shard of an index),\n"
		"                             crash-safe through LOCKED.cljournal\n"
		"  --volume-file FILE         apply a key volume obtained out of band (needs --server-key)\n"
		"  --nonce N                  with --volume-file: the nonce the volume must answer\n"
		"  --max-age AGE              with --volume-file: refuse a volume issued longer ago than AGE\n"
		"                             (N[smhd], default 7d; 0 or none: no limit)\n"
		"  --mode MODE                octal mode of the unlocked files (default 0600; a new\n"
		"                             directory gets x where r is set: 0700); --in-place keeps\n"
		"                             the stricter of the file's mode and MODE\n"
		"  --every SECONDS            heartbeat: renew every SECONDS; run: check the license every\n"
		"                             SECONDS (default: a third of the lease, or 60 without one)\n"
		"  --grace SECONDS            run: SIGKILL CMD this long after SIGTERM (default 10)\n"
		"  --ttl SECONDS              checkout: how long the offline volume should last (the\n"
		"                             license's max_checkout caps it)\n"
		"  --insecure-trust-on-first-use  without --server-key, trust the key GET /v1/pubkey gives\n"
		"  -q, --quiet                print nothing on success\n"
		"\nexit status:\n");
	for (unsigned i = 0; i < ax_count; i++)
		fprintf(f, "  %2d  %-14s %s\n", ax_table[i].status, ax_table[i].name, ax_table[i].meaning);
}

static int usage_error(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(struct agent *a, const char *fmt, ...)
{
	va_list ap;

	(void)a;
	fputs("corelocker-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(corelocker-agent --help shows the usage)\n", stderr);
	return AX_USAGE;
}

/* Fill a->fingerprint: the setting, else SHA-256 of /etc/machine-id. */
static int machine_fingerprint(struct agent *a)
{
	const char *fp = clc_get(&a->conf, "fingerprint");
	char id[256] = "", *nl;
	uint8_t d[CL_SHA256_LEN];
	FILE *f;

	if (fp) {
		if (!*fp || strlen(fp) > 128)
			return ax_fail(AX_USAGE, "--fingerprint must be 1 to 128 characters");
		snprintf(a->fingerprint, sizeof(a->fingerprint), "%s", fp);
		return 0;
	}
	if (!(f = fopen("/etc/machine-id", "r")))
		return ax_fail(AX_USAGE, "/etc/machine-id: %s; give --fingerprint", strerror(errno));
	if (!fgets(id, sizeof(id), f))
		id[0] = 0;
	fclose(f);
	if ((nl = strchr(id, '\n')))
		*nl = 0;
	if (!id[0])
		return ax_fail(AX_USAGE, "/etc/machine-id is empty; give --fingerprint");
	cl_sha256(id, strlen(id), d);
	cl_hex(d, sizeof(d), a->fingerprint);
	return 0;
}

struct parsed {
	char *output; /* in argv: trailing slashes are cut in place */
	const char *volume_file, *nonce, *mode, *max_age, *every, *grace, *ttl;
	int in_place;
	int nargs;
	char **args;
};

static int parse(struct agent *a, int argc, char **argv, struct parsed *p)
{
	struct option opts[NCMDOPTS + NKEYS + 1];
	size_t n = NCMDOPTS;
	int c, r;

	memset(p, 0, sizeof(*p));
	memcpy(opts, cmd_opts, sizeof(cmd_opts));
	n += clc_options(&a->conf, opts + n, O_KEYS);
	opts[n] = (struct option){NULL, 0, NULL, 0};
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case O_OUTPUT: p->output = optarg; break;
		case O_IN_PLACE: p->in_place = 1; break;
		case O_VOLUME_FILE: p->volume_file = optarg; break;
		case O_NONCE: p->nonce = optarg; break;
		case O_MODE: p->mode = optarg; break;
		case O_MAX_AGE: p->max_age = optarg; break;
		case O_EVERY: p->every = optarg; break;
		case O_GRACE: p->grace = optarg; break;
		case O_TTL: p->ttl = optarg; break;
		case O_TOFU: a->tofu = 1; break;
		case O_QUIET: a->quiet = 1; break;
		case O_HELP: usage(stdout, a); return 1;
		default:
			if (c >= O_KEYS && c < O_KEYS + (int)NKEYS) {
				if ((r = clc_set(&a->conf, (size_t)(c - O_KEYS), optarg)) < 0)
					return r;
				break;
			}
			return ax_fail(AX_USAGE, "invalid option (corelocker-agent --help shows the usage)");
		}
	}
	p->nargs = argc - optind;
	p->args = argv + optind;
	if ((r = clc_complete(&a->conf, "config", "agent")) < 0)
		return ax_fail(AX_USAGE, "%s", cl_errmsg());
	a->server = clc_get(&a->conf, "server");
	a->license = clc_get(&a->conf, "license");
	a->cacert = clc_get(&a->conf, "cacert");
	return 0;
}

/* An octal mode, 0 to 0777. */
static int parse_mode(const char *s, unsigned *mode)
{
	char *end;
	unsigned long v;

	if (!*s || strspn(s, "01234567") != strlen(s))
		return -1;
	v = strtoul(s, &end, 8);
	if (*end || v > 0777)
		return -1;
	*mode = (unsigned)v;
	return 0;
}

/* The settings every call to the server needs, then the connection. */
static int online(struct agent *a)
{
	int r;

	if (!a->server)
		return ax_fail(AX_USAGE, "no server: give --server URL (or CORELOCKER_SERVER)");
	if (!a->license)
		return ax_fail(AX_USAGE, "no license: give --license KEY (or CORELOCKER_LICENSE)");
	if ((r = machine_fingerprint(a)) < 0)
		return r;
	return ag_connect(a);
}

static int cmd_unlock(struct agent *a, int argc, char **argv)
{
	struct parsed p;
	struct unlock_args u = {0};
	struct stat s1, s2;
	int r = parse(a, argc, argv, &p);

	if (r)
		return r;
	if (p.nargs != 1)
		return ax_fail(AX_USAGE, "unlock needs exactly one LOCKED model");
	u.locked = p.args[0];
	if (p.output) { /* "dir/" and "dir" are the same output (state file dir.clstate) */
		size_t n = strlen(p.output);
		while (n > 1 && p.output[n - 1] == '/')
			p.output[--n] = 0;
	}
	u.out = p.output;
	u.in_place = p.in_place;
	u.volume_file = p.volume_file;
	u.nonce = p.nonce;
	u.mode = AG_MODE_DEFAULT;
	u.max_age = AG_MAX_AGE_DEFAULT;
	if (p.mode && parse_mode(p.mode, &u.mode) < 0)
		return ax_fail(AX_USAGE, "--mode '%.20s' is not an octal file mode from 0 to 0777", p.mode);
	if (p.max_age && ag_parse_age(p.max_age, &u.max_age) < 0)
		return ax_fail(AX_USAGE, "--max-age '%.20s' is not an age: N, Ns, Nm, Nh or Nd, or none",
			       p.max_age);
	if (p.max_age && !p.volume_file)
		return ax_fail(AX_USAGE, "--max-age goes with --volume-file");
	if (!u.in_place && !u.out)
		return ax_fail(AX_USAGE, "unlock needs -o OUT (or --in-place)");
	if (u.in_place && u.out &&
	    (stat(u.out, &s1) < 0 || stat(u.locked, &s2) < 0 || s1.st_dev != s2.st_dev ||
	     s1.st_ino != s2.st_ino))
		return ax_fail(AX_USAGE,
			       "--in-place patches LOCKED itself; -o must be omitted or name the same file");
	if (u.in_place && lstat(u.locked, &s1) == 0 && S_ISLNK(s1.st_mode))
		return ax_fail(AX_USAGE, "--in-place patches a file itself, and %s is a symbolic link: give the file",
			       u.locked);
	if (p.nonce && !p.volume_file)
		return ax_fail(AX_USAGE, "--nonce goes with --volume-file");
	if (access(u.locked, R_OK) < 0)
		return ax_fail(AX_USAGE, "%s: %s", u.locked, strerror(errno));
	if (!u.in_place && (r = check_output(u.out, u.locked, cl_path_is_index(u.locked))) < 0)
		return r;
	if (u.volume_file) {
		if (!clc_get(&a->conf, "server_key"))
			return ax_fail(AX_USAGE,
				       "--volume-file needs --server-key PUB.pem to verify the volume");
		a->server = NULL; /* air-gapped: no server */
		if ((r = ag_connect(a)) < 0)
			return r;
	} else if ((r = online(a)) < 0) {
		return r;
	}
	return ag_unlock(a, &u);
}

static int cmd_validate(struct agent *a, int argc, char **argv)
{
	struct parsed p;
	struct ag_answer an;
	int r = parse(a, argc, argv, &p);

	if (r)
		return r;
	if (p.nargs)
		return ax_fail(AX_USAGE, "validate takes no arguments");
	if (!a->server)
		return ax_fail(AX_USAGE, "no server: give --server URL (or CORELOCKER_SERVER)");
	if (!a->license)
		return ax_fail(AX_USAGE, "no license: give --license KEY (or CORELOCKER_LICENSE)");
	if ((r = machine_fingerprint(a)) < 0 || (r = ag_connect(a)) < 0 ||
	    (r = ag_check(a, 0, &an)) < 0)
		return r;
	printf("%s\n", an.code);
	r = ag_code_status(an.code);
	/* The code is on stdout; stderr says what it means, without repeating it. */
	return r == AX_OK ? 0 : ax_fail(r, "%s", ag_code_text(an.code));
}

/* A whole number of seconds from MIN to MAX. */
static int parse_seconds(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max)
		return ax_fail(AX_USAGE, "%s '%.20s' is not a number of seconds from %lld to %lld", opt, s,
			       (long long)min, (long long)max);
	*out = v;
	return 0;
}


/* Only the options a command knows: the others would be silently ignored. */
static int only(const struct parsed *p, const char *cmd, int every, int grace, int ttl, int out)
{
	if (p->in_place || p->volume_file || p->nonce || p->mode || p->max_age || (p->every && !every) ||
	    (p->grace && !grace) || (p->ttl && !ttl) || (p->output && !out))
		return ax_fail(AX_USAGE, "%s does not take that option (corelocker-agent --help)", cmd);
	return 0;
}

static int cmd_heartbeat(struct agent *a, int argc, char **argv)
{
	struct parsed p;
	int64_t every = 0;
	int r = parse(a, argc, argv, &p);

	if (r)
		return r;
	if (p.nargs)
		return ax_fail(AX_USAGE, "heartbeat takes no arguments");
	if ((r = only(&p, "heartbeat", 1, 0, 0, 0)) < 0 ||
	    (p.every && (r = parse_seconds("--every", p.every, 1, 86400, &every)) < 0) || (r = online(a)) < 0)
		return r;
	return ag_heartbeat(a, every);
}

/* CMD as execvp() will find it: checked before anything is fetched. */
static int executable(const char *cmd)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(n ? n : 1), n ? p : ".", cmd);
		if (access(buf, X_OK) == 0)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

static int cmd_run(struct agent *a, int argc, char **argv)
{
	struct parsed p;
	struct run_args ra = {.grace = 10};
	int dd = 1, r;

	/* Everything after "--" is CMD's, never the agent's options. */
	while (dd < argc && strcmp(argv[dd], "--"))
		dd++;
	if (dd >= argc || dd + 1 >= argc)
		return ax_fail(AX_USAGE, "run needs a command after --: run LOCKED [OPTIONS] -- CMD [ARG...]");
	argv[dd] = NULL;
	if ((r = parse(a, dd, argv, &p)))
		return r;
	if (p.nargs != 1)
		return ax_fail(AX_USAGE, "run needs exactly one LOCKED model before --");
	ra.locked = p.args[0];
	ra.cmd = argv + dd + 1;
	if ((r = only(&p, "run", 1, 1, 0, 0)) < 0 ||
	    (p.every && (r = parse_seconds("--every", p.every, 1, 86400, &ra.every)) < 0) ||
	    (p.grace && (r = parse_seconds("--grace", p.grace, 0, 3600, &ra.grace)) < 0))
		return r;
	if (access(ra.locked, R_OK) < 0)
		return ax_fail(AX_USAGE, "%s: %s", ra.locked, strerror(errno));
	if (!executable(ra.cmd[0]))
		return ax_fail(AX_USAGE, "cannot start %s: no such executable%s", ra.cmd[0],
			       strchr(ra.cmd[0], '/') ? "" : " in PATH");
	if ((r = online(a)) < 0 || (r = ag_run(a, &ra)) < 0)
		return r;
	return 0;
}

static int cmd_checkout(struct agent *a, int argc, char **argv)
{
	struct parsed p;
	struct ag_vol vol = {.fd = -1};
	struct cl_out *o = NULL;
	int64_t ttl;
	uint64_t bytes;
	char nonce[33];
	int fd, r = parse(a, argc, argv, &p);

	if (r)
		return r;
	if (p.nargs)
		return ax_fail(AX_USAGE, "checkout takes no arguments");
	if ((r = only(&p, "checkout", 0, 0, 1, 1)) < 0)
		return r;
	if (!p.ttl || !p.output)
		return ax_fail(AX_USAGE, "checkout needs --ttl SECONDS and -o VOLUME");
	if ((r = parse_seconds("--ttl", p.ttl, 1, 31536000, &ttl)) < 0 ||
	    (r = check_output(p.output, NULL, 0)) < 0 || (r = online(a)) < 0 ||
	    (r = ag_activate(a)) < 0)
		return r;
	/* Verified in memory first: a refused or forged volume never reaches VOLUME. */
	if ((fd = memfd_create("corelocker-checkout", MFD_CLOEXEC)) < 0)
		return cl_fail_errno("memfd_create");
	if ((r = ag_checkout(a, ttl, fd, 1ull << 40, nonce, &bytes)) < 0) {
		close(fd);
		return r;
	}
	if ((r = ag_vol_open(fd, a->pub, &vol)) < 0 || (r = ag_vol_check(&vol, nonce)) < 0 ||
	    (r = cl_out_open(p.output, 0600, &o)) < 0)
		goto out;
	if ((r = cl_out_write(o, vol.data, (size_t)vol.size)) < 0) {
		cl_out_abort(o);
		goto out;
	}
	if ((r = cl_out_commit(o)) < 0) /* frees O either way */
		goto out;
	if (!a->quiet)
		printf("checked out %s: %s %s tier %s, for offline use until %s\n", p.output, vol.v->model_name,
		       vol.v->model_version, vol.v->tier, vol.v->expires_at ? vol.v->expires_at : "(no expiry)");
out:
	ag_vol_close(&vol);
	return r;
}

static int cmd_recover(struct agent *a, int argc, char **argv)
{
	struct parsed p;
	int r = parse(a, argc, argv, &p);

	if (r)
		return r;
	if (p.nargs != 1)
		return ax_fail(AX_USAGE, "recover needs exactly one FILE");
	if ((r = ag_journal_recover(p.args[0], a->quiet)) < 0)
		return r;
	if (r == 0 && !a->quiet)
		printf("%s: no interrupted patch to roll back\n", p.args[0]);
	return 0;
}

int main(int argc, char **argv)
{
	struct agent a;
	int r = 0, status;

	memset(&a, 0, sizeof(a));
	if (clc_init(&a.conf, keys, NKEYS) < 0) {
		fprintf(stderr, "corelocker-agent: %s\n", cl_errmsg());
		return AX_OTHER;
	}
	if (argc < 2) {
		usage(stderr, &a);
		clc_free(&a.conf);
		return AX_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout, &a);
		clc_free(&a.conf);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("corelocker-agent %s\n", PACKAGE_VERSION);
		clc_free(&a.conf);
		return 0;
	}
	status = -1;
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			r = commands[i].run(&a, argc - 1, argv + 1), status = 0;
	if (status < 0)
		status = usage_error(&a, "unknown command '%s'", argv[1]);
	else if (r > 0) /* --help */
		status = 0;
	else if (r == 0 && a.exit_status) /* run: CMD's status */
		status = a.exit_status;
	else if (r < 0) {
		status = ax_exit(r);
		fprintf(stderr, "corelocker-agent: %s\n", *cl_errmsg() ? cl_errmsg() : cl_strerror(r));
	}
	clh_close(a.h);
	clc_free(&a.conf);
	return status;
}
