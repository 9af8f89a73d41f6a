/*
 * cfgfile.c - comment-free parsing of libconfuse files
 *
 * The stripper knows libconfuse's lexical rules for what can hide a
 * comment marker: double-quoted strings (with backslash escapes) and
 * single-quoted strings.  Outside them, "#" and "//" run to the end of the
 * line and "/" "*" ... "*" "/" to its close; all become spaces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "cfgfile.h"

/* cfgfile_strip_comments - text with comments blanked, lines kept */
char *
cfgfile_strip_comments(const char *text, size_t len)
{
	char *out = g_malloc(len + 1);
	enum { CODE, DQ, SQ, LINE, BLOCK } st = CODE;

	for (size_t i = 0; i < len; i++) {
		char c = text[i], next = i + 1 < len ? text[i + 1] : '\0';

		out[i] = c;
		switch (st) {
		case CODE:
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
			}
			break;
		case DQ:
			if (c == '\\' && i + 1 < len) {
				i++;
				out[i] = text[i];
			} else if (c == '"') {
				st = CODE;
			}
			break;
		case SQ:
			if (c == '\\' && next == '\'') {
				i++;
				out[i] = '\'';
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
	return out;
}

/* cfgfile_parse - like cfg_parse(), with true line numbers */
int
cfgfile_parse(cfg_t *cfg, const char *path, char **error_r)
{
	GError *gerr = NULL;
	gchar *raw, *text;
	gsize len;
	FILE *fp;
	int rc;

	if (!g_file_get_contents(path, &raw, &len, &gerr)) {
		*error_r =
		    g_strdup_printf("%s: cannot read: %s", path, gerr->message);
		g_error_free(gerr);
		return CFG_FILE_ERROR;
	}
	if (len > CFGFILE_MAX_BYTES) {
		*error_r = g_strdup_printf("%s: larger than %d bytes", path,
					   CFGFILE_MAX_BYTES);
		g_free(raw);
		return CFG_FILE_ERROR;
	}
	text = cfgfile_strip_comments(raw, len);
	g_free(raw);
	fp = fmemopen(text, len, "r");
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
