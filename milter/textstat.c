/*
 * textstat.c - length metrics of a text
 *
 * Owns the definition of a "word" and a "paragraph" that the "long" flag
 * and X-Triage-Length are built on, so every caller counts the same way.
 *
 * One pass over the bytes, no allocation.  The input should be UTF-8 but
 * is never trusted: an invalid byte counts as one character and ends a
 * word, so the counts stay bounded by the byte length.  ASCII bytes are
 * classified by a table holding GLib's answers for them; everything else
 * goes through GLib, so both paths count alike (test-textstat holds the
 * table to GLib for every ASCII character).
 */
#include <string.h>

#include <glib.h>

#include "textstat.h"

/* What one character is to the counter; a character may be none. */
#define TS_SPACE 0x01  /* g_unichar_isspace(): does not make a line count */
#define TS_WORD 0x02   /* letter, digit or combining mark */
#define TS_JOINER 0x04 /* kept inside a word: don't, e-mail */

/*
 * GLib's classes of U+0001..U+007F.  Only these five are spaces to
 * g_unichar_isspace() (not \v, unlike isspace(3)).  NUL is left out on
 * purpose: GLib's decoder rejects it, so it counts as an invalid byte.
 */
static const unsigned char textstat_ascii[128] = {
    ['\t'] = TS_SPACE, ['\n'] = TS_SPACE,  ['\f'] = TS_SPACE, ['\r'] = TS_SPACE,
    [' '] = TS_SPACE,  ['\''] = TS_JOINER, ['-'] = TS_JOINER, ['0'] = TS_WORD,
    ['1'] = TS_WORD,   ['2'] = TS_WORD,    ['3'] = TS_WORD,   ['4'] = TS_WORD,
    ['5'] = TS_WORD,   ['6'] = TS_WORD,    ['7'] = TS_WORD,   ['8'] = TS_WORD,
    ['9'] = TS_WORD,   ['A'] = TS_WORD,    ['B'] = TS_WORD,   ['C'] = TS_WORD,
    ['D'] = TS_WORD,   ['E'] = TS_WORD,    ['F'] = TS_WORD,   ['G'] = TS_WORD,
    ['H'] = TS_WORD,   ['I'] = TS_WORD,    ['J'] = TS_WORD,   ['K'] = TS_WORD,
    ['L'] = TS_WORD,   ['M'] = TS_WORD,    ['N'] = TS_WORD,   ['O'] = TS_WORD,
    ['P'] = TS_WORD,   ['Q'] = TS_WORD,    ['R'] = TS_WORD,   ['S'] = TS_WORD,
    ['T'] = TS_WORD,   ['U'] = TS_WORD,    ['V'] = TS_WORD,   ['W'] = TS_WORD,
    ['X'] = TS_WORD,   ['Y'] = TS_WORD,    ['Z'] = TS_WORD,   ['a'] = TS_WORD,
    ['b'] = TS_WORD,   ['c'] = TS_WORD,    ['d'] = TS_WORD,   ['e'] = TS_WORD,
    ['f'] = TS_WORD,   ['g'] = TS_WORD,    ['h'] = TS_WORD,   ['i'] = TS_WORD,
    ['j'] = TS_WORD,   ['k'] = TS_WORD,    ['l'] = TS_WORD,   ['m'] = TS_WORD,
    ['n'] = TS_WORD,   ['o'] = TS_WORD,    ['p'] = TS_WORD,   ['q'] = TS_WORD,
    ['r'] = TS_WORD,   ['s'] = TS_WORD,    ['t'] = TS_WORD,   ['u'] = TS_WORD,
    ['v'] = TS_WORD,   ['w'] = TS_WORD,    ['x'] = TS_WORD,   ['y'] = TS_WORD,
    ['z'] = TS_WORD,
};

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

/* textstat_class - TS_* bits of a character outside the ASCII table */
static unsigned
textstat_class(gunichar c)
{
	unsigned cls = 0;

	if (g_unichar_isspace(c))
		cls |= TS_SPACE;
	if (textstat_is_word_char(c))
		cls |= TS_WORD;
	else if (textstat_is_joiner(c))
		cls |= TS_JOINER;
	return cls;
}

/*
 * textstat_next - decode and classify one character at p; invalid bytes
 * count as one character (U+FFFD)
 */
static inline unsigned
textstat_next(const char *p, const char *end, const char **next_r,
	      gunichar *c_r)
{
	unsigned char b = (unsigned char)*p;
	gunichar c;

	/* the fast path: one table load for the bytes of English */
	if (b != 0 && b < 0x80) {
		*next_r = p + 1;
		*c_r = b;
		return textstat_ascii[b];
	}
	c = g_utf8_get_char_validated(p, end - p);
	if (c == (gunichar)-1 || c == (gunichar)-2) {
		*next_r = p + 1;
		c = 0xFFFD;
	} else {
		*next_r = p + g_utf8_skip[b];
		if (*next_r > end)
			*next_r = end;
	}
	*c_r = c;
	return textstat_class(c);
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
		gunichar c;
		unsigned cls = textstat_next(p, end, &next, &c);

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
		if (!(cls & TS_SPACE))
			line_blank = 0;

		if (cls & TS_WORD) {
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
			/* the rest of an ASCII word changes nothing but the
			 * character count */
			while (
			    next < end && (unsigned char)*next < 0x80 &&
			    (textstat_ascii[(unsigned char)*next] & TS_WORD)) {
				ts->chars++;
				next++;
			}
		} else if (in_word && (cls & TS_JOINER) && next < end) {
			/* Keep the word only if a word character follows. */
			const char *after;
			gunichar d;

			if (!(textstat_next(next, end, &after, &d) & TS_WORD))
				in_word = 0;
		} else {
			in_word = 0;
		}
		p = next;
	}
	if (!line_blank)
		ts->lines++;
}
