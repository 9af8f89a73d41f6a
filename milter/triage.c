/*
 * triage.c - triage_run(): one message in, one verdict out
 *
 * The pipeline of DESIGN.md, in one direction: parse (message.c), split
 * new text from quotes and signature (quote.c), measure (textstat.c),
 * decide (verdict.c), write headers (xheaders.c).  No libmilter, no
 * logging, no global state besides the library initialisation: the
 * daemon, -t, the tests and the fuzzers get the same answer.
 *
 * On failure res->error says why and no header is added; the deletions
 * of forged inbound X-Triage-* headers are still planned, so a sender
 * cannot smuggle a verdict past us by breaking the parser.
 */
#include <string.h>

#include <gmime/gmime.h>
#include <libxml/parser.h>

#include "message.h"
#include "quote.h"
#include "textstat.h"
#include "triage.h"
#include "verdict.h"
#include "xheaders.h"

/* triage_init - initialise the libraries once per process */
int
triage_init(void)
{
	static int done;

	if (!done) {
		g_mime_init();
		xmlInitParser();
		done = 1;
	}
	return 0;
}

/* triage_elapsed_ms - milliseconds since start (monotonic clock) */
static gint64
triage_elapsed_ms(gint64 start)
{
	return (g_get_monotonic_time() - start) / 1000;
}

/* triage_fail - record the first error */
static void
triage_fail(struct triage_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->error != NULL)
		return;
	va_start(ap, fmt);
	res->error = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

/* triage_run - analyse one message; never NULL */
struct triage_result *
triage_run(const struct triage_config *cf, const char *msg, size_t len,
	   const struct triage_env *env)
{
	struct triage_result *res = g_new0(struct triage_result, 1);
	struct message_limits lim = {cf->max_mime_depth, cf->max_mime_parts,
				     cf->max_text_bytes};
	struct quote_split qs = {0};
	struct textstat ts;
	struct message *m;
	gint64 start = g_get_monotonic_time();
	char *error = NULL;

	m = message_parse(msg, len, &lim, &error);
	if (env->hdr_names != NULL)
		xheaders_plan_delete(env->hdr_names, env->n_hdr_names,
				     &res->del, &res->n_del);
	else if (m != NULL)
		xheaders_plan_delete((const char *const *)m->header_names,
				     m->n_header_names, &res->del, &res->n_del);
	if (m == NULL) {
		triage_fail(res, "cannot parse message: %s",
			    error ? error : "unknown error");
		g_free(error);
		return res;
	}
	res->subject = g_strdup(m->subject);
	res->n_parts = m->n_parts;
	res->n_text_parts = m->n_text_parts;
	res->n_attachments = m->n_attachments;
	res->n_rfc822 = m->n_rfc822;
	res->charset_fallback = m->charset_fallback;

	quote_split(m->text->str, m->text->len, &qs);
	textstat_count(qs.fresh->str, qs.fresh->len, &ts);
	res->length.words = ts.words;
	res->length.paragraphs = ts.paragraphs;
	res->length.quoted = qs.quoted;
	res->length.signature = qs.signature;
	quote_split_clear(&qs);

	if (triage_elapsed_ms(start) > (gint64)cf->scan_timeout_ms)
		triage_fail(res, "timeout: analysis took over %u ms",
			    cf->scan_timeout_ms);
	if (res->error == NULL) {
		verdict_decide(cf, &res->length, env->truncated || m->limited,
			       &res->flags);
		xheaders_build(res);
	}
	message_free(m);
	return res;
}

/* triage_result_free - release a result; returns NULL */
struct triage_result *
triage_result_free(struct triage_result *res)
{
	if (res == NULL)
		return NULL;
	strvec_clear(&res->flags);
	strvec_clear(&res->add_names);
	strvec_clear(&res->add_values);
	for (size_t i = 0; i < res->n_del; i++)
		g_free(res->del[i].name);
	g_free(res->del);
	g_free(res->route);
	g_free(res->subject);
	g_free(res->error);
	g_free(res);
	return NULL;
}
