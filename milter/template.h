/*
 * template.h - tweet-sized acknowledgment templates
 *
 * A template file (conf/templates/NAME.txt) is plain UTF-8 text with
 * variables in braces:
 *
 *   {ticket} {subject} {first_name} {reply_within} {support_name}
 *
 * "{name|fallback}" renders the fallback text when the value is empty
 * (unknown first name, no subject): "Hello {first_name|there}," reads
 * "Hello Anna," or "Hello there,".  "{{" and "}}" are literal braces.
 * A variable does not span lines.  Leading and trailing blank space of
 * the file is dropped; CRLF line ends are read as LF.
 *
 * template_load() rejects, as "path:line: message": unreadable or too
 * big files, invalid UTF-8, control or invisible formatting characters,
 * an unknown variable, an unbalanced brace, more than TEMPLATE_MAX_VARS
 * variables, an empty template, and fixed text (everything but the
 * variables) longer than TEMPLATE_MAX_CHARS - TEMPLATE_MIN_ROOM.
 *
 * template_render() always returns at most TEMPLATE_MAX_CHARS Unicode
 * characters (code points, as g_utf8_strlen counts).  Every value is
 * cleaned first (template_clean_value); when the values do not fit, the
 * longest are cut first to a common length, ending in "…", so short
 * values such as the ticket stay whole.  Since the fixed text leaves at
 * least TEMPLATE_MIN_ROOM characters for at most TEMPLATE_MAX_VARS
 * variables, each keeps at least TEMPLATE_MIN_ROOM / TEMPLATE_MAX_VARS
 * characters: a ticket reference (9) is never cut.
 *
 * Pure and thread-safe: a loaded template is read-only.
 */
#ifndef TRIAGE_TEMPLATE_H
#define TRIAGE_TEMPLATE_H

#include <stddef.h>

/* A tweet: short enough to read at a glance on a phone. */
#define TEMPLATE_MAX_CHARS 280
/* Room the fixed text must leave for the variables: a 9-character
 * ticket, a time frame ("one business day", 16), a support name (~20)
 * and a recognisable piece of the subject (~35). */
#define TEMPLATE_MIN_ROOM 80
/* Variables per template; with TEMPLATE_MIN_ROOM each keeps >= 10. */
#define TEMPLATE_MAX_VARS 8
/* A fallback is a word or two ("there", "your message"). */
#define TEMPLATE_MAX_FALLBACK 40
/* A template file is a few hundred bytes; more is a wrong path. */
#define TEMPLATE_MAX_FILE_BYTES 4096
/* Bytes of a value looked at; far beyond what can be shown, and it
 * bounds the work on a 100 KB subject. */
#define TEMPLATE_MAX_VALUE_BYTES 4096

/* The values; NULL or "" is empty.  Strings are copied, not kept. */
struct template_vars {
	const char *ticket;
	const char *subject;
	const char *first_name;
	const char *reply_within;
	const char *support_name;
};

struct template;

struct template *template_load(const char *path, char **error_r);
struct template *template_parse(const char *text, size_t len, const char *name,
				char **error_r);
char *template_render(const struct template *t, const struct template_vars *v);
size_t template_fixed_chars(const struct template *t);
struct template *template_free(struct template *t);

char *template_clean_value(const char *in);
char *template_shorten(const char *s, size_t max_chars);

#endif
