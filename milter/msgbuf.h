/*
 * msgbuf.h - one message as the milter receives it, bounded in memory
 *
 * The daemon hands every header and body chunk of a message to a msgbuf;
 * at end of message it takes the buffered bytes back as one contiguous
 * string for triage_run().  Every size a sender controls is bounded here:
 *
 *   max_bytes         header and body kept for analysis (max_scan_bytes);
 *   max_headers       header fields kept; later ones are not analysed;
 *   max_header_bytes  bytes of one header field kept (the rest is cut);
 *   memory_bytes      bytes held in memory; past it the message spills to
 *                     an unnamed temporary file in temp_dir, so that 200
 *                     concurrent 1 MB messages cost 200 * memory_bytes of
 *                     RAM, not 200 * max_bytes.
 *
 * Whatever passes a limit is dropped and the buffer says "truncated"; a
 * temporary file that cannot be created or written is an error string
 * (for one log line) and the message is analysed as far as it got:
 * nothing here fails a message.  The header fields are counted and cut
 * the same way whether they come from the MTA one by one
 * (msgbuf_header()) or from a raw file (msgbuf_feed_raw(), used by
 * triage-milter -t), so the offline verdict matches the daemon's.
 *
 * Not thread-safe: one msgbuf belongs to one session.
 */
#ifndef TRIAGE_MSGBUF_H
#define TRIAGE_MSGBUF_H

#include <stddef.h>

struct msgbuf_limits {
	size_t max_bytes;        /* header + body kept; 0: no limit */
	size_t max_headers;      /* header fields kept; 0: no limit */
	size_t max_header_bytes; /* bytes of one field kept; 0: no limit */
	size_t memory_bytes;     /* past this, spill; 0: never spill */
	const char *temp_dir;    /* for the spill file; NULL or "": $TMPDIR */
};

struct msgbuf;

/* msgbuf_new - an empty buffer; lim is copied (temp_dir too) */
struct msgbuf *msgbuf_new(const struct msgbuf_limits *lim);

/* msgbuf_free - release memory and the temporary file; returns NULL */
struct msgbuf *msgbuf_free(struct msgbuf *b);

/*
 * msgbuf_header - one header field as the MTA passes it: "Name" and the
 * value (with its folding), written as "Name:" SEP value CRLF, where SEP
 * is "" when leadspc (the MTA keeps the value's leading space) and " "
 * otherwise.
 */
void msgbuf_header(struct msgbuf *b, const char *name, const char *value,
		   int leadspc);

/* msgbuf_eoh - end of the header block (the empty line) */
void msgbuf_eoh(struct msgbuf *b);

/* msgbuf_body - a chunk of the body */
void msgbuf_body(struct msgbuf *b, const void *p, size_t len);

/*
 * msgbuf_feed_raw - a whole raw message (header block, empty line, body)
 * fed through the same limits: header fields are split at line starts
 * that are not continuation lines; a file without an empty line is all
 * header.
 */
void msgbuf_feed_raw(struct msgbuf *b, const char *raw, size_t len);

/* msgbuf_truncated - some byte, field or part of one was not kept */
int msgbuf_truncated(const struct msgbuf *b);

/* msgbuf_spilled - bytes written to the temporary file so far */
size_t msgbuf_spilled(const struct msgbuf *b);

/*
 * msgbuf_error - the first temporary-file error ("cannot create a
 * temporary file in DIR: why", "cannot write the temporary file: why"),
 * or NULL.  After one, the bytes that follow are dropped (truncated).
 */
const char *msgbuf_error(const struct msgbuf *b);

/*
 * msgbuf_take - the kept bytes as one NUL-terminated string (g_free) and
 * their length in *len_r; reads the spilled part back.  A read error is
 * recorded like a write error and what could be read is returned.  The
 * buffer is empty afterwards (its limits and counters stay).
 */
char *msgbuf_take(struct msgbuf *b, size_t *len_r);

#endif
