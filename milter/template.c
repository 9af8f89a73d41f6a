/*
 * template.c - load, check and render acknowledgment templates
 *
 * Owns the template syntax and the 280-character budget (see template.h
 * for the rules).  A template is parsed once into pieces: literal text,
 * or a variable with an optional fallback.  Rendering cleans each value,
 * shares the room left by the fixed text among the variables (longest
 * cut first, to a common length) and joins the pieces.
 *
 * Limits: TEMPLATE_MAX_FILE_BYTES per file, TEMPLATE_MAX_VARS variables,
 * TEMPLATE_MAX_VALUE_BYTES of each value.  No logging, no globals but
 * const tables.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "template.h"

/* The ellipsis that ends a shortened value (one character). */
#define TEMPLATE_ELLIPSIS "\xe2\x80\xa6"

enum template_var {
	TV_TICKET,
	TV_SUBJECT,
	TV_FIRST_NAME,
	TV_REPLY_WITHIN,
	TV_SUPPORT_NAME,
	TV_COUNT
};

static const char *const template_var_names[TV_COUNT] = {
    "ticket", "subject", "first_name", "reply_within", "support_name"};

/* A piece: literal text (var < 0) or a variable and its fallback. */
struct template_piece {
	int var;
	char *text; /* the literal, or the fallback ("" = none) */
};

struct template
{
	struct template_piece *pieces;
	size_t n;
	size_t fixed_chars; /* characters of literal text */
};

/* template_error - set *error_r to "name:line: message" */
static void G_GNUC_PRINTF(4, 5)
    template_error(char **error_r, const char *name, unsigned line,
		   const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (error_r == NULL)
		return;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	*error_r = g_strdup_printf("%s:%u: %s", name, line, msg);
	g_free(msg);
}

/* template_var_lookup - index of a variable name, -1 if unknown */
static int
template_var_lookup(const char *name, size_t len)
{
	for (int i = 0; i < TV_COUNT; i++)
		if (strlen(template_var_names[i]) == len &&
		    memcmp(template_var_names[i], name, len) == 0)
			return i;
	return -1;
}

#define TEMPLATE_BAD_CHAR "control or invisible character U+%04X"

/* template_bad_char - whether c may not appear in a template file, in
 * its text or in a fallback */
static int
template_bad_char(gunichar c)
{
	GUnicodeType type = g_unichar_type(c);

	if (c == '\n' || c == '\t')
		return 0;
	return type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT;
}

/* template_add - append a piece (literal text is coalesced) */
static void
template_add(struct template *t, int var, const char *text, size_t len)
{
	if (var < 0 && len == 0)
		return;
	if (var < 0 && t->n > 0 && t->pieces[t->n - 1].var < 0) {
		char *old = t->pieces[t->n - 1].text;

		t->pieces[t->n - 1].text =
		    g_strdup_printf("%s%.*s", old, (int)len, text);
		g_free(old);
		return;
	}
	t->pieces = g_renew(struct template_piece, t->pieces, t->n + 1);
	t->pieces[t->n].var = var;
	t->pieces[t->n].text = g_strndup(text, len);
	t->n++;
}

/* template_var - parse "{name|fallback}" at p (just after '{') */
static const char *
template_var(struct template *t, const char *p, const char *name, unsigned line,
	     size_t *n_vars, char **error_r)
{
	const char *close = p, *bar;
	int var;

	while (*close && *close != '}' && *close != '{' && *close != '\n')
		close++;
	if (*close != '}') {
		template_error(error_r, name, line, "unbalanced '{'");
		return NULL;
	}
	bar = memchr(p, '|', (size_t)(close - p));
	var = template_var_lookup(p, (size_t)((bar ? bar : close) - p));
	if (var < 0) {
		template_error(error_r, name, line,
			       "unknown variable {%.*s} (known: ticket, "
			       "subject, first_name, reply_within, "
			       "support_name)",
			       (int)((bar ? bar : close) - p), p);
		return NULL;
	}
	if (++*n_vars > TEMPLATE_MAX_VARS) {
		template_error(error_r, name, line, "more than %d variables",
			       TEMPLATE_MAX_VARS);
		return NULL;
	}
	for (const char *q = bar ? bar + 1 : close; q < close;
	     q += g_utf8_skip[*(const guchar *)q]) {
		gunichar c = g_utf8_get_char(q);

		if (template_bad_char(c)) {
			template_error(error_r, name, line, TEMPLATE_BAD_CHAR,
				       (unsigned)c);
			return NULL;
		}
	}
	if (bar != NULL &&
	    g_utf8_strlen(bar + 1, close - bar - 1) > TEMPLATE_MAX_FALLBACK) {
		template_error(error_r, name, line,
			       "fallback of {%s} longer than %d characters",
			       template_var_names[var], TEMPLATE_MAX_FALLBACK);
		return NULL;
	}
	if (bar != NULL)
		template_add(t, var, bar + 1, (size_t)(close - bar - 1));
	else
		template_add(t, var, "", 0);
	return close + 1;
}

/* template_scan - split checked UTF-8 text into pieces */
static int
template_scan(struct template *t, const char *text, const char *name,
	      unsigned line, char **error_r)
{
	const char *p = text, *lit = text;
	unsigned over_line = 0;
	size_t n_vars = 0, fixed = 0;

	while (*p) {
		gunichar c = g_utf8_get_char(p);

		if (template_bad_char(c)) {
			template_error(error_r, name, line, TEMPLATE_BAD_CHAR,
				       (unsigned)c);
			return -1;
		}
		if (c == '}' && p[1] != '}') {
			template_error(error_r, name, line, "unbalanced '}'");
			return -1;
		}
		if (c == '{' && p[1] != '{') {
			template_add(t, -1, lit, (size_t)(p - lit));
			p = template_var(t, p + 1, name, line, &n_vars,
					 error_r);
			if (p == NULL)
				return -1;
			lit = p;
			continue;
		}
		if (++fixed > TEMPLATE_MAX_CHARS - TEMPLATE_MIN_ROOM &&
		    over_line == 0)
			over_line = line;
		if (c == '{' || c == '}') { /* doubled: keep one */
			template_add(t, -1, lit, (size_t)(p - lit) + 1);
			p += 2;
			lit = p;
			continue;
		}
		if (c == '\n')
			line++;
		p += g_utf8_skip[*(const guchar *)p];
	}
	template_add(t, -1, lit, (size_t)(p - lit));
	t->fixed_chars = fixed;
	if (over_line != 0) {
		template_error(error_r, name, over_line,
			       "fixed text is %zu characters; it must leave at "
			       "least %d of %d for the variables",
			       fixed, TEMPLATE_MIN_ROOM, TEMPLATE_MAX_CHARS);
		return -1;
	}
	return 0;
}

/* template_free - free a template; returns NULL */
struct template *
template_free(struct template *t)
{
	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		g_free(t->pieces[i].text);
	g_free(t->pieces);
	g_free(t);
	return NULL;
}

/* template_parse - parse template text; name is used in errors */
struct template *
template_parse(const char *text, size_t len, const char *name, char **error_r)
{
	const char *end;
	char *copy, *start;
	unsigned line = 1;
	size_t o = 0;
	struct template *t;

	if (len > TEMPLATE_MAX_FILE_BYTES) {
		template_error(error_r, name, 1,
			       "template larger than %d bytes",
			       TEMPLATE_MAX_FILE_BYTES);
		return NULL;
	}
	if (!g_utf8_validate(text, (gssize)len, &end)) {
		for (const char *p = text; p < end; p++)
			line += *p == '\n';
		template_error(error_r, name, line, "invalid UTF-8");
		return NULL;
	}
	copy = g_malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
			copy[o++] = text[i];
	copy[o] = '\0';
	g_strchomp(copy);
	for (start = copy; g_ascii_isspace(*start); start++)
		line += *start == '\n';
	if (*start == '\0') {
		template_error(error_r, name, 1, "empty template");
		g_free(copy);
		return NULL;
	}
	t = g_new0(struct template, 1);
	if (template_scan(t, start, name, line, error_r) < 0)
		t = template_free(t);
	g_free(copy);
	return t;
}

/* template_load - read and parse a template file */
struct template *
template_load(const char *path, char **error_r)
{
	char buf[TEMPLATE_MAX_FILE_BYTES + 1];
	FILE *fp = fopen(path, "rb");
	size_t len;
	int failed;

	if (fp == NULL) {
		if (error_r != NULL)
			*error_r =
			    g_strdup_printf("%s: %s", path, g_strerror(errno));
		return NULL;
	}
	len = fread(buf, 1, sizeof(buf), fp);
	failed = ferror(fp);
	fclose(fp);
	if (failed) {
		if (error_r != NULL)
			*error_r = g_strdup_printf("%s: read error", path);
		return NULL;
	}
	/* cppcheck reads "struct template" as C++ and thinks this is int */
	// cppcheck-suppress CastIntegerToAddressAtReturn
	return template_parse(buf, len, path, error_r);
}

/* template_fixed_chars - characters of fixed text (without variables) */
size_t
template_fixed_chars(const struct template *t)
{
	return t->fixed_chars;
}

/* template_drop_char - whether a value character is removed outright */
static int
template_drop_char(gunichar c)
{
	GUnicodeType type = g_unichar_type(c);

	/* Cc: C0, DEL, C1.  Cf: bidi embeddings, overrides and isolates
	 * (U+202A-202E, U+2066-2069), LRM/RLM, zero-width space and
	 * joiners, word joiner, BOM, soft hyphen, tag characters. */
	return type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT;
}

/* template_clean_value - one line, no controls or invisible characters,
 * whitespace collapsed and trimmed; invalid UTF-8 becomes U+FFFD */
char *
template_clean_value(const char *in)
{
	size_t len, cut;
	char *valid;
	GString *out;
	int space = 0;

	if (in == NULL)
		return g_strdup("");
	len = strlen(in);
	cut = MIN(len, TEMPLATE_MAX_VALUE_BYTES);
	while (cut > 0 && cut < len && ((unsigned char)in[cut] & 0xc0) == 0x80)
		cut--; /* do not split a UTF-8 sequence */
	valid = g_utf8_make_valid(in, (gssize)cut);
	out = g_string_sized_new(cut + 1);
	for (const char *p = valid; *p; p += g_utf8_skip[*(const guchar *)p]) {
		gunichar c = g_utf8_get_char(p);

		/* NEL (U+0085) is C1 but ends a line: a space, like LF */
		if (c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
		    c == '\f' || c == 0x85 || g_unichar_isspace(c)) {
			space = out->len > 0;
			continue;
		}
		if (template_drop_char(c))
			continue;
		if (out->len == 0 && g_unichar_ismark(c))
			continue; /* would combine with the text before */
		if (space)
			g_string_append_c(out, ' ');
		space = 0;
		g_string_append_unichar(out, c);
	}
	g_free(valid);
	return g_string_free(out, FALSE);
}

/* template_shorten - s cut to at most max_chars characters, ending in
 * "…" when cut; a cut never separates a base from its combining marks */
char *
template_shorten(const char *s, size_t max_chars)
{
	const char *end;
	GString *out;
	size_t keep;

	if ((size_t)g_utf8_strlen(s, -1) <= max_chars)
		return g_strdup(s);
	if (max_chars == 0)
		return g_strdup("");
	keep = max_chars - 1;
	end = g_utf8_offset_to_pointer(s, (glong)keep);
	while (end > s && g_unichar_ismark(g_utf8_get_char(end)))
		end = g_utf8_prev_char(end);
	while (end > s &&
	       g_unichar_isspace(g_utf8_get_char(g_utf8_prev_char(end))))
		end = g_utf8_prev_char(end);
	out = g_string_new_len(s, end - s);
	g_string_append(out, TEMPLATE_ELLIPSIS);
	return g_string_free(out, FALSE);
}

/* template_level - the largest length L with sum(min(len_i, L)) <= room */
static size_t
template_level(const size_t *lens, size_t n, size_t room)
{
	size_t level = room;

	for (;;) {
		size_t sum = 0;

		for (size_t i = 0; i < n; i++)
			sum += MIN(lens[i], level);
		if (sum <= room || level == 0)
			return level;
		level--;
	}
}

/* template_render - the body, at most TEMPLATE_MAX_CHARS characters */
char *
template_render(const struct template *t, const struct template_vars *v)
{
	const char *raw[TV_COUNT] = {v->ticket, v->subject, v->first_name,
				     v->reply_within, v->support_name};
	char *val[TV_COUNT];
	size_t lens[TEMPLATE_MAX_VARS], n = 0, room, level;
	GString *out = g_string_new(NULL);

	for (int i = 0; i < TV_COUNT; i++)
		val[i] = template_clean_value(raw[i]);
	/* Each occurrence's value: the fallback replaces an empty value. */
	for (size_t i = 0; i < t->n; i++) {
		const struct template_piece *pc = &t->pieces[i];

		if (pc->var < 0)
			continue;
		lens[n++] = (size_t)g_utf8_strlen(
		    *val[pc->var] ? val[pc->var] : pc->text, -1);
	}
	room = TEMPLATE_MAX_CHARS - t->fixed_chars;
	level = template_level(lens, n, room);
	for (size_t i = 0; i < t->n; i++) {
		const struct template_piece *pc = &t->pieces[i];
		char *s;

		if (pc->var < 0) {
			g_string_append(out, pc->text);
			continue;
		}
		s = template_shorten(*val[pc->var] ? val[pc->var] : pc->text,
				     level);
		g_string_append(out, s);
		g_free(s);
	}
	for (int i = 0; i < TV_COUNT; i++)
		g_free(val[i]);
	return g_string_free(out, FALSE);
}
