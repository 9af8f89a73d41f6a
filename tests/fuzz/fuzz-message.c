/*
 * fuzz-message.c - fuzz target: raw bytes through message parsing and
 * normalization
 *
 * The input is one raw message as the MTA would hand it over.  It goes
 * through message_parse() (GMime, charsets, HTML to text), quote_split(),
 * textstat_count(), norm_text() and norm_shouting(), the same steps
 * triage_run() takes before matching, and the subject through norm_word().
 * Besides the sanitizers, it checks what the headers promise: the text is
 * UTF-8 with LF line ends and no NUL; every token spans valid UTF-8 of the
 * original, in order, within bounds; joined_off[] points at each token.
 */
#include <string.h>

#include "fuzz.h"
#include "message.h"
#include "normalize.h"
#include "quote.h"
#include "textstat.h"
#include "triage.h"

/* Small limits so deep nesting and many parts reach them quickly. */
#define FUZZ_MAX_DEPTH 8
#define FUZZ_MAX_PARTS 32
#define FUZZ_MAX_TEXT (64 * 1024)
/* Few enough that the token cap itself is exercised. */
#define FUZZ_MAX_TOKENS 2000

/* fuzz_check_norm - the contracts of normalize.h on text[0..len) */
static void
fuzz_check_norm(const struct norm *n, const char *text, size_t len,
		size_t max_tokens)
{
	size_t prev_end = 0, jlen;

	fuzz_check(n != NULL, "norm_text never returns NULL");
	fuzz_check(n->n <= (max_tokens ? max_tokens : NORM_DEF_MAX_TOKENS),
		   "token count within max_tokens");
	fuzz_check(n->joined != NULL, "joined text present");
	jlen = strlen(n->joined);
	for (size_t i = 0; i < n->n; i++) {
		const struct norm_token *t = &n->tok[i];
		size_t tl = strlen(t->text);

		fuzz_check(t->start < t->end && t->end <= len,
			   "token offsets inside the original");
		fuzz_check(t->start >= prev_end, "tokens in order, no overlap");
		prev_end = t->end;
		fuzz_check(
		    fuzz_utf8_text(text + t->start, t->end - t->start, 0),
		    "token spans valid UTF-8 without NUL");
		fuzz_check(tl > 0 && g_utf8_validate(t->text, -1, NULL),
			   "token text non-empty UTF-8");
		fuzz_check(t->alt == NULL || g_utf8_validate(t->alt, -1, NULL),
			   "alt text UTF-8");
		fuzz_check(
		    n->joined_off[i] + tl <= jlen &&
			memcmp(n->joined + n->joined_off[i], t->text, tl) == 0,
		    "joined_off points at the token text");
	}
}

/* fuzz_norm - normalize one text and check it */
static void
fuzz_norm(const char *text, size_t len, size_t max_tokens)
{
	struct norm *n = norm_text(text, len, max_tokens);

	fuzz_check_norm(n, text, len, max_tokens);
	norm_free(n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct message_limits lim = {FUZZ_MAX_DEPTH, FUZZ_MAX_PARTS,
					   FUZZ_MAX_TEXT};
	struct quote_split qs = {0};
	struct norm_shout shout;
	struct textstat ts;
	struct message *m;
	char *error = NULL;

	triage_init();
	m = message_parse((const char *)data, size, &lim, &error);
	if (m == NULL) {
		fuzz_check(error != NULL, "a failed parse says why");
		g_free(error);
		return 0;
	}
	fuzz_check(m->text != NULL, "text present");
	fuzz_check(fuzz_utf8_text(m->text->str, m->text->len, 1),
		   "message text is UTF-8, LF line ends, no NUL");
	fuzz_check(m->text->len <= FUZZ_MAX_TEXT, "text within max_text_bytes");
	fuzz_check(m->subject == NULL || g_utf8_validate(m->subject, -1, NULL),
		   "subject is UTF-8");
	fuzz_check(m->from == NULL || g_utf8_validate(m->from, -1, NULL),
		   "From is UTF-8");
	for (size_t i = 0; i < m->n_header_names; i++)
		fuzz_check(m->header_names[i] != NULL, "header name present");
	fuzz_check(m->header_names == NULL ||
		       m->header_names[m->n_header_names] == NULL,
		   "header names NULL-terminated");

	quote_split(m->text->str, m->text->len, &qs);
	fuzz_check(qs.fresh != NULL && qs.fresh->len <= m->text->len + 1,
		   "new text is part of the text");
	textstat_count(qs.fresh->str, qs.fresh->len, &ts);
	fuzz_check(ts.words <= qs.fresh->len && ts.chars <= qs.fresh->len,
		   "counts bounded by the text");
	norm_shouting(qs.fresh->str, qs.fresh->len, &shout);
	fuzz_check(shout.upper <= shout.letters && shout.ratio >= 0.0 &&
		       shout.ratio <= 1.0,
		   "shouting ratio in [0,1]");

	fuzz_norm(m->text->str, m->text->len, FUZZ_MAX_TOKENS);
	fuzz_norm(qs.fresh->str, qs.fresh->len, 0);
	/* the raw bytes too: normalization must take any byte string */
	fuzz_norm((const char *)data, size, FUZZ_MAX_TOKENS);
	if (m->subject != NULL)
		g_free(norm_word(m->subject));

	quote_split_clear(&qs);
	message_free(m);
	return 0;
}
