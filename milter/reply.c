/*
 * reply.c - RFC 3834 guards and the acknowledgment message
 *
 * Owns the decision whether an acknowledgment may go out (an ordered
 * table of guards, first trip wins, each with a stable reason token),
 * the Authentication-Results reading behind require_auth, the reply's
 * headers, and the customer's first name for the template.
 *
 * Guard order (reason tokens in reply.h): enable, support address, null
 * sender, robot sender, own address, message present, Auto-Submitted
 * (and vacation markers), List-*, Precedence, X-Auto-Response-Suppress,
 * delivery/disposition reports and bounces, spam headers, template,
 * authentication, dedup, hourly cap.  Cheap envelope facts come first,
 * then headers, then MIME structure, then what needs the store: a
 * message is suppressed for the most basic reason that applies.
 *
 * Limits: REPLY_MAX_* in reply.h.  No logging, no globals but const
 * tables; GMime objects passed in are only read.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>
#include <libpsl.h>
#include <openssl/rand.h>

#include "addr.h"
#include "reply.h"
#include "strvec.h"
#include "template.h"

/* Random bytes in a Message-ID: 128 bits, unguessable and unique. */
#define REPLY_MSGID_RANDOM 16

/* What every guard sees. */
struct reply_ctx {
	const struct reply_policy *p;
	const struct reply_input *in;
	char *sender;        /* lowercased, no <>; "" = null */
	GMimeMessage *m;     /* NULL when none was passed */
	GMimeHeaderList *hl; /* top-level headers of m */
};

/* reply_unconst - GMime getters take non-const objects but do not
 * change them; this is the one place the const goes */
static GMimeMessage *
reply_unconst(const GMimeMessage *m)
{
	return (GMimeMessage *)(uintptr_t)m;
}

/* reply_addr_norm - address lowercased, blanks and <> removed */
static char *
reply_addr_norm(const char *a)
{
	char *s;
	size_t n;

	if (a == NULL)
		return g_strdup("");
	s = g_strstrip(g_ascii_strdown(a, -1));
	n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		char *t = g_strndup(s + 1, n - 2);
		g_free(s);
		s = g_strstrip(t);
	}
	return s;
}

/* reply_domain_of - the part after the last '@', or "" */
static const char *
reply_domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at ? at + 1 : "";
}

/* reply_addr_in - whether normalized addr is listed (exact or "@dom") */
static int
reply_addr_in(const struct strvec *list, const char *addr, int domains)
{
	const char *dom = reply_domain_of(addr);

	if (*addr == '\0')
		return 0;
	for (size_t i = 0; i < list->n; i++) {
		const char *e = list->v[i];

		if (addr_same(e, addr))
			return 1;
		if (domains && e[0] == '@' && *dom && addr_same(e + 1, dom))
			return 1;
	}
	return 0;
}

/* reply_first_token - the value's first word, lowercased (freed by the
 * caller); comments and parameters after ';' or '(' are ignored */
static char *
reply_first_token(const char *v)
{
	size_t n;

	while (*v == ' ' || *v == '\t')
		v++;
	n = strcspn(v, " \t;,(");
	return g_ascii_strdown(v, (gssize)n);
}

/* reply_header_value - first value of a top-level header, or NULL */
static const char *
reply_header_value(const struct reply_ctx *c, const char *name)
{
	GMimeHeader *h;

	if (c->hl == NULL)
		return NULL;
	h = g_mime_header_list_get_header(c->hl, name);
	return h ? g_mime_header_get_value(h) : NULL;
}

/*
 * reply_header_next - the value of the next top-level header NAME at or
 * after index *i, moving *i past it; NULL when there is none.  A guard
 * looks at every instance: a benign first one must not hide a second.
 */
static const char *
reply_header_next(const struct reply_ctx *c, const char *name, int *i)
{
	int n = c->hl != NULL ? g_mime_header_list_get_count(c->hl) : 0;

	while (*i < n) {
		GMimeHeader *h = g_mime_header_list_get_header_at(c->hl, *i);

		(*i)++;
		if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) == 0) {
			const char *v = g_mime_header_get_value(h);

			return v != NULL ? v : "";
		}
	}
	return NULL;
}

/* reply_starts - ASCII case-insensitive prefix test */
static int
reply_starts(const char *s, const char *prefix)
{
	return g_ascii_strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* reply_ends - ASCII case-insensitive suffix test */
static int
reply_ends(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && g_ascii_strcasecmp(s + n - k, suffix) == 0;
}

/* Local parts of robots: exact, prefixes, suffixes, and parts that
 * mark a no-reply address wherever they appear. */
static const char *const reply_robot_exact[] = {
    "mailer-daemon", "mailerdaemon", "postmaster", "post_master", "post-master",
    "nobody",        "listserv",     "majordomo",  "mailman",     NULL};
static const char *const reply_robot_prefix[] = {"owner-", "bounce", "mailer",
						 NULL};
static const char *const reply_robot_suffix[] = {
    "-request", "-bounces", "-bounce", "-owner", "-admin", NULL};
static const char *const reply_robot_infix[] = {"noreply",
						"no-reply",
						"no_reply",
						"no.reply",
						"donotreply",
						"do-not-reply",
						"do_not_reply",
						"do.not.reply",
						"dontreply",
						"dont-reply",
						NULL};

/*
 * reply_unwrap_local - the original local part inside a rewritten one, in
 * place: BATV "prvs=TAG=owner-list" and "btv1==TAG==owner-list", and SRS
 * "SRS0=HASH=TT=domain=owner-list" / "SRS1=...=owner-list" (a forwarder's
 * rewriting of a list's or robot's bounce address) are judged by
 * "owner-list"
 */
static void
reply_unwrap_local(char *local)
{
	const char *keep = NULL;

	if (reply_starts(local, "prvs=") || reply_starts(local, "msprvs1=")) {
		const char *eq = strchr(strchr(local, '=') + 1, '=');

		keep = eq != NULL ? eq + 1 : NULL;
	} else if (reply_starts(local, "btv1==") ||
		   reply_starts(local, "srs0=") ||
		   reply_starts(local, "srs1=")) {
		keep = strrchr(local, '=') + 1;
	}
	if (keep != NULL && *keep != '\0')
		memmove(local, keep, strlen(keep) + 1);
}

/* reply_is_robot - whether an address's local part is a robot's */
int
reply_is_robot(const char *address)
{
	char *a = reply_addr_norm(address);
	char *at = strrchr(a, '@'), *plus;
	int hit = 0;

	if (at != NULL)
		*at = '\0';
	reply_unwrap_local(a);
	for (size_t i = 0; reply_robot_infix[i] && !hit; i++)
		hit = strstr(a, reply_robot_infix[i]) != NULL;
	/* "owner-list+tag" and "list-bounces+verp=x" are judged without
	 * the subaddress */
	plus = strchr(a, '+');
	if (plus != NULL && plus != a)
		*plus = '\0';
	for (size_t i = 0; reply_robot_exact[i] && !hit; i++)
		hit = strcmp(a, reply_robot_exact[i]) == 0;
	for (size_t i = 0; reply_robot_prefix[i] && !hit; i++)
		hit = reply_starts(a, reply_robot_prefix[i]);
	for (size_t i = 0; reply_robot_suffix[i] && !hit; i++)
		hit = reply_ends(a, reply_robot_suffix[i]);
	g_free(a);
	return hit;
}

/* reply_from_addr - the single From mailbox, lowercased, or NULL */
static char *
reply_from_addr(GMimeMessage *m)
{
	InternetAddressList *from;
	InternetAddress *ia;

	if (m == NULL)
		return NULL;
	from = g_mime_message_get_from(m);
	if (from == NULL || internet_address_list_length(from) != 1)
		return NULL;
	ia = internet_address_list_get_address(from, 0);
	if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
		return NULL;
	return reply_addr_norm(
	    internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
}

/* reply_policy_addr - the address part of a configured "Name <addr>" */
static char *
reply_policy_addr(const char *spec)
{
	InternetAddressList *l;
	char *out = NULL;

	if (spec == NULL || *spec == '\0')
		return NULL;
	l = internet_address_list_parse(NULL, spec);
	if (l == NULL)
		return NULL;
	if (internet_address_list_length(l) >= 1) {
		InternetAddress *ia = internet_address_list_get_address(l, 0);

		if (INTERNET_ADDRESS_IS_MAILBOX(ia))
			out = reply_addr_norm(internet_address_mailbox_get_addr(
			    INTERNET_ADDRESS_MAILBOX(ia)));
	}
	g_object_unref(l);
	return out;
}

/* reply_g_support - some envelope recipient is a support address */
static const char *
reply_g_support(const struct reply_ctx *c)
{
	for (size_t i = 0; i < c->in->n_recipients; i++) {
		char *r = reply_addr_norm(c->in->recipients[i]);
		int hit = reply_addr_in(&c->p->addresses, r, 1);

		g_free(r);
		if (hit)
			return NULL;
	}
	return REPLY_R_NOT_SUPPORT;
}

/* reply_g_null - the envelope sender is <> */
static const char *
reply_g_null(const struct reply_ctx *c)
{
	return *c->sender ? NULL : REPLY_R_NULL_SENDER;
}

/* reply_g_robot - the envelope sender is a robot's address */
static const char *
reply_g_robot(const struct reply_ctx *c)
{
	return reply_is_robot(c->sender) ? REPLY_R_ROBOT : NULL;
}

/* reply_is_own - whether a normalized address is one of ours */
static int
reply_is_own(const struct reply_policy *p, const char *a)
{
	char *from, *env;
	int hit;

	if (a == NULL || *a == '\0')
		return 0;
	if (reply_addr_in(&p->own_addresses, a, 1) ||
	    reply_addr_in(&p->addresses, a, 1))
		return 1;
	from = reply_policy_addr(p->from);
	env = reply_addr_norm(p->envelope_sender);
	hit = (from && addr_same(from, a)) || (*env && addr_same(env, a));
	g_free(from);
	g_free(env);
	return hit;
}

/*
 * reply_g_own - the envelope sender, From or an X-Loop header (procmail's
 * and many ticket systems' loop mark) is one of our addresses
 */
static const char *
reply_g_own(const struct reply_ctx *c)
{
	char *from = reply_from_addr(c->m);
	int hit = reply_is_own(c->p, c->sender) || reply_is_own(c->p, from);
	const char *v;

	g_free(from);
	for (int i = 0; !hit && (v = reply_header_next(c, "X-Loop", &i));) {
		char *a = reply_policy_addr(v);

		hit = reply_is_own(c->p, a);
		g_free(a);
	}
	return hit ? REPLY_R_OWN : NULL;
}

/* reply_g_message - there is a parsed message to look at */
static const char *
reply_g_message(const struct reply_ctx *c)
{
	return c->m ? NULL : REPLY_R_NO_MESSAGE;
}

/* Subjects of vacation and out-of-office replies that lack headers. */
static const char *const reply_auto_subjects[] = {"automatic reply:",
						  "auto-reply:",
						  "autoreply:",
						  "auto reply:",
						  "out of office",
						  "abwesenheitsnotiz",
						  "r\xc3\xa9ponse automatique",
						  NULL};

/* reply_g_auto - Auto-Submitted other than "no", or a vacation reply */
static const char *
reply_g_auto(const struct reply_ctx *c)
{
	const char *subject = reply_header_value(c, "Subject"), *v;

	for (int i = 0; (v = reply_header_next(c, "Auto-Submitted", &i));) {
		char *tok = reply_first_token(v);
		int no = strcmp(tok, "no") == 0;

		g_free(tok);
		if (!no)
			return REPLY_R_AUTO_SUBMITTED;
	}
	if (reply_header_value(c, "X-Autoreply") ||
	    reply_header_value(c, "X-Autorespond"))
		return REPLY_R_AUTO_SUBMITTED;
	if (subject != NULL) {
		while (*subject == ' ' || *subject == '\t')
			subject++;
		for (size_t i = 0; reply_auto_subjects[i]; i++)
			if (reply_starts(subject, reply_auto_subjects[i]))
				return REPLY_R_AUTO_SUBMITTED;
	}
	return NULL;
}

/* reply_g_list - any List-* header, or Mailing-List / X-Mailing-List */
static const char *
reply_g_list(const struct reply_ctx *c)
{
	int n = g_mime_header_list_get_count(c->hl);

	for (int i = 0; i < n; i++) {
		const char *name = g_mime_header_get_name(
		    g_mime_header_list_get_header_at(c->hl, i));

		if (reply_starts(name, "List-") ||
		    g_ascii_strcasecmp(name, "Mailing-List") == 0 ||
		    g_ascii_strcasecmp(name, "X-Mailing-List") == 0)
			return REPLY_R_LIST;
	}
	return NULL;
}

/* reply_g_precedence - Precedence: bulk, list, junk (or auto_reply) */
static const char *
reply_g_precedence(const struct reply_ctx *c)
{
	static const char *const bad[] = {"bulk", "list", "junk", "auto_reply",
					  NULL};
	const char *v;
	int hit = 0;

	for (int n = 0; !hit && (v = reply_header_next(c, "Precedence", &n));) {
		char *tok = reply_first_token(v);

		for (size_t i = 0; bad[i] && !hit; i++)
			hit = strcmp(tok, bad[i]) == 0;
		g_free(tok);
	}
	return hit ? REPLY_R_PRECEDENCE : NULL;
}

/* reply_g_ars - X-Auto-Response-Suppress lists All, AutoReply or OOF */
static const char *
reply_g_ars(const struct reply_ctx *c)
{
	const char *v;
	int hit = 0;

	for (int n = 0; !hit && (v = reply_header_next(
				     c, "X-Auto-Response-Suppress", &n));) {
		char **toks = g_strsplit_set(v, ",; \t", -1);

		for (size_t i = 0; toks[i] && !hit; i++)
			hit = g_ascii_strcasecmp(toks[i], "all") == 0 ||
			      g_ascii_strcasecmp(toks[i], "autoreply") == 0 ||
			      g_ascii_strcasecmp(toks[i], "oof") == 0;
		g_strfreev(toks);
	}
	return hit ? REPLY_R_ARS : NULL;
}

/* Content types of reports (RFC 6522, 3464, 6533, 8098, 5965). */
static const char *const reply_report_types[] = {
    "multipart/report",
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "message/global-disposition-notification",
    "message/feedback-report",
    NULL};

/* reply_is_report_type - whether a part's type is a report's */
static int
reply_is_report_type(GMimeObject *o)
{
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	char *mime;
	int hit = 0;

	if (ct == NULL)
		return 0;
	mime = g_mime_content_type_get_mime_type(ct);
	for (size_t i = 0; reply_report_types[i] && !hit; i++)
		hit = g_ascii_strcasecmp(mime, reply_report_types[i]) == 0;
	g_free(mime);
	return hit;
}

/* reply_walk - whether any part down the tree is a report (bounded) */
static int
reply_walk(GMimeObject *o, int depth, int *parts)
{
	if (o == NULL || depth > REPLY_MAX_MIME_DEPTH ||
	    ++*parts > REPLY_MAX_MIME_PARTS)
		return 0;
	if (reply_is_report_type(o))
		return 1;
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		int n = g_mime_multipart_get_count(mp);

		for (int i = 0; i < n; i++)
			if (reply_walk(g_mime_multipart_get_part(mp, i),
				       depth + 1, parts))
				return 1;
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *inner =
		    g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (inner != NULL &&
		    reply_walk(g_mime_message_get_mime_part(inner), depth + 1,
			       parts))
			return 1;
	}
	return 0;
}

/* Subjects that bounce generators use (prefixes, case-insensitive). */
static const char *const reply_bounce_subjects[] = {
    "undelivered mail returned to sender",
    "undelivered mail",
    "complaint about message from", /* Hotmail's feedback loop */
    "undeliverable:",
    "undeliverable mail",
    "delivery status notification",
    "mail delivery failed",
    "mail delivery failure",
    "delivery failure",
    "delivery has failed",
    "returned mail:",
    "failure notice",
    "mail system error",
    "message not delivered",
    "non remis",
    "unzustellbar",
    "nicht zustellbar",
    "warning: could not send message",
    "delayed mail",
    NULL};

/* reply_g_report - a delivery/disposition report, or looks like a bounce */
/* Forward markers: a forwarded bounce is still a bounce's content, and
 * forwarders of bounces are as often robots as people. */
static const char *const reply_forward_prefixes[] = {
    "fwd:", "fw:", "tr:", "wg:", "rv:", NULL};

/* reply_skip_forward - the subject past blanks and "Fwd:"-like prefixes */
static const char *
reply_skip_forward(const char *subject)
{
	for (;;) {
		int again = 0;

		while (*subject == ' ' || *subject == '\t')
			subject++;
		for (size_t i = 0; reply_forward_prefixes[i] && !again; i++)
			if (reply_starts(subject, reply_forward_prefixes[i])) {
				subject += strlen(reply_forward_prefixes[i]);
				again = 1;
			}
		if (!again)
			return subject;
	}
}

static const char *
reply_g_report(const struct reply_ctx *c)
{
	const char *subject = reply_header_value(c, "Subject");
	char *from = reply_from_addr(c->m);
	int parts = 0, hit = 0;

	if (from != NULL) {
		/* a robot in From: (no-reply@, MAILER-DAEMON@) whatever
		 * the envelope said */
		hit = reply_is_robot(from);
		g_free(from);
	}
	if (!hit && reply_header_value(c, "X-Failed-Recipients") != NULL)
		hit = 1;
	if (!hit && subject != NULL) {
		subject = reply_skip_forward(subject);
		for (size_t i = 0; reply_bounce_subjects[i] && !hit; i++)
			hit = reply_starts(subject, reply_bounce_subjects[i]);
	}
	if (!hit)
		hit = reply_walk(g_mime_message_get_mime_part(c->m), 0, &parts);
	return hit ? REPLY_R_REPORT : NULL;
}

/* reply_spam_entry - whether one "Name: prefix" entry matches */
static int
reply_spam_entry(const struct reply_ctx *c, const char *entry)
{
	const char *colon = strchr(entry, ':');
	char *name, *prefix;
	const char *v;
	int hit = 0;

	name = g_strstrip(colon ? g_strndup(entry, (gsize)(colon - entry))
				: g_strdup(entry));
	prefix = g_strstrip(g_strdup(colon ? colon + 1 : ""));
	for (int i = 0; !hit && (v = reply_header_next(c, name, &i));) {
		while (*v == ' ' || *v == '\t')
			v++;
		hit = reply_starts(v, prefix);
	}
	g_free(name);
	g_free(prefix);
	return hit;
}

/* reply_g_spam - a configured spam header matches */
static const char *
reply_g_spam(const struct reply_ctx *c)
{
	for (size_t i = 0; i < c->p->spam_headers.n; i++)
		if (reply_spam_entry(c, c->p->spam_headers.v[i]))
			return REPLY_R_SPAM;
	return NULL;
}

/* reply_g_template - the route names a template */
static const char *
reply_g_template(const struct reply_ctx *c)
{
	const char *t = c->in->template_name;

	return t && *t ? NULL : REPLY_R_NO_TEMPLATE;
}

/* reply_psl_ctx - libpsl's newest list: the system's
 * (/usr/share/publicsuffix) when newer than its built-in one; NULL when
 * there is neither */
static const psl_ctx_t *
reply_psl_ctx(void)
{
	static const psl_ctx_t *psl;
	static gsize done;

	if (g_once_init_enter(&done)) {
		psl = psl_latest(NULL);
		g_once_init_leave(&done, 1);
	}
	return psl;
}

/* reply_org - the organizational domain (RFC 7489 3.2): the registrable
 * domain by the Public Suffix List, lowercase; NULL for a public suffix
 * itself ("com", "eu.org", "github.io") or without a list */
static char *
reply_org(const char *d)
{
	const psl_ctx_t *psl = reply_psl_ctx();
	char *low, *out = NULL;
	const char *reg;
	size_t n;

	if (psl == NULL || !g_utf8_validate(d, -1, NULL))
		return NULL;
	low = g_utf8_strdown(d, -1);
	n = strlen(low);
	while (n > 0 && low[n - 1] == '.')
		low[--n] = '\0';
	reg = psl_registrable_domain(psl, low);
	if (reg != NULL)
		out = g_strdup(reg);
	g_free(low);
	return out;
}

/* reply_domain_aligned - relaxed alignment (RFC 7489 3.1): the same
 * domain, or the same organizational domain */
int
reply_domain_aligned(const char *a, const char *b)
{
	char *oa, *ob;
	int hit;

	if (a == NULL || b == NULL || *a == '\0' || *b == '\0')
		return 0;
	if (addr_same(a, b))
		return 1;
	oa = reply_org(a);
	ob = reply_org(b);
	hit = oa != NULL && ob != NULL && strcmp(oa, ob) == 0;
	g_free(oa);
	g_free(ob);
	return hit;
}

/* reply_ar_strip - an Authentication-Results value without comments;
 * quoted strings are kept whole, folding becomes spaces */
static char *
reply_ar_strip(const char *v)
{
	GString *out = g_string_sized_new(strlen(v));
	int depth = 0, quoted = 0;

	for (const char *p = v; *p; p++) {
		char ch = (*p == '\r' || *p == '\n' || *p == '\t') ? ' ' : *p;

		if (depth > 0) {
			if (ch == '\\' && p[1])
				p++;
			else if (ch == '(')
				depth++;
			else if (ch == ')' && --depth == 0)
				g_string_append_c(out, ' ');
			continue;
		}
		if (quoted) {
			g_string_append_c(out, ch);
			if (ch == '\\' && p[1])
				g_string_append_c(out, *++p);
			else if (ch == '"')
				quoted = 0;
			continue;
		}
		if (ch == '(') {
			depth = 1;
			continue;
		}
		if (ch == '"')
			quoted = 1;
		g_string_append_c(out, ch);
	}
	return g_string_free(out, FALSE);
}

/* reply_ar_split - the ';'-separated parts outside quoted strings */
static char **
reply_ar_split(const char *s)
{
	GPtrArray *parts = g_ptr_array_new();
	const char *start = s;
	int quoted = 0;

	for (const char *p = s;; p++) {
		if (*p == '\\' && quoted && p[1]) {
			p++;
			continue;
		}
		if (*p == '"')
			quoted = !quoted;
		if (*p == '\0' || (*p == ';' && !quoted)) {
			g_ptr_array_add(parts,
					g_strndup(start, (gsize)(p - start)));
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	g_ptr_array_add(parts, NULL);
	return (char **)g_ptr_array_free(parts, FALSE);
}

/* Pairs in one resinfo: "method=result ptype.prop=value ...". */
#define REPLY_AR_MAX_PAIRS 16

struct reply_ar_pairs {
	char *key[REPLY_AR_MAX_PAIRS];
	char *val[REPLY_AR_MAX_PAIRS];
	size_t n;
};

/* reply_ar_pairs - parse key=value pairs; a value may be quoted and
 * blanks may surround '=' */
static void
reply_ar_pairs(const char *s, struct reply_ar_pairs *pr)
{
	pr->n = 0;
	while (pr->n < REPLY_AR_MAX_PAIRS) {
		const char *k;
		GString *val = g_string_new(NULL);

		while (*s == ' ')
			s++;
		if (*s == '\0') {
			g_string_free(val, TRUE);
			break;
		}
		k = s;
		while (*s && *s != ' ' && *s != '=')
			s++;
		pr->key[pr->n] = g_ascii_strdown(k, s - k);
		while (*s == ' ')
			s++;
		if (*s == '=') {
			s++;
			while (*s == ' ')
				s++;
			if (*s == '"') {
				for (s++; *s && *s != '"'; s++) {
					if (*s == '\\' && s[1])
						s++;
					g_string_append_c(val, *s);
				}
				if (*s == '"')
					s++;
			} else {
				const char *v = s;

				while (*s && *s != ' ')
					s++;
				g_string_append_len(val, v, s - v);
			}
		}
		pr->val[pr->n++] = g_string_free(val, FALSE);
	}
}

/* reply_ar_free - free the pairs */
static void
reply_ar_free(struct reply_ar_pairs *pr)
{
	for (size_t i = 0; i < pr->n; i++) {
		g_free(pr->key[i]);
		g_free(pr->val[i]);
	}
	pr->n = 0;
}

/* reply_ar_prop - the value of a property, or NULL */
static const char *
reply_ar_prop(const struct reply_ar_pairs *pr, const char *key)
{
	for (size_t i = 1; i < pr->n; i++)
		if (strcmp(pr->key[i], key) == 0 && *pr->val[i])
			return pr->val[i];
	return NULL;
}

/* reply_ar_pass - 1 when one resinfo is a pass aligned with from_domain,
 * -1 when it is a DMARC fail for from_domain, 0 otherwise */
static int
reply_ar_pass(const struct reply_ar_pairs *pr, const char *from_domain)
{
	char *method;
	const char *d;
	int hit = 0;

	if (pr->n == 0)
		return 0;
	method = g_strndup(pr->key[0], strcspn(pr->key[0], "/"));
	if (g_ascii_strcasecmp(pr->val[0], "pass") != 0) {
		d = reply_ar_prop(pr, "header.from");
		hit = strcmp(method, "dmarc") == 0 &&
			      g_ascii_strcasecmp(pr->val[0], "fail") == 0 &&
			      (d == NULL || addr_same(d, from_domain))
			  ? -1
			  : 0;
	} else if (strcmp(method, "dmarc") == 0) {
		d = reply_ar_prop(pr, "header.from");
		hit = d == NULL || addr_same(d, from_domain);
	} else if (strcmp(method, "spf") == 0) {
		d = reply_ar_prop(pr, "smtp.mailfrom");
		if (d != NULL && strchr(d, '@') != NULL)
			d = reply_domain_of(d);
		hit = reply_domain_aligned(d, from_domain);
	} else if (strcmp(method, "dkim") == 0) {
		d = reply_ar_prop(pr, "header.d");
		if (d == NULL && (d = reply_ar_prop(pr, "header.i")) != NULL)
			d = reply_domain_of(d);
		hit = reply_domain_aligned(d, from_domain);
	}
	g_free(method);
	return hit;
}

/*
 * reply_auth_result - for one Authentication-Results value from a trusted
 * authserv-id: -1 when it shows dmarc=fail for from_domain (the MTA's
 * DMARC verdict wins over any pass beside it), else 1 when it shows
 * dmarc=pass, or an spf or dkim pass aligned with from_domain; 0
 * otherwise, and for an untrusted authserv-id
 */
int
reply_auth_result(const struct strvec *trusted, const char *value,
		  const char *from_domain)
{
	char *clean, **parts, *id;
	int hit = 0, ok = 0;

	if (value == NULL || from_domain == NULL || *from_domain == '\0' ||
	    strlen(value) > REPLY_MAX_AR_BYTES)
		return 0;
	clean = reply_ar_strip(value);
	parts = reply_ar_split(clean);
	id = g_strstrip(g_strdup(parts[0]));
	id[strcspn(id, " ")] = '\0'; /* an optional version follows */
	for (size_t i = 0; i < trusted->n && !ok; i++)
		ok = *id && g_ascii_strcasecmp(id, trusted->v[i]) == 0;
	for (size_t i = 1; ok && parts[i] && hit >= 0; i++) {
		struct reply_ar_pairs pr;
		int r;

		reply_ar_pairs(parts[i], &pr);
		r = reply_ar_pass(&pr, from_domain);
		if (r != 0)
			hit = r;
		reply_ar_free(&pr);
	}
	g_free(id);
	g_strfreev(parts);
	g_free(clean);
	return hit;
}

/* reply_g_auth - require_auth: a trusted pass for the From domain and
 * no trusted DMARC fail, and an envelope sender in that (organizational)
 * domain, so an authenticated From cannot steer the reply to a third
 * party */
static const char *
reply_g_auth(const struct reply_ctx *c)
{
	char *from;
	const char *fdom;
	int ok = 0;

	if (!c->p->require_auth)
		return NULL;
	from = reply_from_addr(c->m);
	fdom = from ? reply_domain_of(from) : "";
	if (*fdom && reply_domain_aligned(reply_domain_of(c->sender), fdom)) {
		const char *v;
		int i = 0;

		for (int seen = 0;
		     ok >= 0 && seen < REPLY_MAX_AR_HEADERS &&
		     (v = reply_header_next(c, "Authentication-Results", &i));
		     seen++) {
			int r = reply_auth_result(&c->p->trusted_authserv_ids,
						  v, fdom);

			if (r != 0)
				ok = r;
		}
	}
	g_free(from);
	return ok > 0 ? NULL : REPLY_R_AUTH;
}

/* reply_g_dedup - this sender already got this template recently; an
 * unknown answer suppresses too (better silent than a loop) */
static const char *
reply_g_dedup(const struct reply_ctx *c)
{
	if (c->in->dedup_present < 0)
		return REPLY_R_STORE;
	return c->in->dedup_present > 0 ? REPLY_R_DUPLICATE : NULL;
}

/* reply_g_rate - the whole milter's hourly cap is reached */
static const char *
reply_g_rate(const struct reply_ctx *c)
{
	if (c->in->sent_last_hour < 0)
		return REPLY_R_STORE;
	return (unsigned long)c->in->sent_last_hour >= c->p->max_per_hour
		   ? REPLY_R_RATE
		   : NULL;
}

typedef const char *(*reply_guard_fn)(const struct reply_ctx *c);

/* The guards, in order; the first to return a token decides. */
static const reply_guard_fn reply_guards[] = {
    reply_g_support, reply_g_null,   reply_g_robot, reply_g_own,
    reply_g_message, reply_g_auto,   reply_g_list,  reply_g_precedence,
    reply_g_ars,     reply_g_report, reply_g_spam,  reply_g_template,
    reply_g_auth,    reply_g_dedup,  reply_g_rate,
};

/* reply_decide - run the guards; out->reason is a static token */
void
reply_decide(const struct reply_policy *p, const struct reply_input *in,
	     struct reply_decision *out)
{
	struct reply_ctx c;

	if (!p->enable) {
		out->decision = REPLY_OFF;
		out->reason = REPLY_R_OFF;
		return;
	}
	c.p = p;
	c.in = in;
	c.sender = reply_addr_norm(in->sender);
	c.m = reply_unconst(in->message);
	c.hl = c.m ? g_mime_object_get_header_list(GMIME_OBJECT(c.m)) : NULL;
	out->decision = REPLY_SEND;
	out->reason = REPLY_R_OK;
	for (size_t i = 0; i < G_N_ELEMENTS(reply_guards); i++) {
		const char *r = reply_guards[i](&c);

		if (r != NULL) {
			out->decision = REPLY_SUPPRESS;
			out->reason = r;
			break;
		}
	}
	g_free(c.sender);
}

/* reply_verdict_name - "off", "suppress" or "send" (JSON, logs) */
const char *
reply_verdict_name(enum reply_verdict v)
{
	switch (v) {
	case REPLY_OFF:
		return "off";
	case REPLY_SUPPRESS:
		return "suppress";
	case REPLY_SEND:
		return "send";
	}
	return "off";
}

/* reply_policy_init - the defaults: off, one day, REPLY_DEF_* */
void
reply_policy_init(struct reply_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->interval_s = REPLY_DEF_INTERVAL_S;
	p->max_per_hour = REPLY_DEF_MAX_PER_HOUR;
	p->from = g_strdup("");
	p->envelope_sender = g_strdup("");
	p->message_id_domain = g_strdup("");
	strvec_push(&p->spam_headers, REPLY_DEF_SPAM_HEADER);
}

/* reply_policy_clear - free what the policy owns */
void
reply_policy_clear(struct reply_policy *p)
{
	strvec_clear(&p->addresses);
	strvec_clear(&p->own_addresses);
	strvec_clear(&p->trusted_authserv_ids);
	strvec_clear(&p->spam_headers);
	g_free(p->from);
	g_free(p->envelope_sender);
	g_free(p->message_id_domain);
	memset(p, 0, sizeof(*p));
}

/* reply_domain_ok - a plain DNS name: letters, digits, '-', '.' */
static int
reply_domain_ok(const char *d)
{
	size_t n = d ? strlen(d) : 0;

	if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-' ||
	    d[n - 1] == '.' || strstr(d, "..") != NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isalnum(d[i]) && d[i] != '-' && d[i] != '.')
			return 0;
	return 1;
}

/* reply_policy_check - a message for the config parser to prefix with
 * file:line, or 0 when the policy can be used */
int
reply_policy_check(const struct reply_policy *p, char **error_r)
{
	char *from = reply_policy_addr(p->from);
	const char *dom = *p->message_id_domain ? p->message_id_domain
			  : from                ? reply_domain_of(from)
						: "";
	char *err = NULL;

	if (p->interval_s < REPLY_MIN_INTERVAL_S)
		err = g_strdup_printf("interval of %u s is below the minimum "
				      "of %d s",
				      p->interval_s, REPLY_MIN_INTERVAL_S);
	else if (p->enable && (from == NULL || !strchr(from, '@')))
		err = g_strdup_printf("from \"%s\" is not an address", p->from);
	else if (p->enable && p->addresses.n == 0)
		err = g_strdup("enabled with no support addresses");
	else if (p->enable && !reply_domain_ok(dom) && *p->message_id_domain)
		err = g_strdup_printf("message_id_domain \"%s\" is not a "
				      "domain",
				      dom);
	else if (p->enable && !reply_domain_ok(dom))
		err = g_strdup_printf("from: the domain \"%s\" cannot be a "
				      "Message-ID domain (letters, digits, "
				      "'-' and '.'); set message_id_domain",
				      dom);
	else if (p->require_auth && p->trusted_authserv_ids.n == 0)
		err = g_strdup("require_auth needs trusted_authserv_ids");
	for (size_t i = 0; err == NULL && i < p->addresses.n; i++)
		if (strchr(p->addresses.v[i], '@') == NULL)
			err = g_strdup_printf("support address \"%s\" has no "
					      "'@'",
					      p->addresses.v[i]);
	for (size_t i = 0; err == NULL && i < p->spam_headers.n; i++) {
		const char *e = p->spam_headers.v[i];
		size_t n = strcspn(e, ":");

		if (n == 0 || e[n] != ':' || strcspn(e, " \t") < n)
			err = g_strdup_printf("spam header \"%s\" is not "
					      "\"Name: value\"",
					      e);
	}
	g_free(from);
	if (err == NULL)
		return 0;
	if (error_r != NULL)
		*error_r = err;
	else
		g_free(err);
	return -1;
}

/* reply_addr_ok - a plain ASCII addr-spec we can put in To: */
static int
reply_addr_ok(const char *a)
{
	const char *at = strrchr(a, '@');
	size_t n = strlen(a);

	if (n < 3 || n > 254 || at == NULL || at == a ||
	    !reply_domain_ok(at + 1))
		return 0;
	for (const char *p = a; p < at; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    strchr("<>()[]\\,;:\"", *p) != NULL)
			return 0;
	return 1;
}

/* reply_msgid_ok - a msg-id we can copy: printable ASCII, no blanks or
 * angle brackets, bounded */
static int
reply_msgid_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > REPLY_MAX_MSGID)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] <= ' ' ||
		    (unsigned char)id[i] >= 0x7f || id[i] == '<' ||
		    id[i] == '>')
			return 0;
	return 1;
}

/* reply_strip_re - skip leading reply prefixes: "Re:", "RE[2]:", "AW:",
 * "SV:", "Antw:" ... so the reply says "Re:" once */
static const char *
reply_strip_re(const char *s)
{
	static const char *const pfx[] = {"antw", "odp", "res", "re", "aw",
					  "sv",   "vs",  "r",   NULL};

	for (;;) {
		const char *q = NULL;

		while (*s == ' ')
			s++;
		for (size_t i = 0; pfx[i] && q == NULL; i++) {
			if (!reply_starts(s, pfx[i]))
				continue;
			q = s + strlen(pfx[i]);
			if (*q == '[' || *q == '(') {
				char close = *q == '[' ? ']' : ')';

				for (q++; g_ascii_isdigit(*q); q++)
					;
				q = *q == close ? q + 1 : NULL;
			}
			while (q && *q == ' ')
				q++;
			if (q && *q != ':')
				q = NULL;
		}
		if (q == NULL)
			return s;
		s = q + 1;
	}
}

/* reply_subject - "Re: " and the cleaned original, at most
 * REPLY_MAX_SUBJECT characters */
static char *
reply_subject(const char *orig)
{
	char *clean = template_clean_value(orig);
	const char *rest = reply_strip_re(clean);
	char *cut, *out;

	cut = template_shorten(*rest ? rest : "your message",
			       REPLY_MAX_SUBJECT - 4);
	out = g_strconcat("Re: ", cut, NULL);
	g_free(cut);
	g_free(clean);
	return out;
}

/*
 * reply_references - the original's References (or, without one, its
 * In-Reply-To when that names a single message, RFC 5322 3.6.4) plus its
 * Message-ID: the root and the latest REPLY_MAX_REFERENCES - 1, as
 * "<a> <b>"
 */
static char *
reply_references(GMimeMessage *orig, const char *msgid)
{
	const char *raw =
	    g_mime_object_get_header(GMIME_OBJECT(orig), "References");
	GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
	GString *out = g_string_new(NULL);
	int from_irt = 0;

	if (raw == NULL) {
		raw =
		    g_mime_object_get_header(GMIME_OBJECT(orig), "In-Reply-To");
		from_irt = 1;
	}
	if (raw != NULL) {
		GMimeReferences *refs = g_mime_references_parse(NULL, raw);
		int n = refs ? g_mime_references_length(refs) : 0;

		if (from_irt && n != 1)
			n = 0;

		for (int i = 0; i < n; i++) {
			const char *id =
			    g_mime_references_get_message_id(refs, i);

			if (reply_msgid_ok(id))
				g_ptr_array_add(ids, g_strdup(id));
		}
		if (refs != NULL)
			g_mime_references_free(refs);
	}
	if (reply_msgid_ok(msgid))
		g_ptr_array_add(ids, g_strdup(msgid));
	for (guint i = 0; i < ids->len; i++) {
		if (i > 0 && ids->len > REPLY_MAX_REFERENCES &&
		    i < ids->len - (REPLY_MAX_REFERENCES - 1))
			continue; /* between the root and the latest */
		g_string_append_printf(out, "%s<%s>", out->len ? " " : "",
				       (const char *)ids->pdata[i]);
	}
	g_ptr_array_free(ids, TRUE);
	return g_string_free(out, FALSE);
}

/* reply_message_id - "hex@domain" from REPLY_MSGID_RANDOM bytes */
static char *
reply_message_id(const char *domain)
{
	unsigned char rnd[REPLY_MSGID_RANDOM];
	GString *out;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NULL;
	out = g_string_new(NULL);
	for (size_t i = 0; i < sizeof(rnd); i++)
		g_string_append_printf(out, "%02x", rnd[i]);
	g_string_append_printf(out, "@%s", domain);
	return g_string_free(out, FALSE);
}

/* reply_body_part - text/plain; charset=utf-8: 7bit when the body is
 * ASCII, else quoted-printable, which every relay carries (8bit needs
 * 8BITMIME on each hop) and stays readable for mostly-Latin text */
static GMimeObject *
reply_body_part(const char *body)
{
	char *valid = g_utf8_make_valid(body ? body : "", -1);
	GString *text = g_string_new(valid);
	GMimePart *part =
	    GMIME_PART(g_mime_text_part_new_with_subtype("plain"));
	GMimeStream *st;
	GMimeDataWrapper *dw;
	int ascii = 1;

	g_free(valid);
	if (text->len == 0 || text->str[text->len - 1] != '\n')
		g_string_append_c(text, '\n');
	for (size_t i = 0; i < text->len; i++)
		if ((unsigned char)text->str[i] >= 0x80)
			ascii = 0;
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset",
						 "utf-8");
	st = g_mime_stream_mem_new_with_buffer(text->str, text->len);
	dw = g_mime_data_wrapper_new_with_stream(
	    st, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, dw);
	g_mime_part_set_content_encoding(
	    part, ascii ? GMIME_CONTENT_ENCODING_7BIT
			: GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	g_object_unref(dw);
	g_object_unref(st);
	g_string_free(text, TRUE);
	return GMIME_OBJECT(part);
}

/* reply_compose - the acknowledgment to the envelope sender `to`; NULL
 * when `to` or the policy's From is unusable or entropy fails.
 * *subject_r (optional) gets the Subject as UTF-8 text. */
GMimeMessage *
reply_compose(const struct reply_policy *p, const GMimeMessage *orig,
	      const char *to, const char *body, char **subject_r)
{
	GMimeMessage *o = reply_unconst(orig), *msg;
	InternetAddressList *from;
	GMimeObject *part;
	GDateTime *now;
	char *rcpt = reply_addr_norm(to), *from_addr, *id, *subject, *refs;
	const char *orig_id = o ? g_mime_message_get_message_id(o) : NULL;
	const char *dom;

	from_addr = reply_policy_addr(p->from);
	dom = *p->message_id_domain ? p->message_id_domain
	      : from_addr           ? reply_domain_of(from_addr)
				    : "";
	if (!reply_addr_ok(rcpt) || from_addr == NULL ||
	    !reply_domain_ok(dom) || (id = reply_message_id(dom)) == NULL) {
		g_free(rcpt);
		g_free(from_addr);
		return NULL;
	}
	msg = g_mime_message_new(TRUE);
	from = internet_address_list_parse(NULL, p->from);
	internet_address_list_append(g_mime_message_get_from(msg), from);
	g_object_unref(from);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, rcpt);
	subject = reply_subject(o ? g_mime_message_get_subject(o) : NULL);
	g_mime_message_set_subject(msg, subject, "utf-8");
	now = g_date_time_new_now_local();
	g_mime_message_set_date(msg, now);
	g_date_time_unref(now);
	g_mime_message_set_message_id(msg, id);
	if (reply_msgid_ok(orig_id)) {
		char *irt = g_strdup_printf("<%s>", orig_id);

		g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", irt,
					 NULL);
		g_free(irt);
	}
	refs = o ? reply_references(o, orig_id) : g_strdup("");
	if (*refs)
		g_mime_object_set_header(GMIME_OBJECT(msg), "References", refs,
					 NULL);
	g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted",
				 "auto-replied", NULL);
	g_mime_object_set_header(GMIME_OBJECT(msg), "Precedence", "bulk", NULL);
	g_mime_object_set_header(GMIME_OBJECT(msg), "X-Auto-Response-Suppress",
				 "All", NULL);
	/* procmail-style loop mark, for systems that read no Auto-Submitted */
	g_mime_object_set_header(GMIME_OBJECT(msg), "X-Loop", from_addr, NULL);
	g_mime_object_set_header(GMIME_OBJECT(msg), "MIME-Version", "1.0",
				 NULL);
	part = reply_body_part(body);
	g_mime_message_set_mime_part(msg, part);
	g_object_unref(part);
	if (subject_r != NULL)
		*subject_r = subject;
	else
		g_free(subject);
	g_free(refs);
	g_free(id);
	g_free(rcpt);
	g_free(from_addr);
	return msg;
}

/* reply_to_bytes - the message as RFC 5322 text with LF line ends */
char *
reply_to_bytes(GMimeMessage *reply, size_t *len_r)
{
	char *s = g_mime_object_to_string(GMIME_OBJECT(reply), NULL);

	if (len_r != NULL)
		*len_r = strlen(s);
	return s;
}

/* Words that show a display name is a role or a company, not a person. */
static const char *const reply_not_names[] = {
    "support",       "team",         "service",
    "services",      "customer",     "info",
    "admin",         "sales",        "billing",
    "help",          "helpdesk",     "desk",
    "office",        "department",   "dept",
    "inc",           "ltd",          "llc",
    "gmbh",          "ag",           "corp",
    "company",       "group",        "noreply",
    "notifications", "notification", "newsletter",
    "marketing",     "hr",           "accounts",
    "accounting",    "the",          "contact",
    "shop",          "store",        "mail",
    "mailer",        "system",       "bot",
    "robot",         "automated",    "official",
    "limited",       "plc",          "bv",
    "srl",           "news",         "orders",
    "webmaster",     "reply",        NULL};

/* Honorifics skipped before the first name. */
static const char *const reply_titles[] = {
    "mr",   "mrs",  "ms",  "miss", "mx", "dr", "prof", "sir",  "madam",
    "herr", "frau", "mme", "mlle", "m",  "sr", "sra",  "srta", NULL};

/* reply_in_list - whether a lowercased word (a trailing '.' ignored) is
 * in a list */
static int
reply_in_list(const char *const *list, const char *word)
{
	char *w = g_utf8_strdown(word, -1);
	size_t n = strlen(w);
	int hit = 0;

	if (n > 0 && w[n - 1] == '.')
		w[n - 1] = '\0';
	for (size_t i = 0; list[i] && !hit; i++)
		hit = strcmp(w, list[i]) == 0;
	g_free(w);
	return hit;
}

/* reply_name_word - letters, with single '-' or '\'' between letters;
 * no all-caps, no scripts that put the family name first */
static int
reply_name_word(const char *w)
{
	gunichar prev = 0;
	size_t n = 0, upper = 0, lower = 0;

	for (const char *p = w; *p; p += g_utf8_skip[*(const guchar *)p]) {
		gunichar c = g_utf8_get_char(p);
		GUnicodeScript sc = g_unichar_get_script(c);

		if (c == '-' || c == '\'') {
			if (prev == 0 || prev == '-' || prev == '\'')
				return 0;
		} else if (!g_unichar_isalpha(c) ||
			   sc == G_UNICODE_SCRIPT_HAN ||
			   sc == G_UNICODE_SCRIPT_HIRAGANA ||
			   sc == G_UNICODE_SCRIPT_KATAKANA ||
			   sc == G_UNICODE_SCRIPT_HANGUL) {
			return 0;
		}
		upper += g_unichar_isupper(c) != 0;
		lower += g_unichar_islower(c) != 0;
		prev = c;
		n++;
	}
	if (prev == '-' || prev == '\'' || n < 2 || n > REPLY_MAX_FIRST_NAME)
		return 0;
	return !(upper >= 2 && lower == 0);
}

/* reply_first_name - the first name from the From display name, or
 * NULL when unsure (no name, an address, a role or company, all caps,
 * family-name-first scripts) */
char *
reply_first_name(const GMimeMessage *m)
{
	GMimeMessage *msg = reply_unconst(m);
	InternetAddressList *from;
	InternetAddress *ia;
	char *clean, **words, *out = NULL;
	const char *name, *comma;
	size_t i = 0;

	if (msg == NULL)
		return NULL;
	from = g_mime_message_get_from(msg);
	if (from == NULL || internet_address_list_length(from) != 1)
		return NULL;
	ia = internet_address_list_get_address(from, 0);
	name = internet_address_get_name(ia);
	if (!INTERNET_ADDRESS_IS_MAILBOX(ia) || name == NULL)
		return NULL;
	clean = template_clean_value(name);
	if (strchr(clean, '@') != NULL) {
		g_free(clean);
		return NULL;
	}
	comma = strchr(clean, ','); /* "Doe, Jane" */
	words = g_strsplit(comma ? comma + 1 : clean, " ", -1);
	for (size_t k = 0; words[k]; k++)
		if (reply_in_list(reply_not_names, words[k]))
			goto done;
	while (words[i] &&
	       (*words[i] == '\0' || reply_in_list(reply_titles, words[i])))
		i++;
	if (words[i] && reply_name_word(words[i]))
		out = g_strdup(words[i]);
done:
	g_strfreev(words);
	g_free(clean);
	return out;
}
