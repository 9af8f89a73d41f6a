/*
 * quote.h - separate the customer's new text from quotes and signature
 *
 * Given the readable text of a message (UTF-8, LF line ends), quote_split()
 * keeps the customer's own new words and measures the rest:
 *  - quoted lines (">" prefixed, any depth);
 *  - reply headers ("On <date>, <name> wrote:" and its common translations:
 *    Am ... schrieb, Le ... a écrit, El ... escribió, Il ... ha scritto,
 *    Op ... schreef, Em ... escreveu, ...) and everything after them;
 *  - Outlook's "-----Original Message-----" and a From:/Sent:/To:/Subject:
 *    block (also Von:/Gesendet:/De:/Envoyé:...), and everything after;
 *  - forwarded-message markers ("---------- Forwarded message ---------",
 *    "Begin forwarded message:") and everything after;
 *  - the signature: from a "-- " line (also "--") to the end, or up to the
 *    next quoted block.
 * Counts are bytes of the original text.
 */
#ifndef TRIAGE_QUOTE_H
#define TRIAGE_QUOTE_H

#include <stddef.h>

#include <glib.h>

struct quote_split {
	GString *fresh;   /* the new text, LF line ends */
	size_t quoted;    /* bytes of quoted text and reply headers */
	size_t signature; /* bytes of signature */
};

void quote_split(const char *text, size_t len, struct quote_split *out);
void quote_split_clear(struct quote_split *qs);

#endif
