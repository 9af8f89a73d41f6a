/*
 * json.c - write a triage result as one line of JSON
 *
 * A hand-written writer: the output is a handful of known fields, and the
 * only subtle part, string escaping, is here.  Invalid UTF-8 in a string
 * (a file name, a subject) is replaced, so the output is always valid JSON.
 */
#include <string.h>

#include "json.h"

/* json_string - append s as a JSON string literal (null for NULL) */
void
json_string(GString *out, const char *s)
{
	char *valid;

	if (s == NULL) {
		g_string_append(out, "null");
		return;
	}
	valid = g_utf8_make_valid(s, -1);
	g_string_append_c(out, '"');
	for (const unsigned char *p = (const unsigned char *)valid; *p; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
	g_string_append_c(out, '"');
	g_free(valid);
}

/* json_strvec - append a JSON array of strings */
static void
json_strvec(GString *out, const struct strvec *sv)
{
	g_string_append_c(out, '[');
	for (size_t i = 0; i < sv->n; i++) {
		if (i > 0)
			g_string_append_c(out, ',');
		json_string(out, sv->v[i]);
	}
	g_string_append_c(out, ']');
}

/* json_ack - the acknowledgment decision, or null */
static void
json_ack(GString *out, const struct triage_ack *a)
{
	if (a == NULL) {
		g_string_append(out, "null");
		return;
	}
	g_string_append(out, "{\"decision\":");
	json_string(out, a->decision);
	g_string_append(out, ",\"reason\":");
	json_string(out, a->reason);
	g_string_append(out, ",\"template\":");
	json_string(out, *a->template_name ? a->template_name : NULL);
	g_string_append(out, ",\"ticket\":");
	json_string(out, a->ticket);
	g_string_append(out, ",\"to\":");
	json_string(out, a->to);
	g_string_append(out, ",\"subject\":");
	json_string(out, a->subject);
	g_string_append(out, ",\"body\":");
	json_string(out, a->body);
	g_string_append_c(out, '}');
}

/* json_result - append the object for one message, no newline */
void
json_result(GString *out, const char *file, const struct triage_result *res)
{
	g_string_append(out, "{\"file\":");
	json_string(out, file);
	g_string_append(out, ",\"flags\":");
	json_strvec(out, &res->flags);
	g_string_append(out, ",\"route\":");
	json_string(out, res->route);
	g_string_append(out, ",\"scores\":{");
	for (size_t i = 0; i < res->n_scores; i++) {
		if (i > 0)
			g_string_append_c(out, ',');
		json_string(out, res->scores[i].category);
		g_string_append_printf(
		    out,
		    ":{\"score\":%.2f,\"threshold\":%.2f,"
		    "\"flagged\":%s}",
		    res->scores[i].score, res->scores[i].threshold,
		    res->scores[i].flagged ? "true" : "false");
	}
	g_string_append(out, "},\"rules\":[");
	for (size_t i = 0; i < res->n_hits; i++) {
		const struct triage_hit *h = &res->hits[i];

		if (i > 0)
			g_string_append_c(out, ',');
		g_string_append(out, "{\"rule\":");
		json_string(out, h->rule);
		g_string_append_printf(
		    out, ",\"score\":%.2f,\"category\":", h->score);
		json_string(out, h->category);
		g_string_append(out, ",\"describe\":");
		json_string(out, h->describe);
		g_string_append(out, ",\"match\":");
		json_string(out, h->quote);
		g_string_append_printf(out,
				       ",\"where\":\"%s\",\"start\":%zu,"
				       "\"end\":%zu}",
				       h->quote == NULL ? "none"
				       : h->in_subject  ? "subject"
							: "body",
				       h->start, h->end);
	}
	g_string_append_c(out, ']');
	g_string_append(out, ",\"headers\":[");
	for (size_t i = 0; i < res->add_names.n; i++) {
		if (i > 0)
			g_string_append_c(out, ',');
		g_string_append_c(out, '[');
		json_string(out, res->add_names.v[i]);
		g_string_append_c(out, ',');
		json_string(out, res->add_values.v[i]);
		g_string_append_c(out, ']');
	}
	g_string_append(out, "],\"deleted\":[");
	for (size_t i = 0; i < res->n_del; i++) {
		if (i > 0)
			g_string_append_c(out, ',');
		json_string(out, res->del[i].name);
	}
	g_string_append(out, "],\"ack\":");
	json_ack(out, res->ack);
	g_string_append(out, ",\"error\":");
	json_string(out, res->error);
	g_string_append_printf(out,
			       ",\"length\":{\"words\":%zu,\"paragraphs\":%zu,"
			       "\"quoted\":%zu,\"signature\":%zu}",
			       res->length.words, res->length.paragraphs,
			       res->length.quoted, res->length.signature);
	g_string_append_printf(out,
			       ",\"parts\":{\"total\":%u,\"text\":%u,"
			       "\"attachments\":%u,\"rfc822\":%u,"
			       "\"charset_fallback\":%s}",
			       res->n_parts, res->n_text_parts,
			       res->n_attachments, res->n_rfc822,
			       res->charset_fallback ? "true" : "false");
	g_string_append(out, ",\"subject\":");
	json_string(out, res->subject);
	if (res->sender_count >= 0)
		g_string_append_printf(out, ",\"sender_count\":%ld",
				       res->sender_count);
	g_string_append_c(out, '}');
}
