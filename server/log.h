/*
 * log.h - leveled logging to stderr (the journal under systemd).
 *
 * Say where and why; never log a secret.  log_peer() is for bad input from
 * a client (logged at info so that a hostile peer cannot flood the journal
 * at a higher level), log_bug() for our own failures.
 */
#ifndef SRV_LOG_H
#define SRV_LOG_H

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_threshold;

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_bug(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_peer(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif
