/*
 * classify.c - match a shared rule set against one message's tokens
 *
 * Phrase and lexicon rules are found in one left-to-right pass: each token
 * is looked up (text and stretched alternative) in the exact first-word
 * table and, when its first two bytes could start a stem, in the stem
 * table for each stem length; masked tokens ("f*ck") are compared with
 * every distinct first word, which is slow but rare.  The other rules are
 * then evaluated in the dependency order computed at load.  Every piece
 * of per-message state lives in struct classify_state on the caller's
 * stack and heap; the rule set is never written.
 */
#include <string.h>

#include <glib.h>

#define RULES_INTERNAL
#include "classify.h"
#include "normalize.h"
#include "rules.h"

/* One phrase attempt may try this many token positions: gaps between many
 * words backtrack, and the sender chooses the text. */
#define CLASSIFY_PHRASE_BUDGET 2000

/* A match as token indexes, both included. */
struct classify_span {
	size_t first, last;
};

struct classify_state {
	const struct rule_set *rs;
	const struct classify_input *in;
	const struct norm_token *tok;
	size_t ntok;
	unsigned char *fired;
	struct classify_span *first; /* first match of each fired rule */
	GArray **spans; /* every match, for near operands; NULL: none yet */
	unsigned *sent; /* sentence number of each token */
	pcre2_match_data *md;
	unsigned budget;
	int joined_ascii; /* norm->joined is all ASCII: 1 yes, 0 no, -1 ? */
	size_t *wstart;   /* where each word of norm->joined starts, or NULL */
	size_t nwstart;
};

/* Words that negate what follows within a few words. */
static const char *const classify_negators[] = {
    "not",     "no",      "never",  "nor",       "neither",  "without",
    "cannot",  "don't",   "dont",   "won't",     "wont",     "wouldn't",
    "wouldnt", "can't",   "cant",   "isn't",     "isnt",     "aren't",
    "arent",   "wasn't",  "wasnt",  "weren't",   "werent",   "doesn't",
    "doesnt",  "didn't",  "didnt",  "shouldn't", "shouldnt", "couldn't",
    "couldnt", "haven't", "havent", "hasn't",    "hasnt",    "hadn't",
    "hadnt",   "ain't",   "aint",   "mustn't",   "needn't",  "shan't",
    "nobody",  "nothing", "none",   "zero",
};

/* A negator inside a condition states the condition, not a denial: "if
 * this is not fixed I will sue", "unless you don't refund". */
static const char *const classify_conditionals[] = {
    "if", "unless", "when", "whether", "until", "till", "once",
};

/* How far back from a negator a conditional word still governs it. */
#define CLASSIFY_COND_REACH 4

/* Words between a negator and a match that end the negator's reach:
 * "not hesitate to sue", "not only ... sue", "don't pay, otherwise". */
static const char *const classify_breakers[] = {
    "hesitate", "hesitation", "hesitating", "only",   "just",
    "but",      "until",      "till",       "unless", "otherwise",
    "else",     "then",       "if",         "longer", "stop",
    "wait",     "rest",       "because",    "so",     "instead",
};

/* Subjects that make "and"/"or" start a new clause ("... or I sue"). */
static const char *const classify_subjects[] = {
    "i", "we", "you", "i'll", "ill", "we'll", "i'm", "im", "they", "he", "she",
};

/* classify_in - is word one of list? */
static int
classify_in(const char *word, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(word, list[i]) == 0)
			return 1;
	return 0;
}

/* classify_negator - does token j negate? ("n't" forms included) */
static int
classify_negator(const struct classify_state *st, size_t j)
{
	const char *w = st->tok[j].text;
	size_t len = strlen(w);

	if (classify_in(w, classify_negators, G_N_ELEMENTS(classify_negators)))
		return 1;
	if (len > 3 && strcmp(w + len - 3, "n't") == 0)
		return 1;
	/* a tokenizer may split "won't" into "won" "t" */
	if (strcmp(w, "t") == 0 && j > 0) {
		const char *p = st->tok[j - 1].text;
		size_t plen = strlen(p);

		return plen > 0 && p[plen - 1] == 'n';
	}
	return 0;
}

/* classify_clause_break - punctuation between tokens a and a+1? */
static int
classify_clause_break(const struct classify_state *st, size_t a)
{
	const char *text = st->in->text;
	size_t s = st->tok[a].end, e = st->tok[a + 1].start;

	if (text == NULL || e <= s || e > st->in->len)
		return 0;
	for (size_t i = s; i < e; i++)
		if (strchr(",;:()[]", text[i]) != NULL && text[i] != '\0')
			return 1;
	return 0;
}

/* classify_conditional - does a condition govern the negator at j? */
static int
classify_conditional(const struct classify_state *st, size_t j)
{
	for (size_t k = j; k > 0 && j - k < CLASSIFY_COND_REACH; k--) {
		if (st->tok[k].flags & NORM_TOK_SENT_START)
			return 0;
		if (classify_in(st->tok[k - 1].text, classify_conditionals,
				G_N_ELEMENTS(classify_conditionals)))
			return 1;
		if (classify_clause_break(st, k - 1))
			return 0;
	}
	return 0;
}

/* classify_negated - is a match starting at token i negated? */
static int
classify_negated(const struct classify_state *st, unsigned reach, size_t i)
{
	size_t j = i;

	while (reach > 0 && j > 0 && i - j < reach) {
		const char *w;

		if (st->tok[j].flags & NORM_TOK_SENT_START)
			return 0;
		if (classify_clause_break(st, j - 1))
			return 0;
		j--;
		w = st->tok[j].text;
		if (classify_negator(st, j))
			return !classify_conditional(st, j);
		if (classify_in(w, classify_breakers,
				G_N_ELEMENTS(classify_breakers)))
			return 0;
		if ((strcmp(w, "and") == 0 || strcmp(w, "or") == 0) &&
		    classify_in(st->tok[j + 1].text, classify_subjects,
				G_N_ELEMENTS(classify_subjects)))
			return 0;
	}
	return 0;
}

/* classify_next - the next UTF-8 character (GLib's macro drops const) */
static const char *
classify_next(const char *p)
{
	return p + g_utf8_skip[*(const guchar *)p];
}

/* classify_masked_eq - masked token vs word, '*' standing for one char;
 * whole: the token must have as many characters as the word */
static int
classify_masked_eq(const char *tok, const char *word, unsigned chars, int whole)
{
	/* "****" would match any word: the first letter must show */
	if (*tok == '*')
		return 0;
	for (unsigned i = 0; i < chars; i++) {
		if (*tok == '\0')
			return 0;
		if (*tok != '*') {
			const char *tn = classify_next(tok);
			const char *wn = classify_next(word);

			if (tn - tok != wn - word ||
			    memcmp(tok, word, tn - tok) != 0)
				return 0;
			tok = tn;
			word = wn;
		} else {
			tok++;
			word = classify_next(word);
		}
	}
	return !whole || *tok == '\0';
}

/* classify_word - does token t match phrase word w? */
static int
classify_word(const struct rules_word *w, const struct norm_token *t)
{
	/* Phrase words are tried against every token in their gap, and
	 * most differ in the first byte: compare it before calling out. */
	char c0 = w->text[0];

	if (w->prefix) {
		int any = w->len == 0;

		if ((any || t->text[0] == c0) &&
		    strncmp(t->text, w->text, w->len) == 0)
			return 1;
		if (t->alt != NULL && (any || t->alt[0] == c0) &&
		    strncmp(t->alt, w->text, w->len) == 0)
			return 1;
	} else {
		if (t->text[0] == c0 && strcmp(t->text, w->text) == 0)
			return 1;
		if (t->alt != NULL && t->alt[0] == c0 &&
		    strcmp(t->alt, w->text) == 0)
			return 1;
	}
	if (t->flags & NORM_TOK_MASKED)
		return classify_masked_eq(t->text, w->text, w->chars,
					  !w->prefix);
	return 0;
}

/* classify_rest - match words w[0..left) after token pos; last token or
 * -1.  A phrase stays within its sentence. */
static long
classify_rest(struct classify_state *st, const struct rules_word *w,
	      unsigned left, size_t pos)
{
	if (left == 0)
		return (long)pos;
	for (size_t k = pos + 1; k < st->ntok && k <= pos + 1 + w->gap_max;
	     k++) {
		long r;

		if (st->tok[k].flags & NORM_TOK_SENT_START)
			return -1;
		if (st->budget == 0)
			return -1;
		st->budget--;
		if (k < pos + 1 + w->gap_min || !classify_word(w, &st->tok[k]))
			continue;
		r = classify_rest(st, w + 1, left - 1, k);
		if (r >= 0)
			return r;
	}
	return -1;
}

/* classify_record - note a match of rule r */
static void
classify_record(struct classify_state *st, unsigned r, size_t first,
		size_t last)
{
	struct classify_span sp = {first, last};

	if (!st->fired[r]) {
		st->fired[r] = 1;
		st->first[r] = sp;
	}
	if (!st->rs->rule[r].all_spans)
		return;
	/* made on the first match: most rules never match a message */
	if (st->spans[r] == NULL)
		st->spans[r] =
		    g_array_new(FALSE, FALSE, sizeof(struct classify_span));
	if (st->spans[r]->len < CLASSIFY_MAX_SPANS)
		g_array_append_val(st->spans[r], sp);
}

/* classify_phrases - try the phrases of one index entry at token i */
static void
classify_phrases(struct classify_state *st, const struct rules_hent *e,
		 size_t i)
{
	const struct rule_set *rs = st->rs;

	for (unsigned k = 0; k < e->npost; k++) {
		const struct rules_phrase *p =
		    &rs->phrase[rs->post[e->post + k]];
		const struct rules_rule *r = &rs->rule[p->rule];
		long last;

		if (st->fired[p->rule] && !r->all_spans)
			continue;
		st->budget = CLASSIFY_PHRASE_BUDGET;
		last = classify_rest(st, &rs->word[p->word + 1], p->n - 1, i);
		if (last < 0 || classify_negated(st, r->negation, i))
			continue;
		classify_record(st, p->rule, i, (size_t)last);
	}
}

/* classify_masked - a masked token against every distinct first word */
static void
classify_masked(struct classify_state *st, size_t i)
{
	const struct rule_set *rs = st->rs;
	const char *text = st->tok[i].text;

	for (size_t k = 0; rs->exact.ent && k <= rs->exact.mask; k++) {
		const struct rules_hent *e = &rs->exact.ent[k];

		if (e->key != NULL &&
		    classify_masked_eq(text, e->key, e->chars, 1))
			classify_phrases(st, e, i);
	}
	for (size_t k = 0; rs->prefix.ent && k <= rs->prefix.mask; k++) {
		const struct rules_hent *e = &rs->prefix.ent[k];

		if (e->key != NULL &&
		    classify_masked_eq(text, e->key, e->chars, 0))
			classify_phrases(st, e, i);
	}
}

/* classify_stems - wildcard first words that are prefixes of word */
static void
classify_stems(struct classify_state *st, const char *word, size_t i)
{
	const struct rule_set *rs = st->rs;
	unsigned long lens;
	unsigned h;

	if (word[0] == '\0' || word[1] == '\0')
		return;
	lens = rs->prefix_lens[rules_pair(word)];
	/* the hash of each prefix grows by a byte per step */
	h = rules_hash_step(RULES_HASH_INIT, (unsigned char)word[0]);
	for (size_t l = 2;
	     lens != 0 && word[l - 1] != '\0' && l <= RULES_MAX_STEM_BYTES;
	     l++) {
		const struct rules_hent *e;

		h = rules_hash_step(h, (unsigned char)word[l - 1]);
		if (!(lens & (1UL << l)))
			continue;
		lens &= ~(1UL << l);
		e = rules_lookup(&rs->prefix, word, l, h);
		if (e != NULL)
			classify_phrases(st, e, i);
	}
}

/* classify_scan - the one pass over the tokens for phrases and lexicons */
static void
classify_scan(struct classify_state *st)
{
	const struct rule_set *rs = st->rs;

	if (rs->nphrase == 0)
		return;
	for (size_t i = 0; i < st->ntok; i++) {
		const struct norm_token *t = &st->tok[i];
		const struct rules_hent *e;
		size_t len = strlen(t->text);

		e = rules_lookup(&rs->exact, t->text, len,
				 rules_hash(t->text, len));
		if (e != NULL)
			classify_phrases(st, e, i);
		if (t->alt != NULL) {
			len = strlen(t->alt);
			e = rules_lookup(&rs->exact, t->alt, len,
					 rules_hash(t->alt, len));
			if (e != NULL)
				classify_phrases(st, e, i);
		}
		if (rs->prefix.ent != NULL) {
			classify_stems(st, t->text, i);
			if (t->alt != NULL)
				classify_stems(st, t->alt, i);
		}
		if (t->flags & NORM_TOK_MASKED)
			classify_masked(st, i);
	}
}

/* classify_token_at - index of the token holding joined-text offset off */
static size_t
classify_token_at(const struct norm *nm, size_t off)
{
	size_t lo = 0, hi = nm->n;

	/* last token whose offset is <= off */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (nm->joined_off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* classify_match_data - one match data per call: thread safety */
static pcre2_match_data *
classify_match_data(struct classify_state *st)
{
	if (st->md == NULL)
		st->md = pcre2_match_data_create(1, NULL);
	return st->md;
}

/*
 * Anchored tries of a regex with lead words (see classify_regex_lead)
 * before the rest of the text is searched the usual way.  Each try has
 * the rule set's match limit, as one whole search has, so this bounds
 * the work of a text full of lead words to a constant times a search.
 */
#define CLASSIFY_LEAD_MAX_TRIES 256

/*
 * classify_regex_found - a match of rule ri at ov[0..1]; 0 when the rule
 * needs no further matches
 */
static int
classify_regex_found(struct classify_state *st, unsigned ri,
		     const PCRE2_SIZE *ov)
{
	const struct rules_rule *r = &st->rs->rule[ri];
	const struct norm *nm = st->in->norm;
	size_t a = classify_token_at(nm, ov[0]);
	size_t z = classify_token_at(nm, ov[1] - 1);

	if (classify_negated(st, r->negation, a))
		return 1;
	classify_record(st, ri, a, z);
	return r->all_spans && st->spans[ri]->len < CLASSIFY_MAX_SPANS;
}

/* classify_search - regex rule ri searched from off, the usual way */
static void
classify_search(struct classify_state *st, unsigned ri, size_t off)
{
	const struct rules_rule *r = &st->rs->rule[ri];
	const struct norm *nm = st->in->norm;
	pcre2_match_data *md = classify_match_data(st);
	size_t len = strlen(nm->joined);

	while (off <= len) {
		PCRE2_SIZE *ov;
		int rc;

		/* normalize emits valid UTF-8: no need to check it again */
		rc = pcre2_match(r->re, (PCRE2_SPTR)nm->joined, len, off,
				 PCRE2_NO_UTF_CHECK, md, st->rs->mctx);
		/* no match, or a limit reached: both count as no match */
		if (rc < 0)
			return;
		ov = pcre2_get_ovector_pointer(md);
		if (ov[1] <= ov[0]) {
			/* empty match: step over one character */
			if (ov[0] >= len)
				return;
			off = g_utf8_next_char(nm->joined + ov[0]) - nm->joined;
			continue;
		}
		if (!classify_regex_found(st, ri, ov))
			return;
		off = ov[1];
	}
}

/* classify_is_word_byte - an ASCII character \b counts as a word's */
static inline int
classify_is_word_byte(char c)
{
	unsigned char u = (unsigned char)c;

	/* arithmetic, not g_ascii_isalnum(): this runs on every byte */
	return (unsigned)((u | 0x20) - 'a') < 26 || (unsigned)(u - '0') < 10 ||
	       u == '_';
}

/* classify_lower - an ASCII letter in lower case (inline, unlike GLib's) */
static inline char
classify_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* classify_lead_at - does one of r's lead words start at s? */
static int
classify_lead_at(const struct rules_rule *r, const char *s, size_t left)
{
	char c0 = classify_lower(s[0]);

	for (char *const *w = r->lead; *w != NULL; w++) {
		size_t k = 1;

		if ((*w)[0] != c0)
			continue;
		while (k < left && (*w)[k] != '\0' &&
		       classify_lower(s[k]) == (*w)[k])
			k++;
		if ((*w)[k] == '\0')
			return 1;
	}
	return 0;
}

/* classify_word_starts - where the words of the joined text start (once) */
static void
classify_word_starts(struct classify_state *st, const char *s, size_t len)
{
	size_t n = 0;

	if (st->wstart != NULL)
		return;
	st->wstart = g_new(size_t, len / 2 + 1);
	for (size_t p = 0; p < len; p++)
		if (classify_is_word_byte(s[p]) &&
		    (p == 0 || !classify_is_word_byte(s[p - 1])))
			st->wstart[n++] = p;
	st->nwstart = n;
}

/*
 * classify_regex_lead - a regex whose matches all begin with one of its
 * lead words (rules_regex_lead; each begins with a letter or digit), on
 * ASCII text: its anchored twin is tried only where a lead word starts
 * (at a word start, found once per message, when the pattern starts with
 * \b), in order, so the matches found are those of the usual search.
 * A pattern of many alternatives costs PCRE2 a try at almost every byte;
 * this costs a table look-up per byte (per word with \b).  ASCII only,
 * because caseless matching gives a few non-ASCII characters (the Kelvin
 * sign, the long s) ASCII letters as their other case.
 */
static void
classify_regex_lead(struct classify_state *st, unsigned ri)
{
	const struct rules_rule *r = &st->rs->rule[ri];
	const char *s = st->in->norm->joined;
	pcre2_match_data *md = classify_match_data(st);
	size_t len = strlen(s);
	unsigned tries = 0;
	size_t p = 0, w = 0;

	if (r->lead_b)
		classify_word_starts(st, s, len);
	while (p < len) {
		PCRE2_SIZE *ov;
		int rc;

		if (r->lead_b) {
			/* \b before a letter or digit: only word starts */
			while (w < st->nwstart && st->wstart[w] < p)
				w++;
			if (w == st->nwstart)
				return;
			p = st->wstart[w];
		}
		if (!r->lead_first[(unsigned char)s[p]] ||
		    !classify_lead_at(r, s + p, len - p)) {
			p++;
			continue;
		}
		if (++tries > CLASSIFY_LEAD_MAX_TRIES) {
			classify_search(st, ri, p);
			return;
		}
		rc = pcre2_match(r->re_lead, (PCRE2_SPTR)s, len, p,
				 PCRE2_NO_UTF_CHECK, md, st->rs->mctx);
		if (rc == PCRE2_ERROR_NOMATCH) {
			p++;
			continue;
		}
		if (rc < 0) /* a limit: as no match, as in the search */
			return;
		ov = pcre2_get_ovector_pointer(md);
		if (ov[1] <= ov[0]) { /* a lead word is never empty */
			p++;
			continue;
		}
		if (!classify_regex_found(st, ri, ov))
			return;
		p = ov[1];
	}
}

/* classify_joined_ascii - whether the joined text is all ASCII (once) */
static int
classify_joined_ascii(struct classify_state *st)
{
	if (st->joined_ascii < 0) {
		const char *p = st->in->norm->joined;

		while (*p != '\0' && (unsigned char)*p < 0x80)
			p++;
		st->joined_ascii = *p == '\0';
	}
	return st->joined_ascii;
}

/* classify_regex - a regex rule on the joined normalized text */
static void
classify_regex(struct classify_state *st, unsigned ri)
{
	const struct norm *nm = st->in->norm;

	if (nm == NULL || nm->n == 0 || nm->joined == NULL)
		return;
	if (st->rs->rule[ri].lead != NULL && classify_joined_ascii(st))
		classify_regex_lead(st, ri);
	else
		classify_search(st, ri, 0);
}

/* Zeroed bytes after a regex subject (see classify_header). */
#define CLASSIFY_REGEX_SLACK 32

/* classify_header - a regex rule on one header's decoded value */
static void
classify_header(struct classify_state *st, unsigned ri)
{
	const struct rules_rule *r = &st->rs->rule[ri];
	const char *v;
	char *padded;
	size_t len;

	if (st->in->header == NULL)
		return;
	v = st->in->header(st->in->header_ctx, r->header);
	if (v == NULL)
		return;
	len = strlen(v);
	/* a sender may put anything in a header */
	if (!g_utf8_validate(v, len, NULL))
		return;
	/* a zero-padded copy: PCRE2's JIT may read 16 bytes past the end */
	padded = g_malloc0(len + CLASSIFY_REGEX_SLACK);
	memcpy(padded, v, len);
	if (pcre2_match(r->re, (PCRE2_SPTR)padded, len, 0, PCRE2_NO_UTF_CHECK,
			classify_match_data(st), st->rs->mctx) >= 0) {
		st->fired[ri] = 1;
		st->first[ri].first = st->first[ri].last = (size_t)-1;
	}
	g_free(padded);
}

/* classify_sentences - number the sentences of the tokens once */
static void
classify_sentences(struct classify_state *st)
{
	unsigned s = 0;

	if (st->sent != NULL)
		return;
	st->sent = g_new(unsigned, st->ntok + 1);
	for (size_t i = 0; i < st->ntok; i++) {
		if (i > 0 && (st->tok[i].flags & NORM_TOK_SENT_START))
			s++;
		st->sent[i] = s;
	}
}

/* classify_near - two positional rules close together in a sentence */
static void
classify_near(struct classify_state *st, unsigned ri)
{
	const struct rules_rule *r = &st->rs->rule[ri];
	GArray *A = st->spans[r->near[0]], *B = st->spans[r->near[1]];
	size_t maxb = 0;

	if (A == NULL || B == NULL || A->len == 0 || B->len == 0)
		return;
	classify_sentences(st);
	for (unsigned k = 0; k < B->len; k++) {
		const struct classify_span *b =
		    &g_array_index(B, struct classify_span, k);

		if (b->last - b->first > maxb)
			maxb = b->last - b->first;
	}
	for (unsigned k = 0; k < A->len; k++) {
		const struct classify_span *a =
		    &g_array_index(A, struct classify_span, k);
		size_t from = a->first > r->within + maxb
				  ? a->first - r->within - maxb
				  : 0;
		size_t lo = 0, hi = B->len;

		/* first span of B starting at or after `from` (B is sorted) */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (g_array_index(B, struct classify_span, mid).first <
			    from)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t m = lo; m < B->len; m++) {
			const struct classify_span *b =
			    &g_array_index(B, struct classify_span, m);
			struct classify_span sp;
			size_t dist;

			if (b->first > a->last + r->within)
				break;
			if (a->last < b->first) {
				dist = b->first - a->last;
				sp.first = a->first;
				sp.last = b->last;
			} else if (b->last < a->first) {
				dist = a->first - b->last;
				sp.first = b->first;
				sp.last = a->last;
			} else {
				continue; /* overlapping: one word, not two */
			}
			if (dist > r->within ||
			    st->sent[sp.first] != st->sent[sp.last] ||
			    classify_negated(st, r->negation, sp.first))
				continue;
			classify_record(st, ri, sp.first, sp.last);
			if (!r->all_spans)
				return;
		}
	}
}

/* classify_meta - all/any/not over rules already evaluated */
static void
classify_meta(struct classify_state *st, unsigned ri)
{
	const struct rules_rule *r = &st->rs->rule[ri];
	int any = r->n_any == 0;

	for (unsigned k = 0; k < r->n_all; k++)
		if (!st->fired[r->all[k]])
			return;
	for (unsigned k = 0; k < r->n_any && !any; k++)
		any = st->fired[r->any[k]];
	if (!any)
		return;
	for (unsigned k = 0; k < r->n_none; k++)
		if (st->fired[r->none[k]])
			return;
	st->fired[ri] = 1;
	st->first[ri].first = st->first[ri].last = (size_t)-1;
}

/* classify_shout - every threshold the rule gives is reached */
static void
classify_shout(struct classify_state *st, unsigned ri)
{
	const struct rules_rule *r = &st->rs->rule[ri];
	const struct norm_shout *s = st->in->shout;

	if (s == NULL)
		return;
	if ((r->shout_set & RULES_SHOUT_RATIO) && s->ratio < r->shout_ratio)
		return;
	if ((r->shout_set & RULES_SHOUT_LETTERS) &&
	    (long)s->letters < r->shout_letters)
		return;
	if ((r->shout_set & RULES_SHOUT_CAPS) &&
	    (long)s->caps_words < r->shout_caps)
		return;
	if ((r->shout_set & RULES_SHOUT_BANG) &&
	    (long)s->bang_runs < r->shout_bang)
		return;
	if ((r->shout_set & RULES_SHOUT_QUESTION) &&
	    (long)s->question_runs < r->shout_question)
		return;
	st->fired[ri] = 1;
	st->first[ri].first = st->first[ri].last = (size_t)-1;
}

/* classify_eval - evaluate every rule into st (allocated here) */
static void
classify_eval(const struct rule_set *rs, const struct classify_input *in,
	      struct classify_state *st)
{
	memset(st, 0, sizeof(*st));
	st->rs = rs;
	st->in = in;
	st->joined_ascii = -1;
	if (in->norm != NULL) {
		st->tok = in->norm->tok;
		st->ntok = in->norm->n;
	}
	st->fired = g_new0(unsigned char, rs->n + 1);
	st->first = g_new0(struct classify_span, rs->n + 1);
	st->spans = g_new0(GArray *, rs->n + 1);
	classify_scan(st);
	for (size_t k = 0; k < rs->norder; k++) {
		unsigned ri = rs->order[k];

		switch (rs->rule[ri].kind) {
		case RULES_KIND_REGEX:
			classify_regex(st, ri);
			break;
		case RULES_KIND_HEADER:
			classify_header(st, ri);
			break;
		case RULES_KIND_NEAR:
			classify_near(st, ri);
			break;
		case RULES_KIND_META:
			classify_meta(st, ri);
			break;
		case RULES_KIND_SHOUT:
			classify_shout(st, ri);
			break;
		case RULES_KIND_PHRASE:
			break;
		}
	}
}

/* classify_state_free - release what classify_eval allocated */
static void
classify_state_free(struct classify_state *st)
{
	for (size_t i = 0; i < st->rs->n; i++)
		if (st->spans[i] != NULL)
			g_array_free(st->spans[i], TRUE);
	g_free(st->spans);
	g_free(st->fired);
	g_free(st->first);
	g_free(st->sent);
	g_free(st->wstart);
	pcre2_match_data_free(st->md);
}

/* classify_run - every reported rule that fires, in rule-file order */
void
classify_run(const struct rule_set *rs, const struct classify_input *in,
	     struct classify_result *out)
{
	struct classify_state st;

	out->hits = NULL;
	out->n = 0;
	classify_eval(rs, in, &st);
	for (size_t i = 0; i < rs->n; i++) {
		const struct rules_rule *r = &rs->rule[i];
		struct classify_hit *h;

		if (!st.fired[i] || !r->reported)
			continue;
		if (out->hits == NULL)
			out->hits = g_new0(struct classify_hit, rs->n);
		h = &out->hits[out->n++];
		h->rule = r->name;
		h->category = r->category;
		h->score = r->score;
		h->describe = r->describe;
		h->file = r->file;
		h->line = r->line;
		if (st.first[i].first != (size_t)-1 && st.ntok > 0) {
			h->start = st.tok[st.first[i].first].start;
			h->end = st.tok[st.first[i].last].end;
		}
	}
	classify_state_free(&st);
}

/* classify_result_clear - free the hits; the result is empty again */
void
classify_result_clear(struct classify_result *out)
{
	g_free(out->hits);
	out->hits = NULL;
	out->n = 0;
}

/* classify_same_text - header callback of classify_text_fires */
static const char *
classify_same_text(void *ctx, const char *name)
{
	const struct classify_input *in = ctx;

	(void)name;
	return in->text;
}

/* classify_text_fires - 1 if rule fires on text (every header reads as
 * text, so header rules can have examples), 0 if not, -1 if no rule */
int
classify_text_fires(const struct rule_set *rs, const char *rule,
		    const char *text)
{
	gpointer p = g_hash_table_lookup(rs->by_name, rule);
	struct classify_input in;
	struct classify_state st;
	struct norm_shout shout;
	struct norm *nm;
	int fired;

	if (p == NULL)
		return -1;
	memset(&in, 0, sizeof(in));
	in.text = text;
	in.len = strlen(text);
	nm = norm_text(text, in.len, CLASSIFY_TEXT_MAX_TOKENS);
	in.norm = nm;
	norm_shouting(text, in.len, &shout);
	in.shout = &shout;
	in.header = classify_same_text;
	in.header_ctx = &in;
	classify_eval(rs, &in, &st);
	fired = st.fired[GPOINTER_TO_UINT(p) - 1];
	classify_state_free(&st);
	norm_free(nm);
	return fired;
}
