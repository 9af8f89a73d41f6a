/*
 * test-html.c - HTML to plain text
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "unit.h"
#include "html.h"

struct html_case {
	const char *name;
	const char *html;
	const char *charset;
	const char *want;
};

static const struct html_case html_cases[] = {
    {"empty", "", NULL, ""},
    {"plain text", "hello world", NULL, "hello world\n"},
    {"script and style dropped",
     "<html><head><style>p{}</style><script>var x='secret';</script>"
     "</head><body><p>visible</p><script>alert('no')</script></body>"
     "</html>",
     NULL, "visible\n"},
    {"title dropped", "<title>Title</title><p>body</p>", NULL, "body\n"},
    {"entities decoded",
     "<p>Tom &amp; Jerry &lt;3 caf&eacute; &#8220;hi&#8221; &hellip;</p>",
     "UTF-8",
     "Tom & Jerry <3 caf\xC3\xA9 \xE2\x80\x9Chi\xE2\x80\x9D "
     "\xE2\x80\xA6\n"},
    {"white space collapsed", "<p>a   b\n\tc</p>", NULL, "a b c\n"},
    {"paragraphs get a blank line", "<p>one</p><p>two</p>", NULL,
     "one\n\ntwo\n"},
    {"divs end lines", "<div>one</div><div>two</div>", NULL, "one\ntwo\n"},
    {"gmail empty div is a blank line",
     "<div>one</div><div><br></div><div>two</div>", NULL, "one\n\ntwo\n"},
    {"br ends a line", "a<br>b<br/>c", NULL, "a\nb\nc\n"},
    {"inline elements join", "<b>bo</b><i>ld</i> <u>x</u>", NULL, "bold x\n"},
    {"blockquote quoted", "<p>new</p><blockquote>old<br>older</blockquote>",
     NULL, "new\n\n> old\n> older\n"},
    {"nested blockquote",
     "<blockquote>a<blockquote>b</blockquote></blockquote><p>c</p>", NULL,
     "> a\n>\n> > b\n\nc\n"},
    {"hidden preheader dropped",
     "<span style=\"display: none !important\">pre</span><p>shown</p>", NULL,
     "shown\n"},
    {"table cells separated",
     "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", NULL,
     "a b\nc\n"},
    {"list items on lines", "<ul><li>one<li>two</ul>", NULL, "one\ntwo\n"},
    {"pre keeps white space", "<pre>a  b\nc</pre>", NULL, "a  b\nc\n"},
    {"broken markup recovered",
     "<p>unclosed <b>bold<div>next</div></i>after<table><td>cell", NULL,
     "unclosed bold\nnext\nafter\n\ncell\n"},
    {"comments dropped", "a<!-- hidden -->b", NULL, "ab\n"},
    {"latin1 declared", "<p>caf\xE9</p>", "ISO-8859-1", "caf\xC3\xA9\n"},
    {"unknown charset guessed", "<p>caf\xC3\xA9</p>", "x-bogus-charset",
     "caf\xC3\xA9\n"},
    {"invalid utf-8 repaired",
     "<p>ab\xFF"
     "cd</p><p>rest</p>",
     "UTF-8",
     "ab\xEF\xBF\xBD"
     "cd\n\nrest\n"},
    {"meta charset honoured", "<meta charset=\"iso-8859-1\"><p>\xE9t\xE9</p>",
     NULL, "\xC3\xA9t\xC3\xA9\n"},
};

/* test_html_case - one row of the table */
START_TEST(test_html_case)
{
	const struct html_case *c = &html_cases[_i];
	int trunc = -1;
	char *out =
	    html_to_text(c->html, strlen(c->html), c->charset, 4096, &trunc);

	ck_assert_msg(strcmp(out, c->want) == 0, "%s: got\n[%s]\nwant\n[%s]",
		      c->name, out, c->want);
	ck_assert_msg(trunc == 0, "%s: truncated", c->name);
	g_free(out);
}
END_TEST

/* test_html_nul - a NUL byte does not end the document */
START_TEST(test_html_nul)
{
	static const char html[] = "<p>before\0after</p><p>end</p>";
	char *out = html_to_text(html, sizeof(html) - 1, "UTF-8", 4096, NULL);

	ck_assert_str_eq(out, "before after\n\nend\n");
	g_free(out);
}
END_TEST

/* test_html_max_out - output bounded, cut on a character boundary */
START_TEST(test_html_max_out)
{
	GString *html = g_string_new("<p>");
	int trunc = 0;
	char *out;

	for (int i = 0; i < 1000; i++)
		g_string_append(html, "\xC3\xA9t\xC3\xA9 ");
	g_string_append(html, "</p>");
	out = html_to_text(html->str, html->len, "UTF-8", 101, &trunc);
	ck_assert_int_eq(trunc, 1);
	ck_assert_uint_le(strlen(out), 101);
	ck_assert_uint_ge(strlen(out), 97);
	ck_assert(g_utf8_validate(out, -1, NULL));
	g_free(out);
	g_string_free(html, TRUE);
}
END_TEST

/* test_html_deep - deep nesting neither crashes nor loses the text */
START_TEST(test_html_deep)
{
	GString *html = g_string_new(NULL);
	char *out;

	for (int i = 0; i < 100000; i++)
		g_string_append(html, "<div><span>");
	g_string_append(html, "deep text");
	out = html_to_text(html->str, html->len, NULL, 4096, NULL);
	/* libxml2 caps depth; what it kept must still be plain text */
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_null(strchr(out, '<'));
	g_free(out);
	g_string_free(html, TRUE);
}
END_TEST

/* test_html_quiet - nothing on stderr for broken markup */
START_TEST(test_html_quiet)
{
	static const char html[] = "<p><<<>>&bogus;</x></y><td></table>\xFF";
	char path[] = "/tmp/test-html-XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(2);
	char *out;
	long size;
	FILE *f;

	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	out = html_to_text(html, sizeof(html) - 1, "UTF-8", 4096, NULL);
	out = (g_free(out),
	       html_to_text(html, sizeof(html) - 1, NULL, 4096, NULL));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	unlink(path);
	g_free(out);
	ck_assert_int_eq(size, 0);
}
END_TEST

static Suite *
html_suite(void)
{
	Suite *s = suite_create("html");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_html_case, 0,
			    (int)G_N_ELEMENTS(html_cases));
	tcase_add_test(tc, test_html_nul);
	tcase_add_test(tc, test_html_max_out);
	tcase_add_test(tc, test_html_deep);
	tcase_add_test(tc, test_html_quiet);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(html_suite)
