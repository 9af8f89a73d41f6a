/*
 * store.c - the store interface: backend dispatch, site key, key hashing
 *
 * This file owns what every backend shares: choosing the backend by URI
 * scheme, the site key file (created on first start, refused when others
 * could read it), hashing each application key with HMAC-SHA256 before
 * a backend sees it, the clock, argument checks and the per-thread error
 * text.  Backends (store_lmdb.c, later store_redis.c) only move hashed
 * keys and timestamps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "secret.h"
#include "store.h"

struct store {
	const struct store_ops *ops;
	void *be;
	unsigned char key[STORE_SITE_KEY_BYTES];
};

static const struct store_ops *const store_backends[] = {
    &store_lmdb_ops,
    &store_redis_ops,
    &store_redis_unix_ops,
};

/* Per thread, so concurrent callers never see each other's errors. */
static _Thread_local char store_errbuf[STORE_ERROR_MAX];

static time_t (*store_clock)(void);

/* store_set_error - record why the calling thread's last call failed */
void
store_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(store_errbuf, sizeof(store_errbuf), fmt, ap);
	va_end(ap);
}

/* store_last_error - why this thread's last failed call failed */
const char *
store_last_error(struct store *st)
{
	(void)st;
	return store_errbuf[0] ? store_errbuf : "no error";
}

/* store_available - 0 while the backend is known to be unreachable or
 * refusing writes, and why in why[size] when why is not NULL */
int
store_available(struct store *st, char *why, size_t size)
{
	char buf[STORE_ERROR_MAX];

	if (why == NULL || size == 0) {
		why = buf;
		size = sizeof(buf);
	}
	if (st == NULL) {
		snprintf(why, size, "store: no store");
		return 0;
	}
	why[0] = '\0';
	if (st->ops->available == NULL || st->ops->available(st->be, why, size))
		return 1;
	if (why[0] == '\0')
		snprintf(why, size, "store: unavailable, cause unknown");
	return 0;
}

/* store_set_clock - replace time() for expiry (tests); NULL restores it */
void
store_set_clock(time_t (*clock_fn)(void))
{
	__atomic_store_n(&store_clock, clock_fn, __ATOMIC_RELEASE);
}

/* store_now - the current time from the store clock */
static time_t
store_now(void)
{
	time_t (*clock_fn)(void) =
	    __atomic_load_n(&store_clock, __ATOMIC_ACQUIRE);

	return clock_fn ? clock_fn() : time(NULL);
}

/* store_sync_dir - make a new directory entry durable */
static void
store_sync_dir(const char *path)
{
	char *dir = g_path_get_dirname(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* best effort: at worst a crash loses a key nothing depends on yet */
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	g_free(dir);
}

/* store_write_all - write the whole key; a short write is ENOSPC */
static int
store_write_all(int fd, const unsigned char *key)
{
	ssize_t n = write(fd, key, STORE_SITE_KEY_BYTES);

	if (n == STORE_SITE_KEY_BYTES)
		return 0;
	if (n >= 0)
		errno = ENOSPC;
	return -1;
}

/*
 * store_create_key - write a new random site key at path
 *
 * The key is written to a temporary file and linked into place, so two
 * processes starting at once never see a half-written key: the loser's
 * link() fails with EEXIST and it reads the winner's key.
 */
static int
store_create_key(const char *path, char **error_r)
{
	unsigned char key[STORE_SITE_KEY_BYTES];
	char *tmp = g_strdup_printf("%s.XXXXXX", path);
	int fd, ok = 0;

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		*error_r = g_strdup_printf("%s: cannot create site key: %s",
					   path, g_strerror(errno));
		g_free(tmp);
		return -1;
	}
	if (RAND_bytes(key, sizeof(key)) != 1) {
		*error_r = g_strdup_printf(
		    "%s: cannot create site key: no random bytes", path);
	} else if (fchmod(fd, 0600) < 0 || store_write_all(fd, key) < 0 ||
		   fsync(fd) < 0) {
		*error_r = g_strdup_printf("%s: cannot write site key: %s", tmp,
					   g_strerror(errno));
	} else if (link(tmp, path) < 0 && errno != EEXIST) {
		*error_r = g_strdup_printf("%s: cannot create site key: %s",
					   path, g_strerror(errno));
	} else {
		ok = 1;
	}
	OPENSSL_cleanse(key, sizeof(key));
	close(fd);
	unlink(tmp);
	g_free(tmp);
	if (ok)
		store_sync_dir(path);
	return ok ? 0 : -1;
}

/* store_load_key - read the site key at path, creating it if missing */
static int
store_load_key(const char *path, unsigned char *key, char **error_r)
{
	struct stat sb;
	ssize_t got;
	int fd;

	/* created on first start; a symbolic link is not "missing" */
	if (lstat(path, &sb) < 0 && errno == ENOENT &&
	    store_create_key(path, error_r) < 0)
		return -1;
	fd = secret_open(path, "site key", 0, &sb, error_r);
	if (fd < 0)
		return -1;
	if (sb.st_size != STORE_SITE_KEY_BYTES) {
		*error_r = g_strdup_printf(
		    "%s: site key must be %d bytes, not %lld", path,
		    STORE_SITE_KEY_BYTES, (long long)sb.st_size);
		close(fd);
		return -1;
	}
	got = read(fd, key, STORE_SITE_KEY_BYTES);
	if (got != STORE_SITE_KEY_BYTES) {
		*error_r =
		    g_strdup_printf("%s: cannot read site key: %s", path,
				    got < 0 ? g_strerror(errno) : "short read");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* store_backend - the backend of uri's scheme, *len_r its length; NULL
 * and *error_r if none */
static const struct store_ops *
store_backend(const char *uri, size_t *len_r, char **error_r)
{
	for (size_t i = 0; uri != NULL && i < G_N_ELEMENTS(store_backends);
	     i++) {
		*len_r = strlen(store_backends[i]->scheme);
		if (strncmp(uri, store_backends[i]->scheme, *len_r) == 0)
			return store_backends[i];
	}
	*error_r = g_strdup_printf("%s: unknown store type (expected "
				   "lmdb:DIRECTORY, redis://HOST or "
				   "redis+unix:///SOCKET)",
				   uri ? uri : "(null)");
	return NULL;
}

int
store_check(const char *uri, char **error_r)
{
	size_t len = 0;
	const struct store_ops *ops = store_backend(uri, &len, error_r);

	if (ops == NULL)
		return -1;
	return ops->check != NULL ? ops->check(uri + len, error_r) : 0;
}

/* store_open - open the store at uri with the site key in key_file */
struct store *
store_open(const char *uri, const char *key_file, char **error_r)
{
	size_t len = 0;
	const struct store_ops *ops = store_backend(uri, &len, error_r);
	struct store *st;
	char *path;

	if (ops == NULL)
		return NULL;
	if (key_file != NULL)
		path = g_strdup(key_file);
	else if (ops->default_key_file != NULL)
		path = ops->default_key_file(uri + len);
	else
		path = NULL;
	if (path == NULL) {
		*error_r =
		    g_strdup_printf("%s: this store needs a key file", uri);
		return NULL;
	}
	st = g_new0(struct store, 1);
	st->ops = ops;
	st->be = ops->open(uri + len, error_r);
	if (st->be == NULL || store_load_key(path, st->key, error_r) < 0) {
		g_free(path);
		return store_close(st);
	}
	g_free(path);
	return st;
}

/* store_close - close the store and forget the key; returns NULL */
struct store *
store_close(struct store *st)
{
	if (st == NULL)
		return NULL;
	if (st->be != NULL)
		st->ops->close(st->be);
	OPENSSL_cleanse(st->key, sizeof(st->key));
	g_free(st);
	return NULL;
}

/* store_hash - HMAC-SHA256(site key, key) into hk; checks the arguments */
static int
store_hash(const struct store *st, const char *key, unsigned char *hk)
{
	unsigned int len = 0;

	if (st == NULL || key == NULL || *key == '\0') {
		store_set_error("store: %s",
				st == NULL ? "no store" : "no key");
		return -1;
	}
	if (HMAC(EVP_sha256(), st->key, sizeof(st->key),
		 (const unsigned char *)key, strlen(key), hk, &len) == NULL ||
	    len != STORE_HASH_BYTES) {
		store_set_error("store: cannot hash key");
		return -1;
	}
	return 0;
}

/* store_check_span - reject a zero ttl or window: it would never hold */
static int
store_check_span(unsigned span, const char *what)
{
	if (span == 0) {
		store_set_error("store: %s must be at least 1 second", what);
		return -1;
	}
	return 0;
}

/* store_mark_once - set key unless it is live; say whether it was */
int
store_mark_once(struct store *st, const char *key, unsigned ttl_s,
		int *was_present_r)
{
	unsigned char hk[STORE_HASH_BYTES];

	if (store_hash(st, key, hk) < 0 || store_check_span(ttl_s, "ttl") < 0)
		return -1;
	return st->ops->mark_once(st->be, hk, store_now(), ttl_s,
				  was_present_r);
}

/* store_exists - whether key is set and not expired */
int
store_exists(struct store *st, const char *key, int *present_r)
{
	unsigned char hk[STORE_HASH_BYTES];

	if (store_hash(st, key, hk) < 0)
		return -1;
	return st->ops->exists(st->be, hk, store_now(), present_r);
}

/* store_set - set key to expire ttl_s seconds from now */
int
store_set(struct store *st, const char *key, unsigned ttl_s)
{
	unsigned char hk[STORE_HASH_BYTES];

	if (store_hash(st, key, hk) < 0 || store_check_span(ttl_s, "ttl") < 0)
		return -1;
	return st->ops->set(st->be, hk, store_now(), ttl_s);
}

/* store_del - remove key (absent is not an error) */
int
store_del(struct store *st, const char *key)
{
	unsigned char hk[STORE_HASH_BYTES];

	if (store_hash(st, key, hk) < 0)
		return -1;
	return st->ops->del(st->be, hk);
}

/* store_window_add - record an event now; count those in the window */
int
store_window_add(struct store *st, const char *key, unsigned window_s,
		 unsigned long *count_r)
{
	unsigned char hk[STORE_HASH_BYTES];

	if (store_hash(st, key, hk) < 0 ||
	    store_check_span(window_s, "window") < 0)
		return -1;
	return st->ops->window_add(st->be, hk, store_now(), window_s, count_r);
}

/* store_window_count - count the events of key in the last window_s */
int
store_window_count(struct store *st, const char *key, unsigned window_s,
		   unsigned long *count_r)
{
	unsigned char hk[STORE_HASH_BYTES];

	if (store_hash(st, key, hk) < 0 ||
	    store_check_span(window_s, "window") < 0)
		return -1;
	return st->ops->window_count(st->be, hk, store_now(), window_s,
				     count_r);
}

/* store_purge - drop expired marks and empty windows */
int
store_purge(struct store *st, unsigned long *removed_r)
{
	if (st == NULL) {
		store_set_error("store: no store");
		return -1;
	}
	return st->ops->purge(st->be, store_now(), removed_r);
}
