/*
 * owner.h - the folders and files that init and cert create for the daemon:
 * mode 0700 (folders) or as created (files), and, when run as root, owned by
 * the user the daemon runs as, so that a unit with User= can read them.
 */
#ifndef SRV_OWNER_H
#define SRV_OWNER_H

/* The user the daemon runs as: [server] user if set, else "corelocker" when
 * that user exists; NULL when not root or there is no such user. */
void owner_init(const char *configured_user);
/* Create the folder that will hold PATH (a file) if it is missing, mode
 * 0700; its parent must exist.  0, or -1 with one line logged. */
int owner_mkdir_for(const char *path);
/* Give PATH (created by us) to the daemon's user, if any.  0 or -1 (logged). */
int owner_chown(const char *path);

#endif
