/* volfile.c - key volumes held in files, their checks, and file hashing. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "error.h"

int ag_vol_open(int fd, const uint8_t pub[CL_PUB_LEN], struct ag_vol *out)
{
	struct stat st;
	void *p;
	int r;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (fstat(fd, &st) < 0) {
		r = cl_fail_errno("key volume");
		close(fd);
		return r;
	}
	if (st.st_size <= 0) {
		close(fd);
		return ax_fail(AX_VOLUME, "bad key volume: it is empty");
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		r = cl_fail_errno("key volume: mmap");
		close(fd);
		return r;
	}
	out->fd = fd;
	out->data = p;
	out->size = (uint64_t)st.st_size;
	/* Authenticate the bytes before parsing them further than the magic. */
	if ((r = cl_volume_authenticate(out->data, (size_t)out->size, pub)) < 0) {
		r = r == CL_EINTEGRITY
			? ax_fail(AX_SIGNATURE, "the key volume's signature does not verify with the pinned server key")
			: ax_fail(AX_VOLUME, "bad key volume: %s", cl_errmsg());
		ag_vol_close(out);
		return r;
	}
	if ((r = cl_volume_parse(out->data, (size_t)out->size, &out->v)) < 0) {
		r = ax_fail(AX_VOLUME, "bad key volume: %s", cl_errmsg());
		ag_vol_close(out);
		return r;
	}
	return 0;
}

void ag_vol_close(struct ag_vol *vol)
{
	cl_volume_free(vol->v);
	if (vol->data)
		munmap((void *)vol->data, vol->maplen ? vol->maplen : vol->size);
	if (vol->fd >= 0)
		close(vol->fd);
	memset(vol, 0, sizeof(*vol));
	vol->fd = -1;
}

int ag_vol_check(const struct ag_vol *vol, const char *nonce)
{
	const struct cl_volume *v = vol->v;
	int64_t exp;

	if (nonce && strcmp(nonce, v->nonce))
		return ax_fail(AX_SIGNATURE, "the key volume is a replay: it answers nonce '%.40s', not ours",
			       v->nonce);
	if (v->expires_at) {
		if ((exp = cl_time_parse(v->expires_at)) < 0)
			return ax_fail(AX_VOLUME, "bad key volume: expires_at '%.40s' is not a time",
				       v->expires_at);
		if (exp <= (int64_t)time(NULL))
			return ax_fail(AX_EXPIRED, "the key volume's license expired at %s", v->expires_at);
	}
	return 0;
}

int ag_parse_age(const char *s, int64_t *out)
{
	static const struct {
		char suffix;
		int64_t seconds;
	} units[] = {{0, 1}, {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char *end;
	unsigned long long n;

	if (!strcmp(s, "none")) {
		*out = 0;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || (*end && end[1]))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (*end == units[i].suffix) {
			if (n > (unsigned long long)(INT64_MAX / units[i].seconds))
				return -1;
			*out = (int64_t)n * units[i].seconds;
			return 0;
		}
	return -1;
}

/*
 * A volume file carries no nonce of ours, so its signed issue time is what
 * stops one fetched long ago (say, before the license was revoked) from
 * being applied forever.
 */
int ag_vol_check_age(const struct ag_vol *vol, int64_t max_age)
{
	int64_t ts = cl_time_parse(vol->v->ts), now = (int64_t)time(NULL);

	if (ts < 0)
		return ax_fail(AX_VOLUME, "bad key volume: ts '%.40s' is not a time", vol->v->ts);
	if (ts > now + AG_TS_SKEW)
		return ax_fail(AX_VOLUME,
			       "the key volume was issued at %s, in the future (more than %d s ahead of this "
			       "machine's clock); check the clock",
			       vol->v->ts, AG_TS_SKEW);
	if (max_age > 0 && now - ts > max_age)
		return ax_fail(AX_EXPIRED,
			       "the key volume was issued at %s, %lld s ago, more than --max-age %lld s; fetch a "
			       "fresh one",
			       vol->v->ts, (long long)(now - ts), (long long)max_age);
	return 0;
}

int ag_tmpfile_near(const char *path)
{
	char *d = strdup(path), *tmp = NULL;
	int fd = -1;

	if (!d)
		return cl_fail(CL_ENOMEM, "out of memory");
	fd = open(dirname(d), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) { /* no O_TMPFILE here: a named temp file, unlinked at once */
		free(d);
		if (!(d = strdup(path)) || asprintf(&tmp, "%s/.corelocker-volume.XXXXXX", dirname(d)) < 0) {
			free(d);
			return cl_fail(CL_ENOMEM, "out of memory");
		}
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd >= 0)
			unlink(tmp);
	}
	if (fd < 0)
		fd = cl_fail_errno("%s: cannot create a temporary file beside it", path);
	free(tmp);
	free(d);
	return fd;
}
