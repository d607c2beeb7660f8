/* conf.c - flags > environment > config file, from one key table. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "conf.h"
#include "error.h"

#define MAX_FILE (64u << 10)

int clc_init(struct clc *c, const struct clc_key *keys, size_t n)
{
	memset(c, 0, sizeof(*c));
	c->keys = keys;
	c->n = n;
	if (!(c->val = calloc(n, sizeof(*c->val))) || !(c->flag = calloc(n, sizeof(*c->flag)))) {
		clc_free(c);
		return cl_fail(CL_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&c->flag[i], "--%s", keys[i].name) < 0) {
			c->flag[i] = NULL;
			clc_free(c);
			return cl_fail(CL_ENOMEM, "out of memory");
		}
		for (char *p = c->flag[i]; *p; p++)
			if (*p == '_')
				*p = '-';
	}
	return 0;
}

void clc_free(struct clc *c)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->val && c->val[i]) {
			OPENSSL_cleanse(c->val[i], strlen(c->val[i])); /* tokens and license keys */
			free(c->val[i]);
		}
		if (c->flag)
			free(c->flag[i]);
	}
	free(c->val);
	free(c->flag);
	memset(c, 0, sizeof(*c));
}

size_t clc_options(const struct clc *c, struct option *opts, int base)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++)
		if (c->keys[i].where & CLC_FLAG)
			opts[k++] = (struct option){c->flag[i] + 2, required_argument, NULL, base + (int)i};
	return k;
}

int clc_set(struct clc *c, size_t i, const char *value)
{
	char *v = strdup(value);

	if (!v)
		return cl_fail(CL_ENOMEM, "out of memory");
	if (c->val[i]) {
		OPENSSL_cleanse(c->val[i], strlen(c->val[i]));
		free(c->val[i]);
	}
	c->val[i] = v;
	return 0;
}

static long find(const struct clc *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->keys[i].name, name))
			return (long)i;
	return -1;
}

const char *clc_get(const struct clc *c, const char *name)
{
	long i = find(c, name);
	return i < 0 ? NULL : c->val[i];
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int load_file(struct clc *c, const char *path, const char *section)
{
	FILE *f = fopen(path, "r");
	char line[4096], cur[64] = "";
	unsigned lineno = 0;
	size_t total = 0;
	int r = 0;

	if (!f)
		return cl_fail_errno("config file %s", path);
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *k, *v;
		lineno++;
		total += strlen(line);
		if (total > MAX_FILE) {
			r = cl_fail(CL_ELIMIT, "%s: larger than %u bytes", path, MAX_FILE);
			break;
		}
		if (!strchr(line, '\n') && !feof(f)) {
			r = cl_fail(CL_EINVAL, "%s:%u: line too long", path, lineno);
			break;
		}
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (!e || e[1] || e - s - 1 >= (long)sizeof(cur)) {
				r = cl_fail(CL_EINVAL, "%s:%u: bad section line", path, lineno);
				break;
			}
			*e = 0;
			snprintf(cur, sizeof(cur), "%s", trim(s + 1));
			continue;
		}
		if (!(eq = strchr(s, '='))) {
			r = cl_fail(CL_EINVAL, "%s:%u: expected 'key = value'", path, lineno);
			break;
		}
		*eq = 0;
		k = trim(s);
		v = trim(eq + 1);
		if (*cur && strcmp(cur, section))
			continue; /* another program's section */
		long i = find(c, k);
		if (i < 0 || !(c->keys[i].where & CLC_FILE)) {
			r = cl_fail(CL_EINVAL, "%s:%u: unknown key '%s'", path, lineno, k);
			break;
		}
		if (!c->val[i] && (r = clc_set(c, (size_t)i, v)) < 0)
			break;
	}
	if (r == 0 && ferror(f))
		r = cl_fail_errno("config file %s", path);
	fclose(f);
	return r;
}

int clc_complete(struct clc *c, const char *config_key, const char *section)
{
	const char *path;
	int r;

	for (size_t i = 0; i < c->n; i++) {
		const char *e =
		    c->keys[i].env && (c->keys[i].where & CLC_ENV) ? getenv(c->keys[i].env) : NULL;
		if (!c->val[i] && e && *e && (r = clc_set(c, i, e)) < 0)
			return r;
	}
	path = config_key ? clc_get(c, config_key) : NULL;
	return path ? load_file(c, path, section) : 0;
}

void clc_help(const struct clc *c, FILE *f)
{
	char left[64];

	for (size_t i = 0; i < c->n; i++) {
		if (!(c->keys[i].where & CLC_FLAG))
			continue;
		snprintf(left, sizeof(left), "%s %s", c->flag[i], c->keys[i].metavar);
		fprintf(f, "  %-26s %s", left, c->keys[i].help);
		if (c->keys[i].env && (c->keys[i].where & CLC_ENV))
			fprintf(f, " [%s]", c->keys[i].env);
		fputc('\n', f);
	}
}
