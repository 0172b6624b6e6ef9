/* SPDX-License-Identifier: MIT */
/*
 * log.h - auditshimd's logging: stderr in the foreground (-f), syslog
 * (daemon facility) once daemonized.  Writer-only: library code in store/
 * never logs.
 */
#ifndef AUDITSHIM_LOG_H
#define AUDITSHIM_LOG_H

#include <stdbool.h>

/* Starts logging as IDENT to stderr (FOREGROUND) or syslog. */
void log_init(const char *ident, bool foreground);
/* Switches from stderr to syslog (after daemonizing). */
void log_to_syslog(void);
/* Warning with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning as given. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Error-level message (something was lost or refused). */
void log_crit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational message. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Debug message, shown only with log_verbose set. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs like log_warnx and exits 1: start-up failures only. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* True: log_debug prints. */
extern bool log_verbose;

#endif
