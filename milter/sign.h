/*
 * sign.h - X-Triage-Signature: an HMAC-SHA256 over the verdict headers
 *
 * The milter signs the X-Triage-* headers it adds, the Message-ID and the
 * queue id, so whatever handles the mail after it (a helpdesk, a Sieve
 * script, `triage-milter --verify`) can tell genuine triage headers from
 * ones added or changed later.  This module owns the key files, the
 * canonical form, the header value and the verification of a delivered
 * message.  It is pure: no logging, no globals, no libmilter; a loaded
 * key set is read-only and may be shared by any number of threads.
 *
 * Key file: base64 text (line breaks and blanks ignored) of 32 to 64
 * random bytes, e.g. one line from `openssl rand -base64 32` or
 * sign_key_generate().  A regular file, not a symbolic link, owned by the
 * effective user that loads it, with no group or other permissions (0600
 * or 0400).  Key ids are 1-32 of [A-Za-z0-9._-].
 *
 * Header value (one line, ASCII, shorter than SIGN_MAX_VALUE):
 *
 *   v=1; kid=KID; h=Name1:Name2:...; q=QUEUEID; b=BASE64
 *
 * h= names the X-Triage-* headers the milter added, in the order signed
 * (never X-Triage-Signature itself); q= is the MTA queue id (0-64
 * printable ASCII characters, no blank or ';'); b= is the base64 of the
 * 32-byte HMAC-SHA256, keyed with the secret of KID, over the bytes
 *
 *   for each name N in h=, in order:
 *       lowercase(N) ":" canon(value of N) CRLF
 *   "message-id:" msgid(Message-ID) CRLF
 *   "queue-id:" QUEUEID CRLF
 *   "x-triage-signature:v=1; kid=KID; h=" lowercase(h list) "; q=QUEUEID; b="
 *
 * canon(v): every run of SP, HTAB, CR and LF becomes one SP, then leading
 * and trailing SP are removed - so refolding and the space after the
 * colon do not matter, any other change does.  msgid(v): all SP, HTAB,
 * CR and LF removed, then, when a '<' is followed later by a '>', only
 * what lies between the first '<' and the next '>'; the empty string when
 * the message has no Message-ID.  The last line has no CRLF; it is
 * rebuilt from the parsed tags, so blanks inside the signature header do
 * not matter either.
 *
 * Verification reads the header section of the delivered message only
 * (LF or CRLF line ends, or a file with CR only), with the first
 * Message-ID.  GENUINE needs: exactly one X-Triage-Signature, v=1, a
 * configured kid, every h= header present exactly once, no other
 * X-Triage-* header, and the HMAC to match (compared in constant time).
 *
 * Limits: the body is not signed, so the headers of one message, with its
 * Message-ID, can be replayed onto another; a Message-ID added after
 * signing to a message that had none breaks the signature; a header
 * section with NUL bytes or with a CR that does not end a line cannot be
 * judged (SIGN_UNKNOWN).
 */
#ifndef TRIAGE_SIGN_H
#define TRIAGE_SIGN_H

#include <stddef.h>

#define SIGN_HEADER "X-Triage-Signature"
/* Well under RFC 5322's 998-byte line limit, name included. */
#define SIGN_MAX_VALUE 900
/* Key ids are short tokens that fit a header tag and a config string. */
#define SIGN_KID_MAX 32

/* sign_key_spec - one configured key: its id and the file holding it */
struct sign_key_spec {
	const char *key_id;
	const char *key_file;
};

/* sign_result - what a delivered message's signature says; exit codes */
enum sign_result {
	SIGN_GENUINE = 0, /* the triage headers are the milter's */
	SIGN_FORGED = 1,  /* something was added, removed or changed */
	SIGN_UNKNOWN = 2  /* cannot tell: no signature, unknown key, ... */
};

struct sign_keys;

int sign_kid_valid(const char *kid);
struct sign_keys *sign_keys_load(const struct sign_key_spec *specs, size_t n,
				 const char *signing_kid, char **error_r);
struct sign_keys *sign_keys_free(struct sign_keys *k);
int sign_key_generate(const char *path, char **error_r);
char *sign_message_id(const char *msg, size_t len);
char *sign_header_value(const struct sign_keys *k, const char *const *names,
			const char *const *values, size_t n,
			const char *message_id, const char *queue_id);
enum sign_result sign_verify_message(const struct sign_keys *k, const char *msg,
				     size_t len, char **detail_r);

#endif
