/*
 * testutil.h - a minimal test harness and an in-memory safetensors builder
 * for the unit tests.  CHECK records a failure and goes on; tests end with
 * TEST_END, which prints "N passed, N failed" and sets the exit status.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int t_pass, t_fail;

#define CHECK(cond, ...)                                                                                   \
	do {                                                                                               \
		if (cond) {                                                                                \
			t_pass++;                                                                          \
		} else {                                                                                   \
			t_fail++;                                                                          \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                    \
			fprintf(stderr, __VA_ARGS__);                                                      \
			fputc('\n', stderr);                                                               \
		}                                                                                          \
	} while (0)

int test_end(const char *name);

/* A tensor being built: raw little-endian bytes. */
struct tt {
	char name[96];
	char dtype[8];
	unsigned ndim;
	uint64_t shape[4];
	uint8_t *data;
	size_t bytes;
};

struct tmodel {
	struct tt t[64];
	size_t n;
	const char *metadata; /* JSON object text, or NULL */
};

/* Add a tensor filled from a deterministic normal-ish generator. */
struct tt *tm_add(struct tmodel *m, const char *name, const char *dtype, unsigned ndim, const uint64_t *shape,
		  uint64_t seed, double scale);
/* Set element I of T from a double (converting to T's dtype). */
void tt_set(struct tt *t, size_t i, double v);
double tt_get(const struct tt *t, size_t i);
size_t tt_esize(const struct tt *t);
size_t tt_nelem(const struct tt *t);
/* Write M as one safetensors file, tensors in the order given (header in reverse order to
 * exercise "header order may differ").  Returns the data section start. */
size_t tm_write(const struct tmodel *m, const char *path);
void tm_free(struct tmodel *m);

/* Whole-file helpers. */
uint8_t *read_file(const char *path, size_t *len);
int files_equal(const char *a, const char *b);
int file_exists(const char *path);
/* A fresh temp directory (removed by rm_rf). */
char *tmpdir_new(void);
void rm_rf(const char *dir);
/* Number of entries in DIR (to prove nothing was left behind). */
int dir_entries(const char *dir);

#endif
