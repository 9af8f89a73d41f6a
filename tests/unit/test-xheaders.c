/*
 * test-xheaders.c - deletion plans, sanitizing, the headers we add
 */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "triage.h"
#include "unit.h"
#include "xheaders.h"

/* A header list and the deletions expected, "Name[idx]" joined by " ". */
static const struct {
	const char *names; /* space separated, in arrival order */
	const char *want;
} plans[] = {
    {"From To Subject", ""},
    {"X-Triage-Flags", "X-Triage-Flags[1]"},
    {"X-Triage-Flags From X-Triage-Flags",
     "X-Triage-Flags[2] X-Triage-Flags[1]"},
    {"x-triage-flags X-TRIAGE-FLAGS X-Triage-Route",
     "X-Triage-Route[1] X-TRIAGE-FLAGS[2] x-triage-flags[1]"},
    {"X-Triage-Route X-Triage-Flags X-Triage-Route X-Spam X-Triage",
     "X-Triage-Route[2] X-Triage-Flags[1] X-Triage-Route[1]"},
    {"X-TriageFlags X-Triage-", "X-Triage-[1]"},
};

START_TEST(test_plan_delete)
{
	char **names = g_strsplit(plans[_i].names, " ", -1);
	struct triage_delete *del;
	size_t n_del;
	GString *got = g_string_new(NULL);

	xheaders_plan_delete((const char *const *)names, g_strv_length(names),
			     &del, &n_del);
	for (size_t i = 0; i < n_del; i++) {
		g_string_append_printf(got, "%s%s[%d]", i ? " " : "",
				       del[i].name, del[i].index);
		g_free(del[i].name);
	}
	ck_assert_str_eq(got->str, plans[_i].want);
	g_free(del);
	g_string_free(got, TRUE);
	g_strfreev(names);
}
END_TEST

static const struct {
	const char *in;
	size_t max;
	const char *want;
} sanitize[] = {
    {"plain", 100, "plain"},
    {"two\r\nlines", 100, "two  lines"},
    {"tab\there", 100, "tab here"},
    {"caf\xc3\xa9 \xe2\x82\xac", 100, "caf? ?"},
    {"ctl\x01\x7f", 100, "ctl"},
    {"0123456789", 4, "0123"},
    {"0123456789", 10, "0123456789"},
    {"", 5, ""},
    {"abc", 0, ""},
    {"0123\x01", 4, "0123"},
    {"ab\x01", 4, "ab"},
    {"ab\xc3\xa9", 3, "ab?"},
};

START_TEST(test_sanitize)
{
	char *got = xheaders_sanitize(sanitize[_i].in, sanitize[_i].max);

	ck_assert_str_eq(got, sanitize[_i].want);
	g_free(got);
}
END_TEST

/* test_append_1f - the same bytes as printf("%.1f") for every double */
START_TEST(test_append_1f)
{
	static const double odd[] = {
	    -0.0,  0.05,      0.25,       0.1,       0.15,  2.45,   -1.0,
	    -2.5,  1e15,      1e15 - 0.5, 4.5e15,    1e300, 1e-300, 12.75,
	    99.95, 5.0 / 3.0, HUGE_VAL,   -HUGE_VAL, NAN,
	};
	GString *got = g_string_new(NULL);

	for (int k = 0; k <= 4000; k++) {
		double x = k / 2.0;
		char *want = g_strdup_printf("%.1f", x);

		g_string_truncate(got, 0);
		xheaders_append_1f(got, x);
		ck_assert_str_eq(got->str, want);
		g_free(want);
		/* tenths are not halves: printf decides their rounding */
		x = k / 10.0;
		want = g_strdup_printf("%.1f", x);
		g_string_truncate(got, 0);
		xheaders_append_1f(got, x);
		ck_assert_str_eq(got->str, want);
		g_free(want);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(odd); i++) {
		char *want = g_strdup_printf("%.1f", odd[i]);

		g_string_truncate(got, 0);
		g_string_append(got, "x=");
		xheaders_append_1f(got, odd[i]);
		ck_assert_str_eq(got->str + 2, want);
		g_free(want);
	}
	g_string_free(got, TRUE);
}
END_TEST

START_TEST(test_build)
{
	struct triage_result res = {0};

	res.length.words = 12;
	res.length.paragraphs = 3;
	res.length.quoted = 456;
	xheaders_build(&res, 0);
	ck_assert_uint_eq(res.add_names.n, 3);
	ck_assert_str_eq(res.add_names.v[0], "X-Triage-Flags");
	ck_assert_str_eq(res.add_values.v[0], "none");
	ck_assert_str_eq(res.add_names.v[1], "X-Triage-Length");
	ck_assert_str_eq(res.add_values.v[1],
			 "words=12 paragraphs=3 quoted=456");
	ck_assert_str_eq(res.add_names.v[2], "X-Triage-Version");
	ck_assert(g_str_has_prefix(res.add_values.v[2], "triage-milter "));
	strvec_clear(&res.add_names);
	strvec_clear(&res.add_values);

	strvec_push(&res.flags, "long");
	strvec_push(&res.flags, "truncated");
	res.route = g_strdup("legal\r\nBcc: x");
	xheaders_build(&res, 0);
	ck_assert_str_eq(res.add_values.v[0], "long, truncated");
	ck_assert_str_eq(res.add_names.v[1], "X-Triage-Route");
	ck_assert_str_eq(res.add_values.v[1], "legal  Bcc: x");
	strvec_clear(&res.add_names);
	strvec_clear(&res.add_values);
	strvec_clear(&res.flags);
	g_free(res.route);
}
END_TEST

static Suite *
xheaders_suite(void)
{
	Suite *s = suite_create("xheaders");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_plan_delete, 0, G_N_ELEMENTS(plans));
	tcase_add_loop_test(tc, test_sanitize, 0, G_N_ELEMENTS(sanitize));
	tcase_add_test(tc, test_append_1f);
	tcase_add_test(tc, test_build);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(xheaders_suite)
