/*
 * store_lmdb.c - the embedded store backend on LMDB
 *
 * URI "lmdb:DIR" or "lmdb:DIR?map_mb=N": DIR (absolute; created 0700 if
 * missing) holds data.mdb and lock.mdb.  One MDB_env per store, opened
 * with MDB_NOTLS because libmilter runs callbacks on many threads; every
 * operation runs in its own transaction, and the read-modify-write ones
 * (mark_once, window_add) in one write transaction, so LMDB's writer lock
 * makes them atomic across threads and across processes sharing DIR.
 * Default durability: a committed change survives a crash.
 *
 * Database: the unnamed one.  Key: the 32-byte HMAC from store.c.
 * Value, native byte order like LMDB's own file:
 *
 *	byte 0      version (1)
 *	byte 1      kind: 1 mark, 2 window
 *	bytes 2-3   zero
 *	bytes 4-7   uint32 n: events that follow (0 for a mark)
 *	bytes 8-15  uint64 expiry, Unix seconds; the entry is gone when
 *	            now >= expiry (a window expires window_s after its
 *	            newest event)
 *	bytes 16-   n uint64 event times, oldest first, n at most
 *	            STORE_WINDOW_MAX_EVENTS
 *
 * A value that does not parse is treated as absent: overwritten on the
 * next write and removed by purge.  Limits: when the map is full, a write
 * purges expired entries and retries once, then fails with "store full";
 * the map is opened a little larger so that the purge has room.
 * All processes sharing DIR must use the same map size.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <lmdb.h>

#include "store.h"

/*
 * Address space, not disk: the file only grows as pages are used.  A mark
 * costs about 100 bytes with B-tree overhead, a busy sender's window up to
 * 4 KB, so 1 GB holds millions of senders with days of dedup marks.
 * Override with ?map_mb=N in the URI, or -DSTORE_LMDB_MAP_MB=N.
 */
#ifndef STORE_LMDB_MAP_MB
#define STORE_LMDB_MAP_MB 1024
#endif
/*
 * Room kept beyond the map size for purging.  In a map filled to the last
 * page even a delete fails: copy-on-write needs free pages, and LMDB
 * reuses a page only two transactions after it was freed.  So the map is
 * opened this much larger, ordinary writes stop when the pages in use
 * reach the map size, and only purge (and delete) may go beyond.  A purge
 * batch dirties a few dozen pages; 1 MB is 256 of them.  Address space,
 * not disk, as above.
 */
#define STORE_LMDB_RESERVE_MIN_MB 1
#define STORE_LMDB_RESERVE_SHARE 64 /* or 1/64 of the map, if more */
/*
 * With MDB_NOTLS a reader slot is held per open read transaction, not per
 * thread; libmilter runs a thread per SMTP connection and a busy MX has
 * hundreds.  The first process to open DIR sets the table size.
 */
#define STORE_LMDB_MAX_READERS 1024
/*
 * Entries examined per purge transaction, so purge never holds the writer
 * lock long enough to stall mail.  In a full map even deleting needs free
 * pages (copy-on-write), so a batch that hits the limit is halved down to
 * one entry: each commit frees pages the next one can reuse.
 */
#define STORE_LMDB_PURGE_BATCH 1000
/* LMDB's compiled-in key size limit (mdb_env_get_maxkeysize). */
#define STORE_LMDB_MAX_KEY 511

#define LMDB_VERSION 1
#define LMDB_KIND_MARK 1
#define LMDB_KIND_WINDOW 2
#define LMDB_HEADER_BYTES 16
#define LMDB_VALUE_MAX (LMDB_HEADER_BYTES + 8 * STORE_WINDOW_MAX_EVENTS)

struct lmdb_store {
	MDB_env *env;
	MDB_dbi dbi;
	char *dir;
	unsigned long map_mb;
	size_t max_pages; /* pages in use that make the store full */
	int failing;      /* atomic: the last write failed (disk full, I/O) */
	pthread_mutex_t cause_lock;
	char cause[STORE_ERROR_MAX]; /* why the last failed write failed */
};

struct lmdb_value {
	unsigned kind;
	uint32_t n;
	uint64_t expiry;
	uint64_t events[STORE_WINDOW_MAX_EVENTS];
};

/* One operation's arguments and results, for lmdb_write(). */
struct lmdb_op {
	const unsigned char *hk;
	uint64_t now;
	unsigned span; /* ttl_s or window_s */
	int present;
	unsigned long count;
	/* purge: where the next batch starts, and how it went */
	unsigned char resume[STORE_LMDB_MAX_KEY];
	size_t resume_len;
	unsigned batch;
	int more;
	unsigned long removed;
};

typedef int (*lmdb_txn_fn)(struct lmdb_store *ls, MDB_txn *txn,
			   struct lmdb_op *op);

static int lmdb_purge_all(struct lmdb_store *ls, uint64_t now,
			  unsigned long *removed_r);

/* lmdb_key - a hashed key as an MDB_val; LMDB never writes through a key
 * but its MDB_val is not const, hence the cast through uintptr_t */
static MDB_val
lmdb_key(const unsigned char *hk)
{
	MDB_val k = {STORE_HASH_BYTES, (void *)(uintptr_t)hk};

	return k;
}

/* lmdb_decode - parse a stored value; -1 if it is not one of ours */
static int
lmdb_decode(const MDB_val *v, struct lmdb_value *out)
{
	const unsigned char *p = v->mv_data;

	if (v->mv_size < LMDB_HEADER_BYTES || p[0] != LMDB_VERSION ||
	    (p[1] != LMDB_KIND_MARK && p[1] != LMDB_KIND_WINDOW))
		return -1;
	out->kind = p[1];
	memcpy(&out->n, p + 4, sizeof(out->n));
	memcpy(&out->expiry, p + 8, sizeof(out->expiry));
	if (out->n > STORE_WINDOW_MAX_EVENTS ||
	    (out->kind == LMDB_KIND_MARK && out->n != 0) ||
	    v->mv_size != LMDB_HEADER_BYTES + 8 * (size_t)out->n)
		return -1;
	/* LMDB aligns values to 2 bytes only: copy, never cast */
	memcpy(out->events, p + LMDB_HEADER_BYTES, 8 * (size_t)out->n);
	return 0;
}

/* lmdb_live - whether a stored value parses and has not expired */
static int
lmdb_live(const MDB_val *v, uint64_t now, struct lmdb_value *out)
{
	return lmdb_decode(v, out) == 0 && out->expiry > now;
}

/*
 * lmdb_room - MDB_MAP_FULL once the pages in use (both meta pages, the
 * data's tree and the free list's tree; not the free pages it lists)
 * reach the map size, leaving the reserve to purge
 */
static int
lmdb_room(struct lmdb_store *ls, MDB_txn *txn)
{
	MDB_stat data, free_list;
	int rc;

	rc = mdb_stat(txn, ls->dbi, &data);
	if (rc == 0)
		rc = mdb_stat(txn, 0 /* FREE_DBI */, &free_list);
	if (rc != 0)
		return rc;
	if (2 + data.ms_branch_pages + data.ms_leaf_pages +
		data.ms_overflow_pages + free_list.ms_branch_pages +
		free_list.ms_leaf_pages + free_list.ms_overflow_pages >=
	    ls->max_pages)
		return MDB_MAP_FULL;
	return 0;
}

/* lmdb_put - encode val and store it under hk, if there is room */
static int
lmdb_put(struct lmdb_store *ls, MDB_txn *txn, const unsigned char *hk,
	 const struct lmdb_value *val)
{
	unsigned char buf[LMDB_VALUE_MAX] = {0};
	MDB_val k = lmdb_key(hk);
	MDB_val v = {LMDB_HEADER_BYTES + 8 * (size_t)val->n, buf};
	int rc;

	rc = lmdb_room(ls, txn);
	if (rc != 0)
		return rc;
	buf[0] = LMDB_VERSION;
	buf[1] = (unsigned char)val->kind;
	memcpy(buf + 4, &val->n, sizeof(val->n));
	memcpy(buf + 8, &val->expiry, sizeof(val->expiry));
	memcpy(buf + LMDB_HEADER_BYTES, val->events, 8 * (size_t)val->n);
	return mdb_put(txn, ls->dbi, &k, &v, 0);
}

/* lmdb_window_keep - drop events older than the window; returns n kept */
static uint32_t
lmdb_window_keep(struct lmdb_value *val, uint64_t now, unsigned window_s)
{
	uint32_t kept = 0;

	if (val->kind != LMDB_KIND_WINDOW)
		return 0;
	for (uint32_t i = 0; i < val->n; i++)
		if (val->events[i] + window_s > now)
			val->events[kept++] = val->events[i];
	val->n = kept;
	return kept;
}

/* lmdb_fail - record an LMDB error for this store; returns -1 */
static int
lmdb_fail(struct lmdb_store *ls, int rc)
{
	char why[STORE_ERROR_MAX];

	if (rc == MDB_MAP_FULL)
		snprintf(why, sizeof(why),
			 "lmdb:%s: store full (map of %lu MB, even after "
			 "purging expired entries)",
			 ls->dir, ls->map_mb);
	else
		snprintf(why, sizeof(why), "lmdb:%s: %s", ls->dir,
			 mdb_strerror(rc));
	store_set_error("%s", why);
	/* for the outage's log line, which another thread may write */
	pthread_mutex_lock(&ls->cause_lock);
	memcpy(ls->cause, why, sizeof(why));
	pthread_mutex_unlock(&ls->cause_lock);
	__atomic_store_n(&ls->failing, 1, __ATOMIC_RELEASE);
	return -1;
}

/* lmdb_write_once - run fn in one write transaction and commit */
static int
lmdb_write_once(struct lmdb_store *ls, lmdb_txn_fn fn, struct lmdb_op *op)
{
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(ls->env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	rc = fn(ls, txn, op);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

/* lmdb_write - lmdb_write_once, purging and retrying once if the map is
 * full; fn must set every result afresh since it may run twice */
static int
lmdb_write(struct lmdb_store *ls, lmdb_txn_fn fn, struct lmdb_op *op)
{
	unsigned long removed = 0;
	int rc;

	rc = lmdb_write_once(ls, fn, op);
	if (rc == MDB_MAP_FULL && lmdb_purge_all(ls, op->now, &removed) == 0 &&
	    removed > 0)
		rc = lmdb_write_once(ls, fn, op);
	if (rc != 0)
		return lmdb_fail(ls, rc);
	__atomic_store_n(&ls->failing, 0, __ATOMIC_RELEASE);
	return 0;
}

/* lmdb_read - look hk up in a read transaction; *found_r says if live */
static int
lmdb_read(struct lmdb_store *ls, const unsigned char *hk, uint64_t now,
	  struct lmdb_value *val, int *found_r)
{
	MDB_val k = lmdb_key(hk), v;
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(ls->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return lmdb_fail(ls, rc);
	rc = mdb_get(txn, ls->dbi, &k, &v);
	if (rc == 0)
		*found_r = lmdb_live(&v, now, val);
	else if (rc == MDB_NOTFOUND)
		*found_r = 0;
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lmdb_fail(ls, rc);
	return 0;
}

/* lmdb_get_live - like lmdb_read inside a write transaction */
static int
lmdb_get_live(struct lmdb_store *ls, MDB_txn *txn, const unsigned char *hk,
	      uint64_t now, struct lmdb_value *val, int *found_r)
{
	MDB_val k = lmdb_key(hk), v;
	int rc;

	rc = mdb_get(txn, ls->dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*found_r = 0;
		return 0;
	}
	if (rc == 0)
		*found_r = lmdb_live(&v, now, val);
	return rc;
}

/* lmdb_mark_txn - the test-and-set of mark_once */
static int
lmdb_mark_txn(struct lmdb_store *ls, MDB_txn *txn, struct lmdb_op *op)
{
	struct lmdb_value val;
	int rc;

	rc = lmdb_get_live(ls, txn, op->hk, op->now, &val, &op->present);
	if (rc != 0 || op->present)
		return rc;
	val.kind = LMDB_KIND_MARK;
	val.n = 0;
	val.expiry = op->now + op->span;
	return lmdb_put(ls, txn, op->hk, &val);
}

/* lmdb_set_txn - set a mark, live or not */
static int
lmdb_set_txn(struct lmdb_store *ls, MDB_txn *txn, struct lmdb_op *op)
{
	struct lmdb_value val;

	val.kind = LMDB_KIND_MARK;
	val.n = 0;
	val.expiry = op->now + op->span;
	return lmdb_put(ls, txn, op->hk, &val);
}

/* lmdb_del_txn - remove an entry; absent is fine */
static int
lmdb_del_txn(struct lmdb_store *ls, MDB_txn *txn, struct lmdb_op *op)
{
	MDB_val k = lmdb_key(op->hk);
	int rc = mdb_del(txn, ls->dbi, &k, NULL);

	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* lmdb_window_txn - age out old events, append now, cap, count */
static int
lmdb_window_txn(struct lmdb_store *ls, MDB_txn *txn, struct lmdb_op *op)
{
	struct lmdb_value val;
	int found, rc;

	rc = lmdb_get_live(ls, txn, op->hk, op->now, &val, &found);
	if (rc != 0)
		return rc;
	if (!found) {
		val.kind = LMDB_KIND_WINDOW;
		val.n = 0;
	}
	lmdb_window_keep(&val, op->now, op->span);
	if (val.n == STORE_WINDOW_MAX_EVENTS) {
		memmove(val.events, val.events + 1,
			sizeof(val.events[0]) * (val.n - 1));
		val.n--;
	}
	val.kind = LMDB_KIND_WINDOW;
	val.events[val.n++] = op->now;
	val.expiry = op->now + op->span;
	op->count = val.n;
	return lmdb_put(ls, txn, op->hk, &val);
}

/* lmdb_purge_txn - one batch of purge, from op->resume on */
static int
lmdb_purge_txn(struct lmdb_store *ls, MDB_txn *txn, struct lmdb_op *op)
{
	struct lmdb_value val;
	MDB_cursor *cur;
	MDB_val k, v;
	unsigned visited = 0;
	int rc;

	op->more = 0;
	op->removed = 0;
	rc = mdb_cursor_open(txn, ls->dbi, &cur);
	if (rc != 0)
		return rc;
	if (op->resume_len > 0) {
		k.mv_size = op->resume_len;
		k.mv_data = op->resume;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	while (rc == 0) {
		if (visited++ == op->batch && k.mv_size <= sizeof(op->resume)) {
			memcpy(op->resume, k.mv_data, k.mv_size);
			op->resume_len = k.mv_size;
			op->more = 1;
			break;
		}
		if (!lmdb_live(&v, op->now, &val)) {
			rc = mdb_cursor_del(cur, 0);
			if (rc != 0)
				break;
			op->removed++;
		}
		/* after a delete the cursor already sits on the next entry;
		 * MDB_NEXT knows and does not skip it */
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* lmdb_purge_all - purge in batches; no map-full retry (it is the cure) */
static int
lmdb_purge_all(struct lmdb_store *ls, uint64_t now, unsigned long *removed_r)
{
	struct lmdb_op op = {.now = now, .batch = STORE_LMDB_PURGE_BATCH};
	unsigned long total = 0;

	do {
		unsigned char from[STORE_LMDB_MAX_KEY];
		size_t from_len = op.resume_len;
		int rc;

		memcpy(from, op.resume, from_len);
		rc = lmdb_write_once(ls, lmdb_purge_txn, &op);
		if (rc == MDB_MAP_FULL && op.batch > 1) {
			/* nothing was deleted: redo the batch, smaller */
			memcpy(op.resume, from, from_len);
			op.resume_len = from_len;
			op.batch /= 2;
			op.more = 1;
			continue;
		}
		if (rc != 0)
			return lmdb_fail(ls, rc);
		total += op.removed;
		if (op.batch < STORE_LMDB_PURGE_BATCH)
			op.batch = op.batch * 2 < STORE_LMDB_PURGE_BATCH
				       ? op.batch * 2
				       : STORE_LMDB_PURGE_BATCH;
	} while (op.more);
	*removed_r = total;
	return 0;
}

/* lmdb_dir - the directory part of a location, newly allocated */
static char *
lmdb_dir(const char *location)
{
	return g_strndup(location, strcspn(location, "?"));
}

/* lmdb_parse - split location into directory and map size */
static int
lmdb_parse(const char *location, char **dir_r, unsigned long *map_mb_r,
	   char **error_r)
{
	const char *q = strchr(location, '?');
	unsigned long map_mb = STORE_LMDB_MAP_MB;

	if (location[0] != '/') {
		*error_r = g_strdup_printf(
		    "lmdb:%s: the directory must be an absolute path",
		    location);
		return -1;
	}
	if (q != NULL) {
		char *end;

		errno = 0;
		if (strncmp(q, "?map_mb=", 8) != 0 ||
		    (map_mb = strtoul(q + 8, &end, 10)) == 0 || *end != '\0' ||
		    errno != 0 || map_mb > 1024UL * 1024) {
			*error_r = g_strdup_printf(
			    "lmdb:%s: bad option (only ?map_mb=N, "
			    "1 <= N <= 1048576)",
			    location);
			return -1;
		}
	}
	*dir_r = lmdb_dir(location);
	*map_mb_r = map_mb;
	return 0;
}

/* lmdb_check - whether a location parses */
static int
lmdb_check(const char *location, char **error_r)
{
	char *dir = NULL;
	unsigned long map_mb;

	if (lmdb_parse(location, &dir, &map_mb, error_r) < 0)
		return -1;
	g_free(dir);
	return 0;
}

/* lmdb_env_open - create the environment and its database handle */
static int
lmdb_env_open(struct lmdb_store *ls, char **error_r)
{
	MDB_txn *txn;
	int rc, dead;
	const char *what = "cannot create the environment";

	size_t map = (size_t)ls->map_mb * 1024 * 1024;
	size_t reserve = map / STORE_LMDB_RESERVE_SHARE;
	MDB_stat st;

	if (reserve < STORE_LMDB_RESERVE_MIN_MB * 1024 * 1024)
		reserve = STORE_LMDB_RESERVE_MIN_MB * 1024 * 1024;
	rc = mdb_env_create(&ls->env);
	if (rc == 0) {
		what = "cannot size the map";
		rc = mdb_env_set_mapsize(ls->env, map + reserve);
	}
	if (rc == 0)
		rc = mdb_env_set_maxreaders(ls->env, STORE_LMDB_MAX_READERS);
	if (rc == 0) {
		what = "cannot open the database";
		rc = mdb_env_open(ls->env, ls->dir, MDB_NOTLS, 0600);
	}
	if (rc == 0) {
		rc = mdb_env_stat(ls->env, &st);
		ls->max_pages = map / st.ms_psize;
	}
	/* clear reader slots left by processes that died mid-read */
	if (rc == 0)
		rc = mdb_reader_check(ls->env, &dead);
	if (rc == 0)
		rc = mdb_txn_begin(ls->env, NULL, 0, &txn);
	if (rc == 0) {
		rc = mdb_dbi_open(txn, NULL, 0, &ls->dbi);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (rc != 0) {
		*error_r = g_strdup_printf("lmdb:%s: %s: %s", ls->dir, what,
					   mdb_strerror(rc));
		return -1;
	}
	return 0;
}

/* lmdb_close - close the environment */
static void
lmdb_close(void *be)
{
	struct lmdb_store *ls = be;

	if (ls->env != NULL)
		mdb_env_close(ls->env);
	pthread_mutex_destroy(&ls->cause_lock);
	g_free(ls->dir);
	g_free(ls);
}

/* lmdb_open - open or create the store at location */
static void *
lmdb_open(const char *location, char **error_r)
{
	struct lmdb_store *ls = g_new0(struct lmdb_store, 1);
	struct stat sb;

	pthread_mutex_init(&ls->cause_lock, NULL);
	if (lmdb_parse(location, &ls->dir, &ls->map_mb, error_r) < 0) {
		pthread_mutex_destroy(&ls->cause_lock);
		g_free(ls);
		return NULL;
	}
	if (g_mkdir_with_parents(ls->dir, 0700) < 0) {
		*error_r = g_strdup_printf("lmdb:%s: cannot create directory: "
					   "%s",
					   ls->dir, g_strerror(errno));
		lmdb_close(ls);
		return NULL;
	}
	if (stat(ls->dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		*error_r = g_strdup_printf("lmdb:%s: not a directory", ls->dir);
		lmdb_close(ls);
		return NULL;
	}
	/* others could swap the database under us: refuse, and say how */
	if ((sb.st_mode & 022) != 0 ||
	    (sb.st_uid != geteuid() && sb.st_uid != 0)) {
		*error_r = g_strdup_printf(
		    "lmdb:%s: the store directory must belong to us (uid %lu) "
		    "and not be writable by group or others (mode %04o; "
		    "chmod 700 %s)",
		    ls->dir, (unsigned long)geteuid(),
		    (unsigned)(sb.st_mode & 07777), ls->dir);
		lmdb_close(ls);
		return NULL;
	}
	if (lmdb_env_open(ls, error_r) < 0) {
		lmdb_close(ls);
		return NULL;
	}
	return ls;
}

/* lmdb_default_key_file - the site key lives beside the data */
static char *
lmdb_default_key_file(const char *location)
{
	char *dir = lmdb_dir(location);
	char *path = g_build_filename(dir, "site.key", NULL);

	g_free(dir);
	return path;
}

/* lmdb_mark_once - test-and-set in one write transaction */
static int
lmdb_mark_once(void *be, const unsigned char *hk, time_t now, unsigned ttl_s,
	       int *was_present_r)
{
	struct lmdb_op op = {.hk = hk, .now = (uint64_t)now, .span = ttl_s};

	if (lmdb_write(be, lmdb_mark_txn, &op) < 0)
		return -1;
	*was_present_r = op.present;
	return 0;
}

/* lmdb_exists - whether a live entry is stored under hk */
static int
lmdb_exists(void *be, const unsigned char *hk, time_t now, int *present_r)
{
	struct lmdb_value val;
	int found;

	if (lmdb_read(be, hk, (uint64_t)now, &val, &found) < 0)
		return -1;
	*present_r = found;
	return 0;
}

/* lmdb_set - store a mark expiring ttl_s from now */
static int
lmdb_set(void *be, const unsigned char *hk, time_t now, unsigned ttl_s)
{
	struct lmdb_op op = {.hk = hk, .now = (uint64_t)now, .span = ttl_s};

	return lmdb_write(be, lmdb_set_txn, &op);
}

/* lmdb_del - remove the entry under hk */
static int
lmdb_del(void *be, const unsigned char *hk)
{
	struct lmdb_op op = {.hk = hk};

	return lmdb_write(be, lmdb_del_txn, &op);
}

/* lmdb_window_add - add an event now, count the window, atomically */
static int
lmdb_window_add(void *be, const unsigned char *hk, time_t now,
		unsigned window_s, unsigned long *count_r)
{
	struct lmdb_op op = {.hk = hk, .now = (uint64_t)now, .span = window_s};

	if (lmdb_write(be, lmdb_window_txn, &op) < 0)
		return -1;
	*count_r = op.count;
	return 0;
}

/* lmdb_window_count - count the events in the last window_s seconds */
static int
lmdb_window_count(void *be, const unsigned char *hk, time_t now,
		  unsigned window_s, unsigned long *count_r)
{
	struct lmdb_value val;
	int found;

	if (lmdb_read(be, hk, (uint64_t)now, &val, &found) < 0)
		return -1;
	*count_r = found ? lmdb_window_keep(&val, (uint64_t)now, window_s) : 0;
	return 0;
}

/* lmdb_purge - remove every expired or unreadable entry */
static int
lmdb_purge(void *be, time_t now, unsigned long *removed_r)
{
	return lmdb_purge_all(be, (uint64_t)now, removed_r);
}

/*
 * lmdb_available - 0 from a failed write until a write succeeds again:
 * the daemon logs the start and the end of a full disk once each, with
 * the cause.  The store keeps answering (a write may succeed in freed
 * pages).
 */
static int
lmdb_available(void *be, char *why, size_t size)
{
	struct lmdb_store *ls = be;

	if (!__atomic_load_n(&ls->failing, __ATOMIC_ACQUIRE))
		return 1;
	pthread_mutex_lock(&ls->cause_lock);
	snprintf(why, size, "%s", ls->cause);
	pthread_mutex_unlock(&ls->cause_lock);
	return 0;
}

const struct store_ops store_lmdb_ops = {
    .scheme = "lmdb:",
    .check = lmdb_check,
    .open = lmdb_open,
    .close = lmdb_close,
    .default_key_file = lmdb_default_key_file,
    .mark_once = lmdb_mark_once,
    .exists = lmdb_exists,
    .set = lmdb_set,
    .del = lmdb_del,
    .window_add = lmdb_window_add,
    .window_count = lmdb_window_count,
    .purge = lmdb_purge,
    .available = lmdb_available,
};
