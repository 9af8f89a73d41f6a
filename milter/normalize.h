/*
 * normalize.h - text to a stream of normalized words, obfuscation undone
 *
 * Owns what "the same word" means for the rule matcher: the customer's
 * text becomes tokens that are case-folded (g_utf8_casefold), NFKC
 * normalized (fullwidth and styled letters become plain ones), stripped
 * of accents on Latin and Greek letters, and with the usual disguises
 * undone:
 *   - zero-width characters and soft hyphens inside a word are removed;
 *   - Cyrillic and Greek look-alikes (a e o p c y x i j s k m h t b ...)
 *     become Latin letters, but only in a word that also has Latin letters
 *     (or mixes Cyrillic with Greek): real Russian or Greek words stay;
 *   - leet (0 1 3 4 5 7 8 @ $ |) becomes letters inside a word that has
 *     letters, when the digits are not just a leading or trailing group
 *     ("4g", "mp3", "24h", "covid19", "2024", "$19" are left alone);
 *   - masks (* ! # % between letters: f*ck, sh!t, a**hole) become '*' and
 *     set NORM_TOK_MASKED; each '*' stands for one hidden letter.  A run
 *     of '*' right after a word of one or two letters (f***, sh**) is a
 *     mask too; any other trailing '!' or '*' is punctuation;
 *   - single letters split by one '.', '-' or '_' (3 or more letters:
 *     f.u.c.k, s-h-i-t, U.S.A.) or by single spaces (4 or more letters:
 *     f u c k) are joined into one token spanning the whole run; "u r a
 *     joke" and "I am a big fan" stay as they are;
 *   - a run of 3 or more of one letter is stretching: text has one letter,
 *     alt has two (fuuuck -> "fuck"/"fuuck", goooood -> "god"/"good").
 *
 * Words are runs of letters and digits.  Apostrophes (' ’ ‘ `) between
 * letters or digits stay in the word as ASCII "'", so "don't", "won't"
 * and "can't" are single tokens (a negation list names them with the
 * apostrophe, and their apostrophe-less spellings "dont" separately).
 * Hyphens split: "e-mail" is "e" "mail" and "self-righteous" is "self"
 * "righteous", so a phrase rule written with a space matches either
 * spelling and joined text never holds a hyphen.
 *
 * Every token keeps start/end, byte offsets into the ORIGINAL input, so
 * explanations quote the customer's own bytes.  Invalid UTF-8 and NUL
 * bytes separate words and are never part of a token; offsets are never
 * mapped through a repaired copy.
 *
 * norm_shouting() measures capitals and !!! / ??? runs over a text.
 *
 * The module is pure: no logging, no mutable globals, thread-safe.  Time
 * and memory are linear in the input.  Allocation failure aborts (GLib).
 */
#ifndef TRIAGE_NORMALIZE_H
#define TRIAGE_NORMALIZE_H

#include <stddef.h>

/*
 * Default cap on tokens per text.  Decoded text is capped at
 * CONFIG_DEF_MAX_TEXT_BYTES (512 KiB), which is at most ~260,000 one-letter
 * words; 200,000 tokens (~10 MB of token structs) bound memory even for
 * a pathological "a a a a" body while never cutting real prose.
 */
#define NORM_DEF_MAX_TOKENS 200000

#define NORM_TOK_UPPER 0x01 /* all letters capitals, >= 2 letters */
#define NORM_TOK_OBFUSCATED                                                    \
	0x02                     /* leet, separators, masks, stretching,       \
				    homoglyphs or zero-width were undone */
#define NORM_TOK_MASKED 0x04     /* text has '*' for one hidden letter each */
#define NORM_TOK_SENT_START 0x08 /* first of a sentence or paragraph */
#define NORM_TOK_QUOTED 0x10     /* inside "..." or “...” in the original */

struct norm_token {
	const char *text;  /* normalized form, NUL-terminated (in the pool) */
	const char *alt;   /* two-letter form when stretched, else NULL */
	size_t start, end; /* byte offsets of the token in the ORIGINAL */
	unsigned flags;    /* NORM_TOK_* */
};

struct norm {
	struct norm_token *tok;
	size_t n;
	char *joined;       /* token texts joined by single spaces */
	size_t *joined_off; /* joined_off[i] = offset of token i in joined */
	int truncated;      /* max_tokens reached, the rest was not read */
	char *pool;         /* private: storage of every text and alt */
};

/*
 * norm_text - tokenize and normalize len bytes of (possibly invalid)
 * UTF-8; max_tokens 0 means NORM_DEF_MAX_TOKENS.  Never returns NULL.
 */
struct norm *norm_text(const char *utf8, size_t len, size_t max_tokens);

/*
 * norm_text_general - norm_text() without its ASCII fast path: every word
 * through the general path.  The same result, only slower; it exists so
 * that test-normalize can hold the fast path to it.
 */
struct norm *norm_text_general(const char *utf8, size_t len, size_t max_tokens);

/* norm_free - release a norm; returns NULL */
struct norm *norm_free(struct norm *n);

/*
 * norm_word - one word or phrase of a rule file through the same pipeline,
 * tokens joined by single spaces; NULL when nothing word-like is left.
 * The caller strips its own syntax (wildcards, gaps) first.  g_free().
 */
char *norm_word(const char *utf8);

/*
 * Shouting metrics.  Words are runs of letters (digits and inner
 * apostrophes continue them); only words of NORM_SHOUT_MIN_LETTERS or
 * more letters count, so short acronyms (USA, FAQ, CEO, IT) never make a
 * calm text look shouted.  Lines whose first non-blank character is '>'
 * are quoted mail and skipped.
 */
#define NORM_SHOUT_MIN_LETTERS 4 /* "THIS IS NOT OK" is shouting at 4 */
#define NORM_SHOUT_MIN_RUN 3     /* "!!" is emphasis, "!!!" is a rant */

struct norm_shout {
	size_t letters;         /* letters in counted words */
	size_t upper;           /* of which capitals */
	double ratio;           /* upper / letters, 0 when no letters */
	size_t caps_words;      /* counted words all in capitals */
	size_t words;           /* counted words */
	unsigned bang_runs;     /* runs of 3+ of '!' and '?' with a '!' */
	unsigned question_runs; /* runs of 3+ '?' only */
	unsigned longest_bang;  /* longest '!'/'?' run holding a '!' */
};

void norm_shouting(const char *utf8, size_t len, struct norm_shout *out);
/* norm_shouting_general - the same, one character at a time (tests) */
void norm_shouting_general(const char *utf8, size_t len,
			   struct norm_shout *out);

#endif
