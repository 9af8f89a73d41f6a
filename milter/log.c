/*
 * log.c - diagnostics to syslog or stderr
 *
 * One line per event.  Callers put the queue id first so a postmaster can
 * grep one message's story out of the mail log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <glib.h>

#include "log.h"

static int log_stderr = 1;
static int log_verbose;
static const char *log_ident = "triage-milter";

/* log_open - choose syslog (facility) or stderr */
void
log_open(const char *ident, int facility, int to_stderr)
{
	log_ident = ident;
	log_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

/* log_set_verbose - whether log_debug prints */
void
log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

/* log_vemit - write one line at a syslog priority */
static void log_vemit(int prio, const char *tag, const char *fmt, va_list ap)
    G_GNUC_PRINTF(3, 0);

static void
log_vemit(int prio, const char *tag, const char *fmt, va_list ap)
{
	char *raw = g_strdup_vprintf(fmt, ap);
	GString *msg = g_string_sized_new(strlen(raw));

	/* One line, whatever a sender put in an address or header: control
	 * characters (a CR rewrites a terminal line, a LF forges a second
	 * log line) become \xNN. */
	for (const char *p = raw; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			g_string_append_printf(msg, "\\x%02x",
					       (unsigned char)*p);
		else
			g_string_append_c(msg, *p);
	g_free(raw);
	if (log_stderr) {
		/* one write per line: sessions log from many threads and
		 * stderr is unbuffered, so piecewise output interleaves */
		char *line =
		    g_strdup_printf("%s: %s%s\n", log_ident, tag, msg->str);

		fputs(line, stderr);
		g_free(line);
	} else {
		syslog(prio, "%s", msg->str);
	}
	g_string_free(msg, TRUE);
}

#define LOG_EMIT(prio, tag)                                                    \
	do {                                                                   \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vemit(prio, tag, fmt, ap);                                 \
		va_end(ap);                                                    \
	} while (0)

/* log_info - an ordinary event */
void
log_info(const char *fmt, ...)
{
	LOG_EMIT(LOG_INFO, "");
}

/* log_debug - detail shown only with -v */
void
log_debug(const char *fmt, ...)
{
	if (log_verbose)
		LOG_EMIT(LOG_DEBUG, "debug: ");
}

/* log_warn - a problem that was worked around */
void
log_warn(const char *fmt, ...)
{
	LOG_EMIT(LOG_WARNING, "warning: ");
}

/* log_err - an operation failed */
void
log_err(const char *fmt, ...)
{
	LOG_EMIT(LOG_ERR, "error: ");
}

/* log_fatal - cannot go on (bad configuration, cannot bind): exit 1 */
void
log_fatal(const char *fmt, ...)
{
	LOG_EMIT(LOG_CRIT, "fatal: ");
	exit(1);
}
