/*
 * html.c - HTML to plain text for analysis
 *
 * Owns the one place where markup becomes words.  libxml2's HTML parser
 * does the hard part (entities, unclosed tags, mis-nesting, charsets);
 * this module walks the tree it builds and decides what a reader sees:
 * script/style/head and hidden elements are dropped, block elements end
 * lines, blockquote becomes "> " quoting for quote.c.
 *
 * The walk is iterative (parent pointers), so a deeply nested document
 * cannot exhaust the stack; output stops at max_out bytes.  libxml2
 * never writes to stderr from here: errors are switched off in the parse
 * options and the generic handlers are silenced for this thread.
 */
#include <limits.h>
#include <string.h>

#include <glib.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "html.h"

/* One blank line between paragraphs is all the splitter needs. */
#define HTML_MAX_NEWLINES 2

/* Blockquote depth that still gets its own "> "; deeper looks the same. */
#define HTML_MAX_QUOTE_DEPTH 16

struct html_out {
	GString *buf;
	size_t max_out;
	int truncated;
	int pending_nl;    /* newlines owed before the next text */
	int nl_depth;      /* quote depth of the owed blank lines */
	int pending_space; /* a collapsed space owed before the next text */
	int quote_depth;   /* blockquote nesting */
	int pre_depth;     /* inside <pre>: keep white space */
};

/* Elements whose content is never shown. */
static const char *const html_dropped[] = {
    "script", "style",    "head",   "title", "template", "object",
    "embed",  "applet",   "iframe", "frame", "svg",      "math",
    "select", "noframes", "xml",    NULL,
};

/* Elements that start and end a paragraph (blank line around them). */
static const char *const html_paragraphs[] = {
    "p",    "h1",       "h2",      "h3",     "h4", "h5",         "h6",
    "pre",  "table",    "ul",      "ol",     "dl", "blockquote", "hr",
    "form", "fieldset", "address", "figure", NULL,
};

/* Elements that end a line. */
static const char *const html_lines[] = {
    "div",     "li",      "tr",      "dt",         "dd",    "section",
    "article", "header",  "footer",  "nav",        "aside", "main",
    "center",  "caption", "tbody",   "thead",      "tfoot", "legend",
    "option",  "details", "summary", "figcaption", "body",  NULL,
};

/* html_in - whether name is one of names */
static int
html_in(const xmlChar *name, const char *const *names)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; names[i] != NULL; i++)
		if (g_ascii_strcasecmp((const char *)name, names[i]) == 0)
			return 1;
	return 0;
}

/* html_quiet - swallow libxml2 messages */
static void
html_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* html_quiet_structured - swallow libxml2 structured errors */
static void
html_quiet_structured(void *ctx, xmlErrorPtr err)
{
	(void)ctx;
	(void)err;
}

/* html_is_hidden - inline style hides it (pre-header text in marketing) */
static int
html_is_hidden(xmlNodePtr node)
{
	xmlChar *style = xmlGetProp(node, (const xmlChar *)"style");
	int hidden = 0;

	if (style != NULL) {
		char *low = g_ascii_strdown((const char *)style, -1);
		char *w = low;

		/* "display : none" and "display:none" alike */
		for (char *r = low; *r; r++)
			if (*r != ' ' && *r != '\t' && *r != '\n' && *r != '\r')
				*w++ = *r;
		*w = '\0';
		hidden = strstr(low, "display:none") != NULL ||
			 strstr(low, "visibility:hidden") != NULL;
		g_free(low);
		xmlFree(style);
	}
	if (!hidden && xmlHasProp(node, (const xmlChar *)"hidden") != NULL)
		hidden = 1;
	return hidden;
}

/* html_want_newlines - owe at least n newlines before the next text */
static void
html_want_newlines(struct html_out *out, int n)
{
	if (out->pending_nl == 0 || out->quote_depth < out->nl_depth)
		out->nl_depth = out->quote_depth;
	if (out->pending_nl < n)
		out->pending_nl = n;
	out->pending_space = 0;
}

/* html_put - append raw bytes, respecting max_out; 0 when full */
static int
html_put(struct html_out *out, const char *s, size_t len)
{
	size_t room;

	if (out->truncated)
		return 0;
	room = out->max_out - out->buf->len;
	if (len > room) {
		/* Cut at a character boundary: back off continuation bytes. */
		size_t cut = room;

		while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
		g_string_append_len(out->buf, s, (gssize)cut);
		out->truncated = 1;
		return 0;
	}
	g_string_append_len(out->buf, s, (gssize)len);
	return 1;
}

/* html_line_start - write the quote prefix at the start of a line */
static void
html_line_start(struct html_out *out)
{
	int depth = out->quote_depth;

	if (depth > HTML_MAX_QUOTE_DEPTH)
		depth = HTML_MAX_QUOTE_DEPTH;
	for (int i = 0; i < depth; i++)
		html_put(out, "> ", 2);
}

/* html_at_line_start - whether the output ends a line (or is empty) */
static int
html_at_line_start(const struct html_out *out)
{
	return out->buf->len == 0 || out->buf->str[out->buf->len - 1] == '\n';
}

/* html_flush - pay the owed newlines and space before text */
static void
html_flush(struct html_out *out)
{
	if (out->buf->len > 0 && out->pending_nl > 0) {
		/* pending_nl - 1 blank lines, after ending the current line */
		if (!html_at_line_start(out))
			html_put(out, "\n", 1);
		for (int i = 1; i < out->pending_nl; i++) {
			/* A blank line between quoted lines stays quoted. */
			for (int d = 0;
			     d < out->nl_depth && d < HTML_MAX_QUOTE_DEPTH; d++)
				html_put(out, ">", 1);
			html_put(out, "\n", 1);
		}
	}
	out->pending_nl = 0;
	if (html_at_line_start(out))
		html_line_start(out);
	else if (out->pending_space)
		html_put(out, " ", 1);
	out->pending_space = 0;
}

/* html_text - append a text node, collapsing white space outside <pre> */
static void
html_text(struct html_out *out, const char *s)
{
	const char *p = s;

	if (s == NULL)
		return;
	while (*p && !out->truncated) {
		const char *q = p;

		if (*p == '\r') {
			p++;
			continue;
		}
		if (out->pre_depth > 0 && *p == '\n') {
			if (out->buf->len > 0 &&
			    out->pending_nl < HTML_MAX_NEWLINES)
				out->pending_nl++;
			out->pending_space = 0;
			p++;
			continue;
		}
		if (out->pre_depth == 0 && g_ascii_isspace(*p)) {
			out->pending_space = 1;
			p++;
			continue;
		}
		/* a run of ordinary characters */
		while (*q && *q != '\r' &&
		       !(out->pre_depth > 0 ? *q == '\n' : g_ascii_isspace(*q)))
			q++;
		html_flush(out);
		html_put(out, p, (size_t)(q - p));
		p = q;
	}
}

/* html_enter - an element opens; 0 to skip its children */
static int
html_enter(struct html_out *out, xmlNodePtr node)
{
	const xmlChar *name = node->name;

	if (name == NULL)
		return 1;
	if (html_in(name, html_dropped) || html_is_hidden(node))
		return 0;
	if (g_ascii_strcasecmp((const char *)name, "br") == 0) {
		/* Each <br> is a real line end, even on an empty line. */
		if (out->pending_nl == 0 || out->quote_depth < out->nl_depth)
			out->nl_depth = out->quote_depth;
		if (out->pending_nl < HTML_MAX_NEWLINES)
			out->pending_nl++;
		if (out->buf->len == 0)
			out->pending_nl = 0;
		out->pending_space = 0;
		return 0;
	}
	if (html_in(name, html_paragraphs))
		html_want_newlines(out, 2);
	else if (html_in(name, html_lines))
		html_want_newlines(out, 1);
	else if (g_ascii_strcasecmp((const char *)name, "td") == 0 ||
		 g_ascii_strcasecmp((const char *)name, "th") == 0)
		out->pending_space = 1;

	if (g_ascii_strcasecmp((const char *)name, "blockquote") == 0)
		out->quote_depth++;
	if (g_ascii_strcasecmp((const char *)name, "pre") == 0)
		out->pre_depth++;
	return 1;
}

/* html_leave - an element whose children were walked closes */
static void
html_leave(struct html_out *out, xmlNodePtr node)
{
	const xmlChar *name = node->name;

	if (name == NULL)
		return;
	if (g_ascii_strcasecmp((const char *)name, "blockquote") == 0 &&
	    out->quote_depth > 0) {
		/* End the quoted line while the prefix still applies. */
		out->quote_depth--;
	}
	if (g_ascii_strcasecmp((const char *)name, "pre") == 0 &&
	    out->pre_depth > 0)
		out->pre_depth--;
	if (html_in(name, html_paragraphs))
		html_want_newlines(out, 2);
	else if (html_in(name, html_lines))
		html_want_newlines(out, 1);
	else if (g_ascii_strcasecmp((const char *)name, "td") == 0 ||
		 g_ascii_strcasecmp((const char *)name, "th") == 0)
		out->pending_space = 1;
}

/* html_walk - visit the tree in document order without recursion */
static void
html_walk(struct html_out *out, xmlNodePtr root)
{
	xmlNodePtr node = root->children;

	while (node != NULL && !out->truncated) {
		int descend = 0;

		if (node->type == XML_ELEMENT_NODE)
			descend = html_enter(out, node);
		else if (node->type == XML_TEXT_NODE ||
			 node->type == XML_CDATA_SECTION_NODE)
			html_text(out, (const char *)node->content);

		if (descend && node->children != NULL) {
			node = node->children;
			continue;
		}
		if (descend)
			html_leave(out, node);
		/* Climb to the next sibling, closing the elements we leave. */
		while (node->next == NULL) {
			node = node->parent;
			if (node == NULL || node == root)
				return;
			if (node->type == XML_ELEMENT_NODE)
				html_leave(out, node);
		}
		node = node->next;
	}
}

/* html_charset - a charset libxml2 knows, else NULL to let it guess */
static const char *
html_charset(const char *charset)
{
	xmlCharEncodingHandlerPtr h;

	if (charset == NULL || *charset == '\0')
		return NULL;
	h = xmlFindCharEncodingHandler(charset);
	if (h == NULL)
		return NULL;
	xmlCharEncCloseFunc(h);
	return charset;
}

/* html_to_text - the visible text of an HTML document, UTF-8 */
char *
html_to_text(const char *html, size_t len, const char *charset, size_t max_out,
	     int *truncated_r)
{
	struct html_out out;
	htmlDocPtr doc;
	char *copy = NULL;
	const char *enc;
	int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
		   HTML_PARSE_NOWARNING | HTML_PARSE_NONET;

	memset(&out, 0, sizeof(out));
	out.buf = g_string_new(NULL);
	out.max_out = max_out;
	if (truncated_r != NULL)
		*truncated_r = 0;
	if (html == NULL || len == 0 || max_out == 0 || len > INT_MAX)
		goto done;

	enc = html_charset(charset);

	/*
	 * libxml2 stops at a NUL or at invalid UTF-8 when told the text is
	 * UTF-8, losing the rest of the document: repair the input first.
	 */
	if (memchr(html, '\0', len) != NULL ||
	    (enc != NULL && g_ascii_strcasecmp(enc, "UTF-8") == 0 &&
	     !g_utf8_validate(html, (gssize)len, NULL))) {
		char *valid;

		copy = g_memdup2(html, len);
		for (size_t i = 0; i < len; i++)
			if (copy[i] == '\0')
				copy[i] = ' ';
		if (enc != NULL && g_ascii_strcasecmp(enc, "UTF-8") == 0) {
			valid = g_utf8_make_valid(copy, (gssize)len);
			g_free(copy);
			copy = valid;
			len = strlen(copy);
		}
		html = copy;
	}

	xmlSetGenericErrorFunc(NULL, html_quiet);
	xmlSetStructuredErrorFunc(NULL, html_quiet_structured);
	doc = htmlReadMemory(html, (int)len, NULL, enc, opts);
	if (doc != NULL) {
		html_walk(&out, (xmlNodePtr)doc);
		xmlFreeDoc(doc);
	}
	g_free(copy);

done:
	/* Trailing white space is layout, not text. */
	while (out.buf->len > 0 && (out.buf->str[out.buf->len - 1] == ' ' ||
				    out.buf->str[out.buf->len - 1] == '\n'))
		g_string_truncate(out.buf, out.buf->len - 1);
	if (out.buf->len > 0 && out.buf->len < max_out)
		g_string_append_c(out.buf, '\n');

	/* libxml2 emits UTF-8, but a guessed charset can still surprise. */
	if (!g_utf8_validate(out.buf->str, (gssize)out.buf->len, NULL)) {
		char *valid =
		    g_utf8_make_valid(out.buf->str, (gssize)out.buf->len);

		g_string_assign(out.buf, valid);
		g_free(valid);
		if (out.buf->len > max_out) {
			size_t cut = max_out;

			while (cut > 0 && ((unsigned char)out.buf->str[cut] &
					   0xC0) == 0x80)
				cut--;
			g_string_truncate(out.buf, cut);
			out.truncated = 1;
		}
	}
	if (truncated_r != NULL)
		*truncated_r = out.truncated;
	return g_string_free(out.buf, FALSE);
}
