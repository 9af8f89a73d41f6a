/*
 * test-sender.c - hand-offs through a real program standing in for
 * sendmail(1), and the queue's dedup reservations in a real LMDB store
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "log.h"
#include "sender.h"
#include "store.h"
#include "unit.h"

static char *dir;

/* A sendmail stand-in: records argv and stdin, exits as told. */
static const char script[] =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\")\n"
    "n=$(ls \"$d\" | grep -c '^msg') \n"
    "printf '%s\\n' \"$@\" > \"$d/args$n\"\n"
    "cat > \"$d/msg$n\"\n"
    "[ -f \"$d/sleep\" ] && sleep \"$(cat \"$d/sleep\")\"\n"
    "[ -f \"$d/exit\" ] && exit \"$(cat \"$d/exit\")\"\n"
    "exit 0\n";

static void
setup(void)
{
	char *path;

	log_open("test-sender", 0, 1);
	dir = g_dir_make_tmp("test-sender-XXXXXX", NULL);
	ck_assert_ptr_nonnull(dir);
	path = g_build_filename(dir, "sendmail", NULL);
	ck_assert(g_file_set_contents(path, script, -1, NULL));
	ck_assert_int_eq(chmod(path, 0755), 0);
	g_free(path);
}

static void
teardown(void)
{
	char *cmd = g_strdup_printf("rm -rf '%s'", dir);

	ck_assert_int_eq(system(cmd), 0);
	g_free(cmd);
	g_free(dir);
}

/* put - write a control file for the stand-in */
static void
put(const char *name, const char *value)
{
	char *path = g_build_filename(dir, name, NULL);

	ck_assert(g_file_set_contents(path, value, -1, NULL));
	g_free(path);
}

/* slurp - a file of the stand-in's, or NULL */
static char *
slurp(const char *name)
{
	char *path = g_build_filename(dir, name, NULL), *text = NULL;

	(void)g_file_get_contents(path, &text, NULL, NULL);
	g_free(path);
	return text;
}

static struct sender_job *
job(const char *to, const char *key)
{
	struct sender_job *j = g_new0(struct sender_job, 1);

	j->qid = g_strdup("TESTQ");
	j->to = g_strdup(to);
	j->env_from = g_strdup("");
	j->data = g_strdup("Subject: ack\n\nThanks.\n");
	j->len = strlen(j->data);
	j->dedup_key = key ? g_strdup(key) : NULL;
	j->dedup_ttl = 86400;
	return j;
}

static struct sender_config
config(unsigned timeout)
{
	struct sender_config cf = {0};

	cf.transport = g_strdup_printf("sendmail:%s/sendmail", dir);
	cf.smtp_user = g_strdup("");
	cf.smtp_password = g_strdup("");
	cf.timeout_s = timeout;
	return cf;
}

static void
config_clear(struct sender_config *cf)
{
	g_free(cf->transport);
	g_free(cf->smtp_user);
	g_free(cf->smtp_password);
}

/* The argv is fixed: -i -f <> -- rcpt; the message arrives whole. */
START_TEST(test_sendmail_ok)
{
	struct sender_config cf = config(10);
	struct sender_job *j = job("-oQ/tmp/evil@example.org", NULL);
	char *error = NULL, *args, *msg;

	ck_assert_int_eq(sender_deliver(&cf, j, &error), 0);
	args = slurp("args0");
	msg = slurp("msg0");
	ck_assert_str_eq(args, "-i\n-f\n<>\n--\n-oQ/tmp/evil@example.org\n");
	ck_assert_str_eq(msg, j->data);
	g_free(args);
	g_free(msg);
	sender_job_free(j);
	config_clear(&cf);
}
END_TEST

static const struct {
	const char *exit;
	int want;
} exits[] = {
    {"75", 1}, /* EX_TEMPFAIL: try again */
    {"69", 2}, /* EX_UNAVAILABLE: final */
    {"1", 2},
};

START_TEST(test_sendmail_exit)
{
	struct sender_config cf = config(10);
	struct sender_job *j = job("ann@example.org", NULL);
	char *error = NULL;

	put("exit", exits[_i].exit);
	ck_assert_int_eq(sender_deliver(&cf, j, &error), exits[_i].want);
	ck_assert_ptr_nonnull(error);
	ck_assert_ptr_nonnull(strstr(error, exits[_i].exit));
	g_free(error);
	sender_job_free(j);
	config_clear(&cf);
}
END_TEST

/* A hanging sendmail is killed at the timeout: a temporary failure. */
START_TEST(test_sendmail_timeout)
{
	struct sender_config cf = config(1);
	struct sender_job *j = job("ann@example.org", NULL);
	gint64 start = g_get_monotonic_time();
	char *error = NULL;

	put("sleep", "30");
	ck_assert_int_eq(sender_deliver(&cf, j, &error), 1);
	ck_assert_ptr_nonnull(strstr(error, "timed out"));
	ck_assert_int_lt(g_get_monotonic_time() - start, 5 * G_USEC_PER_SEC);
	g_free(error);
	sender_job_free(j);
	config_clear(&cf);
}
END_TEST

START_TEST(test_sendmail_missing)
{
	struct sender_config cf = {0};
	struct sender_job *j = job("ann@example.org", NULL);
	char *error = NULL;

	cf.transport = g_strdup("sendmail:/nonexistent/sendmail");
	cf.timeout_s = 5;
	ck_assert_int_eq(sender_deliver(&cf, j, &error), 2);
	ck_assert_ptr_nonnull(strstr(error, "/nonexistent/sendmail"));
	g_free(error);
	g_free(cf.transport);
	sender_job_free(j);
}
END_TEST

static const struct {
	const char *spec;
	int ok;
} transports[] = {
    {"sendmail:/usr/sbin/sendmail", 1},
    {"smtp://127.0.0.1:25", 1},
    {"smtps://mail.example.com:465", 1},
    {"sendmail:sendmail", 0},
    {"smtp://", 0},
    {"lmtp://x", 0},
};

START_TEST(test_transports)
{
	char *error = NULL;
	int rc = sender_check_transport(transports[_i].spec, &error);

	ck_assert_int_eq(rc == 0, transports[_i].ok);
	g_free(error);
}
END_TEST

/* wait_for - poll until n messages were handed off, or 10 s */
static int
wait_for(int n)
{
	for (int i = 0; i < 200; i++) {
		char *name = g_strdup_printf("msg%d", n - 1);
		char *text = slurp(name);

		g_free(name);
		if (text != NULL) {
			g_free(text);
			return 1;
		}
		g_usleep(50 * 1000);
	}
	return 0;
}

/* Two jobs for one sender and template: one reply, then the mark holds. */
START_TEST(test_queue_dedup)
{
	struct sender_config cf = config(10);
	char *uri = g_strdup_printf("lmdb:%s/store", dir), *error = NULL;
	struct store *st = store_open(uri, NULL, &error);
	struct sender *s;
	int present = 0;
	char *second;

	ck_assert_msg(st != NULL, "%s", error);
	s = sender_start(&cf, st, &error);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(sender_submit(s, job("ann@example.org", "k1")), 0);
	ck_assert_int_eq(sender_submit(s, job("ann@example.org", "k1")), 0);
	ck_assert_int_eq(sender_submit(s, job("bob@example.org", "k2")), 0);
	sender_stop(s, 10000);
	ck_assert(wait_for(2));
	second = slurp("msg2");
	ck_assert_ptr_null(second); /* the duplicate was not sent */
	ck_assert_int_eq(store_exists(st, "k1", &present), 0);
	ck_assert_int_eq(present, 1);
	store_close(st);
	g_free(uri);
	config_clear(&cf);
}
END_TEST

/* A hand-off that fails for good releases the reservation. */
START_TEST(test_queue_failure_releases)
{
	struct sender_config cf = config(10);
	char *uri = g_strdup_printf("lmdb:%s/store", dir), *error = NULL;
	struct store *st = store_open(uri, NULL, &error);
	struct sender *s;
	int present = 1;

	ck_assert_msg(st != NULL, "%s", error);
	put("exit", "69");
	s = sender_start(&cf, st, &error);
	ck_assert_int_eq(sender_submit(s, job("ann@example.org", "k1")), 0);
	sender_stop(s, 10000);
	ck_assert_int_eq(store_exists(st, "k1", &present), 0);
	ck_assert_int_eq(present, 0);
	store_close(st);
	g_free(uri);
	config_clear(&cf);
}
END_TEST

/*
 * A reply dropped at shutdown before its first try releases the mark
 * that end of message reserved for it (job->reserved), so that the
 * customer's next message is answered, not suppressed as a duplicate.
 */
START_TEST(test_queue_shutdown_releases)
{
	struct sender_config cf = config(10);
	char *uri = g_strdup_printf("lmdb:%s/store", dir), *error = NULL;
	struct store *st = store_open(uri, NULL, &error);
	struct sender_job *j;
	struct sender *s;
	int present = -1;

	ck_assert_msg(st != NULL, "%s", error);
	put("sleep", "2");
	s = sender_start(&cf, st, &error);
	ck_assert_ptr_nonnull(s);
	/* as milter_queue_ack does: the mark first, then the job */
	ck_assert_int_eq(store_mark_once(st, "k1", 86400, &present), 0);
	j = job("ann@example.org", "k1");
	j->reserved = 1;
	ck_assert_int_eq(sender_submit(s, j), 0);
	ck_assert_int_eq(store_mark_once(st, "k2", 86400, &present), 0);
	j = job("bob@example.org", "k2");
	j->reserved = 1;
	ck_assert_int_eq(sender_submit(s, j), 0);
	/* the first hand-off is under way when the drain time is up */
	ck_assert(wait_for(1));
	sender_stop(s, 0);
	ck_assert_ptr_null(slurp("msg1"));
	ck_assert_int_eq(store_exists(st, "k1", &present), 0);
	ck_assert_int_eq(present, 1);
	ck_assert_int_eq(store_exists(st, "k2", &present), 0);
	ck_assert_int_eq(present, 0);
	store_close(st);
	g_free(uri);
	config_clear(&cf);
}
END_TEST

static Suite *
sender_suite(void)
{
	Suite *s = suite_create("sender");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sendmail_ok);
	tcase_add_loop_test(tc, test_sendmail_exit, 0, G_N_ELEMENTS(exits));
	tcase_add_test(tc, test_sendmail_timeout);
	tcase_add_test(tc, test_sendmail_missing);
	tcase_add_loop_test(tc, test_transports, 0, G_N_ELEMENTS(transports));
	tcase_add_test(tc, test_queue_dedup);
	tcase_add_test(tc, test_queue_failure_releases);
	tcase_add_test(tc, test_queue_shutdown_releases);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(sender_suite)
