/*
 * test-reply.c - the acknowledgment guards (alone and in order),
 * Authentication-Results, the composed reply, first names, tickets
 */
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "reply.h"
#include "strvec.h"
#include "template.h"
#include "ticket.h"
#include "unit.h"

#define ELL "\xe2\x80\xa6"

/* parse - a GMimeMessage from text (headers may be "" for none) */
static GMimeMessage *
parse(const char *extra_headers, const char *rest)
{
	char *text = g_strconcat(extra_headers, rest, NULL);
	GMimeStream *st = g_mime_stream_mem_new_with_buffer(text, strlen(text));
	GMimeParser *parser = g_mime_parser_new_with_stream(st);
	GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);

	g_object_unref(parser);
	g_object_unref(st);
	g_free(text);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* A plain customer message: passes every header guard. */
#define CUSTOMER_SUBJECT "Subject: Order 123 never arrived\n"
#define CUSTOMER_REST                                                          \
	"Message-ID: <abc.123@customer.example>\n"                             \
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\n"                               \
	"MIME-Version: 1.0\n"                                                  \
	"Content-Type: text/plain; charset=utf-8\n"                            \
	"\n"                                                                   \
	"Where is my order?\n"
#define CUSTOMER_FROM                                                          \
	"From: Jane Doe <jane@customer.example>\n"                             \
	"To: support@example.com\n"
static const char customer[] = CUSTOMER_FROM CUSTOMER_SUBJECT CUSTOMER_REST;
static const char customer_nosubject[] = CUSTOMER_FROM CUSTOMER_REST;

/* policy - an enabled policy for support@example.com */
static void
policy(struct reply_policy *p)
{
	reply_policy_init(p);
	p->enable = 1;
	strvec_push(&p->addresses, "support@example.com");
	strvec_push(&p->addresses, "@help.example.com");
	strvec_push(&p->own_addresses, "ack@example.com");
	g_free(p->from);
	p->from = g_strdup("Example Support <support@example.com>");
	strvec_push(&p->trusted_authserv_ids, "mx.example.com");
	strvec_push(&p->spam_headers, "X-Spam-Status: Yes");
	strvec_push(&p->spam_headers, "X-Suspect:");
}

#define AR_OK                                                                  \
	"Authentication-Results: mx.example.com; dmarc=pass "                  \
	"header.from=customer.example\n"

/* One row: what changes from the passing default, and the outcome. */
static const struct {
	const char *headers; /* prepended to the customer message */
	const char *sender;  /* NULL: jane@customer.example */
	const char *rcpt;    /* NULL: support@example.com */
	const char *tmpl;    /* "-": the default "general" */
	int enable, require_auth, dedup;
	long sent;
	int decision;
	const char *reason;
} guards[] = {
    /* each guard alone */
    {"", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SEND, "ok"},
    {"", NULL, NULL, "-", 0, 0, 0, 0, REPLY_OFF, "off"},
    {"", NULL, "sales@example.com", "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "not-support-address"},
    {"", NULL, "<Support@Example.COM>", "-", 1, 0, 0, 0, REPLY_SEND, "ok"},
    {"", NULL, "anyone@help.example.com", "-", 1, 0, 0, 0, REPLY_SEND, "ok"},
    {"", NULL, "x@sub.help.example.com", "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "not-support-address"},
    {"", "", NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS, "null-sender"},
    {"", "<>", NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS, "null-sender"},
    {"", "MAILER-DAEMON@customer.example", NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "robot-sender"},
    {"", "ack@example.com", NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "own-address"},
    {"", "support@example.com", NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "own-address"},
    {"", "someone@help.example.com", NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "own-address"},
    {"Auto-Submitted: auto-replied\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "auto-submitted"},
    {"Auto-Submitted: No (a person)\n", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SEND,
     "ok"},
    {"X-Autoreply: yes\n", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "auto-submitted"},
    /* a benign first instance must not hide a second */
    {"Auto-Submitted: no\nAuto-Submitted: auto-generated\n", NULL, NULL, "-", 1,
     0, 0, 0, REPLY_SUPPRESS, "auto-submitted"},
    {"Precedence: normal\nPrecedence: bulk\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "precedence"},
    {"X-Auto-Response-Suppress: DR\nX-Auto-Response-Suppress: OOF\n", NULL,
     NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS, "auto-response-suppress"},
    {"X-Auto-Response-Suppress: DR;OOF\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "auto-response-suppress"},
    /* X-Loop naming one of our addresses: it came from us before */
    {"X-Loop: support@example.com\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "own-address"},
    {"X-Loop: other@elsewhere.example\nX-Loop: Ack <ack@example.com>\n", NULL,
     NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS, "own-address"},
    {"X-Loop: other@elsewhere.example\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SEND, "ok"},
    {"List-Id: <users.lists.example>\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "list"},
    {"list-unsubscribe: <mailto:u@x>\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "list"},
    {"List-Post: NO\n", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS, "list"},
    {"Precedence: Bulk\n", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "precedence"},
    {"Precedence: junk\n", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "precedence"},
    {"Precedence: first-class\n", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SEND,
     "ok"},
    {"X-Auto-Response-Suppress: DR, OOF\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "auto-response-suppress"},
    {"X-Auto-Response-Suppress: autoreply\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "auto-response-suppress"},
    {"X-Auto-Response-Suppress: DR, RN, NRN\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SEND, "ok"},
    {"X-Failed-Recipients: a@b.example\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "report"},
    {"X-Spam-Flag: YES\n", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS, "spam"},
    {"X-Spam-Flag: NO\n", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SEND, "ok"},
    {"X-Spam-Status: yes, score=9.1\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "spam"},
    {"X-Suspect: whatever\n", NULL, NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "spam"},
    {"", NULL, NULL, NULL, 1, 0, 0, 0, REPLY_SUPPRESS, "no-template"},
    {"", NULL, NULL, "", 1, 0, 0, 0, REPLY_SUPPRESS, "no-template"},
    {"", NULL, NULL, "-", 1, 1, 0, 0, REPLY_SUPPRESS, "auth"},
    {AR_OK, NULL, NULL, "-", 1, 1, 0, 0, REPLY_SEND, "ok"},
    {AR_OK, "bounce-x@elsewhere.example", NULL, "-", 1, 1, 0, 0, REPLY_SUPPRESS,
     "robot-sender"},
    {AR_OK, "victim@elsewhere.example", NULL, "-", 1, 1, 0, 0, REPLY_SUPPRESS,
     "auth"},
    {AR_OK, "jane@mail.customer.example", NULL, "-", 1, 1, 0, 0, REPLY_SEND,
     "ok"},
    {"", NULL, NULL, "-", 1, 0, 1, 0, REPLY_SUPPRESS, "duplicate"},
    {"", NULL, NULL, "-", 1, 0, -1, 0, REPLY_SUPPRESS, "store-unavailable"},
    {"", NULL, NULL, "-", 1, 0, 0, 100, REPLY_SUPPRESS, "rate-limit"},
    {"", NULL, NULL, "-", 1, 0, 0, 99, REPLY_SEND, "ok"},
    {"", NULL, NULL, "-", 1, 0, 0, -1, REPLY_SUPPRESS, "store-unavailable"},
    /* in order: two guards trip, the first one reported */
    {"Auto-Submitted: auto-generated\n", NULL, NULL, "-", 0, 0, 0, 0, REPLY_OFF,
     "off"},
    {"Auto-Submitted: auto-generated\n", "", "sales@example.com", "-", 1, 0, 0,
     0, REPLY_SUPPRESS, "not-support-address"},
    {"Auto-Submitted: auto-generated\n", "", NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "null-sender"},
    {"List-Id: x\n", "noreply@customer.example", NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "robot-sender"},
    {"List-Id: x\n", "noreply@help.example.com", NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "robot-sender"},
    {"List-Id: x\n", "ack@example.com", NULL, "-", 1, 0, 0, 0, REPLY_SUPPRESS,
     "own-address"},
    {"List-Id: x\nAuto-Submitted: auto-replied\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "auto-submitted"},
    {"Precedence: list\nList-Id: x\n", NULL, NULL, "-", 1, 0, 0, 0,
     REPLY_SUPPRESS, "list"},
    {"X-Auto-Response-Suppress: All\nPrecedence: bulk\n", NULL, NULL, "-", 1, 0,
     0, 0, REPLY_SUPPRESS, "precedence"},
    {"X-Failed-Recipients: x@y\nX-Auto-Response-Suppress: All\n", NULL, NULL,
     "-", 1, 0, 0, 0, REPLY_SUPPRESS, "auto-response-suppress"},
    {"X-Spam-Flag: YES\nX-Failed-Recipients: x@y\n", NULL, NULL, "-", 1, 0, 0,
     0, REPLY_SUPPRESS, "report"},
    {"X-Spam-Flag: YES\n", NULL, NULL, NULL, 1, 0, 0, 0, REPLY_SUPPRESS,
     "spam"},
    {"", NULL, NULL, NULL, 1, 1, 1, 100, REPLY_SUPPRESS, "no-template"},
    {"", NULL, NULL, "-", 1, 1, 1, 100, REPLY_SUPPRESS, "auth"},
    {AR_OK, NULL, NULL, "-", 1, 1, 1, 100, REPLY_SUPPRESS, "duplicate"},
    {AR_OK, NULL, NULL, "-", 1, 1, -1, 100, REPLY_SUPPRESS,
     "store-unavailable"},
};

START_TEST(test_guards)
{
	struct reply_policy p;
	GMimeMessage *m = parse(guards[_i].headers, customer);
	const char *rcpt[] = {"other@example.com", guards[_i].rcpt
						       ? guards[_i].rcpt
						       : "support@example.com"};
	struct reply_input in = {0};
	struct reply_decision d = {REPLY_SEND, "untouched"};

	policy(&p);
	p.enable = guards[_i].enable;
	p.require_auth = guards[_i].require_auth;
	in.sender =
	    guards[_i].sender ? guards[_i].sender : "<jane@customer.example>";
	in.recipients = rcpt;
	in.n_recipients = 2;
	in.message = m;
	in.template_name = guards[_i].tmpl && strcmp(guards[_i].tmpl, "-") == 0
			       ? "general"
			       : guards[_i].tmpl;
	in.dedup_present = guards[_i].dedup;
	in.sent_last_hour = guards[_i].sent;
	reply_decide(&p, &in, &d);
	ck_assert_str_eq(d.reason, guards[_i].reason);
	ck_assert_int_eq(d.decision, guards[_i].decision);
	reply_policy_clear(&p);
	g_object_unref(m);
}
END_TEST

/* Whole bounce-shaped messages: the report guard. */
static const char *const reports[] = {
    "From: MAILER-DAEMON@mx.customer.example (Mail Delivery System)\n"
    "To: jane@customer.example\nSubject: hello\n\nx\n",
    "From: Jane <jane@customer.example>\n"
    "Subject: Undelivered Mail Returned to Sender\n\nx\n",
    "From: Jane <jane@customer.example>\n"
    "Subject: Delivery Status Notification (Failure)\n\nx\n",
    "From: Jane <jane@customer.example>\n"
    "Subject: Mail delivery failed: returning message to sender\n\nx\n",
    "From: Jane <jane@customer.example>\n"
    "Subject: Returned mail: see transcript for details\n\nx\n",
    /* a forwarded bounce, a feedback-loop complaint, a no-reply From */
    "From: Jane <jane@customer.example>\n"
    "Subject: Fwd: Returned mail: see transcript for details\n\nx\n",
    "From: staff@mail.example\n"
    "Subject:  complaint about message from 192.0.2.1\n\nx\n",
    "From: Notifications <no-reply@notify.example>\n"
    "Subject: AWS Notification Message\n\nx\n",
    "From: post_master@mx.example\nSubject: Re: hello\n\nx\n",
    "From: Jane <jane@customer.example>\nSubject: hi\nMIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status; "
    "boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nfailed\n--b\n"
    "Content-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
    "--b--\n",
    "From: Jane <jane@customer.example>\nSubject: Read: hi\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"o\"\n\n--o\n"
    "Content-Type: text/plain\n\nsee attached\n--o\n"
    "Content-Type: message/rfc822\n\nFrom: a@b\nSubject: inner\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"i\"\n\n"
    "--i\nContent-Type: message/disposition-notification\n\n"
    "Final-Recipient: rfc822; a@b\n--i--\n\n--o--\n",
};

START_TEST(test_reports)
{
	struct reply_policy p;
	GMimeMessage *m = parse("", reports[_i]);
	const char *rcpt[] = {"support@example.com"};
	struct reply_input in = {
	    "jane@customer.example", rcpt, 1, m, "general", 0, 0};
	struct reply_decision d;

	policy(&p);
	reply_decide(&p, &in, &d);
	ck_assert_str_eq(d.reason, "report");
	reply_policy_clear(&p);
	g_object_unref(m);
}
END_TEST

/* No message at all (parse failed upstream): suppressed. */
START_TEST(test_no_message)
{
	struct reply_policy p;
	const char *rcpt[] = {"support@example.com"};
	struct reply_input in = {
	    "jane@customer.example", rcpt, 1, NULL, "general", 0, 0};
	struct reply_decision d;

	policy(&p);
	reply_decide(&p, &in, &d);
	ck_assert_int_eq(d.decision, REPLY_SUPPRESS);
	ck_assert_str_eq(d.reason, "no-message");
	reply_policy_clear(&p);
}
END_TEST

static const struct {
	const char *addr;
	int robot;
} robots[] = {
    {"MAILER-DAEMON@x.example", 1},
    {"mailer-daemon", 1},
    {"Postmaster@x.example", 1},
    {"postmaster+x@x.example", 1},
    {"users-request@lists.example", 1},
    {"owner-users@lists.example", 1},
    {"noreply@x.example", 1},
    {"NoReply-12@x.example", 1},
    {"no-reply@x.example", 1},
    {"info.noreply@x.example", 1},
    {"do-not-reply@x.example", 1},
    {"DoNotReply@x.example", 1},
    {"do_not_reply@x.example", 1},
    {"bounces+123-abc=x.example@mail.example", 1},
    {"bounce@x.example", 1},
    {"users-bounces@lists.example", 1},
    {"users-bounces+jane=x.example@lists.example", 1},
    {"mailer@x.example", 1},
    {"<nobody@x.example>", 1},
    /* rewritten by BATV or SRS: judged by the original local part */
    {"prvs=0123abcd=owner-list@lists.example", 1},
    {"btv1==123abcd==MAILER-DAEMON@x.example", 1},
    {"SRS0=HHH=TT=lists.example=owner-users@forwarder.example", 1},
    {"SRS1=HHH=fwd.example==HHH=TT=x.example=postmaster@forwarder.example", 1},
    {"prvs=0123abcd=jane@customer.example", 0},
    {"SRS0=HHH=TT=customer.example=jane@forwarder.example", 0},
    {"jane@customer.example", 0},
    {"jane.request@customer.example", 0},
    {"owner@customer.example", 0},
    {"listener@customer.example", 0},
    {"norbert@customer.example", 0},
    {"post@customer.example", 0},
    {"request-help@customer.example", 0},
    {"jane+bounce@customer.example", 0},
};

START_TEST(test_robot)
{
	ck_assert_msg(reply_is_robot(robots[_i].addr) == robots[_i].robot, "%s",
		      robots[_i].addr);
}
END_TEST

static const struct {
	const char *a, *b;
	int aligned;
} aligns[] = {
    {"customer.example", "customer.example", 1},
    {"mail.customer.example", "customer.example", 1},
    {"CUSTOMER.example.", "customer.example", 1},
    {"a.customer.example", "b.customer.example", 1},
    {"evil.example", "customer.example", 0},
    {"customer.example.evil", "customer.example", 0},
    {"shop.co.uk", "mail.shop.co.uk", 1},
    {"evil.co.uk", "shop.co.uk", 0},
    {"example", "example", 1},
    {"com", "evil.com", 0},
    /* public suffixes that many registrants share (the list, not "the
     * last two labels") */
    {"attacker.eu.org", "victim.eu.org", 0},
    {"a.uk.com", "b.uk.com", 0},
    {"me.github.io", "you.github.io", 0},
    {"mail.victim.eu.org", "victim.eu.org", 1},
    {"shop.example.co.jp", "www.shop.example.co.jp", 1},
    {"", "", 0},
};

START_TEST(test_aligned)
{
	ck_assert_msg(reply_domain_aligned(aligns[_i].a, aligns[_i].b) ==
			  aligns[_i].aligned,
		      "%s %s", aligns[_i].a, aligns[_i].b);
}
END_TEST

/* Authentication-Results values against From domain customer.example. */
static const struct {
	const char *value;
	int pass;
} ars[] = {
    {"mx.example.com; dmarc=pass header.from=customer.example", 1},
    {"mx.example.com; dmarc=pass", 1},
    {"MX.Example.COM 1; dmarc=pass (p=reject) header.from=customer.example", 1},
    {"evil.example; dmarc=pass header.from=customer.example", 0},
    {"mx.example.com.evil; dmarc=pass", 0},
    {"mx.example.com; dmarc=fail header.from=customer.example", -1},
    /* the MTA's DMARC fail wins over a pass beside it */
    {"mx.example.com; dkim=pass header.d=customer.example; dmarc=fail", -1},
    {"mx.example.com; dmarc=fail header.from=customer.example; "
     "spf=pass smtp.mailfrom=jane@customer.example",
     -1},
    {"mx.example.com; dmarc=fail header.from=other.example; "
     "dkim=pass header.d=customer.example",
     1},
    {"evil.example; dmarc=fail header.from=customer.example", 0},
    {"mx.example.com; dmarc=pass header.from=other.example", 0},
    {"mx.example.com; spf=pass smtp.mailfrom=jane@customer.example", 1},
    {"mx.example.com; spf=pass smtp.mailfrom=bounce.customer.example", 1},
    {"mx.example.com; spf=pass smtp.mailfrom=jane@esp.example", 0},
    {"mx.example.com; spf=softfail smtp.mailfrom=jane@customer.example", 0},
    {"mx.example.com; dkim=pass header.d=customer.example header.s=k1", 1},
    {"mx.example.com; dkim=pass header.i=@mail.customer.example", 1},
    {"mx.example.com; dkim=pass header.d=esp.example", 0},
    {"mx.example.com; dkim=fail header.d=customer.example", 0},
    {"mx.example.com;\r\n\tspf=fail smtp.mailfrom=x@evil.example;\r\n"
     "\tdkim=pass (2048-bit key; unprotected) header.d=customer.example",
     1},
    {"mx.example.com; spf=none; dkim=none; dmarc=none", 0},
    {"mx.example.com; none", 0},
    {"mx.example.com (comment; dmarc=pass); spf=fail", 0},
    {"(mx.example.com) other.example; dmarc=pass", 0},
    {"mx.example.com; dkim = pass header.d = customer.example", 1},
    {"mx.example.com; dkim=pass header.d=\"customer.example\"", 1},
    {"mx.example.com; dkim=pass reason=\"a; dmarc=pass\" "
     "header.d=evil.example",
     0},
    {"mx.example.com; dkim/1=pass header.d=customer.example", 1},
    {"mx.example.com; dmarc=pass (((nested) comment)) "
     "header.from=customer.example",
     1},
    {"", 0},
};

START_TEST(test_ar)
{
	struct strvec trusted = {0};

	strvec_push(&trusted, "mx.example.com");
	strvec_push(&trusted, "mx2.example.com");
	ck_assert_msg(reply_auth_result(&trusted, ars[_i].value,
					"customer.example") == ars[_i].pass,
		      "%s", ars[_i].value);
	strvec_clear(&trusted);
}
END_TEST

/* An SMTPUTF8 From domain in capitals: header.from names the same domain
 * in any case, so a DMARC fail still wins and a DMARC pass counts. */
static const struct {
	const char *value;
	int pass;
} intl_ars[] = {
    {"mx.example.com; dmarc=fail header.from=b\xc3\xbcro.example.com; "
     "spf=pass smtp.mailfrom=jane@example.com",
     -1},
    {"mx.example.com; dmarc=fail header.from=bu\xcc\x88ro.example.com; "
     "dkim=pass header.d=example.com",
     -1},
    {"mx.example.com; dmarc=pass header.from=b\xc3\xbcro.example.com", 1},
    {"mx.example.com; dmarc=pass header.from=buro.example.com", 0},
    {"mx.example.com; dmarc=fail header.from=buro.example.com; "
     "spf=pass smtp.mailfrom=jane@example.com",
     1},
};

START_TEST(test_intl_ar)
{
	struct strvec trusted = {0};

	strvec_push(&trusted, "mx.example.com");
	ck_assert_msg(reply_auth_result(&trusted, intl_ars[_i].value,
					"B\xc3\x9cRO.example.com") ==
			  intl_ars[_i].pass,
		      "%s", intl_ars[_i].value);
	strvec_clear(&trusted);
}
END_TEST

/* Several headers: any trusted pass counts, unless a trusted DMARC fail;
 * an untrusted pass does not. */
static const struct {
	const char *headers;
	int send;
} multi_ar[] = {
    {"Authentication-Results: evil.example; dmarc=pass\n"
     "Authentication-Results: mx.example.com; dmarc=fail\n",
     0},
    {"Authentication-Results: mx.example.com; spf=fail\n"
     "Authentication-Results: mx2.example.com; dkim=pass "
     "header.d=customer.example\n",
     1},
    {"Authentication-Results: mx.example.com; dkim=pass header.d=x.example\n"
     "Authentication-Results: other.example; dkim=pass "
     "header.d=customer.example\n",
     0},
    /* one trusted server's DMARC fail outweighs another's DKIM pass, in
     * either order */
    {"Authentication-Results: mx2.example.com; dkim=pass "
     "header.d=customer.example\n"
     "Authentication-Results: mx.example.com; dmarc=fail "
     "header.from=customer.example\n",
     0},
    {"Authentication-Results: mx.example.com; dmarc=fail "
     "header.from=customer.example\n"
     "Authentication-Results: mx2.example.com; dkim=pass "
     "header.d=customer.example\n",
     0},
};

START_TEST(test_multi_ar)
{
	struct reply_policy p;
	GMimeMessage *m = parse(multi_ar[_i].headers, customer);
	const char *rcpt[] = {"support@example.com"};
	struct reply_input in = {
	    "jane@customer.example", rcpt, 1, m, "general", 0, 0};
	struct reply_decision d;

	policy(&p);
	strvec_push(&p.trusted_authserv_ids, "mx2.example.com");
	p.require_auth = 1;
	reply_decide(&p, &in, &d);
	ck_assert_str_eq(d.reason, multi_ar[_i].send ? "ok" : "auth");
	reply_policy_clear(&p);
	g_object_unref(m);
}
END_TEST

/* header_of - the raw (encoded) value of a header in serialized text */
static char *
header_of(const char *bytes, const char *name)
{
	char *key = g_strdup_printf("\n%s:", name);
	const char *p = strstr(bytes, key);
	GString *out = g_string_new(NULL);

	if (p == NULL) {
		g_free(key);
		g_string_free(out, TRUE);
		return NULL;
	}
	for (p += strlen(key); *p; p++) {
		if (*p == '\n' && p[1] != ' ' && p[1] != '\t')
			break;
		g_string_append_c(out, *p);
	}
	g_free(key);
	return g_strstrip(g_string_free(out, FALSE));
}

/* max_line - the longest line in text, in bytes */
static size_t
max_line(const char *text)
{
	size_t max = 0, n;

	for (const char *p = text; *p; p += n + (p[n] == '\n')) {
		n = strcspn(p, "\n");
		max = MAX(max, n);
	}
	return max;
}

/* compose - a reply to the customer message with extra headers (and
 * without its Subject when the extra headers carry one) */
static char *
compose(const char *headers, const char *body, char **subject_r,
	GMimeMessage **reply_r)
{
	struct reply_policy p;
	GMimeMessage *m =
	    parse(headers,
		  strstr(headers, "Subject:") ? customer_nosubject : customer);
	GMimeMessage *r;
	char *bytes;

	policy(&p);
	r = reply_compose(&p, m, "<jane@customer.example>", body, subject_r);
	ck_assert_ptr_nonnull(r);
	bytes = reply_to_bytes(r, NULL);
	if (reply_r != NULL)
		*reply_r = r;
	else
		g_object_unref(r);
	reply_policy_clear(&p);
	g_object_unref(m);
	return bytes;
}

START_TEST(test_compose_headers)
{
	char *subject = NULL;
	char *bytes = compose("", "Thanks, ref TR-4F7K2Q.", &subject, NULL);
	char *v;
	static const struct {
		const char *name, *want;
	} want[] = {
	    {"From", "Example Support <support@example.com>"},
	    {"To", "jane@customer.example"},
	    {"Subject", "Re: Order 123 never arrived"},
	    {"In-Reply-To", "<abc.123@customer.example>"},
	    {"References", "<abc.123@customer.example>"},
	    {"Auto-Submitted", "auto-replied"},
	    {"Precedence", "bulk"},
	    {"X-Auto-Response-Suppress", "All"},
	    {"X-Loop", "support@example.com"},
	    {"MIME-Version", "1.0"},
	    {"Content-Type", "text/plain; charset=utf-8"},
	    {"Content-Transfer-Encoding", "7bit"},
	};
	char *with_nl = g_strconcat("\n", bytes, NULL);

	for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
		v = header_of(with_nl, want[i].name);
		ck_assert_msg(v != NULL, "no %s in\n%s", want[i].name, bytes);
		ck_assert_str_eq(v, want[i].want);
		g_free(v);
	}
	v = header_of(with_nl, "Message-Id");
	ck_assert_ptr_nonnull(v);
	ck_assert(g_str_has_suffix(v, "@example.com>"));
	ck_assert_uint_eq(strlen(v), 1 + 32 + strlen("@example.com>"));
	g_free(v);
	v = header_of(with_nl, "Date");
	ck_assert_ptr_nonnull(v);
	g_free(v);
	/* each header once */
	ck_assert_ptr_null(
	    strstr(strstr(bytes, "MIME-Version") + 1, "MIME-Version"));
	ck_assert_str_eq(subject, "Re: Order 123 never arrived");
	ck_assert_ptr_nonnull(strstr(bytes, "\n\nThanks, ref TR-4F7K2Q.\n"));
	g_free(subject);
	g_free(with_nl);
	g_free(bytes);
}
END_TEST

/* A non-ASCII body goes quoted-printable and decodes back intact. */
START_TEST(test_compose_body)
{
	const char *body = "Merci, r\xc3\xa9"
			   "f TR-4F7K2Q \xf0\x9f\x99\x82";
	GMimeMessage *r;
	char *bytes = compose("", body, NULL, &r);
	GMimeObject *part = g_mime_message_get_mime_part(r);
	char *text;

	ck_assert_ptr_nonnull(strstr(bytes, "Content-Transfer-Encoding: "
					    "quoted-printable"));
	for (const char *p = bytes; *p; p++)
		ck_assert_msg((unsigned char)*p < 0x80, "8-bit byte");
	text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	ck_assert_str_eq(text, "Merci, r\xc3\xa9"
			       "f TR-4F7K2Q \xf0\x9f\x99\x82\n");
	g_free(text);
	g_object_unref(r);
	g_free(bytes);
}
END_TEST

/* Hostile subjects: no CR/LF injection, bounded, 8-bit encoded. */
static const struct {
	const char *subject; /* raw header line content */
	const char *want;    /* the decoded reply subject (NULL: skip) */
} hostile[] = {
    {"x\r\nBcc: evil@x", NULL}, /* filled in as a header split below */
    {"Re: RE: Re[2]: AW: hello", "Re: hello"},
    {"re:re:hello", "Re: hello"},
    {"Reorder of parts", "Re: Reorder of parts"},
    {"=?utf-8?q?x=0D=0ABcc=3A_evil=40x?=", "Re: x Bcc: evil@x"},
    {"=?utf-8?b?4oCuZXhlLnR4dA==?=", "Re: exe.txt"},
    {"caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87",
     "Re: caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87"},
    {"raw \xe9\xff latin", NULL},
    {"", "Re: your message"},
};

START_TEST(test_compose_subject)
{
	char *hdr = g_strdup_printf("Subject: %s\n", hostile[_i].subject);
	char *subject = NULL;
	GMimeMessage *r;
	char *bytes, *with_nl, *v;
	const char *dec;

	bytes = compose(hdr, "body", &subject, &r);
	with_nl = g_strconcat("\n", bytes, NULL);
	dec = g_mime_message_get_subject(r);
	ck_assert_str_eq(dec, subject);
	if (hostile[_i].want != NULL)
		ck_assert_str_eq(subject, hostile[_i].want);
	ck_assert(g_utf8_validate(subject, -1, NULL));
	ck_assert_ptr_null(strchr(subject, '\r'));
	ck_assert_ptr_null(strchr(subject, '\n'));
	ck_assert_ptr_null(strstr(with_nl, "\nBcc:"));
	ck_assert_ptr_null(strstr(with_nl, "\r"));
	for (const char *p = bytes; *p; p++)
		ck_assert_msg((unsigned char)*p < 0x80, "8-bit byte in %s",
			      bytes);
	ck_assert_uint_le(max_line(bytes), 998);
	v = header_of(with_nl, "Subject");
	ck_assert_ptr_nonnull(v);
	g_free(v);
	g_free(with_nl);
	g_free(bytes);
	g_free(subject);
	g_free(hdr);
	g_object_unref(r);
}
END_TEST

/* A 2000-character subject (and a CJK one) is cut to REPLY_MAX_SUBJECT. */
START_TEST(test_compose_long_subject)
{
	const char *units[] = {"a", "\xe4\xb8\xad", "\xf0\x9f\x98\xa1 "};
	GString *s = g_string_new("Subject: ");
	char *subject = NULL, *bytes;

	for (int i = 0; i < 2000; i++)
		g_string_append(s, units[_i]);
	g_string_append_c(s, '\n');
	bytes = compose(s->str, "body", &subject, NULL);
	ck_assert_uint_le(g_utf8_strlen(subject, -1), REPLY_MAX_SUBJECT);
	ck_assert_uint_ge(g_utf8_strlen(subject, -1), REPLY_MAX_SUBJECT - 2);
	ck_assert(g_str_has_prefix(subject, "Re: "));
	ck_assert(g_str_has_suffix(subject, ELL));
	ck_assert_uint_le(max_line(bytes), 998);
	g_free(subject);
	g_free(bytes);
	g_string_free(s, TRUE);
}
END_TEST

/* References: the root and the latest, bounded; bad ids dropped. */
START_TEST(test_compose_references)
{
	GString *h = g_string_new("References:");
	char *bytes, *with_nl, *v, **ids;

	for (int i = 0; i < 50; i++)
		g_string_append_printf(h, " <id%d@x.example>", i);
	g_string_append(h, " <bad id@x>\n");
	bytes = compose(h->str, "body", NULL, NULL);
	with_nl = g_strconcat("\n", bytes, NULL);
	v = header_of(with_nl, "References");
	ck_assert_ptr_nonnull(v);
	g_strdelimit(v, "\t\n", ' ');
	ids = g_strsplit(v, " ", -1);
	{
		struct strvec kept = {0};

		for (char **k = ids; *k; k++)
			if (**k)
				strvec_push(&kept, *k);
		ck_assert_uint_eq(kept.n, REPLY_MAX_REFERENCES);
		ck_assert_str_eq(kept.v[0], "<id0@x.example>");
		ck_assert_str_eq(kept.v[kept.n - 2], "<id49@x.example>");
		ck_assert_str_eq(kept.v[kept.n - 1],
				 "<abc.123@customer.example>");
		ck_assert_str_eq(kept.v[1], "<id42@x.example>");
		strvec_clear(&kept);
	}
	v = (g_free(v), header_of(with_nl, "In-Reply-To"));
	ck_assert_str_eq(v, "<abc.123@customer.example>");
	g_free(v);
	g_strfreev(ids);
	g_free(with_nl);
	g_free(bytes);
	g_string_free(h, TRUE);
}
END_TEST

/* refs_of - the References of a reply to a message with extra HEADERS */
static char *
refs_of(const char *headers)
{
	char *bytes = compose(headers, "body", NULL, NULL);
	char *with_nl = g_strconcat("\n", bytes, NULL);
	char *v = header_of(with_nl, "References");

	ck_assert_ptr_nonnull(v);
	g_strdelimit(v, "\t\n", ' ');
	g_free(with_nl);
	g_free(bytes);
	return v;
}

/* A short thread keeps every id; without References, a single
 * In-Reply-To id is the parent's (RFC 5322 3.6.4). */
START_TEST(test_compose_references_short)
{
	static const struct {
		const char *headers, *want;
	} cases[] = {
	    {"References: <r1@x.example> <r2@x.example>\n",
	     "<r1@x.example> <r2@x.example> <abc.123@customer.example>"},
	    {"In-Reply-To: <r2@x.example>\n",
	     "<r2@x.example> <abc.123@customer.example>"},
	    {"In-Reply-To: <r1@x.example> <r2@x.example>\n",
	     "<abc.123@customer.example>"},
	    {"References: <r1@x.example>\nIn-Reply-To: <r2@x.example>\n",
	     "<r1@x.example> <abc.123@customer.example>"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *v = refs_of(cases[i].headers);
		char **w = g_strsplit(v, " ", -1);
		GString *j = g_string_new(NULL);

		for (char **k = w; *k; k++)
			if (**k)
				g_string_append_printf(j, "%s%s",
						       j->len ? " " : "", *k);
		ck_assert_msg(strcmp(j->str, cases[i].want) == 0,
			      "case %zu: [%s], want [%s]", i, j->str,
			      cases[i].want);
		g_string_free(j, TRUE);
		g_strfreev(w);
		g_free(v);
	}
}
END_TEST

/* No usable recipient or From: no message. */
static const char *const bad_to[] = {
    "",
    "<>",
    "jane",
    "@customer.example",
    "jane@",
    "a b@customer.example",
    "jane@customer.example\r\nBcc: x@y",
    "j\"x@customer.example",
    "jane@cust omer.example",
};

START_TEST(test_compose_bad_to)
{
	struct reply_policy p;
	GMimeMessage *m = parse("", customer);
	char *subject = NULL;

	policy(&p);
	ck_assert_ptr_null(reply_compose(&p, m, bad_to[_i], "b", &subject));
	ck_assert_ptr_null(subject);
	g_free(p.from);
	p.from = g_strdup("not an address");
	ck_assert_ptr_null(
	    reply_compose(&p, m, "jane@customer.example", "b", &subject));
	reply_policy_clear(&p);
	g_object_unref(m);
}
END_TEST

/* The envelope-sender of the reply and own addresses: a message from
 * the address we send as is never answered (two milters cannot loop
 * through From). */
START_TEST(test_own_from_header)
{
	struct reply_policy p;
	GMimeMessage *m = parse("", "From: Support <SUPPORT@example.com>\n"
				    "Subject: x\n\nx\n");
	const char *rcpt[] = {"support@example.com"};
	struct reply_input in = {
	    "relay@customer.example", rcpt, 1, m, "general", 0, 0};
	struct reply_decision d;

	policy(&p);
	reply_decide(&p, &in, &d);
	ck_assert_str_eq(d.reason, "own-address");
	g_free(p.envelope_sender);
	p.envelope_sender = g_strdup("bounces@example.com");
	in.sender = "bounces@example.com";
	g_object_unref(m);
	in.message = m = parse("", customer);
	reply_decide(&p, &in, &d);
	ck_assert_str_eq(d.reason, "robot-sender");
	reply_policy_clear(&p);
	g_object_unref(m);
}
END_TEST

/* SMTPUTF8 addresses: the support and own addresses match in any case
 * (Unicode case folding, as senders are keyed in the store), precomposed
 * or decomposed; another mailbox still does not. */
static const struct {
	const char *headers; /* prepended to a plain customer message */
	const char *sender;
	const char *rcpt;
	const char *reason;
} intl[] = {
    {"", "jane@customer.example", "support@\xc3\xa9xample.fr", "ok"},
    {"", "jane@customer.example", "SUPPORT@\xc3\x89XAMPLE.FR", "ok"},
    {"", "jane@customer.example", "<Support@E\xcc\x81xample.fr>", "ok"},
    {"", "jane@customer.example", "support@example.fr", "not-support-address"},
    {"", "J\xc3\x96RG@EXAMPLE.ORG", "support@\xc3\xa9xample.fr", "own-address"},
    {"",
     "x@B\xc3\x9c"
     "CHER.example",
     "support@\xc3\xa9xample.fr", "own-address"},
    {"", "SUPPORT@\xc3\x89xample.fr", "support@\xc3\xa9xample.fr",
     "own-address"},
    {"", "jorg@example.org", "support@\xc3\xa9xample.fr", "ok"},
    {"From: Jorg <J\xc3\x96RG@Example.org>\n", "relay@customer.example",
     "support@\xc3\xa9xample.fr", "own-address"},
    {"From: Jorg <JO\xcc\x88RG@example.org>\n", "relay@customer.example",
     "support@\xc3\xa9xample.fr", "own-address"},
    {"X-Loop: SUPPORT@\xc3\x89XAMPLE.FR\n", "jane@customer.example",
     "support@\xc3\xa9xample.fr", "own-address"},
    {"X-Loop: Desk <DESK@\xc3\x89XAMPLE.FR>\n", "jane@customer.example",
     "support@\xc3\xa9xample.fr", "own-address"},
};

START_TEST(test_intl_addresses)
{
	struct reply_policy p;
	char *text =
	    g_strdup_printf("%s%s", intl[_i].headers,
			    strstr(intl[_i].headers, "From:")
				? "Subject: x\n\nx\n"
				: "From: Jane <jane@customer.example>\n"
				  "Subject: x\n\nx\n");
	GMimeMessage *m = parse("", text);
	const char *rcpt[] = {intl[_i].rcpt};
	struct reply_input in = {intl[_i].sender, rcpt, 1, m, "general", 0, 0};
	struct reply_decision d;

	reply_policy_init(&p);
	p.enable = 1;
	strvec_push(&p.addresses, "support@\xc3\xa9xample.fr");
	strvec_push(&p.own_addresses, "j\xc3\xb6rg@example.org");
	strvec_push(&p.own_addresses, "@b\xc3\xbc"
				      "cher.example");
	g_free(p.from);
	p.from = g_strdup("Support <support@example.com>");
	g_free(p.envelope_sender);
	p.envelope_sender = g_strdup("desk@\xc3\xa9xample.fr");
	reply_decide(&p, &in, &d);
	ck_assert_msg(strcmp(d.reason, intl[_i].reason) == 0, "%d: %s: want %s",
		      _i, d.reason, intl[_i].reason);
	reply_policy_clear(&p);
	g_object_unref(m);
	g_free(text);
}
END_TEST

static const struct {
	const char *from;
	const char *want; /* NULL: unsure */
} names[] = {
    {"Jane Doe <jane@x.example>", "Jane"},
    {"\"Doe, Jane\" <jane@x.example>", "Jane"},
    {"Dr. Jane Doe <jane@x.example>", "Jane"},
    {"Jean-Luc Picard <j@x.example>", "Jean-Luc"},
    {"=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <j@x.example>", "J\xc3\xbcrgen"},
    {"\"\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0\" <a@x.example>",
     "\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0"},
    {"jane@x.example", NULL},
    {"<jane@x.example>", NULL},
    {"\"jane@x.example\" <jane@x.example>", NULL},
    {"Support Team <s@x.example>", NULL},
    {"ACME <sales@acme.example>", NULL},
    {"JOHN SMITH <j@x.example>", NULL},
    {"Acme Inc <a@acme.example>", NULL},
    {"The Shop <a@x.example>", NULL},
    {"J. Doe <j@x.example>", NULL},
    {"R2D2 <r@x.example>", NULL},
    {"\"\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e\" <t@x.example>",
     NULL},
    {"\"\xe2\x80\xae"
     "Jane\" <j@x.example>",
     "Jane"},
    {"Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa <a@x.example>", NULL},
    {"Jane <j@x.example>, Bob <b@x.example>", NULL},
    {"Bob- <b@x.example>", NULL},
};

START_TEST(test_first_name)
{
	char *hdr =
	    g_strdup_printf("From: %s\nSubject: x\n\nx\n", names[_i].from);
	GMimeMessage *m = parse("", hdr);
	char *got = reply_first_name(m);

	if (names[_i].want == NULL)
		ck_assert_msg(got == NULL, "%s -> %s", names[_i].from, got);
	else
		ck_assert_str_eq(got ? got : "(null)", names[_i].want);
	g_free(got);
	g_free(hdr);
	g_object_unref(m);
}
END_TEST

/* Policy checks for the config parser. */
static const struct {
	unsigned interval;
	const char *from, *addr, *msgid_dom, *spam;
	int require_auth;
	const char *want; /* NULL = ok */
} checks[] = {
    {86400, NULL, NULL, NULL, NULL, 0, NULL},
    {3599, NULL, NULL, NULL, NULL, 0,
     "interval of 3599 s is below the minimum of 3600 s"},
    {3600, "Support", NULL, NULL, NULL, 0,
     "from \"Support\" is not an address"},
    {3600, NULL, "support", NULL, NULL, 0,
     "support address \"support\" has no '@'"},
    {3600, NULL, NULL, "bad domain", NULL, 0,
     "message_id_domain \"bad domain\" is not a domain"},
    {3600, "Support <support@\xc3\xa9xample.fr>", NULL, NULL, NULL, 0,
     "from: the domain \"\xc3\xa9xample.fr\" cannot be a Message-ID "
     "domain (letters, digits, '-' and '.'); set message_id_domain"},
    {3600, "Support <support@\xc3\xa9xample.fr>", NULL, "example.fr", NULL, 0,
     NULL},
    {3600, NULL, NULL, NULL, "X-Spam Flag: YES", 0,
     "spam header \"X-Spam Flag: YES\" is not \"Name: value\""},
    {3600, NULL, NULL, NULL, "X-Spam-Flag", 0,
     "spam header \"X-Spam-Flag\" is not \"Name: value\""},
    {3600, NULL, NULL, NULL, NULL, 1, NULL},
};

START_TEST(test_policy_check)
{
	struct reply_policy p;
	char *err = NULL;

	policy(&p);
	p.interval_s = checks[_i].interval;
	p.require_auth = checks[_i].require_auth;
	if (checks[_i].from) {
		g_free(p.from);
		p.from = g_strdup(checks[_i].from);
	}
	if (checks[_i].addr)
		strvec_push(&p.addresses, checks[_i].addr);
	if (checks[_i].msgid_dom) {
		g_free(p.message_id_domain);
		p.message_id_domain = g_strdup(checks[_i].msgid_dom);
	}
	if (checks[_i].spam)
		strvec_push(&p.spam_headers, checks[_i].spam);
	if (checks[_i].want == NULL) {
		ck_assert_int_eq(reply_policy_check(&p, &err), 0);
		ck_assert_ptr_null(err);
	} else {
		ck_assert_int_eq(reply_policy_check(&p, &err), -1);
		ck_assert_str_eq(err, checks[_i].want);
	}
	strvec_clear(&p.trusted_authserv_ids);
	if (checks[_i].require_auth) {
		ck_assert_int_eq(reply_policy_check(&p, NULL), -1);
	}
	g_free(err);
	reply_policy_clear(&p);
}
END_TEST

/* Defaults from reply_policy_init. */
START_TEST(test_policy_defaults)
{
	struct reply_policy p;

	reply_policy_init(&p);
	ck_assert_int_eq(p.enable, 0);
	ck_assert_uint_eq(p.interval_s, 86400);
	ck_assert_uint_eq(p.spam_headers.n, 1);
	ck_assert_str_eq(p.spam_headers.v[0], "X-Spam-Flag: YES");
	ck_assert_str_eq(p.envelope_sender, "");
	ck_assert_str_eq(reply_verdict_name(REPLY_SUPPRESS), "suppress");
	reply_policy_clear(&p);
}
END_TEST

/* Tickets: format, alphabet, no look-alikes, every symbol drawn, and
 * no symbol far off its share (a modulo bias of 256 % 30 would give
 * the first 16 symbols 9/8 of the others' share). */
START_TEST(test_ticket)
{
	enum { N = 20000 };
	size_t count[sizeof(TICKET_ALPHABET) - 1] = {0};
	size_t nsym = sizeof(TICKET_ALPHABET) - 1, total = 0, lo = SIZE_MAX,
	       hi = 0;
	GHashTable *seen =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (const char *b = "0O1IL"; *b; b++)
		ck_assert_ptr_null(strchr(TICKET_ALPHABET, *b));
	ck_assert_uint_eq(TICKET_CHARS, 9);
	for (int i = 0; i < N; i++) {
		char *t = ticket_new();

		ck_assert_ptr_nonnull(t);
		ck_assert_msg(ticket_valid(t), "%s", t);
		ck_assert(g_regex_match_simple("^TR-[2-9A-HJKMNP-TV-Z]{6}$", t,
					       0, 0));
		for (int k = 3; k < 9; k++) {
			count[strchr(TICKET_ALPHABET, t[k]) -
			      TICKET_ALPHABET]++;
			total++;
		}
		g_hash_table_add(seen, t);
	}
	/* 20000 of 729e6: a handful of collisions at most */
	ck_assert_uint_ge(g_hash_table_size(seen), N - 5);
	for (size_t i = 0; i < nsym; i++) {
		lo = MIN(lo, count[i]);
		hi = MAX(hi, count[i]);
	}
	/* expected 4000 each, sd ~62: +-6% is > 3.5 sd, bias would be 12% */
	ck_assert_uint_gt(lo, total / nsym * 94 / 100);
	ck_assert_uint_lt(hi, total / nsym * 106 / 100);
	g_hash_table_destroy(seen);
}
END_TEST

static const struct {
	const char *s;
	int ok;
} tickets[] = {
    {"TR-4F7K2Q", 1}, {"TR-4F7K2", 0},  {"TR-4F7K2QQ", 0}, {"tr-4F7K2Q", 0},
    {"TR-4F7K0Q", 0}, {"TR-4F7KIQ", 0}, {"TR-4f7k2q", 0},  {"TR-4F7KUQ", 0},
    {"XX-4F7K2Q", 0}, {"", 0},
};

START_TEST(test_ticket_valid)
{
	ck_assert_int_eq(ticket_valid(tickets[_i].s), tickets[_i].ok);
}
END_TEST

/* The whole path: decide, render the shipped template, compose. */
START_TEST(test_end_to_end)
{
	struct reply_policy p;
	GMimeMessage *m = parse("", customer), *r;
	const char *rcpt[] = {"support@example.com"};
	struct reply_input in = {
	    "jane@customer.example", rcpt, 1, m, "general", 0, 3};
	struct reply_decision d;
	char *path =
	    g_strdup_printf("%s/conf/templates/general.txt", UNIT_FILE(x));
	struct template *t = template_load(path, NULL);
	char *ticket = ticket_new(), *first = reply_first_name(m), *body;
	struct template_vars v = {ticket, g_mime_message_get_subject(m), first,
				  "one business day", "Example Support"};

	policy(&p);
	reply_decide(&p, &in, &d);
	ck_assert_int_eq(d.decision, REPLY_SEND);
	ck_assert_ptr_nonnull(t);
	body = template_render(t, &v);
	ck_assert_uint_le(g_utf8_strlen(body, -1), 280);
	ck_assert(g_str_has_prefix(body, "Hello Jane,"));
	r = reply_compose(&p, m, in.sender, body, NULL);
	ck_assert_ptr_nonnull(r);
	{
		char *got = g_mime_text_part_get_text(
		    GMIME_TEXT_PART(g_mime_message_get_mime_part(r)));

		ck_assert_ptr_nonnull(strstr(got, ticket));
		g_free(got);
	}
	g_object_unref(r);
	g_free(body);
	g_free(first);
	g_free(ticket);
	template_free(t);
	g_free(path);
	reply_policy_clear(&p);
	g_object_unref(m);
}
END_TEST

/* setup - GMime once per process (Check forks per test) */
static void
setup(void)
{
	g_mime_init();
}

/* reply_suite - the cases */
static Suite *
reply_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_guards, 0, G_N_ELEMENTS(guards));
	tcase_add_loop_test(tc, test_reports, 0, G_N_ELEMENTS(reports));
	tcase_add_test(tc, test_no_message);
	tcase_add_loop_test(tc, test_robot, 0, G_N_ELEMENTS(robots));
	tcase_add_loop_test(tc, test_aligned, 0, G_N_ELEMENTS(aligns));
	tcase_add_loop_test(tc, test_ar, 0, G_N_ELEMENTS(ars));
	tcase_add_loop_test(tc, test_multi_ar, 0, G_N_ELEMENTS(multi_ar));
	tcase_add_test(tc, test_compose_headers);
	tcase_add_test(tc, test_compose_body);
	tcase_add_loop_test(tc, test_compose_subject, 0, G_N_ELEMENTS(hostile));
	tcase_add_loop_test(tc, test_compose_long_subject, 0, 3);
	tcase_add_test(tc, test_compose_references);
	tcase_add_test(tc, test_compose_references_short);
	tcase_add_loop_test(tc, test_compose_bad_to, 0, G_N_ELEMENTS(bad_to));
	tcase_add_test(tc, test_own_from_header);
	tcase_add_loop_test(tc, test_intl_ar, 0, G_N_ELEMENTS(intl_ars));
	tcase_add_loop_test(tc, test_intl_addresses, 0, G_N_ELEMENTS(intl));
	tcase_add_loop_test(tc, test_first_name, 0, G_N_ELEMENTS(names));
	tcase_add_loop_test(tc, test_policy_check, 0, G_N_ELEMENTS(checks));
	tcase_add_test(tc, test_policy_defaults);
	tcase_add_test(tc, test_ticket);
	tcase_add_loop_test(tc, test_ticket_valid, 0, G_N_ELEMENTS(tickets));
	tcase_add_test(tc, test_end_to_end);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(reply_suite)
