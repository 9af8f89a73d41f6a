/*
 * ack.c - from verdict to a composed acknowledgment
 *
 * The store is consulted read-only here (has this sender had this
 * template, how many acknowledgments left in the last hour); the marks are
 * written by the sender thread once the MTA has taken the reply.  Offline
 * (-t) there is no store: the guards that need one see "not yet sent".
 */
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "ack.h"
#include "addr.h"
#include "config.h"
#include "message.h"
#include "reply.h"
#include "store.h"
#include "template.h"
#include "ticket.h"
#include "triage.h"

/* ack_dedup_key - "ack:TEMPLATE:address", the address folded
 * (addr_fold) */
char *
ack_dedup_key(const char *template_name, const char *sender)
{
	char *folded = addr_fold(sender);
	char *key = g_strdup_printf("ack:%s:%s", template_name, folded);

	g_free(folded);
	return key;
}

/* ack_header_value - X-Triage-Ack: "sent; ticket=...", ... */
char *
ack_header_value(const struct triage_ack *a)
{
	if (strcmp(a->decision, "send") == 0)
		return g_strdup_printf("sent; ticket=%s", a->ticket);
	if (strcmp(a->decision, "suppress") == 0)
		return g_strdup_printf("suppressed; reason=%s", a->reason);
	return g_strdup("off");
}

/* ack_store_facts - dedup and hourly count from the store, or -1 */
static void
ack_store_facts(const struct triage_env *env, const char *dedup_key,
		int *dedup_r, long *hour_r)
{
	unsigned long n = 0;
	int present = 0;

	if (env->offline) {
		*dedup_r = 0;
		*hour_r = 0;
		return;
	}
	*dedup_r = -1;
	*hour_r = -1;
	if (env->store == NULL)
		return;
	if (dedup_key != NULL &&
	    store_exists(env->store, dedup_key, &present) == 0)
		*dedup_r = present;
	if (store_window_count(env->store, ACK_HOUR_KEY, ACK_HOUR_S, &n) == 0)
		*hour_r = (long)n;
}

/* ack_prepare - render and compose; 0, or -1 with the reason set */
static int
ack_prepare(const struct triage_config *cf, const struct message *m,
	    const struct template *t, struct triage_ack *a)
{
	struct template_vars v = {0};
	char *first = reply_first_name(m->mime);
	GMimeMessage *reply;

	a->ticket = ticket_new();
	if (a->ticket == NULL) {
		g_free(first);
		return -1;
	}
	v.ticket = a->ticket;
	v.subject = m->subject;
	v.first_name = first;
	v.reply_within = cf->reply_within;
	v.support_name = cf->support_name;
	a->body = template_render(t, &v);
	g_free(first);
	reply = reply_compose(&cf->reply, m->mime, a->to, a->body, &a->subject);
	if (reply == NULL)
		return -1;
	a->data = reply_to_bytes(reply, &a->len);
	g_object_unref(reply);
	return a->data != NULL ? 0 : -1;
}

/* ack_decide - fill res->ack */
void
ack_decide(const struct triage_config *cf, const struct message *m,
	   const struct triage_env *env, struct triage_result *res)
{
	struct triage_ack *a = g_new0(struct triage_ack, 1);
	const char *tname = config_route_template(cf, res->route);
	const struct template *t =
	    tname && cf->templates ? g_hash_table_lookup(cf->templates, tname)
				   : NULL;
	struct reply_input in = {0};
	struct reply_decision d;

	a->to = g_strdup(env->env_from ? env->env_from : "");
	a->template_name = g_strdup(t != NULL ? tname : "");
	if (t != NULL && *a->to != '\0')
		a->dedup_key = ack_dedup_key(tname, a->to);
	in.sender = a->to;
	in.recipients = env->rcpt;
	in.n_recipients = env->n_rcpt;
	in.message = m->mime;
	in.template_name = t != NULL ? tname : NULL;
	ack_store_facts(env, a->dedup_key, &in.dedup_present,
			&in.sent_last_hour);
	reply_decide(&cf->reply, &in, &d);
	a->decision = g_strdup(reply_verdict_name(d.decision));
	a->reason = g_strdup(d.reason);
	if (d.decision == REPLY_SEND && ack_prepare(cf, m, t, a) != 0) {
		g_free(a->decision);
		g_free(a->reason);
		a->decision = g_strdup("suppress");
		a->reason = g_strdup("compose-failed");
	}
	res->ack = a;
}

/* ack_free - release; returns NULL */
struct triage_ack *
ack_free(struct triage_ack *a)
{
	if (a == NULL)
		return NULL;
	g_free(a->decision);
	g_free(a->reason);
	g_free(a->template_name);
	g_free(a->ticket);
	g_free(a->to);
	g_free(a->subject);
	g_free(a->body);
	g_free(a->data);
	g_free(a->dedup_key);
	g_free(a);
	return NULL;
}
