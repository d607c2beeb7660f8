/* groups.c - eligibility, siblings and BN layers: which units exist. */
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "dtype.h"
#include "error.h"
#include "groups.h"

int cl_sibling_name(const char *name, char *buf, size_t len)
{
	const char *last = strrchr(name, '.');
	size_t pre = last ? (size_t)(last - name + 1) : 0, n;
	const char *comp = name + pre;

	if (strlen(name) + 1 > len)
		return -1;
	memcpy(buf, name, pre);
	n = strlen(comp);
	if (strcmp(comp, "weight") == 0) {
		strcpy(buf + pre, "bias");
	} else if (n > 7 && strcmp(comp + n - 7, "_weight") == 0) {
		memcpy(buf + pre, comp, n - 7);
		strcpy(buf + pre + n - 7, "_bias");
	} else if (strncmp(comp, "weight_", 7) == 0) {
		strcpy(buf + pre, "bias_");
		strcpy(buf + pre + 5, comp + 7);
	} else {
		return -1;
	}
	return 0;
}

static int is_float(const struct cl_tensor *t)
{
	return cl_dtype_get(t->dtype)->lockable;
}

static uint64_t esize(const struct cl_tensor *t)
{
	return cl_dtype_get(t->dtype)->size;
}

/* A 1-D float tensor NAME of LEN entries, not yet claimed; else -1. */
static long find_vector(const struct cl_model *m, const char *name, uint64_t len, const char *claimed)
{
	long i = cl_model_find(m, name);

	if (i < 0 || claimed[i] || !is_float(&m->t[i]) || m->t[i].ndim != 1 || m->t[i].shape[0] != len)
		return -1;
	return i;
}

struct filter {
	regex_t inc, exc;
	int has_inc, has_exc;
};

static int filter_init(struct filter *f, const char *inc, const char *exc)
{
	memset(f, 0, sizeof(*f));
	if (inc && regcomp(&f->inc, inc, REG_EXTENDED | REG_NOSUB))
		return cl_fail(CL_EINVAL, "--include: invalid regular expression '%s'", inc);
	f->has_inc = inc != NULL;
	if (exc && regcomp(&f->exc, exc, REG_EXTENDED | REG_NOSUB)) {
		if (f->has_inc)
			regfree(&f->inc);
		return cl_fail(CL_EINVAL, "--exclude: invalid regular expression '%s'", exc);
	}
	f->has_exc = exc != NULL;
	return 0;
}

static int filter_pass(const struct filter *f, const char *name)
{
	if (f->has_inc && regexec(&f->inc, name, 0, NULL, 0) != 0)
		return 0;
	return !(f->has_exc && regexec(&f->exc, name, 0, NULL, 0) == 0);
}

static void filter_free(struct filter *f)
{
	if (f->has_inc)
		regfree(&f->inc);
	if (f->has_exc)
		regfree(&f->exc);
}

/* Fill G for tensor I under UNIT; 0 when it forms a group, 1 when not eligible. */
static int make_group(const struct cl_model *m, size_t i, int unit, char *claimed, struct cl_group *g)
{
	const struct cl_tensor *t = &m->t[i];
	char sib[1024];
	long j;

	memset(g, 0, sizeof(*g));
	if (!is_float(t) || t->nelem == 0)
		return 1;
	if (unit == CL_UNIT_CHANNEL) {
		const char *dot = strrchr(t->name, '.');
		size_t pre;
		if (t->ndim != 1 || !dot || strcmp(dot, ".weight") || strlen(t->name) + 16 > sizeof(sib))
			return 1;
		pre = (size_t)(dot - t->name);
		static const char *const stats[] = {".running_mean", ".running_var"};
		for (int s = 0; s < 2; s++) {
			long k;
			snprintf(sib, sizeof(sib), "%.*s%s", (int)pre, t->name, stats[s]);
			k = cl_model_find(m, sib);
			if (k < 0 || m->t[k].ndim != 1 || m->t[k].shape[0] != t->shape[0])
				return 1;
		}
		snprintf(sib, sizeof(sib), "%.*s.bias", (int)pre, t->name);
		if ((j = find_vector(m, sib, t->shape[0], claimed)) < 0)
			return 1;
		g->units = t->shape[0];
		g->m[0] = (struct cl_member){(uint32_t)i, esize(t)};
		g->m[1] = (struct cl_member){(uint32_t)j, esize(&m->t[j])};
		g->nm = 2;
		claimed[j] = 1;
	} else {
		if (t->ndim < 2)
			return 1;
		if (unit == CL_UNIT_ELEMENT) {
			g->units = t->nelem;
			g->m[0] = (struct cl_member){(uint32_t)i, esize(t)};
			g->nm = 1;
		} else {
			g->units = t->shape[0];
			g->m[0] = (struct cl_member){(uint32_t)i, t->nelem / t->shape[0] * esize(t)};
			g->nm = 1;
			if (cl_sibling_name(t->name, sib, sizeof(sib)) == 0 &&
			    (j = find_vector(m, sib, t->shape[0], claimed)) >= 0) {
				g->m[1] = (struct cl_member){(uint32_t)j, esize(&m->t[j])};
				g->nm = 2;
				claimed[j] = 1;
			}
		}
	}
	for (unsigned k = 0; k < g->nm; k++)
		g->unit_bytes += g->m[k].stride;
	g->scale = 1;
	return 0;
}

int cl_groups_build(const struct cl_model *m, int unit, const char *include, const char *exclude,
		    struct cl_group **out, size_t *n)
{
	struct cl_group *g = calloc(m->nt + 1, sizeof(*g));
	char *claimed = calloc(m->nt + 1, 1);
	struct filter f;
	size_t k = 0;
	int r;

	if (!g || !claimed) {
		free(g);
		free(claimed);
		return cl_fail(CL_ENOMEM, "out of memory");
	}
	if ((r = filter_init(&f, include, exclude)) < 0) {
		free(g);
		free(claimed);
		return r;
	}
	for (size_t i = 0; i < m->nt; i++)
		if (filter_pass(&f, m->t[i].name) && make_group(m, i, unit, claimed, &g[k]) == 0)
			k++;
	filter_free(&f);
	free(claimed);
	*out = g;
	*n = k;
	return 0;
}

void cl_group_scores(const struct cl_model *m, const struct cl_group *g, int unit, uint64_t u0,
		     size_t n, double *out)
{
	const struct cl_tensor *t = &m->t[g->m[0].tensor];
	uint64_t stride = g->m[0].stride;

	if (unit == CL_UNIT_NEURON) {
		uint64_t per_row = stride / esize(t);
		for (size_t i = 0; i < n; i++)
			out[i] = cl_dtype_l1(t->dtype, t->data + (u0 + i) * stride, per_row);
	} else {
		cl_dtype_abs(t->dtype, t->data + u0 * stride, n, out);
	}
	if (g->scale != 1)
		for (size_t i = 0; i < n; i++)
			out[i] *= g->scale;
}

void cl_groups_normalize(const struct cl_model *m, struct cl_group *g, size_t n, int unit)
{
	double s[1024];

	for (size_t i = 0; i < n; i++) {
		double sum = 0;
		uint64_t finite = 0;
		g[i].scale = 1;
		for (uint64_t u = 0; u < g[i].units; u += 1024) {
			size_t c = g[i].units - u < 1024 ? (size_t)(g[i].units - u) : 1024;
			cl_group_scores(m, &g[i], unit, u, c, s);
			for (size_t j = 0; j < c; j++)
				if (isfinite(s[j])) {
					sum += s[j] * s[j];
					finite++;
				}
		}
		double rms = finite ? sqrt(sum / (double)finite) : 0;
		if (rms > 0 && isfinite(1 / rms))
			g[i].scale = 1 / rms;
	}
}
