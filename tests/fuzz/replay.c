/*
 * replay.c - run a fuzz target over corpus files without libFuzzer.
 *
 *     replay_safetensors DIR|FILE...
 *
 * Linked with one target (LLVMFuzzerTestOneInput), it feeds it every regular
 * file found under each DIR (recursively, in name order), or each FILE.  Each
 * input is copied into a heap buffer of exactly its size, so that an
 * AddressSanitizer build catches a read past the end.  It fails when an
 * argument is missing, unreadable, or a directory holding no file: a corpus
 * that silently vanished must not pass as a clean replay.  A crash or an
 * oracle abort in the target stops it with that signal; set
 * REPLAY_VERBOSE=1 to see each file name before it runs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int verbose;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fprintf(stderr, "replay: %s: cannot size the file\n", path);
		fclose(f);
		return -1;
	}
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || (n && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fprintf(stderr, "replay: %s: cannot read the file\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (verbose)
		fprintf(stderr, "replay: %s (%ld bytes)\n", path, n);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file under PATH; the number replayed, or -1. */
static long run_path(const char *path, int top)
{
	struct stat st;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	long total = 0;
	DIR *d;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode))
		return run_file(path) < 0 ? -1 : 1;
	if (!S_ISDIR(st.st_mode)) {
		if (top) {
			fprintf(stderr, "replay: %s: neither a file nor a directory\n", path);
			return -1;
		}
		return 0;
	}
	if (!(d = opendir(path))) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap) {
			char **m = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*names));
			if (!m)
				break;
			names = m;
		}
		if (!(names[n] = malloc(strlen(path) + strlen(e->d_name) + 2)))
			break;
		sprintf(names[n++], "%s/%s", path, e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		long r = total < 0 ? 0 : run_path(names[i], 0);
		total = r < 0 ? -1 : total + r;
		free(names[i]);
	}
	free(names);
	return total;
}

int main(int argc, char **argv)
{
	long total = 0;
	int bad = 0;

	verbose = getenv("REPLAY_VERBOSE") && *getenv("REPLAY_VERBOSE") == '1';
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		long n = run_path(argv[i], 1);
		if (n < 0) {
			bad = 1;
		} else if (n == 0) {
			fprintf(stderr, "replay: %s: no file to replay\n", argv[i]);
			bad = 1;
		} else {
			printf("replay: %s: %ld inputs\n", argv[i], n);
			total += n;
		}
	}
	printf("replay: %ld inputs in all%s\n", total, bad ? ", with errors" : "");
	return bad;
}
