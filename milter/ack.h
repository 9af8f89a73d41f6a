/*
 * ack.h - decide and prepare the acknowledgment of one message
 *
 * Joins the verdict to the reply policy: the route names a template, the
 * store says whether this sender already got it and how many went out in
 * the last hour, reply_decide() runs the ordered guards, and when the
 * answer is "send" the template is rendered and the reply composed, ready
 * for the sender queue.  Nothing is sent here.
 */
#ifndef TRIAGE_ACK_H
#define TRIAGE_ACK_H

#include <stddef.h>

struct triage_config;
struct triage_env;
struct triage_result;
struct message;

/* The store key of the whole milter's hourly count. */
#define ACK_HOUR_KEY "ack:hour"
#define ACK_HOUR_S 3600

struct triage_ack {
	char *decision; /* "send", "suppress" or "off" */
	char *reason;   /* a reply.h REPLY_R_* token */
	char *template_name;
	char *ticket;  /* TR-XXXXXX, when sending */
	char *to;      /* the envelope sender */
	char *subject; /* of the reply */
	char *body;    /* at most 280 characters */
	char *data;    /* the reply message, LF line ends */
	size_t len;
	char *dedup_key; /* store key marking "sender got template" */
};

void ack_decide(const struct triage_config *cf, const struct message *m,
		const struct triage_env *env, struct triage_result *res);
char *ack_dedup_key(const char *template_name, const char *sender);
char *ack_header_value(const struct triage_ack *a);
struct triage_ack *ack_free(struct triage_ack *a);

#endif
