/*
 * normalize.c - text to a stream of normalized words, obfuscation undone
 *
 * One pass over the original bytes.  Characters are decoded one at a time
 * (an invalid byte is a one-byte separator), classified, and collected
 * into a "raw run": letters, digits, combining marks, zero-width
 * characters, leet symbols (@ $ |), mask characters (* ! # %) and
 * apostrophes.  Each raw run is cut into words (a mask run that is not
 * between letters is punctuation; an apostrophe not between letters or
 * digits is a quote), leet is decided per word, and each word is folded
 * (ASCII fast path, else GLib NFKC + casefold + NFD with Latin/Greek
 * accents dropped + NFC), homoglyph-mapped and de-stretched.  Single-letter
 * tokens split by one separator are joined as they arrive, so nothing is
 * scanned twice.
 *
 * Token texts live in one pool buffer addressed by offset while it grows;
 * pointers are set once at the end.  No mutable globals.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "normalize.h"

/* A mask longer than this is a row of stars or "!!!!", not a hidden word. */
#define NORM_MAX_MASK_RUN 4
/* "f***", "sh**": a bare trailing mask counts only after a stub this short;
 * "free*" is a footnote marker, not a masked word. */
#define NORM_MAX_MASK_STUB 2
/* f.u.c.k needs 3 letters ("e.g." and "i.e." have 2); with spaces 4,
 * because "u r a joke" is ordinary chat. */
#define NORM_JOIN_MIN_PUNCT 3
#define NORM_JOIN_MIN_SPACE 4
/* Three of one letter is stretching; two is spelling (good, letter). */
#define NORM_STRETCH_MIN 3
/* "@name" with a longer name is a handle, not "a"+name (but "@ss" is). */
#define NORM_MAX_AT_STUB 3

/* Character classes of the raw scan. */
enum {
	NC_SEP = 0, /* ends a raw run */
	NC_ALPHA,
	NC_DIGIT,
	NC_MARK, /* combining mark: belongs to the letter before */
	NC_ZW,	 /* zero-width, soft hyphen: invisible inside a word */
	NC_SYM,	 /* leet-only symbols: @ $ | */
	NC_MASK, /* * ! # %: a hidden letter between letters */
	NC_APOS	 /* ' ’ ‘ `: kept between letters */
};

/* Private token flags, cleared before the caller sees the tokens. */
#define NORM_TOK_P_SINGLE 0x100 /* exactly one letter in the original */
#define NORM_TOK_P_UP1 0x200	/* ... and it was a capital */
#define NORM_TOK_PUBLIC 0xff

/* ASCII classes; everything else is decided by GLib. */
static const unsigned char norm_ascii_class[128] = {
	['0'] = NC_DIGIT, ['1'] = NC_DIGIT, ['2'] = NC_DIGIT, ['3'] = NC_DIGIT,
	['4'] = NC_DIGIT, ['5'] = NC_DIGIT, ['6'] = NC_DIGIT, ['7'] = NC_DIGIT,
	['8'] = NC_DIGIT, ['9'] = NC_DIGIT, ['A'] = NC_ALPHA, ['B'] = NC_ALPHA,
	['C'] = NC_ALPHA, ['D'] = NC_ALPHA, ['E'] = NC_ALPHA, ['F'] = NC_ALPHA,
	['G'] = NC_ALPHA, ['H'] = NC_ALPHA, ['I'] = NC_ALPHA, ['J'] = NC_ALPHA,
	['K'] = NC_ALPHA, ['L'] = NC_ALPHA, ['M'] = NC_ALPHA, ['N'] = NC_ALPHA,
	['O'] = NC_ALPHA, ['P'] = NC_ALPHA, ['Q'] = NC_ALPHA, ['R'] = NC_ALPHA,
	['S'] = NC_ALPHA, ['T'] = NC_ALPHA, ['U'] = NC_ALPHA, ['V'] = NC_ALPHA,
	['W'] = NC_ALPHA, ['X'] = NC_ALPHA, ['Y'] = NC_ALPHA, ['Z'] = NC_ALPHA,
	['a'] = NC_ALPHA, ['b'] = NC_ALPHA, ['c'] = NC_ALPHA, ['d'] = NC_ALPHA,
	['e'] = NC_ALPHA, ['f'] = NC_ALPHA, ['g'] = NC_ALPHA, ['h'] = NC_ALPHA,
	['i'] = NC_ALPHA, ['j'] = NC_ALPHA, ['k'] = NC_ALPHA, ['l'] = NC_ALPHA,
	['m'] = NC_ALPHA, ['n'] = NC_ALPHA, ['o'] = NC_ALPHA, ['p'] = NC_ALPHA,
	['q'] = NC_ALPHA, ['r'] = NC_ALPHA, ['s'] = NC_ALPHA, ['t'] = NC_ALPHA,
	['u'] = NC_ALPHA, ['v'] = NC_ALPHA, ['w'] = NC_ALPHA, ['x'] = NC_ALPHA,
	['y'] = NC_ALPHA, ['z'] = NC_ALPHA, ['@'] = NC_SYM,   ['$'] = NC_SYM,
	['|'] = NC_SYM,	  ['*'] = NC_MASK,  ['!'] = NC_MASK,  ['#'] = NC_MASK,
	['%'] = NC_MASK,  ['\''] = NC_APOS, ['`'] = NC_APOS,
};

/* Leet digits and symbols; 0 = not a letter in disguise (2, 6, 9). */
static const char norm_leet_ascii[128] = {
	['0'] = 'o', ['1'] = 'i', ['3'] = 'e', ['4'] = 'a', ['5'] = 's',
	['7'] = 't', ['8'] = 'b', ['@'] = 'a', ['$'] = 's', ['|'] = 'i',
};

/* One character of the current raw run. */
struct norm_rchar {
	gunichar c;
	size_t off;	    /* byte offset in the original */
	unsigned char len;  /* bytes in the original */
	unsigned char cls;  /* NC_* */
	unsigned char up;   /* capital letter */
	unsigned char leet; /* ASCII letter it may stand for, else 0 */
};

/* A growable byte buffer. */
struct norm_buf {
	char *s;
	size_t len;
	size_t cap;
};

/* Everything one norm_text() call needs; lives on its stack. */
struct norm_build {
	const char *in;
	size_t in_len;
	struct norm *n;
	size_t cap;	 /* slots in n->tok, toff, aoff */
	size_t *toff;	 /* text offset in pool */
	size_t *aoff;	 /* alt offset in pool, SIZE_MAX for none */
	size_t max_tokens;
	int stop;	 /* max_tokens reached */
	struct norm_buf pool;
	struct norm_buf fold; /* one word before folding */
	struct norm_buf alt;  /* alt being built */
	struct norm_rchar *r; /* the raw run */
	size_t rn;
	size_t rcap;
	/* sentence and quote state between tokens */
	int sent_pending;
	int dot_seen;
	int newlines;
	int in_quote;
	/* single letters waiting to be joined: tok[run_first..n) */
	size_t run_first;
	size_t run_len;
	unsigned char run_gap;
};

/* norm_buf_reserve - room for extra more bytes */
static void
norm_buf_reserve(struct norm_buf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return;
	while (b->len + extra > b->cap)
		b->cap = b->cap ? b->cap * 2 : 256;
	b->s = g_realloc(b->s, b->cap);
}

/* norm_buf_putc - append one byte */
static inline void
norm_buf_putc(struct norm_buf *b, char ch)
{
	if (b->len == b->cap)
		norm_buf_reserve(b, 1);
	b->s[b->len++] = ch;
}

/* norm_buf_put - append bytes */
static void
norm_buf_put(struct norm_buf *b, const char *s, size_t n)
{
	norm_buf_reserve(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
}

/* norm_buf_putu - append one character as UTF-8 */
static inline void
norm_buf_putu(struct norm_buf *b, gunichar c)
{
	if (c < 0x80) {
		norm_buf_putc(b, (char)c);
		return;
	}
	norm_buf_reserve(b, 6);
	b->len += g_unichar_to_utf8(c, b->s + b->len);
}

/* norm_decode - one character at p; an invalid byte is (gunichar)-1 */
static inline gunichar
norm_decode(const char *p, const char *end, size_t *len_r)
{
	unsigned char b = (unsigned char)*p;
	gunichar c;

	if (b < 0x80) {
		*len_r = 1;
		return b;
	}
	c = g_utf8_get_char_validated(p, end - p);
	if (c == (gunichar)-1 || c == (gunichar)-2) {
		*len_r = 1;
		return (gunichar)-1;
	}
	*len_r = g_utf8_skip[b];
	return c;
}

/* norm_is_zero_width - invisible characters used to split a word */
static int
norm_is_zero_width(gunichar c)
{
	return (c >= 0x200B && c <= 0x200D) || (c >= 0x2060 && c <= 0x2064) ||
	       c == 0xFEFF || c == 0x00AD || c == 0x180E;
}

/* norm_class - class of one decoded character */
static unsigned char
norm_class(gunichar c)
{
	if (c < 0x80)
		return norm_ascii_class[c];
	if (c == (gunichar)-1)
		return NC_SEP;
	if (norm_is_zero_width(c))
		return NC_ZW;
	/* U+02BC is a letter to Unicode but an apostrophe to writers. */
	if (c == 0x2019 || c == 0x2018 || c == 0x02BC)
		return NC_APOS;
	if (g_unichar_isalpha(c))
		return NC_ALPHA;
	if (g_unichar_isdigit(c))
		return NC_DIGIT;
	switch (g_unichar_type(c)) {
	case G_UNICODE_NON_SPACING_MARK:
	case G_UNICODE_SPACING_MARK:
	case G_UNICODE_ENCLOSING_MARK:
		return NC_MARK;
	default:
		return NC_SEP;
	}
}

/* norm_leet_of - the letter a digit or symbol stands for, else 0 */
static unsigned char
norm_leet_of(gunichar c)
{
	/* Fullwidth digits are the same disguise in another costume. */
	if (c >= 0xFF10 && c <= 0xFF19)
		c = c - 0xFF10 + '0';
	return c < 0x80 ? (unsigned char)norm_leet_ascii[c] : 0;
}

/* norm_homoglyph - Latin letter a Cyrillic/Greek look-alike copies, or 0 */
static char
norm_homoglyph(gunichar c)
{
	/* Lower case only: this runs after casefold. */
	switch (c) {
	case 0x0430: /* а */
	case 0x03B1: /* α */
	case 0x0251: /* ɑ */
		return 'a';
	case 0x0432: /* в */
	case 0x03B2: /* β */
		return 'b';
	case 0x0441: /* с */
	case 0x03F2: /* ϲ */
		return 'c';
	case 0x0501: /* ԁ */
		return 'd';
	case 0x0435: /* е */
	case 0x03B5: /* ε */
		return 'e';
	case 0x0261: /* ɡ */
		return 'g';
	case 0x043D: /* н */
	case 0x04BB: /* һ */
		return 'h';
	case 0x0456: /* і */
	case 0x03B9: /* ι */
	case 0x0269: /* ɩ */
		return 'i';
	case 0x0458: /* ј */
	case 0x03F3: /* ϳ */
		return 'j';
	case 0x043A: /* к */
	case 0x03BA: /* κ */
		return 'k';
	case 0x04CF: /* ӏ */
		return 'l';
	case 0x043C: /* м */
		return 'm';
	case 0x03B7: /* η */
		return 'n';
	case 0x043E: /* о */
	case 0x03BF: /* ο */
		return 'o';
	case 0x0440: /* р */
	case 0x03C1: /* ρ */
		return 'p';
	case 0x051B: /* ԛ */
		return 'q';
	case 0x0455: /* ѕ */
		return 's';
	case 0x0442: /* т */
	case 0x03C4: /* τ */
		return 't';
	case 0x03C5: /* υ */
		return 'u';
	case 0x03BD: /* ν */
		return 'v';
	case 0x051D: /* ԝ */
	case 0x03C9: /* ω */
		return 'w';
	case 0x0445: /* х */
	case 0x03C7: /* χ */
		return 'x';
	case 0x0443: /* у */
	case 0x04AF: /* ү */
	case 0x03B3: /* γ */
		return 'y';
	default:
		return 0;
	}
}

/* norm_is_wordish - characters a token text may keep after folding */
static inline int
norm_is_wordish(gunichar c)
{
	if (c < 0x80)
		return norm_ascii_class[c] == NC_ALPHA ||
		       norm_ascii_class[c] == NC_DIGIT || c == '\'' || c == '*';
	if (g_unichar_isalnum(c))
		return 1;
	switch (g_unichar_type(c)) {
	case G_UNICODE_NON_SPACING_MARK:
	case G_UNICODE_SPACING_MARK:
	case G_UNICODE_ENCLOSING_MARK:
		return 1;
	default:
		return 0;
	}
}

/* norm_is_letter - a letter for stretching (never digits or '*') */
static inline int
norm_is_letter(gunichar c)
{
	if (c < 0x80)
		return norm_ascii_class[c] == NC_ALPHA;
	return g_unichar_isalpha(c);
}

/* norm_fold_glib - NFKC, casefold, Latin/Greek accents off, NFC */
static void
norm_fold_glib(const char *s, size_t len, struct norm_buf *out)
{
	char *nfkc = g_utf8_normalize(s, len, G_NORMALIZE_NFKC);
	char *cf;
	char *nfd;
	char *nfc;
	gunichar base = 0;
	struct norm_buf tmp = {0};

	if (nfkc == NULL)
		return;
	cf = g_utf8_casefold(nfkc, -1);
	nfd = g_utf8_normalize(cf, -1, G_NORMALIZE_NFD);
	for (const char *p = nfd; p != NULL && *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		/*
		 * Accents go on Latin and Greek letters only: in Cyrillic
		 * "й" is not "и" with a hat, it is another letter.
		 */
		if (g_unichar_type(c) == G_UNICODE_NON_SPACING_MARK &&
		    (base < 0x0250 || (base >= 0x0370 && base <= 0x03FF)))
			continue;
		if (g_unichar_type(c) != G_UNICODE_NON_SPACING_MARK)
			base = c;
		norm_buf_putu(&tmp, c);
	}
	if (tmp.len > 0) {
		nfc = g_utf8_normalize(tmp.s, tmp.len, G_NORMALIZE_NFC);
		if (nfc != NULL)
			norm_buf_put(out, nfc, strlen(nfc));
		g_free(nfc);
	}
	g_free(tmp.s);
	g_free(nfd);
	g_free(cf);
	g_free(nfkc);
}
