/* mapfile.c - read-only file mappings. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "mapfile.h"

int cl_map_open(const char *path, struct cl_map *m)
{
	struct stat st;
	void *p = NULL;
	/* O_NONBLOCK: opening a FIFO must not hang; fstat then refuses it */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return cl_fail_errno("%s", path);
	if (fstat(fd, &st) < 0) {
		int r = cl_fail_errno("%s", path);
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cl_fail(CL_EINVAL, "%s: not a regular file", path);
	}
	if (st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			int r = cl_fail_errno("%s: mmap", path);
			close(fd);
			return r;
		}
	}
	m->data = p;
	m->size = (uint64_t)st.st_size;
	m->fd = fd;
	return 0;
}

void cl_map_close(struct cl_map *m)
{
	if (!m)
		return;
	if (m->data)
		munmap((void *)m->data, m->size);
	if (m->fd > 0)
		close(m->fd);
	m->data = NULL;
	m->size = 0;
	m->fd = -1;
}

void cl_map_sequential(const struct cl_map *m)
{
	if (m->data)
		madvise((void *)m->data, m->size, MADV_SEQUENTIAL | MADV_WILLNEED);
}
