/* metrics.c - fixed arrays under one mutex; rendering walks them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "http.h"
#include "delivery.h"
#include "metrics.h"
#include "slicecache.h"

#define MAX_ROUTES 64
#define NSTATUS 500 /* 100 .. 599 */

static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t requests[MAX_ROUTES + 1][NSTATUS];
static uint64_t hist[NBUCKETS + 1], hist_count, deliveries, delivered_bytes, limited;
static double hist_sum;

void metrics_request(int route, unsigned status, double seconds)
{
	unsigned ri = route < 0 || route >= MAX_ROUTES ? MAX_ROUTES : (unsigned)route;
	size_t b = 0;

	while (b < NBUCKETS && seconds > buckets[b])
		b++;
	pthread_mutex_lock(&lock);
	if (status >= 100 && status < 600)
		requests[ri][status - 100]++;
	hist[b]++;
	hist_count++;
	hist_sum += seconds;
	pthread_mutex_unlock(&lock);
}

void metrics_delivery(uint64_t bytes)
{
	pthread_mutex_lock(&lock);
	deliveries++;
	delivered_bytes += bytes;
	pthread_mutex_unlock(&lock);
}

static uint64_t batches, batched, lapses;
static int64_t leases_active = -1;

void metrics_lease_lapses(unsigned n)
{
	pthread_mutex_lock(&lock);
	lapses += n;
	pthread_mutex_unlock(&lock);
}

void metrics_leases_active(int64_t n)
{
	pthread_mutex_lock(&lock);
	leases_active = n;
	pthread_mutex_unlock(&lock);
}

void metrics_batch(unsigned jobs)
{
	pthread_mutex_lock(&lock);
	batches++;
	batched += jobs;
	pthread_mutex_unlock(&lock);
}

void metrics_rate_limited(void)
{
	pthread_mutex_lock(&lock);
	limited++;
	pthread_mutex_unlock(&lock);
}

char *metrics_render(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	uint64_t cum = 0;
	struct slice_cache_stats sc;

	if (!f)
		return NULL;
	slice_cache_stats(&sc); /* before our lock: the two locks are never nested */
	pthread_mutex_lock(&lock);
	fprintf(f, "# HELP corelockerd_requests_total HTTP requests by route and status.\n"
		   "# TYPE corelockerd_requests_total counter\n");
	for (unsigned r = 0; r <= MAX_ROUTES; r++)
		for (unsigned s = 0; s < NSTATUS; s++) {
			if (!requests[r][s])
				continue;
			if (r < nroutes)
				fprintf(f, "corelockerd_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %llu\n",
					routes[r].method, routes[r].pattern, s + 100, (unsigned long long)requests[r][s]);
			else
				fprintf(f, "corelockerd_requests_total{method=\"\",route=\"unmatched\",status=\"%u\"} %llu\n",
					s + 100, (unsigned long long)requests[r][s]);
		}
	fprintf(f, "# HELP corelockerd_request_duration_seconds Time from request headers to response.\n"
		   "# TYPE corelockerd_request_duration_seconds histogram\n");
	for (size_t b = 0; b < NBUCKETS; b++) {
		cum += hist[b];
		fprintf(f, "corelockerd_request_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[b],
			(unsigned long long)cum);
	}
	fprintf(f,
		"corelockerd_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		"corelockerd_request_duration_seconds_sum %.6f\n"
		"corelockerd_request_duration_seconds_count %llu\n",
		(unsigned long long)hist_count, hist_sum, (unsigned long long)hist_count);
	fprintf(f,
		"# HELP corelockerd_key_deliveries_total Signed key volumes delivered.\n"
		"# TYPE corelockerd_key_deliveries_total counter\n"
		"corelockerd_key_deliveries_total %llu\n"
		"# HELP corelockerd_key_delivered_bytes_total Bytes of key volumes delivered.\n"
		"# TYPE corelockerd_key_delivered_bytes_total counter\n"
		"corelockerd_key_delivered_bytes_total %llu\n"
		"# HELP corelockerd_rate_limited_total Requests refused with 429.\n"
		"# TYPE corelockerd_rate_limited_total counter\n"
		"corelockerd_rate_limited_total %llu\n"
		"# HELP corelockerd_key_deliveries_in_flight Key volumes being streamed now (cap: max_deliveries).\n"
		"# TYPE corelockerd_key_deliveries_in_flight gauge\n"
		"corelockerd_key_deliveries_in_flight %u\n"
		"# HELP corelockerd_commit_batches_total Group commits of delivery records (one commit each).\n"
		"# TYPE corelockerd_commit_batches_total counter\n"
		"corelockerd_commit_batches_total %llu\n"
		"# HELP corelockerd_batched_writes_total Delivery records those commits carried.\n"
		"# TYPE corelockerd_batched_writes_total counter\n"
		"corelockerd_batched_writes_total %llu\n"
		"# HELP corelockerd_lease_lapses_total Seat leases this node saw lapse (seats freed, or renewed late).\n"
		"# TYPE corelockerd_lease_lapses_total counter\n"
		"corelockerd_lease_lapses_total %llu\n",
		(unsigned long long)deliveries, (unsigned long long)delivered_bytes, (unsigned long long)limited,
		delivery_in_flight(), (unsigned long long)batches, (unsigned long long)batched,
		(unsigned long long)lapses);
	fprintf(f,
		"# HELP corelockerd_slice_cache_hits_total Key deliveries whose tier slice was already unsealed in memory.\n"
		"# TYPE corelockerd_slice_cache_hits_total counter\n"
		"corelockerd_slice_cache_hits_total %llu\n"
		"# HELP corelockerd_slice_cache_misses_total Key deliveries that read and unsealed their slice.\n"
		"# TYPE corelockerd_slice_cache_misses_total counter\n"
		"corelockerd_slice_cache_misses_total %llu\n"
		"# HELP corelockerd_slice_cache_bytes Unsealed slices kept between deliveries (cap: slice_cache).\n"
		"# TYPE corelockerd_slice_cache_bytes gauge\n"
		"corelockerd_slice_cache_bytes %zu\n",
		sc.hits, sc.misses, sc.bytes);
	if (leases_active >= 0)
		fprintf(f,
			"# HELP corelockerd_leases_active Seats whose lease is live now (every node's).\n"
			"# TYPE corelockerd_leases_active gauge\n"
			"corelockerd_leases_active %lld\n",
			(long long)leases_active);
	pthread_mutex_unlock(&lock);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
