/*
 * log.h - leveled logging to stderr (the journal under systemd).
 *
 * Say where and why; never log a secret.  log_peer() is for bad input from
 * a client (logged at info so that a hostile peer cannot flood the journal
 * at a higher level), log_bug() for our own failures.
 *
 * Client data may go into any message as it is: log_msg() escapes every
 * line (control, backslash and non-ASCII bytes as \xHH) and bounds its
 * length, so nothing a client sends can forge a line or a priority.
 */
#ifndef SRV_LOG_H
#define SRV_LOG_H

#include <stddef.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_threshold;

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The escaping log_msg() applies: IN into OUT (OUTLEN bytes, NUL included),
 * cut with "..." when it does not fit; returns the length written. */
size_t log_escape(const char *in, char *out, size_t outlen);
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_bug(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_peer(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif
