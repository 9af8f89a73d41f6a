/*
 * test-classify.c - the matcher: phrases, wildcards, gaps, lexicons, near,
 * negation, all/any/not, header and body regexes, limits, obfuscation
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gstdio.h>

#define RULES_INTERNAL /* the lead-word test looks at rule_set.rule */
#include "classify.h"
#include "normalize.h"
#include "rules.h"
#include "unit.h"

static struct rule_set *rs;

/* load_fixture - tests/unit/rules/classify.rules, once per test */
static void
load_fixture(void)
{
	char *path = g_build_filename(UNIT_FILE(), "tests/unit/rules",
				      "classify.rules", NULL);
	char *files[] = {path};
	char *err = NULL;

	rs = rules_load(files, 1, &err);
	ck_assert_msg(rs != NULL, "load: %s", err);
	g_free(path);
}

/* unload_fixture - free the rule set */
static void
unload_fixture(void)
{
	rs = rules_free(rs);
}

/* Does RULE fire on TEXT? */
static const struct {
	const char *rule;
	const char *text;
	int fires;
} cases[] = {
    /* phrases: case, punctuation and line breaks do not matter */
    {"LEGAL_SUE", "I will SUE!", 1},
    {"LEGAL_SUE", "we will be\nsuing soon", 1},
    {"LEGAL_SUE", "I pursue my goals", 0},
    {"LEGAL_SUE", "take\tyou to court", 1},
    {"LEGAL_SUE", "take you. To court", 0}, /* phrases stay in a sentence */
    /* wildcard: prefix only */
    {"LEGAL_SUE", "we filed a lawsuit", 1},
    {"LEGAL_SUE", "we will FILE a lawsuit", 1},
    {"LEGAL_SUE", "we are filing a lawsuit", 0}, /* a stem, not a stemmer */
    {"LEGAL_SUE", "a profile a lawsuit", 0},
    {"LEGAL_LAWYER", "my lawyers will call", 1},
    {"LEGAL_LAWYER", "the law is clear", 0},
    /* gaps {0,3} */
    {"LEGAL_SUE_COMPANY", "sue company", 1},
    {"LEGAL_SUE_COMPANY", "sue your lousy company", 1},
    {"LEGAL_SUE_COMPANY", "sue you and your company", 1},
    {"LEGAL_SUE_COMPANY", "sue you and your whole stupid company", 0},
    /* lexicon through near */
    {"ABUSE_INSULT_YOU", "you are useless idiots", 1},
    {"ABUSE_INSULT_YOU", "You complete MORON", 1},
    {"ABUSE_INSULT_YOU", "what a piece of shit you are", 1},
    {"ABUSE_INSULT_YOU", "this damn printer", 0},
    {"ABUSE_INSULT_YOU", "you are, I think, really a total idiot", 0},
    {"ABUSE_INSULT_YOU", "Thank you. Idiots at the depot lost it", 0},
    {"ABUSE_INSULT_YOU", "you are not an idiot", 0},
    /* obfuscation: masked, stretched, leet, separated */
    {"PROFANITY", "f*ck this", 1},
    {"PROFANITY", "what a load of sh*t", 1},
    {"PROFANITY", "what a load of sh!t", 1},
    {"PROFANITY", "f**king hell", 1},
    {"PROFANITY", "****", 0},
    {"PROFANITY", "fuuuuuck", 1},
    {"PROFANITY", "F.U.C.K", 1},
    {"PROFANITY", "the shot was good", 0},
    {"ABUSE_INSULT_YOU", "you stupiddd", 1},
    {"ABUSE_INSULT_YOU", "u 1d10t", 1},
    {"ABUSE_INSULT_YOU", "you cl0wwwns", 1},
    /* negation */
    {"LEGAL_SUE", "I am not going to sue", 0},
    {"LEGAL_SUE", "I don't want to sue", 0},
    {"LEGAL_SUE", "I will not hesitate to sue", 1},
    /* a negated condition is not a denial */
    {"LEGAL_SUE", "if you don't refund I sue", 1},
    {"LEGAL_SUE", "I don't think we will sue", 0},
    {"LEGAL_SUE", "I have zero plans to sue", 0},
    {"LEGAL_SUE", "not only will I sue", 1},
    {"LEGAL_SUE", "Do not ignore this or I will sue", 1},
    {"LEGAL_SUE", "If you don't refund me, I will sue", 1},
    {"LEGAL_SUE", "I won't stop until I sue", 1},
    {"LEGAL_SUE", "I will never. Sue them now", 1},
    {"LEGAL_SUE", "not that I would ever sue", 1}, /* reach is 4 */
    {"LEGAL_LAWYER", "no need for lawyers", 0},
    {"LEGAL_LAWYER", "no time, so we called our lawyers", 1},
    {"LEGAL_NONEG", "not small claims", 1}, /* negation = 0 */
    {"PUBLIC_REVIEW", "I won't post a bad review", 0},
    {"PUBLIC_REVIEW", "I will post a bad review", 1},
    {"PUBLIC_REVIEW", "I cant post my review", 0},
    /* all / any / not */
    {"META_ALL", "I will sue and post a review", 1},
    {"META_ALL", "I will sue", 0},
    {"META_ANY_NOT", "damn it", 1},
    {"META_ANY_NOT", "lawyers", 1},
    {"META_ANY_NOT", "you damn idiot", 0},
    {"META_ANY_NOT", "hello", 0},
    /* body regex on the normalized text */
    {"BODY_CHARGEBACK", "I filed a CHARGE-BACK", 1},
    {"BODY_CHARGEBACK", "I filed a chargeback", 1},
    {"BODY_CHARGEBACK", "no charge", 0},
    /* shouting metrics */
    {"SHOUTING", "THIS IS COMPLETELY UNACCEPTABLE!!!", 1},
    {"SHOUTING", "THIS IS COMPLETELY UNACCEPTABLE", 0},
    {"SHOUTING", "This is completely unacceptable!!!", 0},
};

START_TEST(test_fires)
{
	int got = classify_text_fires(rs, cases[_i].rule, cases[_i].text);

	ck_assert_msg(got == cases[_i].fires, "%s on \"%s\": got %d",
		      cases[_i].rule, cases[_i].text, got);
}
END_TEST

START_TEST(test_unknown_rule)
{
	ck_assert_int_eq(classify_text_fires(rs, "NO_SUCH_RULE", "x"), -1);
}
END_TEST

/* run - classify_run on text with an optional Subject */
static void run(const char *text, const char *subject,
		struct classify_result *out);

/* subject_of - header callback returning the test's Subject */
static const char *
subject_of(void *ctx, const char *name)
{
	return strcmp(name, "Subject") == 0 ? ctx : NULL;
}

static void
run(const char *text, const char *subject, struct classify_result *out)
{
	struct norm *nm = norm_text(text, strlen(text), 0);
	struct norm_shout shout;
	struct classify_input in;

	norm_shouting(text, strlen(text), &shout);
	memset(&in, 0, sizeof(in));
	in.text = text;
	in.len = strlen(text);
	in.norm = nm;
	in.shout = &shout;
	if (subject != NULL) {
		in.header = subject_of;
		in.header_ctx = g_strdup(subject);
	}
	classify_run(rs, &in, out);
	g_free(in.header_ctx);
	norm_free(nm);
}

/* hit - the hit of rule in out, or NULL */
static const struct classify_hit *
hit(const struct classify_result *out, const char *rule)
{
	for (size_t i = 0; i < out->n; i++)
		if (strcmp(out->hits[i].rule, rule) == 0)
			return &out->hits[i];
	return NULL;
}

START_TEST(test_hits_order_offsets)
{
	const char *text =
	    "Well, you useless idiot: I will SUE and post a review";
	struct classify_result out;
	const struct classify_hit *h;

	run(text, NULL, &out);
	/* rule-file order, each once, "__" rules never */
	ck_assert_uint_eq(out.n, 4);
	ck_assert_str_eq(out.hits[0].rule, "LEGAL_SUE");
	ck_assert_str_eq(out.hits[1].rule, "ABUSE_INSULT_YOU");
	ck_assert_str_eq(out.hits[2].rule, "PUBLIC_REVIEW");
	ck_assert_str_eq(out.hits[3].rule, "META_ALL");
	ck_assert_ptr_null(hit(&out, "__INSULT"));
	ck_assert_ptr_null(hit(&out, "__SECOND_PERSON"));

	h = hit(&out, "LEGAL_SUE");
	ck_assert_str_eq(h->category, "legal");
	ck_assert_double_eq(h->score, 4.0);
	ck_assert_str_eq(h->describe, "Threat to sue");
	ck_assert_int_eq(h->line, 5);
	ck_assert_ptr_nonnull(strstr(h->file, "classify.rules"));
	ck_assert_int_eq(strncmp(text + h->start, "SUE", h->end - h->start), 0);
	ck_assert_uint_eq(h->end - h->start, 3);

	h = hit(&out, "ABUSE_INSULT_YOU");
	ck_assert_int_eq(
	    strncmp(text + h->start, "you useless", h->end - h->start), 0);
	h = hit(&out, "META_ALL");
	ck_assert_uint_eq(h->start, 0);
	ck_assert_uint_eq(h->end, 0);
	classify_result_clear(&out);
	ck_assert_ptr_null(out.hits);
	ck_assert_uint_eq(out.n, 0);
}
END_TEST

START_TEST(test_regex_offsets)
{
	const char *text = "So I did a charge back today";
	struct classify_result out;
	const struct classify_hit *h;

	run(text, NULL, &out);
	h = hit(&out, "BODY_CHARGEBACK");
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(
	    strncmp(text + h->start, "charge back", h->end - h->start), 0);
	ck_assert_uint_eq(h->end - h->start, strlen("charge back"));
	classify_result_clear(&out);
}
END_TEST

START_TEST(test_header_regex)
{
	struct classify_result out;

	run("hello there", "URGENT: refund", &out);
	ck_assert_ptr_nonnull(hit(&out, "SUBJECT_URGENT"));
	classify_result_clear(&out);
	run("urgent: hello there", "refund", &out);
	ck_assert_ptr_null(hit(&out, "SUBJECT_URGENT"));
	classify_result_clear(&out);
	run("hello there", NULL, &out); /* no header callback */
	ck_assert_ptr_null(hit(&out, "SUBJECT_URGENT"));
	classify_result_clear(&out);
	run("hello there", "Urgent \xff\xfe", &out); /* not UTF-8 */
	ck_assert_ptr_null(hit(&out, "SUBJECT_URGENT"));
	classify_result_clear(&out);
}
END_TEST

START_TEST(test_regex_limit)
{
	GString *text = g_string_new(NULL);
	struct timespec a, b;
	double secs;
	int got;

	/* ^(\w+\s?)*x$ backtracks exponentially on words without an x */
	for (int i = 0; i < 2000; i++)
		g_string_append(text, "aaaaaaaaaa ");
	g_string_append(text, "y");
	clock_gettime(CLOCK_MONOTONIC, &a);
	got = classify_text_fires(rs, "RUNAWAY", text->str);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_int_eq(got, 0);
	ck_assert_msg(secs < 1.0, "runaway regex took %.2f s", secs);
	/* and the pattern itself is sound */
	ck_assert_int_eq(classify_text_fires(rs, "RUNAWAY", "ab x"), 1);
	g_string_free(text, TRUE);
}
END_TEST

START_TEST(test_no_input)
{
	struct classify_input in;
	struct classify_result out;

	memset(&in, 0, sizeof(in));
	classify_run(rs, &in, &out);
	ck_assert_uint_eq(out.n, 0);
	classify_result_clear(&out);
}
END_TEST

START_TEST(test_long_text_all_matches)
{
	GString *text = g_string_new(NULL);
	struct classify_result out;

	/* many operand matches: near still finds the one close pair */
	for (int i = 0; i < 5000; i++)
		g_string_append(text, "you said the idiot in the story left. ");
	g_string_append(text, "Honestly you idiot.");
	run(text->str, NULL, &out);
	ck_assert_ptr_nonnull(hit(&out, "ABUSE_INSULT_YOU"));
	classify_result_clear(&out);
	g_string_free(text, TRUE);
}
END_TEST

START_TEST(test_crossref)
{
	char *a = g_build_filename(UNIT_FILE(), "tests/unit/rules",
				   "crossref-a.rules", NULL);
	char *b = g_build_filename(UNIT_FILE(), "tests/unit/rules",
				   "crossref-b.rules", NULL);
	char *files[] = {a, b};
	char *err = NULL;
	struct rule_set *x = rules_load(files, 2, &err);

	ck_assert_msg(x != NULL, "load: %s", err);
	ck_assert_int_eq(classify_text_fires(x, "A_AND_B", "alpha beta"), 1);
	ck_assert_int_eq(classify_text_fires(x, "A_AND_B", "alpha"), 0);
	ck_assert_int_eq(classify_text_fires(x, "B_NEAR_A", "beta, alpha"), 1);
	ck_assert_int_eq(
	    classify_text_fires(x, "B_NEAR_A", "beta one two three alpha"), 0);
	rules_free(x);
	g_free(a);
	g_free(b);
}
END_TEST

/*
 * Regexes with lead words are tried only where a lead word starts
 * (classify_regex_lead); "(?:)" in front of the same pattern defeats the
 * lead analysis, so each LEAD_n rule and its PLAIN_n twin must report the
 * same hits on any text.
 */
static const char *const lead_patterns[] = {
    "\\b(reporting|filing|complaining|contacting|notifying|submitting|"
    "lodging|escalating|writing to|informing|going to|taking (this|it) "
    "to)( [a-z']+){0,4} (the b|better business bureau|ftc|federal trade "
    "commission|attorneys? general|ag's office|ombudsman|trading "
    "standards|consumer (protection|affairs) "
    "(agency|office|department|bureau|division)|data protection "
    "(authority|commission(er)?)|supervisory authority|ico|cnil|action "
    "fraud|state regulators?|district attorney)\\b",
    "\\b(i'll|i will|i'm going to|i am going to|i have|i've)( "
    "(?!not\\b|never\\b)[a-z']+){0,3} "
    "(appt|appointment|consultation|meeting) with (my|a|an) "
    "(lawyer|attorney|solicitor)s?\\b",
    "(?:sue|su|ab+c?)( [a-z]+)?",
    "\\b(kel|s|o'k)[a-z]*",
    "(an?|the)\\b",
};

static const char *const lead_words[] = {
    "reporting",
    "filing",
    "going",
    "to",
    "taking",
    "this",
    "it",
    "the",
    "b",
    "bbb",
    "ftc",
    "attorney",
    "attorneys",
    "general",
    "ag's",
    "office",
    "i",
    "i'll",
    "will",
    "i've",
    "have",
    "am",
    "not",
    "never",
    "meeting",
    "appt",
    "with",
    "my",
    "a",
    "an",
    "lawyer",
    "lawyers",
    "solicitor",
    "sue",
    "su",
    "abbbc",
    "ab",
    "kelvin",
    "o'k",
    "ok",
    "x'filing",
    "misfiling",
    "FILING",
    "I'M",
    "Going",
    "\xE2\x84\xAA"
    "el", /* Kelvin */
    "\xC5\xBF"
    "ue", /* long s */
    "caf\xC3\xA9",
    ".",
    ",",
    "\n\n",
    "don't",
    "a_b",
    "Consumer",
    "protection",
    "agency",
    "data",
    "commissioner",
};

START_TEST(test_regex_lead_words)
{
	char *dir = g_dir_make_tmp("test-classify-XXXXXX", NULL);
	char *path = g_build_filename(dir, "lead.rules", NULL);
	GString *rules = g_string_new(NULL);
	char *files[] = {path};
	char *err = NULL;
	struct rule_set *x;
	GRand *rnd = g_rand_new_with_seed(7);

	for (size_t i = 0; i < G_N_ELEMENTS(lead_patterns); i++) {
		char *q = g_strescape(lead_patterns[i], NULL);

		g_string_append_printf(
		    rules,
		    "rule LEAD_%zu {\n\tcategory = \"x\"\n\tregex = \"%s\"\n}\n"
		    "rule PLAIN_%zu {\n\tcategory = \"x\"\n\tregex = "
		    "\"(?:)%s\"\n}\n",
		    i, q, i, q);
		g_free(q);
	}
	ck_assert(g_file_set_contents(path, rules->str, -1, NULL));
	x = rules_load(files, 1, &err);
	ck_assert_msg(x != NULL, "load: %s", err);
	/* the analysis must apply to the LEAD rules, not to the PLAIN ones */
	for (size_t i = 0; i < x->n; i++)
		ck_assert_msg((x->rule[i].lead != NULL) ==
				  (strncmp(x->rule[i].name, "LEAD_", 5) == 0),
			      "%s: lead analysis", x->rule[i].name);

	for (int n = 0; n < 3000; n++) {
		GString *text = g_string_new(NULL);
		int words = g_rand_int_range(rnd, 1, 30);
		struct norm *nm;
		struct classify_input in;
		struct classify_result out;

		for (int k = 0; k < words; k++) {
			g_string_append(text,
					lead_words[g_rand_int_range(
					    rnd, 0, G_N_ELEMENTS(lead_words))]);
			g_string_append_c(text, ' ');
		}
		nm = norm_text(text->str, text->len, 0);
		memset(&in, 0, sizeof(in));
		in.text = text->str;
		in.len = text->len;
		in.norm = nm;
		classify_run(x, &in, &out);
		for (size_t i = 0; i < G_N_ELEMENTS(lead_patterns); i++) {
			char *lead = g_strdup_printf("LEAD_%zu", i);
			char *plain = g_strdup_printf("PLAIN_%zu", i);
			const struct classify_hit *a = NULL, *b = NULL;

			for (size_t h = 0; h < out.n; h++) {
				if (strcmp(out.hits[h].rule, lead) == 0)
					a = &out.hits[h];
				if (strcmp(out.hits[h].rule, plain) == 0)
					b = &out.hits[h];
			}
			ck_assert_msg((a == NULL) == (b == NULL) &&
					  (a == NULL || (a->start == b->start &&
							 a->end == b->end)),
				      "%s on \"%s\": %zu-%zu vs %zu-%zu", lead,
				      text->str, a ? a->start : 0,
				      a ? a->end : 0, b ? b->start : 0,
				      b ? b->end : 0);
			g_free(lead);
			g_free(plain);
		}
		classify_result_clear(&out);
		norm_free(nm);
		g_string_free(text, TRUE);
	}
	g_rand_free(rnd);
	rules_free(x);
	g_unlink(path);
	g_rmdir(dir);
	g_free(path);
	g_free(dir);
	g_string_free(rules, TRUE);
}
END_TEST

/* classify_suite - the matcher tests */
static Suite *
classify_suite(void)
{
	Suite *s = suite_create("classify");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, load_fixture, unload_fixture);
	tcase_add_loop_test(tc, test_fires, 0, G_N_ELEMENTS(cases));
	tcase_add_test(tc, test_unknown_rule);
	tcase_add_test(tc, test_hits_order_offsets);
	tcase_add_test(tc, test_regex_offsets);
	tcase_add_test(tc, test_header_regex);
	tcase_add_test(tc, test_regex_limit);
	tcase_add_test(tc, test_no_input);
	tcase_add_test(tc, test_long_text_all_matches);
	tcase_add_test(tc, test_crossref);
	tcase_add_test(tc, test_regex_lead_words);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(classify_suite)
