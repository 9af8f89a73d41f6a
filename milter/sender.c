/*
 * sender.c - the acknowledgment queue and its one sender thread
 *
 * Why one thread: acknowledgments are rare next to mail, a single thread
 * serialises the dedup reservations of this process, and a slow MTA can
 * never hold up a milter callback.  Jobs whose retry time has not come
 * wait in the queue; the thread sleeps until the earliest is due.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <glib.h>

#include "log.h"
#include "sender.h"
#include "store.h"

extern char **environ;

/* Error text from a child's stderr kept for the log. */
#define SENDER_MAX_STDERR 512

struct sender {
	struct sender_config cf; /* our copy */
	struct store *st;        /* not owned */
	GMutex lock;
	GCond cond;
	GQueue queue; /* struct sender_job *, in submit order */
	int stopping;
	gint64 drain_until; /* monotonic us */
	GThread *thread;
};

/* sender_job_free - release a job; returns NULL */
struct sender_job *
sender_job_free(struct sender_job *job)
{
	if (job == NULL)
		return NULL;
	g_free(job->qid);
	g_free(job->to);
	g_free(job->env_from);
	g_free(job->data);
	g_free(job->dedup_key);
	g_free(job);
	return NULL;
}

/* sender_check_transport - a transport spec we can use; 0 if good */
int
sender_check_transport(const char *transport, char **error_r)
{
	if (g_str_has_prefix(transport, "sendmail:")) {
		const char *path = transport + strlen("sendmail:");

		if (*path != '/') {
			*error_r = g_strdup_printf(
			    "transport \"%s\": sendmail path must be "
			    "absolute",
			    transport);
			return -1;
		}
		return 0;
	}
	if (g_str_has_prefix(transport, "smtp://") ||
	    g_str_has_prefix(transport, "smtps://")) {
		const char *host = strstr(transport, "://") + 3;

		if (*host == '\0' || *host == ':' || *host == '/') {
			*error_r = g_strdup_printf("transport \"%s\": no host",
						   transport);
			return -1;
		}
		return 0;
	}
	*error_r = g_strdup_printf("transport \"%s\": expected "
				   "sendmail:/path, smtp://host:port or "
				   "smtps://host:port",
				   transport);
	return -1;
}

/* sender_write_all - write len bytes to a non-blocking fd by a deadline */
static int
sender_write_all(int fd, const char *p, size_t len, gint64 deadline)
{
	while (len > 0) {
		struct pollfd pfd = {fd, POLLOUT, 0};
		gint64 left = (deadline - g_get_monotonic_time()) / 1000;
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* sender_sendmail - run sendmail -i -f FROM -- TO with the message */
static int
sender_sendmail(const struct sender_config *cf, const struct sender_job *job,
		char **error_r)
{
	const char *path = cf->transport + strlen("sendmail:");
	/* a fixed argv, never a shell: the address cannot become options */
	char *argv[] = {g_strdup("sendmail"),
			g_strdup("-i"),
			g_strdup("-f"),
			g_strdup(*job->env_from ? job->env_from : "<>"),
			g_strdup("--"),
			g_strdup(job->to),
			NULL};
	gint64 deadline =
	    g_get_monotonic_time() + (gint64)cf->timeout_s * G_USEC_PER_SEC;
	posix_spawn_file_actions_t fa;
	int in[2], err[2], status = 0, rc;
	char ebuf[SENDER_MAX_STDERR] = "";
	pid_t pid;

	in[0] = in[1] = err[0] = err[1] = -1;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
		*error_r = g_strdup_printf("pipe: %s", g_strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (in[i] >= 0)
				close(in[i]);
			if (err[i] >= 0)
				close(err[i]);
		}
		for (char **a = argv; *a; a++)
			g_free(*a);
		return 1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	for (char **a = argv; *a; a++)
		g_free(*a);
	close(in[0]);
	close(err[1]);
	if (rc != 0) {
		close(in[1]);
		close(err[0]);
		*error_r =
		    g_strdup_printf("cannot run %s: %s", path, g_strerror(rc));
		return 2;
	}
	(void)fcntl(in[1], F_SETFL, O_NONBLOCK);
	rc = sender_write_all(in[1], job->data, job->len, deadline);
	close(in[1]);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			break;
		if (g_get_monotonic_time() > deadline) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
			close(err[0]);
			*error_r = g_strdup_printf("%s: timed out after %u s",
						   path, cf->timeout_s);
			return 1;
		}
		g_usleep(20 * 1000);
	}
	(void)fcntl(err[0], F_SETFL, O_NONBLOCK);
	if (read(err[0], ebuf, sizeof(ebuf) - 1) < 0)
		ebuf[0] = '\0';
	close(err[0]);
	g_strdelimit(ebuf, "\r\n", ' ');
	if (rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		*error_r = g_strdup_printf("%s exited %d%s%s", path,
					   WEXITSTATUS(status),
					   *ebuf ? ": " : "", g_strstrip(ebuf));
	else
		*error_r = g_strdup_printf("%s killed by a signal", path);
	/* EX_TEMPFAIL (75) is the MTA's "try again later" */
	return WIFEXITED(status) && WEXITSTATUS(status) == 75 ? 1 : 2;
}

struct sender_upload {
	const char *p;
	size_t left;
};

/* sender_read_cb - libcurl pulls the message from here */
static size_t
sender_read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct sender_upload *u = arg;
	size_t n = size * nmemb < u->left ? size * nmemb : u->left;

	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/* sender_smtp - submit over SMTP or SMTPS with libcurl */
static int
sender_smtp(const struct sender_config *cf, const struct sender_job *job,
	    char **error_r)
{
	struct sender_upload up = {job->data, job->len};
	struct curl_slist *rcpt = NULL;
	char *from = g_strdup_printf("<%s>", job->env_from);
	char *to = g_strdup_printf("<%s>", job->to);
	char errbuf[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURL *c = curl_easy_init();
	CURLcode rc;

	if (c == NULL) {
		g_free(from);
		g_free(to);
		*error_r = g_strdup("curl_easy_init failed");
		return 1;
	}
	rcpt = curl_slist_append(rcpt, to);
	curl_easy_setopt(c, CURLOPT_URL, cf->transport);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, sender_read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &up);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)job->len);
	curl_easy_setopt(c, CURLOPT_CRLF, 1L); /* SMTP wants CRLF */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cf->timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)cf->timeout_s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	/* a password never crosses the wire in clear: AUTH implies TLS */
	curl_easy_setopt(c, CURLOPT_USE_SSL,
			 cf->require_tls || (cf->smtp_user && *cf->smtp_user)
			     ? (long)CURLUSESSL_ALL
			     : (long)CURLUSESSL_TRY);
	if (cf->smtp_user != NULL && *cf->smtp_user != '\0') {
		curl_easy_setopt(c, CURLOPT_USERNAME, cf->smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, cf->smtp_password);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	g_free(from);
	g_free(to);
	if (rc == CURLE_OK)
		return 0;
	*error_r =
	    g_strdup_printf("%s: %s (SMTP %ld)", cf->transport,
			    *errbuf ? errbuf : curl_easy_strerror(rc), code);
	/* 5xx is final; no answer or 4xx may work later */
	return code >= 500 && code < 600 ? 2 : 1;
}

/* sender_deliver - one hand-off: 0 ok, 1 temporary, 2 permanent */
int
sender_deliver(const struct sender_config *cf, const struct sender_job *job,
	       char **error_r)
{
	if (g_str_has_prefix(cf->transport, "sendmail:"))
		return sender_sendmail(cf, job, error_r);
	return sender_smtp(cf, job, error_r);
}

/* sender_release - drop the dedup mark of a reply that was not sent; a
 * mark that stays silences this customer for the interval: say so */
static void
sender_release(struct sender *s, const struct sender_job *job)
{
	if (job->dedup_key == NULL || store_del(s->st, job->dedup_key) == 0)
		return;
	log_warn("%s: cannot release the dedup mark of %s (%s): no "
		 "acknowledgment to them until it expires",
		 job->qid, job->to, store_last_error(s->st));
}

/* sender_process - reserve, hand off, record; 1 if it must be retried */
static int
sender_process(struct sender *s, struct sender_job *job)
{
	char *error = NULL;
	int present = 0, rc;

	if (job->tries == 0 && job->dedup_key != NULL && !job->reserved) {
		if (s->st == NULL ||
		    store_mark_once(s->st, job->dedup_key, job->dedup_ttl,
				    &present) != 0) {
			log_warn("%s: acknowledgment to %s not sent: store "
				 "unavailable",
				 job->qid, job->to);
			return 0;
		}
		if (present) {
			log_info("%s: acknowledgment to %s not sent: "
				 "duplicate",
				 job->qid, job->to);
			return 0;
		}
	}
	job->tries++;
	rc = sender_deliver(&s->cf, job, &error);
	if (rc == 0) {
		/* the interval from now on; if this write fails, the mark
		 * reserved for the interval before the hand-off still holds */
		if (job->dedup_key != NULL)
			(void)store_set(s->st, job->dedup_key, job->dedup_ttl);
		log_info("%s: acknowledgment sent to %s", job->qid, job->to);
		return 0;
	}
	if (rc == 1 && job->tries < SENDER_MAX_TRIES) {
		/* 2 s, 8 s, 32 s */
		gint64 delay = (gint64)2 << (2 * (job->tries - 1));

		log_warn("%s: acknowledgment to %s deferred (try %u): %s",
			 job->qid, job->to, job->tries, error);
		job->not_before =
		    g_get_monotonic_time() + delay * G_USEC_PER_SEC;
		g_free(error);
		return 1;
	}
	log_err("%s: acknowledgment to %s failed after %u tries: %s", job->qid,
		job->to, job->tries, error);
	sender_release(s, job);
	g_free(error);
	return 0;
}

/* sender_next_due - the first job whose time has come, or NULL */
static struct sender_job *
sender_next_due(struct sender *s, gint64 now, gint64 *wake_r)
{
	*wake_r = G_MAXINT64;
	for (GList *l = s->queue.head; l != NULL; l = l->next) {
		struct sender_job *job = l->data;

		if (job->not_before <= now) {
			g_queue_delete_link(&s->queue, l);
			return job;
		}
		if (job->not_before < *wake_r)
			*wake_r = job->not_before;
	}
	return NULL;
}

/* sender_thread - take due jobs until stopped (and drained) */
static gpointer
sender_thread(gpointer arg)
{
	struct sender *s = arg;

	g_mutex_lock(&s->lock);
	for (;;) {
		gint64 now = g_get_monotonic_time(), wake;
		struct sender_job *job;

		if (s->stopping &&
		    (g_queue_is_empty(&s->queue) || now > s->drain_until))
			break;
		job = sender_next_due(s, now, &wake);
		if (job == NULL) {
			if (s->stopping && wake > s->drain_until)
				break; /* nothing due before the deadline */
			if (wake == G_MAXINT64)
				g_cond_wait(&s->cond, &s->lock);
			else
				g_cond_wait_until(&s->cond, &s->lock, wake);
			continue;
		}
		g_mutex_unlock(&s->lock);
		if (sender_process(s, job) == 0) {
			sender_job_free(job);
			g_mutex_lock(&s->lock);
		} else {
			g_mutex_lock(&s->lock);
			g_queue_push_tail(&s->queue, job);
		}
	}
	while (!g_queue_is_empty(&s->queue)) {
		struct sender_job *job = g_queue_pop_head(&s->queue);

		log_warn("%s: acknowledgment to %s dropped at shutdown",
			 job->qid, job->to);
		/* the mark is ours once reserved here or at end of message */
		if (job->tries > 0 || job->reserved)
			sender_release(s, job);
		sender_job_free(job);
	}
	g_mutex_unlock(&s->lock);
	return NULL;
}

/* sender_start - start the sender thread */
struct sender *
sender_start(const struct sender_config *cf, struct store *st, char **error_r)
{
	struct sender *s;

	if (sender_check_transport(cf->transport, error_r) != 0)
		return NULL;
	/* not thread-safe: done once, before libmilter starts threads */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*error_r = g_strdup("curl_global_init failed");
		return NULL;
	}
	s = g_new0(struct sender, 1);
	s->cf.transport = g_strdup(cf->transport);
	s->cf.smtp_user = g_strdup(cf->smtp_user ? cf->smtp_user : "");
	s->cf.smtp_password =
	    g_strdup(cf->smtp_password ? cf->smtp_password : "");
	s->cf.require_tls = cf->require_tls;
	s->cf.timeout_s = cf->timeout_s;
	s->st = st;
	g_mutex_init(&s->lock);
	g_cond_init(&s->cond);
	g_queue_init(&s->queue);
	s->thread = g_thread_new("sender", sender_thread, s);
	return s;
}

/* sender_submit - queue a job (taking it); -1 when the queue is full */
int
sender_submit(struct sender *s, struct sender_job *job)
{
	int rc = 0;

	g_mutex_lock(&s->lock);
	if (s->stopping || g_queue_get_length(&s->queue) >= SENDER_MAX_QUEUE) {
		rc = -1;
	} else {
		job->not_before = 0;
		g_queue_push_tail(&s->queue, job);
		g_cond_signal(&s->cond);
	}
	g_mutex_unlock(&s->lock);
	if (rc != 0)
		sender_job_free(job);
	return rc;
}

/* sender_stop - drain for at most drain_ms, then stop and free */
void
sender_stop(struct sender *s, unsigned drain_ms)
{
	if (s == NULL)
		return;
	g_mutex_lock(&s->lock);
	s->stopping = 1;
	s->drain_until = g_get_monotonic_time() + (gint64)drain_ms * 1000;
	g_cond_broadcast(&s->cond);
	g_mutex_unlock(&s->lock);
	g_thread_join(s->thread);
	g_mutex_clear(&s->lock);
	g_cond_clear(&s->cond);
	g_free(s->cf.transport);
	g_free(s->cf.smtp_user);
	g_free(s->cf.smtp_password);
	g_free(s);
	curl_global_cleanup();
}
