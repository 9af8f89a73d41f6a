/*
 * test-store-redis.c - what only the Redis backend does: outages,
 * timeouts, reconnection, credentials, and what lands on the server
 *
 * The cases about an unreachable or silent server need no Redis: they
 * make a loopback port that refuses, or one that accepts and never
 * answers, and always run.  The others need the redis-server that
 * tests/store-redis.sh starts, and return early without it.  That script
 * sets:
 *
 *	TRIAGE_STORE_URI       the store, e.g. redis://:PASS@127.0.0.1:P/3
 *	TRIAGE_REDIS_PORT      its port on 127.0.0.1, for a raw connection
 *	TRIAGE_REDIS_PASSWORD  its password
 *	TRIAGE_REDIS_DB        the database the URI selects
 *	TRIAGE_REDIS_STOP      a shell command that stops it (by PID)
 *	TRIAGE_REDIS_START     a shell command that starts it again on the
 *	                       same port and returns once it answers PING
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "store.h"
#include "unit.h"

/* The backend's per-step timeout and reconnect pacing (store_redis.c). */
#define TIMEOUT_MS 200
#define RECONNECT_MS 1000
/* "Fails fast": far below a timeout, generous for a sanitizer build. */
#define FAST_MS 50
/* The brief's bound on any single call during an outage. */
#define CALL_MAX_MS 1000
/* How long a restarted server may take to be used again. */
#define RECOVER_MS 5000

static struct {
	char *tmp;
	char *key_file;
	const char *uri; /* NULL: no server for this run */
	int port;
	const char *password;
	int db;
} fx;

static void raw_master(void);

static void
setup(void)
{
	const char *uri = getenv("TRIAGE_STORE_URI");
	const char *port = getenv("TRIAGE_REDIS_PORT");
	const char *db = getenv("TRIAGE_REDIS_DB");

	fx.tmp = g_dir_make_tmp("test-store-redis-XXXXXX", NULL);
	ck_assert_ptr_nonnull(fx.tmp);
	fx.key_file = g_build_filename(fx.tmp, "site.key", NULL);
	if (uri != NULL && strncmp(uri, "redis", 5) == 0 && port != NULL) {
		fx.uri = uri;
		fx.port = atoi(port);
		fx.password = getenv("TRIAGE_REDIS_PASSWORD");
		fx.db = db != NULL ? atoi(db) : 0;
		/* a failed test_refusing must not leave a replica behind */
		raw_master();
	}
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	nftw(fx.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	g_free(fx.tmp);
	g_free(fx.key_file);
	memset(&fx, 0, sizeof(fx));
}

/* ms_since - milliseconds on the monotonic clock since t0 (from
 * g_get_monotonic_time) */
static long
ms_since(gint64 t0)
{
	return (long)((g_get_monotonic_time() - t0) / 1000);
}

/* open_uri - store_open or fail the case */
static struct store *
open_uri(const char *uri)
{
	char *error = NULL;
	struct store *st = store_open(uri, fx.key_file, &error);

	ck_assert_msg(st != NULL, "store_open(%s): %s", uri, error);
	return st;
}

/* loopback_socket - a TCP socket bound to 127.0.0.1 on a free port;
 * listening (accepts, never answers) or not (connections refused) */
static int
loopback_socket(int listening, int *port_r)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 64), 0);
	*port_r = ntohs(sin.sin_port);
	return fd;
}

/*
 * all_fail - every operation fails within max_ms, says why (want) and
 * leaves its outputs alone
 */
static void
all_fail(struct store *st, long max_ms, const char *want)
{
	unsigned long count = 77;
	int present = 42;
	gint64 t0;

	for (int op = 0; op < 6; op++) {
		int rc = 0;

		t0 = g_get_monotonic_time();
		switch (op) {
		case 0:
			rc = store_mark_once(st, "ack:x", 60, &present);
			break;
		case 1:
			rc = store_exists(st, "ack:x", &present);
			break;
		case 2:
			rc = store_set(st, "ack:x", 60);
			break;
		case 3:
			rc = store_del(st, "ack:x");
			break;
		case 4:
			rc = store_window_add(st, "count:x", 60, &count);
			break;
		default:
			rc = store_window_count(st, "count:x", 60, &count);
			break;
		}
		ck_assert_msg(rc == -1, "operation %d succeeded", op);
		ck_assert_msg(ms_since(t0) <= max_ms, "operation %d: %ld ms",
			      op, ms_since(t0));
		ck_assert_msg(strstr(store_last_error(st), want) != NULL,
			      "\"%s\" lacks \"%s\"", store_last_error(st),
			      want);
	}
	ck_assert_int_eq(present, 42);
	ck_assert_uint_eq(count, 77);
}

/* test_unreachable - the store opens while Redis is down, reports it,
 * and every call fails at once */
START_TEST(test_unreachable)
{
	int port, fd = loopback_socket(0, &port);
	char *uri = g_strdup_printf("redis://127.0.0.1:%d/0", port);
	struct store *st = open_uri(uri);
	unsigned long removed = 5;
	gint64 t0 = g_get_monotonic_time();
	char why[STORE_ERROR_MAX];

	/* before any call: the open's own failure, with the server */
	ck_assert_int_eq(store_available(st, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, uri) != NULL && strstr(why, "refused"), "%s",
		      why);
	for (int i = 0; i < 20; i++)
		all_fail(st, FAST_MS, "down since");
	ck_assert_ptr_nonnull(strstr(store_last_error(st), "refused"));
	ck_assert_ptr_nonnull(strstr(store_last_error(st), uri));
	/* 120 calls: no connect timeout, no sleep per call */
	ck_assert_int_lt(ms_since(t0), 1000);
	/* nothing to purge on Redis, down or not */
	ck_assert_int_eq(store_purge(st, &removed), 0);
	ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(store_available(st, NULL, 0), 0);
	store_close(st);
	close(fd);
	g_free(uri);
}
END_TEST

/* test_silent_server - a server that accepts and never answers costs
 * one timeout (the open's PING), then calls fail at once until the
 * reconnect interval */
START_TEST(test_silent_server)
{
	int port, fd = loopback_socket(1, &port);
	char *uri = g_strdup_printf("redis://127.0.0.1:%d/0", port);
	gint64 t0 = g_get_monotonic_time();
	struct store *st = open_uri(uri);
	int present = 42;
	long ms;

	/* the open asked, got no answer, and starts down (not fatal) */
	ms = ms_since(t0);
	ck_assert_msg(ms >= TIMEOUT_MS - 20 && ms < CALL_MAX_MS, "%ld ms", ms);
	ck_assert_int_eq(store_available(st, NULL, 0), 0);
	ck_assert_int_eq(store_mark_once(st, "ack:x", 60, &present), -1);
	ck_assert_msg(strstr(store_last_error(st), "no answer within") != NULL,
		      "%s", store_last_error(st));
	ck_assert_int_eq(present, 42);
	/* no new attempt within the interval */
	t0 = g_get_monotonic_time();
	for (int i = 0; i < 10; i++)
		all_fail(st, FAST_MS, "down since");
	ck_assert_int_lt(ms_since(t0), RECONNECT_MS / 2);
	/* after it, one call tries again and pays the timeout again */
	g_usleep((RECONNECT_MS + 100) * 1000);
	t0 = g_get_monotonic_time();
	ck_assert_int_eq(store_exists(st, "ack:x", &present), -1);
	ms = ms_since(t0);
	ck_assert_msg(ms >= TIMEOUT_MS - 20 && ms < CALL_MAX_MS, "%ld ms", ms);
	ck_assert_int_eq(present, 42);
	store_close(st);
	close(fd);
	g_free(uri);
}
END_TEST

/* raw - a plain hiredis connection to the test server */
static redisContext *
raw(void)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", fx.port, tv);
	redisReply *r;

	ck_assert_msg(c != NULL && c->err == 0, "raw connect: %s",
		      c ? c->errstr : "no memory");
	if (fx.password != NULL) {
		r = redisCommand(c, "AUTH %s", fx.password);
		ck_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
		freeReplyObject(r);
	}
	r = redisCommand(c, "SELECT %d", fx.db);
	ck_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
	freeReplyObject(r);
	return c;
}

/* raw_int - an integer command on the raw connection */
static long long
raw_int(redisContext *c, const char *cmd, const char *key)
{
	redisReply *r = redisCommand(c, cmd, key);
	long long v;

	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_INTEGER, "%s %s", cmd,
		      key);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

/* server_key - "triage:" + hex HMAC of key under the site key */
static char *
server_key(const char *key)
{
	unsigned char hk[STORE_HASH_BYTES];
	unsigned int hlen = 0;
	gchar *site = NULL;
	gsize len = 0;
	GString *s = g_string_new("triage:");

	ck_assert(g_file_get_contents(fx.key_file, &site, &len, NULL));
	ck_assert_uint_eq(len, STORE_SITE_KEY_BYTES);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), site, (int)len,
				   (const unsigned char *)key, strlen(key), hk,
				   &hlen));
	for (unsigned i = 0; i < hlen; i++)
		g_string_append_printf(s, "%02x", hk[i]);
	g_free(site);
	return g_string_free(s, FALSE);
}

/* test_latest_cause - an outage that changes its face (a server that
 * hung, then went away) is reported with what fails now, to any thread */
static gpointer
mark_in_thread(gpointer st)
{
	int present = 42;

	ck_assert_int_eq(store_mark_once(st, "ack:x", 60, &present), -1);
	return NULL;
}

START_TEST(test_latest_cause)
{
	int port, fd = loopback_socket(1, &port);
	char *uri = g_strdup_printf("redis://127.0.0.1:%d/0", port);
	struct store *st = open_uri(uri);
	char why[STORE_ERROR_MAX];
	int present = 42;

	ck_assert_int_eq(store_available(st, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "no answer within") != NULL, "%s", why);
	/* this thread's last error is an old, unrelated one */
	ck_assert_int_eq(store_mark_once(st, "ack:x", 0, &present), -1);
	close(fd);
	g_usleep((RECONNECT_MS + 100) * 1000);
	/* another thread (the sender) meets the refused connect */
	g_thread_join(g_thread_new("other", mark_in_thread, st));
	ck_assert_int_eq(store_available(st, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, uri) != NULL && strstr(why, "refused"), "%s",
		      why);
	ck_assert_msg(strstr(store_last_error(st), "ttl") != NULL, "%s",
		      store_last_error(st));
	store_close(st);
	g_free(uri);
}
END_TEST

/* test_keys_hashed - the server sees hashed keys with a TTL, no address */
START_TEST(test_keys_hashed)
{
	struct store *st;
	redisContext *c;
	redisReply *r;
	char *mark, *win;
	unsigned long count = 0;
	int present = -1;

	if (fx.uri == NULL)
		return;
	st = open_uri(fx.uri);
	ck_assert_int_eq(store_mark_once(st,
					 "ack:general:ann.plain@example.org",
					 600, &present),
			 0);
	ck_assert_int_eq(present, 0);
	ck_assert_int_eq(
	    store_window_add(st, "count:ann.plain@example.org", 300, &count),
	    0);
	ck_assert_uint_eq(count, 1);
	mark = server_key("ack:general:ann.plain@example.org");
	win = server_key("count:ann.plain@example.org");
	c = raw();
	ck_assert_int_eq(raw_int(c, "EXISTS %s", mark), 1);
	ck_assert_int_eq(raw_int(c, "EXISTS %s", win), 1);
	ck_assert_int_eq(raw_int(c, "ZCARD %s", win), 1);
	/* both expire on the server: nothing needs purging */
	ck_assert_int_gt(raw_int(c, "TTL %s", mark), 590);
	ck_assert_int_le(raw_int(c, "TTL %s", mark), 600);
	ck_assert_int_gt(raw_int(c, "TTL %s", win), 290);
	ck_assert_int_le(raw_int(c, "TTL %s", win), 300);
	r = redisCommand(c, "KEYS %s", "*ann.plain*");
	ck_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(r->elements, 0);
	freeReplyObject(r);
	r = redisCommand(c, "KEYS %s", "*example.org*");
	ck_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(r->elements, 0);
	freeReplyObject(r);
	redisFree(c);
	store_close(st);
	g_free(mark);
	g_free(win);
}
END_TEST

/* test_refused_config - a wrong password or database fails the open,
 * and the message never shows the password */
START_TEST(test_refused_config)
{
	char *uri, *auth, *esc, *error = NULL;

	if (fx.uri == NULL)
		return;
	uri = g_strdup_printf("redis://:Wr0ngPass@127.0.0.1:%d/0", fx.port);
	ck_assert_ptr_null(store_open(uri, fx.key_file, &error));
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, "AUTH refused") != NULL, "%s", error);
	ck_assert_msg(strstr(error, "Wr0ngPass") == NULL, "%s", error);
	g_free(error);
	g_free(uri);
	error = NULL;
	esc =
	    fx.password ? g_uri_escape_string(fx.password, NULL, FALSE) : NULL;
	auth = esc ? g_strdup_printf(":%s@", esc) : g_strdup("");
	uri = g_strdup_printf("redis://%s127.0.0.1:%d/99999", auth, fx.port);
	ck_assert_ptr_null(store_open(uri, fx.key_file, &error));
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, "SELECT refused") != NULL, "%s", error);
	if (fx.password != NULL)
		ck_assert_msg(strstr(error, fx.password) == NULL, "%s", error);
	g_free(error);
	g_free(uri);
	g_free(auth);
	g_free(esc);
	/* no password for a server that wants one: asked, and refused */
	if (fx.password == NULL)
		return;
	error = NULL;
	uri = g_strdup_printf("redis://127.0.0.1:%d", fx.port);
	ck_assert_ptr_null(store_open(uri, fx.key_file, &error));
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, "NOAUTH") != NULL, "%s", error);
	g_free(error);
	g_free(uri);
}
END_TEST

/* raw_replicaof - REPLICAOF host port on a raw connection, must be OK */
static void
raw_replicaof(redisContext *c, const char *host, const char *port)
{
	redisReply *r = redisCommand(c, "REPLICAOF %s %s", host, port);

	ck_assert_msg(r != NULL && r->type == REDIS_REPLY_STATUS,
		      "REPLICAOF %s %s: %s", host, port,
		      r != NULL && r->str != NULL ? r->str : c->errstr);
	freeReplyObject(r);
}

/* raw_master - make the test server a master again (see setup) */
static void
raw_master(void)
{
	redisContext *c = raw();

	raw_replicaof(c, "NO", "ONE");
	redisFree(c);
}

/*
 * test_refusing - a server that answers but refuses writes (here a
 * read-only replica, as after a failover to the wrong host) is reported
 * unavailable, so that the daemon logs the outage, until writes work
 */
START_TEST(test_refusing)
{
	struct store *st;
	redisContext *c;
	unsigned long count = 0;
	int present = -1;

	if (fx.uri == NULL)
		return;
	st = open_uri(fx.uri);
	ck_assert_int_eq(store_set(st, "ack:ro", 600), 0);
	c = raw();
	/* a master that refuses connections: the replica stays read-only */
	raw_replicaof(c, "127.0.0.1", "1");
	ck_assert_int_eq(store_window_add(st, "count:ro", 600, &count), -1);
	ck_assert_msg(strstr(store_last_error(st), "READONLY") != NULL, "%s",
		      store_last_error(st));
	ck_assert_int_eq(store_available(st, NULL, 0), 0);
	/* reads still work, but they do not end the refusal */
	ck_assert_int_eq(store_exists(st, "ack:ro", &present), 0);
	ck_assert_int_eq(present, 1);
	ck_assert_int_eq(store_available(st, NULL, 0), 0);
	ck_assert_int_eq(store_mark_once(st, "ack:ro2", 600, &present), -1);
	ck_assert_int_eq(store_available(st, NULL, 0), 0);
	raw_replicaof(c, "NO", "ONE");
	ck_assert_msg(store_window_add(st, "count:ro", 600, &count) == 0, "%s",
		      store_last_error(st));
	ck_assert_uint_eq(count, 1);
	ck_assert_int_eq(store_available(st, NULL, 0), 1);
	redisFree(c);
	store_close(st);
}
END_TEST

/* test_idle_closed - connections the server closed while idle are
 * replaced without failing a call or declaring an outage */
START_TEST(test_idle_closed)
{
	struct store *st;
	redisContext *c;
	redisReply *r;
	int present = -1;

	if (fx.uri == NULL)
		return;
	st = open_uri(fx.uri);
	ck_assert_int_eq(store_set(st, "k", 60), 0);
	c = raw();
	r = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
	ck_assert(r != NULL && r->type == REDIS_REPLY_INTEGER);
	ck_assert_int_ge(r->integer, 1);
	freeReplyObject(r);
	ck_assert_msg(store_exists(st, "k", &present) == 0, "%s",
		      store_last_error(st));
	ck_assert_int_eq(present, 1);
	ck_assert_int_eq(store_available(st, NULL, 0), 1);
	redisFree(c);
	store_close(st);
}
END_TEST

/* run_cmd - run a control command from the environment */
static void
run_cmd(const char *var)
{
	const char *cmd = getenv(var);
	int rc;

	ck_assert_msg(cmd != NULL && *cmd != '\0', "%s is not set", var);
	rc = system(cmd);
	ck_assert_msg(rc == 0, "%s (%s): status %d", var, cmd, rc);
}

/* test_outage - Redis stops mid-run: calls fail fast without a crash;
 * Redis comes back on the same port: calls succeed again soon */
START_TEST(test_outage)
{
	struct store *st;
	unsigned long count = 0;
	int present = -1, rc = -1;
	gint64 t0;

	if (fx.uri == NULL || getenv("TRIAGE_REDIS_STOP") == NULL)
		return;
	st = open_uri(fx.uri);
	ck_assert_int_eq(store_mark_once(st, "ack:outage", 600, &present), 0);
	ck_assert_int_eq(store_window_add(st, "count:outage", 600, &count), 0);
	ck_assert_int_eq(store_available(st, NULL, 0), 1);

	run_cmd("TRIAGE_REDIS_STOP");
	/* the first call finds out; it may pay a connect attempt */
	all_fail(st, CALL_MAX_MS, "");
	ck_assert_int_eq(store_available(st, NULL, 0), 0);
	t0 = g_get_monotonic_time();
	for (int i = 0; i < 20; i++)
		all_fail(st, CALL_MAX_MS, "down since");
	ck_assert_msg(ms_since(t0) < 2 * CALL_MAX_MS, "%ld ms", ms_since(t0));

	run_cmd("TRIAGE_REDIS_START");
	t0 = g_get_monotonic_time();
	while (ms_since(t0) < RECOVER_MS) {
		rc = store_mark_once(st, "ack:outage", 600, &present);
		if (rc == 0)
			break;
		g_usleep(50 * 1000);
	}
	ck_assert_msg(rc == 0, "no recovery in %d ms: %s", RECOVER_MS,
		      store_last_error(st));
	ck_assert_int_eq(store_available(st, NULL, 0), 1);
	/* the server kept nothing (no persistence): a fresh start */
	ck_assert_int_eq(present, 0);
	/* the window script is loaded again after the restart */
	ck_assert_msg(store_window_add(st, "count:outage", 600, &count) == 0,
		      "%s", store_last_error(st));
	ck_assert_uint_eq(count, 1);
	store_close(st);
}
END_TEST

static Suite *
store_redis_suite(void)
{
	Suite *s = suite_create("store-redis");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_silent_server);
	tcase_add_test(tc, test_latest_cause);
	tcase_add_test(tc, test_keys_hashed);
	tcase_add_test(tc, test_refused_config);
	tcase_add_test(tc, test_refusing);
	tcase_add_test(tc, test_idle_closed);
	tcase_add_test(tc, test_outage);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(store_redis_suite)
