/*
 * test-config.c - configuration parsing: defaults, values, file:line errors
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "config.h"
#include "triage.h"
#include "unit.h"

/* write_conf - put text in a temporary file; returns its path */
static char *
write_conf(const char *text)
{
	char *path = g_strdup("/tmp/test-config-XXXXXX");
	int fd = g_mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

START_TEST(test_defaults)
{
	struct triage_config *cf = config_default();

	ck_assert_ptr_nonnull(cf);
	ck_assert_str_eq(cf->socket, "inet:8894@127.0.0.1");
	ck_assert_int_eq(cf->on_error, ON_ERROR_ACCEPT);
	ck_assert_uint_eq(cf->max_scan_bytes, CONFIG_DEF_MAX_SCAN_BYTES);
	ck_assert_uint_eq(cf->long_words, CONFIG_DEF_LONG_WORDS);
	ck_assert_uint_eq(cf->long_paragraphs, CONFIG_DEF_LONG_PARAGRAPHS);
	ck_assert_int_eq(cf->socket_mode, 0660);
	ck_assert_ptr_nonnull(config_category(cf, "legal"));
	ck_assert_str_eq(config_category(cf, "legal")->flag, "legal-threat");
	ck_assert_str_eq(config_category(cf, "legal")->route, "legal");
	ck_assert_ptr_null(config_category(cf, "nonesuch"));
	config_unref(cf);
}
END_TEST

START_TEST(test_values)
{
	char *path = write_conf("# comment\n"
				"socket = \"unix:/run/t/t.sock\"\n"
				"socket_mode = \"0600\"\n"
				"on_error = tempfail\n"
				"max_scan_bytes = 65536\n"
				"syslog_facility = local3\n"
				"length {\n  long_words = 300\n"
				"  long_paragraphs = 7\n}\n");
	char *err = NULL;
	struct triage_config *cf = config_load(path, &err);

	ck_assert_msg(cf != NULL, "error: %s", err);
	ck_assert_str_eq(cf->socket, "unix:/run/t/t.sock");
	ck_assert_int_eq(cf->socket_mode, 0600);
	ck_assert_int_eq(cf->on_error, ON_ERROR_TEMPFAIL);
	ck_assert_uint_eq(cf->max_scan_bytes, 65536);
	ck_assert_uint_eq(cf->long_words, 300);
	ck_assert_uint_eq(cf->long_paragraphs, 7);
	ck_assert_str_eq(cf->path, path);
	/* references: the last unref frees */
	ck_assert_ptr_eq(config_ref(cf), cf);
	ck_assert_int_eq(cf->refcount, 2);
	ck_assert_ptr_null(config_unref(cf));
	ck_assert_int_eq(cf->refcount, 1);
	config_unref(cf);
	unlink(path);
	g_free(path);
}
END_TEST

/* Each bad file must fail with "path:LINE: ..." naming the right line. */
static const struct {
	const char *text;
	int line;
	const char *needle;
} bad[] = {
    {"socket = \"inet:8894@localhost\"\nbogus_key = 1\n", 2, "bogus_key"},
    {"\n\non_error = reject\n", 3, "on_error"},
    {"socket = \"tcp:1234\"\n", 1, "socket"},
    {"socket = \"inet:99999@127.0.0.1\"\n", 1, "socket"},
    {"socket = \"unix:relative/path\"\n", 1, "absolute"},
    {"max_scan_bytes = 10\n", 1, "max_scan_bytes"},
    {"syslog_facility = kern\n", 1, "syslog_facility"},
    {"socket_mode = \"0999\"\n", 1, "socket_mode"},
    {"length {\n long_words = 0\n}\n", 2, "long_words"},
    {"length {\n long_lines = 3\n}\n", 2, "long_lines"},
    {"max_scan_bytes = \"lots\"\n", 1, "max_scan_bytes"},
    /* comments must not shift the line (libconfuse 3.3 counts twice) */
    {"# one\n# two\n\nbogus = 1\n", 4, "bogus"},
    {"// one\n/* two\nthree */\nbogus = 1\n", 4, "bogus"},
    {"user = \"a#b\" # c\n# d\nbogus = 1\n", 3, "bogus"},
    {"length { # c\n # d\n long_words = -1\n}\n", 3, "long_words"},
    {"category legal {\n threshold = 0\n}\n", 3, "threshold"},
    {"category legal {\n flag = \"Legal Threat\"\n}\n", 3, "flag"},
    {"route \"Bad Name\" {\n}\n", 2, "route"},
    /* found after the parse, still at the line that set them */
    {"# c\nroute legal {\n add_recipient = {\"legal@example.com\",\n"
     "  \"bob\"\n }\n}\n",
     4, "\"bob\" is not an address"},
    {"route legal {\n\n quarantine = \"a\\tb\"\n}\n", 3, "control"},
    {"# c\n\nstore = \"lmdb:relative\"\n", 3, "must be an absolute path"},
    /* the backends' own parsers: what -n passes, the daemon opens */
    {"store = \"lmdb:/var/lib/t?map_mb=abc\"\n", 1, "bad option"},
    {"\nstore = \"redis://:pw@[::1:6379/0\"\nstore_key_file = \"/k\"\n", 2,
     "expected redis://"},
    {"store = \"memcache://x\"\n", 1, "unknown store type"},
    {"\nstore = \"redis://127.0.0.1:6379/0\"\n", 2, "store_key_file"},
    {"frequent {\n window = \"1h\"\n messages = 5\n}\n", 3, "needs a store"},
    {"signing {\n\n key_id = \"a\"\n}\n", 3, "go together"},
    {"signing {\n verify_keys = {\"nocolon\"}\n}\n", 2, "kid:/path"},
    {"model {\n file = \"/nonexistent.model\"\n category = \"nope\"\n}\n", 3,
     "not a category"},
    {"# c\nreply {\n enable = true\n}\n", 3, "needs a store"},
    {"reply {\n\n transport = \"ftp://x\"\n}\n", 3, "transport"},
    /* a route no route section defines: the category's route line */
    {"category refund {\n\n route = \"billing\"\n}\n", 3,
     "category refund: route \"billing\" has no route section"},
    {"route billing {\n}\ncategory abusive {\n route = \"bill\"\n}\n", 4,
     "category abusive: route \"bill\" has no route section"},
    /* a rules file that is not there: the line of its list element */
    {"# c\nrules = {\n \"/nonexistent/a/*.rules\",\n\n"
     " \"/nonexistent/b.rules\"\n}\n",
     5, "rules file /nonexistent/b.rules: no such file"},
    {"rules = {\"/nonexistent/a.rules\"}\nrules = {\n"
     " \"/nonexistent/*.rules\",\n \"/nonexistent/c.rules\"}\n",
     4, "rules file /nonexistent/c.rules: no such file"},
    {"rules = {\"/nonexistent/*.rules\"}\n\nrules += {\n"
     " \"/nonexistent/d.rules\"\n}\n",
     4, "rules file /nonexistent/d.rules: no such file"},
    /* templates: the line that names one, not only the file */
    {"route legal {\n\n template = \"Bad Name\"\n}\n", 3,
     "route legal: template \"Bad Name\": name must be"},
    {"reply {\n default_template = \"Nope!\"\n}\n", 2,
     "default_template \"Nope!\": name must be"},
    {"store = \"lmdb:/tmp/x\"\nreply {\n enable = true\n"
     " from = \"s@example.com\"\n addresses = {\"s@example.com\"}\n"
     " templates = \"/nonexistent\"\n default_template = \"\"\n}\n"
     "route legal {\n\n template = \"nosuch\"\n}\n",
     11, "route legal: template \"nosuch\": /nonexistent/nosuch.txt: "},
    /* a shipped name: the templates directory lacks it */
    {"store = \"lmdb:/tmp/x\"\nreply {\n enable = true\n"
     " templates = \"/nonexistent\"\n from = \"s@example.com\"\n"
     " addresses = {\"s@example.com\"}\n}\n",
     4, "default_template \"general\": /nonexistent/general.txt: "},
};

START_TEST(test_errors)
{
	char *path = write_conf(bad[_i].text);
	char *err = NULL, *want;
	struct triage_config *cf;

	triage_init(); /* reply addresses are parsed with GMime */
	cf = config_load(path, &err);

	ck_assert_ptr_null(cf);
	ck_assert_ptr_nonnull(err);
	/* line 0: a whole-file problem, reported as "path: " */
	want = bad[_i].line ? g_strdup_printf("%s:%d: ", path, bad[_i].line)
			    : g_strdup_printf("%s: ", path);
	ck_assert_msg(g_str_has_prefix(err, want), "case %d: got \"%s\"", _i,
		      err);
	ck_assert_msg(strstr(err, bad[_i].needle) != NULL,
		      "case %d: \"%s\" lacks \"%s\"", _i, err, bad[_i].needle);
	g_free(want);
	g_free(err);
	unlink(path);
	g_free(path);
}
END_TEST

/* A section overrides only the keys it sets of a shipped category. */
START_TEST(test_category_override)
{
	char *path = write_conf("category legal {\n threshold = 4.0\n}\n"
				"category refund {\n route = \"billing\"\n}\n"
				"route billing {\n}\n");
	char *err = NULL;
	struct triage_config *cf = config_load(path, &err);
	const struct config_category *c;

	ck_assert_msg(cf != NULL, "error: %s", err);
	c = config_category(cf, "legal");
	ck_assert_double_eq_tol(c->threshold, 4.0, 1e-9);
	ck_assert_int_eq(c->priority, 100);
	ck_assert_str_eq(c->route, "legal");
	ck_assert_str_eq(c->flag, "legal-threat");
	c = config_category(cf, "refund");
	ck_assert_ptr_nonnull(c);
	ck_assert_double_eq_tol(c->threshold, CONFIG_DEF_THRESHOLD, 1e-9);
	ck_assert_str_eq(c->flag, "refund");
	ck_assert_str_eq(c->route, "billing");
	config_unref(cf);
	unlink(path);
	g_free(path);
}
END_TEST

START_TEST(test_missing_file)
{
	char *err = NULL;

	ck_assert_ptr_null(config_load("/nonexistent/triage.conf", &err));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/triage.conf"));
	g_free(err);
}
END_TEST

/* A configuration named by a relative path keeps an absolute one: the
 * daemon changes to / and reloads from cf->path. */
START_TEST(test_relative_path)
{
	char *path = write_conf("pidfile = \"run/t.pid\"\n"
				"length {\n  long_words = 300\n}\n");
	char *dir = g_path_get_dirname(path), *base = g_path_get_basename(path);
	char *was = g_get_current_dir(), *err = NULL, *pid;
	struct triage_config *cf;

	ck_assert_int_eq(chdir(dir), 0);
	cf = config_load(base, &err);
	ck_assert_int_eq(chdir(was), 0);
	ck_assert_msg(cf != NULL, "error: %s", err);
	ck_assert_str_eq(cf->path, path);
	/* the pid file too is near the configuration, not in "/" */
	pid = g_build_filename(dir, "run", "t.pid", NULL);
	ck_assert_str_eq(cf->pidfile, pid);
	g_free(pid);
	config_unref(cf);
	unlink(path);
	g_free(path);
	g_free(dir);
	g_free(base);
	g_free(was);
}
END_TEST

static const struct {
	const char *spec;
	int ok;
} sockets[] = {
    {"unix:/run/triage.sock", 1},
    {"local:/tmp/x.sock", 1},
    {"inet:8894@127.0.0.1", 1},
    {"inet:8894", 1},
    {"inet6:8894@[::1]", 1},
    {"inet:0@127.0.0.1", 0},
    {"inet:@127.0.0.1", 0},
    {"inet:8894@", 0},
    {"unix:", 0},
    {"8894", 0},
    {"inet:12ab@localhost", 0},
};

START_TEST(test_socket_specs)
{
	char *err = NULL;
	int rc = config_parse_socket(sockets[_i].spec, &err);

	ck_assert_msg((rc == 0) == sockets[_i].ok, "%s: rc %d (%s)",
		      sockets[_i].spec, rc, err ? err : "");
	ck_assert(sockets[_i].ok ? err == NULL : err != NULL);
	g_free(err);
}
END_TEST

START_TEST(test_sample_config)
{
	char *path =
	    g_build_filename(UNIT_FILE(), "conf", "triage-milter.conf", NULL);
	char *err = NULL;
	struct triage_config *cf = config_load(path, &err);

	ck_assert_msg(cf != NULL, "sample config: %s", err);
	config_unref(cf);
	g_free(path);
}
END_TEST

/* load - a configuration from text; fails the test when bad */
static struct triage_config *
load(const char *text)
{
	char *path = write_conf(text), *err = NULL;
	struct triage_config *cf = config_load(path, &err);

	ck_assert_msg(cf != NULL, "%s", err ? err : "");
	unlink(path);
	g_free(path);
	return cf;
}

START_TEST(test_restart_keys)
{
	struct triage_config *was, *same, *now;
	char *keys, *text;

	triage_init(); /* reply addresses are parsed with GMime */
	was = load("socket_mode = \"0660\"\n"
		   "length {\n long_words = 300\n}\n");
	same = load("socket_mode = \"0660\"\n"
		    "length {\n long_words = 50\n}\n");
	text = g_strdup_printf("socket = \"unix:/run/other.sock\"\n"
			       "socket_mode = \"0600\"\n"
			       "syslog_facility = local3\n"
			       "store = \"lmdb:/var/lib/other\"\n"
			       "stats_listen = \"127.0.0.1:9100\"\n"
			       "reply {\n enable = true\n"
			       " from = \"Support <support@example.com>\"\n"
			       " addresses = {\"support@example.com\"}\n"
			       " templates = \"%s/conf/templates\"\n"
			       " transport = \"smtp://127.0.0.1:25\"\n}\n",
			       UNIT_FILE());
	now = load(text);
	g_free(text);

	/* what a reload applies (length, rules, ...) is not listed */
	ck_assert_ptr_null(config_restart_keys(was, same, 0));
	keys = config_restart_keys(was, now, 0);
	ck_assert_str_eq(keys, "socket, socket_mode, syslog_facility, store, "
			       "transport, stats_listen, acknowledgments "
			       "switched on");
	g_free(keys);
	/* -p gave the socket: the file's socket does not count */
	keys = config_restart_keys(was, now, 1);
	ck_assert_ptr_null(strstr(keys, "socket,"));
	ck_assert_ptr_nonnull(strstr(keys, "socket_mode"));
	g_free(keys);
	/* switching acknowledgments off applies at once */
	keys = config_restart_keys(now, was, 1);
	ck_assert_ptr_null(strstr(keys, "acknowledgments"));
	g_free(keys);
	config_unref(was);
	config_unref(same);
	config_unref(now);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_values);
	tcase_add_loop_test(tc, test_errors, 0, G_N_ELEMENTS(bad));
	tcase_add_test(tc, test_category_override);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_relative_path);
	tcase_add_loop_test(tc, test_socket_specs, 0, G_N_ELEMENTS(sockets));
	tcase_add_test(tc, test_sample_config);
	tcase_add_test(tc, test_restart_keys);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(config_suite)
