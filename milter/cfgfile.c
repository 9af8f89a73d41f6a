/*
 * cfgfile.c - comment-free parsing of libconfuse files
 *
 * The stripper knows libconfuse's lexical rules for what can hide a
 * comment marker: double-quoted strings (with backslash escapes) and
 * single-quoted strings (where only \' and \\ are escapes).  Outside them, "#"
 * and "//" run to the end of the line and "/" "*" ... "*" "/" to its close; all
 * become spaces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "cfgfile.h"

/* What the stripper saw that libconfuse would pass over in silence. */
struct cfgfile_scan {
	unsigned open_line;  /* line of an unterminated comment or string */
	const char *open;    /* "comment" or "string", or NULL */
	unsigned brace_line; /* line of the last '{' never closed, or 0 */
	unsigned star_line;  /* line of a '*' outside quotes, or 0 */
};

/* Braces nested deeper than this are not a configuration. */
#define CFGFILE_MAX_DEPTH 64

/* cfgfile_strip - text with comments blanked, lines kept; *sc says what
 * was left open at the end */
static char *
cfgfile_strip(const char *text, size_t len, struct cfgfile_scan *sc)
{
	char *out = g_malloc(len + 1);
	enum { CODE, DQ, SQ, LINE, BLOCK } st = CODE;
	unsigned line = 1, start = 0, depth = 0;
	unsigned brace[CFGFILE_MAX_DEPTH];

	sc->star_line = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i], next = i + 1 < len ? text[i + 1] : '\0';

		out[i] = c;
		if (c == '\n')
			line++;
		switch (st) {
		case CODE:
			start = line;
			if (c == '"') {
				st = DQ;
			} else if (c == '\'') {
				st = SQ;
			} else if (c == '#' || (c == '/' && next == '/')) {
				st = LINE;
				out[i] = ' ';
			} else if (c == '/' && next == '*') {
				st = BLOCK;
				out[i] = ' ';
			} else if (c == '{') {
				if (depth < CFGFILE_MAX_DEPTH)
					brace[depth] = line;
				depth++;
			} else if (c == '}' && depth > 0) {
				depth--;
			} else if (c == '*' && sc->star_line == 0) {
				sc->star_line = line;
			}
			break;
		case DQ:
			if (c == '\\' && i + 1 < len) {
				i++;
				out[i] = text[i];
				if (text[i] == '\n')
					line++;
			} else if (c == '"') {
				st = CODE;
			}
			break;
		case SQ: /* libconfuse: \' is a quote, \\ a backslash */
			if (c == '\\' && (next == '\'' || next == '\\')) {
				i++;
				out[i] = next;
			} else if (c == '\'') {
				st = CODE;
			}
			break;
		case LINE:
			if (c == '\n')
				st = CODE;
			else
				out[i] = ' ';
			break;
		case BLOCK:
			if (c == '*' && next == '/') {
				out[i] = ' ';
				out[++i] = ' ';
				st = CODE;
			} else if (c != '\n') {
				out[i] = ' ';
			}
			break;
		}
	}
	out[len] = '\0';
	sc->open = st == BLOCK            ? "comment \"/*\""
		   : st == DQ || st == SQ ? "quoted string"
					  : NULL;
	sc->open_line = start;
	sc->brace_line = depth == 0                   ? 0
			 : depth <= CFGFILE_MAX_DEPTH ? brace[depth - 1]
						      : brace[0];
	return out;
}

unsigned
cfgfile_line_of(const char *text, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}

char *
cfgfile_read(const char *path, char **error_r)
{
	static const char bom[] = "\xef\xbb\xbf";
	struct cfgfile_scan sc;
	GError *gerr = NULL;
	gchar *raw, *text;
	const char *nul;
	gsize len;

	*error_r = NULL;
	if (!g_file_get_contents(path, &raw, &len, &gerr)) {
		*error_r =
		    g_strdup_printf("%s: cannot read: %s", path, gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	if (len > CFGFILE_MAX_BYTES) {
		*error_r = g_strdup_printf("%s: larger than %d bytes", path,
					   CFGFILE_MAX_BYTES);
		g_free(raw);
		return NULL;
	}
	if (len >= 2 && ((guchar)raw[0] == 0xff || (guchar)raw[0] == 0xfe) &&
	    ((guchar)raw[1] == 0xff || (guchar)raw[1] == 0xfe)) {
		*error_r =
		    g_strdup_printf("%s: UTF-16 text; save it as UTF-8", path);
		g_free(raw);
		return NULL;
	}
	/* libconfuse stops reading at a NUL: the rest would be ignored */
	if ((nul = memchr(raw, '\0', len)) != NULL) {
		*error_r = g_strdup_printf("%s:%u: NUL byte", path,
					   cfgfile_line_of(raw, nul - raw));
		g_free(raw);
		return NULL;
	}
	/* a UTF-8 byte-order mark (some editors write one) is not a key */
	if (len >= 3 && memcmp(raw, bom, 3) == 0)
		memset(raw, ' ', 3);
	text = cfgfile_strip(raw, len, &sc);
	g_free(raw);
	/* libconfuse would take the rest of the file as a comment, a
	 * section as ending at the end of the file, and drop a '*' from an
	 * unquoted value ({*@example.com} is "@example.com") */
	if (sc.open != NULL)
		*error_r = g_strdup_printf("%s:%u: unterminated %s", path,
					   sc.open_line, sc.open);
	else if (sc.brace_line != 0)
		*error_r = g_strdup_printf("%s:%u: '{' never closed", path,
					   sc.brace_line);
	else if (sc.star_line != 0)
		*error_r = g_strdup_printf(
		    "%s:%u: '*' outside quotes, which libconfuse drops: "
		    "quote the value (\"*@example.com\")",
		    path, sc.star_line);
	if (*error_r != NULL) {
		g_free(text);
		return NULL;
	}
	return text;
}

/* cfgfile_parse - like cfg_parse(), with true line numbers */
int
cfgfile_parse(cfg_t *cfg, const char *path, char **error_r)
{
	char *text = cfgfile_read(path, error_r);
	FILE *fp;
	int rc;

	if (text == NULL)
		return CFG_FILE_ERROR;
	fp = fmemopen(text, strlen(text), "r");
	if (fp == NULL) {
		*error_r = g_strdup_printf("%s: %s", path, g_strerror(errno));
		g_free(text);
		return CFG_FILE_ERROR;
	}
	/* cfg_parse() would do the same: the name its errors carry */
	free(cfg->filename);
	cfg->filename = strdup(path);
	cfg->line = 1;
	rc = cfg_parse_fp(cfg, fp);
	fclose(fp);
	g_free(text);
	return rc;
}
