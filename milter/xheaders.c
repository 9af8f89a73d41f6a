/*
 * xheaders.c - plan header deletions and build the X-Triage-* headers
 *
 * Header names are matched case-insensitively, as the MTA does when it
 * counts indices for smfi_chgheader().
 */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "strvec.h"
#include "version.h"
#include "xheaders.h"

/* xheaders_is_triage - whether a header name is one of ours */
int
xheaders_is_triage(const char *name)
{
	return g_ascii_strncasecmp(name, XHEADERS_PREFIX,
				   strlen(XHEADERS_PREFIX)) == 0;
}

/*
 * xheaders_plan_delete - every X-Triage-* header, last arrival first
 *
 * One pass numbers each copy of a name (case-insensitively) as the MTA
 * does; linear in the number of headers, since a sender controls it.
 */
void
xheaders_plan_delete(const char *const *names, size_t n,
		     struct triage_delete **del_r, size_t *n_del_r)
{
	GHashTable *seen =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	int *index = g_new0(int, n ? n : 1);
	struct triage_delete *del;
	size_t n_del = 0, total = 0;

	for (size_t i = 0; i < n; i++) {
		char *key;
		int count;

		if (!xheaders_is_triage(names[i]))
			continue;
		key = g_ascii_strdown(names[i], -1);
		count = GPOINTER_TO_INT(g_hash_table_lookup(seen, key)) + 1;
		index[i] = count;
		g_hash_table_replace(seen, key, GINT_TO_POINTER(count));
		total++;
	}
	del = g_new0(struct triage_delete, total ? total : 1);
	for (size_t i = n; i-- > 0;) {
		if (index[i] == 0)
			continue;
		del[n_del].name = g_strdup(names[i]);
		del[n_del].index = index[i];
		n_del++;
	}
	g_free(index);
	g_hash_table_destroy(seen);
	if (n_del == 0) {
		g_free(del);
		del = NULL;
	}
	*del_r = del;
	*n_del_r = n_del;
}

/* xheaders_sanitize - printable ASCII, one line, at most max bytes */
char *
xheaders_sanitize(const char *in, size_t max)
{
	GString *out;
	size_t n = 0;

	/* most values are printable ASCII already: copied whole */
	while (n < max && in[n] >= 0x20 && in[n] < 0x7f)
		n++;
	if (in[n] == '\0' || n == max)
		return g_strndup(in, n);
	out = g_string_sized_new(64);

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (out->len >= max)
			break;
		if (*p >= 0x20 && *p < 0x7f)
			g_string_append_c(out, (char)*p);
		else if (*p == '\t' || *p == '\r' || *p == '\n')
			g_string_append_c(out, ' ');
		else if (*p >= 0x80 && (*p & 0xc0) != 0x80)
			g_string_append_c(out, '?'); /* one per character */
	}
	return g_string_free(out, FALSE);
}

/* xheaders_add - append one header to the result, sanitized */
static void
xheaders_add(struct triage_result *res, const char *name, const char *value)
{
	strvec_push(&res->add_names, name);
	strvec_push_take(&res->add_values,
			 xheaders_sanitize(value, XHEADERS_MAX_VALUE));
}

/* Halves below this print exactly from their integer double. */
#define XHEADERS_EXACT_MAX 1e15

/*
 * xheaders_append_1f - append x as "%.1f" does
 *
 * Scores and thresholds are sums of weights like 4.0 and 2.5: a
 * non-negative multiple of one half has an exact one-decimal form, which
 * is written here without printf's cost; anything else goes to printf.
 */
void
xheaders_append_1f(GString *s, double x)
{
	double twice = x * 2;
	char digits[24];
	size_t n = 0;
	unsigned long long t;

	if (!(x >= 0 && x < XHEADERS_EXACT_MAX) || signbit(x) ||
	    twice != (double)(unsigned long long)twice) {
		g_string_append_printf(s, "%.1f", x);
		return;
	}
	t = (unsigned long long)twice;
	for (unsigned long long w = t / 2; n == 0 || w > 0; w /= 10)
		digits[n++] = (char)('0' + w % 10);
	while (n > 0)
		g_string_append_c(s, digits[--n]);
	g_string_append(s, t % 2 ? ".5" : ".0");
}

/* xheaders_scores - "abusive=7.0/5.0 profanity=0.0/5.0 ..." */
static char *
xheaders_scores(const struct triage_result *res)
{
	GString *s = g_string_new(NULL);

	for (size_t i = 0; i < res->n_scores; i++) {
		if (i > 0)
			g_string_append_c(s, ' ');
		g_string_append(s, res->scores[i].category);
		g_string_append_c(s, '=');
		xheaders_append_1f(s, res->scores[i].score);
		g_string_append_c(s, '/');
		xheaders_append_1f(s, res->scores[i].threshold);
	}
	return g_string_free(s, FALSE);
}

/* xheaders_rules - "LEGAL_SUE(4.0) ...", whole entries, bounded */
static char *
xheaders_rules(const struct triage_result *res)
{
	GString *s = g_string_new(NULL);

	GString *e = g_string_new(NULL);

	for (size_t i = 0; i < res->n_hits; i++) {
		g_string_truncate(e, 0);
		if (i > 0)
			g_string_append_c(e, ' ');
		g_string_append(e, res->hits[i].rule);
		g_string_append_c(e, '(');
		xheaders_append_1f(e, res->hits[i].score);
		g_string_append_c(e, ')');
		if (s->len + e->len + 4 > XHEADERS_MAX_VALUE) {
			g_string_append(s, " ...");
			break;
		}
		g_string_append_len(s, e->str, (gssize)e->len);
	}
	g_string_free(e, TRUE);
	if (s->len == 0)
		g_string_append(s, "none");
	return g_string_free(s, FALSE);
}

/* xheaders_build - the headers for this verdict, in a fixed order */
void
xheaders_build(struct triage_result *res, int with_rules)
{
	char *flags =
	    res->flags.n ? strvec_join(&res->flags, ", ") : g_strdup("none");
	char *length = g_strdup_printf(
	    "words=%zu paragraphs=%zu quoted=%zu", res->length.words,
	    res->length.paragraphs, res->length.quoted);

	xheaders_add(res, "X-Triage-Flags", flags);
	if (res->route != NULL)
		xheaders_add(res, "X-Triage-Route", res->route);
	if (with_rules) {
		char *scores = xheaders_scores(res);
		char *rules = xheaders_rules(res);

		xheaders_add(res, "X-Triage-Score", scores);
		xheaders_add(res, "X-Triage-Rules", rules);
		g_free(scores);
		g_free(rules);
	}
	xheaders_add(res, "X-Triage-Length", length);
	if (res->sender_count >= 0 && res->count_window != NULL) {
		char *count = g_strdup_printf("%ld/%s", res->sender_count,
					      res->count_window);

		xheaders_add(res, "X-Triage-Sender-Count", count);
		g_free(count);
	}
	if (res->ack != NULL) {
		char *ack = ack_header_value(res->ack);

		xheaders_add(res, "X-Triage-Ack", ack);
		g_free(ack);
	}
	xheaders_add(res, "X-Triage-Version", TRIAGE_VERSION_STRING);
	g_free(flags);
	g_free(length);
}
