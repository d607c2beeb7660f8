/*
 * evalcmd.c - the owner's evaluation command: run it on a candidate model
 * and read the utility from its last non-empty stdout line.  Shared by
 * calibrate and lock --target-utility.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ctl.h"

/* CMD with every {model} replaced by PATH in single quotes, its own quotes escaped as '\''. */
static char *expand(const char *cmd, const char *path)
{
	size_t n = strlen(cmd) + 1, k = 0, quoted = 2;
	const char *p;

	for (p = path; *p; p++)
		quoted += *p == '\'' ? 4 : 1;
	for (p = strstr(cmd, "{model}"); p; p = strstr(p + 7, "{model}"))
		n += quoted;
	char *out = malloc(n);
	if (!out)
		return NULL;
	for (p = cmd; *p;) {
		if (strncmp(p, "{model}", 7)) {
			out[k++] = *p++;
			continue;
		}
		out[k++] = '\'';
		for (const char *q = path; *q; q++)
			if (*q == '\'') {
				memcpy(out + k, "'\\''", 4);
				k += 4;
			} else {
				out[k++] = *q;
			}
		out[k++] = '\'';
		p += 7;
	}
	out[k] = 0;
	return out;
}

int ctl_evaluate(const char *cmd, const char *path, double *utility)
{
	char *full = expand(cmd, path), line[512], last[512] = "";
	FILE *f;
	int status;

	if (!full || !(f = popen(full, "r"))) {
		free(full);
		fprintf(stderr, "corelockerctl: cannot run the evaluation command\n");
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (line[strspn(line, " \t\r\n")])
			snprintf(last, sizeof(last), "%s", line);
	status = pclose(f);
	free(full);
	last[strcspn(last, "\r\n")] = 0;
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "corelockerctl: the evaluation command failed (status %d) on %s\n",
			status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, path);
		return -1;
	}
	if (ctl_parse_double(last, utility) < 0) {
		fprintf(stderr, "corelockerctl: the evaluation command's last line is not a number: '%s'\n", last);
		return -1;
	}
	return 0;
}
