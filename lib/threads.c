/* threads.c - the thread count and a work-sharing parallel for, in the foreground or the background. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"
#include "threads.h"

unsigned cl_threads(void)
{
	const char *e = getenv("CORELOCKER_THREADS");
	long n = 0;

	if (e && *e) {
		char *end;
		n = strtol(e, &end, 10);
		if (*end || n < 1) /* a typo must not silently serialise or explode */
			n = 0;
	}
	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > CL_MAX_THREADS ? CL_MAX_THREADS : (unsigned)n;
}

struct cl_queue {
	size_t n, next;
	int stop;
	cl_task_fn fn;
	void *arg;
	pthread_mutex_t mu;
	size_t fail_at; /* lowest failing index, n when none */
	int fail;
	char msg[512];
	unsigned nt;
	pthread_t tid[CL_MAX_THREADS];
	struct qworker {
		struct cl_queue *q;
		unsigned id;
	} w[CL_MAX_THREADS];
};

static void *qwork(void *arg)
{
	struct qworker *w = arg;
	struct cl_queue *q = w->q;

	pthread_mutex_lock(&q->mu);
	while (!q->stop && q->fail_at == q->n && q->next < q->n) {
		size_t i = q->next++;
		pthread_mutex_unlock(&q->mu);
		int r = q->fn(q->arg, i, w->id);
		pthread_mutex_lock(&q->mu);
		if (r < 0 && i < q->fail_at) { /* the reason lives in this thread: carry it over */
			q->fail_at = i;
			q->fail = r;
			snprintf(q->msg, sizeof(q->msg), "%s", cl_errmsg());
		}
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int cl_queue_start(size_t n, cl_task_fn fn, void *arg, struct cl_queue **out)
{
	struct cl_queue *q = calloc(1, sizeof(*q));
	unsigned nt = cl_threads();

	if (!q)
		return cl_fail(CL_ENOMEM, "out of memory");
	q->n = n;
	q->fn = fn;
	q->arg = arg;
	q->fail_at = n;
	pthread_mutex_init(&q->mu, NULL);
	if (nt > n)
		nt = (unsigned)n;
	for (unsigned t = 0; t < nt; t++) {
		q->w[t] = (struct qworker){q, t};
		if (pthread_create(&q->tid[t], NULL, qwork, &q->w[t]) != 0)
			break; /* fewer threads: the same tasks, later (cl_queue_wait runs them if none) */
		q->nt = t + 1;
	}
	*out = q;
	return 0;
}

int cl_queue_wait(struct cl_queue *q, int cancel)
{
	int r = 0;

	pthread_mutex_lock(&q->mu);
	q->stop = cancel;
	pthread_mutex_unlock(&q->mu);
	if (!q->nt) { /* no thread could start: the caller does the work */
		q->w[0] = (struct qworker){q, 0};
		qwork(&q->w[0]);
	}
	for (unsigned t = 0; t < q->nt; t++)
		pthread_join(q->tid[t], NULL);
	if (q->fail_at < q->n)
		r = cl_fail(q->fail, "%s", q->msg);
	pthread_mutex_destroy(&q->mu);
	free(q);
	return r;
}

int cl_parallel(size_t n, cl_task_fn fn, void *arg)
{
	struct cl_queue *q;
	int r;

	if (n <= 1 || cl_threads() == 1) { /* no thread at all: errors stay in this thread */
		for (size_t i = 0; i < n; i++)
			if ((r = fn(arg, i, 0)) < 0)
				return r;
		return 0;
	}
	if ((r = cl_queue_start(n, fn, arg, &q)) < 0)
		return r;
	return cl_queue_wait(q, 0);
}
