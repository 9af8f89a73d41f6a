/*
 * verdict.c - decide the flags of a message
 *
 * long: the customer's own new text (quotes and signature excluded) is
 * above long_words words or long_paragraphs paragraphs.
 * truncated: part of the message was not analysed (max_scan_bytes or a
 * MIME/text limit), so the verdict covers only what was read.
 */
#include "verdict.h"

/* verdict_decide - append the flags for these measurements, in order */
void
verdict_decide(const struct triage_config *cf, const struct triage_length *len,
	       int truncated, struct strvec *flags)
{
	if (len->words > cf->long_words ||
	    len->paragraphs > cf->long_paragraphs)
		strvec_push(flags, VERDICT_FLAG_LONG);
	if (truncated)
		strvec_push(flags, VERDICT_FLAG_TRUNCATED);
}
