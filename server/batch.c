/* batch.c - group commit of short write transactions (see batch.h). */
#include <pthread.h>
#include <stddef.h>

#include "batch.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

/* Most jobs in one transaction: bounds how long the write turn is held. */
#define BATCH_MAX 256

struct job {
	batch_fn fn;
	void *arg;
	int result, done;
	struct job *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct job *head, **tail = &head;
static int leading;

/* Take up to BATCH_MAX queued jobs, oldest first. */
static struct job *take(void)
{
	struct job *b = head, **end = &head;

	for (int n = 0; *end && n < BATCH_MAX; n++)
		end = &(*end)->next;
	head = *end;
	*end = NULL;
	if (!head)
		tail = &head;
	return b;
}

/* Run BATCH in one transaction on DB; each job's result is set. */
static void lead(struct db *db, struct job *batch)
{
	int ok = store_begin(db) == DB_OK;
	unsigned n = 0;

	for (struct job *j = batch; j; j = j->next) {
		j->result = ok ? j->fn(db, j->arg) : -1;
		if (j->result < 0)
			ok = 0;
		n++;
	}
	metrics_batch(n);
	if (ok && store_commit(db) != DB_OK)
		ok = 0;
	if (!ok) {
		store_rollback(db);
		for (struct job *j = batch; j; j = j->next)
			if (j->result == 0)
				j->result = -1;
	}
}

int batch_run(struct db *db, batch_fn fn, void *arg)
{
	struct job me = {fn, arg, 0, 0, NULL};

	pthread_mutex_lock(&lock);
	*tail = &me;
	tail = &me.next;
	while (!me.done) {
		if (!leading) {
			struct job *batch = take(), *next;

			leading = 1;
			pthread_mutex_unlock(&lock);
			lead(db, batch);
			pthread_mutex_lock(&lock);
			for (struct job *j = batch; j; j = next) {
				next = j->next;
				j->done = 1;
			}
			leading = 0;
			pthread_cond_broadcast(&wake);
		} else {
			pthread_cond_wait(&wake, &lock);
		}
	}
	pthread_mutex_unlock(&lock);
	return me.result;
}
