/*
 * store_redis.c - the shared store backend on Redis (hiredis)
 *
 * For several MX hosts that must share dedup marks and counts.  URIs:
 *
 *	redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
 *	redis+unix:///ABSOLUTE/SOCKET[?db=N][&password=P][&user=U]
 *
 * HOST is a name, an IPv4 address or an IPv6 address in brackets; PORT
 * defaults to 6379 and DB to 0.  USER and PASSWORD are percent-decoded
 * (write "%40" for "@"); USER needs Redis 6 ACLs.  Credentials never
 * appear in error messages.  Redis needs a key_file: every MX host must
 * hash with the same site key, so there is no per-host default.
 *
 * Keys are "triage:" + the hex of the 32-byte HMAC.  A mark is a string
 * set with SET NX EX (mark_once) or SET EX (set); its expiry runs on the
 * Redis server's clock, not the store clock.  A window is a sorted set of
 * events scored by the store clock; a Lua script trims, adds, caps at
 * STORE_WINDOW_MAX_EVENTS and counts in one atomic step, so counts are
 * exact across processes and hosts.  Purge has nothing to do: Redis
 * expires keys itself.
 *
 * Connections: a small pool shared by all threads (hiredis contexts are
 * not thread-safe), see STORE_REDIS_POOL_MAX.  Every network step has a
 * timeout.  A connection that fails is dropped together with every idle
 * one opened before the failure; after a failure, reconnecting is tried
 * at most once per STORE_REDIS_RECONNECT_MS, and meanwhile every call
 * fails at once with "down since ...", so an outage costs no time per
 * message.  A server that answers but refuses the work (a read-only
 * replica, MISCONF after a failed save, OOM, LOADING) is unavailable too,
 * from that error reply until a write goes through again, as the LMDB
 * backend is after a failed write.  store_available() reports both states
 * so that the daemon can log them once per outage; this module never
 * logs.
 *
 * Limits: the host name is resolved by getaddrinfo(), which no timeout
 * bounds (use an address or /etc/hosts for Redis); store_open() succeeds
 * while Redis is unreachable or still loading its data (the store starts
 * down, mail must flow), but fails when Redis refuses the password (also
 * a missing one) or the database.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store.h"

/*
 * Per network step (connect, each command).  Redis on the LAN answers in
 * well under a millisecond; 200 ms survives a busy server or a lost
 * packet's first retransmit yet keeps a dead server far below the MTA's
 * milter timeouts, and only the first call of an outage pays it.
 */
#define STORE_REDIS_TIMEOUT_MS 200
/*
 * While Redis is down, at most one connect attempt per second: the other
 * calls fail at once instead of each waiting out a connect timeout.
 */
#define STORE_REDIS_RECONNECT_MS 1000
/*
 * libmilter runs a thread per SMTP session; a thread holds a connection
 * for one round trip (well under a millisecond), so a few connections
 * serve thousands of calls a second and a cluster of MX hosts stays far
 * below Redis's maxclients.  A thread finding all busy waits at most
 * STORE_REDIS_TIMEOUT_MS.
 */
#define STORE_REDIS_POOL_MAX 8
#define STORE_REDIS_DEFAULT_PORT 6379
#define STORE_REDIS_KEY_PREFIX "triage:"
/* Random bytes naming one window event; unique among its 512 peers. */
#define STORE_REDIS_MEMBER_BYTES 12

/*
 * KEYS[1] window; ARGV: cutoff (events at or before it are gone), now,
 * a unique member, the rank that keeps the newest MAX events, window_s.
 * A key of another type (a mark) is replaced, as the LMDB backend does.
 */
static const char redis_window_add_lua[] =
    "local k = KEYS[1]\n"
    "local t = redis.call('TYPE', k).ok\n"
    "if t ~= 'zset' and t ~= 'none' then redis.call('DEL', k) end\n"
    "redis.call('ZREMRANGEBYSCORE', k, '-inf', ARGV[1])\n"
    "redis.call('ZADD', k, ARGV[2], ARGV[3])\n"
    "redis.call('ZREMRANGEBYRANK', k, 0, ARGV[4])\n"
    "redis.call('EXPIRE', k, ARGV[5])\n"
    "return redis.call('ZCARD', k)\n";

/* KEYS[1] window; ARGV[1] "(cutoff"; a mark counts as an empty window. */
static const char redis_window_count_lua[] =
    "if redis.call('TYPE', KEYS[1]).ok ~= 'zset' then return 0 end\n"
    "return redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')\n";

struct redis_script {
	const char *text;
	char sha[2 * 20 + 1]; /* SHA-1 hex, for EVALSHA */
};

struct redis_conn {
	redisContext *c;
	unsigned long gen; /* pool generation it was opened in */
	int used;          /* has answered a command: may have gone stale */
};

struct redis_store {
	char *name; /* the URI without credentials, for messages */
	char *host; /* TCP, or NULL */
	int port;
	char *path; /* unix socket, or NULL */
	char *user;
	char *password;
	int db;
	struct redis_script window_add, window_count;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t idle_cv;
	struct redis_conn idle[STORE_REDIS_POOL_MAX];
	unsigned n_idle;
	unsigned n_open;             /* idle, lent out, or being connected */
	unsigned long gen;           /* bumped by each failure */
	struct timespec retry_at;    /* CLOCK_MONOTONIC: no connect before */
	time_t down_since;           /* 0 while up */
	char cause[STORE_ERROR_MAX]; /* the latest failure of the outage */
	int refusing; /* an error reply since the last write went through */
	char refusal[STORE_ERROR_MAX]; /* the latest such reply */
};

/* A command's outcome when no reply came back. */
enum redis_io {
	REDIS_IO_OK,
	REDIS_IO_STALE, /* closed or reset: the server dropped an idle link */
	REDIS_IO_FAIL,  /* timeout or anything else */
};

/* redis_mono - CLOCK_MONOTONIC, for retry pacing and waits */
static struct timespec
redis_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

/* redis_ts_add_ms - ts plus ms milliseconds */
static struct timespec
redis_ts_add_ms(struct timespec ts, long ms)
{
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* redis_ts_before - whether a is earlier than b */
static int
redis_ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* redis_timeout - STORE_REDIS_TIMEOUT_MS as a timeval */
static struct timeval
redis_timeout(void)
{
	struct timeval tv = {STORE_REDIS_TIMEOUT_MS / 1000,
			     (STORE_REDIS_TIMEOUT_MS % 1000) * 1000};

	return tv;
}

/* redis_ctx_error - why a context failed, in words */
static void
redis_ctx_error(const redisContext *c, char *buf, size_t size)
{
	/* hiredis reports a socket timeout as EAGAIN's text */
	if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
		snprintf(buf, size, "no answer within %d ms",
			 STORE_REDIS_TIMEOUT_MS);
	else
		snprintf(buf, size, "%s",
			 c->errstr[0] ? c->errstr : "I/O error");
}

/*
 * redis_command - one command on c, immune to SIGPIPE
 *
 * hiredis write()s to the socket, so a server that vanished could raise
 * SIGPIPE and kill the daemon; a library must not change the process's
 * signal dispositions, so the signal is blocked in this thread and any
 * instance of it raised here is consumed before unblocking.
 */
static redisReply *
redis_command(redisContext *c, int argc, const char **argv, const size_t *lens)
{
	sigset_t pipe_set, old;
	redisReply *reply;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	reply = redisCommandArgv(c, argc, argv, lens);
	saved = errno;
	if (!sigismember(&old, SIGPIPE)) {
		struct timespec zero = {0, 0};
		sigset_t pending;

		if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
			(void)sigtimedwait(&pipe_set, NULL, &zero);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	errno = saved;
	return reply;
}

/*
 * redis_transient - an error reply that a working setup gives for a
 * while (loading the data after a restart, a long script, a failover),
 * not a wrong password or database
 */
static int
redis_transient(const char *err)
{
	static const char *const codes[] = {"LOADING", "BUSY", "MASTERDOWN",
					    "TRYAGAIN"};

	for (size_t i = 0; i < G_N_ELEMENTS(codes); i++) {
		size_t n = strlen(codes[i]);

		if (strncmp(err, codes[i], n) == 0 &&
		    (err[n] == ' ' || err[n] == '\0'))
			return 1;
	}
	return 0;
}

/*
 * redis_connect - open, authenticate and select; NULL with cause set.
 * *refused_r is 1 when the server answered but said no (a wrong password
 * or database: configuration, not an outage).
 */
static redisContext *
redis_connect(const struct redis_store *rs, char *cause, size_t size,
	      int *refused_r)
{
	struct timeval tv = redis_timeout();
	const char *argv[3];
	redisContext *c;
	redisReply *r = NULL;
	char db[16];
	char why[STORE_ERROR_MAX];
	int asked = 0;

	*refused_r = 0;
	if (rs->path != NULL)
		c = redisConnectUnixWithTimeout(rs->path, tv);
	else
		c = redisConnectWithTimeout(rs->host, rs->port, tv);
	if (c == NULL) {
		snprintf(cause, size, "cannot connect: out of memory");
		return NULL;
	}
	if (c->err == 0 && redisSetTimeout(c, tv) != REDIS_OK)
		snprintf(c->errstr, sizeof(c->errstr), "cannot set timeout");
	if (c->err != 0 || c->fd < 0) {
		redis_ctx_error(c, why, sizeof(why));
		snprintf(cause, size, "cannot connect: %.400s", why);
		redisFree(c);
		return NULL;
	}
	/* the daemon may run programs; they must not inherit Redis */
	(void)fcntl(c->fd, F_SETFD, FD_CLOEXEC);
	/* TCP only: on a unix socket it fails and poisons the context */
	if (rs->path == NULL && redisEnableKeepAlive(c) != REDIS_OK) {
		redis_ctx_error(c, why, sizeof(why));
		snprintf(cause, size, "cannot connect: %.400s", why);
		redisFree(c);
		return NULL;
	}
	if (rs->password != NULL) {
		int argc = 0;

		argv[argc++] = "AUTH";
		if (rs->user != NULL)
			argv[argc++] = rs->user;
		argv[argc++] = rs->password;
		r = redis_command(c, argc, argv, NULL);
		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			goto fail;
		freeReplyObject(r);
		asked = 1;
	}
	if (rs->db != 0) {
		snprintf(db, sizeof(db), "%d", rs->db);
		argv[0] = "SELECT";
		argv[1] = db;
		r = redis_command(c, 2, argv, NULL);
		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			goto fail;
		freeReplyObject(r);
		asked = 1;
	}
	if (!asked) {
		/* a server that wants a password says so only when asked */
		argv[0] = "PING";
		r = redis_command(c, 1, argv, NULL);
		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			goto fail;
		freeReplyObject(r);
	}
	return c;

fail:
	if (r == NULL) {
		redis_ctx_error(c, why, sizeof(why));
		snprintf(cause, size, "cannot set up the connection: %.400s",
			 why);
	} else {
		/* Redis's answer never echoes the password */
		snprintf(cause, size, "%s refused: %s", argv[0], r->str);
		*refused_r = !redis_transient(r->str);
		freeReplyObject(r);
	}
	redisFree(c);
	return NULL;
}

/* redis_mark_down - note a failure (lock held); the first one dates the
 * outage, each says why (a timeout may turn into a refused connect), and
 * reconnecting waits a while */
static void
redis_mark_down(struct redis_store *rs, const char *cause)
{
	if (rs->down_since == 0)
		rs->down_since = time(NULL);
	snprintf(rs->cause, sizeof(rs->cause), "%s", cause);
	rs->retry_at = redis_ts_add_ms(redis_mono(), STORE_REDIS_RECONNECT_MS);
}

/* redis_down_error - the fast failure while the outage lasts */
static void
redis_down_error(const struct redis_store *rs, time_t since, const char *cause)
{
	char when[32];
	struct tm tm;

	if (gmtime_r(&since, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", (long long)since);
	store_set_error("%s: redis down since %s (%s)", rs->name, when, cause);
}

/*
 * redis_acquire - lend out a connection, reusing an idle one or opening
 * one; NULL (error set) while down, when all are busy too long, or when
 * connecting fails.
 */
static int
redis_acquire(struct redis_store *rs, struct redis_conn *conn)
{
	struct timespec deadline =
	    redis_ts_add_ms(redis_mono(), STORE_REDIS_TIMEOUT_MS);
	char cause[STORE_ERROR_MAX];
	unsigned long gen;
	int refused;

	pthread_mutex_lock(&rs->lock);
	for (;;) {
		while (rs->n_idle > 0) {
			*conn = rs->idle[--rs->n_idle];
			if (conn->gen == rs->gen) {
				pthread_mutex_unlock(&rs->lock);
				return 0;
			}
			/* opened before a failure: likely dead too */
			redisFree(conn->c);
			rs->n_open--;
		}
		if (rs->down_since != 0 &&
		    redis_ts_before(redis_mono(), rs->retry_at)) {
			time_t since = rs->down_since;

			snprintf(cause, sizeof(cause), "%s", rs->cause);
			pthread_mutex_unlock(&rs->lock);
			redis_down_error(rs, since, cause);
			return -1;
		}
		if (rs->n_open < STORE_REDIS_POOL_MAX)
			break;
		if (pthread_cond_timedwait(&rs->idle_cv, &rs->lock,
					   &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&rs->lock);
			store_set_error("%s: all %d connections busy for %d ms",
					rs->name, STORE_REDIS_POOL_MAX,
					STORE_REDIS_TIMEOUT_MS);
			return -1;
		}
	}
	rs->n_open++;
	/* while down, this thread is the one probe: others fail at once */
	if (rs->down_since != 0)
		rs->retry_at =
		    redis_ts_add_ms(redis_mono(), STORE_REDIS_RECONNECT_MS);
	gen = rs->gen;
	pthread_mutex_unlock(&rs->lock);

	conn->c = redis_connect(rs, cause, sizeof(cause), &refused);
	conn->gen = gen;
	conn->used = 0;
	pthread_mutex_lock(&rs->lock);
	if (conn->c == NULL) {
		rs->n_open--;
		redis_mark_down(rs, cause);
		pthread_cond_signal(&rs->idle_cv);
	}
	pthread_mutex_unlock(&rs->lock);
	if (conn->c == NULL) {
		store_set_error("%s: %s", rs->name, cause);
		return -1;
	}
	return 0;
}

/* redis_release - return a connection; a broken one is closed, and
 * every idle one opened before is doomed with it */
static void
redis_release(struct redis_store *rs, struct redis_conn *conn, int broken)
{
	pthread_mutex_lock(&rs->lock);
	if (!broken && rs->n_idle < STORE_REDIS_POOL_MAX) {
		conn->used = 1;
		rs->idle[rs->n_idle++] = *conn;
		conn->c = NULL;
	} else {
		rs->n_open--;
		if (broken)
			rs->gen++;
	}
	if (!broken && rs->down_since != 0) {
		/* a command went through: the outage is over */
		rs->down_since = 0;
		rs->cause[0] = '\0';
	}
	pthread_cond_signal(&rs->idle_cv);
	pthread_mutex_unlock(&rs->lock);
	if (conn->c != NULL)
		redisFree(conn->c);
	conn->c = NULL;
}

/* redis_io_kind - classify a command that got no reply */
static enum redis_io
redis_io_kind(const redisContext *c)
{
	if (c->err == REDIS_ERR_EOF ||
	    (c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE)))
		return REDIS_IO_STALE;
	return REDIS_IO_FAIL;
}

/*
 * redis_exec - run one command on a pooled connection; 0 with any reply
 * (errors included) or -1 (error set) when none came back.  A connection
 * the server closed while idle (its "timeout" setting, a restart) is
 * retried once on a fresh one; a timeout never is, since the command may
 * have run.
 */
static int
redis_exec(struct redis_store *rs, int argc, const char **argv,
	   const size_t *lens, redisReply **reply_r)
{
	for (int attempt = 0;; attempt++) {
		struct redis_conn conn;
		redisReply *reply;
		char why[STORE_ERROR_MAX];
		enum redis_io kind;
		int used;

		if (redis_acquire(rs, &conn) < 0)
			return -1;
		reply = redis_command(conn.c, argc, argv, lens);
		if (reply != NULL) {
			redis_release(rs, &conn, 0);
			*reply_r = reply;
			return 0;
		}
		kind = redis_io_kind(conn.c);
		redis_ctx_error(conn.c, why, sizeof(why));
		used = conn.used;
		redis_release(rs, &conn, 1);
		if (attempt == 0 && used && kind == REDIS_IO_STALE)
			continue;
		pthread_mutex_lock(&rs->lock);
		redis_mark_down(rs, why);
		pthread_mutex_unlock(&rs->lock);
		store_set_error("%s: %s %s", rs->name, argv[0], why);
		return -1;
	}
}

/*
 * redis_refused - an error reply: the server answers but will not do the
 * work (our commands and scripts never fail on their own), so the store
 * is unavailable, and says so once, until a write goes through
 */
static void
redis_refused(struct redis_store *rs, const char *what, const char *err)
{
	pthread_mutex_lock(&rs->lock);
	rs->refusing = 1;
	/* for the outage's log line, which another thread may write */
	snprintf(rs->refusal, sizeof(rs->refusal), "%s refused: %.400s", what,
		 err);
	pthread_mutex_unlock(&rs->lock);
	store_set_error("%s: %s refused: %s", rs->name, what, err);
}

/* redis_answered - a reply that is not an error; a write that went
 * through ends a refusal (a read may work on a read-only replica) */
static void
redis_answered(struct redis_store *rs, int write)
{
	if (!write)
		return;
	pthread_mutex_lock(&rs->lock);
	rs->refusing = 0;
	pthread_mutex_unlock(&rs->lock);
}

/* redis_run - redis_exec where an error reply is a failure too; write:
 * the command changes data */
static int
redis_run(struct redis_store *rs, int argc, const char **argv,
	  const size_t *lens, int write, redisReply **reply_r)
{
	redisReply *reply;

	if (redis_exec(rs, argc, argv, lens, &reply) < 0)
		return -1;
	if (reply->type == REDIS_REPLY_ERROR) {
		redis_refused(rs, argv[0], reply->str);
		freeReplyObject(reply);
		return -1;
	}
	redis_answered(rs, write);
	*reply_r = reply;
	return 0;
}

/* redis_key - "triage:" + hex of the hashed key */
static void
redis_key(const unsigned char *hk, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = sizeof(STORE_REDIS_KEY_PREFIX) - 1;

	memcpy(buf, STORE_REDIS_KEY_PREFIX, n);
	for (size_t i = 0; i < STORE_HASH_BYTES; i++) {
		buf[n++] = hex[hk[i] >> 4];
		buf[n++] = hex[hk[i] & 15];
	}
	buf[n] = '\0';
}

#define REDIS_KEY_SIZE (sizeof(STORE_REDIS_KEY_PREFIX) + 2 * STORE_HASH_BYTES)

/* Arguments after the key that a script takes, at most. */
#define REDIS_SCRIPT_ARGS_MAX 5

/* redis_script - EVALSHA one script, loading it with EVAL if the server
 * does not know it (first use, restart, SCRIPT FLUSH) */
static int
redis_script(struct redis_store *rs, const struct redis_script *s, int write,
	     const char *key, int nargs, const char **args,
	     redisReply **reply_r)
{
	const char *argv[4 + REDIS_SCRIPT_ARGS_MAX] = {"EVALSHA", s->sha, "1",
						       key};
	size_t lens[4 + REDIS_SCRIPT_ARGS_MAX];
	redisReply *reply;
	int argc = 4 + nargs;

	if (nargs > REDIS_SCRIPT_ARGS_MAX) {
		store_set_error("%s: too many script arguments", rs->name);
		return -1;
	}
	for (int i = 0; i < nargs; i++)
		argv[4 + i] = args[i];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (redis_exec(rs, argc, argv, lens, &reply) < 0)
		return -1;
	if (reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(reply);
		argv[0] = "EVAL";
		argv[1] = s->text;
		lens[0] = 4;
		lens[1] = strlen(s->text);
		return redis_run(rs, argc, argv, lens, write, reply_r);
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		redis_refused(rs, "script", reply->str);
		freeReplyObject(reply);
		return -1;
	}
	redis_answered(rs, write);
	*reply_r = reply;
	return 0;
}

/* redis_integer - take an integer reply, or fail on anything else */
static int
redis_integer(struct redis_store *rs, redisReply *reply, long long *value_r)
{
	int ok = reply->type == REDIS_REPLY_INTEGER && reply->integer >= 0;

	if (ok)
		*value_r = reply->integer;
	else
		store_set_error("%s: unexpected reply type %d", rs->name,
				reply->type);
	freeReplyObject(reply);
	return ok ? 0 : -1;
}

/* redis_mark_once - SET NX EX: the test-and-set is Redis's own */
static int
redis_mark_once(void *be, const unsigned char *hk, time_t now, unsigned ttl_s,
		int *was_present_r)
{
	struct redis_store *rs = be;
	char key[REDIS_KEY_SIZE], ttl[16];
	const char *argv[] = {"SET", key, "1", "NX", "EX", ttl};
	redisReply *reply;
	int present;

	(void)now;
	redis_key(hk, key);
	snprintf(ttl, sizeof(ttl), "%u", ttl_s);
	if (redis_run(rs, 6, argv, NULL, 1, &reply) < 0)
		return -1;
	/* "OK" when set; nil when the key was there */
	present = reply->type == REDIS_REPLY_NIL;
	if (!present && reply->type != REDIS_REPLY_STATUS) {
		store_set_error("%s: SET: unexpected reply type %d", rs->name,
				reply->type);
		freeReplyObject(reply);
		return -1;
	}
	freeReplyObject(reply);
	*was_present_r = present;
	return 0;
}

/* redis_exists - EXISTS */
static int
redis_exists(void *be, const unsigned char *hk, time_t now, int *present_r)
{
	struct redis_store *rs = be;
	char key[REDIS_KEY_SIZE];
	const char *argv[] = {"EXISTS", key};
	redisReply *reply;
	long long n;

	(void)now;
	redis_key(hk, key);
	if (redis_run(rs, 2, argv, NULL, 0, &reply) < 0 ||
	    redis_integer(rs, reply, &n) < 0)
		return -1;
	*present_r = n > 0;
	return 0;
}

/* redis_set - SET EX, replacing whatever was there */
static int
redis_set(void *be, const unsigned char *hk, time_t now, unsigned ttl_s)
{
	struct redis_store *rs = be;
	char key[REDIS_KEY_SIZE], ttl[16];
	const char *argv[] = {"SET", key, "1", "EX", ttl};
	redisReply *reply;

	(void)now;
	redis_key(hk, key);
	snprintf(ttl, sizeof(ttl), "%u", ttl_s);
	if (redis_run(rs, 5, argv, NULL, 1, &reply) < 0)
		return -1;
	freeReplyObject(reply);
	return 0;
}

/* redis_del - DEL; absent is fine */
static int
redis_del(void *be, const unsigned char *hk)
{
	struct redis_store *rs = be;
	char key[REDIS_KEY_SIZE];
	const char *argv[] = {"DEL", key};
	redisReply *reply;

	redis_key(hk, key);
	if (redis_run(rs, 2, argv, NULL, 1, &reply) < 0)
		return -1;
	freeReplyObject(reply);
	return 0;
}

/* redis_member - a random name for one window event */
static int
redis_member(struct redis_store *rs, char *buf, size_t size)
{
	unsigned char raw[STORE_REDIS_MEMBER_BYTES];
	size_t n = 0;

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		store_set_error("%s: no random bytes", rs->name);
		return -1;
	}
	for (size_t i = 0; i < sizeof(raw) && n + 3 <= size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%02x", raw[i]);
	return 0;
}

/* redis_window_add - trim, add, cap, count and expire, in one script */
static int
redis_window_add(void *be, const unsigned char *hk, time_t now,
		 unsigned window_s, unsigned long *count_r)
{
	struct redis_store *rs = be;
	char key[REDIS_KEY_SIZE], cutoff[24], at[24], rank[16], span[16];
	char member[2 * STORE_REDIS_MEMBER_BYTES + 1];
	const char *args[] = {cutoff, at, member, rank, span};
	redisReply *reply;
	long long n;

	redis_key(hk, key);
	if (redis_member(rs, member, sizeof(member)) < 0)
		return -1;
	snprintf(cutoff, sizeof(cutoff), "%lld", (long long)now - window_s);
	snprintf(at, sizeof(at), "%lld", (long long)now);
	snprintf(rank, sizeof(rank), "%d", -(STORE_WINDOW_MAX_EVENTS + 1));
	snprintf(span, sizeof(span), "%u", window_s);
	if (redis_script(rs, &rs->window_add, 1, key, 5, args, &reply) < 0 ||
	    redis_integer(rs, reply, &n) < 0)
		return -1;
	*count_r = (unsigned long)n;
	return 0;
}

/* redis_window_count - the events newer than now - window_s */
static int
redis_window_count(void *be, const unsigned char *hk, time_t now,
		   unsigned window_s, unsigned long *count_r)
{
	struct redis_store *rs = be;
	char key[REDIS_KEY_SIZE], cutoff[24];
	const char *args[] = {cutoff};
	redisReply *reply;
	long long n;

	redis_key(hk, key);
	/* "(": exclusive, as the trim in window_add is inclusive */
	snprintf(cutoff, sizeof(cutoff), "(%lld", (long long)now - window_s);
	if (redis_script(rs, &rs->window_count, 0, key, 1, args, &reply) < 0 ||
	    redis_integer(rs, reply, &n) < 0)
		return -1;
	*count_r = (unsigned long)n;
	return 0;
}

/* redis_purge - Redis expires keys itself: nothing to remove */
static int
redis_purge(void *be, time_t now, unsigned long *removed_r)
{
	(void)be;
	(void)now;
	*removed_r = 0;
	return 0;
}

/* redis_available - 0 from a failure until a command succeeds again, and
 * from an error reply until a write succeeds; why names the server */
static int
redis_available(void *be, char *why, size_t size)
{
	struct redis_store *rs = be;
	int up;

	pthread_mutex_lock(&rs->lock);
	up = rs->down_since == 0 && !rs->refusing;
	if (rs->down_since != 0)
		snprintf(why, size, "%s: %s", rs->name, rs->cause);
	else if (rs->refusing)
		snprintf(why, size, "%s: %s", rs->name, rs->refusal);
	pthread_mutex_unlock(&rs->lock);
	return up;
}

/* redis_close - close every idle connection and forget the credentials */
static void
redis_close(void *be)
{
	struct redis_store *rs = be;

	for (unsigned i = 0; i < rs->n_idle; i++)
		redisFree(rs->idle[i].c);
	pthread_cond_destroy(&rs->idle_cv);
	pthread_mutex_destroy(&rs->lock);
	if (rs->password != NULL)
		memset(rs->password, 0, strlen(rs->password));
	g_free(rs->password);
	g_free(rs->user);
	g_free(rs->name);
	g_free(rs->host);
	g_free(rs->path);
	g_free(rs);
}

/* redis_number - parse a decimal in [min, max]; -1 if it is not one */
static int
redis_number(const char *s, size_t len, long min, long max, int *value_r)
{
	char buf[16], *end;
	long v;

	if (len == 0 || len >= sizeof(buf) || strspn(s, "0123456789") < len)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*value_r = (int)v;
	return 0;
}

/* redis_unescape - percent-decode len bytes of s; NULL if malformed */
static char *
redis_unescape(const char *s, size_t len)
{
	char *raw = g_strndup(s, len);
	char *out = g_uri_unescape_string(raw, NULL);

	g_free(raw);
	return out;
}

/* redis_parse_userinfo - "[USER]:PASSWORD" into rs */
static int
redis_parse_userinfo(struct redis_store *rs, const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);

	if (colon == NULL)
		return -1;
	if (colon > s && (rs->user = redis_unescape(s, colon - s)) == NULL)
		return -1;
	rs->password = redis_unescape(colon + 1, len - (colon + 1 - s));
	return rs->password == NULL || *rs->password == '\0' ? -1 : 0;
}

/* redis_parse_tcp - "[[USER]:PASSWORD@]HOST[:PORT][/DB]" into rs */
static int
redis_parse_tcp(struct redis_store *rs, const char *loc, char **error_r)
{
	const char *at = strrchr(loc, '@'), *p, *end;
	const char *what =
	    "expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]";

	if (at != NULL && redis_parse_userinfo(rs, loc, at - loc) < 0) {
		what = "bad credentials (expected [USER]:PASSWORD@, "
		       "percent-encoded)";
		goto bad;
	}
	p = at != NULL ? at + 1 : loc;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL || end == p + 1)
			goto bad;
		rs->host = g_strndup(p + 1, end - p - 1);
		p = end + 1;
	} else {
		end = p + strcspn(p, ":/?");
		if (end == p)
			goto bad;
		rs->host = g_strndup(p, end - p);
		p = end;
	}
	rs->port = STORE_REDIS_DEFAULT_PORT;
	if (*p == ':') {
		end = p + 1 + strcspn(p + 1, "/");
		if (redis_number(p + 1, end - p - 1, 1, 65535, &rs->port) < 0) {
			what = "bad port (1-65535)";
			goto bad;
		}
		p = end;
	}
	if (*p == '/' && p[1] != '\0') {
		if (redis_number(p + 1, strlen(p + 1), 0, INT_MAX, &rs->db) <
		    0) {
			what = "bad database number";
			goto bad;
		}
	} else if (*p != '\0' && strcmp(p, "/") != 0) {
		goto bad;
	}
	rs->name = g_strdup_printf(strchr(rs->host, ':') ? "redis://[%s]:%d/%d"
							 : "redis://%s:%d/%d",
				   rs->host, rs->port, rs->db);
	return 0;

bad:
	/* never echo the location: it may hold the password */
	*error_r = g_strdup_printf("redis://%s: %s",
				   rs->host != NULL ? rs->host : "...", what);
	return -1;
}

/* redis_parse_option - one "name=value" of a redis+unix URI into rs */
static int
redis_parse_option(struct redis_store *rs, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	size_t nlen = eq != NULL ? (size_t)(eq - s) : len;
	const char *v = eq != NULL ? eq + 1 : s + len;
	size_t vlen = len - (v - s);

	if (eq == NULL)
		return -1;
	if (nlen == 2 && strncmp(s, "db", 2) == 0)
		return redis_number(v, vlen, 0, INT_MAX, &rs->db);
	if (nlen == 8 && strncmp(s, "password", 8) == 0 && rs->password == NULL)
		return (rs->password = redis_unescape(v, vlen)) == NULL ||
			       *rs->password == '\0'
			   ? -1
			   : 0;
	if (nlen == 4 && strncmp(s, "user", 4) == 0 && rs->user == NULL)
		return (rs->user = redis_unescape(v, vlen)) == NULL ? -1 : 0;
	return -1;
}

/* redis_parse_unix - "/SOCKET[?db=N][&password=P][&user=U]" into rs */
static int
redis_parse_unix(struct redis_store *rs, const char *loc, char **error_r)
{
	size_t plen = strcspn(loc, "?");
	const char *p = loc + plen;

	if (loc[0] != '/' || plen < 2) {
		*error_r = g_strdup("redis+unix://: expected "
				    "redis+unix:///ABSOLUTE/SOCKET"
				    "[?db=N&password=P&user=U]");
		return -1;
	}
	rs->path = g_strndup(loc, plen);
	while (*p != '\0') {
		size_t len = strcspn(p + 1, "&");

		if (redis_parse_option(rs, p + 1, len) < 0) {
			*error_r = g_strdup_printf(
			    "redis+unix://%s: bad option (expected db=N, "
			    "password=P or user=U, each once)",
			    rs->path);
			return -1;
		}
		p += 1 + len;
	}
	if (rs->user != NULL && rs->password == NULL) {
		*error_r = g_strdup_printf(
		    "redis+unix://%s: user needs a password", rs->path);
		return -1;
	}
	rs->name = rs->db != 0 ? g_strdup_printf("redis+unix://%s?db=%d",
						 rs->path, rs->db)
			       : g_strdup_printf("redis+unix://%s", rs->path);
	return 0;
}

/* redis_script_init - remember a script and its SHA-1 for EVALSHA */
static int
redis_script_init(struct redis_script *s, const char *text)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	s->text = text;
	if (EVP_Digest(text, strlen(text), md, &len, EVP_sha1(), NULL) != 1 ||
	    len != 20)
		return -1;
	for (unsigned i = 0; i < len; i++)
		snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/*
 * redis_open_common - parse, then connect once: Redis refusing the
 * password or database fails the open; Redis unreachable does not (the
 * store starts down and reconnects later)
 */
/* redis_parsed - a store of the location, parsed, not connected; NULL
 * and *error_r when the location is not one */
static struct redis_store *
redis_parsed(const char *location, int unix_socket, char **error_r)
{
	struct redis_store *rs = g_new0(struct redis_store, 1);
	pthread_condattr_t ca;

	pthread_mutex_init(&rs->lock, NULL);
	/* waits are measured on the monotonic clock */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rs->idle_cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((unix_socket ? redis_parse_unix(rs, location, error_r)
			 : redis_parse_tcp(rs, location, error_r)) < 0) {
		redis_close(rs);
		return NULL;
	}
	return rs;
}

static void *
redis_open_common(const char *location, int unix_socket, char **error_r)
{
	struct redis_store *rs = redis_parsed(location, unix_socket, error_r);
	struct redis_conn conn;
	char cause[STORE_ERROR_MAX];
	int refused = 0;

	if (rs == NULL)
		return NULL;
	if (redis_script_init(&rs->window_add, redis_window_add_lua) < 0 ||
	    redis_script_init(&rs->window_count, redis_window_count_lua) < 0) {
		*error_r =
		    g_strdup_printf("%s: cannot hash the scripts", rs->name);
		redis_close(rs);
		return NULL;
	}
	conn.c = redis_connect(rs, cause, sizeof(cause), &refused);
	if (conn.c == NULL && refused) {
		*error_r = g_strdup_printf("%s: %s", rs->name, cause);
		redis_close(rs);
		return NULL;
	}
	if (conn.c == NULL) {
		redis_mark_down(rs, cause);
	} else {
		conn.gen = rs->gen;
		conn.used = 0;
		rs->idle[rs->n_idle++] = conn;
		rs->n_open++;
	}
	return rs;
}

/* redis_open_tcp - open a redis:// location */
static void *
redis_open_tcp(const char *location, char **error_r)
{
	return redis_open_common(location, 0, error_r);
}

/* redis_open_unix - open a redis+unix:// location */
static void *
redis_open_unix(const char *location, char **error_r)
{
	return redis_open_common(location, 1, error_r);
}

/* redis_check_common - whether a location parses */
static int
redis_check_common(const char *location, int unix_socket, char **error_r)
{
	struct redis_store *rs = redis_parsed(location, unix_socket, error_r);

	if (rs == NULL)
		return -1;
	redis_close(rs);
	return 0;
}

/* redis_check_tcp, redis_check_unix - the check of each scheme */
static int
redis_check_tcp(const char *location, char **error_r)
{
	return redis_check_common(location, 0, error_r);
}

static int
redis_check_unix(const char *location, char **error_r)
{
	return redis_check_common(location, 1, error_r);
}

/* The two schemes differ only in how the connection is opened. */
#define REDIS_OPS(scheme_, check_, open_)                                      \
	{                                                                      \
		.scheme = (scheme_), .check = (check_), .open = (open_),       \
		.close = redis_close, .default_key_file = NULL,                \
		.mark_once = redis_mark_once, .exists = redis_exists,          \
		.set = redis_set, .del = redis_del,                            \
		.window_add = redis_window_add,                                \
		.window_count = redis_window_count, .purge = redis_purge,      \
		.available = redis_available,                                  \
	}

const struct store_ops store_redis_ops =
    REDIS_OPS("redis://", redis_check_tcp, redis_open_tcp);
const struct store_ops store_redis_unix_ops =
    REDIS_OPS("redis+unix://", redis_check_unix, redis_open_unix);
