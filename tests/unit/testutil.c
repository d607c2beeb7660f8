/* testutil.c - harness and model builder for the unit tests. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

int t_pass, t_fail;

int test_end(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
	return t_fail ? 1 : 0;
}

size_t tt_esize(const struct tt *t)
{
	return !strcmp(t->dtype, "F64") || !strcmp(t->dtype, "I64") ? 8
	       : !strcmp(t->dtype, "F32")			       ? 4
	       : !strcmp(t->dtype, "BOOL") || !strcmp(t->dtype, "U8") ? 1
								       : 2;
}

size_t tt_nelem(const struct tt *t)
{
	size_t n = 1;
	for (unsigned i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

static uint16_t f32_to_f16(float f)
{
	/* good enough for test data: round toward zero, normal range only */
	uint32_t b;
	memcpy(&b, &f, 4);
	uint32_t sign = (b >> 16) & 0x8000;
	int exp = (int)((b >> 23) & 0xff) - 127 + 15;
	uint32_t man = (b >> 13) & 0x3ff;
	if (f != f)
		return 0x7e00;
	if (isinf(f))
		return (uint16_t)(sign | 0x7c00);
	if (exp <= 0)
		return (uint16_t)sign;
	if (exp >= 31)
		return (uint16_t)(sign | 0x7bff);
	return (uint16_t)(sign | (uint32_t)exp << 10 | man);
}

static double f16_to_double(uint16_t h)
{
	unsigned e = (h >> 10) & 31, m = h & 1023;
	double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, (int)e - 25);
	return (h & 0x8000) ? -v : v;
}

void tt_set(struct tt *t, size_t i, double v)
{
	uint8_t *p = t->data + i * tt_esize(t);
	if (!strcmp(t->dtype, "F64")) {
		memcpy(p, &v, 8);
	} else if (!strcmp(t->dtype, "F32")) {
		float f = (float)v;
		memcpy(p, &f, 4);
	} else if (!strcmp(t->dtype, "F16")) {
		uint16_t h = f32_to_f16((float)v);
		memcpy(p, &h, 2);
	} else if (!strcmp(t->dtype, "BF16")) {
		float f = (float)v;
		uint32_t b;
		memcpy(&b, &f, 4);
		uint16_t h = (uint16_t)(b >> 16);
		memcpy(p, &h, 2);
	} else if (!strcmp(t->dtype, "I64")) {
		int64_t x = (int64_t)v;
		memcpy(p, &x, 8);
	} else {
		*p = (uint8_t)v;
	}
}

double tt_get(const struct tt *t, size_t i)
{
	const uint8_t *p = t->data + i * tt_esize(t);
	if (!strcmp(t->dtype, "F64")) {
		double d;
		memcpy(&d, p, 8);
		return d;
	}
	if (!strcmp(t->dtype, "F32")) {
		float f;
		memcpy(&f, p, 4);
		return f;
	}
	if (!strcmp(t->dtype, "F16")) {
		uint16_t h;
		memcpy(&h, p, 2);
		return f16_to_double(h);
	}
	if (!strcmp(t->dtype, "BF16")) {
		uint16_t h;
		memcpy(&h, p, 2);
		uint32_t b = (uint32_t)h << 16;
		float f;
		memcpy(&f, &b, 4);
		return f;
	}
	return NAN;
}

static double gauss(uint64_t *s)
{
	double u = 0;
	for (int i = 0; i < 4; i++) {
		*s = *s * 6364136223846793005ull + 1442695040888963407ull;
		u += (double)(*s >> 11) * 0x1.0p-53;
	}
	return (u - 2.0) * 1.7;
}

struct tt *tm_add(struct tmodel *m, const char *name, const char *dtype, unsigned ndim, const uint64_t *shape,
		  uint64_t seed, double scale)
{
	struct tt *t = &m->t[m->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->dtype, sizeof(t->dtype), "%s", dtype);
	t->ndim = ndim;
	memcpy(t->shape, shape, ndim * sizeof(*shape));
	t->bytes = tt_nelem(t) * tt_esize(t);
	t->data = calloc(t->bytes + 1, 1);
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < tt_nelem(t); i++)
		tt_set(t, i, gauss(&s) * scale);
	return t;
}

size_t tm_write(const struct tmodel *m, const char *path)
{
	char hdr[65536];
	size_t n = 0, off = 0, *offs = calloc(m->n + 1, sizeof(size_t));

	for (size_t i = 0; i < m->n; i++) {
		offs[i] = off;
		off += m->t[i].bytes;
	}
	n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "{");
	if (m->metadata)
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "\"__metadata__\":%s,", m->metadata);
	for (size_t j = m->n; j-- > 0;) {
		const struct tt *t = &m->t[j];
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name,
				      t->dtype);
		for (unsigned d = 0; d < t->ndim; d++)
			n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "%s%llu", d ? "," : "",
					      (unsigned long long)t->shape[d]);
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "],\"data_offsets\":[%zu,%zu]}%s", offs[j],
				      offs[j] + t->bytes, j ? "," : "");
	}
	n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "}");
	while (n % 8)
		hdr[n++] = ' ';
	FILE *f = fopen(path, "wb");
	uint64_t hl = n;
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(hl >> (8 * i));
	fwrite(le, 1, 8, f);
	fwrite(hdr, 1, n, f);
	for (size_t i = 0; i < m->n; i++)
		fwrite(m->t[i].data, 1, m->t[i].bytes, f);
	fclose(f);
	free(offs);
	return 8 + n;
}

void tm_free(struct tmodel *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->t[i].data);
	m->n = 0;
}

uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

int files_equal(const char *a, const char *b)
{
	size_t la, lb;
	uint8_t *x = read_file(a, &la), *y = read_file(b, &lb);
	int eq = x && y && la == lb && memcmp(x, y, la) == 0;
	free(x);
	free(y);
	return eq;
}

int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

char *tmpdir_new(void)
{
	char *d = strdup("/tmp/cltest.XXXXXX");
	return mkdtemp(d);
}

void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", dir);
}

int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}
