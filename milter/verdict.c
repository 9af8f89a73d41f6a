/*
 * verdict.c - decide the flags, scores and route of a message
 *
 * Category flags: the scores of the rules that fired, summed per category,
 * at or above the category's threshold.
 * long: the customer's own new text (quotes and signature excluded) is
 * above long_words words or long_paragraphs paragraphs.
 * frequent: this sender's messages within the window reached the
 * configured count (counted in the store; unknown when it is down).
 * truncated: part of the message was not analysed (max_scan_bytes or a
 * MIME/text limit), so the verdict covers only what was read.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "verdict.h"

/* Scores are compared after rounding to the 0.1 shown in the header. */
#define VERDICT_EPSILON 1e-9

/* verdict_cmp - order flags by name */
static int
verdict_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* verdict_decide - fill res->scores, res->flags and res->route */
void
verdict_decide(const struct triage_config *cf, struct triage_result *res,
	       int truncated)
{
	int best = -1;

	res->scores = g_new0(struct triage_score, cf->n_categories);
	res->n_scores = cf->n_categories;
	for (size_t i = 0; i < cf->n_categories; i++) {
		const struct config_category *c = &cf->categories[i];
		struct triage_score *s = &res->scores[i];

		s->category = g_strdup(c->name);
		s->threshold = c->threshold;
		for (size_t j = 0; j < res->n_hits; j++)
			if (strcmp(res->hits[j].category, c->name) == 0)
				s->score += res->hits[j].score;
		s->flagged = s->score + VERDICT_EPSILON >= c->threshold;
		if (!s->flagged)
			continue;
		if (!strvec_contains(&res->flags, c->flag))
			strvec_push(&res->flags, c->flag);
		if (*c->route != '\0' &&
		    (best < 0 || c->priority > cf->categories[best].priority))
			best = (int)i;
	}
	if (best >= 0)
		res->route = g_strdup(cf->categories[best].route);
	if (res->length.words > cf->long_words ||
	    res->length.paragraphs > cf->long_paragraphs)
		strvec_push(&res->flags, VERDICT_FLAG_LONG);
	if (cf->frequent.messages > 0 && res->sender_count >= 0 &&
	    (unsigned long)res->sender_count >= cf->frequent.messages)
		strvec_push(&res->flags, VERDICT_FLAG_FREQUENT);
	if (truncated)
		strvec_push(&res->flags, VERDICT_FLAG_TRUNCATED);
	if (res->flags.n > 1)
		qsort(res->flags.v, res->flags.n, sizeof(char *), verdict_cmp);
}
