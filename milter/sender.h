/*
 * sender.h - hand acknowledgments to the MTA, outside milter callbacks
 *
 * End of message never sends anything itself: it queues a job, and one
 * sender thread hands it to the MTA - by running sendmail(1) with a fixed
 * argv, or over SMTP/SMTPS with libcurl (STARTTLS, AUTH) - with a timeout,
 * retries with backoff on temporary failures, and the dedup mark in the
 * store: reserved for the whole interval before the hand-off (so two MX
 * hosts or two concurrent messages cannot both send, and a store that
 * fails right after the hand-off cannot let a second reply out), started
 * afresh once the hand-off succeeded, released if it failed.
 *
 * Limits: the queue holds at most SENDER_MAX_QUEUE jobs (a full queue
 * refuses a job, and the caller logs why); each hand-off is bounded by
 * the configured timeout; stopping drains the queue for a bounded time.
 */
#ifndef TRIAGE_SENDER_H
#define TRIAGE_SENDER_H

#include <stddef.h>

struct store;

/* A burst of acknowledgments beyond this is not worth holding in memory. */
#define SENDER_MAX_QUEUE 1000
/* Temporary failures are retried this many times, 2 s, 8 s, 32 s apart. */
#define SENDER_MAX_TRIES 4

struct sender_config {
	char *transport; /* sendmail:/path, smtp://h:p, smtps://h:p */
	char *smtp_user; /* "" = no AUTH */
	char *smtp_password;
	int require_tls;    /* smtp://: refuse to send without STARTTLS */
	unsigned timeout_s; /* one hand-off */
};

struct sender_job {
	char *qid;      /* for the log */
	char *to;       /* envelope recipient: the customer */
	char *env_from; /* "" = null sender */
	char *data;     /* the whole RFC 5322 message, CRLF or LF */
	size_t len;
	char *dedup_key;    /* store key; NULL = no dedup */
	unsigned dedup_ttl; /* seconds: the interval, reserved for it too */
	int reserved;       /* the caller already holds the dedup mark */
	unsigned tries;
	long long not_before; /* monotonic us */
};

struct sender;

struct sender *sender_start(const struct sender_config *cf, struct store *st,
			    char **error_r);
int sender_submit(struct sender *s, struct sender_job *job);
struct sender_job *sender_job_free(struct sender_job *job);
void sender_stop(struct sender *s, unsigned drain_ms);
int sender_check_transport(const char *transport, char **error_r);

/* for tests: one hand-off, synchronously; 0 ok, 1 temporary, 2 permanent */
int sender_deliver(const struct sender_config *cf, const struct sender_job *job,
		   char **error_r);

#endif
