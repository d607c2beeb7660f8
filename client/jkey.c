/*
 * jkey.c - the user's journal key: 32 random bytes in
 * ${XDG_STATE_HOME:-~/.local/state}/corelocker/journal.key (mode 0600, in a
 * 0700 directory), made on the first --in-place patch.  Every undo journal
 * carries an HMAC under it, so a journal planted beside a model by someone
 * else (who cannot read the key) is never rolled back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "error.h"
#include "outfile.h"
#include "seal.h"

/* The key's directory (malloc'd): $XDG_STATE_HOME/corelocker, else ~/.local/state/corelocker. */
static char *key_dir(void)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	char *s;

	if (x && x[0] == '/')
		return asprintf(&s, "%s/corelocker", x) < 0 ? NULL : s;
	if ((!home || home[0] != '/') && (pw = getpwuid(geteuid())))
		home = pw->pw_dir;
	if (!home || home[0] != '/')
		home = "/";
	return asprintf(&s, "%s/.local/state/corelocker", home) < 0 ? NULL : s;
}

char *ag_journal_key_path(void)
{
	char *d = key_dir(), *s = NULL;

	if (d && asprintf(&s, "%s/journal.key", d) < 0)
		s = NULL;
	free(d);
	return s;
}

/* mkdir -p DIR, new components 0700. */
static int mkdirs(char *dir)
{
	for (char *p = dir + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = 0;
		int r = mkdir(dir, 0700);
		*p = c;
		if (r < 0 && errno != EEXIST)
			return cl_fail_errno("%s: cannot create the directory for the journal key", dir);
		if (!c)
			return 0;
	}
}

/* Read the key at PATH: 0, 1 when there is none, or a refusal. */
static int load(const char *path, uint8_t key[AG_JKEY_LEN])
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (fd < 0)
		return errno == ENOENT ? 1 : cl_fail_errno("journal key %s", path);
	if (fstat(fd, &st) < 0)
		r = cl_fail_errno("journal key %s", path);
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		r = cl_fail(CL_EINTEGRITY, "journal key %s must be a file of yours with mode 0600", path);
	else if ((n = read(fd, key, AG_JKEY_LEN)) != AG_JKEY_LEN || st.st_size != AG_JKEY_LEN)
		r = cl_fail(CL_EINTEGRITY, "journal key %s is not %d bytes", path, AG_JKEY_LEN);
	close(fd);
	return r;
}

int ag_journal_key(uint8_t key[AG_JKEY_LEN], int create)
{
	char *path = ag_journal_key_path(), *dir = key_dir(), *tmp = NULL;
	int fd = -1, r;

	if (!path || !dir) {
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	if ((r = load(path, key)) != 1 || !create) {
		if (r == 1)
			r = cl_fail(CL_EINTEGRITY, "there is no journal key %s", path);
		goto out;
	}
	/* Made whole in a temp file and linked into place: a concurrent run reads all or nothing. */
	if ((r = mkdirs(dir)) < 0 || (r = cl_random(key, AG_JKEY_LEN)) < 0)
		goto out;
	if (asprintf(&tmp, "%s/.journal.key.XXXXXX", dir) < 0) {
		tmp = NULL;
		r = cl_fail(CL_ENOMEM, "out of memory");
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0 || fchmod(fd, 0600) < 0 ||
	    write(fd, key, AG_JKEY_LEN) != AG_JKEY_LEN || fsync(fd) < 0) {
		r = cl_fail_errno("journal key %s", path);
		goto out;
	}
	if (link(tmp, path) < 0) /* EEXIST: a concurrent run made it first; use that one */
		r = errno == EEXIST ? load(path, key) : cl_fail_errno("journal key %s", path);
	else
		r = cl_sync_dir_of(path);
	if (r == 1)
		r = cl_fail(CL_EINTEGRITY, "journal key %s vanished while it was made", path);
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(dir);
	free(path);
	return r;
}
