/* reference.c - the locking rules, implemented the slow and obvious way. */
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "corelocker.h"
#include "reference.h"

struct runit {
	double score;
	size_t group; /* tensors are in file order, so group order is file order */
	size_t idx;
};

struct rgroup {
	const struct tt *m[2];
	size_t stride[2]; /* elements per unit in each member */
	int nm;
	size_t units;
	size_t order; /* file position of the first member */
	double scale; /* global-norm: 1 / RMS of the group's finite scores */
};

static int is_float(const struct tt *t)
{
	return !strcmp(t->dtype, "F32") || !strcmp(t->dtype, "F64") || !strcmp(t->dtype, "F16") ||
	       !strcmp(t->dtype, "BF16");
}

static const struct tt *find(const struct tmodel *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->t[i].name, name))
			return &m->t[i];
	return NULL;
}

static const struct tt *sibling(const struct tmodel *m, const struct tt *w)
{
	char buf[128];
	const char *dot = strrchr(w->name, '.');
	size_t pre = dot ? (size_t)(dot - w->name + 1) : 0;
	const char *c = w->name + pre;
	size_t n = strlen(c);

	if (!strcmp(c, "weight"))
		snprintf(buf, sizeof(buf), "%.*sbias", (int)pre, w->name);
	else if (n > 7 && !strcmp(c + n - 7, "_weight"))
		snprintf(buf, sizeof(buf), "%.*s%.*s_bias", (int)pre, w->name, (int)(n - 7), c);
	else if (!strncmp(c, "weight_", 7))
		snprintf(buf, sizeof(buf), "%.*sbias_%s", (int)pre, w->name, c + 7);
	else
		return NULL;
	const struct tt *b = find(m, buf);
	if (!b || !is_float(b) || b->ndim != 1 || b->shape[0] != w->shape[0])
		return NULL;
	return b;
}

static double unit_score(const struct rgroup *g, int unit, size_t u)
{
	if (unit == CL_UNIT_NEURON) {
		double s = 0;
		for (size_t i = 0; i < g->stride[0]; i++)
			s += fabs(tt_get(g->m[0], u * g->stride[0] + i));
		return s;
	}
	return fabs(tt_get(g->m[0], u));
}

static int cmp_unit(const void *x, const void *y)
{
	const struct runit *a = x, *b = y;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static size_t build_groups(const struct tmodel *m, int unit, const char *include, struct rgroup *g)
{
	regex_t re;
	size_t n = 0;

	if (include)
		regcomp(&re, include, REG_EXTENDED | REG_NOSUB);
	for (size_t i = 0; i < m->n; i++) {
		const struct tt *t = &m->t[i];
		if (!is_float(t) || tt_nelem(t) == 0 || (include && regexec(&re, t->name, 0, NULL, 0)))
			continue;
		struct rgroup r = {.m = {t}, .nm = 1, .order = i, .scale = 1};
		if (unit == CL_UNIT_CHANNEL) {
			char b[128], mu[128], var[128];
			size_t len = strlen(t->name);
			if (t->ndim != 1 || len < 7 || strcmp(t->name + len - 7, ".weight"))
				continue;
			snprintf(b, sizeof(b), "%.*s.bias", (int)(len - 7), t->name);
			snprintf(mu, sizeof(mu), "%.*s.running_mean", (int)(len - 7), t->name);
			snprintf(var, sizeof(var), "%.*s.running_var", (int)(len - 7), t->name);
			const struct tt *beta = find(m, b);
			if (!beta || !find(m, mu) || !find(m, var) || beta->ndim != 1 || beta->shape[0] != t->shape[0])
				continue;
			r.m[1] = beta;
			r.nm = 2;
			r.stride[0] = r.stride[1] = 1;
			r.units = t->shape[0];
		} else {
			if (t->ndim < 2)
				continue;
			if (unit == CL_UNIT_ELEMENT) {
				r.stride[0] = 1;
				r.units = tt_nelem(t);
			} else {
				r.units = t->shape[0];
				r.stride[0] = tt_nelem(t) / t->shape[0];
				if ((r.m[1] = sibling(m, t))) {
					r.nm = 2;
					r.stride[1] = 1;
				}
			}
		}
		g[n++] = r;
	}
	if (include)
		regfree(&re);
	return n;
}

static size_t offset_of(const struct tmodel *m, const struct tt *t, size_t data_start)
{
	size_t off = data_start;
	for (size_t i = 0; &m->t[i] != t; i++)
		off += m->t[i].bytes;
	return off;
}

static void zero_units(const struct tmodel *m, size_t data_start, const struct rgroup *g, const struct runit *u,
		       size_t k, uint8_t *buf)
{
	for (size_t i = 0; i < k; i++) {
		const struct rgroup *gr = &g[u[i].group];
		for (int j = 0; j < gr->nm; j++) {
			size_t es = tt_esize(gr->m[j]);
			memset(buf + offset_of(m, gr->m[j], data_start) + u[i].idx * gr->stride[j] * es, 0,
			       gr->stride[j] * es);
		}
	}
}

static size_t collect(const struct rgroup *g, size_t first, size_t last, int unit, struct runit *out)
{
	size_t n = 0;
	for (size_t gi = first; gi < last; gi++)
		for (size_t u = 0; u < g[gi].units; u++) {
			double s = unit_score(&g[gi], unit, u);
			if (isfinite(s))
				out[n++] = (struct runit){g[gi].scale != 1 ? s * g[gi].scale : s, gi, u};
		}
	return n;
}

static void normalize(struct rgroup *g, size_t ng, int unit)
{
	for (size_t gi = 0; gi < ng; gi++) {
		double sum = 0;
		size_t n = 0;
		for (size_t u = 0; u < g[gi].units; u++) {
			double s = unit_score(&g[gi], unit, u);
			if (isfinite(s)) {
				sum += s * s;
				n++;
			}
		}
		double rms = n ? sqrt(sum / (double)n) : 0;
		g[gi].scale = rms > 0 && isfinite(1 / rms) ? 1 / rms : 1;
	}
}

uint8_t *ref_lock(const struct tmodel *m, const char *path, int unit, int scope, double ratio,
		  const char *include, uint64_t *count)
{
	struct rgroup g[64];
	size_t len, ng = build_groups(m, unit, include, g), total = 0, data_start;
	uint8_t *buf = read_file(path, &len);
	uint64_t hl = 0;

	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | buf[i];
	data_start = 8 + (size_t)hl;
	for (size_t i = 0; i < ng; i++)
		total += g[i].units;
	if (scope == CL_SCOPE_GLOBAL_NORM)
		normalize(g, ng, unit);
	struct runit *u = malloc((total + 1) * sizeof(*u));
	*count = 0;
	for (size_t first = 0; first < ng;) {
		size_t last = scope == CL_SCOPE_LAYER ? first + 1 : ng;
		size_t n = collect(g, first, last, unit, u);
		size_t k = (size_t)floor(ratio * (double)n + 0.5);
		qsort(u, n, sizeof(*u), cmp_unit);
		zero_units(m, data_start, g, u, k, buf);
		*count += k;
		first = last;
	}
	free(u);
	return buf;
}

/* ---- the key file, read without the library (docs/formats.md, .clkey) ---- */

unsigned ref_index_bytes(uint64_t units)
{
	/* every index, 0 .. units - 1, must fit: 256 units take 1 byte, 257 take 2 */
	static const uint64_t most[] = {1ull << 8, 1ull << 16, 1ull << 24, 1ull << 32, 1ull << 40};
	for (unsigned n = 0; n < sizeof(most) / sizeof(most[0]); n++)
		if (units <= most[n])
			return n + 1;
	return 0;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

static const char *why(const char *fmt, ...)
{
	static char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* One group's records from *POS on; NULL, or what is wrong. */
static const char *check_group(const struct tmodel *m, int unit, json_t *tensors, size_t gi, json_t *g,
			       const uint8_t *k, size_t end, size_t *pos)
{
	uint64_t units = (uint64_t)json_integer_value(json_object_get(g, "units"));
	uint64_t count = (uint64_t)json_integer_value(json_object_get(g, "count"));
	unsigned ib = (unsigned)json_integer_value(json_object_get(g, "index_bytes"));
	json_t *mem = json_object_get(g, "members");
	const struct tt *t[2] = {NULL, NULL};
	size_t stride[2] = {0, 0}, nm = json_array_size(mem), unit_bytes = 0;

	if (ib != ref_index_bytes(units))
		return why("group %zu: index_bytes %u for %llu units, want %u", gi, ib,
			   (unsigned long long)units, ref_index_bytes(units));
	for (size_t j = 0; j < nm && j < 2; j++) {
		json_t *pair = json_array_get(mem, j);
		size_t ti = (size_t)json_integer_value(json_array_get(pair, 0));
		t[j] = find(m, json_string_value(json_object_get(json_array_get(tensors, ti), "name")));
		stride[j] = (size_t)json_integer_value(json_array_get(pair, 1));
		if (!t[j] || stride[j] * units != t[j]->bytes)
			return why("group %zu member %zu: not a tensor of the model, or stride x units is off",
				   gi, j);
		unit_bytes += stride[j];
	}
	if (nm < 1 || nm > 2 || units != (unit == CL_UNIT_ELEMENT ? tt_nelem(t[0]) : t[0]->shape[0]))
		return why("group %zu: %llu units in %zu members, not what unit %s gives", gi,
			   (unsigned long long)units, nm, cl_unit_name(unit));
	for (uint64_t r = 0; r < count; r++) {
		if (end - *pos < ib + unit_bytes)
			return why("group %zu record %llu runs past the records", gi, (unsigned long long)r);
		uint64_t u = le(k + *pos, ib);
		size_t p = *pos + ib;
		if (u >= units)
			return why("group %zu record %llu: unit %llu of %llu", gi, (unsigned long long)r,
				   (unsigned long long)u, (unsigned long long)units);
		for (size_t j = 0; j < nm; j++) {
			if (memcmp(k + p, t[j]->data + u * stride[j], stride[j]))
				return why("group %zu record %llu: bytes differ from unit %llu of '%s'", gi,
					   (unsigned long long)r, (unsigned long long)u, t[j]->name);
			p += stride[j];
		}
		*pos += ib + unit_bytes;
	}
	return NULL;
}

const char *ref_check_key(const struct tmodel *m, int unit, const char *key)
{
	size_t len, hlen = 0, pos, gi;
	uint8_t *k = read_file(key, &len), d[32];
	const char *bad = NULL;
	json_t *h = NULL, *g;

	if (!k || len < 48 || memcmp(k, "CLKEY\r\n\x1a", 8))
		bad = why("not a .clkey file");
	else if (le(k + 8, 4) != 3)
		bad = why("version %llu, want 3", (unsigned long long)le(k + 8, 4));
	else if ((hlen = (size_t)le(k + 12, 4)) > len - 48)
		bad = why("header length %zu runs past the end", hlen);
	else if (!EVP_Digest(k, len - 32, d, NULL, EVP_sha256(), NULL) || memcmp(d, k + len - 32, 32))
		bad = why("the trailer is not the SHA-256 of the rest");
	else if (!(h = json_loadb((const char *)k + 16, hlen, 0, NULL)))
		bad = why("the header is not JSON");
	pos = 16 + hlen;
	json_array_foreach(bad ? NULL : json_object_get(h, "groups"), gi, g) {
		if ((bad = check_group(m, unit, json_object_get(h, "tensors"), gi, g, k, len - 32, &pos)))
			break;
	}
	if (!bad && pos != len - 32)
		bad = why("%zu bytes after the last record", len - 32 - pos);
	json_decref(h);
	free(k);
	return bad;
}
