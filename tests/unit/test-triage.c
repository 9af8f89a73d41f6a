/*
 * test-triage.c - triage_run() on whole messages: the verdict end to end
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "config.h"
#include "store.h"
#include "triage.h"
#include "unit.h"

static struct triage_config *cf;

static void
setup(void)
{
	triage_init();
	cf = config_default();
}

static void
teardown(void)
{
	cf = config_unref(cf);
}

/* words - n words in p paragraphs, as a message body */
static GString *
words(size_t n, size_t p)
{
	GString *s = g_string_new(NULL);
	size_t breaks = 0;

	for (size_t i = 0; i < n; i++) {
		g_string_append(s, i % 7 ? "word" : "Again");
		g_string_append_c(s, ' ');
		if (breaks + 1 < p && (i + 1) % (n / p) == 0) {
			g_string_append(s, "\n\n");
			breaks++;
		}
	}
	g_string_append_c(s, '\n');
	return s;
}

/* message - a simple RFC 5322 message with extra headers and a body */
static char *
message(const char *extra, const char *body)
{
	return g_strdup_printf("From: Ann <ann@example.org>\n"
			       "To: support@example.com\n"
			       "Subject: my order\n"
			       "%s"
			       "\n%s",
			       extra, body);
}

/* header - value of the added header called name, or NULL */
static const char *
header(const struct triage_result *res, const char *name)
{
	for (size_t i = 0; i < res->add_names.n; i++)
		if (strcmp(res->add_names.v[i], name) == 0)
			return res->add_values.v[i];
	return NULL;
}

static struct triage_result *
run(const char *msg, int truncated)
{
	struct triage_env env = {0};

	env.queue_id = "TEST";
	env.env_from = "ann@example.org";
	env.truncated = truncated;
	return triage_run(cf, msg, strlen(msg), &env);
}

START_TEST(test_plain)
{
	char *msg = message("", "Hello,\n\nmy parcel never came.\n\nAnn\n");
	struct triage_result *res = run(msg, 0);

	ck_assert_ptr_null(res->error);
	ck_assert_uint_eq(res->flags.n, 0);
	ck_assert_str_eq(header(res, "X-Triage-Flags"), "none");
	ck_assert_str_eq(header(res, "X-Triage-Length"),
			 "words=6 paragraphs=3 quoted=0");
	ck_assert_ptr_nonnull(header(res, "X-Triage-Version"));
	ck_assert_str_eq(res->subject, "my order");
	triage_result_free(res);
	g_free(msg);
}
END_TEST

/* Thresholds: long is strictly above long_words or long_paragraphs. */
static const struct {
	size_t words, paragraphs;
	int is_long;
} lengths[] = {
    {100, 3, 0},
    {CONFIG_DEF_LONG_WORDS, 4, 0},
    {CONFIG_DEF_LONG_WORDS + 1, 4, 1},
    {200, CONFIG_DEF_LONG_PARAGRAPHS, 0},
    {200, CONFIG_DEF_LONG_PARAGRAPHS + 1, 1},
};

START_TEST(test_long)
{
	GString *body = words(lengths[_i].words, lengths[_i].paragraphs);
	char *msg = message("", body->str);
	struct triage_result *res = run(msg, 0);

	ck_assert_ptr_null(res->error);
	ck_assert_uint_eq(res->length.words, lengths[_i].words);
	ck_assert_uint_eq(res->length.paragraphs, lengths[_i].paragraphs);
	ck_assert_int_eq(strvec_contains(&res->flags, "long"),
			 lengths[_i].is_long);
	ck_assert_str_eq(header(res, "X-Triage-Flags"),
			 lengths[_i].is_long ? "long" : "none");
	triage_result_free(res);
	g_free(msg);
	g_string_free(body, TRUE);
}
END_TEST

/* A long quoted thread does not make a short reply long. */
START_TEST(test_quoted_not_counted)
{
	GString *quoted = words(900, 20);
	GString *body = g_string_new("Any news?\n\nOn Mon, 3 Mar 2025, "
				     "Support <s@example.com> wrote:\n");
	char **lines = g_strsplit(quoted->str, "\n", -1);
	char *msg;
	struct triage_result *res;

	for (char **l = lines; *l; l++)
		g_string_append_printf(body, "> %s\n", *l);
	msg = message("", body->str);
	res = run(msg, 0);
	ck_assert_ptr_null(res->error);
	ck_assert_uint_eq(res->length.words, 2);
	ck_assert_uint_eq(res->length.paragraphs, 1);
	ck_assert_uint_gt(res->length.quoted, 4000);
	ck_assert_uint_eq(res->flags.n, 0);
	triage_result_free(res);
	g_free(msg);
	g_strfreev(lines);
	g_string_free(body, TRUE);
	g_string_free(quoted, TRUE);
}
END_TEST

START_TEST(test_truncated)
{
	char *msg = message("", "short\n");
	struct triage_result *res = run(msg, 1);

	ck_assert_str_eq(header(res, "X-Triage-Flags"), "truncated");
	triage_result_free(res);
	g_free(msg);
}
END_TEST

START_TEST(test_forged_from_message)
{
	char *msg = message("X-Triage-Flags: none\n"
			    "X-Triage-Route: vip\n"
			    "x-triage-flags: whitelisted\n",
			    "hi\n");
	struct triage_result *res = run(msg, 0);

	ck_assert_uint_eq(res->n_del, 3);
	ck_assert_str_eq(res->del[0].name, "x-triage-flags");
	ck_assert_int_eq(res->del[0].index, 2);
	ck_assert_str_eq(res->del[1].name, "X-Triage-Route");
	ck_assert_int_eq(res->del[1].index, 1);
	ck_assert_str_eq(res->del[2].name, "X-Triage-Flags");
	ck_assert_int_eq(res->del[2].index, 1);
	triage_result_free(res);
	g_free(msg);
}
END_TEST

/* The milter's own list of names wins over the (maybe cut) buffer. */
START_TEST(test_forged_from_env)
{
	const char *names[] = {"X-Triage-Flags", "X-Triage-Flags"};
	char *msg = message("", "hi\n");
	struct triage_env env = {0};
	struct triage_result *res;

	env.env_from = "";
	env.hdr_names = names;
	env.n_hdr_names = 2;
	res = triage_run(cf, msg, strlen(msg), &env);
	ck_assert_uint_eq(res->n_del, 2);
	ck_assert_int_eq(res->del[0].index, 2);
	ck_assert_int_eq(res->del[1].index, 1);
	triage_result_free(res);
	g_free(msg);
}
END_TEST

/* Hostile or empty input never crashes and never loses the verdict. */
static const char *const odd[] = {
    "",
    "\n",
    "no header at all, just text",
    "Subject: \x01\x02\xff\xfe\n\n\xff\xfe\x00\x01",
    "Content-Type: multipart/mixed; boundary=x\n\n--x\n--x\n--x--\n",
    "Content-Type: text/plain; charset=nonexistent-9\n\n\xe9t\xe9\n",
    "Content-Transfer-Encoding: base64\n\n!!!!====\n",
};

START_TEST(test_odd_input)
{
	struct triage_env env = {0};
	struct triage_result *res;
	size_t len = strlen(odd[_i]);

	if (_i == 3)
		len += 2; /* the NUL and the byte after it */
	env.env_from = "";
	res = triage_run(cf, odd[_i], len, &env);
	ck_assert_ptr_nonnull(res);
	if (res->error == NULL)
		ck_assert_ptr_nonnull(header(res, "X-Triage-Flags"));
	triage_result_free(res);
}
END_TEST

/*
 * One sender however the case of its address is written, ASCII or not
 * (SMTPUTF8): "Jörg" precomposed or decomposed, in capitals, a Greek
 * final sigma, a U-label domain; bytes that are not UTF-8 stay as they
 * are, and the ASCII around them is still folded.
 */
START_TEST(test_sender_fold)
{
	static const char *const same[][2] = {
	    {"J\xc3\xb6rg@Example.org", "j\xc3\xb6rg@example.org"},
	    {"JO\xcc\x88RG@EXAMPLE.ORG", "j\xc3\xb6rg@example.org"},
	    {"J\xc3\x96RG@example.org", "j\xc3\xb6rg@example.org"},
	    {"\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\xa5\xce\xa3@"
	     "x.gr",
	     "\xce\xbf\xce\xb4\xcf\x85\xcf\x83\xcf\x83\xce\xb5\xcf\x85\xcf\x82@"
	     "x.gr"},
	    {"ann@B\xc3\x9c"
	     "CHER.example",
	     "ann@b\xc3\xbc"
	     "cher.example"},
	    {"ANN@xn--bcher-kva.EXAMPLE", "ann@xn--bcher-kva.example"},
	    {"J\xffRG@Example.org", "j\xffrg@example.org"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(same); i++) {
		char *a = ack_dedup_key("general", same[i][0]);
		char *b = ack_dedup_key("general", same[i][1]);

		ck_assert_msg(strcmp(a, b) == 0, "%zu: %s != %s", i, a, b);
		g_free(a);
		g_free(b);
	}
	{
		/* what is not the same sender stays apart */
		char *a = ack_dedup_key("general", "j\xc3\xb6rg@example.org");
		char *b = ack_dedup_key("general", "jorg@example.org");
		char *c = ack_dedup_key("general", "j\xferg@example.org");

		ck_assert_str_ne(a, b);
		ck_assert_str_ne(a, c);
		g_free(a);
		g_free(b);
		g_free(c);
	}
}
END_TEST

/* Repeat senders: counted in a real store; the third message is frequent. */
START_TEST(test_frequent)
{
	char *dir = g_dir_make_tmp("test-triage-XXXXXX", NULL);
	char *uri = g_strdup_printf("lmdb:%s/store", dir), *error = NULL;
	struct store *st = store_open(uri, NULL, &error);
	char *msg = message("", "Any news on my order?\n");
	struct triage_env env = {0};
	char *cmd;

	ck_assert_msg(st != NULL, "%s", error);
	cf->frequent.messages = 3;
	cf->frequent.window_s = 86400;
	g_free(cf->frequent.window);
	cf->frequent.window = g_strdup("24h");
	env.store = st;
	for (int i = 1; i <= 4; i++) {
		/* one sender, whatever the case, ASCII or not (SMTPUTF8) */
		static const char *const from[] = {
		    "J\xc3\xb6rg@Example.org", "j\xc3\xb6rg@example.org",
		    "JO\xcc\x88RG@EXAMPLE.ORG", "J\xc3\x96rg@example.ORG"};
		struct triage_result *res;
		char *want = g_strdup_printf("%d/24h", i);

		env.env_from = from[i - 1];
		res = triage_run(cf, msg, strlen(msg), &env);

		ck_assert_int_eq(res->sender_count, i);
		ck_assert_str_eq(header(res, "X-Triage-Sender-Count"), want);
		ck_assert_int_eq(strvec_contains(&res->flags, "frequent"),
				 i >= 3);
		g_free(want);
		triage_result_free(res);
	}
	/* another sender starts at one; the address case does not matter */
	env.env_from = "bob@example.org";
	{
		struct triage_result *res =
		    triage_run(cf, msg, strlen(msg), &env);

		ck_assert_int_eq(res->sender_count, 1);
		ck_assert_int_eq(strvec_contains(&res->flags, "frequent"), 0);
		triage_result_free(res);
	}
	/* offline (-t) never counts */
	env.offline = 1;
	{
		struct triage_result *res =
		    triage_run(cf, msg, strlen(msg), &env);

		ck_assert_int_eq(res->sender_count, -1);
		ck_assert_ptr_null(header(res, "X-Triage-Sender-Count"));
		triage_result_free(res);
	}
	store_close(st);
	cmd = g_strdup_printf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	g_free(cmd);
	g_free(uri);
	g_free(msg);
	g_free(dir);
}
END_TEST

static Suite *
triage_suite(void)
{
	Suite *s = suite_create("triage");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_plain);
	tcase_add_loop_test(tc, test_long, 0, G_N_ELEMENTS(lengths));
	tcase_add_test(tc, test_quoted_not_counted);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_sender_fold);
	tcase_add_test(tc, test_frequent);
	tcase_add_test(tc, test_forged_from_message);
	tcase_add_test(tc, test_forged_from_env);
	tcase_add_loop_test(tc, test_odd_input, 0, G_N_ELEMENTS(odd));
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(triage_suite)
