/* guard.c - head deadline and upload rate floor per connection (see guard.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "guard.h"
#include "log.h"

#define TICK_MS 100

enum phase { HEAD, BODY, BUSY };

struct guard {
	struct guard *prev, *next;
	int fd, cut;
	enum phase phase;
	double since; /* start of the phase, monotonic seconds */
	uint64_t bytes;
	char ip[64];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t watchdog;
static int running, stopping;
static double head_secs, min_rate;
static struct guard *head_list;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Why G must be cut now, or NULL.  Called with the lock held. */
static const char *overdue(const struct guard *g, double now)
{
	double t = now - g->since;

	if (g->cut)
		return NULL;
	if (g->phase == HEAD && t > head_secs)
		return "request head not complete within header_timeout";
	if (g->phase == BODY && min_rate > 0 && t > head_secs && (double)g->bytes < min_rate * t)
		return "request body slower than min_upload_rate";
	return NULL;
}

static void *watch(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		double now = mono();
		for (struct guard *g = head_list; g; g = g->next) {
			const char *why = overdue(g, now);
			if (!why)
				continue;
			/* The fd is still open: libmicrohttpd calls guard_close() (which
			 * waits for this lock) before it closes the socket. */
			g->cut = 1;
			shutdown(g->fd, SHUT_RDWR);
			log_peer("%s: %s (%.0f s): connection closed", g->ip, why, now - g->since);
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wake, &lock, &until);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int guard_start(int64_t header_timeout, int64_t min_upload_rate)
{
	int e;

	if (header_timeout <= 0)
		return 0;
	head_secs = (double)header_timeout;
	min_rate = (double)min_upload_rate;
	stopping = 0;
	if ((e = pthread_create(&watchdog, NULL, watch, NULL)) != 0) {
		log_err("cannot start the connection watchdog: %s", strerror(e));
		return -1;
	}
	running = 1;
	return 0;
}

void guard_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(watchdog, NULL);
	running = 0;
}

struct guard *guard_open(int fd, const char *ip)
{
	struct guard *g;

	if (!running || !(g = calloc(1, sizeof(*g))))
		return NULL;
	g->fd = fd;
	g->phase = HEAD;
	g->since = mono();
	snprintf(g->ip, sizeof(g->ip), "%s", ip);
	pthread_mutex_lock(&lock);
	g->next = head_list;
	if (head_list)
		head_list->prev = g;
	head_list = g;
	pthread_mutex_unlock(&lock);
	return g;
}

void guard_close(struct guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&lock);
	if (g->prev)
		g->prev->next = g->next;
	else
		head_list = g->next;
	if (g->next)
		g->next->prev = g->prev;
	pthread_mutex_unlock(&lock);
	free(g);
}

static void set_phase(struct guard *g, enum phase p)
{
	if (!g)
		return;
	pthread_mutex_lock(&lock);
	g->phase = p;
	g->since = mono();
	g->bytes = 0;
	pthread_mutex_unlock(&lock);
}

void guard_body(struct guard *g)
{
	set_phase(g, BODY);
}
void guard_busy(struct guard *g)
{
	set_phase(g, BUSY);
}
void guard_idle(struct guard *g)
{
	set_phase(g, HEAD);
}

void guard_body_bytes(struct guard *g, uint64_t n)
{
	if (!g)
		return;
	pthread_mutex_lock(&lock);
	g->bytes += n;
	pthread_mutex_unlock(&lock);
}
