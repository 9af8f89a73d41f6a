/*
 * milter.c - libmilter callbacks: buffer the message, call triage_run()
 *
 * The only file that includes <libmilter/mfapi.h>.  Per connection it
 * holds a reference to the configuration snapshot; per message it buffers
 * the header and body up to max_scan_bytes in a msgbuf (memory first, then
 * a temporary file; what passes a limit is not scanned and the verdict
 * says "truncated"), remembers the names of inbound X-Triage-* headers
 * wherever they come, and at end of message makes one call to
 * triage_run() and applies the result.
 *
 * Protocol: every step is negotiated with no reply (SMFIP_NR_*), body
 * chunks too, so the MTA streams the message without waiting for us; only
 * end of message is answered.  At most max_concurrent_scans analyses run
 * at once (the others wait their turn at end of message), which bounds
 * the analysis memory whatever the number of sessions.
 *
 * Failure policy: whatever goes wrong, the message is accepted unchanged
 * (or tempfailed with on_error = tempfail) and one line naming the queue
 * id and the reason is logged.  Nothing here rejects mail.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <libmilter/mfapi.h>

#include "log.h"
#include "milter.h"
#include "msgbuf.h"
#include "sender.h"
#include "sign.h"
#include "store.h"
#include "skip.h"
#include "stats.h"
#include "strvec.h"
#include "triage.h"
#include "xheaders.h"

#ifndef SMFIP_HDR_LEADSPC
#define SMFIP_HDR_LEADSPC 0
#endif

/* Descriptors searched for libmilter's listening socket (opened early). */
#define MILTER_MAX_FD_SCAN 256

/* libmilter takes char * for strings it never changes. */
#define MILTER_STR(s) ((char *)(uintptr_t)(s))

struct milter_msg {
	struct msgbuf *buf; /* header + body, within the limits */
	char *env_from;
	struct strvec rcpt;
	/* Inbound X-Triage-* names, in order, however many: the MTA's
	 * message size limit bounds them, and every copy must go. */
	struct strvec xnames;
	const char *skip; /* why this message is not triaged, or NULL */
	char *message_id; /* first Message-ID, raw, for the signature */
	int rcpt_kept;    /* recipients not matching skip_recipients */
};

struct milter_conn {
	struct triage_config *cf; /* our reference */
	char *client_addr;
	char *helo;
	char *auth_authen;
	unsigned long steps;    /* protocol flags agreed with the MTA */
	unsigned long actions;  /* SMFIF_* the MTA allows us */
	int leadspc;            /* MTA keeps the space after "Name:" */
	int nr_body;            /* body chunks get no reply */
	int internal;           /* the client is in internal_hosts */
	struct milter_msg *msg; /* NULL between messages */
};

/* Process-wide, set once before libmilter starts its threads. */
static int milter_refusing;          /* stopping: no new sessions */
static int milter_active;            /* connections open, for a graceful stop */
static struct store *milter_store;   /* acknowledgment state, or NULL */
static struct sender *milter_sender; /* acknowledgment queue, or NULL */
static struct stats *milter_stats;   /* counters, or NULL */
static int milter_store_down;        /* logged once per outage */

static void milter_store_health(const char *when);

/* Analyses running now, at most max_concurrent_scans (or one per CPU). */
static GMutex milter_scan_lock; /* GLib: waits on the monotonic clock */
static GCond milter_scan_cond;
static unsigned milter_scans;

static pthread_mutex_t milter_cf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct triage_config *milter_cf;
static char *milter_socket_path; /* unix socket to remove at exit */

/*
 * milter_set_runtime - the store and sender queue shared by sessions; a
 * shared store that is down at start (mail flows anyway) is logged here,
 * with its cause, as the one line of that outage
 */
void
milter_set_runtime(struct store *st, struct sender *s)
{
	milter_store = st;
	milter_sender = s;
	__atomic_store_n(&milter_store_down, 0, __ATOMIC_RELEASE);
	milter_store_health(" at start");
}

/* milter_set_stats - the process-wide counters (NULL: none) */
void
milter_set_stats(struct stats *s)
{
	milter_stats = s;
}

/* milter_count - one verdict into the counters */
static void
milter_count(const struct triage_result *res)
{
	for (size_t i = 0; i < res->flags.n; i++)
		stats_flag(milter_stats, res->flags.v[i]);
	if (res->route != NULL)
		stats_route(milter_stats, res->route);
	if (res->ack == NULL)
		return;
	if (strcmp(res->ack->decision, "send") == 0)
		stats_ack_sent(milter_stats);
	else
		stats_ack_suppressed(milter_stats, res->ack->reason);
}

/* milter_set_config - publish a new snapshot (takes our reference) */
void
milter_set_config(struct triage_config *cf)
{
	struct triage_config *old;

	pthread_mutex_lock(&milter_cf_lock);
	old = milter_cf;
	milter_cf = cf;
	pthread_mutex_unlock(&milter_cf_lock);
	config_unref(old);
}

/* milter_get_config - a new reference to the current snapshot */
static struct triage_config *
milter_get_config(void)
{
	struct triage_config *cf;

	pthread_mutex_lock(&milter_cf_lock);
	cf = config_ref(milter_cf);
	pthread_mutex_unlock(&milter_cf_lock);
	return cf;
}

/* milter_msg_free - forget the current message; returns NULL */
static struct milter_msg *
milter_msg_free(struct milter_msg *m)
{
	if (m == NULL)
		return NULL;
	m->buf = msgbuf_free(m->buf);
	g_free(m->env_from);
	g_free(m->message_id);
	strvec_clear(&m->rcpt);
	strvec_clear(&m->xnames);
	g_free(m);
	return NULL;
}

/* milter_conn_get - our per-connection state */
static struct milter_conn *
milter_conn_get(SMFICTX *ctx)
{
	return (struct milter_conn *)smfi_getpriv(ctx);
}

/* milter_msg_get - the current message, created on first use */
static struct milter_msg *
milter_msg_get(struct milter_conn *c)
{
	if (c->msg == NULL) {
		const struct triage_config *cf = c->cf;
		struct msgbuf_limits lim = {
		    .max_bytes = cf->max_scan_bytes,
		    .max_headers = cf->max_headers,
		    .max_header_bytes = cf->max_header_bytes,
		    .memory_bytes = cf->memory_buffer_bytes,
		    .temp_dir = cf->temp_dir,
		};

		c->msg = g_new0(struct milter_msg, 1);
		c->msg->buf = msgbuf_new(&lim);
	}
	return c->msg;
}

/* milter_queue_id - {i}, or a placeholder for the log */
static const char *
milter_queue_id(SMFICTX *ctx)
{
	const char *qid = smfi_getsymval(ctx, MILTER_STR("{i}"));

	return qid != NULL ? qid : "NOQUEUE";
}

/* milter_done - the answer for a step: none if negotiated so */
static sfsistat
milter_done(const struct milter_conn *c, unsigned long nr_flag)
{
	return (c->steps & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* milter_conn_new - per-connection state with a config reference */
static struct milter_conn *
milter_conn_new(SMFICTX *ctx, unsigned long steps)
{
	struct milter_conn *c = g_new0(struct milter_conn, 1);

	c->cf = milter_get_config();
	c->steps = steps;
	__atomic_add_fetch(&milter_active, 1, __ATOMIC_ACQ_REL);
	c->leadspc = (steps & SMFIP_HDR_LEADSPC) != 0;
	c->nr_body = (steps & SMFIP_NR_BODY) != 0;
	if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
		config_unref(c->cf);
		g_free(c);
		return NULL;
	}
	return c;
}

static int milter_warned_actions; /* the missing-actions warning, once */
static struct smfiDesc milter_desc;

/* milter_route_actions_wanted - SMFIF_* the routes of the config need */
static unsigned long
milter_route_actions_wanted(void)
{
	struct triage_config *cf = milter_get_config();
	unsigned long want = 0;

	if (cf != NULL) {
		if (cf->route_actions & CONFIG_ACT_ADDRCPT)
			want |= SMFIF_ADDRCPT;
		if (cf->route_actions & CONFIG_ACT_DELRCPT)
			want |= SMFIF_DELRCPT;
		if (cf->route_actions & CONFIG_ACT_QUARANTINE)
			want |= SMFIF_QUARANTINE;
		config_unref(cf);
	}
	return want;
}

/* mlfi_negotiate - ask only for the steps and actions we use */
static sfsistat
mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
	       unsigned long f2, unsigned long f3, unsigned long *pf0,
	       unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want_actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
	unsigned long want_steps =
	    SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_CONN | SMFIP_NR_HELO |
	    SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH |
	    SMFIP_NR_BODY | SMFIP_HDR_LEADSPC;
	unsigned long route_actions = milter_route_actions_wanted();
	struct milter_conn *c;

	(void)f2;
	(void)f3;
	/* stopping: the MTA goes on without this milter for this session */
	if (__atomic_load_n(&milter_refusing, __ATOMIC_ACQUIRE))
		return SMFIS_REJECT;
	if ((f0 & want_actions) != want_actions) {
		log_err("MTA does not allow adding and changing headers; "
			"passing mail through untouched");
		return SMFIS_REJECT; /* = "do not use this milter" here */
	}
	/* route actions only when the MTA offers them; mail flows anyway */
	if ((f0 & route_actions) != route_actions &&
	    !__atomic_exchange_n(&milter_warned_actions, 1, __ATOMIC_RELAXED))
		log_warn("MTA does not offer every route action (wanted 0x%lx, "
			 "offered 0x%lx); those actions will be skipped",
			 route_actions, f0);
	*pf0 = want_actions | (f0 & route_actions);
	*pf1 = f1 & want_steps;
	*pf2 = 0;
	*pf3 = 0;

	c = milter_conn_new(ctx, *pf1);
	if (c == NULL)
		return SMFIS_REJECT;
	c->actions = *pf0;
	/* Ask the MTA for the macros we use, at the stage they exist. */
	smfi_setsymlist(ctx, SMFIM_CONNECT, MILTER_STR("j {client_addr}"));
	smfi_setsymlist(ctx, SMFIM_ENVFROM, MILTER_STR("{i} {auth_authen}"));
	smfi_setsymlist(ctx, SMFIM_EOM, MILTER_STR("{i}"));
	return SMFIS_CONTINUE;
}

/* mlfi_connect - remember the client */
static sfsistat
mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
	struct milter_conn *c = milter_conn_get(ctx);
	const char *ca = smfi_getsymval(ctx, MILTER_STR("{client_addr}"));

	(void)addr;
	if (c == NULL) { /* an MTA that did not negotiate: all replies */
		c = milter_conn_new(ctx, 0);
		if (c == NULL)
			return SMFIS_ACCEPT;
		c->actions = milter_desc.xxfi_flags;
	}
	g_free(c->client_addr);
	c->client_addr = g_strdup(ca ? ca : hostname);
	c->internal = skip_nets_match(&c->cf->internal_hosts, ca);
	return milter_done(c, SMFIP_NR_CONN);
}

/* mlfi_helo - remember the greeting for the log */
static sfsistat
mlfi_helo(SMFICTX *ctx, char *helo)
{
	struct milter_conn *c = milter_conn_get(ctx);

	g_free(c->helo);
	c->helo = g_strdup(helo);
	return milter_done(c, SMFIP_NR_HELO);
}

/*
 * milter_envelope_addr - an envelope address as the MTA queues it:
 * "<a@b>" -> "a@b", without the blanks and control characters a sender
 * may put inside the brackets ("<a@b\r>", "< a@b>"; Postfix accepts them,
 * queues the clean address and hands the milter the raw one).  Every
 * per-sender key (acknowledgment dedup, frequent count), the skip lists,
 * the logs and the reply's recipient then see one address, not variants.
 */
static char *
milter_envelope_addr(const char *s)
{
	GString *out = g_string_sized_new(strlen(s));

	for (const char *p = s; *p; p++)
		if ((unsigned char)*p > 0x20 && *p != 0x7f)
			g_string_append_c(out, *p);
	if (out->len >= 2 && out->str[0] == '<' &&
	    out->str[out->len - 1] == '>') {
		g_string_truncate(out, out->len - 1);
		g_string_erase(out, 0, 1);
	}
	return g_string_free(out, FALSE);
}

/* mlfi_envfrom - a new message starts */
static sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	struct milter_conn *c = milter_conn_get(ctx);
	const char *auth = smfi_getsymval(ctx, MILTER_STR("{auth_authen}"));
	struct milter_msg *m;

	c->msg = milter_msg_free(c->msg);
	m = milter_msg_get(c);
	m->env_from = milter_envelope_addr(argv[0] ? argv[0] : "");
	g_free(c->auth_authen);
	c->auth_authen = g_strdup(auth);
	if (c->internal)
		m->skip = "internal-host";
	else if (c->cf->skip_authenticated && auth != NULL && *auth != '\0')
		m->skip = "authenticated";
	else if (skip_patterns_match((const char *const *)c->cf->skip_senders.v,
				     c->cf->skip_senders.n, m->env_from))
		m->skip = "sender";
	return milter_done(c, SMFIP_NR_MAIL);
}

/* mlfi_envrcpt - collect recipients */
static sfsistat
mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	struct milter_conn *c = milter_conn_get(ctx);
	struct milter_msg *m = milter_msg_get(c);

	if (argv[0] != NULL) {
		strvec_push_take(&m->rcpt, milter_envelope_addr(argv[0]));
		if (!skip_patterns_match(
			(const char *const *)c->cf->skip_recipients.v,
			c->cf->skip_recipients.n, m->rcpt.v[m->rcpt.n - 1]))
			m->rcpt_kept++;
	}
	return milter_done(c, SMFIP_NR_RCPT);
}

/* mlfi_header - buffer one header; note every X-Triage-* name */
static sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	struct milter_conn *c = milter_conn_get(ctx);
	struct milter_msg *m = milter_msg_get(c);

	if (xheaders_is_triage(name))
		strvec_push(&m->xnames, name);
	else if (m->message_id == NULL &&
		 g_ascii_strcasecmp(name, "Message-ID") == 0)
		m->message_id = g_strdup(value);
	if (m->skip != NULL)
		return milter_done(c, SMFIP_NR_HDR);
	msgbuf_header(m->buf, name, value, c->leadspc);
	return milter_done(c, SMFIP_NR_HDR);
}

/* mlfi_eoh - end of header block */
static sfsistat
mlfi_eoh(SMFICTX *ctx)
{
	struct milter_conn *c = milter_conn_get(ctx);
	struct milter_msg *m = milter_msg_get(c);

	msgbuf_eoh(m->buf);
	return milter_done(c, SMFIP_NR_EOH);
}

/*
 * mlfi_body - buffer body chunks.  Past max_scan_bytes they are dropped:
 * answering SMFIS_SKIP would stop them coming, but only if every chunk
 * waited for an answer, which costs a round trip per 64 KB chunk of
 * every message; dropping costs a copy over a local socket.
 */
static sfsistat
mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct milter_conn *c = milter_conn_get(ctx);
	struct milter_msg *m = milter_msg_get(c);

	if (m->skip == NULL)
		msgbuf_body(m->buf, chunk, len);
	return c->nr_body ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* milter_scan_slots - analyses that may run at once: max_concurrent_scans,
 * or the number of CPUs (counted once: it is a system call) */
unsigned
milter_scan_slots(const struct triage_config *cf)
{
	static unsigned ncpu; /* atomic; 0 until counted */
	unsigned n = __atomic_load_n(&ncpu, __ATOMIC_RELAXED);

	if (cf->max_concurrent_scans != 0)
		return cf->max_concurrent_scans;
	if (n == 0) {
		n = g_get_num_processors();
		__atomic_store_n(&ncpu, n, __ATOMIC_RELAXED);
	}
	return n;
}

/* While a session waits for a slot, the MTA hears from it this often
 * (SMFIR_PROGRESS), well inside Postfix's milter_content_timeout. */
#define MILTER_PROGRESS_US (10 * G_USEC_PER_SEC)

/*
 * milter_scan_enter - wait for a free analysis slot, at most
 * scan_timeout_ms, telling the MTA meanwhile that the session is alive;
 * 0, or -1 when no slot came free in time (the message then goes through
 * the failure policy instead of waiting without end behind slow scans)
 */
static int
milter_scan_enter(SMFICTX *ctx, const struct triage_config *cf)
{
	unsigned limit = milter_scan_slots(cf);
	gint64 deadline = g_get_monotonic_time() +
			  (gint64)cf->scan_timeout_ms * (G_USEC_PER_SEC / 1000);
	int rc = 0;

	g_mutex_lock(&milter_scan_lock);
	while (milter_scans >= limit) {
		gint64 now = g_get_monotonic_time();
		gint64 until = MIN(deadline, now + MILTER_PROGRESS_US);

		if (now >= deadline) {
			rc = -1;
			break;
		}
		if (!g_cond_wait_until(&milter_scan_cond, &milter_scan_lock,
				       until) &&
		    until < deadline) {
			g_mutex_unlock(&milter_scan_lock);
			(void)smfi_progress(ctx);
			g_mutex_lock(&milter_scan_lock);
		}
	}
	if (rc == 0)
		milter_scans++;
	g_mutex_unlock(&milter_scan_lock);
	return rc;
}

/* milter_scan_leave - free the slot; every waiter looks again, since a
 * reload may have given them different limits */
static void
milter_scan_leave(void)
{
	g_mutex_lock(&milter_scan_lock);
	milter_scans--;
	g_cond_broadcast(&milter_scan_cond);
	g_mutex_unlock(&milter_scan_lock);
}

/*
 * milter_fail - the failure policy, with one log line that says what the
 * message got: unchanged, or only its forged X-Triage-* headers removed
 * (removed of them; the triage headers are never added then), or, when
 * the MTA refused a change, how many of the planned ones it made
 */
static sfsistat
milter_fail(struct milter_conn *c, const char *qid, const char *why,
	    size_t done, size_t planned, int removed_only)
{
	int tempfail = c->cf->on_error == ON_ERROR_TEMPFAIL;

	stats_error(milter_stats,
		    tempfail ? STATS_ERR_TEMPFAILED : STATS_ERR_ACCEPTED);
	if (tempfail)
		log_err("%s: %s; message tempfailed", qid, why);
	else if (done == 0)
		log_err("%s: %s; message accepted unchanged", qid, why);
	else if (removed_only && done == planned)
		log_err("%s: %s; message accepted without triage headers, "
			"%zu forged X-Triage-* header(s) removed",
			qid, why, done);
	else
		log_err("%s: %s; message accepted with %zu of %zu header "
			"changes made",
			qid, why, done, planned);
	return tempfail ? SMFIS_TEMPFAIL : SMFIS_ACCEPT;
}

/*
 * milter_apply - delete forged headers, add ours; 0, or -1 with *why_r
 * (newly allocated) naming the change the MTA refused.  *done_r counts
 * the changes made either way.
 */
static int
milter_apply(SMFICTX *ctx, const struct triage_result *res, int leadspc,
	     size_t *done_r, char **why_r)
{
	*done_r = 0;
	for (size_t i = 0; i < res->n_del; i++) {
		if (smfi_chgheader(ctx, res->del[i].name, res->del[i].index,
				   NULL) != MI_SUCCESS) {
			*why_r = g_strdup_printf(
			    "the MTA refused a header change (deleting "
			    "%s[%d])",
			    res->del[i].name, res->del[i].index);
			return -1;
		}
		(*done_r)++;
	}
	for (size_t i = 0; i < res->add_names.n; i++) {
		/* with SMFIP_HDR_LEADSPC the MTA writes "Name:" + value */
		char *value =
		    g_strconcat(leadspc ? " " : "", res->add_values.v[i], NULL);
		int rc = smfi_addheader(ctx, res->add_names.v[i], value);

		g_free(value);
		if (rc != MI_SUCCESS) {
			*why_r = g_strdup_printf(
			    "the MTA refused a header change (adding %s)",
			    res->add_names.v[i]);
			return -1;
		}
		(*done_r)++;
	}
	return 0;
}

/* milter_log_verdict - one line per message: what was decided, and why */
static void
milter_log_verdict(const char *qid, const struct triage_result *res, gint64 ms)
{
	char *flags =
	    res->flags.n ? strvec_join(&res->flags, ",") : g_strdup("none");
	GString *rules = g_string_new(NULL);

	for (size_t i = 0; i < res->n_hits; i++)
		g_string_append_printf(rules, "%s%s(%.1f)", i ? "," : "",
				       res->hits[i].rule, res->hits[i].score);
	char *ack = res->ack ? ack_header_value(res->ack) : g_strdup("none");

	GString *scores = g_string_new(NULL);

	for (size_t i = 0; i < res->n_scores; i++)
		g_string_append_printf(scores, "%s%s=%.1f", i ? "," : "",
				       res->scores[i].category,
				       res->scores[i].score);
	log_info("%s: flags=%s route=%s scores=%s rules=%s ack=\"%s\" "
		 "words=%zu paragraphs=%zu quoted=%zu deleted=%zu "
		 "ms=%" G_GINT64_FORMAT,
		 qid, flags, res->route ? res->route : "none",
		 scores->len ? scores->str : "none",
		 rules->len ? rules->str : "none", ack, res->length.words,
		 res->length.paragraphs, res->length.quoted, res->n_del, ms);
	g_string_free(scores, TRUE);
	g_free(ack);
	g_string_free(rules, TRUE);
	g_free(flags);
}

/* milter_bracket - "<addr>" as the MTA wants recipients */
static char *
milter_bracket(const char *addr)
{
	return addr[0] == '<' ? g_strdup(addr)
			      : g_strconcat("<", addr, ">", NULL);
}

/* milter_route - the route's actions; a refused one is logged, no more */
static void
milter_route(SMFICTX *ctx, const struct milter_conn *c,
	     const struct milter_msg *m, const struct triage_result *res,
	     const char *qid)
{
	const struct config_route *r = config_route(c->cf, res->route);

	if (r == NULL)
		return;
	if (r->redirect.n > 0) {
		if (!(c->actions & SMFIF_DELRCPT) ||
		    !(c->actions & SMFIF_ADDRCPT)) {
			log_err("%s: route %s: the MTA does not allow "
				"changing recipients; not redirected",
				qid, r->name);
		} else {
			for (size_t i = 0; i < m->rcpt.n; i++) {
				char *a = milter_bracket(m->rcpt.v[i]);

				if (smfi_delrcpt(ctx, a) != MI_SUCCESS)
					log_err("%s: route %s: cannot remove "
						"recipient %s",
						qid, r->name, a);
				g_free(a);
			}
			for (size_t i = 0; i < r->redirect.n; i++) {
				char *a = milter_bracket(r->redirect.v[i]);

				if (smfi_addrcpt(ctx, a) != MI_SUCCESS)
					log_err("%s: route %s: cannot add "
						"recipient %s",
						qid, r->name, a);
				g_free(a);
			}
		}
	}
	for (size_t i = 0; i < r->add_recipient.n; i++) {
		char *a = milter_bracket(r->add_recipient.v[i]);

		if (!(c->actions & SMFIF_ADDRCPT) ||
		    smfi_addrcpt(ctx, a) != MI_SUCCESS)
			log_err("%s: route %s: cannot add recipient %s", qid,
				r->name, a);
		g_free(a);
	}
	if (*r->quarantine != '\0' &&
	    (!(c->actions & SMFIF_QUARANTINE) ||
	     smfi_quarantine(ctx, r->quarantine) != MI_SUCCESS))
		log_err("%s: route %s: the MTA refused the quarantine", qid,
			r->name);
}

/* milter_store_health - one log line when the store goes and comes back;
 * when: "" or " at start" */
static void
milter_store_health(const char *when)
{
	char why[STORE_ERROR_MAX];
	int up;

	if (milter_store == NULL)
		return;
	up = store_available(milter_store, why, sizeof(why));
	if (!up &&
	    !__atomic_exchange_n(&milter_store_down, 1, __ATOMIC_ACQ_REL))
		log_warn("store unavailable%s (%s): mail flows, repeat counts "
			 "and acknowledgments wait for it",
			 when, why);
	else if (up &&
		 __atomic_exchange_n(&milter_store_down, 0, __ATOMIC_ACQ_REL))
		log_info("store available again");
}

/* milter_sign - X-Triage-Signature over the headers about to be added */
static void
milter_sign(const struct milter_conn *c, const struct milter_msg *m,
	    struct triage_result *res, const char *qid)
{
	const struct triage_config *cf = c->cf;
	char *v;

	if (cf->sign_keys == NULL || *cf->sign_key_id == '\0')
		return;
	v = sign_header_value(cf->sign_keys,
			      (const char *const *)res->add_names.v,
			      (const char *const *)res->add_values.v,
			      res->add_names.n, m->message_id, qid);
	if (v == NULL) {
		log_err("%s: cannot sign the verdict; headers added unsigned",
			qid);
		return;
	}
	strvec_push(&res->add_names, SIGN_HEADER);
	strvec_push_take(&res->add_values, v);
}

/*
 * milter_reserve - take the dedup mark now, atomically (SET NX in Redis,
 * one write transaction in LMDB), so that of two messages from one sender
 * arriving together - on this host or another - only one header says
 * "sent".  The mark is taken for the whole interval: if the store cannot
 * be written once the reply is out, this mark is what keeps the customer
 * from a second one.  The sender restarts it at the hand-off, or releases
 * it if the hand-off fails.  0, or -1 with *why_r.
 */
static int
milter_reserve(const char *key, unsigned ttl_s, const char **why_r)
{
	int present = 0;

	if (milter_store == NULL ||
	    store_mark_once(milter_store, key, ttl_s, &present) != 0) {
		*why_r = "store-unavailable";
		return -1;
	}
	if (present) {
		*why_r = "duplicate";
		return -1;
	}
	return 0;
}

/*
 * milter_reserve_hour - count this acknowledgment in the hourly window now,
 * as it is queued (atomically: a Lua script in Redis, one transaction in
 * LMDB), so that a slow or failing transport cannot let a queue's worth
 * of replies past max_per_hour; 0, or -1 with *why_r.  What passes the
 * cap in a race is held back and stays counted.
 */
static int
milter_reserve_hour(const struct triage_config *cf, const char **why_r)
{
	unsigned long n = 0;

	if (milter_store == NULL ||
	    store_window_add(milter_store, ACK_HOUR_KEY, ACK_HOUR_S, &n) != 0) {
		*why_r = "store-unavailable";
		return -1;
	}
	if (n > cf->reply.max_per_hour) {
		*why_r = "rate-limit";
		return -1;
	}
	return 0;
}

/* milter_queue_ack - hand a "send" decision to the sender thread */
static void
milter_queue_ack(const struct triage_config *cf, struct triage_result *res,
		 const char *qid)
{
	struct triage_ack *a = res->ack;
	const char *why = NULL;

	if (a == NULL || strcmp(a->decision, "send") != 0)
		return;
	if (milter_sender == NULL) {
		why = "no-sender";
	} else if (a->dedup_key != NULL &&
		   milter_reserve(a->dedup_key, cf->reply.interval_s, &why) !=
		       0) {
		; /* another message of this sender got there first */
	} else if (milter_reserve_hour(cf, &why) != 0) {
		if (a->dedup_key != NULL)
			(void)store_del(milter_store, a->dedup_key);
	} else {
		struct sender_job *job = g_new0(struct sender_job, 1);

		job->reserved = a->dedup_key != NULL;
		job->qid = g_strdup(qid);
		job->to = g_strdup(a->to);
		job->env_from = g_strdup(cf->reply.envelope_sender);
		job->data = g_memdup2(a->data, a->len);
		job->len = a->len;
		job->dedup_key = g_strdup(a->dedup_key);
		job->dedup_ttl = cf->reply.interval_s;
		if (sender_submit(milter_sender, job) != 0) {
			why = "queue-full";
			if (a->dedup_key != NULL)
				(void)store_del(milter_store, a->dedup_key);
		}
	}
	if (why == NULL)
		return;
	/* what the header says must be what happened */
	log_warn("%s: acknowledgment to %s not queued: %s", qid, a->to, why);
	g_free(a->decision);
	g_free(a->reason);
	a->decision = g_strdup("suppress");
	a->reason = g_strdup(why);
	for (size_t i = 0; i < res->add_names.n; i++)
		if (strcmp(res->add_names.v[i], "X-Triage-Ack") == 0) {
			g_free(res->add_values.v[i]);
			res->add_values.v[i] = ack_header_value(a);
		}
}

/* milter_skipped - no analysis; forged verdicts still go */
static sfsistat
milter_skipped(SMFICTX *ctx, const struct milter_conn *c,
	       const struct milter_msg *m, const char *qid)
{
	struct triage_result res = {0};
	size_t done = 0;
	char *why = NULL;

	xheaders_plan_delete((const char *const *)m->xnames.v, m->xnames.n,
			     &res.del, &res.n_del);
	if (c->cf->skipped_flag) {
		strvec_push(&res.add_names, "X-Triage-Flags");
		strvec_push(&res.add_values, "skipped");
	}
	if (milter_apply(ctx, &res, c->leadspc, &done, &why) != 0) {
		log_err("%s: skipped (%s): %s; %zu of %zu header changes made",
			qid, m->skip, why, done, res.n_del + res.add_names.n);
		g_free(why);
	} else
		log_info("%s: skipped (%s) deleted=%zu", qid, m->skip,
			 res.n_del);
	stats_message(milter_stats);
	stats_flag(milter_stats, "skipped");
	for (size_t i = 0; i < res.n_del; i++)
		g_free(res.del[i].name);
	g_free(res.del);
	strvec_clear(&res.add_names);
	strvec_clear(&res.add_values);
	return SMFIS_CONTINUE;
}

/* mlfi_eom - analyse and apply; always let the message through */
static sfsistat
mlfi_eom(SMFICTX *ctx)
{
	struct milter_conn *c = milter_conn_get(ctx);
	struct milter_msg *m = milter_msg_get(c);
	const char *qid = milter_queue_id(ctx);
	struct triage_env env = {0};
	struct triage_result *res;
	sfsistat rc = SMFIS_CONTINUE;
	gint64 start = g_get_monotonic_time();
	size_t done = 0; /* header changes made */
	char *why = NULL;

	/* every recipient is one we do not triage for */
	if (m->skip == NULL && m->rcpt.n > 0 && m->rcpt_kept == 0)
		m->skip = "recipient";
	if (m->skip != NULL) {
		rc = milter_skipped(ctx, c, m, qid);
		c->msg = milter_msg_free(c->msg);
		return rc;
	}
	env.queue_id = qid;
	env.env_from = m->env_from ? m->env_from : "";
	env.rcpt = (const char *const *)m->rcpt.v;
	env.n_rcpt = m->rcpt.n;
	env.client_addr = c->client_addr;
	env.auth_authen = c->auth_authen;
	env.hdr_names = (const char *const *)m->xnames.v;
	env.n_hdr_names = m->xnames.n;
	env.store = milter_store;
	if (milter_scan_enter(ctx, c->cf) != 0) {
		/* not analysed: forged verdicts still go, then the policy */
		res = triage_unanalysed(&env,
					"no analysis slot came free within "
					"scan_timeout_ms (max_concurrent_scans "
					"all busy)");
	} else {
		size_t len;
		char *data = msgbuf_take(m->buf, &len);

		if (msgbuf_error(m->buf) != NULL)
			log_warn("%s: %s; scanning the first %zu bytes", qid,
				 msgbuf_error(m->buf), len);
		env.truncated = msgbuf_truncated(m->buf);
		res = triage_run(c->cf, data, len, &env);
		g_free(data);
		milter_scan_leave();
	}
	stats_message(milter_stats);
	stats_scan_time(milter_stats,
			(uint64_t)(g_get_monotonic_time() - start));
	milter_store_health("");
	if (res->error == NULL) {
		milter_queue_ack(c->cf, res, qid);
		milter_sign(c, m, res, qid);
	}
	if (res->error != NULL) {
		/* Still remove forged verdicts; then the failure policy. */
		struct triage_result del_only = *res;

		del_only.add_names.n = 0;
		if (c->cf->on_error == ON_ERROR_ACCEPT &&
		    milter_apply(ctx, &del_only, c->leadspc, &done, &why) !=
			0) {
			char *both = g_strdup_printf("%s; %s", res->error, why);

			rc = milter_fail(c, qid, both, done, res->n_del, 1);
			g_free(both);
		} else
			rc = milter_fail(c, qid, res->error, done, res->n_del,
					 1);
	} else if (milter_apply(ctx, res, c->leadspc, &done, &why) != 0) {
		rc = milter_fail(c, qid, why, done,
				 res->n_del + res->add_names.n, 0);
	} else {
		milter_route(ctx, c, m, res, qid);
		milter_count(res);
		milter_log_verdict(qid, res,
				   (g_get_monotonic_time() - start) / 1000);
	}
	g_free(why);
	triage_result_free(res);
	c->msg = milter_msg_free(c->msg);
	return rc;
}

/* mlfi_abort - the message ended early; free its state */
static sfsistat
mlfi_abort(SMFICTX *ctx)
{
	struct milter_conn *c = milter_conn_get(ctx);

	if (c != NULL)
		c->msg = milter_msg_free(c->msg);
	return SMFIS_CONTINUE;
}

/* mlfi_close - the connection ended; free everything */
static sfsistat
mlfi_close(SMFICTX *ctx)
{
	struct milter_conn *c = milter_conn_get(ctx);

	if (c == NULL)
		return SMFIS_CONTINUE;
	c->msg = milter_msg_free(c->msg);
	c->cf = config_unref(c->cf);
	g_free(c->client_addr);
	g_free(c->helo);
	g_free(c->auth_authen);
	g_free(c);
	smfi_setpriv(ctx, NULL);
	__atomic_sub_fetch(&milter_active, 1, __ATOMIC_ACQ_REL);
	return SMFIS_CONTINUE;
}

static char milter_name[] = "triage-milter";

static struct smfiDesc milter_desc = {
    .xxfi_name = milter_name,
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_ADDRCPT |
		  SMFIF_DELRCPT | SMFIF_QUARANTINE,
    .xxfi_connect = mlfi_connect,
    .xxfi_helo = mlfi_helo,
    .xxfi_envfrom = mlfi_envfrom,
    .xxfi_envrcpt = mlfi_envrcpt,
    .xxfi_header = mlfi_header,
    .xxfi_eoh = mlfi_eoh,
    .xxfi_body = mlfi_body,
    .xxfi_eom = mlfi_eom,
    .xxfi_abort = mlfi_abort,
    .xxfi_close = mlfi_close,
    .xxfi_negotiate = mlfi_negotiate,
};

/*
 * milter_nodelay - TCP_NODELAY on libmilter's TCP listening socket, which
 * Linux passes on to every accepted connection.  At end of message
 * libmilter writes each header change and the final answer as separate
 * small packets; with Nagle's algorithm the second waits for the MTA's
 * delayed ACK of the first, about 40 ms per message.  libmilter keeps the
 * descriptor to itself, so it is found as the listening TCP socket among
 * ours (there is one, opened just before).
 */
static void
milter_nodelay(void)
{
	int one = 1;

	for (int fd = 0; fd < MILTER_MAX_FD_SCAN; fd++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int listening = 0;
		socklen_t ol = sizeof(listening);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
			       &ol) != 0 ||
		    !listening ||
		    getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			       sizeof(one)) != 0)
			log_warn("cannot set TCP_NODELAY on the milter socket: "
				 "%s; replies over TCP may wait for delayed "
				 "ACKs",
				 g_strerror(errno));
	}
}

/* milter_open - register, bind the socket, set its mode */
int
milter_open(struct triage_config *cf, const char *socket)
{
	const char *path = NULL;

	milter_set_config(config_ref(cf));
	if (smfi_register(milter_desc) != MI_SUCCESS) {
		log_err("smfi_register failed");
		return -1;
	}
	if (smfi_setconn(MILTER_STR(socket)) != MI_SUCCESS) {
		log_err("cannot use socket %s", socket);
		return -1;
	}
	/* true: remove a stale unix socket left by a crash */
	if (smfi_opensocket(true) != MI_SUCCESS) {
		log_err("cannot open socket %s: %s", socket, g_strerror(errno));
		return -1;
	}
	milter_nodelay();
	if (g_str_has_prefix(socket, "unix:"))
		path = socket + 5;
	else if (g_str_has_prefix(socket, "local:"))
		path = socket + 6;
	if (path != NULL) {
		milter_socket_path = g_strdup(path);
		if (chmod(path, (mode_t)cf->socket_mode) != 0)
			log_warn("cannot chmod %s: %s", path,
				 g_strerror(errno));
	}
	return 0;
}

/* milter_stop - tell libmilter to stop (smfi_main() returns) */
void
milter_stop(void)
{
	(void)smfi_stop();
}

/* milter_refuse_new - while stopping, new sessions go without us */
void
milter_refuse_new(int refuse)
{
	__atomic_store_n(&milter_refusing, refuse, __ATOMIC_RELEASE);
}

/* milter_run - serve until libmilter is told to stop */
int
milter_run(void)
{
	return smfi_main() == MI_SUCCESS ? 0 : -1;
}

/*
 * milter_wait_idle - after smfi_main() returned: libmilter has closed the
 * listener but not waited for its sessions, so wait (bounded) for the
 * messages in flight to finish before the store and sender go away.
 * Returns the sessions still open at the deadline.
 */
int
milter_wait_idle(unsigned timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	int n;

	while ((n = __atomic_load_n(&milter_active, __ATOMIC_ACQUIRE)) > 0 &&
	       g_get_monotonic_time() < deadline)
		g_usleep(20 * 1000);
	return n;
}

/* milter_cleanup - remove the unix socket, drop the snapshot */
void
milter_cleanup(void)
{
	if (milter_socket_path != NULL) {
		(void)unlink(milter_socket_path);
		g_free(milter_socket_path);
		milter_socket_path = NULL;
	}
	milter_set_config(NULL);
}
