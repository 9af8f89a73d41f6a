/*
 * offline.h - triage-milter -t: run triage_run over files on disk
 *
 * Paths may be message files, maildir folders (cur/ and new/), mbox files
 * (first line "From "), or plain directories (every regular file below,
 * sorted, hidden files skipped), or "-" for standard input (read whole,
 * like a file: one message or an mbox).  Each message is cut at max_scan_bytes
 * exactly as the daemon would cut it, then analysed by the same
 * triage_run().  The envelope is simulated from --env-from/--env-rcpt,
 * or from Return-Path (else From) and To.  Each file is read once, however
 * often the paths name it (same device and inode).
 */
#ifndef TRIAGE_OFFLINE_H
#define TRIAGE_OFFLINE_H

#include <stdio.h>

#include "config.h"
#include "triage.h"

struct offline_opts {
	int json;
	int verbose;
	const char *env_from; /* NULL: from the message */
	const char *env_rcpt; /* NULL: from the message */
	FILE *out;
};

struct offline_stats {
	unsigned long messages;   /* analysed */
	unsigned long failed;     /* unreadable or analysis error */
	unsigned long duplicates; /* files named again, read once */
};

/*
 * offline_triage - triage_run() on a stored message with the daemon's
 * cuts (max_scan_bytes, max_headers, max_header_bytes, as msgbuf makes
 * them); sets env->truncated when something was cut.  -t, --eval DIR and
 * --train DIR analyse every message through it, so that what they show
 * and measure is what the daemon would see.
 */
struct triage_result *offline_triage(const struct triage_config *cf,
				     const char *msg, size_t len,
				     struct triage_env *env);

/*
 * offline_read_stdin - standard input read whole, as a file would be
 * ("-" of -t and --verify): NUL-terminated, its length in *len_r; NULL and
 * *error_r ("standard input: ...") when it cannot be read
 */
char *offline_read_stdin(size_t *len_r, char **error_r);

void offline_run(const struct triage_config *cf, char *const *paths, int n,
		 const struct offline_opts *o, struct offline_stats *st);

#endif
