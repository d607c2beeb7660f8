/*
 * error.h - the library's one error convention.
 *
 * A failing function calls cl_fail(code, fmt, ...) which records a one-line
 * reason for the calling thread and returns CODE, so that
 * `return cl_fail(CL_EFORMAT, "...")` reports and propagates in one step.
 * Callers up the stack pass the code through unchanged.
 */
#ifndef CL_ERROR_H
#define CL_ERROR_H

#include "corelocker.h"

int cl_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cl_fail(CL_ESYS or CL_ENOSPACE, "what: strerror(errno)") from errno. */
int cl_fail_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
