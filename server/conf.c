/* conf.c - the table of configuration keys and the INI reader. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"

enum cfg_type { CFG_STR, CFG_PATH, CFG_ADDR, CFG_INT, CFG_SIZE, CFG_ENUM };

struct cfg_key {
	const char *section, *name;
	enum cfg_type type;
	int64_t min, max;   /* CFG_INT, CFG_SIZE; string length for the others */
	const char *def;    /* default as written in the file; "" = empty */
	const char *const *choices; /* CFG_ENUM: the value is the index */
	size_t off;
	const char *help;
};

static const char *const levels[] = {"error", "warning", "info", "debug", NULL};
const char *const config_backends[] = {"sqlite", "postgresql", NULL};

#define S(f) offsetof(struct config, f)
#define K 1024ll
static const struct cfg_key table[] = {
	{"server", "listen", CFG_ADDR, 1, 64, "127.0.0.1", NULL, S(listen),
	 "IPv4 or IPv6 address to listen on (0.0.0.0 or :: for every interface)."},
	{"server", "port", CFG_INT, 0, 65535, "8443", NULL, S(port),
	 "TCP port; 0 takes any free port (the log line 'listening on' names it)."},
	{"server", "tls_cert", CFG_PATH, 1, 4096, "/etc/corelocker/tls/cert.pem", NULL, S(tls_cert),
	 "PEM certificate chain served to clients (TLS 1.3, and TLS 1.2 with ECDHE AEAD suites only)."},
	{"server", "tls_key", CFG_PATH, 1, 4096, "/etc/corelocker/tls/key.pem", NULL, S(tls_key),
	 "PEM private key of tls_cert (mode 0600: readable by its owner only)."},
	{"server", "threads", CFG_INT, 1, 256, "4", NULL, S(threads), "Worker threads serving requests."},
	{"server", "max_connections", CFG_INT, 1, 100000, "512", NULL, S(max_connections),
	 "Most simultaneous client connections."},
	{"server", "timeout", CFG_INT, 1, 3600, "30", NULL, S(timeout),
	 "Seconds of inactivity after which a connection is closed."},
	{"server", "user", CFG_STR, 0, 64, "", NULL, S(user),
	 "When started as root: switch to this user after reading the keys and binding the port.\n"
	 "Empty: keep the current user."},
	{"storage", "backend", CFG_ENUM, 0, 0, "sqlite", config_backends, S(backend),
	 "sqlite (one node, the embedded default) or postgresql (any number of nodes\n"
	 "sharing one database behind a TCP load balancer; see docs/deploy.md)."},
	{"storage", "database", CFG_PATH, 1, 4096, "/var/lib/corelocker/corelockerd.db", NULL, S(database),
	 "backend = sqlite: the database file (WAL mode), created by 'corelockerd init'."},
	{"storage", "dsn", CFG_STR, 0, 4096, "", NULL, S(dsn),
	 "backend = postgresql: the libpq connection string, e.g.\n"
	 "'host=db1 dbname=corelocker user=corelockerd sslmode=verify-full'.  Never a\n"
	 "password: it would show wherever the configuration does (use passfile)."},
	{"storage", "passfile", CFG_PATH, 0, 4096, "", NULL, S(passfile),
	 "backend = postgresql: a libpq password file (mode 0600), or empty for\n"
	 "~/.pgpass and the PG* environment variables."},
	{"storage", "spool", CFG_PATH, 0, 4096, "", NULL, S(spool),
	 "Folder for uploads in progress (unnamed O_TMPFILE files; where the file system\n"
	 "lacks them, .upload-* files unlinked at once and swept at start); empty: the\n"
	 "database file's folder (sqlite), or the signing key's (postgresql)."},
	{"keys", "signing_key", CFG_PATH, 1, 4096, "/var/lib/corelocker/signing.key", NULL, S(signing_key),
	 "Ed25519 private key (PEM, mode 0600) that signs answers and key volumes."},
	{"keys", "master_key", CFG_PATH, 1, 4096, "/var/lib/corelocker/master.key", NULL, S(master_key),
	 "32-byte at-rest key (mode 0600): AES-256-GCM over every stored key and slice,\n"
	 "and the secret of the token and license-key hashes."},
	{"limits", "max_body", CFG_SIZE, 1 * K, 900 * K * K, "256M", NULL, S(max_body),
	 "Largest .clkey upload (suffixes K, M, G; at most 900M: a sealed key is one SQLite blob)."},
	{"limits", "max_json", CFG_SIZE, 1 * K, 1 * K * K, "64K", NULL, S(max_json),
	 "Largest JSON request body."},
	{"limits", "max_header", CFG_SIZE, 4 * K, 1 * K * K, "32K", NULL, S(max_header),
	 "Memory for one connection's request line and headers."},
	{"limits", "rate", CFG_INT, 0, 1000000, "50", NULL, S(rate),
	 "Requests per second allowed from one client address; 0 turns the limit off."},
	{"limits", "burst", CFG_INT, 1, 1000000, "200", NULL, S(burst),
	 "Requests one client address may make at once before 'rate' applies."},
	{"limits", "license_rate", CFG_INT, 0, 1000000, "5", NULL, S(license_rate),
	 "activate, validate and key requests per second allowed for one license key\n"
	 "(a key that matches no license counts only against 'rate'); 0: off."},
	{"limits", "license_burst", CFG_INT, 1, 1000000, "20", NULL, S(license_burst),
	 "Burst of activate, validate and key requests for one license key."},
	{"limits", "activate_rate", CFG_INT, 0, 1000000, "1", NULL, S(activate_rate),
	 "Activations per second allowed from one client address; 0: off."},
	{"limits", "activate_burst", CFG_INT, 1, 1000000, "10", NULL, S(activate_burst),
	 "Burst of activations from one client address."},
	/* slow clients: one address cannot hold every connection, a head cannot dribble in */
	{"limits", "max_connections_per_ip", CFG_INT, 0, 100000, "32", NULL, S(max_connections_per_ip),
	 "Most simultaneous connections from one client address (beyond it a new one is\n"
	 "closed at once); 0: no per-address cap, only [server] max_connections."},
	{"limits", "header_timeout", CFG_INT, 1, 3600, "10", NULL, S(header_timeout),
	 "Seconds within which a request head (TLS handshake, request line and headers)\n"
	 "must arrive, counted from the connection's start or the end of the previous\n"
	 "answer on it; a connection past it is closed."},
	{"limits", "min_upload_rate", CFG_SIZE, 0, 1 * K * K * K, "1K", NULL, S(min_upload_rate),
	 "Slowest request body accepted, in bytes per second averaged over the body\n"
	 "(checked once header_timeout seconds of it have passed); 0: no floor."},
	{"limits", "max_deliveries", CFG_INT, 1, 100000, "64", NULL, S(max_deliveries),
	 "Key volumes streamed at once; beyond it POST /v1/key answers 503 UNAVAILABLE\n"
	 "with Retry-After.  Each holds a bounded buffer; the tier's unsealed slice is shared."},
	{"limits", "slice_cache", CFG_SIZE, 0, 64 * K * K * K, "64M", NULL, S(slice_cache),
	 "Memory for unsealed tier slices kept between key deliveries (least recently\n"
	 "used out first); a slice costs its plaintext.  A slice larger than this is\n"
	 "unsealed for each delivery, which delays the first byte of a big model's full\n"
	 "tier (about half a second for a 1 GiB BF16 model's 92 MiB).  0: no cache."},
	{"limits", "lease_grace", CFG_INT, 0, 3600, "30", NULL, S(lease_grace),
	 "Seconds after a seat's lease ends before it counts as lapsed (LEASE_EXPIRED, and\n"
	 "on a floating license free for another machine): room for clock drift and a\n"
	 "late heartbeat."},
	{"log", "level", CFG_ENUM, 0, 0, "info", levels, S(level), "error, warning, info or debug."},
};
#define NKEYS (sizeof(table) / sizeof(table[0]))

static int parse_size(const char *s, int64_t *out)
{
	char *end;
	long long v, mul = 1;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -1;
	if (*end == 'K' || *end == 'k')
		mul = K;
	else if (*end == 'M' || *end == 'm')
		mul = K * K;
	else if (*end == 'G' || *end == 'g')
		mul = K * K * K;
	if (mul > 1)
		end++;
	if (*end || __builtin_mul_overflow(v, mul, &v))
		return -1;
	*out = v;
	return 0;
}

static int set_value(struct config *c, const struct cfg_key *k, const char *v, const char *dir, char *why,
		     size_t whylen)
{
	char **sp = (char **)((char *)c + k->off);
	int64_t *ip = (int64_t *)((char *)c + k->off), n;
	size_t len = strlen(v);
	char *end;

	switch (k->type) {
	case CFG_INT:
		errno = 0;
		n = strtoll(v, &end, 10);
		if (!*v || *end || errno || n < k->min || n > k->max) {
			snprintf(why, whylen, "%s.%s must be an integer in [%lld, %lld], not '%s'", k->section, k->name,
				 (long long)k->min, (long long)k->max, v);
			return -1;
		}
		*ip = n;
		return 0;
	case CFG_SIZE:
		if (parse_size(v, &n) < 0 || n < k->min || n > k->max) {
			snprintf(why, whylen, "%s.%s must be a size in [%lldK, %lldK] (suffix K, M or G), not '%s'",
				 k->section, k->name, (long long)(k->min / K), (long long)(k->max / K), v);
			return -1;
		}
		*ip = n;
		return 0;
	case CFG_ENUM:
		for (int i = 0; k->choices[i]; i++)
			if (!strcmp(v, k->choices[i])) {
				*ip = i;
				return 0;
			}
		snprintf(why, whylen, "%s.%s: unknown value '%s'", k->section, k->name, v);
		return -1;
	default:
		break;
	}
	if ((int64_t)len < k->min || (int64_t)len > k->max) {
		snprintf(why, whylen, "%s.%s must be %lld to %lld characters long", k->section, k->name,
			 (long long)k->min, (long long)k->max);
		return -1;
	}
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(why, whylen, "%s.%s holds a control character", k->section, k->name);
			return -1;
		}
	if (k->type == CFG_ADDR) {
		unsigned char buf[16];
		if (inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1) {
			snprintf(why, whylen, "%s.%s: '%s' is not an IPv4 or IPv6 address", k->section, k->name, v);
			return -1;
		}
	}
	free(*sp);
	if (k->type == CFG_PATH && *v && *v != '/' && dir) {
		if (asprintf(sp, "%s/%s", dir, v) < 0)
			*sp = NULL;
	} else {
		*sp = strdup(v);
	}
	if (!*sp) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = 0;
	return s;
}

int config_load(const char *path, struct config **out, char *why, size_t whylen)
{
	struct config *c = calloc(1, sizeof(*c));
	char line[4096 + 2], section[32] = "", *dcopy = NULL, *dir;
	unsigned char seen[NKEYS] = {0};
	FILE *f = NULL;
	unsigned lineno = 0;
	int r = -1;

	if (!c || !(dcopy = strdup(path)) || !(c->path = strdup(path))) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	dir = dirname(dcopy);
	for (size_t i = 0; i < NKEYS; i++)
		if (set_value(c, &table[i], table[i].def, NULL, why, whylen) < 0)
			goto out; /* a bad default is our bug */
	if (!(f = fopen(path, "re"))) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;
		const struct cfg_key *k = NULL;
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(why, whylen, "%s:%u: line longer than 4096 bytes", path, lineno);
			goto out;
		}
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || e[1] || e - s - 1 >= (long)sizeof(section) || e - s < 2) {
				snprintf(why, whylen, "%s:%u: bad section header", path, lineno);
				goto out;
			}
			*e = 0;
			snprintf(section, sizeof(section), "%s", s + 1);
			int known = 0;
			for (size_t i = 0; i < NKEYS; i++)
				known |= !strcmp(table[i].section, section);
			if (!known) {
				snprintf(why, whylen, "%s:%u: unknown section [%s]", path, lineno, section);
				goto out;
			}
			continue;
		}
		if (!(eq = strchr(s, '='))) {
			snprintf(why, whylen, "%s:%u: expected 'key = value'", path, lineno);
			goto out;
		}
		*eq = 0;
		key = trim(s);
		val = trim(eq + 1);
		if (strlen(val) >= 2 && val[0] == '"' && val[strlen(val) - 1] == '"') {
			val[strlen(val) - 1] = 0;
			val++;
		}
		for (size_t i = 0; i < NKEYS; i++)
			if (!strcmp(table[i].section, section) && !strcmp(table[i].name, key)) {
				k = &table[i];
				if (seen[i]++) {
					snprintf(why, whylen, "%s:%u: %s.%s is set twice", path, lineno, section, key);
					goto out;
				}
			}
		if (!k) {
			snprintf(why, whylen, "%s:%u: unknown key '%s' in [%s]", path, lineno, key,
				 *section ? section : "(no section)");
			goto out;
		}
		char sub[512];
		if (set_value(c, k, val, dir, sub, sizeof(sub)) < 0) {
			snprintf(why, whylen, "%s:%u: %s", path, lineno, sub);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(why, whylen, "%s: read error", path);
		goto out;
	}
	log_threshold = (int)c->level;
	*out = c;
	c = NULL;
	r = 0;
out:
	if (f)
		fclose(f);
	free(dcopy);
	config_free(c);
	return r;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (table[i].type == CFG_STR || table[i].type == CFG_PATH || table[i].type == CFG_ADDR)
			free(*(char **)((char *)c + table[i].off));
	free(c->path);
	free(c);
}

void config_dump(FILE *f)
{
	const char *section = "";

	fprintf(f, "# corelockerd.conf - configuration of the corelocker licensing daemon.\n"
		   "# Generated by 'corelockerd dump-config' from the daemon's table of keys;\n"
		   "# every key is shown with its default.  Relative paths are relative to this\n"
		   "# file's folder.  Check a file with 'corelockerd check-config -c FILE'.\n");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct cfg_key *k = &table[i];
		if (strcmp(section, k->section)) {
			section = k->section;
			fprintf(f, "\n[%s]\n", section);
		}
		fprintf(f, "\n# ");
		for (const char *p = k->help; *p; p++)
			fputs(*p == '\n' ? "\n# " : (char[]){*p, 0}, f);
		if (k->type == CFG_INT)
			fprintf(f, "\n# Range: %lld to %lld.", (long long)k->min, (long long)k->max);
		fprintf(f, "\n#%s = %s\n", k->name, k->def);
	}
}
