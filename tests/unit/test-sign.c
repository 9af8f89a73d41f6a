/*
 * test-sign.c - key files, signing, and verifying delivered messages
 *
 * Each case gets a scratch directory with two fresh keys, A and B.  The
 * tampering cases start from one genuine message and change one thing;
 * the canonical-form case recomputes the HMAC from the description in
 * sign.h alone, so the documentation and the code cannot drift apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sign.h"
#include "unit.h"

#define QID "QID1"
#define MSGID "<abc.123@example.com>"
#define THREADS 8
#define ROUNDS 200
#define NOBODY 65534

static const char *const names[] = {"X-Triage-Flags", "X-Triage-Route",
				    "X-Triage-Score"};
static const char *const values[] = {"abusive, legal-threat", "legal",
				     "abusive=7.0/5.0 legal=6.5/5.0"};

static struct {
	char *tmp;            /* scratch directory */
	char *a, *b;          /* key files of keys A and B */
	struct sign_keys *ka; /* A, signs with A */
} fx;

/* path_in - a file name in the scratch directory (caller frees) */
static char *
path_in(const char *name)
{
	return g_build_filename(fx.tmp, name, NULL);
}

static void
setup(void)
{
	char *err = NULL;
	struct sign_key_spec spec;

	fx.tmp = g_dir_make_tmp("test-sign-XXXXXX", NULL);
	ck_assert_ptr_nonnull(fx.tmp);
	fx.a = path_in("a.key");
	fx.b = path_in("b.key");
	ck_assert_msg(sign_key_generate(fx.a, &err) == 0, "gen: %s", err);
	ck_assert_msg(sign_key_generate(fx.b, &err) == 0, "gen: %s", err);
	spec.key_id = "A";
	spec.key_file = fx.a;
	fx.ka = sign_keys_load(&spec, 1, "A", &err);
	ck_assert_msg(fx.ka != NULL, "load: %s", err);
}

static void
teardown(void)
{
	GDir *d = g_dir_open(fx.tmp, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		char *p = path_in(name);

		if (g_remove(p) < 0)
			rmdir(p);
		g_free(p);
	}
	if (d != NULL)
		g_dir_close(d);
	rmdir(fx.tmp);
	fx.ka = sign_keys_free(fx.ka);
	g_free(fx.a);
	g_free(fx.b);
	g_free(fx.tmp);
}

/* load_ab - keys A and B, signing with signer (NULL: verify only) */
static struct sign_keys *
load_ab(const char *signer)
{
	struct sign_key_spec spec[] = {{"A", fx.a}, {"B", fx.b}};
	char *err = NULL;
	struct sign_keys *k = sign_keys_load(spec, 2, signer, &err);

	ck_assert_msg(k != NULL, "load: %s", err);
	return k;
}

/* load_one - one key under an id, signing with it */
static struct sign_keys *
load_one(const char *kid, const char *file)
{
	struct sign_key_spec spec = {kid, file};
	char *err = NULL;
	struct sign_keys *k = sign_keys_load(&spec, 1, kid, &err);

	ck_assert_msg(k != NULL, "load: %s", err);
	return k;
}

/* make_message - a delivered message with the three headers signed by k */
static char *
make_message(const struct sign_keys *k, const char *msgid, const char *qid)
{
	char *sig = sign_header_value(k, names, values, G_N_ELEMENTS(names),
				      msgid, qid);
	char *msg;

	ck_assert_ptr_nonnull(sig);
	msg = g_strdup_printf(
	    "Received: from mx.example.com by mail.example.com\r\n"
	    "From: Customer <c@example.com>\r\n"
	    "To: support@example.com\r\n"
	    "Subject: hello\r\n"
	    "%s%s%s"
	    "X-Triage-Flags: %s\r\n"
	    "X-Triage-Route: %s\r\n"
	    "X-Triage-Score: %s\r\n"
	    "X-Triage-Signature: %s\r\n"
	    "\r\n"
	    "body\r\n",
	    msgid != NULL ? "Message-ID: " : "", msgid != NULL ? msgid : "",
	    msgid != NULL ? "\r\n" : "", values[0], values[1], values[2], sig);
	g_free(sig);
	return msg;
}

/* replace - s with the first from replaced by to; from must occur */
static char *
replace(char *s, const char *from, const char *to)
{
	char *at = strstr(s, from);
	char *out;

	ck_assert_msg(at != NULL, "\"%s\" not in the message", from);
	out = g_strdup_printf("%.*s%s%s", (int)(at - s), s, to,
			      at + strlen(from));
	g_free(s);
	return out;
}

/* verify - sign_verify_message on a C string, the detail kept */
static enum sign_result
verify(const struct sign_keys *k, const char *msg, char **detail_r)
{
	return sign_verify_message(k, msg, strlen(msg), detail_r);
}

START_TEST(test_round_trip)
{
	char *msg = make_message(fx.ka, MSGID, QID);
	char *detail = NULL;

	ck_assert_int_eq(verify(fx.ka, msg, &detail), SIGN_GENUINE);
	ck_assert_msg(strstr(detail, "genuine") != NULL &&
			  strstr(detail, "key A") != NULL &&
			  strstr(detail, QID) != NULL,
		      "detail: %s", detail);
	g_free(detail);
	/* detail_r is optional */
	ck_assert_int_eq(verify(fx.ka, msg, NULL), SIGN_GENUINE);
	g_free(msg);
}
END_TEST

START_TEST(test_value_shape)
{
	char *v = sign_header_value(fx.ka, names, values, G_N_ELEMENTS(names),
				    MSGID, QID);
	const char *want = "v=1; kid=A; h=X-Triage-Flags:X-Triage-Route:"
			   "X-Triage-Score; q=" QID "; b=";

	ck_assert_ptr_nonnull(v);
	ck_assert_msg(g_str_has_prefix(v, want), "value: %s", v);
	ck_assert_uint_eq(strlen(v), strlen(want) + 44);
	for (const char *p = v; *p; p++)
		ck_assert_msg(*p >= 0x20 && *p < 0x7f, "not ASCII: %s", v);
	g_free(v);
}
END_TEST

/*
 * The canonical form, rebuilt from sign.h's description alone.  The
 * values given to the signer carry folds and blanks that the canonical
 * form must remove.
 */
START_TEST(test_canonical_form)
{
	static const char *const raw[] = {"  abusive,\r\n\t legal-threat ",
					  "legal",
					  "abusive=7.0/5.0\t\tlegal=6.5/5.0"};
	const char *canon = "x-triage-flags:abusive, legal-threat\r\n"
			    "x-triage-route:legal\r\n"
			    "x-triage-score:abusive=7.0/5.0 legal=6.5/5.0\r\n"
			    "message-id:abc.123@example.com\r\n"
			    "queue-id:" QID "\r\n"
			    "x-triage-signature:v=1; kid=A; h=x-triage-flags:"
			    "x-triage-route:x-triage-score; q=" QID "; b=";
	char *text, *b64;
	gsize text_len, key_len;
	guchar *key;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char *v = sign_header_value(fx.ka, names, raw, G_N_ELEMENTS(names),
				    " <abc.123@example.com>\r\n ", QID);

	ck_assert_ptr_nonnull(v);
	ck_assert(g_file_get_contents(fx.a, &text, &text_len, NULL));
	key = g_base64_decode(g_strstrip(text), &key_len);
	ck_assert_uint_eq(key_len, 32);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)key_len,
				   (const unsigned char *)canon, strlen(canon),
				   mac, &mac_len));
	b64 = g_base64_encode(mac, mac_len);
	ck_assert_str_eq(strstr(v, "; b=") + 4, b64);
	g_free(b64);
	g_free(key);
	g_free(text);
	g_free(v);
}
END_TEST

/* One change to the genuine message, and what verification must say. */
static const struct {
	const char *what;
	const char *from, *to;
	const char *from2, *to2; /* a second change, or NULL */
	enum sign_result want;
	const char *detail;
} tamper[] = {
    {"value changed", "X-Triage-Route: legal", "X-Triage-Route: sales", NULL,
     NULL, SIGN_FORGED, "mismatch"},
    {"value case changed", "X-Triage-Route: legal", "X-Triage-Route: Legal",
     NULL, NULL, SIGN_FORGED, "mismatch"},
    {"blank removed inside a value", "abusive, legal", "abusive,legal", NULL,
     NULL, SIGN_FORGED, "mismatch"},
    {"header removed", "X-Triage-Route: legal\r\n", "", NULL, NULL, SIGN_FORGED,
     "X-Triage-Route is missing"},
    {"header moved into the body", "X-Triage-Route: legal\r\n", "", "\r\nbody",
     "\r\nX-Triage-Route: legal\r\nbody", SIGN_FORGED, "missing"},
    {"header duplicated", "X-Triage-Route: legal\r\n",
     "X-Triage-Route: legal\r\nX-Triage-Route: legal\r\n", NULL, NULL,
     SIGN_FORGED, "appears 2 times"},
    {"extra X-Triage-* header", "Subject: hello\r\n",
     "Subject: hello\r\nX-Triage-Priority: high\r\n", NULL, NULL, SIGN_FORGED,
     "X-Triage-Priority is not covered"},
    {"extra header after a line without colon", "Subject: hello\r\n",
     "Subject: hello\r\nnot a header\r\nx-triage-priority: high\r\n", NULL,
     NULL, SIGN_FORGED, "not covered"},
    {"Message-ID changed", "<abc.123@", "<abd.123@", NULL, NULL, SIGN_FORGED,
     "mismatch"},
    {"Message-ID added before the first", "Subject: hello\r\n",
     "Subject: hello\r\nMessage-ID: <other@example.com>\r\n", NULL, NULL,
     SIGN_FORGED, "mismatch"},
    {"Message-ID removed", "Message-ID: " MSGID "\r\n", "", NULL, NULL,
     SIGN_FORGED, "mismatch"},
    {"q changed", "q=" QID ";", "q=QID2;", NULL, NULL, SIGN_FORGED, "mismatch"},
    {"q emptied", "q=" QID ";", "q=;", NULL, NULL, SIGN_FORGED, "mismatch"},
    {"kid unknown", "kid=A;", "kid=C;", NULL, NULL, SIGN_UNKNOWN,
     "key C not configured"},
    {"signature missing", "X-Triage-Signature:", "X-Old-Signature:", NULL, NULL,
     SIGN_UNKNOWN, "no signature"},
    {"two signatures", "Subject: hello\r\n",
     "Subject: hello\r\nX-Triage-Signature: v=1; kid=A; h=; q=; b=x\r\n", NULL,
     NULL, SIGN_FORGED, "2 X-Triage-Signature headers"},
    {"garbage b=", "b=", "b=!!", NULL, NULL, SIGN_FORGED, "b= is not"},
    {"b= renamed", "b=", "x=", NULL, NULL, SIGN_FORGED, "unknown tag x="},
    {"unsupported version", "v=1;", "v=2;", NULL, NULL, SIGN_UNKNOWN,
     "v=2 is not supported"},
    {"no version", "v=1; ", "", NULL, NULL, SIGN_FORGED, "no v= tag"},
    {"tag twice", "kid=A;", "kid=A; kid=A;", NULL, NULL, SIGN_FORGED,
     "kid= twice"},
    {"tag without =", "kid=A;", "kid=A; junk;", NULL, NULL, SIGN_FORGED,
     "without '='"},
    {"unknown tag", "; b=", "; t=1; b=", NULL, NULL, SIGN_FORGED,
     "unknown tag t="},
    {"h= shortened with its header", "h=X-Triage-Flags:X-Triage-Route:",
     "h=X-Triage-Flags:", "X-Triage-Route: legal\r\n", "", SIGN_FORGED,
     "mismatch"},
    {"h= reordered", "h=X-Triage-Flags:X-Triage-Route:",
     "h=X-Triage-Route:X-Triage-Flags:", NULL, NULL, SIGN_FORGED, "mismatch"},
    {"h= names a header twice", "h=X-Triage-Flags:",
     "h=X-Triage-Flags:x-triage-flags:", NULL, NULL, SIGN_FORGED, "twice"},
    {"h= names the signature",
     "h=X-Triage-Flags:", "h=X-Triage-Signature:X-Triage-Flags:", NULL, NULL,
     SIGN_FORGED, "not a signed"},
    {"h= names another header", "h=X-Triage-Flags:",
     "h=Subject:X-Triage-Flags:", NULL, NULL, SIGN_FORGED, "not a signed"},
    {"h= empty", "h=X-Triage-Flags:X-Triage-Route:X-Triage-Score;", "h=;", NULL,
     NULL, SIGN_FORGED, "not covered"},
    {"bare CR in the header section", "Subject: hello\r\n",
     "Subject: hel\rlo\r\n", NULL, NULL, SIGN_UNKNOWN, "CR"},
};

START_TEST(test_tamper)
{
	char *msg = make_message(fx.ka, MSGID, QID);
	char *detail = NULL;
	enum sign_result r;

	msg = replace(msg, tamper[_i].from, tamper[_i].to);
	if (tamper[_i].from2 != NULL)
		msg = replace(msg, tamper[_i].from2, tamper[_i].to2);
	r = verify(fx.ka, msg, &detail);
	ck_assert_msg(r == tamper[_i].want, "%s: got %d (%s)", tamper[_i].what,
		      r, detail);
	ck_assert_msg(strstr(detail, tamper[_i].detail) != NULL,
		      "%s: detail \"%s\" lacks \"%s\"", tamper[_i].what, detail,
		      tamper[_i].detail);
	ck_assert_ptr_null(strchr(detail, '\n'));
	g_free(detail);
	g_free(msg);
}
END_TEST

/* b= of the right length with one character changed */
START_TEST(test_tamper_b_one_char)
{
	char *msg = make_message(fx.ka, MSGID, QID);
	char *b = strstr(msg, "; b=") + 4;
	char *detail = NULL;

	b[10] = b[10] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify(fx.ka, msg, &detail), SIGN_FORGED);
	ck_assert_msg(strstr(detail, "mismatch") != NULL, "%s", detail);
	g_free(detail);
	g_free(msg);
}
END_TEST

/* What MTAs and clients do on the way to the mailbox: still genuine. */
static const struct {
	const char *what;
	const char *from, *to;
} tolerate[] = {
    {"value refolded", "X-Triage-Flags: abusive, legal-threat",
     "X-Triage-Flags:\r\n\tabusive,\r\n legal-threat"},
    {"no space after the colon", "X-Triage-Route: legal",
     "X-Triage-Route:legal"},
    {"blanks around a value", "X-Triage-Route: legal",
     "X-Triage-Route: \t  legal  \t"},
    {"blank before the colon", "X-Triage-Route: legal",
     "X-Triage-Route : legal"},
    {"name case", "X-Triage-Score:", "x-triage-score:"},
    {"signature name case", "X-Triage-Signature:", "X-TRIAGE-SIGNATURE:"},
    {"signature refolded", "; h=", ";\r\n\th="},
    {"signature refolded before b=", "; b=", ";\r\n b="},
    {"signature with no blanks", "v=1; kid=A; ", "v=1;kid=A;"},
    {"Message-ID refolded", "Message-ID: " MSGID,
     "Message-ID:\r\n  " MSGID " "},
    {"Message-ID without the space", "Message-ID: " MSGID, "Message-ID:" MSGID},
    {"other header added", "Subject: hello\r\n",
     "Subject: hello\r\nX-Spam-Flag: YES\r\n"},
    {"a later Message-ID", "\r\n\r\nbody",
     "\r\nMessage-ID: <other@example.com>\r\n\r\nbody"},
    {"body changed (not signed)", "\r\nbody", "\r\nanother body"},
    {"mbox From line",
     "Received:", "From c@example.com Mon Jan  1 00:00:00 2024\r\nReceived:"},
};

START_TEST(test_tolerate)
{
	char *msg = make_message(fx.ka, MSGID, QID);
	char *detail = NULL;
	enum sign_result r;

	msg = replace(msg, tolerate[_i].from, tolerate[_i].to);
	r = verify(fx.ka, msg, &detail);
	ck_assert_msg(r == SIGN_GENUINE, "%s: got %d (%s)", tolerate[_i].what,
		      r, detail);
	g_free(detail);
	g_free(msg);
}
END_TEST

/* LF-only and CR-only line ends, and the signature moved to the top */
START_TEST(test_line_ends_and_order)
{
	char *msg = make_message(fx.ka, MSGID, QID);
	const char *sig = strstr(msg, "X-Triage-Signature:");
	char *sig_line = g_strndup(sig, strstr(sig, "\r\n") + 2 - sig);
	char *moved = replace(g_strdup(msg), sig_line, "");
	char *top = g_strconcat(sig_line, moved, NULL);
	char **parts = g_strsplit(msg, "\r\n", -1);
	char *lf = g_strjoinv("\n", parts);
	char *cr = g_strjoinv("\r", parts);

	ck_assert_int_eq(verify(fx.ka, top, NULL), SIGN_GENUINE);
	ck_assert_int_eq(verify(fx.ka, lf, NULL), SIGN_GENUINE);
	ck_assert_int_eq(verify(fx.ka, cr, NULL), SIGN_GENUINE);
	/* a changed value still fails with either line end */
	lf = replace(lf, "legal\n", "sales\n");
	ck_assert_int_eq(verify(fx.ka, lf, NULL), SIGN_FORGED);
	cr = replace(cr, "legal\r", "sales\r");
	ck_assert_int_eq(verify(fx.ka, cr, NULL), SIGN_FORGED);
	g_strfreev(parts);
	g_free(sig_line);
	g_free(moved);
	g_free(top);
	g_free(lf);
	g_free(cr);
	g_free(msg);
}
END_TEST

/* A NUL in the header section: cannot tell */
START_TEST(test_nul_in_headers)
{
	char *msg = make_message(fx.ka, MSGID, QID);
	size_t len = strlen(msg);
	char *detail = NULL;

	strstr(msg, "Subject: hello")[9] = '\0';
	ck_assert_int_eq(sign_verify_message(fx.ka, msg, len, &detail),
			 SIGN_UNKNOWN);
	ck_assert_msg(strstr(detail, "NUL") != NULL, "%s", detail);
	g_free(detail);
	g_free(msg);
}
END_TEST

/* More X-Triage-* headers than any signature can name: forged */
START_TEST(test_too_many_headers)
{
	char *msg = make_message(fx.ka, MSGID, QID);
	GString *extra = g_string_new("Subject: hello\r\n");
	char *detail = NULL;

	for (int i = 0; i < 200; i++)
		g_string_append_printf(extra, "X-Triage-Extra-%d: x\r\n", i);
	msg = replace(msg, "Subject: hello\r\n", extra->str);
	ck_assert_int_eq(verify(fx.ka, msg, &detail), SIGN_FORGED);
	ck_assert_msg(strstr(detail, "more than 128") != NULL, "%s", detail);
	g_free(detail);
	g_string_free(extra, TRUE);
	g_free(msg);
}
END_TEST

/* No Message-ID and no queue id at signing: still verifiable */
START_TEST(test_no_msgid_no_queue_id)
{
	char *msg = make_message(fx.ka, NULL, NULL);

	ck_assert_ptr_nonnull(strstr(msg, "; q=; b="));
	ck_assert_int_eq(verify(fx.ka, msg, NULL), SIGN_GENUINE);
	/* a Message-ID added later breaks it (documented limit) */
	msg = replace(msg, "Subject: hello\r\n",
		      "Subject: hello\r\nMessage-ID: <x@y>\r\n");
	ck_assert_int_eq(verify(fx.ka, msg, NULL), SIGN_FORGED);
	g_free(msg);
}
END_TEST

/* Rotation: a message signed with A verifies with {A, B} signing B */
START_TEST(test_rotation)
{
	struct sign_keys *ab = load_ab("B");
	struct sign_keys *b = load_one("B", fx.b);
	struct sign_keys *ab_verify = load_ab(NULL);
	char *old = make_message(fx.ka, MSGID, QID);
	char *new = make_message(ab, MSGID, QID);
	char *detail = NULL;

	ck_assert_ptr_nonnull(strstr(new, "kid=B;"));
	ck_assert_int_eq(verify(ab, old, NULL), SIGN_GENUINE);
	ck_assert_int_eq(verify(ab, new, NULL), SIGN_GENUINE);
	ck_assert_int_eq(verify(ab_verify, old, NULL), SIGN_GENUINE);
	ck_assert_int_eq(verify(b, new, NULL), SIGN_GENUINE);
	ck_assert_int_eq(verify(b, old, &detail), SIGN_UNKNOWN);
	ck_assert_msg(strstr(detail, "key A not configured") != NULL, "%s",
		      detail);
	ck_assert_int_eq(verify(fx.ka, new, NULL), SIGN_UNKNOWN);
	/* B's key under A's name does not verify A's signature */
	sign_keys_free(b);
	b = load_one("A", fx.b);
	ck_assert_int_eq(verify(b, old, NULL), SIGN_FORGED);
	/* a verify-only set cannot sign */
	ck_assert_ptr_null(
	    sign_header_value(ab_verify, names, values, 1, MSGID, QID));
	g_free(detail);
	g_free(old);
	g_free(new);
	sign_keys_free(ab);
	sign_keys_free(b);
	sign_keys_free(ab_verify);
}
END_TEST

/* Arguments sign_header_value() must refuse */
static const struct {
	const char *what;
	const char *n1, *n2; /* two header names */
	const char *qid;
} refuse[] = {
    {"not an X-Triage-* name", "X-Triage-Flags", "Subject", QID},
    {"the signature itself", "X-Triage-Flags", "X-Triage-Signature", QID},
    {"a name twice", "X-Triage-Route", "x-triage-route", QID},
    {"a blank in a name", "X-Triage-Flags", "X-Triage-A B", QID},
    {"a colon in a name", "X-Triage-Flags", "X-Triage-A:B", QID},
    {"the bare prefix", "X-Triage-Flags", "X-Triage-", QID},
    {"';' in the queue id", "X-Triage-Flags", "X-Triage-Route", "Q;1"},
    {"blank in the queue id", "X-Triage-Flags", "X-Triage-Route", "Q 1"},
    {"queue id too long", "X-Triage-Flags", "X-Triage-Route",
     "0123456789012345678901234567890123456789012345678901234567890123X"},
};

START_TEST(test_refuse)
{
	const char *n[] = {refuse[_i].n1, refuse[_i].n2};
	const char *v[] = {"a", "b"};
	char *ok = sign_header_value(fx.ka, n, v, 1, MSGID, QID);

	/* the first name alone is fine: the refusal is about the change */
	ck_assert_ptr_nonnull(ok);
	g_free(ok);
	ck_assert_msg(
	    sign_header_value(fx.ka, n, v, 2, MSGID, refuse[_i].qid) == NULL,
	    "%s: signed", refuse[_i].what);
}
END_TEST

/* The value stays under SIGN_MAX_VALUE; a near-full one still verifies */
START_TEST(test_value_bound)
{
	const char *n[60];
	const char *v[60];
	char *own[60];
	char *sig;
	GString *msg = g_string_new("Message-ID: " MSGID "\r\n");

	for (size_t i = 0; i < 60; i++) {
		own[i] = g_strdup_printf("X-Triage-Name-%02zu", i);
		n[i] = own[i];
		v[i] = "x";
	}
	sig = sign_header_value(fx.ka, n, v, 40, MSGID, QID);
	ck_assert_ptr_nonnull(sig);
	ck_assert_uint_lt(strlen(sig), SIGN_MAX_VALUE);
	ck_assert_uint_gt(strlen(sig), 700);
	for (size_t i = 0; i < 40; i++)
		g_string_append_printf(msg, "%s: x\r\n", n[i]);
	g_string_append_printf(msg, "X-Triage-Signature: %s\r\n\r\n", sig);
	ck_assert_int_eq(verify(fx.ka, msg->str, NULL), SIGN_GENUINE);
	ck_assert_ptr_null(sign_header_value(fx.ka, n, v, 60, MSGID, QID));
	for (size_t i = 0; i < 60; i++)
		g_free(own[i]);
	g_free(sig);
	g_string_free(msg, TRUE);
}
END_TEST

/* The Message-ID the verifier reads, for the signer */
static const struct {
	const char *msg;
	const char *want; /* NULL: none */
} msgids[] = {
    {"Message-ID: <a@b>\r\n\r\n", "a@b"},
    {"message-id:\r\n <a@b> \r\nSubject: x\r\n\r\n", "a@b"},
    {"Message-ID: a@b\n\n", "a@b"},
    {"Message-ID: (comment) <a@b>\r\n\r\n", "a@b"},
    {"Message-ID: <a@b>\r\nMessage-ID: <c@d>\r\n\r\n", "a@b"},
    {"Subject: x\r\n\r\nMessage-ID: <a@b>\r\n", NULL},
    {"Subject: x\r\n\r\n", NULL},
};

START_TEST(test_message_id)
{
	char *got = sign_message_id(msgids[_i].msg, strlen(msgids[_i].msg));

	if (msgids[_i].want == NULL)
		ck_assert_ptr_null(got);
	else
		ck_assert_str_eq(got != NULL ? got : "(null)", msgids[_i].want);
	g_free(got);
}
END_TEST

/* sign_message_id() output signs what the verifier checks */
START_TEST(test_message_id_round_trip)
{
	char *msg = make_message(fx.ka, MSGID, QID);
	char *id = sign_message_id(msg, strlen(msg));
	char *v = sign_header_value(fx.ka, names, values, G_N_ELEMENTS(names),
				    id, QID);
	char *want = sign_header_value(fx.ka, names, values,
				       G_N_ELEMENTS(names), MSGID, QID);

	ck_assert_str_eq(id, "abc.123@example.com");
	ck_assert_str_eq(v, want);
	g_free(id);
	g_free(v);
	g_free(want);
	g_free(msg);
}
END_TEST

/* write_file - a key file with mode and content */
static char *
write_file(const char *name, const char *content, mode_t mode)
{
	char *p = path_in(name);

	ck_assert(g_file_set_contents(p, content, -1, NULL));
	ck_assert_int_eq(chmod(p, mode), 0);
	return p;
}

/* A good key in base64: 48 random-looking bytes over two lines. */
#define KEY48                                                                  \
	"q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83v\n"                       \
	"EjRWeJq83vEjRWeJq83v\n"

/* Key file problems: each must fail with the file or the id named. */
static const struct {
	const char *what;
	const char *kid;
	const char *content; /* NULL: no file */
	mode_t mode;
	const char *error;
} badkeys[] = {
    {"mode 0644", "k", KEY48, 0644, "mode 0644"},
    {"mode 0640", "k", KEY48, 0640, "group or other"},
    {"mode 0604", "k", KEY48, 0604, "group or other"},
    {"too short", "k", "MDEyMzQ1Njc4OWFiY2RlZg==\n", 0600,
     "16 bytes of secret"},
    {"too long", "k",
     "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm"
     "MDEyMzQ1Njc4OWFiY2RlZjA=\n",
     0600, "65 bytes of secret"},
    {"not base64", "k", "this is not a key, is it?\n", 0600, "not base64"},
    {"data after padding", "k", "AA==" KEY48, 0600, "not base64"},
    {"empty", "k", "", 0600, "not base64"},
    {"missing", "k", NULL, 0600, "No such file"},
    {"bad kid: blank", "a b", KEY48, 0600, "key id \"a b\""},
    {"bad kid: empty", "", KEY48, 0600, "key id \"\""},
    {"bad kid: 33 chars", "abcdefghijklmnopqrstuvwxyz0123456", KEY48, 0600,
     "must be 1-32"},
    {"bad kid: ';'", "a;b", KEY48, 0600, "key id"},
};

START_TEST(test_bad_key)
{
	char *p =
	    badkeys[_i].content != NULL
		? write_file("bad.key", badkeys[_i].content, badkeys[_i].mode)
		: path_in("missing.key");
	struct sign_key_spec spec = {badkeys[_i].kid, p};
	char *err = NULL;

	ck_assert_msg(sign_keys_load(&spec, 1, NULL, &err) == NULL,
		      "%s: loaded", badkeys[_i].what);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, badkeys[_i].error) != NULL,
		      "%s: \"%s\" lacks \"%s\"", badkeys[_i].what, err,
		      badkeys[_i].error);
	if (sign_kid_valid(badkeys[_i].kid))
		ck_assert_msg(strstr(err, p) != NULL, "%s: file not named: %s",
			      badkeys[_i].what, err);
	g_free(err);
	g_free(p);
}
END_TEST

/* Accepted key files: 0400, several lines of base64 */
START_TEST(test_good_key_files)
{
	char *p = write_file("ro.key", KEY48, 0400);
	struct sign_key_spec spec = {"ro_1.x-y", p};
	char *err = NULL;
	struct sign_keys *k = sign_keys_load(&spec, 1, "ro_1.x-y", &err);
	char *msg;

	ck_assert_msg(k != NULL, "load: %s", err);
	ck_assert_ptr_null(err);
	msg = make_message(k, MSGID, QID);
	ck_assert_ptr_nonnull(strstr(msg, "kid=ro_1.x-y;"));
	ck_assert_int_eq(verify(k, msg, NULL), SIGN_GENUINE);
	ck_assert_int_eq(verify(fx.ka, msg, NULL), SIGN_UNKNOWN);
	sign_keys_free(k);
	g_free(msg);
	g_free(p);
}
END_TEST

/* Key set problems: ids twice, the signing id missing, no keys, links */
START_TEST(test_bad_key_sets)
{
	struct sign_key_spec twice[] = {{"A", fx.a}, {"A", fx.b}};
	struct sign_key_spec one = {"A", fx.a};
	char *link = path_in("link.key");
	struct sign_key_spec sym = {"L", link};
	char *err = NULL;

	ck_assert_ptr_null(sign_keys_load(twice, 2, "A", &err));
	ck_assert_msg(strstr(err, "\"A\" is given twice") != NULL, "%s", err);
	g_free(err);
	err = NULL;
	ck_assert_ptr_null(sign_keys_load(&one, 1, "B", &err));
	ck_assert_msg(strstr(err, "\"B\" is not among") != NULL, "%s", err);
	g_free(err);
	err = NULL;
	ck_assert_ptr_null(sign_keys_load(&one, 0, NULL, &err));
	ck_assert_msg(strstr(err, "no signing keys") != NULL, "%s", err);
	g_free(err);
	err = NULL;
	ck_assert_int_eq(symlink(fx.a, link), 0);
	ck_assert_ptr_null(sign_keys_load(&sym, 1, NULL, &err));
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "%s", err);
	g_free(err);
	err = NULL;
	sym.key_file = fx.tmp;
	ck_assert_ptr_null(sign_keys_load(&sym, 1, NULL, &err));
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
	g_free(err);
	g_free(link);
}
END_TEST

/* Owned by someone else (needs root to chown; skipped otherwise) */
START_TEST(test_key_owner)
{
	char *p = write_file("owner.key", KEY48, 0600);
	struct sign_key_spec spec = {"k", p};
	struct sign_keys *k;
	char *err = NULL, *dir;
	int status = 0;
	pid_t pid;

	/* root reads a key owned by the user it will drop to */
	ck_assert_int_eq(chown(p, NOBODY, NOBODY), 0);
	k = sign_keys_load(&spec, 1, NULL, &err);
	ck_assert_msg(k != NULL, "%s", err);
	sign_keys_free(k);
	/* an unprivileged process cannot use a key another user owns */
	ck_assert_int_eq(chown(p, 1, 1), 0);
	dir = g_path_get_dirname(p);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	g_free(dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
			_exit(3);
		/* safe modes make it unreadable to us: refused either way */
		k = sign_keys_load(&spec, 1, NULL, &err);
		_exit(k == NULL && err != NULL ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %d", status);
	g_free(p);
}
END_TEST

/* sign_key_generate: 0600, one line, never replaces a key, no leftovers */
START_TEST(test_generate)
{
	char *text_a, *text_b, *again;
	struct stat sb;
	char *err = NULL;
	GDir *d;
	int entries = 0;

	ck_assert_int_eq(stat(fx.a, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	ck_assert(g_file_get_contents(fx.a, &text_a, NULL, NULL));
	ck_assert(g_file_get_contents(fx.b, &text_b, NULL, NULL));
	ck_assert_uint_eq(strlen(text_a), 45);
	ck_assert_ptr_eq(strchr(text_a, '\n'), text_a + 44);
	ck_assert_str_ne(text_a, text_b);
	ck_assert_int_eq(sign_key_generate(fx.a, &err), -1);
	ck_assert_msg(strstr(err, "already exists") != NULL &&
			  strstr(err, fx.a) != NULL,
		      "%s", err);
	ck_assert(g_file_get_contents(fx.a, &again, NULL, NULL));
	ck_assert_str_eq(again, text_a);
	d = g_dir_open(fx.tmp, 0, NULL);
	while (g_dir_read_name(d) != NULL)
		entries++;
	g_dir_close(d);
	ck_assert_int_eq(entries, 2);
	g_free(err);
	g_free(text_a);
	g_free(text_b);
	g_free(again);
}
END_TEST

/* signer - sign and verify in a loop on a shared key set */
static void *
signer(void *arg)
{
	const struct sign_keys *k = arg;
	long bad = 0;

	for (int i = 0; i < ROUNDS; i++) {
		char *qid = g_strdup_printf("Q%d", i);
		char *v = sign_header_value(k, names, values, 2, MSGID, qid);
		char *msg = g_strdup_printf(
		    "Message-ID: " MSGID "\r\nX-Triage-Flags: %s\r\n"
		    "X-Triage-Route: %s\r\nX-Triage-Signature: %s\r\n\r\n",
		    values[0], values[1], v != NULL ? v : "");

		if (sign_verify_message(k, msg, strlen(msg), NULL) !=
		    SIGN_GENUINE)
			bad++;
		g_free(qid);
		g_free(v);
		g_free(msg);
	}
	return (void *)(intptr_t)bad;
}

START_TEST(test_threads)
{
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, signer, fx.ka), 0);
	for (int i = 0; i < THREADS; i++) {
		void *bad;

		ck_assert_int_eq(pthread_join(t[i], &bad), 0);
		ck_assert_int_eq((intptr_t)bad, 0);
	}
}
END_TEST

/* Key ids */
START_TEST(test_kid_valid)
{
	ck_assert(sign_kid_valid("main"));
	ck_assert(sign_kid_valid("2024-06.a_b"));
	ck_assert(sign_kid_valid("abcdefghijklmnopqrstuvwxyz012345"));
	ck_assert(!sign_kid_valid("abcdefghijklmnopqrstuvwxyz0123456"));
	ck_assert(!sign_kid_valid(""));
	ck_assert(!sign_kid_valid(NULL));
	ck_assert(!sign_kid_valid("a b"));
	ck_assert(!sign_kid_valid("a;b"));
	ck_assert(!sign_kid_valid("caf\xc3\xa9"));
}
END_TEST

/* sign_suite - the signing tests */
static Suite *
sign_suite(void)
{
	Suite *s = suite_create("sign");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_value_shape);
	tcase_add_test(tc, test_canonical_form);
	tcase_add_loop_test(tc, test_tamper, 0, G_N_ELEMENTS(tamper));
	tcase_add_test(tc, test_tamper_b_one_char);
	tcase_add_loop_test(tc, test_tolerate, 0, G_N_ELEMENTS(tolerate));
	tcase_add_test(tc, test_line_ends_and_order);
	tcase_add_test(tc, test_nul_in_headers);
	tcase_add_test(tc, test_too_many_headers);
	tcase_add_test(tc, test_no_msgid_no_queue_id);
	tcase_add_test(tc, test_rotation);
	tcase_add_loop_test(tc, test_refuse, 0, G_N_ELEMENTS(refuse));
	tcase_add_test(tc, test_value_bound);
	tcase_add_loop_test(tc, test_message_id, 0, G_N_ELEMENTS(msgids));
	tcase_add_test(tc, test_message_id_round_trip);
	tcase_add_loop_test(tc, test_bad_key, 0, G_N_ELEMENTS(badkeys));
	tcase_add_test(tc, test_good_key_files);
	tcase_add_test(tc, test_bad_key_sets);
	if (geteuid() == 0)
		tcase_add_test(tc, test_key_owner);
	tcase_add_test(tc, test_generate);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_kid_valid);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(sign_suite)
