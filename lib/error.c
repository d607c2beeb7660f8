/* error.c - error codes, their names, and the per-thread failure reason. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local char last_msg[512];

static const struct {
	int code;
	const char *text;
} error_table[] = {
	{CL_OK, "success"},
	{CL_ESYS, "system error"},
	{CL_ENOMEM, "out of memory"},
	{CL_EINVAL, "invalid argument"},
	{CL_EFORMAT, "malformed model file"},
	{CL_EKEY, "malformed key file"},
	{CL_EMISMATCH, "key does not match model"},
	{CL_EINTEGRITY, "integrity check failed"},
	{CL_ELIMIT, "limit exceeded"},
	{CL_ENOSPACE, "no space left on device"},
	{CL_EUNSUPPORTED, "unsupported"},
	{CL_ENOUNITS, "nothing to extract"},
};

const char *cl_strerror(int code)
{
	for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
		if (error_table[i].code == code)
			return error_table[i].text;
	return "unknown error";
}

const char *cl_errmsg(void)
{
	return last_msg;
}

int cl_fail(int code, const char *fmt, ...)
{
	char msg[sizeof(last_msg)];
	va_list ap;

	/* Format aside first: callers may pass cl_errmsg() to add context. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *c = msg; *c; c++) /* one printable line, whatever names a file holds */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	memcpy(last_msg, msg, sizeof(msg));
	return code;
}

int cl_fail_errno(const char *fmt, ...)
{
	int saved = errno;
	int code = (saved == ENOSPC || saved == EDQUOT) ? CL_ENOSPACE
			 : saved == ENOMEM		    ? CL_ENOMEM
						    : CL_ESYS;
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(last_msg, sizeof(last_msg), "%s: %s", what, strerror(saved));
	for (char *c = last_msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	errno = saved;
	return code;
}
