/*
 * test-json.c - JSON escaping and the -t --json object
 */
#include <string.h>

#include <glib.h>

#include "json.h"
#include "unit.h"

static const struct {
	const char *in;
	const char *want;
} strings[] = {
    {NULL, "null"},
    {"", "\"\""},
    {"plain", "\"plain\""},
    {"q\"b\\s", "\"q\\\"b\\\\s\""},
    {"a\nb\r\tc", "\"a\\nb\\r\\tc\""},
    {"\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""},
    {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
    {"bad\xff", "\"bad\xef\xbf\xbd\""},
};

START_TEST(test_string)
{
	GString *out = g_string_new(NULL);

	json_string(out, strings[_i].in);
	ck_assert_str_eq(out->str, strings[_i].want);
	g_string_free(out, TRUE);
}
END_TEST

START_TEST(test_result)
{
	struct triage_result res = {0};
	GString *out = g_string_new(NULL);

	strvec_push(&res.flags, "long");
	strvec_push(&res.add_names, "X-Triage-Flags");
	strvec_push(&res.add_values, "long");
	res.del = g_new0(struct triage_delete, 1);
	res.del[0].name = g_strdup("X-Triage-Route");
	res.del[0].index = 1;
	res.n_del = 1;
	res.length.words = 7;
	json_result(out, "a\"b.eml", &res);
	ck_assert_ptr_nonnull(strstr(out->str, "{\"file\":\"a\\\"b.eml\","));
	ck_assert_ptr_nonnull(strstr(out->str, "\"flags\":[\"long\"]"));
	ck_assert_ptr_nonnull(strstr(out->str, "\"route\":null"));
	ck_assert_ptr_nonnull(strstr(out->str, "\"scores\":{}"));
	ck_assert_ptr_nonnull(strstr(out->str, "\"rules\":[]"));
	ck_assert_ptr_nonnull(
	    strstr(out->str, "\"headers\":[[\"X-Triage-Flags\",\"long\"]]"));
	ck_assert_ptr_nonnull(
	    strstr(out->str, "\"deleted\":[\"X-Triage-Route\"]"));
	ck_assert_ptr_nonnull(strstr(out->str, "\"ack\":null"));
	ck_assert_ptr_nonnull(strstr(out->str, "\"error\":null"));
	ck_assert_ptr_nonnull(strstr(out->str, "\"words\":7"));
	ck_assert_ptr_null(strchr(out->str, '\n'));
	g_string_free(out, TRUE);
	strvec_clear(&res.flags);
	strvec_clear(&res.add_names);
	strvec_clear(&res.add_values);
	g_free(res.del[0].name);
	g_free(res.del);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_string, 0, G_N_ELEMENTS(strings));
	tcase_add_test(tc, test_result);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(json_suite)
