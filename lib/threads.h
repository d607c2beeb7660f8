/*
 * threads.h - how many cores the library's heavy passes use, and a
 * parallel for over independent tasks, in the foreground or the background.
 *
 * The count is read in one place: CORELOCKER_THREADS (1 to 256) if set,
 * else the online CPUs.  Results never depend on it: tasks write only to
 * their own slots, and callers merge the slots in task order.
 */
#ifndef CL_THREADS_H
#define CL_THREADS_H

#include <stddef.h>

#define CL_MAX_THREADS 256

/* CORELOCKER_THREADS, else the online CPUs; clamped to [1, CL_MAX_THREADS]. */
unsigned cl_threads(void);

/*
 * Run FN(ARG, i, worker) for every i in [0, n) on up to cl_threads() threads
 * (worker in [0, cl_threads())).  Tasks are handed out in index order.  A
 * failing task stops the handing out; the result is the failure of the
 * lowest failing index, with its reason, as if run in order.
 */
typedef int (*cl_task_fn)(void *arg, size_t i, unsigned worker);
int cl_parallel(size_t n, cl_task_fn fn, void *arg);

/*
 * cl_parallel started in the background: cl_queue_start() starts up to
 * cl_threads() workers (at most N) on tasks [0, N) in index order, and
 * returns at once; cl_queue_wait() joins them (with CANCEL, after handing
 * out no more tasks) and frees Q.  Its result is that of cl_parallel: the
 * failure of the lowest failing index, with its reason.  Tasks may block
 * (on data still arriving, say): whatever unblocks them must not wait for
 * the queue.
 */
struct cl_queue;
int cl_queue_start(size_t n, cl_task_fn fn, void *arg, struct cl_queue **out);
int cl_queue_wait(struct cl_queue *q, int cancel);

#endif
