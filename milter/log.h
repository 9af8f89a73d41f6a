/*
 * log.h - diagnostics for the daemon and the tools
 *
 * Four levels as in Postfix: log_info for the record, log_warn for a
 * problem we worked around, log_err for a failed operation, log_fatal for
 * bad configuration at start (exits 1).  Output goes to syslog, or to
 * stderr when running in the foreground or as a command-line tool.
 * The library modules do not log; they return errors to the caller.
 */
#ifndef TRIAGE_LOG_H
#define TRIAGE_LOG_H

#include <stdarg.h>

void log_open(const char *ident, int facility, int to_stderr);
void log_set_verbose(int verbose);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void log_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
