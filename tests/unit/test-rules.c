/*
 * test-rules.c - rule files: every load error with its file:line, cross-file
 * references, categories and the examples check
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "rules.h"
#include "unit.h"

/* write_file - put text in dir/name; returns the path */
static char *
write_file(const char *dir, const char *name, const char *text)
{
	char *path = g_build_filename(dir, name, NULL);

	ck_assert(g_file_set_contents(path, text, -1, NULL));
	return path;
}

/* rm_dir - remove a test directory and the files put in it */
static void
rm_dir(char *dir)
{
	const char *names[] = {"t.rules", "u.rules", "lex.txt"};

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		char *p = g_build_filename(dir, names[i], NULL);

		unlink(p);
		g_free(p);
	}
	rmdir(dir);
	g_free(dir);
}

#define OK_RULE "rule OK {\n category = \"x\"\n phrases = {\"ok\"}\n}\n"

/* Each bad rule file must fail with "path:LINE: ..." holding WHAT. */
static const struct {
	const char *text;
	int line;
	const char *what;
} bad[] = {
    {"# c\n// d\n/* e\n*/\nrule bad_name {\n category = \"x\"\n"
     " phrases = {\"a\"}\n}\n",
     5, "UPPER_SNAKE"},
    {"rule A {\n category = \"x\"\n phrasez = {\"a\"}\n}\n", 3, "phrasez"},
    {OK_RULE "# again\nrule OK {\n category = \"x\"\n"
	     " phrases = {\"b\"}\n}\n",
     6, "duplicate"},
    {"rule A {\n category = \"x\"\n\n near = {\"OK\", \"NOPE\"}\n}\n" OK_RULE,
     4, "unknown rule \"NOPE\""},
    {"rule A {\n category = \"x\"\n all = {\"B\"}\n}\n"
     "rule B {\n category = \"x\"\n any = {\"A\"}\n}\n",
     1, "cycle"},
    {"rule A {\n category = \"x\"\n all = {\"A\"}\n}\n", 3, "itself"},
    {"rule A {\n category = \"x\"\n # the regex:\n regex = \"(abc\"\n}\n", 4,
     "offset 4"},
    {"rule A {\n category = \"x\"\n phrases = {\"ok\", \"{0,3} sue\"}\n}\n", 3,
     "gap must stand"},
    {"rule A {\n category = \"x\"\n phrases = {\"sue {0,3}\"}\n}\n", 3,
     "gap must stand"},
    {"rule A {\n category = \"x\"\n phrases = {\"sue {5,2} you\"}\n}\n", 3,
     "bad gap"},
    {"rule A {\n category = \"x\"\n phrases = {\"sue {0,99} you\"}\n}\n", 3,
     "bad gap"},
    {"rule A {\n category = \"x\"\n phrases = {\"sue {x} you\"}\n}\n", 3,
     "bad gap"},
    {"rule A {\n category = \"x\"\n phrases = {\"s*e\"}\n}\n", 3,
     "may only end"},
    {"rule A {\n category = \"x\"\n phrases = {\"s*\"}\n}\n", 3, "stem"},
    {"rule A {\n category = \"x\"\n phrases = {\"  \"}\n}\n", 3, "no words"},
    {"rule A {\n category = \"x\"\n phrases = {\"...\"}\n}\n", 3,
     "nothing to match"},
    {"rule A {\n category = \"x\"\n lexicon = \"nope.txt\"\n}\n", 3,
     "lexicon \"nope.txt\""},
    {"rule A {\n category = \"x\"\n score = 2\n}\n", 1, "nothing to match"},
    {"rule A {\n category = \"x\"\n phrases = {\"a\"}\n regex = \"a\"\n}\n", 1,
     "more than one kind"},
    {"rule A {\n phrases = {\"a\"}\n}\n", 1, "category is required"},
    {"rule A {\n category = \"x\"\n near = {\"OK\"}\n}\n" OK_RULE, 3,
     "exactly two"},
    {"rule A {\n category = \"x\"\n near = {\"OK\", \"M\"}\n}\n" OK_RULE
     "rule M {\n category = \"x\"\n any = {\"OK\"}\n}\n",
     3, "no word positions"},
    {"rule A {\n category = \"x\"\n phrases = {\"a\"}\n"
     " header = \"Subject\"\n}\n",
     4, "header needs regex"},
    {"rule A {\n category = \"x\"\n phrases = {\"a\"}\n within = 2\n}\n", 4,
     "within needs near"},
    {"rule A {\n category = \"x\"\n phrases = {\"a\"}\n negation = 11\n}\n", 4,
     "negation = 11"},
    {"rule A {\n category = \"x\"\n any = {\"OK\"}\n negation = 2\n}\n" OK_RULE,
     4, "negation applies"},
    {"rule A {\n category = \"x\"\n shout_ratio = 2\n}\n", 3, "shout_ratio"},
    {"rule A {\n category = \"x\"\n caps_words = 3\n bang_runs = -1\n}\n", 4,
     "bang_runs must be 0"},
    {"rule A {\n category = \"x\"\n shout_min_letters = -5\n}\n", 3,
     "shout_min_letters must be 0"},
    {"rule A {\n category = \"x\"\n phrases = {\"a\",, \"b\"}\n}\n", 3,
     "unexpected token"},
};

START_TEST(test_load_errors)
{
	char *dir = g_dir_make_tmp("test-rules-XXXXXX", NULL);
	char *path = write_file(dir, "t.rules", bad[_i].text);
	char *files[] = {path};
	char *err = NULL, *want;
	struct rule_set *rs = rules_load(files, 1, &err);

	ck_assert_msg(rs == NULL, "case %d loaded", _i);
	ck_assert_ptr_nonnull(err);
	want = g_strdup_printf("%s:%d: ", path, bad[_i].line);
	ck_assert_msg(g_str_has_prefix(err, want), "want \"%s\", got \"%s\"",
		      want, err);
	ck_assert_msg(strstr(err, bad[_i].what) != NULL,
		      "want \"%s\" in \"%s\"", bad[_i].what, err);
	g_free(want);
	g_free(err);
	g_free(path);
	rm_dir(dir);
}
END_TEST

START_TEST(test_lexicon_error_line)
{
	char *dir = g_dir_make_tmp("test-rules-XXXXXX", NULL);
	char *path = write_file(dir, "t.rules",
				"rule A {\n category = \"x\"\n"
				" lexicon = \"lex.txt\"\n}\n");
	char *lex = write_file(dir, "lex.txt", "good # fine\n# c\n{1,2} bad\n");
	char *files[] = {path};
	char *err = NULL, *want = g_strdup_printf("%s:3: ", lex);

	ck_assert_ptr_null(rules_load(files, 1, &err));
	ck_assert_msg(g_str_has_prefix(err, want), "got %s", err);
	g_free(err);
	g_free(want);
	g_free(lex);
	g_free(path);
	rm_dir(dir);
}
END_TEST

START_TEST(test_duplicate_across_files)
{
	char *dir = g_dir_make_tmp("test-rules-XXXXXX", NULL);
	char *t = write_file(dir, "t.rules", OK_RULE);
	char *u = write_file(dir, "u.rules", "\n\n" OK_RULE);
	char *files[] = {t, u};
	char *err = NULL;
	char *want =
	    g_strdup_printf("%s:3: duplicate rule OK (first at %s:1)", u, t);

	ck_assert_ptr_null(rules_load(files, 2, &err));
	ck_assert_str_eq(err, want);
	g_free(err);
	g_free(want);
	g_free(t);
	g_free(u);
	rm_dir(dir);
}
END_TEST

START_TEST(test_missing_file)
{
	static char missing[] = "/nonexistent/x.rules";
	char *files[] = {missing};
	char *err = NULL;

	ck_assert_ptr_null(rules_load(files, 1, &err));
	ck_assert(g_str_has_prefix(err, "/nonexistent/x.rules: "));
	g_free(err);
}
END_TEST

START_TEST(test_good_set)
{
	char *path = g_build_filename(UNIT_FILE(), "tests/unit/rules",
				      "classify.rules", NULL);
	char *files[] = {path};
	char *err = NULL;
	struct rule_set *rs = rules_load(files, 1, &err);
	const char **cats;
	static const char *const want[] = {"legal",  "abusive", "profanity",
					   "public", "meta",    "shouting"};
	GString *report = g_string_new(NULL);

	ck_assert_msg(rs != NULL, "load: %s", err);
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(rules_count(rs), 15);
	ck_assert_uint_eq(rules_categories(rs, &cats), G_N_ELEMENTS(want));
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
		ck_assert_str_eq(cats[i], want[i]);
	ck_assert_ptr_null(cats[G_N_ELEMENTS(want)]);
	ck_assert_uint_eq(rules_check_examples(rs, report), 0);
	ck_assert_str_eq(report->str, "");
	g_string_free(report, TRUE);
	ck_assert_ptr_null(rules_free(rs));
	g_free(path);
}
END_TEST

START_TEST(test_examples_report)
{
	char *path = g_build_filename(UNIT_FILE(), "tests/unit/rules",
				      "examples.rules", NULL);
	char *files[] = {path};
	char *err = NULL, *want;
	struct rule_set *rs = rules_load(files, 1, &err);
	GString *report = g_string_new(NULL);

	ck_assert_msg(rs != NULL, "load: %s", err);
	ck_assert_uint_eq(rules_check_examples(rs, report), 1);
	want = g_strdup_printf("%s:5: LEGAL_COURT: example \"I love my cat\" "
			       "did not fire\n",
			       path);
	ck_assert_str_eq(report->str, want);
	g_free(want);
	g_string_free(report, TRUE);
	rules_free(rs);
	g_free(path);
}
END_TEST

START_TEST(test_counterexample_report)
{
	char *dir = g_dir_make_tmp("test-rules-XXXXXX", NULL);
	char *path = write_file(dir, "t.rules",
				"rule __A {\n phrases = {\"cat\"}\n"
				" counterexamples = {\"a dog\",\n"
				"  \"a CAT\"}\n}\n");
	char *files[] = {path};
	char *err = NULL, *want;
	struct rule_set *rs = rules_load(files, 1, &err);
	GString *report = g_string_new(NULL);

	ck_assert_msg(rs != NULL, "load: %s", err);
	ck_assert_uint_eq(rules_categories(rs, &(const char **){NULL}), 0);
	ck_assert_uint_eq(rules_check_examples(rs, report), 1);
	want = g_strdup_printf("%s:3: __A: counterexample \"a CAT\" fired\n",
			       path);
	ck_assert_str_eq(report->str, want);
	g_free(want);
	g_string_free(report, TRUE);
	rules_free(rs);
	g_free(path);
	rm_dir(dir);
}
END_TEST

/* rules_suite - the rule-file tests */
static Suite *
rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_load_errors, 0, G_N_ELEMENTS(bad));
	tcase_add_test(tc, test_lexicon_error_line);
	tcase_add_test(tc, test_duplicate_across_files);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_good_set);
	tcase_add_test(tc, test_examples_report);
	tcase_add_test(tc, test_counterexample_report);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(rules_suite)
