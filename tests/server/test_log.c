/* test_log.c - the log layer escapes every line (server/log.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int failures;

#define CHECK(cond, ...)                                                                                     \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stdout, "FAIL %s:%d: ", __FILE__, __LINE__);                                 \
			fprintf(stdout, __VA_ARGS__);                                                        \
			fputc('\n', stdout);                                                                 \
			failures++;                                                                          \
		}                                                                                            \
	} while (0)

static void escapes(const char *in, const char *want)
{
	char out[256];
	size_t n = log_escape(in, out, sizeof(out));

	CHECK(!strcmp(out, want), "escape(%s) = '%s', want '%s'", in, out, want);
	CHECK(n == strlen(out), "escape returned %zu for '%s'", n, out);
}

int main(void)
{
	char big[5000], out[64], line[4096];
	FILE *f;

	escapes("plain text <0> ok", "plain text <0> ok");
	escapes("x\n<0>forged", "x\\x0a<0>forged");
	escapes("cr\rtab\tesc\033del\177", "cr\\x0dtab\\x09esc\\x1bdel\\x7f");
	escapes("back\\slash", "back\\\\slash");
	escapes("caf\xc3\xa9", "caf\\xc3\\xa9");
	escapes("", "");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	log_escape(big, out, sizeof(out));
	CHECK(strlen(out) < sizeof(out) && !strcmp(out + strlen(out) - 3, "..."), "long input: '%s'", out);
	memset(big, '\n', sizeof(big) - 1);
	log_escape(big, out, sizeof(out));
	CHECK(strlen(out) < sizeof(out) && !strcmp(out + strlen(out) - 3, "...") && !strchr(out, '\n'),
	      "long control input: '%s'", out);

	/* log_msg itself: one line, under journald one priority prefix. */
	if (!(f = tmpfile()) || dup2(fileno(f), STDERR_FILENO) < 0)
		return 99;
	setenv("JOURNAL_STREAM", "8:1", 1);
	log_msg(LOG_INFO, "%s: GET %s: refused", "127.0.0.1", "/x\n<0>forged\r\n<1>again");
	log_msg(LOG_INFO, "%s", big);
	fflush(stderr);
	rewind(f);
	int lines = 0;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		CHECK(!strncmp(line, "<6>", 3), "line %d without its priority: %s", lines, line);
		CHECK(strlen(line) <= 1024 + 8, "line %d is %zu bytes long", lines, strlen(line));
	}
	CHECK(lines == 2, "%d lines written for 2 messages", lines);
	if (failures)
		return 1;
	puts("ok - log lines are escaped and bounded");
	return 0;
}
