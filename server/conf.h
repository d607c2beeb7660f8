/*
 * conf.h - corelockerd.conf: an INI file read through ONE table of keys
 * (section, name, type, bounds, default, help).  Parsing, check-config, the
 * commented sample (etc/corelockerd.conf, from `corelockerd dump-config`)
 * and the man page's key list all come from that table.
 *
 * Relative paths are taken relative to the configuration file's folder.  A
 * struct config belongs to its loader; free it with config_free().
 */
#ifndef SRV_CONF_H
#define SRV_CONF_H

#include <stdint.h>
#include <stdio.h>

struct config {
	/* [server] */
	char *listen;
	int64_t port, threads, max_connections, timeout;
	char *tls_cert, *tls_key, *user;
	/* [storage] */
	int64_t backend; /* index in config_backends */
	char *database, *dsn, *passfile, *spool;
	/* [keys] */
	char *signing_key, *master_key;
	/* [limits] */
	int64_t max_body, max_json, max_header;
	int64_t rate, burst, license_rate, license_burst, activate_rate, activate_burst;
	/* [limits]: slow clients (trust-http) */
	int64_t max_connections_per_ip, header_timeout, min_upload_rate;
	int64_t max_deliveries;
	int64_t slice_cache; /* bytes of unsealed slices kept between deliveries */
	int64_t lease_grace; /* seconds a lapsed lease is still honoured (clock drift) */
	/* [log] */
	int64_t level;
	char *path; /* the file it was read from */
};

/* [storage] backend values, in the order of enum config backend. */
extern const char *const config_backends[];
enum { BACKEND_SQLITE, BACKEND_POSTGRESQL };

/* Load PATH; on failure *why holds "file:line: reason". */
int config_load(const char *path, struct config **out, char *why, size_t whylen);
void config_free(struct config *c);
/* Print the commented sample configuration, generated from the table. */
void config_dump(FILE *f);

#endif
