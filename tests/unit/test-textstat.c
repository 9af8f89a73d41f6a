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

static Suite *
textstat_suite(void)
{
	Suite *s = suite_create("textstat");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_textstat_case, 0,
			    (int)G_N_ELEMENTS(textstat_cases));
	tcase_add_test(tc, test_textstat_overwrites);
	tcase_add_test(tc, test_textstat_len_bounds);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(textstat_suite)
