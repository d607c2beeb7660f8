/* migrate.h - copy a single-node SQLite database into the configured PostgreSQL one. */
#ifndef SRV_MIGRATE_H
#define SRV_MIGRATE_H

/* FROM is "sqlite:PATH"; needs store_init() and the master key loaded.
 * Exit status: 0 migrated (or already), 1 failed (nothing written), 2 usage. */
int migrate_from(const char *from);

#endif
