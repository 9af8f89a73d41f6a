/*
 * classify.h - run a rule set over one message's text
 *
 * This module owns matching: one pass over the normalized tokens finds
 * every phrase and lexicon rule through the rule set's first-word indexes,
 * then regex, header, near, shout and all/any/not rules are evaluated in
 * dependency order.  The rule set is only read, so any number of threads
 * may classify with the same one; all per-message state lives in the call.
 *
 * The caller normalizes once (norm_text, norm_shouting) and passes the
 * results in; classify_text_fires() does it all for examples and tests.
 * Limits: regexes stop at the rule set's match and depth limits (no
 * match); near rules see at most CLASSIFY_MAX_SPANS matches of each
 * operand per message.
 */
#ifndef TRIAGE_CLASSIFY_H
#define TRIAGE_CLASSIFY_H

#include <stddef.h>

#include "normalize.h"
#include "rules.h"

/* A near operand matching more often than this is noise in one message. */
#define CLASSIFY_MAX_SPANS 4096
/* Token cap for classify_text_fires(): examples are sentences. */
#define CLASSIFY_TEXT_MAX_TOKENS 100000

struct classify_input {
	const char *text; /* UTF-8 text scanned (subject first, then body) */
	size_t len;
	const struct norm *norm;        /* norm_text(text, len) */
	const struct norm_shout *shout; /* NULL: shout rules never fire */
	/* decoded header value or NULL; header may be NULL */
	const char *(*header)(void *ctx, const char *name);
	void *header_ctx;
};

struct classify_hit {
	const char *rule;
	const char *category;
	double score;
	const char *describe;
	size_t start, end; /* bytes of text of the first match; 0,0 if none */
	const char *file;
	int line;
};

/* Reported rules only (not "__"), each once, in rule-file order. */
struct classify_result {
	struct classify_hit *hits;
	size_t n;
};

void classify_run(const struct rule_set *rs, const struct classify_input *in,
		  struct classify_result *out);
void classify_result_clear(struct classify_result *out);
int classify_text_fires(const struct rule_set *rs, const char *rule,
			const char *text);

#endif
