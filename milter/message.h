/*
 * message.h - one parsed message: its readable text and a few facts
 *
 * message_parse() runs GMime over the raw bytes and collects the text a
 * person would read: text/plain parts, and text/html parts turned into text
 * (html.h), decoded to UTF-8 whatever the declared charset.  In a
 * multipart/alternative the plain part is preferred, the HTML twin is used
 * only when there is no plain one.  Attachments (Content-Disposition:
 * attachment, or any non-text part) are counted and skipped.  Nested
 * message/rfc822 parts are counted; their text is not the customer's new
 * text, so it is added as quoted text (each line prefixed "> ").
 *
 * Limits: max_depth (MIME nesting), max_parts (parts visited), and
 * max_text_bytes (decoded text kept); passing any sets ->limited.
 *
 * message_parse_lean() is for a caller that reads the subject, the text,
 * the counters, the header names and message_header_value(), never
 * ->mime, ->from or ->message_id.  When the header block is plain (every
 * line a "Name: value" header or its fold, ended by a blank line) GMime
 * is given only the Content-* headers and the body, and header values
 * are decoded from the bytes with GMime's own functions, so they are
 * those of the full parse; ->mime, ->from and ->message_id then stay
 * NULL.  Any other header block takes the full parse.
 *
 * A broken or unknown charset never fails: the text is decoded as UTF-8
 * with invalid sequences replaced, or from a fallback charset
 * (Windows-1252), and ->charset_fallback is set.
 */
#ifndef TRIAGE_MESSAGE_H
#define TRIAGE_MESSAGE_H

#include <stddef.h>

#include <glib.h>

struct message_limits {
	unsigned max_depth;
	unsigned max_parts;
	size_t max_text_bytes;
};

struct message_hdr;

struct message {
	char *subject;    /* decoded to UTF-8, or NULL */
	char *from;       /* From: header as decoded UTF-8, or NULL (and
			     after a lean parse) */
	char *message_id; /* without <>, or NULL (and after a lean parse) */
	GString *text;    /* readable text, UTF-8, LF line ends, parts
			     separated by a blank line */
	unsigned n_parts;
	unsigned n_text_parts;
	unsigned n_attachments;
	unsigned n_rfc822;
	int charset_fallback;
	int limited;         /* a limit was reached; text is incomplete */
	void *mime;          /* the GMimeMessage, for later modules; NULL
				after a lean parse */
	char **header_names; /* every top-level header name, raw, in
				arrival order, NULL-terminated; read from
				the bytes (as Postfix's is_header() does) */
	size_t n_header_names;
	/* lean parse: the header block, copied, and each header in it */
	char *hdr_block;
	struct message_hdr *hdrs;
	size_t n_hdrs;
};

struct message *message_parse(const char *buf, size_t len,
			      const struct message_limits *lim, char **error_r);
struct message *message_parse_lean(const char *buf, size_t len,
				   const struct message_limits *lim,
				   char **error_r);
struct message *message_free(struct message *msg);
char *message_header_value(const struct message *msg, const char *name);

#endif
