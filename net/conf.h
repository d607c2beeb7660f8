/*
 * conf.h - program settings from flags, the environment and a small INI
 * file, in that order of precedence, driven by one key table per program.
 *
 * A key "server_key" is the flag --server-key, the variable
 * CORELOCKER_SERVER_KEY and the line "server_key = ..." of the config file.
 * The file may have [sections]: a program reads the lines before the first
 * section and those of its own section, refuses unknown keys there, and
 * ignores other sections.  Values are copied; clc_free() releases them.
 */
#ifndef CL_NET_CONF_H
#define CL_NET_CONF_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

enum { CLC_FLAG = 1, CLC_ENV = 2, CLC_FILE = 4, CLC_ALL = 7 };

struct clc_key {
	const char *name;    /* config-file key; the flag is the same with '-' for '_' */
	const char *env;     /* environment variable, or NULL */
	const char *metavar; /* shown in --help */
	unsigned where;	     /* CLC_FLAG | CLC_ENV | CLC_FILE */
	const char *help;
};

struct clc {
	const struct clc_key *keys;
	size_t n;
	char **val;  /* one per key, NULL when unset */
	char **flag; /* "--server-key" spellings for getopt and messages */
};

int clc_init(struct clc *c, const struct clc_key *keys, size_t n);
void clc_free(struct clc *c);
/*
 * Append a getopt_long option per flag key to OPTS (which must have room for
 * c->n more entries), with val = BASE + key index; returns the count added.
 */
size_t clc_options(const struct clc *c, struct option *opts, int base);
/* Set key I from a flag (flags win over everything else). */
int clc_set(struct clc *c, size_t i, const char *value);
/* Fill unset keys from the environment, then from the file of key CONFIG_KEY (if set), section SECTION. */
int clc_complete(struct clc *c, const char *config_key, const char *section);
/* The value of key NAME, or NULL. */
const char *clc_get(const struct clc *c, const char *name);
/* The options part of --help, from the table. */
void clc_help(const struct clc *c, FILE *f);

#endif
