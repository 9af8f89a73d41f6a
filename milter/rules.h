/*
 * rules.h - load rule files into an immutable, shared rule set
 *
 * This module owns the rule-file language (documented for authors in
 * triage-rules(5)) and its compiled form; classify.c owns matching.  A
 * rule set is built once by rules_load(), never changes afterwards and is
 * read by every milter thread at once without locks.
 *
 * Rule files are libconfuse files holding any number of sections
 *
 *	rule NAME {
 *		category = "legal"	# required unless NAME starts with "__"
 *		score = 4.0		# default 1.0; may be negative
 *		describe = "Threat to sue"	# default: NAME
 *		phrases = {"sue you", "sue* {0,3} company"}
 *		lexicon = "insults-en.txt"	# or a list of files
 *		negation = 4		# default 4; 0 turns it off
 *		examples = {"I will sue you"}
 *		counterexamples = {"I am not going to sue"}
 *	}
 *
 * NAME is [A-Z][A-Z0-9_]*, optionally preceded by "__"; a "__" rule only
 * feeds other rules and is never reported.  Names are unique across all
 * files of one load.  A rule has exactly one kind of matcher:
 *
 *   phrases, lexicon	(may be combined) word sequences on the normalized
 *			token stream.  Each word goes through norm_word(), so
 *			case, accents and obfuscation do not matter; "word*"
 *			matches any token starting with "word" (the stem needs
 *			RULES_MIN_STEM letters); "{m,n}" (or "{n}") between
 *			two words skips m..n arbitrary tokens, n at most
 *			RULES_MAX_GAP.  A phrase lies within one sentence.
 *			A lexicon is a UTF-8 file, path relative to the
 *			directory of the rule file: one phrase per line, same
 *			syntax, blank lines and "#" comments ignored.
 *   regex [, header]	PCRE2, UTF and caseless, on the normalized text (token
 *			texts joined by single spaces; it may cross
 *			sentences), or with header = "Name" on that header's
 *			decoded, unnormalized value.  Match and depth limits
 *			apply; a regex that reaches one does not match.
 *   near, within	near = {"A", "B"}: a match of A and a match of B in the
 *			same sentence, not overlapping, in either order, the
 *			first word of the later at most `within` (default 3)
 *			words after the last word of the earlier: "you are
 *			useless idiots" is 3, i.e. two words between.  A and B
 *			must be positional rules (phrases, lexicon, regex on
 *			the text, near).
 *   all, any, not	lists of rules; fires when every rule of `all`, at
 *			least one of `any` and none of `not` fired (the lists
 *			that are given).
 *   shout_ratio, shout_min_letters, caps_words, bang_runs, question_runs
 *			thresholds on norm_shouting(); fires when every given
 *			one is reached (ratio >=, counts >=).
 *
 * Negation applies to positional rules: a negator (not, no, never, don't,
 * won't, can't, cannot, without, nor, ... and any "n't" form) among the
 * `negation` words before a match cancels that match, unless the search
 * first meets a clause break (",", ";", ":", parentheses, a new sentence)
 * or a breaker word ("hesitate", "only", "just", "but", "until",
 * "otherwise", "longer", ..., or "and"/"or" followed by I/we/you), so
 * "I will not hesitate to sue" and "not only will I sue" still match.
 *
 * A masked token ("f*ck", each '*' one hidden letter) matches a word of
 * the same length whose shown letters agree; its first letter must show.
 * Examples and counterexamples run through classify_text_fires(): the
 * example is the text and also the value of every header.
 *
 * Errors are "file:line: message" with the line of the offending option
 * (or of "rule NAME {" for rule-wide problems).  Limits are the RULES_MAX_*
 * constants below.
 */
#ifndef TRIAGE_RULES_H
#define TRIAGE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* A stem shorter than this would match a good share of the dictionary. */
#define RULES_MIN_STEM 2
/* Stems are indexed by length in the bits of one unsigned long. */
#define RULES_MAX_STEM_BYTES 63
/* Gaps are for a few filler words; wider ones turn a phrase into a bag. */
#define RULES_MAX_GAP 8
/* Longer "phrases" are sentences; they belong in a regex or examples. */
#define RULES_MAX_PHRASE_WORDS 16
/* Bounds the backtracking of one regex; reached only by pathological ones */
#define RULES_REGEX_MATCH_LIMIT 200000
#define RULES_REGEX_DEPTH_LIMIT 5000
/* Default words searched back for a negator: "not going to sue" is 3. */
#define RULES_DEF_NEGATION 4
#define RULES_MAX_NEGATION 10
#define RULES_DEF_WITHIN 3
#define RULES_MAX_WITHIN 50

struct rule_set;

struct rule_set *rules_load(char *const *files, size_t n, char **error_r);
struct rule_set *rules_free(struct rule_set *rs);
size_t rules_count(const struct rule_set *rs);
/* rules_has - whether the set has a rule called name */
int rules_has(const struct rule_set *rs, const char *name);
size_t rules_categories(const struct rule_set *rs, const char ***names_r);
/* rules_category_user - the first rule of category: its name, file and
 * line; 0, or -1 when no rule has that category */
int rules_category_user(const struct rule_set *rs, const char *category,
			const char **rule_r, const char **file_r, int *line_r);

/*
 * rules_set_regex_limits - PCRE2 match and depth limits of every regex
 * match (a match that passes one counts as no match); call before the set
 * is shared, i.e. right after rules_load().
 */
void rules_set_regex_limits(struct rule_set *rs, uint32_t match_limit,
			    uint32_t depth_limit);
unsigned rules_check_examples(const struct rule_set *rs, GString *report);

#ifdef RULES_INTERNAL
/*
 * The compiled form, shared with classify.c only.  Everything is allocated
 * at load and read-only afterwards.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum rules_kind {
	RULES_KIND_PHRASE, /* phrases and lexicon */
	RULES_KIND_REGEX,  /* on the normalized joined text */
	RULES_KIND_HEADER, /* regex on a header value */
	RULES_KIND_NEAR,
	RULES_KIND_META,
	RULES_KIND_SHOUT,
};

/* Which shout thresholds a rule gives. */
#define RULES_SHOUT_RATIO 0x01
#define RULES_SHOUT_LETTERS 0x02
#define RULES_SHOUT_CAPS 0x04
#define RULES_SHOUT_BANG 0x08
#define RULES_SHOUT_QUESTION 0x10

/* Strings point into rule_set.strings. */
struct rules_rule {
	char *name;
	char *category; /* "" for an uncategorized "__" rule */
	char *describe;
	char *file;
	int line;
	double score;
	enum rules_kind kind;
	int reported;      /* name does not start with "__" */
	int positional;    /* matches are token spans */
	int all_spans;     /* a near rule needs every span, not the first */
	unsigned negation; /* words searched back for a negator */
	pcre2_code *re;
	/*
	 * When every match of re begins with one of a few literal words
	 * ("\\b(filing|reporting ...)..."): those words in lower case, and
	 * re compiled anchored, so classify.c tries re only where a word
	 * starts instead of at every position (rules_regex_lead()).
	 */
	char **lead;
	pcre2_code *re_lead;
	unsigned char *lead_first; /* [256]: a lead word starts with byte */
	int lead_b;                /* the pattern starts with \b */
	char *header;
	unsigned near[2];
	unsigned within;
	unsigned *all, n_all, *any, n_any, *none, n_none;
	unsigned shout_set;
	double shout_ratio;
	long shout_letters, shout_caps, shout_bang, shout_question;
	char **examples, **counterexamples;
	int examples_line, counterexamples_line;
};

/* One word of a phrase; gap_min..gap_max tokens are skipped before it. */
struct rules_word {
	char *text;
	unsigned len;   /* bytes */
	unsigned chars; /* characters, for masked tokens */
	unsigned char prefix;
	unsigned char gap_min, gap_max;
};

struct rules_phrase {
	unsigned rule;
	unsigned word; /* first word in rule_set.word */
	unsigned n;
};

/* Open-addressing table from a first word to a run of phrase ids. */
struct rules_hent {
	const char *key; /* NULL: empty slot */
	unsigned len;
	unsigned hash;
	unsigned post, npost; /* run in rule_set.post */
	unsigned chars;
};

struct rules_htab {
	struct rules_hent *ent;
	size_t mask;
};

/* 32 KB of length masks: few collisions among a few hundred stems. */
#define RULES_PAIR_BUCKETS 4096

struct rule_set {
	struct rules_rule *rule;
	size_t n;
	unsigned *order; /* non-phrase rules, each after the rules it uses */
	size_t norder;
	struct rules_word *word;
	size_t nword;
	struct rules_phrase *phrase;
	size_t nphrase;
	unsigned *post;
	struct rules_htab exact;  /* exact first word -> phrases */
	struct rules_htab prefix; /* stem of a wildcard first word -> phrases */
	/* stem lengths (bit L: L bytes) by the bucket of their first two
	 * bytes, so most tokens try no stem length at all */
	unsigned long prefix_lens[RULES_PAIR_BUCKETS];
	GStringChunk *strings;
	GHashTable *by_name; /* name -> index + 1 */
	const char **categories;
	size_t ncategories;
	pcre2_match_context *mctx;
};

/* rules_pair - bucket of the first two bytes of a word (>= 2 bytes) */
static inline unsigned
rules_pair(const char *s)
{
	unsigned v = ((unsigned)(unsigned char)s[0] << 8) | (unsigned char)s[1];

	return (v ^ (v >> 5)) & (RULES_PAIR_BUCKETS - 1);
}

/* FNV-1a, the hash of rules_hash(), one byte at a time: a caller that
 * needs the hash of every prefix of a word computes them in one pass */
#define RULES_HASH_INIT 2166136261u

static inline unsigned
rules_hash_step(unsigned h, unsigned char c)
{
	return (h ^ c) * 16777619u;
}

unsigned rules_hash(const char *s, size_t len);
const struct rules_hent *rules_lookup(const struct rules_htab *t, const char *s,
				      size_t len, unsigned h);
#endif

#endif
