/*
 * textstat.c - length metrics of a text
 *
 * Owns the definition of a "word" and a "paragraph" that the "long" flag
 * and X-Triage-Length are built on, so every caller counts the same way.
 *
 * One pass over the bytes, no allocation.  The input should be UTF-8 but
 * is never trusted: an invalid byte counts as one character and ends a
 * word, so the counts stay bounded by the byte length.
 */
#include <string.h>

#include <glib.h>

#include "textstat.h"

/* textstat_is_word_char - letters, digits and combining marks */
static int
textstat_is_word_char(gunichar c)
{
	if (g_unichar_isalnum(c))
		return 1;

	/*
	 * Decomposed accents (e + U+0301) must not split "café" in two, and
	 * Indic scripts carry vowel signs as spacing marks.
	 */
	switch (g_unichar_type(c)) {
	case G_UNICODE_NON_SPACING_MARK:
	case G_UNICODE_SPACING_MARK:
	case G_UNICODE_ENCLOSING_MARK:
		return 1;
	default:
		return 0;
	}
}

/* textstat_is_joiner - characters kept inside a word: don't, e-mail */
static int
textstat_is_joiner(gunichar c)
{
	return c == '\'' || c == '-' || c == 0x2019 /* right single quote */
	       || c == 0x2010 /* hyphen */;
}

/* textstat_next - decode one character at p, invalid bytes count as one */
static gunichar
textstat_next(const char *p, const char *end, const char **next_r)
{
	gunichar c = g_utf8_get_char_validated(p, end - p);

	if (c == (gunichar)-1 || c == (gunichar)-2) {
		*next_r = p + 1;
		return 0xFFFD;
	}
	*next_r = p + g_utf8_skip[*(const guchar *)p];
	if (*next_r > end)
		*next_r = end;
	return c;
}

/* textstat_count - count words, paragraphs, non-blank lines, characters */
void
textstat_count(const char *text, size_t len, struct textstat *ts)
{
	const char *p = text;
	const char *end;
	int in_word = 0;
	int line_blank = 1;    /* no non-space character on this line yet */
	int line_has_word = 0; /* this line started a word */
	int para_open = 0;     /* counted the paragraph we are in */

	memset(ts, 0, sizeof(*ts));
	if (text == NULL)
		return;
	end = text + len;
	while (p < end) {
		const char *next;
		gunichar c = textstat_next(p, end, &next);

		ts->chars++;
		if (c == '\n') {
			if (!line_blank)
				ts->lines++;
			else
				para_open = 0;
			line_blank = 1;
			line_has_word = 0;
			in_word = 0;
			p = next;
			continue;
		}
		if (!g_unichar_isspace(c))
			line_blank = 0;

		if (textstat_is_word_char(c)) {
			if (!in_word) {
				ts->words++;
				in_word = 1;
			}
			if (!line_has_word) {
				line_has_word = 1;
				if (!para_open) {
					ts->paragraphs++;
					para_open = 1;
				}
			}
		} else if (in_word && textstat_is_joiner(c) && next < end) {
			/* Keep the word only if a word character follows. */
			const char *after;
			gunichar d = textstat_next(next, end, &after);

			if (!textstat_is_word_char(d))
				in_word = 0;
		} else {
			in_word = 0;
		}
		p = next;
	}
	if (!line_blank)
		ts->lines++;
}
