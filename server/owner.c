/* owner.c - folders and files created for the daemon (owner.h). */
#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "owner.h"

/* The default user of systemd/corelockerd.sysusers and the Debian package. */
#define DEFAULT_USER "corelocker"

static int have_owner;
static uid_t owner_uid;
static gid_t owner_gid;
static char owner_name[65]; /* [server] user: at most 64 characters */

void owner_init(const char *configured_user)
{
	const char *name = configured_user && *configured_user ? configured_user : DEFAULT_USER;
	struct passwd *pw;

	have_owner = 0;
	if (geteuid() != 0 || !(pw = getpwnam(name)))
		return;
	have_owner = 1;
	owner_uid = pw->pw_uid;
	owner_gid = pw->pw_gid;
	snprintf(owner_name, sizeof(owner_name), "%s", name);
}

int owner_chown(const char *path)
{
	if (!have_owner || chown(path, owner_uid, owner_gid) == 0)
		return 0;
	log_err("%s: cannot give it to user %s: %s", path, owner_name, strerror(errno));
	return -1;
}

int owner_mkdir_for(const char *path)
{
	char *copy = strdup(path), *dir, *pcopy = NULL;
	struct stat st;
	int r = -1;

	if (!copy)
		return -1;
	dir = dirname(copy);
	if (stat(dir, &st) == 0) {
		r = S_ISDIR(st.st_mode) ? 0 : -1;
		if (r)
			log_err("%s: not a folder (it should hold %s)", dir, path);
		goto out;
	}
	if (errno != ENOENT) {
		log_err("%s: %s", dir, strerror(errno));
		goto out;
	}
	if (mkdir(dir, 0700) != 0) {
		/* A bare ENOENT would not say which folder is missing. */
		if (errno == ENOENT && (pcopy = strdup(dir)))
			log_err("cannot create the folder %s: its parent %s does not exist; create it first", dir,
				dirname(pcopy));
		else
			log_err("cannot create the folder %s: %s", dir, strerror(errno));
		goto out;
	}
	log_info("created the folder %s (mode 0700%s%s)", dir, have_owner ? ", owner " : "",
		 have_owner ? owner_name : "");
	r = owner_chown(dir);
out:
	free(pcopy);
	free(copy);
	return r;
}
