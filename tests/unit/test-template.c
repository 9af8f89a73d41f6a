/*
 * test-template.c - template syntax errors, rendering, the 280 limit,
 * value cleaning, and the shipped templates
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "template.h"
#include "unit.h"

#define ELL "\xe2\x80\xa6"

/* Templates that must not load, and the start of the error. */
static const struct {
	const char *text;
	const char *want;
} bad[] = {
    {"Hi {foo}", "t.txt:1: unknown variable {foo} (known: ticket"},
    {"line one\nline two {tickt}", "t.txt:2: unknown variable {tickt}"},
    {"{Ticket}", "t.txt:1: unknown variable {Ticket}"},
    {"{}", "t.txt:1: unknown variable {}"},
    {"\n\n\nref {nope|x}", "t.txt:4: unknown variable {nope}"},
    {"a { ticket", "t.txt:1: unbalanced '{'"},
    {"a {ticket\n}", "t.txt:1: unbalanced '{'"},
    {"a {{ticket}", "t.txt:1: unbalanced '}'"},
    {"a {tic{ket}", "t.txt:1: unbalanced '{'"},
    {"ok\nthen } alone", "t.txt:2: unbalanced '}'"},
    {"ok\n\xff bad", "t.txt:2: invalid UTF-8"},
    {"ok\nx\xc3", "t.txt:2: invalid UTF-8"},
    {"", "t.txt:1: empty template"},
    {" \n\t\n  ", "t.txt:1: empty template"},
    {"a\x01z {ticket}", "t.txt:1: control or invisible character U+0001"},
    {"a\nb\rc {ticket}", "t.txt:2: control or invisible character U+000D"},
    {"x \xe2\x80\xae {ticket}",
     "t.txt:1: control or invisible character U+202E"},
    /* in a fallback too: it goes into the reply as it is */
    {"ok\nHello {first_name|\x1b[31mthere} {ticket}",
     "t.txt:2: control or invisible character U+001B"},
    {"Hello {first_name|a\rb} {ticket}",
     "t.txt:1: control or invisible character U+000D"},
    {"Hello {first_name|\xe2\x80\xae"
     "ereht} {ticket}",
     "t.txt:1: control or invisible character U+202E"},
    {"{ticket}{ticket}{ticket}{ticket}{ticket}{ticket}{ticket}{ticket}"
     "{ticket}",
     "t.txt:1: more than 8 variables"},
    {"Hi {first_name|there there there there there there there}",
     "t.txt:1: fallback of {first_name} longer than 40"},
};

START_TEST(test_bad)
{
	char *err = NULL;
	struct template *t =
	    template_parse(bad[_i].text, strlen(bad[_i].text), "t.txt", &err);

	ck_assert_ptr_null(t);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(g_str_has_prefix(err, bad[_i].want), "got \"%s\"", err);
	g_free(err);
}
END_TEST

/* A NUL byte inside the file is invalid UTF-8 for us, not the end. */
START_TEST(test_nul)
{
	char *err = NULL;

	ck_assert_ptr_null(template_parse("ab\0c {ticket}", 13, "t", &err));
	ck_assert_str_eq(err, "t:1: invalid UTF-8");
	g_free(err);
}
END_TEST

/* Fixed text is limited so that TEMPLATE_MIN_ROOM stays free; the
 * error names the line where the limit is crossed. */
START_TEST(test_room)
{
	GString *s = g_string_new("{ticket}\n");
	char *err = NULL;
	struct template *t;
	size_t limit = TEMPLATE_MAX_CHARS - TEMPLATE_MIN_ROOM;

	/* exactly at the limit: loads ("\n" counts as one character) */
	for (size_t i = s->len - 8; i < limit; i++)
		g_string_append_c(s, 'x');
	t = template_parse(s->str, s->len, "t", &err);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(template_fixed_chars(t), limit);
	template_free(t);
	/* one more, on line 2 */
	g_string_append(s, "\xc3\xa9");
	ck_assert_ptr_null(template_parse(s->str, s->len, "t", &err));
	ck_assert_msg(g_str_has_prefix(err, "t:2: fixed text is 201 "
					    "characters; it must leave at "
					    "least 80 of 280"),
		      "got %s", err);
	g_free(err);
	g_string_free(s, TRUE);
}
END_TEST

/* template_load: the file's path in errors; a missing file */
START_TEST(test_load_file)
{
	char path[] = "/tmp/test-template-XXXXXX";
	int fd = mkstemp(path);
	const char *text = "Hello,\r\nyour ref {ticket}\r\nbye {oops}\r\n";
	char *err = NULL;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	ck_assert_ptr_null(template_load(path, &err));
	ck_assert_ptr_nonnull(err);
	{
		char *want =
		    g_strdup_printf("%s:3: unknown variable {oops}", path);

		ck_assert_msg(g_str_has_prefix(err, want), "got %s", err);
		g_free(want);
	}
	g_free(err);
	err = NULL;
	unlink(path);
	ck_assert_ptr_null(template_load(path, &err));
	ck_assert_msg(g_str_has_prefix(err, path) && strstr(err, "No such"),
		      "got %s", err);
	g_free(err);
}
END_TEST

/* Rendering: values, fallbacks, literal braces, CRLF, trimming. */
static const struct {
	const char *text;
	struct template_vars v;
	const char *want;
} render[] = {
    {"ref {ticket}", {"TR-ABCDEF", NULL, NULL, NULL, NULL}, "ref TR-ABCDEF"},
    {"Hello {first_name|there},",
     {NULL, NULL, "Anna", NULL, NULL},
     "Hello Anna,"},
    {"Hello {first_name|there},",
     {NULL, NULL, NULL, NULL, NULL},
     "Hello there,"},
    {"Hello {first_name|there},",
     {NULL, NULL, " \r\n\t", NULL, NULL},
     "Hello there,"},
    {"Hi{first_name}!", {NULL, NULL, "", NULL, NULL}, "Hi!"},
    {"{{ticket}} is {ticket}",
     {"TR-2", NULL, NULL, NULL, NULL},
     "{ticket} is TR-2"},
    {"a }} b", {NULL, NULL, NULL, NULL, NULL}, "a } b"},
    {"\n\n  line\r\nnext {reply_within}  \n\n",
     {NULL, NULL, NULL, "2 days", NULL},
     "line\nnext 2 days"},
    {"\"{subject}\" from {support_name}",
     {NULL, "x\r\nBcc: evil@x", NULL, NULL, "Ex\x01 Support"},
     "\"x Bcc: evil@x\" from Ex Support"},
    {"{subject|none}",
     {NULL, "\xe2\x80\x8b\xe2\x80\xae", NULL, NULL, NULL},
     "none"},
    {"{subject}{subject}", {NULL, "ab", NULL, NULL, NULL}, "abab"},
};

START_TEST(test_render)
{
	char *err = NULL;
	struct template *t =
	    template_parse(render[_i].text, strlen(render[_i].text), "t", &err);
	char *got;

	ck_assert_msg(t != NULL, "%s", err ? err : "");
	got = template_render(t, &render[_i].v);
	ck_assert_str_eq(got, render[_i].want);
	g_free(got);
	template_free(t);
}
END_TEST

/* Value cleaning: controls, bidi, zero-width, whitespace. */
static const struct {
	const char *in;
	const char *want;
} clean[] = {
    {"plain", "plain"},
    {NULL, ""},
    {"x\r\nBcc: evil@x", "x Bcc: evil@x"},
    {"  lots \t of\n\n space  ", "lots of space"},
    {"a\x01\x1b[31mb\x7f", "a[31mb"},
    {"c1\xc2\x9b"
     "x",
     "c1x"},                         /* U+009B CSI */
    {"nel\xc2\x85line", "nel line"}, /* U+0085 */
    {"ls\xe2\x80\xa8ps\xe2\x80\xa9"
     "end",
     "ls ps end"},                            /* U+2028/9 */
    {"rlo\xe2\x80\xaetxt.exe", "rlotxt.exe"}, /* U+202E */
    {"lre\xe2\x80\xaa"
     "a\xe2\x80\xac",
     "lrea"}, /* U+202A, U+202C */
    {"iso\xe2\x81\xa6"
     "x\xe2\x81\xa9",
     "isox"},                                             /* U+2066, U+2069 */
    {"z\xe2\x80\x8bw\xe2\x80\x8cj\xe2\x80\x8dn", "zwjn"}, /* U+200B-D */
    {"\xef\xbb\xbf"
     "bom\xe2\x81\xa0",
     "bom"},                    /* U+FEFF, U+2060 */
    {"lrm\xe2\x80\x8e", "lrm"}, /* U+200E */
    {"bad\xff"
     "byte",
     "bad\xef\xbf\xbd"
     "byte"},
    {"\xcc\x81"
     "x",
     "x"}, /* a leading combining mark */
    {"caf\x65\xcc\x81 \xf0\x9f\x98\x80 \xe4\xb8\xad",
     "caf\x65\xcc\x81 \xf0\x9f\x98\x80 \xe4\xb8\xad"},
    {"nb\xc2\xa0sp", "nb sp"}, /* U+00A0 */
};

START_TEST(test_clean)
{
	char *got = template_clean_value(clean[_i].in);

	ck_assert_str_eq(got, clean[_i].want);
	g_free(got);
}
END_TEST

/* Shortening: "…" counts, marks stay with their base. */
static const struct {
	const char *in;
	size_t max;
	const char *want;
} shorten[] = {
    {"abcdef", 6, "abcdef"},
    {"abcdef", 4, "abc" ELL},
    {"abcdef", 1, ELL},
    {"abcdef", 0, ""},
    {"ab cdef", 4, "ab" ELL},
    {"e\xcc\x81"
     "e\xcc\x81"
     "e\xcc\x81",
     4, "e\xcc\x81" ELL},
    {"\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97", 2, "\xe4\xb8\xad" ELL},
    {"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 3,
     "\xf0\x9f\x98\x80\xf0\x9f\x98\x80" ELL},
};

START_TEST(test_shorten)
{
	char *got = template_shorten(shorten[_i].in, shorten[_i].max);

	ck_assert_str_eq(got, shorten[_i].want);
	ck_assert_uint_le(g_utf8_strlen(got, -1), shorten[_i].max);
	g_free(got);
}
END_TEST

/* repeat - s repeated n times */
static char *
repeat(const char *s, size_t n)
{
	GString *out = g_string_new(NULL);

	for (size_t i = 0; i < n; i++)
		g_string_append(out, s);
	return g_string_free(out, FALSE);
}

/* Long multibyte values: emoji (4 bytes), CJK (3), combining marks,
 * emoji ZWJ sequences, RTL text with overrides. */
static const struct {
	const char *unit;
	size_t times;
} longs[] = {
    {"\xf0\x9f\x98\xa1", 600},                              /* U+1F621 */
    {"\xe4\xb8\xad\xe6\x96\x87", 700},                      /* CJK */
    {"e\xcc\x81\xcc\xa7", 500},                             /* marks */
    {"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", 300},  /* ZWJ */
    {"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d\xe2\x80\xae ", 400}, /* RTL */
    {"word ", 1000},
};

static const char *const limit_templates[] = {
    "{subject} {first_name} {support_name} {reply_within} {ticket}",
    ("Ref {ticket}. \"{subject}\" \"{subject}\" {support_name}, within "
     "{reply_within}, {first_name|there}."),
    "{ticket}{subject}{ticket}{subject}{ticket}{subject}{ticket}{subject}",
};

START_TEST(test_limit)
{
	char *err = NULL;
	size_t which = (size_t)_i / G_N_ELEMENTS(longs);
	size_t k = (size_t)_i % G_N_ELEMENTS(longs);
	const char *text = limit_templates[which];
	struct template *t = template_parse(text, strlen(text), "t", &err);
	char *big = repeat(longs[k].unit, longs[k].times);
	struct template_vars v = {"TR-4F7K2Q", big, big, big, big};
	char *got;

	ck_assert_ptr_nonnull(t);
	got = template_render(t, &v);
	ck_assert_msg(g_utf8_validate(got, -1, NULL), "invalid UTF-8");
	ck_assert_uint_le(g_utf8_strlen(got, -1), TEMPLATE_MAX_CHARS);
	/* the room is used, not thrown away */
	ck_assert_uint_ge(g_utf8_strlen(got, -1), TEMPLATE_MAX_CHARS - 20);
	ck_assert_ptr_nonnull(strstr(got, "TR-4F7K2Q"));
	ck_assert_ptr_nonnull(strstr(got, ELL));
	ck_assert_ptr_null(strstr(got, "\xe2\x80\xae"));
	g_free(got);
	g_free(big);
	template_free(t);
}
END_TEST

/* Longest first, fairly: two long values end equally long, the short
 * ones are untouched. */
START_TEST(test_fair)
{
	const char *text = "{subject}|{support_name}|{ticket}|{reply_within}";
	struct template *t = template_parse(text, strlen(text), "t", NULL);
	char *a = repeat("a", 500), *b = repeat("\xe6\x96\x87", 300);
	struct template_vars v = {"TR-4F7K2Q", a, NULL, "two days", b};
	char *got = template_render(t, &v);
	char **f = g_strsplit(got, "|", -1);

	ck_assert_uint_eq(g_strv_length(f), 4);
	ck_assert_uint_eq(g_utf8_strlen(f[0], -1), g_utf8_strlen(f[1], -1));
	ck_assert_str_eq(f[2], "TR-4F7K2Q");
	ck_assert_str_eq(f[3], "two days");
	ck_assert(g_str_has_suffix(f[0], ELL));
	ck_assert(g_str_has_suffix(f[1], ELL));
	ck_assert_uint_le(g_utf8_strlen(got, -1), TEMPLATE_MAX_CHARS);
	/* (280 - 3 fixed - 9 - 8) / 2 */
	ck_assert_uint_eq(g_utf8_strlen(f[0], -1), 130);
	g_strfreev(f);
	g_free(got);
	g_free(a);
	g_free(b);
	template_free(t);
}
END_TEST

static const char *const shipped[] = {"general", "legal", "abusive"};

/* The shipped templates load, leave room, and render within 280 with
 * hostile long values and with empty ones. */
START_TEST(test_shipped)
{
	char *path = g_strdup_printf("%s/conf/templates/%s.txt", UNIT_FILE(x),
				     shipped[_i]);
	char *err = NULL;
	struct template *t = template_load(path, &err);
	char *big = repeat("\xf0\x9f\x98\xa1 \xe4\xb8\xad", 400);
	struct template_vars full = {"TR-4F7K2Q", big, big, "one business day",
				     big};
	struct template_vars none = {"TR-4F7K2Q", NULL, NULL, "one day",
				     "Example Support"};
	char *got;

	ck_assert_msg(t != NULL, "%s", err ? err : "");
	ck_assert_uint_le(template_fixed_chars(t),
			  TEMPLATE_MAX_CHARS - TEMPLATE_MIN_ROOM);
	got = template_render(t, &full);
	ck_assert_uint_le(g_utf8_strlen(got, -1), TEMPLATE_MAX_CHARS);
	ck_assert_ptr_nonnull(strstr(got, "TR-4F7K2Q"));
	ck_assert_ptr_nonnull(strstr(got, "one business day"));
	g_free(got);
	got = template_render(t, &none);
	ck_assert_ptr_nonnull(strstr(got, "TR-4F7K2Q"));
	ck_assert_ptr_null(strstr(got, "{"));
	ck_assert_ptr_null(strstr(got, "\"\""));
	ck_assert_ptr_null(strstr(got, " ,"));
	g_free(got);
	template_free(t);
	g_free(big);
	g_free(path);
}
END_TEST

/* template_suite - the cases */
static Suite *
template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_bad, 0, G_N_ELEMENTS(bad));
	tcase_add_test(tc, test_nul);
	tcase_add_test(tc, test_room);
	tcase_add_test(tc, test_load_file);
	tcase_add_loop_test(tc, test_render, 0, G_N_ELEMENTS(render));
	tcase_add_loop_test(tc, test_clean, 0, G_N_ELEMENTS(clean));
	tcase_add_loop_test(tc, test_shorten, 0, G_N_ELEMENTS(shorten));
	tcase_add_loop_test(tc, test_limit, 0,
			    G_N_ELEMENTS(longs) *
				G_N_ELEMENTS(limit_templates));
	tcase_add_test(tc, test_fair);
	tcase_add_loop_test(tc, test_shipped, 0, G_N_ELEMENTS(shipped));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(template_suite)
