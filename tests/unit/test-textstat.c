/*
 * test-textstat.c - word, paragraph, line and character counts
 */
#include <string.h>

#include <glib.h>

#include "unit.h"
#include "textstat.h"

struct textstat_case {
	const char *name;
	const char *text;
	size_t words, paragraphs, lines, chars;
};

static const struct textstat_case textstat_cases[] = {
    {"empty", "", 0, 0, 0, 0},
    {"blank lines only", "\n \n\t\n", 0, 0, 0, 5},
    {"one word", "hello", 1, 1, 1, 5},
    {"two words one line", "hello world\n", 2, 1, 1, 12},
    {"apostrophe inside", "don't stop", 2, 1, 1, 10},
    {"curly apostrophe", "I\xE2\x80\x99m here", 2, 1, 1, 8},
    {"hyphen inside", "e-mail me", 2, 1, 1, 9},
    {"dash between words", "yes - no", 2, 1, 1, 8},
    {"trailing apostrophe", "the boys' toys", 3, 1, 1, 14},
    {"digits are words", "order 12345 of 3", 4, 1, 1, 16},
    {"punctuation splits", "a,b.c!d", 4, 1, 1, 7},
    {"two paragraphs", "one two\nthree\n\nfour\n", 4, 2, 3, 20},
    {"whitespace-only line separates", "a\n  \t\nb", 2, 2, 2, 7},
    {"many blank lines", "a\n\n\n\nb\n\n", 2, 2, 2, 8},
    {"wordless block is no paragraph", "a\n\n----\n\nb", 2, 2, 3, 10},
    {"accented letters", "caf\xC3\xA9 na\xC3\xAFve", 2, 1, 1, 10},
    {"combining accent", "cafe\xCC\x81 bar", 2, 1, 1, 9},
    {"cjk", "\xE3\x81\x93\xE3\x82\x93 \xE3\x81\xAB", 2, 1, 1, 4},
    {"invalid byte",
     "ab\xFF"
     "cd",
     2, 1, 1, 5},
    {"emoji is not a word", "ok \xF0\x9F\x98\x80 ok", 2, 1, 1, 7},
};

/* test_textstat_case - one row of the table */
START_TEST(test_textstat_case)
{
	const struct textstat_case *c = &textstat_cases[_i];
	struct textstat ts;

	textstat_count(c->text, strlen(c->text), &ts);
	ck_assert_msg(ts.words == c->words, "%s: words %zu, want %zu", c->name,
		      ts.words, c->words);
	ck_assert_msg(ts.paragraphs == c->paragraphs,
		      "%s: paragraphs %zu, want %zu", c->name, ts.paragraphs,
		      c->paragraphs);
	ck_assert_msg(ts.lines == c->lines, "%s: lines %zu, want %zu", c->name,
		      ts.lines, c->lines);
	ck_assert_msg(ts.chars == c->chars, "%s: chars %zu, want %zu", c->name,
		      ts.chars, c->chars);
}
END_TEST

/* test_textstat_overwrites - old contents of the result never leak */
START_TEST(test_textstat_overwrites)
{
	struct textstat ts;

	memset(&ts, 0x5a, sizeof(ts));
	textstat_count("", 0, &ts);
	ck_assert_uint_eq(ts.words, 0);
	ck_assert_uint_eq(ts.paragraphs, 0);
	ck_assert_uint_eq(ts.lines, 0);
	ck_assert_uint_eq(ts.chars, 0);
}
END_TEST

/* test_textstat_len_bounds - only len bytes are read */
START_TEST(test_textstat_len_bounds)
{
	struct textstat ts;

	textstat_count("one two three", 7, &ts);
	ck_assert_uint_eq(ts.words, 2);
	ck_assert_uint_eq(ts.chars, 7);
}
END_TEST

/*
 * The reference: the counter as it was before its ASCII table, every
 * character through GLib.  The fast path must agree with it on any input.
 */
static int
ref_is_word_char(gunichar c)
{
	if (g_unichar_isalnum(c))
		return 1;
	switch (g_unichar_type(c)) {
	case G_UNICODE_NON_SPACING_MARK:
	case G_UNICODE_SPACING_MARK:
	case G_UNICODE_ENCLOSING_MARK:
		return 1;
	default:
		return 0;
	}
}

static int
ref_is_joiner(gunichar c)
{
	return c == '\'' || c == '-' || c == 0x2019 || c == 0x2010;
}

static gunichar
ref_next(const char *p, const char *end, const char **next_r)
{
	gunichar c = g_utf8_get_char_validated(p, end - p);

	if (c == (gunichar)-1 || c == (gunichar)-2) {
		*next_r = p + 1;
		return 0xFFFD;
	}
	*next_r = p + g_utf8_skip[*(const guchar *)p];
	if (*next_r > end)
		*next_r = end;
	return c;
}

static void
ref_count(const char *text, size_t len, struct textstat *ts)
{
	const char *p = text;
	const char *end = text + len;
	int in_word = 0, line_blank = 1, line_has_word = 0, para_open = 0;

	memset(ts, 0, sizeof(*ts));
	while (p < end) {
		const char *next;
		gunichar c = ref_next(p, end, &next);

		ts->chars++;
		if (c == '\n') {
			if (!line_blank)
				ts->lines++;
			else
				para_open = 0;
			line_blank = 1;
			line_has_word = 0;
			in_word = 0;
			p = next;
			continue;
		}
		if (!g_unichar_isspace(c))
			line_blank = 0;
		if (ref_is_word_char(c)) {
			if (!in_word) {
				ts->words++;
				in_word = 1;
			}
			if (!line_has_word) {
				line_has_word = 1;
				if (!para_open) {
					ts->paragraphs++;
					para_open = 1;
				}
			}
		} else if (in_word && ref_is_joiner(c) && next < end) {
			const char *after;

			if (!ref_is_word_char(ref_next(next, end, &after)))
				in_word = 0;
		} else {
			in_word = 0;
		}
		p = next;
	}
	if (!line_blank)
		ts->lines++;
}

/* same_as_ref - textstat_count() and the reference agree on s */
static void
same_as_ref(const char *s, size_t len)
{
	struct textstat a, b;
	char *shown;

	textstat_count(s, len, &a);
	ref_count(s, len, &b);
	if (a.words == b.words && a.paragraphs == b.paragraphs &&
	    a.lines == b.lines && a.chars == b.chars)
		return;
	shown = g_strescape(s, NULL); /* stops at a NUL: enough to find it */
	ck_abort_msg("\"%s\" (%zu bytes): got %zu/%zu/%zu/%zu, reference "
		     "%zu/%zu/%zu/%zu",
		     shown, len, a.words, a.paragraphs, a.lines, a.chars,
		     b.words, b.paragraphs, b.lines, b.chars);
	g_free(shown);
}

/* test_textstat_ascii_table - every ASCII byte, in every position, counts
 * as GLib says (the table of the fast path holds GLib's answers) */
START_TEST(test_textstat_ascii_table)
{
	static const char *const frames[][2] = {
	    {"", ""},     {"a", ""},      {"", "a"},    {"a", "b"},
	    {"\n", "\n"}, {"a\n", "\nb"}, {"don", "t"}, {" x", " "},
	};

	for (unsigned c = 0; c < 0x100; c++) {
		for (size_t f = 0; f < G_N_ELEMENTS(frames); f++) {
			char buf[16];
			size_t l1 = strlen(frames[f][0]);
			size_t l2 = strlen(frames[f][1]);

			memcpy(buf, frames[f][0], l1);
			buf[l1] = (char)c;
			memcpy(buf + l1 + 1, frames[f][1], l2);
			buf[l1 + 1 + l2] = '\0';
			same_as_ref(buf, l1 + 1 + l2);
		}
	}
}
END_TEST

/* test_textstat_mixed - random mixes of ASCII, other scripts, marks,
 * joiners, blank lines and broken UTF-8 count as the reference does */
START_TEST(test_textstat_mixed)
{
	static const char *const atoms[] = {
	    "a",
	    "Z",
	    "7",
	    " ",
	    "\t",
	    "\n",
	    "\n\n",
	    "\r\n",
	    "\v",
	    "\f",
	    "'",
	    "-",
	    "--",
	    "don't",
	    "e-mail",
	    ".",
	    "!",
	    "\xE2\x80\x99", /* ’ */
	    "\xE2\x80\x90", /* ‐ */
	    "caf\xC3\xA9",
	    "e\xCC\x81",                /* e + acute */
	    "\xD0\xBF\xD1\x80\xD0\xB8", /* при */
	    "\xE6\x97\xA5",             /* 日 */
	    "\xC2\xA0",                 /* no-break space */
	    "\xE2\x80\x83",             /* em space */
	    "\xE2\x80\xA8",             /* line separator */
	    "\xF0\x9F\x98\x80",         /* emoji */
	    "\xEF\xBC\xA1",             /* fullwidth A */
	    "\xFF",
	    "\xC3",
	    "\xE2\x80", /* broken */
	    "\x01",
	    "\x7F",
	};
	GRand *rnd = g_rand_new_with_seed(20261122);

	for (int n = 0; n < 20000; n++) {
		GString *s = g_string_new(NULL);
		int atoms_n = g_rand_int_range(rnd, 1, 40);

		for (int k = 0; k < atoms_n; k++)
			g_string_append(s, atoms[g_rand_int_range(
					       rnd, 0, G_N_ELEMENTS(atoms))]);
		/* a NUL now and then: an invalid byte to GLib */
		if (g_rand_int_range(rnd, 0, 10) == 0)
			s->str[g_rand_int_range(rnd, 0, (gint32)s->len)] = '\0';
		same_as_ref(s->str, s->len);
		g_string_free(s, TRUE);
	}
	g_rand_free(rnd);
}
END_TEST

static Suite *
textstat_suite(void)
{
	Suite *s = suite_create("textstat");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_textstat_case, 0,
			    (int)G_N_ELEMENTS(textstat_cases));
	tcase_add_test(tc, test_textstat_overwrites);
	tcase_add_test(tc, test_textstat_len_bounds);
	tcase_add_test(tc, test_textstat_ascii_table);
	tcase_add_test(tc, test_textstat_mixed);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(textstat_suite)
