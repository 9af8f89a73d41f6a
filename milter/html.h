/*
 * html.h - HTML to plain text for analysis
 *
 * libxml2's forgiving HTML parser reads the markup (entities decoded,
 * broken markup tolerated); script, style, head and other non-visible
 * elements are dropped; block elements (p, div, br, li, tr, h1-h6...) end
 * lines, paragraphs get a blank line between them; text inside blockquote
 * is emitted with each line prefixed "> " so the quote splitter treats it
 * as quoted.  Output is UTF-8 with LF line ends, at most max_out bytes
 * (cut at a character boundary).
 */
#ifndef TRIAGE_HTML_H
#define TRIAGE_HTML_H

#include <stddef.h>

char *html_to_text(const char *html, size_t len, const char *charset,
		   size_t max_out, int *truncated_r);

#endif
