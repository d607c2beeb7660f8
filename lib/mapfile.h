/*
 * mapfile.h - a read-only, whole-file mmap.  Models and keys are never read
 * into the heap; the kernel pages them in as the streaming passes go.
 */
#ifndef CL_MAPFILE_H
#define CL_MAPFILE_H

#include <stdint.h>

struct cl_map {
	const uint8_t *data; /* NULL for an empty file */
	uint64_t size;
	int fd;              /* kept open for in-kernel copies; -1 when closed */
};

int cl_map_open(const char *path, struct cl_map *m);
void cl_map_close(struct cl_map *m);
/* Hint that the mapping will be read front to back. */
void cl_map_sequential(const struct cl_map *m);

#endif
