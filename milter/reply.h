/*
 * reply.h - when to acknowledge a message, and the acknowledgment itself
 *
 * reply_decide() runs the RFC 3834 guards in a fixed order and stops at
 * the first that trips; its reason is a stable token (below) that goes
 * into "X-Triage-Ack: suppressed; reason=TOKEN", the log and the JSON
 * output.  The store is the caller's: it passes whether a dedup mark
 * exists and how many acknowledgments left in the last hour (-1 when
 * the store cannot tell), and marks dedup only after the hand-off.
 *
 * reply_compose() builds the acknowledgment as a GMimeMessage addressed
 * to the envelope sender (RFC 3834 section 4); reply_to_bytes()
 * serializes it with LF line ends for sendmail -i or an SMTP client.
 *
 * Pure and thread-safe: no logging, no globals but const tables.  The
 * original message is only read.
 */
#ifndef TRIAGE_REPLY_H
#define TRIAGE_REPLY_H

#include <stddef.h>

#include <gmime/gmime.h>

#include "strvec.h"

/* Defaults and bounds, with the reason beside each. */
/* One acknowledgment per sender and template per day: a customer who
 * writes five times in an hour is told once. */
#define REPLY_DEF_INTERVAL_S 86400
/* Below an hour two auto-responders can still ping-pong all day. */
#define REPLY_MIN_INTERVAL_S 3600
/* A busy support desk gets a few hundred new senders a day; a spike
 * above this is a forged-sender run we should not amplify. */
#define REPLY_DEF_MAX_PER_HOUR 100
#define REPLY_DEF_SPAM_HEADER "X-Spam-Flag: YES"
/* Fits a mail client's message list; the encoded form stays small. */
#define REPLY_MAX_SUBJECT 120
/* References kept: the thread root and the latest REPLY_MAX_REFERENCES
 * - 1; enough for every client to thread, bounded against 100 KB
 * References headers. */
#define REPLY_MAX_REFERENCES 10
/* A Message-ID longer than this is not one a client made. */
#define REPLY_MAX_MSGID 250
/* Longer "first names" are not names. */
#define REPLY_MAX_FIRST_NAME 24
/* MIME walk bounds for the report guard (as the config defaults). */
#define REPLY_MAX_MIME_DEPTH 20
#define REPLY_MAX_MIME_PARTS 200
/* Authentication-Results headers looked at, and their size: a trusted
 * MTA adds one or two of a few hundred bytes. */
#define REPLY_MAX_AR_HEADERS 32
#define REPLY_MAX_AR_BYTES 8192

/* Reason tokens, in guard order (stable API). */
#define REPLY_R_OFF "off"
#define REPLY_R_NOT_SUPPORT "not-support-address"
#define REPLY_R_NULL_SENDER "null-sender"
#define REPLY_R_ROBOT "robot-sender"
#define REPLY_R_OWN "own-address"
#define REPLY_R_NO_MESSAGE "no-message"
#define REPLY_R_AUTO_SUBMITTED "auto-submitted"
#define REPLY_R_LIST "list"
#define REPLY_R_PRECEDENCE "precedence"
#define REPLY_R_ARS "auto-response-suppress"
#define REPLY_R_REPORT "report"
#define REPLY_R_SPAM "spam"
#define REPLY_R_NO_TEMPLATE "no-template"
#define REPLY_R_AUTH "auth"
#define REPLY_R_DUPLICATE "duplicate"
#define REPLY_R_STORE "store-unavailable"
#define REPLY_R_RATE "rate-limit"
#define REPLY_R_OK "ok"

/* Filled by the config parser; reply_policy_init() sets the defaults.
 * Addresses are compared lowercased and exactly. */
struct reply_policy {
	int enable;
	/* envelope recipients that may get replies: "support@example.com",
	 * or "@example.com" for every address of a domain */
	struct strvec addresses;
	/* our own senders; the address in from and envelope_sender and
	 * the support addresses count as our own too */
	struct strvec own_addresses;
	char *from; /* "Example Support <support@example.com>" */
	unsigned interval_s;
	unsigned max_per_hour; /* 0 = none at all */
	int require_auth;
	struct strvec trusted_authserv_ids; /* case-insensitive */
	/* "Name: value-prefix": trips when a header Name has a value that
	 * starts with value-prefix (case-insensitive, blanks trimmed); an
	 * empty prefix trips on the header's presence */
	struct strvec spam_headers;
	char *envelope_sender;   /* "" = null sender <> */
	char *message_id_domain; /* "" = the domain of from */
};

struct reply_input {
	const char *sender;            /* envelope sender, with or without <> */
	const char *const *recipients; /* envelope recipients */
	size_t n_recipients;
	const GMimeMessage *message;
	const char *template_name; /* from the route; NULL or "" = none */
	int dedup_present;         /* 1 yes, 0 no, -1 unknown (store down) */
	long sent_last_hour;       /* -1 unknown (store down) */
};

enum reply_verdict { REPLY_OFF, REPLY_SUPPRESS, REPLY_SEND };

struct reply_decision {
	enum reply_verdict decision;
	const char *reason; /* a REPLY_R_* token, static */
};

void reply_policy_init(struct reply_policy *p);
void reply_policy_clear(struct reply_policy *p);
int reply_policy_check(const struct reply_policy *p, char **error_r);

void reply_decide(const struct reply_policy *p, const struct reply_input *in,
		  struct reply_decision *out);
const char *reply_verdict_name(enum reply_verdict v);

GMimeMessage *reply_compose(const struct reply_policy *p,
			    const GMimeMessage *orig, const char *to,
			    const char *body, char **subject_r);
char *reply_to_bytes(GMimeMessage *reply, size_t *len_r);
char *reply_first_name(const GMimeMessage *m);

/* The parts of the guards worth testing alone. */
int reply_is_robot(const char *address);
int reply_domain_aligned(const char *a, const char *b);
/* 1 trusted pass aligned with from_domain, -1 trusted dmarc=fail, else 0 */
int reply_auth_result(const struct strvec *trusted, const char *value,
		      const char *from_domain);

#endif
