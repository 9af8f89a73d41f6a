/*
 * triage.c - triage_run(): one message in, one verdict out
 *
 * The pipeline of DESIGN.md, in one direction: parse (message.c), split
 * new text from quotes and signature (quote.c), measure (textstat.c),
 * normalize (normalize.c) and match the rules (classify.c) on the subject
 * and the new text, decide (verdict.c), write headers (xheaders.c).  No
 * libmilter, no logging, no global state besides the library initialisation:
 * the daemon, -t, the tests and the fuzzers get the same answer.
 *
 * On failure res->error says why and no header is added; the deletions
 * of forged inbound X-Triage-* headers are still planned, so a sender
 * cannot smuggle a verdict past us by breaking the parser.
 */
#include <malloc.h>
#include <string.h>

#include <gmime/gmime.h>
#include <libxml/parser.h>

#include "addr.h"
#include "classify.h"
#include "message.h"
#include "model.h"
#include "normalize.h"
#include "quote.h"
#include "rules.h"
#include "store.h"
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

/*
 * What an analysis may keep between messages: the largest block served
 * from a heap rather than a fresh mapping, and the free memory a heap
 * keeps rather than returns.  An analysis of max_scan_bytes (256 KiB) of
 * text allocates a few MiB, some blocks above glibc's default 128 KiB.
 */
#define TRIAGE_MALLOC_KEEP (32 * 1024 * 1024)

void
triage_tune_malloc(unsigned arenas)
{
	/*
	 * glibc gives each thread that allocates its own heap (arena), up
	 * to 8 per CPU, and a heap keeps the memory of its largest analysis
	 * once freed.  libmilter runs sessions on many threads, so without a
	 * cap every thread that ever analysed a big message holds that much.
	 * As many heaps as analyses may run at once bounds the total.
	 */
	(void)mallopt(M_ARENA_MAX, (int)arenas);
	/*
	 * By default glibc serves blocks above 128 KiB (a threshold it
	 * raises as it goes) from fresh mappings and trims a heap's free
	 * top, so each long message paid fresh page faults for its analysis:
	 * 6 ms instead of 2 for 200 KB in one session.  Both fixed here; the
	 * heaps stay warm.  Peak RSS is unchanged (tests/bench/memory.sh),
	 * since analyses at once are bounded anyway.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, TRIAGE_MALLOC_KEEP);
	(void)mallopt(M_TRIM_THRESHOLD, TRIAGE_MALLOC_KEEP);
}

/* triage_elapsed_ms - milliseconds since start (monotonic clock) */
static gint64
triage_elapsed_ms(gint64 start)
{
	return (g_get_monotonic_time() - start) / 1000;
}

/* triage_fail - record the first error */
static void triage_fail(struct triage_result *res, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

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

/* Quotes in explanations: enough to recognise the words, no more. */
#define TRIAGE_MAX_QUOTE 120

/*
 * triage_headers - decoded header values for header rules, cached; the
 * cache is made on the first lookup (most rule sets have no header rule)
 */
struct triage_headers {
	const struct message *m;
	GHashTable *cache;
};

/* triage_header - decoded value of header name, or NULL */
static const char *
triage_header(void *ctx, const char *name)
{
	struct triage_headers *th = ctx;
	char *raw;
	char *v;

	if (th->m == NULL)
		return NULL;
	if (th->cache == NULL)
		th->cache = g_hash_table_new_full(g_str_hash, g_str_equal,
						  g_free, g_free);
	else if (g_hash_table_contains(th->cache, name))
		return g_hash_table_lookup(th->cache, name);
	raw = message_header_value(th->m, name);
	v = raw ? g_mime_utils_header_decode_text(NULL, raw) : NULL;
	g_free(raw);
	g_hash_table_insert(th->cache, g_strdup(name), v);
	return v;
}

/* triage_quote - the customer's words of a hit, one line, bounded */
static char *
triage_quote(const char *text, size_t start, size_t end)
{
	GString *q = g_string_new(NULL);
	char *valid;
	const char *p;

	if (end > start + TRIAGE_MAX_QUOTE) {
		end = start + TRIAGE_MAX_QUOTE;
		/* back to a character boundary */
		while (end > start && (text[end] & 0xc0) == 0x80)
			end--;
	}
	valid = g_utf8_make_valid(text + start, (gssize)(end - start));
	for (p = valid; *p; p++)
		g_string_append_c(
		    q, (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p);
	g_free(valid);
	return g_string_free(q, FALSE);
}

/* Features listed by -t -v: enough to see why, short enough to read. */
#define TRIAGE_MODEL_EXPLAIN 8

/*
 * triage_model - the learned model as one more hit: MODEL_RULE(weight *
 * probability) in its category when the probability reaches the
 * threshold, so thresholds and routes stay in one place.  The rule hits
 * so far are features too ("rule:NAME", as --train makes them); with
 * explain (-t -v) the strongest features are kept for the report.
 */
static void
triage_model(const struct triage_config *cf, const struct norm *norm,
	     int explain, struct triage_result *res)
{
	struct model_fv fv = {0};
	struct triage_hit *t;
	char **extra = g_new0(char *, res->n_hits + 1);
	double p;

	for (size_t i = 0; i < res->n_hits; i++)
		extra[i] =
		    g_strconcat(MODEL_RULE_PREFIX, res->hits[i].rule, NULL);
	model_features(norm, (const char *const *)extra, res->n_hits, &fv);
	p = model_score(cf->model, &fv);
	model_fv_clear(&fv);
	res->model_p = p;
	if (explain) {
		struct model_contrib top[TRIAGE_MODEL_EXPLAIN];
		size_t n =
		    model_explain(cf->model, norm, (const char *const *)extra,
				  res->n_hits, TRIAGE_MODEL_EXPLAIN, top);
		GString *s = g_string_new(NULL);

		for (size_t i = 0; i < n; i++) {
			g_string_append_printf(s, "%s%s %+.2f", i ? ", " : "",
					       top[i].text, top[i].value);
			g_free(top[i].text);
		}
		res->model_explain = g_string_free(s, FALSE);
	}
	g_strfreev(extra);
	if (p < cf->model_threshold)
		return;
	t = &res->hits[res->n_hits++];
	t->rule = g_strdup(TRIAGE_MODEL_RULE);
	t->category = g_strdup(cf->model_category);
	t->score = cf->model_weight * p;
	t->describe = g_strdup_printf("learned model: probability %.2f", p);
	t->file = g_strdup(cf->model_file);
	t->line = 0;
}

/*
 * triage_classify - match the rules on subject + new text; with keep the
 * text goes to res->text
 */
static void
triage_classify(const struct triage_config *cf, struct message *m,
		const GString *fresh, const struct triage_env *env,
		struct triage_result *res)
{
	GString *text = g_string_new(NULL);
	struct triage_headers th = {0};
	struct classify_input in = {0};
	struct classify_result out = {0};
	struct norm_shout shout;
	struct norm *norm;
	size_t body_off;

	/* the subject is its own paragraph: phrases never run into it */
	if (m->subject != NULL && *m->subject != '\0')
		g_string_append_printf(text, "%s\n\n", m->subject);
	body_off = text->len;
	g_string_append_len(text, fresh->str, (gssize)fresh->len);
	norm = norm_text(text->str, text->len, cf->max_tokens);
	norm_shouting(fresh->str, fresh->len, &shout);
	th.m = m;
	in.text = text->str;
	in.len = text->len;
	in.norm = norm;
	in.shout = &shout;
	in.header = triage_header;
	in.header_ctx = &th;
	if (cf->rules != NULL)
		classify_run(cf->rules, &in, &out);
	res->hits = g_new0(struct triage_hit, out.n + 1);
	for (size_t i = 0; i < out.n; i++) {
		const struct classify_hit *h = &out.hits[i];
		struct triage_hit *t = &res->hits[res->n_hits++];

		t->rule = g_strdup(h->rule);
		t->category = g_strdup(h->category);
		t->score = h->score;
		t->describe = g_strdup(h->describe);
		t->file = g_strdup(h->file);
		t->line = h->line;
		if (h->end > h->start) {
			t->quote = triage_quote(text->str, h->start, h->end);
			t->in_subject = h->start < body_off;
			t->start =
			    t->in_subject ? h->start : h->start - body_off;
			t->end = h->end < body_off ? h->end : h->end - body_off;
		}
	}
	if (cf->model != NULL)
		triage_model(cf, norm, env->explain, res);
	if (norm->truncated)
		res->limited = 1;
	classify_result_clear(&out);
	norm_free(norm);
	if (th.cache != NULL)
		g_hash_table_destroy(th.cache);
	if (env->keep_text)
		res->text = g_string_free(text, FALSE);
	else
		g_string_free(text, TRUE);
}

/* triage_count_sender - one more message from this sender; -1 unknown */
static long
triage_count_sender(const struct triage_config *cf,
		    const struct triage_env *env)
{
	unsigned long n = 0;
	char *folded, *key;
	int rc;

	if (cf->frequent.messages == 0 || env->offline || env->store == NULL ||
	    env->env_from == NULL || *env->env_from == '\0')
		return -1;
	folded = addr_fold(env->env_from);
	key = g_strconcat("freq:", folded, NULL);
	rc = store_window_add(env->store, key, cf->frequent.window_s, &n);
	g_free(key);
	g_free(folded);
	return rc == 0 ? (long)n : -1; /* store down: fail open */
}

/* triage_result_new - an empty verdict: nothing counted, no model */
static struct triage_result *
triage_result_new(void)
{
	struct triage_result *res = g_new0(struct triage_result, 1);

	res->sender_count = -1;
	res->model_p = -1;
	return res;
}

struct triage_result *
triage_unanalysed(const struct triage_env *env, const char *why)
{
	struct triage_result *res = triage_result_new();

	xheaders_plan_delete(env->hdr_names, env->n_hdr_names, &res->del,
			     &res->n_del);
	res->error = g_strdup(why);
	return res;
}

/* triage_run - analyse one message; never NULL */
struct triage_result *
triage_run(const struct triage_config *cf, const char *msg, size_t len,
	   const struct triage_env *env)
{
	struct triage_result *res = triage_result_new();
	struct message_limits lim = {cf->max_mime_depth, cf->max_mime_parts,
				     cf->max_text_bytes};
	struct quote_split qs = {0};
	struct textstat ts;
	struct message *m;
	gint64 start = g_get_monotonic_time();
	char *error = NULL;

	/* only the auto-reply guards read ->mime (every header) */
	if (cf->reply.enable)
		m = message_parse(msg, len, &lim, &error);
	else
		m = message_parse_lean(msg, len, &lim, &error);
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
	if ((cf->rules != NULL || cf->model != NULL || env->keep_text) &&
	    triage_elapsed_ms(start) <= (gint64)cf->scan_timeout_ms)
		triage_classify(cf, m, qs.fresh, env, res);
	quote_split_clear(&qs);

	/* checked between stages: GMime and PCRE2 have their own limits */
	if (triage_elapsed_ms(start) > (gint64)cf->scan_timeout_ms)
		triage_fail(res, "timeout: analysis took over %u ms",
			    cf->scan_timeout_ms);
	if (res->error == NULL) {
		res->sender_count = triage_count_sender(cf, env);
		if (res->sender_count >= 0)
			res->count_window = g_strdup(cf->frequent.window);
		verdict_decide(cf, res,
			       env->truncated || m->limited || res->limited);
		ack_decide(cf, m, env, res);
		xheaders_build(res, cf->rules != NULL || cf->model != NULL);
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
	for (size_t i = 0; i < res->n_scores; i++)
		g_free(res->scores[i].category);
	g_free(res->scores);
	for (size_t i = 0; i < res->n_hits; i++) {
		struct triage_hit *h = &res->hits[i];

		g_free(h->rule);
		g_free(h->category);
		g_free(h->describe);
		g_free(h->quote);
		g_free(h->file);
	}
	g_free(res->hits);
	ack_free(res->ack);
	g_free(res->count_window);
	g_free(res->route);
	g_free(res->subject);
	g_free(res->model_explain);
	g_free(res->text);
	g_free(res->error);
	g_free(res);
	return NULL;
}
