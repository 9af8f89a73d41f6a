/*
 * textstat.h - length metrics of a text
 *
 * Words are maximal runs of letters and digits (Unicode, via GLib), with
 * inner apostrophes and hyphens kept ("don't", "e-mail" count once).
 * Paragraphs are blocks of lines with at least one word, separated by one
 * or more blank lines (lines of only whitespace count as blank).
 */
#ifndef TRIAGE_TEXTSTAT_H
#define TRIAGE_TEXTSTAT_H

#include <stddef.h>

struct textstat {
	size_t words;
	size_t paragraphs;
	size_t lines; /* non-blank lines */
	size_t chars; /* Unicode characters */
};

void textstat_count(const char *text, size_t len, struct textstat *ts);

#endif
