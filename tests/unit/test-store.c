/*
 * test-store.c - the store interface, run against one backend
 *
 * The cases only use store.h, so the same suite runs against any backend:
 * TRIAGE_STORE_URI names it (say redis://127.0.0.1:6399/0); unset, each
 * case gets a fresh lmdb: directory under /dev/shm (or the temporary
 * directory).  Each case also gets a
 * fresh site key, so cases never see each other's keys even on a shared
 * server.  Cases about files on disk (plaintext, directory errors, map
 * size) only run for lmdb: and return early otherwise.  Expiry runs on a
 * fake clock that starts at the real time and only moves forward.  Redis
 * expires marks on its own real clock, so the cases that need a mark to
 * expire use spans of 1-2 s and pass_time(), which also sleeps for any
 * backend but lmdb:; window counts follow the store clock everywhere.
 * tests/store-redis.sh runs this suite against a redis-server of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "store.h"
#include "sweep.h"
#include "unit.h"

#define THREADS 8
#define MARKS_PER_THREAD 1000
#define ADDS_PER_THREAD 50
#define PROCESSES 4
#define KEYS_PER_PROCESS 100
/* test_processes_shared: every child marks the same keys, many times */
#define SHARED_CHILDREN 2
#define SHARED_MARKS 500
#define SHARED_KEYS 100
#define SHARED_ADDS 100
#define NOBODY 65534

static struct {
	char *tmp;      /* scratch directory, removed after a passing case */
	char *uri;      /* store under test */
	char *key_file; /* NULL: the backend's default */
	int lmdb;
	char *dir; /* lmdb: the store directory */
} fx;

static time_t fake_now;

/* fake_clock - the store clock during tests */
static time_t
fake_clock(void)
{
	return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

/*
 * store_tmpdir - a fresh scratch directory, on /dev/shm where there is
 * one: LMDB commits every write with fsync, and the map-full cases write
 * tens of thousands of marks, which takes half a minute on a busy disk
 * and a second or two in memory.  What is tested is the same.
 */
static char *
store_tmpdir(void)
{
	struct stat sb;

	if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    access("/dev/shm", W_OK | X_OK) == 0) {
		char *dir = g_strdup("/dev/shm/test-store-XXXXXX");

		if (g_mkdtemp(dir) != NULL)
			return dir;
		g_free(dir);
	}
	return g_dir_make_tmp("test-store-XXXXXX", NULL);
}

static void
setup(void)
{
	const char *env = getenv("TRIAGE_STORE_URI");

	fx.tmp = store_tmpdir();
	ck_assert_ptr_nonnull(fx.tmp);
	if (env != NULL && *env != '\0') {
		fx.uri = g_strdup(env);
		fx.key_file = g_build_filename(fx.tmp, "site.key", NULL);
	} else {
		fx.uri = g_strdup_printf("lmdb:%s/db", fx.tmp);
		fx.key_file = NULL;
	}
	fx.lmdb = strncmp(fx.uri, "lmdb:", 5) == 0;
	fx.dir =
	    fx.lmdb ? g_strndup(fx.uri + 5, strcspn(fx.uri + 5, "?")) : NULL;
	fake_now = time(NULL);
	store_set_clock(fake_clock);
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
	store_set_clock(NULL);
	if (fx.tmp != NULL) {
		chmod(fx.tmp, 0700);
		nftw(fx.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	g_free(fx.tmp);
	g_free(fx.uri);
	g_free(fx.key_file);
	g_free(fx.dir);
	memset(&fx, 0, sizeof(fx));
}

/*
 * pass_time - let s seconds pass for expiry: the fake clock moves, and
 * for a server that expires on its own clock the test sleeps too (with a
 * margin: Redis expires with millisecond precision)
 */
static void
pass_time(unsigned s)
{
	__atomic_add_fetch(&fake_now, (time_t)s, __ATOMIC_RELAXED);
	if (!fx.lmdb)
		g_usleep(s * G_USEC_PER_SEC + G_USEC_PER_SEC / 10);
}

/* open_store - open the store under test or fail the case */
static struct store *
open_store(void)
{
	char *error = NULL;
	struct store *st = store_open(fx.uri, fx.key_file, &error);

	ck_assert_msg(st != NULL, "store_open(%s): %s", fx.uri, error);
	return st;
}

/* key_path - the site key file of the store under test */
static char *
key_path(void)
{
	if (fx.key_file != NULL)
		return g_strdup(fx.key_file);
	return g_build_filename(fx.dir, "site.key", NULL);
}

static int
mark(struct store *st, const char *key, unsigned ttl)
{
	int present = -1;

	ck_assert_msg(store_mark_once(st, key, ttl, &present) == 0, "%s",
		      store_last_error(st));
	ck_assert(present == 0 || present == 1);
	return present;
}

static int
exists(struct store *st, const char *key)
{
	int present = -1;

	ck_assert_msg(store_exists(st, key, &present) == 0, "%s",
		      store_last_error(st));
	ck_assert(present == 0 || present == 1);
	return present;
}

static unsigned long
wadd(struct store *st, const char *key, unsigned window)
{
	unsigned long count = 12345;

	ck_assert_msg(store_window_add(st, key, window, &count) == 0, "%s",
		      store_last_error(st));
	return count;
}

static unsigned long
wcount(struct store *st, const char *key, unsigned window)
{
	unsigned long count = 12345;

	ck_assert_msg(store_window_count(st, key, window, &count) == 0, "%s",
		      store_last_error(st));
	return count;
}

START_TEST(test_mark_once)
{
	struct store *st = open_store();

	ck_assert_int_eq(mark(st, "ack:general:ann@example.org", 3600), 0);
	ck_assert_int_eq(mark(st, "ack:general:ann@example.org", 3600), 1);
	ck_assert_int_eq(mark(st, "ack:general:ann@example.org", 3600), 1);
	ck_assert_int_eq(mark(st, "ack:legal:ann@example.org", 3600), 0);
	ck_assert_int_eq(mark(st, "ack:general:bob@example.org", 3600), 0);
	ck_assert_int_eq(exists(st, "ack:general:ann@example.org"), 1);
	ck_assert_int_eq(exists(st, "ack:general:cy@example.org"), 0);
	ck_assert_int_eq(store_available(st, NULL, 0), 1);
	store_close(st);
}
END_TEST

/* test_expiry - exact boundaries on the fake clock (lmdb: only) */
START_TEST(test_expiry)
{
	struct store *st;
	time_t t0 = fake_now;

	if (!fx.lmdb)
		return;
	st = open_store();

	ck_assert_int_eq(mark(st, "k", 60), 0);
	fake_now = t0 + 59;
	ck_assert_int_eq(exists(st, "k"), 1);
	/* a present mark is left alone: its expiry does not move */
	ck_assert_int_eq(mark(st, "k", 60), 1);
	fake_now = t0 + 60;
	ck_assert_int_eq(exists(st, "k"), 0);
	ck_assert_int_eq(mark(st, "k", 60), 0);
	fake_now = t0 + 119;
	ck_assert_int_eq(mark(st, "k", 60), 1);
	fake_now = t0 + 120;
	ck_assert_int_eq(mark(st, "k", 60), 0);
	store_close(st);
}
END_TEST

/* test_expiry_short - the same on any backend, with short spans */
START_TEST(test_expiry_short)
{
	struct store *st = open_store();

	ck_assert_int_eq(mark(st, "k", 2), 0);
	ck_assert_int_eq(exists(st, "k"), 1);
	pass_time(1);
	ck_assert_int_eq(exists(st, "k"), 1);
	/* a present mark is left alone: its expiry does not move */
	ck_assert_int_eq(mark(st, "k", 2), 1);
	pass_time(1);
	ck_assert_int_eq(exists(st, "k"), 0);
	ck_assert_int_eq(mark(st, "k", 2), 0);
	ck_assert_int_eq(mark(st, "k", 2), 1);
	store_close(st);
}
END_TEST

START_TEST(test_set_exists_del)
{
	struct store *st = open_store();

	ck_assert_int_eq(exists(st, "hour:acks"), 0);
	ck_assert_int_eq(store_set(st, "hour:acks", 1), 0);
	ck_assert_int_eq(exists(st, "hour:acks"), 1);
	/* set overwrites: longer, then shorter */
	ck_assert_int_eq(store_set(st, "hour:acks", 100), 0);
	pass_time(1);
	ck_assert_int_eq(exists(st, "hour:acks"), 1);
	ck_assert_int_eq(store_set(st, "hour:acks", 1), 0);
	pass_time(1);
	ck_assert_int_eq(exists(st, "hour:acks"), 0);
	ck_assert_int_eq(store_set(st, "hour:acks", 100), 0);
	ck_assert_int_eq(store_del(st, "hour:acks"), 0);
	ck_assert_int_eq(exists(st, "hour:acks"), 0);
	ck_assert_int_eq(mark(st, "hour:acks", 100), 0);
	/* deleting what is not there is not an error */
	ck_assert_int_eq(store_del(st, "never:set"), 0);
	store_close(st);
}
END_TEST

START_TEST(test_window_sliding)
{
	struct store *st = open_store();
	const char *k = "count:ann@example.org";
	time_t t0 = fake_now;

	ck_assert_uint_eq(wcount(st, k, 30), 0);
	ck_assert_uint_eq(wadd(st, k, 30), 1);
	fake_now = t0 + 10;
	ck_assert_uint_eq(wadd(st, k, 30), 2);
	fake_now = t0 + 20;
	ck_assert_uint_eq(wadd(st, k, 30), 3);
	ck_assert_uint_eq(wcount(st, k, 30), 3);
	/* a narrower question over the same events */
	ck_assert_uint_eq(wcount(st, k, 15), 2);
	fake_now = t0 + 29;
	ck_assert_uint_eq(wcount(st, k, 30), 3);
	fake_now = t0 + 30;
	ck_assert_uint_eq(wcount(st, k, 30), 2);
	fake_now = t0 + 35;
	ck_assert_uint_eq(wadd(st, k, 30), 3);
	fake_now = t0 + 49;
	ck_assert_uint_eq(wcount(st, k, 30), 2);
	fake_now = t0 + 100;
	ck_assert_uint_eq(wcount(st, k, 30), 0);
	/* a Redis key expires on the server's clock, not the fake one */
	if (fx.lmdb)
		ck_assert_int_eq(exists(st, k), 0);
	ck_assert_uint_eq(wadd(st, k, 30), 1);
	/* windows of different keys are separate */
	ck_assert_uint_eq(wcount(st, "count:bob@example.org", 30), 0);
	store_close(st);
}
END_TEST

START_TEST(test_window_cap)
{
	struct store *st = open_store();
	unsigned long count = 0;

	for (int i = 0; i < STORE_WINDOW_MAX_EVENTS + 10; i++) {
		count = wadd(st, "flood", 86400);
		ck_assert_uint_le(count, STORE_WINDOW_MAX_EVENTS);
		if (i % 16 == 0)
			fake_now++;
	}
	ck_assert_uint_eq(count, STORE_WINDOW_MAX_EVENTS);
	ck_assert_uint_eq(wcount(st, "flood", 86400), STORE_WINDOW_MAX_EVENTS);
	/* the oldest were dropped: the first 16-event second is gone */
	ck_assert_uint_lt(wcount(st, "flood", 32),
			  (unsigned long)STORE_WINDOW_MAX_EVENTS);
	store_close(st);
}
END_TEST

START_TEST(test_purge)
{
	struct store *st = open_store();
	unsigned long removed = 12345;

	ck_assert_int_eq(store_set(st, "short", 1), 0);
	ck_assert_int_eq(store_set(st, "long", 100), 0);
	ck_assert_uint_eq(wadd(st, "win:short", 1), 1);
	ck_assert_uint_eq(wadd(st, "win:long", 1000), 1);
	ck_assert_int_eq(mark(st, "mark:short", 1), 0);
	pass_time(2);
	ck_assert_int_eq(store_purge(st, &removed), 0);
	/* a shared server may hold other expired keys, or expire on its own */
	if (fx.lmdb)
		ck_assert_uint_eq(removed, 3);
	ck_assert_int_eq(exists(st, "short"), 0);
	ck_assert_int_eq(exists(st, "long"), 1);
	ck_assert_int_eq(exists(st, "mark:short"), 0);
	ck_assert_uint_eq(wcount(st, "win:short", 1), 0);
	ck_assert_uint_eq(wcount(st, "win:long", 1000), 1);
	ck_assert_int_eq(store_purge(st, &removed), 0);
	if (fx.lmdb)
		ck_assert_uint_eq(removed, 0);
	store_close(st);
}
END_TEST

/* test_sweep - the sweep thread purges on its own, with no other caller
 * (the daemon starts one whenever it opens a store, acknowledgments or
 * not), and stops promptly mid-interval */
START_TEST(test_sweep)
{
	struct store *st = open_store();
	struct sweep *sw;
	unsigned long removed = 12345;
	gint64 t0;

	ck_assert_ptr_null(sweep_start(NULL, 10));
	ck_assert_ptr_null(sweep_stop(NULL));
	ck_assert_int_eq(store_set(st, "a", 1), 0);
	ck_assert_int_eq(store_set(st, "b", 1), 0);
	ck_assert_int_eq(store_set(st, "live", 1000), 0);
	ck_assert_uint_eq(wadd(st, "win", 1), 1);
	pass_time(2); /* before the thread starts: it reads the clock */
	sw = sweep_start(st, 20);
	ck_assert_ptr_nonnull(sw);
	if (fx.lmdb) {
		for (int i = 0; i < 500 && sweep_removed(sw) < 3; i++)
			g_usleep(10000);
		ck_assert_uint_eq(sweep_removed(sw), 3);
	}
	ck_assert_ptr_null(sweep_stop(sw));
	ck_assert_int_eq(store_purge(st, &removed), 0);
	if (fx.lmdb)
		ck_assert_uint_eq(removed, 0);
	ck_assert_int_eq(exists(st, "live"), 1);

	/* an hour's interval: stop must not wait for it */
	sw = sweep_start(st, 3600 * 1000);
	t0 = g_get_monotonic_time();
	ck_assert_ptr_null(sweep_stop(sw));
	ck_assert_int_lt(g_get_monotonic_time() - t0, 5 * G_USEC_PER_SEC);
	store_close(st);
}
END_TEST

/* test_purge_many - more entries than one purge batch, live and dead
 * interleaved, so resuming between batches must neither skip nor stop */
START_TEST(test_purge_many)
{
	struct store *st = open_store();
	unsigned long removed = 0;
	char key[32];
	int n = 2500;

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(store_set(st, key, i % 3 == 0 ? 1000 : 1), 0);
	}
	pass_time(2);
	ck_assert_int_eq(store_purge(st, &removed), 0);
	if (fx.lmdb)
		ck_assert_uint_eq(removed, n - (n + 2) / 3);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(exists(st, key), i % 3 == 0);
	}
	ck_assert_int_eq(store_purge(st, &removed), 0);
	if (fx.lmdb)
		ck_assert_uint_eq(removed, 0);
	store_close(st);
}
END_TEST

START_TEST(test_restart)
{
	struct store *st = open_store();
	char *path = key_path();
	gchar *key1 = NULL, *key2 = NULL;
	gsize len1 = 0, len2 = 0;

	ck_assert_int_eq(mark(st, "ack:general:ann@example.org", 86400), 0);
	ck_assert_uint_eq(wadd(st, "count:ann@example.org", 86400), 1);
	ck_assert_uint_eq(wadd(st, "count:ann@example.org", 86400), 2);
	ck_assert_uint_eq(wadd(st, "count:ann@example.org", 86400), 3);
	ck_assert(g_file_get_contents(path, &key1, &len1, NULL));
	ck_assert_ptr_null(store_close(st));

	st = open_store();
	ck_assert_int_eq(mark(st, "ack:general:ann@example.org", 86400), 1);
	ck_assert_uint_eq(wcount(st, "count:ann@example.org", 86400), 3);
	ck_assert_uint_eq(wadd(st, "count:ann@example.org", 86400), 4);
	ck_assert(g_file_get_contents(path, &key2, &len2, NULL));
	ck_assert_uint_eq(len1, STORE_SITE_KEY_BYTES);
	ck_assert(len1 == len2 && memcmp(key1, key2, len1) == 0);
	store_close(st);
	g_free(key1);
	g_free(key2);
	g_free(path);
}
END_TEST

struct thread_arg {
	struct store *st;
	pthread_barrier_t *barrier;
	int firsts;
	int errors;
	unsigned long counts[ADDS_PER_THREAD];
};

static void *
mark_thread(void *p)
{
	struct thread_arg *ta = p;

	pthread_barrier_wait(ta->barrier);
	for (int i = 0; i < MARKS_PER_THREAD; i++) {
		int present = -1;

		if (store_mark_once(ta->st, "ack:general:race@example.org",
				    3600, &present) < 0)
			ta->errors++;
		else if (present == 0)
			ta->firsts++;
	}
	return NULL;
}

static void *
window_thread(void *p)
{
	struct thread_arg *ta = p;

	pthread_barrier_wait(ta->barrier);
	for (int i = 0; i < ADDS_PER_THREAD; i++)
		if (store_window_add(ta->st, "count:race@example.org", 3600,
				     &ta->counts[i]) < 0)
			ta->errors++;
	return NULL;
}

/* run_threads - THREADS threads of fn on one store, started together */
static void
run_threads(struct store *st, void *(*fn)(void *), struct thread_arg *ta)
{
	pthread_t tid[THREADS];
	pthread_barrier_t barrier;

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		memset(&ta[i], 0, sizeof(ta[i]));
		ta[i].st = st;
		ta[i].barrier = &barrier;
		ck_assert_int_eq(pthread_create(&tid[i], NULL, fn, &ta[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&barrier);
}

START_TEST(test_threads_mark_once)
{
	struct store *st = open_store();
	struct thread_arg ta[THREADS];
	int firsts = 0;

	run_threads(st, mark_thread, ta);
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(ta[i].errors, 0);
		firsts += ta[i].firsts;
	}
	ck_assert_int_eq(firsts, 1);
	store_close(st);
}
END_TEST

START_TEST(test_threads_window)
{
	struct store *st = open_store();
	struct thread_arg ta[THREADS];
	int seen[THREADS * ADDS_PER_THREAD + 1] = {0};

	G_STATIC_ASSERT(THREADS * ADDS_PER_THREAD <= STORE_WINDOW_MAX_EVENTS);
	run_threads(st, window_thread, ta);
	/* atomic read-modify-write: each add saw a different count */
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(ta[i].errors, 0);
		for (int j = 0; j < ADDS_PER_THREAD; j++) {
			unsigned long c = ta[i].counts[j];

			ck_assert_uint_ge(c, 1);
			ck_assert_uint_le(c, THREADS * ADDS_PER_THREAD);
			ck_assert_int_eq(seen[c]++, 0);
		}
	}
	ck_assert_uint_eq(wcount(st, "count:race@example.org", 3600),
			  THREADS * ADDS_PER_THREAD);
	store_close(st);
}
END_TEST

/* test_processes - mark_once is atomic across processes sharing a store */
START_TEST(test_processes)
{
	int fds[2], firsts = 0;
	pid_t pids[PROCESSES];

	/* create the key first, so no child races to make it */
	store_close(open_store());
	ck_assert_int_eq(pipe(fds), 0);
	for (int p = 0; p < PROCESSES; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			char *error = NULL;
			struct store *st =
			    store_open(fx.uri, fx.key_file, &error);
			int mine = 0;
			char key[32];

			for (int k = 0; st != NULL && k < KEYS_PER_PROCESS;
			     k++) {
				int present = -1;

				snprintf(key, sizeof(key), "ack:%d", k);
				if (store_mark_once(st, key, 3600, &present) <
				    0)
					_exit(2);
				mine += present == 0;
			}
			if (st == NULL ||
			    write(fds[1], &mine, sizeof(mine)) != sizeof(mine))
				_exit(3);
			store_close(st);
			_exit(0);
		}
	}
	close(fds[1]);
	for (int p = 0; p < PROCESSES; p++) {
		int status, mine;

		ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		ck_assert_int_eq(read(fds[0], &mine, sizeof(mine)),
				 sizeof(mine));
		firsts += mine;
	}
	close(fds[0]);
	ck_assert_int_eq(firsts, KEYS_PER_PROCESS);
}
END_TEST

/* shared_child - one process of test_processes_shared: SHARED_MARKS
 * mark_once calls cycling over SHARED_KEYS keys, then SHARED_ADDS window
 * adds; reports its firsts and each count it saw on fd */
static void
shared_child(int fd)
{
	char *error = NULL;
	struct store *st = store_open(fx.uri, fx.key_file, &error);
	unsigned long counts[SHARED_ADDS];
	int firsts = 0;
	char key[32];

	if (st == NULL)
		_exit(3);
	for (int i = 0; i < SHARED_MARKS; i++) {
		int present = -1;

		snprintf(key, sizeof(key), "ack:shared:%d", i % SHARED_KEYS);
		if (store_mark_once(st, key, 3600, &present) < 0)
			_exit(2);
		firsts += present == 0;
	}
	for (int i = 0; i < SHARED_ADDS; i++)
		if (store_window_add(st, "count:shared@example.org", 3600,
				     &counts[i]) < 0)
			_exit(2);
	if (write(fd, &firsts, sizeof(firsts)) != sizeof(firsts) ||
	    write(fd, counts, sizeof(counts)) != sizeof(counts))
		_exit(3);
	store_close(st);
	_exit(0);
}

/* test_processes_shared - processes hitting the same keys at once: one
 * first per key in total, and every window add sees its own count */
START_TEST(test_processes_shared)
{
	int seen[SHARED_CHILDREN * SHARED_ADDS + 1] = {0};
	pid_t pids[SHARED_CHILDREN];
	int fds[SHARED_CHILDREN][2], firsts = 0;
	struct store *st;

	G_STATIC_ASSERT(SHARED_CHILDREN * SHARED_ADDS <=
			STORE_WINDOW_MAX_EVENTS);
	store_close(open_store());
	for (int p = 0; p < SHARED_CHILDREN; p++) {
		ck_assert_int_eq(pipe(fds[p]), 0);
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			close(fds[p][0]);
			shared_child(fds[p][1]);
		}
		close(fds[p][1]);
	}
	for (int p = 0; p < SHARED_CHILDREN; p++) {
		unsigned long counts[SHARED_ADDS];
		int status, mine = -1;

		ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "child %d: status %#x", p, status);
		ck_assert_int_eq(read(fds[p][0], &mine, sizeof(mine)),
				 sizeof(mine));
		ck_assert_int_eq(read(fds[p][0], counts, sizeof(counts)),
				 sizeof(counts));
		close(fds[p][0]);
		firsts += mine;
		for (int i = 0; i < SHARED_ADDS; i++) {
			ck_assert_uint_ge(counts[i], 1);
			ck_assert_uint_le(counts[i],
					  SHARED_CHILDREN * SHARED_ADDS);
			ck_assert_int_eq(seen[counts[i]]++, 0);
		}
	}
	ck_assert_int_eq(firsts, SHARED_KEYS);
	st = open_store();
	ck_assert_uint_eq(wcount(st, "count:shared@example.org", 3600),
			  SHARED_CHILDREN * SHARED_ADDS);
	store_close(st);
}
END_TEST

START_TEST(test_key_file_created)
{
	struct store *st = open_store();
	char *path = key_path();
	char *other = g_build_filename(fx.tmp, "other.key", NULL);
	char *error = NULL;
	struct stat sb;

	ck_assert_int_eq(mark(st, "ack:general:ann@example.org", 3600), 0);
	store_close(st);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	ck_assert_uint_eq(sb.st_size, STORE_SITE_KEY_BYTES);
	ck_assert_uint_eq(sb.st_uid, geteuid());
	/* no temporary file left beside it */
	{
		char *dir = g_path_get_dirname(path);
		GDir *d = g_dir_open(dir, 0, NULL);
		const char *name;

		ck_assert_ptr_nonnull(d);
		while ((name = g_dir_read_name(d)) != NULL)
			ck_assert_msg(strncmp(name, "site.key.", 9) != 0,
				      "left over: %s", name);
		g_dir_close(d);
		g_free(dir);
	}
	/* another key hashes differently: the mark is not seen */
	st = store_open(fx.uri, other, &error);
	ck_assert_msg(st != NULL, "%s", error);
	ck_assert_int_eq(mark(st, "ack:general:ann@example.org", 3600), 0);
	store_close(st);
	g_free(other);
	g_free(path);
}
END_TEST

/* open_fails - store_open must fail with an error containing want */
static void
open_fails(const char *uri, const char *key_file, const char *want)
{
	char *error = NULL;
	struct store *st = store_open(uri, key_file, &error);

	ck_assert_msg(st == NULL, "store_open(%s) succeeded", uri);
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strstr(error, want) != NULL, "\"%s\" lacks \"%s\"", error,
		      want);
	g_free(error);
}

START_TEST(test_key_file_mode)
{
	char *path = key_path();

	store_close(open_store());
	ck_assert_int_eq(chmod(path, 0644), 0);
	open_fails(fx.uri, fx.key_file, path);
	open_fails(fx.uri, fx.key_file, "group or other");
	ck_assert_int_eq(chmod(path, 0604), 0);
	open_fails(fx.uri, fx.key_file, "0604");
	ck_assert_int_eq(chmod(path, 0600), 0);
	store_close(open_store());
	g_free(path);
}
END_TEST

START_TEST(test_key_file_owner)
{
	char *path = key_path();

	store_close(open_store());
	/* only root can give a file away; others cannot set this up */
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(path, NOBODY, NOBODY), 0);
		open_fails(fx.uri, fx.key_file, "not by us");
		ck_assert_int_eq(chown(path, 0, 0), 0);
	}
	store_close(open_store());
	g_free(path);
}
END_TEST

START_TEST(test_key_file_bad)
{
	char *path = g_build_filename(fx.tmp, "bad.key", NULL);
	char *link = g_build_filename(fx.tmp, "link.key", NULL);
	char *good = g_build_filename(fx.tmp, "good.key", NULL);
	char *error = NULL;
	struct store *st;

	ck_assert(g_file_set_contents(path, "0123456789abcdef", 16, NULL));
	ck_assert_int_eq(chmod(path, 0600), 0);
	open_fails(fx.uri, path, "must be 32 bytes");
	st = store_open(fx.uri, good, &error);
	ck_assert_msg(st != NULL, "%s", error);
	store_close(st);
	ck_assert_int_eq(symlink(good, link), 0);
	open_fails(fx.uri, link, "symbolic link");
	g_free(path);
	g_free(link);
	g_free(good);
}
END_TEST

START_TEST(test_no_plaintext)
{
	const char *key = "ack:general:ann.plaintext@example.org";
	unsigned char hk[STORE_HASH_BYTES], site[STORE_SITE_KEY_BYTES];
	unsigned int hlen = 0;
	struct store *st;
	char *data, *path;
	gchar *bytes = NULL, *kbytes = NULL;
	gsize len = 0, klen = 0;

	if (!fx.lmdb)
		return;
	st = open_store();
	ck_assert_int_eq(mark(st, key, 3600), 0);
	ck_assert_uint_eq(wadd(st, "count:ann.plaintext@example.org", 60), 1);
	store_close(st);

	data = g_build_filename(fx.dir, "data.mdb", NULL);
	ck_assert(g_file_get_contents(data, &bytes, &len, NULL));
	ck_assert_ptr_null(memmem(bytes, len, "ann.plaintext", 13));
	ck_assert_ptr_null(memmem(bytes, len, "example.org", 11));
	/* and the keyed hash is there, so this was the right file */
	path = key_path();
	ck_assert(g_file_get_contents(path, &kbytes, &klen, NULL));
	ck_assert_uint_eq(klen, sizeof(site));
	memcpy(site, kbytes, sizeof(site));
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), site, sizeof(site),
				   (const unsigned char *)key, strlen(key), hk,
				   &hlen));
	ck_assert_ptr_nonnull(memmem(bytes, len, hk, sizeof(hk)));
	g_free(bytes);
	g_free(kbytes);
	g_free(data);
	g_free(path);
}
END_TEST

/* open_as_nobody - try store_open in a child without root's override;
 * returns the error text, or NULL if the open succeeded */
static char *
open_as_nobody(const char *uri, const char *key_file)
{
	char buf[STORE_ERROR_MAX + 256];
	int fds[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *error = NULL;
		struct store *st;

		close(fds[0]);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 ||
		     setuid(NOBODY) < 0))
			_exit(2);
		st = store_open(uri, key_file, &error);
		if (st != NULL)
			_exit(1);
		if (write(fds[1], error, strlen(error)) < 0)
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	close(fds[0]);
	buf[got] = '\0';
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_ne(WEXITSTATUS(status), 2);
	ck_assert_int_ne(WEXITSTATUS(status), 3);
	return WEXITSTATUS(status) == 1 ? NULL : g_strdup(buf);
}

/* a store directory others may write to is refused, with the fix */
START_TEST(test_open_dir_refused)
{
	char *dir, *uri, *error = NULL;
	struct store *st;

	if (!fx.lmdb)
		return;
	dir = g_build_filename(fx.tmp, "shared", NULL);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	uri = g_strdup_printf("lmdb:%s", dir);
	st = store_open(uri, NULL, &error);
	ck_assert_ptr_null(st);
	ck_assert_msg(error != NULL && strstr(error, "not be writable") &&
			  strstr(error, dir),
		      "%s", error ? error : "(no error)");
	g_free(error);
	error = NULL;
	ck_assert_int_eq(chmod(dir, 0700), 0);
	st = store_open(uri, NULL, &error);
	ck_assert_msg(st != NULL, "%s", error);
	store_close(st);
	g_free(uri);
	g_free(dir);
}
END_TEST

START_TEST(test_unwritable_dir)
{
	char *ro, *uri, *key, *error;

	if (!fx.lmdb)
		return;
	ro = g_build_filename(fx.tmp, "ro", NULL);
	key = g_build_filename(fx.tmp, "nobody.key", NULL);
	ck_assert_int_eq(mkdir(ro, 0555), 0);
	ck_assert_int_eq(chmod(ro, 0555), 0);
	ck_assert_int_eq(chmod(fx.tmp, 0777), 0);

	/* a directory that cannot be created */
	uri = g_strdup_printf("lmdb:%s/sub", ro);
	error = open_as_nobody(uri, key);
	ck_assert_msg(error != NULL, "%s opened", uri);
	ck_assert_msg(strstr(error, uri + 5) != NULL, "%s", error);
	ck_assert_msg(strstr(error, g_strerror(EACCES)) != NULL, "%s", error);
	g_free(error);
	g_free(uri);

	/* a directory that exists but cannot be written */
	uri = g_strdup_printf("lmdb:%s", ro);
	error = open_as_nobody(uri, key);
	ck_assert_msg(error != NULL, "%s opened", uri);
	ck_assert_msg(strstr(error, ro) != NULL, "%s", error);
	ck_assert_msg(strstr(error, g_strerror(EACCES)) != NULL, "%s", error);
	g_free(error);
	g_free(uri);

	/* a file where the directory should be */
	uri = g_strdup_printf("lmdb:%s/file", fx.tmp);
	ck_assert(g_file_set_contents(uri + 5, "x", 1, NULL));
	open_fails(uri, key, uri + 5);
	open_fails(uri, key, g_strerror(ENOTDIR));
	g_free(uri);
	g_free(ro);
	g_free(key);
}
END_TEST

START_TEST(test_bad_uri)
{
	char *uri;

	open_fails("nosuch:/tmp/x", NULL, "unknown store type");
	open_fails("/var/lib/triage-milter", NULL, "unknown store type");
	open_fails(NULL, NULL, "unknown store type");
	open_fails("lmdb:relative/dir", NULL, "absolute");
	uri = g_strdup_printf("lmdb:%s/x?map_mb=0", fx.tmp);
	open_fails(uri, NULL, "map_mb");
	g_free(uri);
	uri = g_strdup_printf("lmdb:%s/x?mapsize=1", fx.tmp);
	open_fails(uri, NULL, "map_mb");
	g_free(uri);

	/* redis: every site must share one key, so there is no default */
	open_fails("redis://127.0.0.1:6379/0", NULL, "needs a key file");
	uri = g_build_filename(fx.tmp, "redis.key", NULL);
	open_fails("redis://", uri, "expected redis://");
	open_fails("redis://:6379", uri, "expected redis://");
	open_fails("redis://host:0", uri, "bad port");
	open_fails("redis://host:65536/0", uri, "bad port");
	open_fails("redis://host:63x9/0", uri, "bad port");
	open_fails("redis://host/db1", uri, "bad database");
	open_fails("redis://host/-1", uri, "bad database");
	open_fails("redis://[::1/0", uri, "expected redis://");
	open_fails("redis://host?db=1", uri, "expected redis://");
	open_fails("redis://nocolon@host/0", uri, "bad credentials");
	open_fails("redis://user:@host/0", uri, "bad credentials");
	open_fails("redis+unix://relative/sock", uri, "ABSOLUTE");
	open_fails("redis+unix:///run/r.sock?db=x", uri, "bad option");
	open_fails("redis+unix:///run/r.sock?dbx=1", uri, "bad option");
	open_fails("redis+unix:///run/r.sock?user=u", uri, "needs a password");
	g_free(uri);
}
END_TEST

/* test_bad_args - refused calls say why and leave outputs alone */
START_TEST(test_bad_args)
{
	struct store *st = open_store();
	unsigned long count = 77;
	int present = 42;

	ck_assert_int_eq(store_mark_once(st, "k", 0, &present), -1);
	ck_assert_int_eq(present, 42);
	ck_assert_ptr_nonnull(strstr(store_last_error(st), "ttl"));
	ck_assert_int_eq(store_set(st, "k", 0), -1);
	ck_assert_int_eq(store_window_add(st, "k", 0, &count), -1);
	ck_assert_uint_eq(count, 77);
	ck_assert_ptr_nonnull(strstr(store_last_error(st), "window"));
	ck_assert_int_eq(store_window_count(st, "k", 0, &count), -1);
	ck_assert_int_eq(store_exists(st, "", &present), -1);
	ck_assert_int_eq(store_exists(st, NULL, &present), -1);
	ck_assert_int_eq(present, 42);
	ck_assert_ptr_nonnull(strstr(store_last_error(st), "key"));
	ck_assert_int_eq(store_exists(NULL, "k", &present), -1);
	/* nothing was written by the refused calls */
	ck_assert_int_eq(exists(st, "k"), 0);
	ck_assert_ptr_null(store_close(st));
	ck_assert_ptr_null(store_close(NULL));
}
END_TEST

/*
 * fill_map - write marks until the map is full, every other one living
 * ten times longer; returns how many went in
 */
static int
fill_map(struct store *st, int round, unsigned ttl_s)
{
	char key[48];
	int n = 0;

	/* a 1 MB map holds tens of thousands of marks, not a million */
	for (int i = 0; i < 1000000; i++) {
		snprintf(key, sizeof(key), "fill:%d:%d", round, i);
		if (store_set(st, key, i % 2 ? 10 * ttl_s : ttl_s) < 0)
			break;
		n++;
	}
	ck_assert_int_gt(n, 100);
	ck_assert_int_lt(n, 1000000);
	ck_assert_msg(strstr(store_last_error(st), "store full") != NULL, "%s",
		      store_last_error(st));
	ck_assert_ptr_nonnull(strstr(store_last_error(st), fx.tmp));
	return n;
}

/*
 * test_map_full - a full map is purged and the write retried once, round
 * after round, and the file stays within the map and its reserve
 */
START_TEST(test_map_full)
{
	char *uri, *data, *error = NULL;
	struct store *st;
	struct stat sb;
	unsigned long removed = 1;
	char key[48];

	if (!fx.lmdb)
		return;
	uri = g_strdup_printf("lmdb:%s/small?map_mb=1", fx.tmp);
	data = g_strdup_printf("%s/small/data.mdb", fx.tmp);
	st = store_open(uri, NULL, &error);
	ck_assert_msg(st != NULL, "%s", error);
	/*
	 * Whether deleting from a map filled to its last page succeeds
	 * depends on the tree's shape, that is on the site key: several
	 * rounds, each with new keys, so that a store that cannot purge
	 * once full fails here.
	 */
	for (int round = 0; round < 4; round++) {
		time_t t0 = fake_now;

		fill_map(st, round, 10);
		/*
		 * Half of it expires: the next write that finds the map full
		 * purges and retries.  Near full, LMDB fails about one write
		 * in ten, so without the purge some of these would fail, and
		 * the purge after them would still find expired entries.
		 */
		fake_now = t0 + 11;
		for (int i = 0; i < 500; i++) {
			snprintf(key, sizeof(key), "after:%d:%d", round, i);
			ck_assert_msg(store_set(st, key, 10) == 0, "%s: %s",
				      key, store_last_error(st));
		}
		ck_assert_int_eq(exists(st, key), 1);
		ck_assert_int_eq(store_purge(st, &removed), 0);
		ck_assert_uint_eq(removed, 0);
		/* the rest expires before the next round */
		fake_now = t0 + 101;
		ck_assert_int_eq(store_purge(st, &removed), 0);
		ck_assert_uint_gt(removed, 50);
		/* 1 MB of map, at most 1 MB of reserve for the purge */
		ck_assert_int_eq(stat(data, &sb), 0);
		ck_assert_int_le(sb.st_size, 2 * 1024 * 1024);
	}
	store_close(st);
	g_free(data);
	g_free(uri);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* every write is an fsync; the threaded cases make many */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mark_once);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_expiry_short);
	tcase_add_test(tc, test_set_exists_del);
	tcase_add_test(tc, test_window_sliding);
	tcase_add_test(tc, test_window_cap);
	tcase_add_test(tc, test_purge);
	tcase_add_test(tc, test_purge_many);
	tcase_add_test(tc, test_sweep);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_threads_mark_once);
	tcase_add_test(tc, test_threads_window);
	tcase_add_test(tc, test_processes);
	tcase_add_test(tc, test_processes_shared);
	tcase_add_test(tc, test_key_file_created);
	tcase_add_test(tc, test_key_file_mode);
	tcase_add_test(tc, test_key_file_owner);
	tcase_add_test(tc, test_key_file_bad);
	tcase_add_test(tc, test_no_plaintext);
	tcase_add_test(tc, test_unwritable_dir);
	tcase_add_test(tc, test_open_dir_refused);
	tcase_add_test(tc, test_bad_uri);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_map_full);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(store_suite)
