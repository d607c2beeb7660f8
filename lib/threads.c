/* threads.c - the thread count and a work-sharing parallel for. */
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

struct pool {
	size_t n, next;
	cl_task_fn fn;
	void *arg;
	pthread_mutex_t mu;
	size_t fail_at; /* lowest failing index, n when none */
	int fail;
	char msg[512];
};

struct worker {
	struct pool *p;
	unsigned id;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		size_t i = p->fail_at < p->n ? p->n : p->next++;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->n)
			return NULL;
		int r = p->fn(p->arg, i, w->id);
		if (r < 0) {
			pthread_mutex_lock(&p->mu);
			if (i < p->fail_at) { /* the reason lives in this thread: carry it over */
				p->fail_at = i;
				p->fail = r;
				snprintf(p->msg, sizeof(p->msg), "%s", cl_errmsg());
			}
			pthread_mutex_unlock(&p->mu);
		}
	}
}

int cl_parallel(size_t n, cl_task_fn fn, void *arg)
{
	struct pool p = {.n = n, .fn = fn, .arg = arg, .fail_at = n};
	unsigned nt = cl_threads(), started = 0;
	pthread_t tid[CL_MAX_THREADS];
	struct worker w[CL_MAX_THREADS];

	if (nt > n)
		nt = n ? (unsigned)n : 1;
	if (nt == 1) { /* no thread at all: errors stay in this thread */
		for (size_t i = 0; i < n; i++) {
			int r = fn(arg, i, 0);
			if (r < 0)
				return r;
		}
		return 0;
	}
	pthread_mutex_init(&p.mu, NULL);
	for (unsigned t = 1; t < nt; t++) {
		w[t] = (struct worker){&p, t};
		if (pthread_create(&tid[t], NULL, work, &w[t]) != 0)
			break; /* fewer threads: the same tasks, just slower */
		started = t;
	}
	w[0] = (struct worker){&p, 0};
	work(&w[0]);
	for (unsigned t = 1; t <= started; t++)
		pthread_join(tid[t], NULL);
	pthread_mutex_destroy(&p.mu);
	if (p.fail_at < n)
		return cl_fail(p.fail, "%s", p.msg);
	return 0;
}
