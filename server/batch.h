/*
 * batch.h - group commit: short write transactions of many threads share one
 * commit (one fsync, or one PostgreSQL round trip of COMMIT).
 *
 * A key delivery is answered only after its audit entry is durable; with a
 * commit of its own each delivery paid a full fsync.  batch_run() queues
 * the caller's job; the first caller that finds no batch running becomes
 * its leader, opens one transaction on its own connection, runs every job
 * queued by then, commits once, and wakes the others.  Jobs that arrive
 * meanwhile form the next batch, so batches grow with the load.
 *
 * A job runs on the leader's connection, inside the leader's transaction:
 * it must do its checks before its writes, so that a refusal writes nothing
 * (then it returns its refusal, > 0).  It returns 0 when it wrote, < 0 on a
 * database error; a database error or a failed commit fails every job of
 * the batch.
 */
#ifndef SRV_BATCH_H
#define SRV_BATCH_H

#include "db.h"

typedef int (*batch_fn)(struct db *db, void *arg);

/*
 * Run FN(db, ARG) in a shared transaction, DB being the caller's connection
 * (used when the caller leads).  Returns FN's refusal (> 0), 0 once FN's
 * writes are committed, or -1 when the batch failed (nothing of FN's is
 * stored).
 */
int batch_run(struct db *db, batch_fn fn, void *arg);

#endif
