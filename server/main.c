/*
 * main.c - corelockerd: init, cert, check-config, dump-config, audit-verify,
 * token-create, migrate, and serving in the foreground (systemd Type=notify).
 *
 * Serving order: read the configuration, the keys and the TLS material, bind
 * the port, then drop privileges (when root and [server] user is set), open
 * the database, start the HTTPS threads, announce READY, and wait for
 * SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "config.h"
#include "corelocker.h"
#include "audit.h"
#include "auth.h"
#include "cert.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "owner.h"
#include "seal.h"
#include "server.h"
#include "slicecache.h"
#include "store.h"
#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF SYSCONFDIR "/corelocker/corelockerd.conf"
#define MAX_PEM (1u << 20)

struct server srv;

static void usage(FILE *f)
{
	fprintf(f, "usage: corelockerd [-c CONF]              serve in the foreground\n"
		   "       corelockerd init -c CONF           create the state folder, database and keys; print the\n"
		   "                                          first admin token\n"
		   "       corelockerd cert -c CONF --self-signed HOSTNAME [--force]\n"
		   "                                          write a TLS key and a self-signed certificate for\n"
		   "                                          HOSTNAME (a name or an IP address) to tls_key and\n"
		   "                                          tls_cert, for a first test\n"
		   "       corelockerd check-config -c CONF   validate the configuration\n"
		   "       corelockerd dump-config            print a commented sample configuration\n"
		   "       corelockerd audit-verify -c CONF   verify the audit log's keyed hash chain\n"
		   "       corelockerd token-create -c CONF [--scope admin|read] [--expires TIME] NAME\n"
		   "                                          add an admin token (printed once)\n"
		   "       corelockerd migrate -c CONF --from sqlite:PATH\n"
		   "                                          copy a single-node database into the configured\n"
		   "                                          PostgreSQL one, verified\n"
		   "default CONF: %s\n",
		   DEFAULT_CONF);
}

/* Read a whole small file (PEM) into a NUL-terminated buffer. */
static char *read_small(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n;

	if (!f) {
		log_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!(buf = malloc(max + 1))) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		log_err("%s: larger than %zu bytes", path, max);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

int server_load_master(const char *path)
{
	static const char label[] = "corelockerd token key v1";
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = -1;
	ssize_t n;

	if (fd < 0) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) || st.st_size != 32) {
		log_err("%s: the master key must be a 32-byte file of mode 0600", path);
		goto out;
	}
	n = read(fd, srv.master, sizeof(srv.master));
	if (n != (ssize_t)sizeof(srv.master)) {
		log_err("%s: cannot read the master key", path);
		goto out;
	}
	if (cl_hmac_sha256(srv.master, sizeof(srv.master), label, strlen(label), srv.token_key) < 0 ||
	    audit_key_init(srv.master) < 0)
		goto out;
	r = 0;
out:
	close(fd);
	return r;
}

/* A password in the DSN would show wherever the configuration does. */
static int dsn_has_password(const char *dsn)
{
	const char *at = strchr(dsn, '@'), *scheme = strstr(dsn, "://");

	if (strcasestr(dsn, "password"))
		return 1;
	/* postgresql://user:secret@host/db */
	return scheme && at && memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) != NULL;
}

/* Where the configured database is, for messages: a path or the DSN. */
static const char *db_where(const struct config *c)
{
	return c->backend == BACKEND_POSTGRESQL ? c->dsn : c->database;
}

static int load_config(const char *path)
{
	const struct config *c;
	char why[600];

	if (config_load(path, &srv.cfg, why, sizeof(why)) < 0) {
		log_err("%s", why);
		return -1;
	}
	c = srv.cfg;
	slice_cache_set_budget((size_t)c->slice_cache);
	if (c->backend == BACKEND_POSTGRESQL) {
		if (!*c->dsn) {
			log_err("%s: [storage] backend = postgresql needs a dsn", path);
			return -1;
		}
		if (dsn_has_password(c->dsn)) {
			log_err("%s: [storage] dsn holds a password; put it in a passfile ([storage] passfile) "
				"or PGPASSWORD instead",
				path);
			return -1;
		}
		if (*c->passfile && setenv("PGPASSFILE", c->passfile, 1) < 0)
			return -1;
	}
	if (store_init(config_backends[c->backend], db_where(c)) < 0) {
		log_err("%s: [storage] backend %s is not built into this corelockerd", path, config_backends[c->backend]);
		return -1;
	}
	return 0;
}

/* Entries in the audit log: 0 on a database nobody initialized, -1 on error. */
static int64_t audit_entries(struct db *db)
{
	return db_scalar(db_q(db, "SELECT count(*) FROM audit"));
}

/* ---- init ---- */

static int write_master(const char *path)
{
	uint8_t key[32];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), r = -1;

	if (fd < 0) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (cl_random(key, sizeof(key)) == 0 && write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) && fsync(fd) == 0)
		r = 0;
	else
		log_err("%s: cannot write the master key", path);
	OPENSSL_cleanse(key, sizeof(key));
	close(fd);
	if (r < 0)
		unlink(path);
	return r;
}

static int cmd_init(const char *conf)
{
	const struct config *c;
	char token[TOKEN_LEN + 1];
	struct db *db = NULL;
	struct stat st;
	int r = 1;

	if (load_config(conf) < 0)
		return 1;
	c = srv.cfg;
	if ((c->backend == BACKEND_SQLITE && stat(c->database, &st) == 0) || stat(c->signing_key, &st) == 0 ||
	    stat(c->master_key, &st) == 0) {
		log_err("already initialized: %s, %s or %s exists; refusing to overwrite", db_where(c), c->signing_key,
			c->master_key);
		return 1;
	}
	umask(077);
	owner_init(c->user);
	if ((c->backend == BACKEND_SQLITE && owner_mkdir_for(c->database) < 0) || owner_mkdir_for(c->signing_key) < 0 ||
	    owner_mkdir_for(c->master_key) < 0)
		return 1;
	if (store_open(1, &db) < 0)
		goto fail_db;
	if (audit_entries(db) != 0) {
		log_err("already initialized: the database %s holds an audit log; refusing to overwrite", db_where(c));
		store_close(db);
		return 1;
	}
	if (cl_signkey_generate(c->signing_key) < 0) {
		log_err("%s", cl_errmsg());
		goto fail_db;
	}
	if (write_master(c->master_key) < 0 || server_load_master(c->master_key) < 0)
		goto fail;
	if (store_begin(db) != DB_OK || auth_token_create(db, "admin", SCOPE_ADMIN, -1, token, NULL) < 0 ||
	    audit_append(db, "init", "init", "server", NULL) < 0 || store_commit(db) != DB_OK)
		goto fail;
	store_close(db);
	db = NULL;
	if ((c->backend == BACKEND_SQLITE && owner_chown(c->database) < 0) || owner_chown(c->signing_key) < 0 ||
	    owner_chown(c->master_key) < 0)
		goto fail;
	printf("created %s\ncreated %s (Ed25519 signing key)\ncreated %s (master key)\n"
	       "the first admin token follows; it is shown only once:\n%s\n",
	       db_where(c), c->signing_key, c->master_key, token);
	OPENSSL_cleanse(token, sizeof(token));
	return 0;
fail:
	unlink(c->signing_key);
	unlink(c->master_key);
fail_db:
	store_close(db);
	if (c->backend == BACKEND_SQLITE)
		unlink(c->database);
	return r;
}

/* ---- cert ---- */

/* A DNS name or an IP address: nothing that could end the SAN value (',') or a line. */
static int host_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253)
		return 0;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr(".-:*", *p)))
			return 0;
	return 1;
}

static int cmd_cert(const char *conf, const char *host, int force)
{
	const struct config *c;

	if (!host || !host_ok(host)) {
		log_err("cert needs --self-signed HOSTNAME: the DNS name or IP address clients connect to");
		return 2;
	}
	if (load_config(conf) < 0)
		return 1;
	c = srv.cfg;
	owner_init(c->user);
	if (cert_self_signed(host, c->tls_cert, c->tls_key, force) < 0)
		return 1;
	printf("created %s (TLS key, mode 0600)\ncreated %s (self-signed certificate for %s)\n"
	       "clients trust it as their CA file: --cacert %s (or CORELOCKER_CACERT)\n",
	       c->tls_key, c->tls_cert, host, c->tls_cert);
	return 0;
}

/* ---- check-config ---- */

static int check_file(const char *what, const char *path, int secret)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		log_err("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (access(path, R_OK) != 0) {
		log_err("%s %s: not readable", what, path);
		return -1;
	}
	if (secret && (st.st_mode & 077)) {
		log_err("%s %s: readable by group or others (mode %04o)", what, path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static int cmd_check(const char *conf)
{
	const struct config *c;
	char *dir;
	int bad = 0;
	struct stat st;

	if (load_config(conf) < 0)
		return 1;
	c = srv.cfg;
	bad |= check_file("[server] tls_cert", c->tls_cert, 0);
	bad |= check_file("[server] tls_key", c->tls_key, 1);
	bad |= check_file("[keys] signing_key", c->signing_key, 1);
	bad |= check_file("[keys] master_key", c->master_key, 1);
	if (c->backend == BACKEND_SQLITE)
		bad |= check_file("[storage] database", c->database, 0);
	if (*c->passfile)
		bad |= check_file("[storage] passfile", c->passfile, 1);
	if (*c->user && !getpwnam(c->user)) {
		log_err("[server] user %s: no such user", c->user);
		bad = -1;
	}
	dir = *c->spool ? strdup(c->spool) : NULL;
	if (dir && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
		log_err("[storage] spool %s: not a folder", dir);
		bad = -1;
	}
	free(dir);
	if (bad)
		return 1;
	printf("%s: ok\n", conf);
	return 0;
}

static int cmd_audit_verify(const char *conf)
{
	struct audit_status st;
	struct db *db;
	int r;

	if (load_config(conf) < 0 || server_load_master(srv.cfg->master_key) < 0 ||
	    store_open(0, &db) < 0)
		return 1;
	r = audit_verify(db, &st);
	store_close(db);
	if (r < 0) {
		log_err("%s: cannot read the audit log", db_where(srv.cfg));
		return 1;
	}
	if (r > 0) {
		printf("audit chain BROKEN at entry %lld: %s\n", (long long)st.bad, st.why);
		return 1;
	}
	printf("audit chain ok: %lld entries (%lld keyed)\n", (long long)st.entries, (long long)st.keyed);
	return 0;
}

static int cmd_token_create(const char *conf, const char *name, const char *scope_s, const char *exp_s)
{
	char token[TOKEN_LEN + 1];
	int scope = auth_scope(scope_s ? scope_s : "admin");
	int64_t exp = exp_s ? cl_time_parse(exp_s) : -1;
	struct db *db;
	int r = 1;

	if (!name || !*name || strlen(name) > TOKEN_NAME_MAX || !text_ok(name)) {
		log_err("token-create needs a NAME of 1 to %d printable characters", TOKEN_NAME_MAX);
		return 2;
	}
	if (scope < 0 || (exp_s && exp <= now_s())) {
		log_err("token-create: %s", scope < 0 ? "--scope must be admin or read"
						      : "--expires must be a future RFC 3339 time");
		return 2;
	}
	if (load_config(conf) < 0 || server_load_master(srv.cfg->master_key) < 0 ||
	    store_open(0, &db) < 0)
		return 1;
	if (store_begin(db) == DB_OK && auth_token_create(db, name, scope, exp, token, NULL) == 0 &&
	    audit_append(db, "cli", "token.create", name, NULL) == 0 && store_commit(db) == DB_OK) {
		printf("%s\n", token);
		r = 0;
	}
	OPENSSL_cleanse(token, sizeof(token));
	store_close(db);
	return r;
}

/* ---- serving ---- */

/*
 * Remove the ".upload-*" spool files a crash left behind.  Uploads are
 * spooled to unnamed files (O_TMPFILE), but where the file system lacks it
 * a named file lives until it is unlinked, a moment later; a crash in that
 * moment must not leave plaintext key bytes on disk.
 */
static void sweep_spool(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	unsigned n = 0;

	if (!d) {
		log_warn("%s: cannot read the spool folder: %s", dir, strerror(errno));
		return;
	}
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, ".upload-", 8) && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode)) {
			if (unlinkat(dirfd(d), e->d_name, 0) == 0)
				n++;
			else
				log_warn("%s/%s: cannot remove: %s", dir, e->d_name, strerror(errno));
		}
	closedir(d);
	if (n)
		log_info("%s: removed %u upload file%s left by a crash", dir, n, n == 1 ? "" : "s");
}

static int listen_on(const char *addr, int port, char *shown, size_t shownlen)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd, one = 1, family;

	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in);
	} else {
		inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr);
		family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		len = sizeof(struct sockaddr_in6);
	}
	ss.ss_family = (sa_family_t)family;
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		log_err("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
		log_err("cannot listen on %s port %d: %s", addr, port, strerror(errno));
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
	snprintf(shown, shownlen, family == AF_INET ? "%s:%d" : "[%s]:%d", addr, port);
	return fd;
}

static int drop_privileges(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0 || !*user)
		return 0;
	if (!(pw = getpwnam(user))) {
		log_err("[server] user %s: no such user", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		log_err("cannot switch to user %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_err("privileges were not dropped");
		return -1;
	}
	log_info("running as user %s", user);
	return 0;
}

static int cmd_serve(const char *conf)
{
	const struct config *c;
	char *cert = NULL, *key = NULL, where[96], *dcopy = NULL;
	size_t keylen = 0;
	sigset_t set;
	struct db *db = NULL;
	int fd = -1, sig, r = 1;

	if (load_config(conf) < 0)
		return 1;
	c = srv.cfg;
	if (cl_signkey_load(c->signing_key, &srv.sk) < 0) {
		log_err("%s", cl_errmsg());
		goto out;
	}
	if (cl_signkey_public_pem(srv.sk, &srv.pub_pem) < 0 || server_load_master(c->master_key) < 0)
		goto out;
	/* The TLS key is a secret like the signing and master keys (check-config agrees). */
	if (check_file("[server] tls_key", c->tls_key, 1) < 0)
		goto out;
	if (!(cert = read_small(c->tls_cert, MAX_PEM, NULL)) || !(key = read_small(c->tls_key, MAX_PEM, &keylen)))
		goto out;
	if ((fd = listen_on(c->listen, (int)c->port, where, sizeof(where))) < 0)
		goto out;
	if (drop_privileges(c->user) < 0)
		goto out;
	if (*c->spool) {
		srv.spool = strdup(c->spool);
	} else if ((dcopy = strdup(c->backend == BACKEND_SQLITE ? c->database : c->signing_key))) {
		srv.spool = strdup(dirname(dcopy));
	}
	if (!srv.spool)
		goto out;
	sweep_spool(srv.spool);
	/* Open (and migrate) once here, so that a bad database fails the start. */
	if (store_open(0, &db) < 0)
		goto out;
	if (audit_key_chain(db) < 0) {
		log_err("%s: cannot key the audit chain", db_where(c));
		store_close(db);
		goto out;
	}
	store_close(db);
	/* Block the stop signals in every thread; the main thread waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (http_start(fd, cert, key) < 0)
		goto out;
	OPENSSL_cleanse(key, keylen);
	log_info("listening on https://%s", where);
	sd_notifyf(0, "READY=1\nSTATUS=listening on https://%s\nMAINPID=%lu", where, (unsigned long)getpid());
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP ignored: restart the service to reload the configuration");
			continue;
		}
		break;
	}
	sd_notify(0, "STOPPING=1");
	log_info("stopping on signal %d", sig);
	http_stop();
	store_close_all();
	r = 0;
out:
	if (r)
		http_stop();
	if (key) {
		OPENSSL_cleanse(key, keylen);
		free(key);
	}
	free(cert);
	free(dcopy);
	if (fd >= 0)
		close(fd);
	return r;
}

static int cmd_migrate(const char *conf, const char *from)
{
	if (!from) {
		log_err("migrate needs --from sqlite:PATH");
		return 2;
	}
	if (load_config(conf) < 0 || server_load_master(srv.cfg->master_key) < 0)
		return 1;
	return migrate_from(from);
}

/* What the command line said. */
struct args {
	const char *conf, *arg, *scope, *expires, *from, *self_signed;
	int force;
};

static int run_serve(const struct args *a) { return cmd_serve(a->conf); }
static int run_init(const struct args *a) { return cmd_init(a->conf); }
static int run_check(const struct args *a) { return cmd_check(a->conf); }
static int run_audit_verify(const struct args *a) { return cmd_audit_verify(a->conf); }
static int run_token_create(const struct args *a) { return cmd_token_create(a->conf, a->arg, a->scope, a->expires); }
static int run_migrate(const struct args *a) { return cmd_migrate(a->conf, a->from); }
static int run_cert(const struct args *a) { return cmd_cert(a->conf, a->self_signed, a->force); }
static int run_dump_config(const struct args *a)
{
	(void)a;
	config_dump(stdout);
	return 0;
}

static const struct command {
	const char *name;
	int (*run)(const struct args *a);
} commands[] = {
	{"serve", run_serve},
	{"init", run_init},
	{"check-config", run_check},
	{"dump-config", run_dump_config},
	{"audit-verify", run_audit_verify},
	{"token-create", run_token_create},
	{"migrate", run_migrate},
	{"cert", run_cert},
};

int main(int argc, char **argv)
{
	struct args a = {.conf = DEFAULT_CONF};
	const char *cmd = "serve";
	const struct command *c = NULL;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
			a.conf = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("corelockerd %s\n", PACKAGE_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--scope") && i + 1 < argc) {
			a.scope = argv[++i];
		} else if (!strcmp(argv[i], "--expires") && i + 1 < argc) {
			a.expires = argv[++i];
		} else if (!strcmp(argv[i], "--from") && i + 1 < argc) {
			a.from = argv[++i];
		} else if (!strcmp(argv[i], "--self-signed") && i + 1 < argc) {
			a.self_signed = argv[++i];
		} else if (!strcmp(argv[i], "--force")) {
			a.force = 1;
		} else if (!strcmp(argv[i], "--debug")) {
			log_threshold = LOG_DEBUG;
		} else if (argv[i][0] != '-' && !strcmp(cmd, "serve") && i == 1) {
			cmd = argv[i];
		} else if (argv[i][0] != '-' && !a.arg) {
			a.arg = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, cmd))
			c = &commands[i];
	if (!c) {
		fprintf(stderr, "corelockerd: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	r = c->run(&a);
	cl_signkey_free(srv.sk);
	free(srv.pub_pem);
	free(srv.spool);
	OPENSSL_cleanse(srv.master, sizeof(srv.master));
	OPENSSL_cleanse(srv.token_key, sizeof(srv.token_key));
	audit_key_wipe();
	config_free(srv.cfg);
	return r;
}
