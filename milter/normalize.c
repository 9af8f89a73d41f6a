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

/* Bytes of zeroed padding after the joined text (see norm_text). */
#define NORM_REGEX_SLACK 32

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
/* Bytes per token of ordinary English mail, for sizing arrays up front. */
#define NORM_EST_BYTES_PER_TOKEN 5
/* "@name" with a longer name is a handle, not "a"+name (but "@ss" is). */
#define NORM_MAX_AT_STUB 3

/* Character classes of the raw scan. */
enum {
	NC_SEP = 0, /* ends a raw run */
	NC_ALPHA,
	NC_DIGIT,
	NC_MARK, /* combining mark: belongs to the letter before */
	NC_ZW,   /* zero-width, soft hyphen: invisible inside a word */
	NC_SYM,  /* leet-only symbols: @ $ | */
	NC_MASK, /* * ! # %: a hidden letter between letters */
	NC_APOS  /* ' ’ ‘ `: kept between letters */
};

/* Private token flags, cleared before the caller sees the tokens. */
#define NORM_TOK_P_SINGLE 0x100 /* exactly one letter in the original */
#define NORM_TOK_P_UP1 0x200    /* ... and it was a capital */
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
    ['|'] = NC_SYM,   ['*'] = NC_MASK,  ['!'] = NC_MASK,  ['#'] = NC_MASK,
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
	size_t off;         /* byte offset in the original */
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
	size_t cap;   /* slots in n->tok, toff, aoff */
	size_t *toff; /* text offset in pool */
	size_t *aoff; /* alt offset in pool, SIZE_MAX for none */
	size_t max_tokens;
	int stop; /* max_tokens reached */
	struct norm_buf pool;
	struct norm_buf fold;  /* one word before folding */
	struct norm_buf fold2; /* ... and after GLib folding */
	struct norm_buf alt;   /* alt being built */
	struct norm_rchar *r;  /* the raw run */
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
	gunichar base = 0;
	struct norm_buf tmp = {0};

	if (nfkc == NULL)
		return;
	cf = g_utf8_casefold(nfkc, -1);
	nfd = g_utf8_normalize(cf, -1, G_NORMALIZE_NFD);
	for (const char *p = nfd; p != NULL && *p;
	     p += g_utf8_skip[(unsigned char)*p]) {
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
		char *nfc = g_utf8_normalize(tmp.s, tmp.len, G_NORMALIZE_NFC);

		if (nfc != NULL)
			norm_buf_put(out, nfc, strlen(nfc));
		g_free(nfc);
	}
	g_free(tmp.s);
	g_free(nfd);
	g_free(cf);
	g_free(nfkc);
}

/* norm_stretch_flush - write a pending run of one letter to text and alt */
static void
norm_stretch_flush(struct norm_build *b, gunichar rc, size_t rcnt,
		   int *stretched)
{
	size_t keep_text = rcnt;
	size_t keep_alt = rcnt;

	if (rcnt >= NORM_STRETCH_MIN) {
		keep_text = 1;
		keep_alt = 2;
		*stretched = 1;
	}
	for (size_t i = 0; i < keep_text; i++)
		norm_buf_putu(&b->pool, rc);
	for (size_t i = 0; i < keep_alt; i++)
		norm_buf_putu(&b->alt, rc);
}

/*
 * norm_finish - folded word to pool: homoglyphs, filter, de-stretch.
 * Returns 0 (and leaves the pool as it was) when nothing word-like is left.
 */
static int
norm_finish(struct norm_build *b, const char *s, size_t len, size_t *toff_r,
	    size_t *aoff_r, unsigned *flags)
{
	const char *p;
	const char *end;
	int map = 0;
	int stretched = 0;
	int alnum = 0;
	gunichar rc = 0;
	size_t rcnt = 0;

	/* a word of combining marks only folds to nothing (and s may be
	 * NULL then: no pointer arithmetic on it) */
	if (len == 0)
		return 0;
	end = s + len;

	/* Map look-alikes only where they hide among Latin letters. */
	for (p = s; p < end; p++) {
		if ((unsigned char)*p >= 0x80)
			break;
	}
	if (p < end) {
		int latin = 0, cyr = 0, greek = 0, look = 0;

		for (p = s; p < end; p += g_utf8_skip[(unsigned char)*p]) {
			gunichar c = g_utf8_get_char(p);

			if (c < 0x250 && norm_is_letter(c))
				latin = 1;
			else if (c >= 0x400 && c <= 0x52F)
				cyr = 1;
			else if (c >= 0x370 && c <= 0x3FF)
				greek = 1;
			if (norm_homoglyph(c))
				look = 1;
		}
		map = look && (latin || (cyr && greek));
	}

	*toff_r = b->pool.len;
	b->alt.len = 0;
	for (p = s; p < end;) {
		gunichar c;

		if ((unsigned char)*p < 0x80) {
			c = (unsigned char)*p++;
		} else {
			c = g_utf8_get_char(p);
			p += g_utf8_skip[(unsigned char)*p];
			if (map && norm_homoglyph(c)) {
				c = (unsigned char)norm_homoglyph(c);
				*flags |= NORM_TOK_OBFUSCATED;
			}
		}
		if (!norm_is_wordish(c))
			continue;
		if (c != '\'' && c != '*')
			alnum = 1;
		if (norm_is_letter(c)) {
			if (c == rc) {
				rcnt++;
				continue;
			}
			norm_stretch_flush(b, rc, rcnt, &stretched);
			rc = c;
			rcnt = 1;
			continue;
		}
		norm_stretch_flush(b, rc, rcnt, &stretched);
		rc = 0;
		rcnt = 0;
		norm_buf_putu(&b->pool, c);
		norm_buf_putu(&b->alt, c);
	}
	norm_stretch_flush(b, rc, rcnt, &stretched);
	if (!alnum) {
		b->pool.len = *toff_r;
		return 0;
	}
	norm_buf_putc(&b->pool, '\0');
	*aoff_r = SIZE_MAX;
	if (stretched) {
		*flags |= NORM_TOK_OBFUSCATED;
		*aoff_r = b->pool.len;
		norm_buf_put(&b->pool, b->alt.s, b->alt.len);
		norm_buf_putc(&b->pool, '\0');
	}
	return 1;
}

/* norm_sep - a character between words: sentence and quote state */
static void
norm_sep(struct norm_build *b, gunichar c)
{
	if (c == '\n' && ++b->newlines >= 2) {
		/* A blank line ends a paragraph and any open quote. */
		b->sent_pending = 1;
		b->in_quote = 0;
	}
	switch (c) {
	case '\n':
	case ' ':
	case '\t':
	case '\r':
	case '\f':
	case '\v':
		if (b->dot_seen)
			b->sent_pending = 1;
		b->dot_seen = 0;
		return;
	case '.':
	case 0x2026: /* … */
	case 0x3002: /* 。 */
		/* Only "end. Next" ends a sentence; "e.g" and "3.14" do not. */
		b->dot_seen = 1;
		break;
	case '!':
	case '?':
	case ';':
	case 0x203C: /* ‼ */
	case 0xFF01: /* ！ */
	case 0xFF1F: /* ？ */
	case 0xFF1B: /* ； */
		b->sent_pending = 1;
		break;
	case '"':
		b->in_quote = !b->in_quote;
		break;
	case 0x201C: /* “ */
	case 0x00AB: /* « */
		b->in_quote = 1;
		break;
	case 0x201D: /* ” */
	case 0x00BB: /* » */
		b->in_quote = 0;
		break;
	case ')':
	case ']':
	case '\'':
	case 0x2019:
		/* Closers after a full stop keep it: (end.) Next */
		break;
	default:
		if (c != (gunichar)-1 && c >= 0x80 && g_unichar_isspace(c)) {
			if (b->dot_seen)
				b->sent_pending = 1;
			b->dot_seen = 0;
			return;
		}
		b->dot_seen = 0;
		break;
	}
	b->newlines = 0;
}

/* norm_grow - room for one more token */
static void
norm_grow(struct norm_build *b)
{
	if (b->n->n < b->cap)
		return;
	b->cap = b->cap ? b->cap * 2 : 64;
	b->n->tok = g_renew(struct norm_token, b->n->tok, b->cap);
	b->toff = g_renew(size_t, b->toff, b->cap);
	b->aoff = g_renew(size_t, b->aoff, b->cap);
}

/* norm_close_run - join the pending single letters if there are enough */
static void
norm_close_run(struct norm_build *b)
{
	struct norm *n = b->n;
	size_t first = b->run_first;
	size_t need =
	    b->run_gap == ' ' ? NORM_JOIN_MIN_SPACE : NORM_JOIN_MIN_PUNCT;
	unsigned flags;
	unsigned all_up = NORM_TOK_P_UP1;
	size_t toff, aoff;

	if (b->run_len < need || b->run_len < 2) {
		b->run_len = 0;
		return;
	}
	b->run_len = 0;
	/* Copy out first: norm_finish() appends to (and may move) the pool. */
	b->fold.len = 0;
	for (size_t i = first; i < n->n; i++) {
		const char *t = b->pool.s + b->toff[i];

		norm_buf_put(&b->fold, t, strlen(t));
		all_up &= n->tok[i].flags;
	}
	flags = NORM_TOK_OBFUSCATED |
		(n->tok[first].flags & (NORM_TOK_SENT_START | NORM_TOK_QUOTED));
	if (all_up)
		flags |= NORM_TOK_UPPER;
	if (!norm_finish(b, b->fold.s, b->fold.len, &toff, &aoff, &flags))
		return;
	n->tok[first].end = n->tok[n->n - 1].end;
	n->tok[first].flags = flags;
	b->toff[first] = toff;
	b->aoff[first] = aoff;
	n->n = first + 1;
}

/* norm_gap_ok - does this single letter continue the pending run? */
static int
norm_gap_ok(struct norm_build *b, size_t start)
{
	size_t prev_end = b->n->tok[b->n->n - 1].end;
	unsigned char ch;

	if (start != prev_end + 1)
		return 0;
	ch = (unsigned char)b->in[prev_end];
	if (ch != '.' && ch != '-' && ch != '_' && ch != ' ')
		return 0;
	/* "f.u-c k" is not one style of spelling; keep runs uniform. */
	if (b->run_len == 1)
		b->run_gap = ch;
	return ch == b->run_gap;
}

/* norm_push - append a finished token, joining single letters */
static void
norm_push(struct norm_build *b, size_t start, size_t end, size_t toff,
	  size_t aoff, unsigned flags)
{
	struct norm *n = b->n;
	struct norm_token *t;

	if (n->n >= b->max_tokens) {
		n->truncated = 1;
		b->stop = 1;
		return;
	}
	if (b->sent_pending)
		flags |= NORM_TOK_SENT_START;
	if (b->in_quote)
		flags |= NORM_TOK_QUOTED;
	b->sent_pending = 0;
	b->dot_seen = 0;
	b->newlines = 0;

	if (flags & NORM_TOK_P_SINGLE) {
		if (b->run_len > 0 && norm_gap_ok(b, start)) {
			b->run_len++;
		} else {
			norm_close_run(b);
			b->run_first = n->n;
			b->run_len = 1;
			b->run_gap = 0;
		}
	} else {
		norm_close_run(b);
	}

	norm_grow(b);
	t = &n->tok[n->n];
	t->text = NULL;
	t->alt = NULL;
	t->start = start;
	t->end = end;
	t->flags = flags;
	b->toff[n->n] = toff;
	b->aoff[n->n] = aoff;
	n->n++;
}

/* norm_joined_mask - f*u*c*k: one letter between single masks, 3+ times */
static int
norm_joined_mask(const struct norm_rchar *r, size_t a, size_t e)
{
	size_t letters = 0;

	for (size_t k = a; k < e; k++) {
		int want_letter = (k - a) % 2 == 0;

		if (want_letter && r[k].cls != NC_ALPHA)
			return 0;
		if (!want_letter && r[k].cls != NC_MASK)
			return 0;
		letters += want_letter;
	}
	return (e - a) % 2 == 1 && letters >= NORM_JOIN_MIN_PUNCT;
}

/* norm_piece - one word of the raw run to a token */
static void
norm_piece(struct norm_build *b, size_t a, size_t e, int leet)
{
	const struct norm_rchar *r = b->r;
	unsigned flags = 0;
	size_t letters = 0, upper = 0;
	int ascii = 1;
	int joinmask;
	size_t toff, aoff;
	const struct norm_buf *src;

	while (a < e && r[a].cls == NC_ZW)
		a++;
	while (e > a && r[e - 1].cls == NC_ZW)
		e--;
	if (a >= e)
		return;
	joinmask = norm_joined_mask(r, a, e);

	b->fold.len = 0;
	for (size_t k = a; k < e; k++) {
		gunichar c = r[k].c;

		switch (r[k].cls) {
		case NC_ZW:
			flags |= NORM_TOK_OBFUSCATED;
			continue;
		case NC_ALPHA:
			letters++;
			upper += r[k].up;
			break;
		case NC_DIGIT:
			if (leet && r[k].leet) {
				c = r[k].leet;
				flags |= NORM_TOK_OBFUSCATED;
			}
			break;
		case NC_SYM:
			if (!leet || !r[k].leet)
				continue;
			c = r[k].leet;
			flags |= NORM_TOK_OBFUSCATED;
			break;
		case NC_MASK:
			flags |= NORM_TOK_OBFUSCATED;
			if (joinmask)
				continue;
			c = '*';
			flags |= NORM_TOK_MASKED;
			break;
		case NC_APOS:
			c = '\'';
			break;
		default:
			break;
		}
		if (c >= 0x80)
			ascii = 0;
		norm_buf_putu(&b->fold, c);
	}
	if (ascii) {
		for (size_t i = 0; i < b->fold.len; i++) {
			char ch = b->fold.s[i];

			if (ch >= 'A' && ch <= 'Z')
				b->fold.s[i] = (char)(ch + ('a' - 'A'));
		}
		src = &b->fold;
	} else {
		b->fold2.len = 0;
		norm_fold_glib(b->fold.s, b->fold.len, &b->fold2);
		src = &b->fold2;
	}
	if (letters >= 2 && upper == letters)
		flags |= NORM_TOK_UPPER;
	if (e - a == 1 && r[a].cls == NC_ALPHA)
		flags |= NORM_TOK_P_SINGLE | (r[a].up ? NORM_TOK_P_UP1 : 0);
	if (!norm_finish(b, src->s, src->len, &toff, &aoff, &flags))
		return;
	norm_push(b, r[a].off, r[e - 1].off + r[e - 1].len, toff, aoff, flags);
}

/* norm_is_email_at - is r[k] the '@' of user@example.org? */
static int
norm_is_email_at(const struct norm_build *b, size_t a, size_t e)
{
	size_t after = b->r[e - 1].off + b->r[e - 1].len;
	int at = 0;

	for (size_t k = a + 1; k < e; k++)
		at |= b->r[k].c == '@';
	return at && after + 1 < b->in_len && b->in[after] == '.' &&
	       g_ascii_isalnum(b->in[after + 1]);
}

/*
 * norm_leet_ok - should digits and @$| in r[a..e) be read as letters?
 * Yes when the word has letters, every disguise maps to a letter, there
 * are not many more disguises than letters, and some disguise sits among
 * the letters or is a symbol at the edge (@ss, a$$).  A digit group only
 * before or after the letters is a model number or unit (4g, mp3, 24h).
 */
static int
norm_leet_ok(const struct norm_build *b, size_t a, size_t e)
{
	const struct norm_rchar *r = b->r;
	size_t letters = 0, disguises = 0;
	size_t first = e, last = e;
	int inner = 0, edge_digit = 0, edge_sym = 0;

	for (size_t k = a; k < e; k++) {
		if (r[k].cls == NC_ALPHA) {
			letters++;
			if (first == e)
				first = k;
			last = k;
		} else if (r[k].cls == NC_DIGIT || r[k].cls == NC_SYM) {
			if (!r[k].leet)
				return 0;
			disguises++;
		}
	}
	if (letters == 0 || disguises == 0 || disguises > letters + 1)
		return 0;
	if (norm_is_email_at(b, a, e))
		return 0;
	for (size_t k = a; k < e; k++) {
		int disguise = r[k].cls == NC_DIGIT || r[k].cls == NC_SYM;

		if (!disguise)
			continue;
		if (k > first && k < last)
			inner = 1;
		else if (r[k].cls == NC_DIGIT)
			edge_digit = 1;
		else
			edge_sym = 1;
	}
	if (inner)
		return 1;
	return edge_sym && !edge_digit;
}

/* norm_segment - one cut of the raw run: decide leet, split on symbols */
static void
norm_segment(struct norm_build *b, size_t a, size_t e)
{
	const struct norm_rchar *r = b->r;
	size_t letters = 0, disguises = 0;
	int syms = 0;
	int leet;

	while (a < e && r[a].cls == NC_ZW)
		a++;
	while (e > a && r[e - 1].cls == NC_ZW)
		e--;
	if (a >= e)
		return;
	for (size_t k = a; k < e; k++) {
		letters += r[k].cls == NC_ALPHA;
		disguises += r[k].cls == NC_DIGIT || r[k].cls == NC_SYM;
		syms |= r[k].cls == NC_SYM;
	}
	/* "@support" is a handle; "@ss" is a word. */
	if (r[a].c == '@' && disguises == 1 && letters > NORM_MAX_AT_STUB) {
		norm_sep(b, '@');
		a++;
		syms = 0;
	}
	leet = norm_leet_ok(b, a, e);
	if (leet || !syms) {
		norm_piece(b, a, e, leet);
		return;
	}
	/* Not leet: the symbols are separators ("$19", "US$100", "a|b"). */
	for (size_t k = a, s = a; k <= e && !b->stop; k++) {
		if (k < e && r[k].cls != NC_SYM)
			continue;
		if (k > s)
			norm_piece(b, s, k, 0);
		if (k < e)
			norm_sep(b, r[k].c);
		s = k + 1;
	}
}

/* norm_is_wordy - a letter or digit-ish neighbour of a mask or apostrophe */
static int
norm_is_wordy(const struct norm_rchar *r, int digits_too)
{
	return r->cls == NC_ALPHA || r->cls == NC_MARK ||
	       (digits_too && r->cls == NC_DIGIT);
}

/*
 * norm_bang_mask - is the '!' (or '#', '%') run r[k..j) a hidden letter?
 * Sloppy typing drops the space after '!' ("idiot!you", "thanks!Bob"), so
 * unlike '*' it masks only when one side is a stub of NORM_MAX_MASK_STUB
 * letters or fewer (sh!t, f!ck, b!tch, bullsh!t).  The scans stop after
 * NORM_MAX_MASK_STUB + 1 letters, so a run costs O(1).
 */
static int
norm_bang_mask(const struct norm_rchar *r, size_t rn, size_t s, size_t k,
	       size_t j)
{
	size_t left = 0, right = 0;

	/* "Hi!!!Bob" is excitement; a hidden letter is one '!'. */
	for (size_t m = k; m < j; m++) {
		if (r[m].c == '!' && j - k > 1)
			return 0;
	}
	while (k > s && r[k - 1].cls == NC_ALPHA &&
	       left <= NORM_MAX_MASK_STUB) {
		left++;
		k--;
	}
	for (; j < rn && r[j].cls == NC_ALPHA && right <= NORM_MAX_MASK_STUB;
	     j++)
		right++;
	return left <= NORM_MAX_MASK_STUB || right <= NORM_MAX_MASK_STUB;
}

/*
 * norm_run - cut a raw run at the masks and apostrophes that are
 * punctuation, and hand each cut to norm_segment().
 */
static void
norm_run(struct norm_build *b)
{
	const struct norm_rchar *r = b->r;
	size_t rn = b->rn;
	size_t s = 0;
	size_t k = 0;

	while (k < rn && !b->stop) {
		size_t j = k;
		int all_mask = 1, all_star = 1, inner = 0;
		const struct norm_rchar *prev, *next;

		if (r[k].cls != NC_MASK && r[k].cls != NC_APOS) {
			k++;
			continue;
		}
		while (j < rn && (r[j].cls == NC_MASK || r[j].cls == NC_APOS)) {
			all_mask &= r[j].cls == NC_MASK;
			all_star &= r[j].c == '*';
			j++;
		}
		prev = k > s ? &r[k - 1] : NULL;
		next = j < rn ? &r[j] : NULL;
		if (all_mask && j - k <= NORM_MAX_MASK_RUN && prev &&
		    norm_is_wordy(prev, 0)) {
			if (next && norm_is_wordy(next, 0)) {
				/* f*ck, sh!t, a**hole; not idiot!you */
				inner =
				    all_star || norm_bang_mask(r, rn, s, k, j);
			} else if (next == NULL && all_star && r[0].c != '*') {
				/* f***, sh** but not *emphasis* or free* */
				size_t stub = 0;

				for (size_t m = s; m < k; m++)
					stub += r[m].cls == NC_ALPHA;
				inner =
				    stub <= NORM_MAX_MASK_STUB && stub == k - s;
			}
		} else if (!all_mask && j - k == 1 && prev && next &&
			   norm_is_wordy(prev, 1) && norm_is_wordy(next, 1)) {
			inner = 1; /* don't, 90's */
		}
		if (inner) {
			k = j;
			continue;
		}
		norm_segment(b, s, k);
		for (size_t m = k; m < j && !b->stop; m++)
			norm_sep(b, r[m].c);
		s = k = j;
	}
	if (!b->stop)
		norm_segment(b, s, rn);
	b->rn = 0;
}

/* norm_add - one character to the raw run */
static void
norm_add(struct norm_build *b, gunichar c, size_t off, size_t len,
	 unsigned char cls)
{
	struct norm_rchar *rc;

	if (b->rn == b->rcap) {
		b->rcap = b->rcap ? b->rcap * 2 : 64;
		b->r = g_renew(struct norm_rchar, b->r, b->rcap);
	}
	rc = &b->r[b->rn++];
	rc->c = c;
	rc->off = off;
	rc->len = (unsigned char)len;
	rc->cls = cls;
	rc->up = 0;
	rc->leet = 0;
	if (cls == NC_ALPHA)
		rc->up = c < 0x80
			     ? (c >= 'A' && c <= 'Z')
			     : (g_unichar_isupper(c) || g_unichar_istitle(c));
	else if (cls == NC_DIGIT || cls == NC_SYM)
		rc->leet = norm_leet_of(c);
}

/* norm_ascii_fold - an ASCII byte of a plain word as folding leaves it */
static inline char
norm_ascii_fold(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return (char)(ch + ('a' - 'A'));
	return ch == '`' ? '\'' : ch; /* every apostrophe becomes ASCII "'" */
}

/*
 * norm_ascii_word - bytes of a plain ASCII word at p, or 0
 *
 * The fast path of norm_text(): most words of mail are ASCII letters
 * between spaces and punctuation, and for them the general path (raw run,
 * cuts, leet decision, GLib folding) always comes to the same answer.
 * A plain word is a raw run that starts at p and holds only ASCII letters
 * with single apostrophes between letters (don't), or only ASCII digits,
 * and that ends at an ASCII separator, the end of the text, or a run of
 * '!' followed by either ("Thanks!": a '!' after a word and before a
 * separator is punctuation, which the caller then reads as such).  Anything
 * else - a byte >= 0x80, letters mixed with digits (leet, "mp3"), the
 * symbols @ $ | * # %, a '!' before a letter (sh!t) - returns 0 and the
 * general path takes the word.  test-normalize holds the two paths to the
 * same tokens.
 */
static size_t
norm_ascii_word(const char *p, const char *end)
{
	const char *q;
	int letters = 0, digits = 0;

	for (q = p; q < end; q++) {
		unsigned char ch = (unsigned char)*q;
		unsigned char cls;

		if (ch >= 0x80)
			return 0;
		cls = norm_ascii_class[ch];
		if (cls == NC_ALPHA) {
			letters = 1;
		} else if (cls == NC_DIGIT) {
			digits = 1;
		} else if (cls == NC_SEP) {
			break;
		} else if (cls == NC_APOS) {
			if (q == p ||
			    norm_ascii_class[(unsigned char)q[-1]] != NC_ALPHA)
				return 0;
			if (q + 1 >= end || (unsigned char)q[1] >= 0x80 ||
			    norm_ascii_class[(unsigned char)q[1]] != NC_ALPHA)
				return 0;
		} else if (ch == '!' && q > p) {
			const char *r = q;

			while (r < end && *r == '!')
				r++;
			if (r < end &&
			    ((unsigned char)*r >= 0x80 ||
			     norm_ascii_class[(unsigned char)*r] != NC_SEP))
				return 0;
			break;
		} else {
			return 0;
		}
	}
	if (letters == digits) /* both (leet decides), or neither */
		return 0;
	return (size_t)(q - p);
}

/*
 * norm_ascii_stretch - append the folded word again, each run of
 * NORM_STRETCH_MIN or more of one letter cut to keep letters, as
 * norm_finish() writes text (keep 1) and alt (keep 2); NUL-terminated
 */
static void
norm_ascii_stretch(struct norm_buf *pool, const char *folded, size_t len,
		   size_t keep)
{
	norm_buf_reserve(pool, len + 1);
	for (size_t i = 0; i < len;) {
		char ch = folded[i];
		size_t j = i + 1;
		size_t n;

		if (norm_ascii_class[(unsigned char)ch] == NC_ALPHA)
			while (j < len && folded[j] == ch)
				j++;
		n = j - i >= NORM_STRETCH_MIN ? keep : j - i;
		memset(pool->s + pool->len, ch, n);
		pool->len += n;
		i = j;
	}
	pool->s[pool->len++] = '\0';
}

/*
 * norm_ascii_push - the token of a plain ASCII word at offset off, with
 * the text, alt and flags norm_piece() would give it
 */
static void
norm_ascii_push(struct norm_build *b, size_t off, size_t len)
{
	const char *s = b->in + off;
	size_t letters = 0, upper = 0;
	size_t toff, aoff = SIZE_MAX;
	unsigned flags = 0;
	int stretched = 0;
	char *t;

	/* fold while copying; a letter seen three times running is the
	 * rare stretched word, rewritten below */
	norm_buf_reserve(&b->pool, len + 1);
	toff = b->pool.len;
	t = b->pool.s + toff;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (ch >= 'A' && ch <= 'Z') {
			upper++;
			ch = (char)(ch + ('a' - 'A'));
		}
		t[i] = norm_ascii_fold(ch);
		if (norm_ascii_class[(unsigned char)ch] == NC_ALPHA) {
			letters++;
			stretched |=
			    i >= 2 && t[i] == t[i - 1] && t[i] == t[i - 2];
		}
	}
	t[len] = '\0';
	b->pool.len += len + 1;
	if (stretched) {
		/* text has one letter of the run, alt two (fuuuck) */
		char *folded = g_strndup(b->pool.s + toff, len);

		b->pool.len = toff;
		norm_ascii_stretch(&b->pool, folded, len, 1);
		aoff = b->pool.len;
		norm_ascii_stretch(&b->pool, folded, len, 2);
		g_free(folded);
		flags |= NORM_TOK_OBFUSCATED;
	}
	if (letters >= 2 && upper == letters)
		flags |= NORM_TOK_UPPER;
	if (len == 1 && letters == 1)
		flags |= NORM_TOK_P_SINGLE | (upper ? NORM_TOK_P_UP1 : 0);
	norm_push(b, off, off + len, toff, aoff, flags);
}

/*
 * norm_text_run - norm_text(), with or without the ASCII fast path
 * (norm_text_general() is without, for the tests that compare the two)
 */
static struct norm *
norm_text_run(const char *utf8, size_t len, size_t max_tokens, int fast)
{
	struct norm_build b = {0};
	struct norm *n = g_new0(struct norm, 1);
	const char *p = utf8;
	const char *end;
	size_t total = 0;
	char *out;

	if (utf8 == NULL)
		len = 0;
	end = utf8 + len;
	b.in = utf8;
	b.in_len = len;
	b.n = n;
	b.max_tokens = max_tokens ? max_tokens : NORM_DEF_MAX_TOKENS;
	b.sent_pending = 1;

	/*
	 * Size the arrays once from the input: English averages a token per
	 * 5-6 bytes and the texts take about the input's bytes.  Growing by
	 * doubling instead costs a copy and fresh page faults per step,
	 * which dominated the profile on 16 KB messages.
	 */
	b.cap = MIN(len / NORM_EST_BYTES_PER_TOKEN, b.max_tokens) + 16;
	n->tok = g_new(struct norm_token, b.cap);
	b.toff = g_new(size_t, b.cap);
	b.aoff = g_new(size_t, b.cap);
	norm_buf_reserve(&b.pool, len + len / 8 + 64);

	while (p < end && !b.stop) {
		size_t clen;
		gunichar c;
		unsigned char cls;

		/* A word starts here (no raw run is open): a plain ASCII one
		 * goes straight to a token. */
		if (fast && b.rn == 0 && (unsigned char)*p < 0x80 &&
		    (clen = norm_ascii_word(p, end)) > 0) {
			norm_ascii_push(&b, (size_t)(p - utf8), clen);
			p += clen;
			continue;
		}
		c = norm_decode(p, end, &clen);
		cls = norm_class(c);
		if (cls != NC_SEP) {
			/* Zero-width outside a word is just invisible. */
			if (cls != NC_ZW || b.rn > 0)
				norm_add(&b, c, p - utf8, clen, cls);
		} else {
			if (b.rn > 0)
				norm_run(&b);
			if (!b.stop)
				norm_sep(&b, c);
		}
		p += clen;
	}
	if (b.rn > 0 && !b.stop)
		norm_run(&b);
	norm_close_run(&b);

	for (size_t i = 0; i < n->n; i++) {
		n->tok[i].text = b.pool.s + b.toff[i];
		n->tok[i].alt =
		    b.aoff[i] == SIZE_MAX ? NULL : b.pool.s + b.aoff[i];
		n->tok[i].flags &= NORM_TOK_PUBLIC;
		total += strlen(n->tok[i].text) + 1;
	}
	n->pool = b.pool.s;
	/* PCRE2's JIT reads 16-byte blocks and may pass the terminator:
	 * zeroed slack keeps those reads inside the allocation */
	n->joined = out = g_malloc0(total + 1 + NORM_REGEX_SLACK);
	n->joined_off = g_new(size_t, n->n + 1);
	for (size_t i = 0; i < n->n; i++) {
		/* stpcpy: the copy and the length in one pass */
		if (i > 0)
			*out++ = ' ';
		n->joined_off[i] = out - n->joined;
		out = stpcpy(out, n->tok[i].text);
	}
	*out = '\0';

	g_free(b.toff);
	g_free(b.aoff);
	g_free(b.fold.s);
	g_free(b.fold2.s);
	g_free(b.alt.s);
	g_free(b.r);
	return n;
}

/* norm_text - tokenize and normalize a text */
struct norm *
norm_text(const char *utf8, size_t len, size_t max_tokens)
{
	return norm_text_run(utf8, len, max_tokens, 1);
}

/* norm_text_general - norm_text() without its ASCII fast path */
struct norm *
norm_text_general(const char *utf8, size_t len, size_t max_tokens)
{
	return norm_text_run(utf8, len, max_tokens, 0);
}

/* norm_free - release a norm; returns NULL */
struct norm *
norm_free(struct norm *n)
{
	if (n == NULL)
		return NULL;
	g_free(n->tok);
	g_free(n->joined);
	g_free(n->joined_off);
	g_free(n->pool);
	g_free(n);
	return NULL;
}

/* norm_word - one rule word through the same pipeline */
char *
norm_word(const char *utf8)
{
	struct norm *n;
	char *w = NULL;

	if (utf8 == NULL)
		return NULL;
	n = norm_text(utf8, strlen(utf8), 0);
	if (n->n > 0)
		w = g_strdup(n->joined);
	norm_free(n);
	return w;
}

/* norm_shout_word - close a word: count it if long enough */
static void
norm_shout_word(struct norm_shout *out, size_t *letters, size_t *upper)
{
	if (*letters >= NORM_SHOUT_MIN_LETTERS) {
		out->letters += *letters;
		out->upper += *upper;
		out->words++;
		if (*upper == *letters)
			out->caps_words++;
	}
	*letters = 0;
	*upper = 0;
}

/* norm_shout_run - close a run of '!' and '?' */
static void
norm_shout_run(struct norm_shout *out, unsigned *len, int *bang)
{
	if (*bang && *len > out->longest_bang)
		out->longest_bang = *len;
	if (*len >= NORM_SHOUT_MIN_RUN) {
		if (*bang)
			out->bang_runs++;
		else
			out->question_runs++;
	}
	*len = 0;
	*bang = 0;
}

/*
 * norm_shouting_run - capitals and !!!/??? metrics of a text; fast: read
 * runs of ASCII letters and quoted lines in one go (the same counts)
 */
static void
norm_shouting_run(const char *utf8, size_t len, struct norm_shout *out,
		  int fast)
{
	const char *p = utf8;
	const char *end;
	size_t wl = 0, wu = 0;
	unsigned run = 0;
	int bang = 0;
	int line_start = 1; /* only blanks so far on this line */
	int quoted = 0;     /* this line starts with '>' */

	memset(out, 0, sizeof(*out));
	if (utf8 == NULL)
		return;
	end = utf8 + len;
	while (p < end) {
		size_t clen;
		gunichar c = norm_decode(p, end, &clen);
		unsigned char cls = norm_class(c);

		p += clen;
		if (c == '\n') {
			norm_shout_word(out, &wl, &wu);
			norm_shout_run(out, &run, &bang);
			line_start = 1;
			quoted = 0;
			continue;
		}
		if (line_start && (c == ' ' || c == '\t' || c == '\r'))
			continue;
		if (line_start && c == '>')
			quoted = 1;
		line_start = 0;
		if (quoted) {
			/* nothing of a quoted line counts: on to its LF (a
			 * byte never inside a multi-byte character) */
			if (fast) {
				const char *nl = memchr(p, '\n', end - p);

				p = nl != NULL ? nl : end;
			}
			continue;
		}

		if (c == '!' || c == '?' || c == 0xFF01 || c == 0xFF1F) {
			run++;
			bang |= c == '!' || c == 0xFF01;
		} else {
			norm_shout_run(out, &run, &bang);
		}
		if (cls == NC_ALPHA) {
			wl++;
			wu += c < 0x80 ? (c >= 'A' && c <= 'Z')
				       : (g_unichar_isupper(c) ||
					  g_unichar_istitle(c));
			/* the ASCII letters after it: the same steps with
			 * nothing to close (not '!' or '?', not a LF) */
			while (fast && p < end && (unsigned char)*p < 0x80 &&
			       norm_ascii_class[(unsigned char)*p] ==
				   NC_ALPHA) {
				wl++;
				wu += *p >= 'A' && *p <= 'Z';
				p++;
			}
		} else if (cls != NC_MARK && cls != NC_DIGIT &&
			   cls != NC_APOS && cls != NC_ZW) {
			norm_shout_word(out, &wl, &wu);
		}
	}
	norm_shout_word(out, &wl, &wu);
	norm_shout_run(out, &run, &bang);
	out->ratio = out->letters ? (double)out->upper / out->letters : 0.0;
}

/* norm_shouting - capitals and !!!/??? metrics of a text */
void
norm_shouting(const char *utf8, size_t len, struct norm_shout *out)
{
	norm_shouting_run(utf8, len, out, 1);
}

/* norm_shouting_general - norm_shouting() one character at a time */
void
norm_shouting_general(const char *utf8, size_t len, struct norm_shout *out)
{
	norm_shouting_run(utf8, len, out, 0);
}
