/*
 * test-message.c - MIME parsing, charsets, limits and header facts
 */
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "unit.h"
#include "message.h"

#define H "From: a@example.com\nTo: support@example.com\nSubject: t\n"
#define MP(b) "MIME-Version: 1.0\nContent-Type: multipart/" b "\n\n"

static const struct message_limits message_test_lim = {20, 200, 64 * 1024};

struct message_case {
	const char *name;
	const char *raw;
	size_t len;       /* 0: strlen(raw) */
	const char *want; /* the whole text, exactly */
	unsigned text_parts, attachments, rfc822;
	int fallback, limited;
};

static const struct message_case message_cases[] = {
    {"plain ascii", H "\nHello there.\n", 0, "Hello there.\n", 1, 0, 0, 0, 0},
    {"iso-8859-1",
     H "Content-Type: text/plain; charset=ISO-8859-1\n\ncaf\xE9\n", 0,
     "caf\xC3\xA9\n", 1, 0, 0, 0, 0},
    {"latin1 label with smart quotes",
     H "Content-Type: text/plain; charset=iso-8859-1\n\n\x93hi\x94\n", 0,
     "\xE2\x80\x9Chi\xE2\x80\x9D\n", 1, 0, 0, 0, 0},
    {"windows-1252 smart quotes",
     H "Content-Type: text/plain; charset=windows-1252\n\n"
       "\x93quoted\x94 it\x92s \x96 \x80"
       "5\x85\n",
     0,
     "\xE2\x80\x9Cquoted\xE2\x80\x9D it\xE2\x80\x99s \xE2\x80\x93 "
     "\xE2\x82\xAC"
     "5\xE2\x80\xA6\n",
     1, 0, 0, 0, 0},
    {"utf-8",
     H "Content-Type: text/plain; charset=utf-8\n\n\xC3\xBC\xE2\x98\x95\n", 0,
     "\xC3\xBC\xE2\x98\x95\n", 1, 0, 0, 0, 0},
    {"koi8-r", H "Content-Type: text/plain; charset=koi8-r\n\n\xF0\xD2\xC9\n",
     0, "\xD0\x9F\xD1\x80\xD0\xB8\n", 1, 0, 0, 0, 0},
    {"utf-16le", H "Content-Type: text/plain; charset=utf-16le\n\nh\0i\0\n\0",
     sizeof(H "Content-Type: text/plain; charset=utf-16le\n\nh\0i\0\n\0") - 1,
     "hi\n", 1, 0, 0, 0, 0},
    {"bogus charset, latin1 bytes",
     H "Content-Type: text/plain; charset=x-no-such-charset\n\ncaf\xE9\n", 0,
     "caf\xC3\xA9\n", 1, 0, 0, 1, 0},
    {"bogus charset, utf-8 bytes",
     H "Content-Type: text/plain; charset=x-no-such-charset\n\ncaf\xC3\xA9\n",
     0, "caf\xC3\xA9\n", 1, 0, 0, 1, 0},
    {"utf-8 with invalid bytes",
     H "Content-Type: text/plain; charset=utf-8\n\nok \xFF\xFE ok\n", 0,
     "ok \xEF\xBF\xBD\xEF\xBF\xBD ok\n", 1, 0, 0, 1, 0},
    {"undeclared 8-bit", H "\nna\xEFve\n", 0, "na\xC3\xAFve\n", 1, 0, 0, 1, 0},
    {"base64", H "Content-Transfer-Encoding: base64\n\nSGVsbG8gYmFzZTY0Cg==\n",
     0, "Hello base64\n", 1, 0, 0, 0, 0},
    {"quoted-printable",
     H "Content-Type: text/plain; charset=utf-8\n"
       "Content-Transfer-Encoding: quoted-printable\n\n"
       "caf=C3=A9 soft=\nbreak =3D equal\n",
     0, "caf\xC3\xA9 softbreak = equal\n", 1, 0, 0, 0, 0},
    {"alternative prefers plain",
     H MP("alternative; boundary=b") "--b\nContent-Type: text/plain\n\n"
				     "plain words\n--b\nContent-Type: "
				     "text/html\n\n<p>html words</p>\n"
				     "--b--\n",
     0, "plain words\n", 1, 0, 0, 0, 0},
    {"alternative with empty plain uses html",
     H MP("alternative; boundary=b") "--b\nContent-Type: text/plain\n\n"
				     "\n--b\nContent-Type: "
				     "text/html\n\n<p>html words</p>\n--b--\n",
     0, "html words\n", 2, 0, 0, 0, 0},
    {"alternative with related html",
     H MP("alternative; boundary=b") "--b\nContent-Type: multipart/related; "
				     "boundary=c\n\n"
				     "--c\nContent-Type: text/html\n\n<div>rel "
				     "<b>html</b></div>\n"
				     "--c\nContent-Type: "
				     "image/png\nContent-Transfer-Encoding: "
				     "base64\n"
				     "\niVBORw0KGgo=\n--c--\n--b--\n",
     0, "rel html\n", 1, 1, 0, 0, 0},
    {"html only",
     H "Content-Type: text/html; charset=utf-8\n\n<html><head><style>x{}"
       "</style></head><body><p>Hi &amp; bye</p><script>evil()</script>"
       "</body></html>\n",
     0, "Hi & bye\n", 1, 0, 0, 0, 0},
    {"attachments skipped and counted",
     H MP("mixed; boundary=b") "--b\nContent-Type: text/plain\n\nbody\n"
			       "--b\nContent-Type: "
			       "application/pdf\nContent-Disposition: "
			       "attachment;"
			       " filename=a.pdf\nContent-Transfer-Encoding: "
			       "base64\n\nJVBERi0=\n"
			       "--b\nContent-Type: "
			       "text/plain\nContent-Disposition: attachment; "
			       "filename=log.txt\n\nSECRET LOG\n--b--\n",
     0, "body\n", 1, 2, 0, 0, 0},
    {"two text parts separated",
     H MP("mixed; boundary=b") "--b\n\nfirst\n--b\n\nsecond\n--b--\n", 0,
     "first\n\nsecond\n", 2, 0, 0, 0, 0},
    {"nested rfc822 quoted",
     H MP("mixed; boundary=b") "--b\nContent-Type: text/plain\n\nmine\n"
			       "--b\nContent-Type: message/rfc822\n\nFrom: "
			       "x@example.com\n"
			       "Subject: old\n\nold line\n\nold para\n--b--\n",
     0, "mine\n\n> old line\n>\n> old para\n", 2, 0, 1, 0, 0},
    {"rfc822 inside rfc822",
     H "Content-Type: message/rfc822\n\nSubject: l1\n"
       "Content-Type: message/rfc822\n\nSubject: l2\n\ninner\n",
     0, "> > inner\n", 1, 0, 2, 0, 0},
    {"crlf line ends", "Subject: t\r\n\r\nline one\r\nline two\r\n", 0,
     "line one\nline two\n", 1, 0, 0, 0, 0},
    {"cr only line ends", "Subject: t\n\nline one\rline two\r", 0,
     "line one\nline two\n", 1, 0, 0, 0, 0},
    {"nul bytes", H "\nbefore\0after\n", sizeof(H "\nbefore\0after\n") - 1,
     "before after\n", 1, 0, 0, 0, 0},
    /* message_clean moves the runs between CRs: every mix of CR, LF, NUL */
    {"cr, crlf and nul mixed", H "\na\r\r\nb\r\0c\rd\r\ne\0\0\r",
     sizeof(H "\na\r\r\nb\r\0c\rd\r\ne\0\0\r") - 1, "a\n\nb\n c\nd\ne\n", 1, 0,
     0, 0, 0},
    {"no headers at all", "just some words\nand more\n", 0,
     "just some words\nand more\n", 1, 0, 0, 0, 0},
    {"headers only", H, 0, "", 1, 0, 0, 0, 0},
    {"truncated multipart",
     H MP("mixed; boundary=b") "--b\nContent-Type: text/plain\n\ncut of", 0,
     "cut of\n", 1, 0, 0, 0, 0},
    {"truncated base64", H "Content-Transfer-Encoding: base64\n\nSGVsbG8gd29y",
     0, "Hello wor\n", 1, 0, 0, 0, 0},
    {"boundary never used",
     H MP("mixed; boundary=nothere") "--other\n\ntext anyway\n", 0,
     "--other\n\ntext anyway\n", 1, 0, 0, 0, 0},
    {"multipart without boundary",
     H "Content-Type: multipart/mixed\n\nsome text\n", 0, "some text\n", 1, 0,
     0, 0, 0},
};

/* test_message_case - one row of the table */
START_TEST(test_message_case)
{
	const struct message_case *c = &message_cases[_i];
	size_t len = c->len ? c->len : strlen(c->raw);
	char *err = NULL;
	struct message *m = message_parse(c->raw, len, &message_test_lim, &err);

	ck_assert_msg(m != NULL, "%s: NULL (%s)", c->name, err);
	ck_assert_msg(strcmp(m->text->str, c->want) == 0,
		      "%s: text\n[%s]\nwant\n[%s]", c->name, m->text->str,
		      c->want);
	ck_assert_msg(m->text->len == strlen(m->text->str), "%s: NUL in text",
		      c->name);
	ck_assert_msg(m->n_text_parts == c->text_parts,
		      "%s: text parts %u, want %u", c->name, m->n_text_parts,
		      c->text_parts);
	ck_assert_msg(m->n_attachments == c->attachments,
		      "%s: attachments %u, want %u", c->name, m->n_attachments,
		      c->attachments);
	ck_assert_msg(m->n_rfc822 == c->rfc822, "%s: rfc822 %u, want %u",
		      c->name, m->n_rfc822, c->rfc822);
	ck_assert_msg(m->charset_fallback == c->fallback,
		      "%s: charset_fallback %d, want %d", c->name,
		      m->charset_fallback, c->fallback);
	ck_assert_msg(m->limited == c->limited, "%s: limited %d, want %d",
		      c->name, m->limited, c->limited);
	ck_assert_ptr_null(err);
	ck_assert_ptr_null(message_free(m));
}
END_TEST

/* test_message_empty - an empty buffer is an empty message, not an error */
START_TEST(test_message_empty)
{
	char *err = NULL;
	struct message *m = message_parse("", 0, &message_test_lim, &err);

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(m->text->len, 0);
	ck_assert_uint_eq(m->n_header_names, 0);
	ck_assert_ptr_null(m->header_names[0]);
	ck_assert_ptr_null(m->subject);
	message_free(m);
}
END_TEST

/* test_message_headers - names raw and in order; decoded facts */
START_TEST(test_message_headers)
{
	static const char raw[] =
	    "Received: from x\n\tby y\nfrom: =?utf-8?q?J=C3=B6rg?= "
	    "<j@example.de>\nX-Triage-Flags: none\nContent-Type: text/plain\n"
	    "Subject: =?iso-8859-1?q?R=FCckfrage?= zum\n Auftrag\n"
	    "Message-ID: <abc.123@example.de>\nX-Triage-Flags: vip\n"
	    "\nFrom: not a header\n";
	static const char *const want[] = {
	    "Received", "from",       "X-Triage-Flags", "Content-Type",
	    "Subject",  "Message-ID", "X-Triage-Flags",
	};
	struct message *m =
	    message_parse(raw, strlen(raw), &message_test_lim, NULL);

	ck_assert_uint_eq(m->n_header_names, G_N_ELEMENTS(want));
	for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
		ck_assert_str_eq(m->header_names[i], want[i]);
	ck_assert_ptr_null(m->header_names[m->n_header_names]);
	ck_assert_str_eq(m->subject, "R\xC3\xBC"
				     "ckfrage zum Auftrag");
	ck_assert_str_eq(m->from, "J\xC3\xB6rg <j@example.de>");
	ck_assert_str_eq(m->message_id, "abc.123@example.de");
	message_free(m);
}
END_TEST

/* test_message_raw_8bit_header - 8-bit Latin-1 headers decode to UTF-8 */
START_TEST(test_message_raw_8bit_header)
{
	static const char raw[] = "Subject: Gr\xFC\xDF"
				  "e\n\nx\n";
	struct message *m =
	    message_parse(raw, strlen(raw), &message_test_lim, NULL);

	ck_assert_str_eq(m->subject, "Gr\xC3\xBC\xC3\x9F"
				     "e");
	message_free(m);
}
END_TEST

/* message_nested - a multipart nested depth times around one text part */
static GString *
message_nested(unsigned depth)
{
	GString *s = g_string_new("Subject: deep\nContent-Type: "
				  "multipart/mixed; boundary=b0\n\n");

	for (unsigned i = 0; i < depth; i++)
		g_string_append_printf(s,
				       "--b%u\nContent-Type: multipart/mixed; "
				       "boundary=b%u\n\n",
				       i, i + 1);
	g_string_append_printf(s, "--b%u\n\ndeep text\n", depth);
	return s;
}

/* test_message_depth_limit - past max_depth nothing is read */
START_TEST(test_message_depth_limit)
{
	struct message_limits lim = {5, 200, 4096};
	GString *ok = message_nested(3);
	GString *deep = message_nested(10);
	GString *huge = message_nested(20000);
	struct message *m;

	m = message_parse(ok->str, ok->len, &lim, NULL);
	ck_assert_str_eq(m->text->str, "deep text\n");
	ck_assert_int_eq(m->limited, 0);
	message_free(m);

	m = message_parse(deep->str, deep->len, &lim, NULL);
	ck_assert_str_eq(m->text->str, "");
	ck_assert_int_eq(m->limited, 1);
	ck_assert_uint_le(m->n_parts, lim.max_depth);
	message_free(m);

	m = message_parse(huge->str, huge->len, &lim, NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->limited, 1);
	message_free(m);

	g_string_free(ok, TRUE);
	g_string_free(deep, TRUE);
	g_string_free(huge, TRUE);
}
END_TEST

/* test_message_parts_limit - no more than max_parts parts visited */
START_TEST(test_message_parts_limit)
{
	struct message_limits lim = {20, 10, 64 * 1024};
	GString *s = g_string_new(H MP("mixed; boundary=z"));
	struct message *m;

	for (int i = 0; i < 50; i++)
		g_string_append_printf(s, "--z\n\npart %d\n", i);
	g_string_append(s, "--z--\n");
	m = message_parse(s->str, s->len, &lim, NULL);
	ck_assert_uint_le(m->n_parts, 10);
	ck_assert_uint_eq(m->n_text_parts, 9);
	ck_assert_int_eq(m->limited, 1);
	ck_assert_ptr_nonnull(strstr(m->text->str, "part 8\n"));
	ck_assert_ptr_null(strstr(m->text->str, "part 9\n"));
	message_free(m);
	g_string_free(s, TRUE);
}
END_TEST

/* test_message_text_limit - a 10 MB line is cut at max_text_bytes */
START_TEST(test_message_text_limit)
{
	struct message_limits lim = {20, 200, 1000};
	GString *s =
	    g_string_new(H "Content-Type: text/plain; charset=utf-8\n\n");
	struct message *m;

	for (int i = 0; i < 5 * 1024 * 1024; i++)
		g_string_append(s, "\xC3\xA9"); /* 10 MB of two-byte chars */
	g_string_append_c(s, '\n');
	m = message_parse(s->str, s->len, &lim, NULL);
	ck_assert_int_eq(m->limited, 1);
	ck_assert_uint_le(m->text->len, 1000);
	ck_assert_uint_ge(m->text->len, 990);
	ck_assert(g_utf8_validate(m->text->str, (gssize)m->text->len, NULL));
	message_free(m);
	g_string_free(s, TRUE);
}
END_TEST

/* test_message_quote_limit - quoting nested text stays within the cap */
START_TEST(test_message_quote_limit)
{
	struct message_limits lim = {20, 200, 100};
	GString *s = g_string_new(H "Content-Type: message/rfc822\n\n\n");
	struct message *m;

	for (int i = 0; i < 200; i++)
		g_string_append(s, "a\n");
	m = message_parse(s->str, s->len, &lim, NULL);
	ck_assert_uint_le(m->text->len, 100);
	ck_assert_int_eq(m->limited, 1);
	ck_assert(g_str_has_prefix(m->text->str, "> a\n> a\n"));
	message_free(m);
	g_string_free(s, TRUE);
}
END_TEST

/* test_message_default_limits - NULL limits use the defaults */
START_TEST(test_message_default_limits)
{
	static const char raw[] = H "\nhello\n";
	struct message *m = message_parse(raw, strlen(raw), NULL, NULL);

	ck_assert_str_eq(m->text->str, "hello\n");
	ck_assert_ptr_nonnull(m->mime);
	message_free(m);
	ck_assert_ptr_null(message_free(NULL));
}
END_TEST

struct message_fixture {
	const char *file;
	const char *subject;
	const char *has;     /* substring of the text */
	const char *has_not; /* must not be in the text, or NULL */
	unsigned attachments, rfc822;
};

static const struct message_fixture message_fixtures[] = {
    {"plain.eml", "Invoice 10442 charged twice", "charged twice", NULL, 0, 0},
    {"html-only.eml", "Cannot log in since the update",
     "yesterday\xE2\x80\x99s update", "tracking", 0, 0},
    {"alternative.eml", "Question about my order", "order 77812",
     "HTML-ONLY-MARKER", 0, 0},
    {"base64.eml", "Wrong charger", "\xC3\x85sa Lindqvist", NULL, 0, 0},
    {"qp.eml", "Remboursement toujours pas re\xC3\xA7u",
     "troisi\xC3\xA8me fois", "=C3", 0, 0},
    {"latin1.eml",
     "R\xC3\xBC"
     "ckfrage zur Bestellung",
     "Gr\xC3\xB6\xC3\x9F"
     "e",
     NULL, 0, 0},
    {"cp1252.eml", "Refund status", "\xE2\x80\x9Cthe refund", "\xEF\xBF\xBD", 0,
     0},
    {"utf8.eml", "Caf\xC3\xA9 machine broken \xE2\x98\x95",
     "\xE3\x81\x93\xE3\x82\x93", NULL, 0, 0},
    {"reply-chain.eml", "Re: Re: Broken zipper on jacket", "> Sorry to hear",
     NULL, 0, 0},
    {"outlook-reply.eml", "RE: Contract renewal", "-----Original Message", NULL,
     0, 0},
    {"forwarded.eml", "Fwd: Your delivery was rescheduled", "Forwarded message",
     NULL, 0, 0},
    {"long-rant.eml", "Order 48213 - still no chairs after nine weeks",
     "Margaret Ellison", NULL, 0, 0},
    {"signature.eml", "Password reset email never arrives", "\n-- \n", NULL, 0,
     0},
    {"attachment.eml", "Damaged item - photos and receipt",
     "vase arrived broken", "PDF-1.4", 1, 0},
    {"nested-rfc822.eml", "Fw: complaint I sent last month",
     "> The heating unit", NULL, 0, 1},
    {"forged-headers.eml", "Please escalate", "front of the queue", NULL, 0, 0},
};

/* test_message_fixture - the shipped fixtures parse as intended */
START_TEST(test_message_fixture)
{
	const struct message_fixture *f = &message_fixtures[_i];
	char *path = g_build_filename(UNIT_FILE(f->file), "tests", "data",
				      f->file, NULL);
	char *raw;
	gsize len;
	struct message *m;

	ck_assert_msg(g_file_get_contents(path, &raw, &len, NULL),
		      "cannot read %s", path);
	m = message_parse(raw, len, &message_test_lim, NULL);
	ck_assert_str_eq(m->subject, f->subject);
	ck_assert_ptr_nonnull(m->from);
	ck_assert_ptr_nonnull(m->message_id);
	ck_assert_msg(strstr(m->text->str, f->has) != NULL,
		      "%s: no [%s] in\n%s", f->file, f->has, m->text->str);
	if (f->has_not != NULL)
		ck_assert_msg(strstr(m->text->str, f->has_not) == NULL,
			      "%s: [%s] in\n%s", f->file, f->has_not,
			      m->text->str);
	ck_assert_uint_eq(m->n_attachments, f->attachments);
	ck_assert_uint_eq(m->n_rfc822, f->rfc822);
	ck_assert_int_eq(m->charset_fallback, 0);
	ck_assert_int_eq(m->limited, 0);
	ck_assert_ptr_null(strchr(m->text->str, '\r'));
	message_free(m);
	g_free(raw);
	g_free(path);
}
END_TEST

/* test_message_forged_names - every X-Triage-* copy is listed */
START_TEST(test_message_forged_names)
{
	char *path = g_build_filename(UNIT_FILE(x), "tests", "data",
				      "forged-headers.eml", NULL);
	char *raw;
	gsize len;
	struct message *m;
	int flags = 0, route = 0;

	ck_assert(g_file_get_contents(path, &raw, &len, NULL));
	m = message_parse(raw, len, &message_test_lim, NULL);
	for (size_t i = 0; i < m->n_header_names; i++) {
		flags += strcmp(m->header_names[i], "X-Triage-Flags") == 0;
		route += strcmp(m->header_names[i], "X-Triage-Route") == 0;
	}
	ck_assert_int_eq(flags, 2);
	ck_assert_int_eq(route, 1);
	message_free(m);
	g_free(raw);
	g_free(path);
}
END_TEST

/* Encoded-words decoded one by one (GMime alone stops after the first
 * padded one of a run in the same charset). */
START_TEST(test_message_subject_words)
{
	static const char raw[] =
	    "From: a@example.org\n"
	    "Subject: =?utf-8?b?YWI=?= =?utf-8?b?Y2Q=?=\n =?utf-8?b?ZWY=?= and "
	    "=?iso-8859-1?q?caf=E9?= plain\n\nbody\n";
	struct message *m = message_parse(raw, sizeof(raw) - 1, NULL, NULL);

	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->subject, "abcdef and caf\xc3\xa9 plain");
	message_free(m);
}
END_TEST

/* CR-only line ends (old Mac files): headers and text still found. */
START_TEST(test_message_cr_only)
{
	static const char raw[] = "From: a@example.org\rSubject: hi there\r"
				  "Auto-Submitted: auto-replied\r\r"
				  "first line\rsecond line\r";
	char *error = NULL;
	struct message *m = message_parse(raw, sizeof(raw) - 1, NULL, &error);

	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->subject, "hi there");
	ck_assert_uint_eq(m->n_header_names, 3);
	ck_assert_str_eq(m->header_names[2], "Auto-Submitted");
	ck_assert_ptr_nonnull(strstr(m->text->str, "first line\nsecond line"));
	message_free(m);
}
END_TEST

/* CR CR LF line ends (CRLF converted twice): headers end at the blank
 * line, and the body is text, not more headers. */
START_TEST(test_message_cr_cr_lf)
{
	static const char raw[] = "From: a@example.org\r\r\n"
				  "Subject: hi there\r\r\n"
				  "Auto-Submitted: auto-replied\r\r\n\r\r\n"
				  "first line\r\r\nsecond line\r\r\n\r\r\n"
				  "new paragraph\r\r\n";
	char *error = NULL;
	struct message *m = message_parse(raw, sizeof(raw) - 1, NULL, &error);

	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->subject, "hi there");
	ck_assert_uint_eq(m->n_header_names, 3);
	ck_assert_str_eq(m->header_names[2], "Auto-Submitted");
	ck_assert_ptr_nonnull(strstr(m->text->str, "first line"));
	ck_assert_ptr_nonnull(strstr(m->text->str, "new paragraph"));
	ck_assert_ptr_null(strchr(m->text->str, '\r'));
	message_free(m);
}
END_TEST

/* message_same_value - lean and full give one header the same value */
static void
message_same_value(const struct message *full, const struct message *lean,
		   const char *name)
{
	char *a = message_header_value(full, name);
	char *b = message_header_value(lean, name);

	ck_assert_msg(g_strcmp0(a, b) == 0, "header %s: [%s] full, [%s] lean",
		      name, a, b);
	g_free(a);
	g_free(b);
}

/*
 * message_check_lean - parse raw both ways: the lean parse must give what
 * the full one gives; returns whether it took its own path
 */
static int
message_check_lean(const char *raw, size_t len)
{
	static const char *const extra[] = {"content-type", "X-None", "SUBJECT",
					    "from", "Message-Id"};
	struct message *full = message_parse(raw, len, &message_test_lim, NULL);
	struct message *lean =
	    message_parse_lean(raw, len, &message_test_lim, NULL);
	int own = lean->hdr_block != NULL;

	ck_assert_str_eq(lean->text->str, full->text->str);
	ck_assert_uint_eq(lean->text->len, full->text->len);
	ck_assert_msg(g_strcmp0(lean->subject, full->subject) == 0,
		      "subject [%s] lean, [%s] full", lean->subject,
		      full->subject);
	ck_assert_uint_eq(lean->n_parts, full->n_parts);
	ck_assert_uint_eq(lean->n_text_parts, full->n_text_parts);
	ck_assert_uint_eq(lean->n_attachments, full->n_attachments);
	ck_assert_uint_eq(lean->n_rfc822, full->n_rfc822);
	ck_assert_int_eq(lean->charset_fallback, full->charset_fallback);
	ck_assert_int_eq(lean->limited, full->limited);
	ck_assert_uint_eq(lean->n_header_names, full->n_header_names);
	for (size_t i = 0; i < full->n_header_names; i++) {
		ck_assert_str_eq(lean->header_names[i], full->header_names[i]);
		message_same_value(full, lean, full->header_names[i]);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(extra); i++)
		message_same_value(full, lean, extra[i]);
	if (!own) {
		ck_assert_int_eq(lean->mime != NULL, full->mime != NULL);
		ck_assert_str_eq(lean->from ? lean->from : "",
				 full->from ? full->from : "");
	} else {
		ck_assert_ptr_null(lean->mime);
		/* left to message_header_value(), as message.h says */
		ck_assert_ptr_null(lean->from);
		ck_assert_ptr_null(lean->message_id);
	}
	message_free(full);
	message_free(lean);
	return own;
}

/* test_message_lean_cases - the table, lean and full alike */
START_TEST(test_message_lean_cases)
{
	const struct message_case *c = &message_cases[_i];

	message_check_lean(c->raw, c->len ? c->len : strlen(c->raw));
}
END_TEST

/* test_message_lean_fixtures - every shipped fixture, lean and full alike */
START_TEST(test_message_lean_fixtures)
{
	char *dir = g_build_filename(UNIT_FILE(x), "tests", "data", NULL);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	int own = 0, n = 0;

	ck_assert_ptr_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(dir, name, NULL);
		char *raw;
		gsize len;

		if (g_str_has_suffix(name, ".eml") &&
		    g_file_get_contents(path, &raw, &len, NULL)) {
			own += message_check_lean(raw, len);
			n++;
			g_free(raw);
		}
		g_free(path);
	}
	g_dir_close(d);
	g_free(dir);
	ck_assert_int_gt(n, 5);
	ck_assert_int_gt(own, 0); /* the lean path was taken at all */
}
END_TEST

/*
 * Header blocks the lean parse reads itself (1) or leaves to GMime's
 * message parse (0); either way the results are the full parse's.
 */
static const struct {
	const char *raw;
	int own;
} message_lean_blocks[] = {
    {"Subject: a\r\nFrom: b@x\r\n\r\nbody\r\n", 1},
    {"Subject: a\n\tfolded\nSubject: second\nMessage-Id: <z@y>\n\nb\n", 1},
    {"Received: from x\n\tby y\nContent-Type: text/html\n\n<p>hi</p>\n", 1},
    {"X(y): z\nsubject:no space\nfrom:\n\nbody\n", 1},
    {"Subject: =?utf-8?b?YWI=?= =?utf-8?b?Y2Q=?=\nMessage-ID: <\xe9@x>\n"
     "Subject: caf\xe9\n\nbody\n",
     1},
    {"Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\npart\n--zz--\n", 1},
    {"CONTENT-TYPE: text/plain; charset=iso-8859-1\n\ncaf\xe9\n", 1},
    {"From someone@x Mon Jan 1 00:00:00 2024\nSubject: mbox\n\nbody\n", 1},
    {"From someone@x Mon Jan 1 00:00:00 2024\n folded\nSubject: a\n\nb\n", 0},
    {"Subject : space before the colon\n\nbody\n", 0},
    {" continuation first\nSubject: a\n\nbody\n", 0},
    {"Subject: a\n \t \nFrom: b\n\nbody\n", 0},
    {"Subject: bare\rCR\n\nbody\n", 0},
    {"Subject: no body, no blank line\n", 0},
    {"not a header line\nSubject: a\n\nbody\n", 0},
    {"\nno headers at all\n", 0},
};

/* test_message_lean_blocks - which blocks are plain; same results */
START_TEST(test_message_lean_blocks)
{
	const char *raw = message_lean_blocks[_i].raw;

	ck_assert_int_eq(message_check_lean(raw, strlen(raw)),
			 message_lean_blocks[_i].own);
}
END_TEST

/*
 * test_message_lean_random - printable ASCII values with runs of blanks,
 * folds, '=' and '?' (no encoded-word unless made by chance): the lean
 * values are GMime's
 */
START_TEST(test_message_lean_random)
{
	static const char alphabet[] = "ab =?\t<>@\"(),.;:\\Z9";
	GRand *r = g_rand_new_with_seed(7);

	for (int n = 0; n < 300; n++) {
		GString *m = g_string_new(NULL);

		for (int h = 0; h < 4; h++) {
			int len = g_rand_int_range(r, 0, 40);

			g_string_append(m, h % 2 ? "Subject:" : "X-Any:");
			for (int k = 0; k < len; k++) {
				if (g_rand_int_range(r, 0, 12) == 0)
					g_string_append(m, "\n ");
				g_string_append_c(
				    m, alphabet[g_rand_int_range(
					   r, 0, (int)sizeof(alphabet) - 1)]);
			}
			g_string_append_c(m, '\n');
		}
		g_string_append(m, "\nbody\n");
		message_check_lean(m->str, m->len);
		g_string_free(m, TRUE);
	}
	g_rand_free(r);
}
END_TEST

/* test_message_header_value - GMime's values, from the bytes */
START_TEST(test_message_header_value)
{
	static const char raw[] =
	    "Received: from x\n\tby y\nfrom: =?utf-8?q?J=C3=B6rg?= "
	    "<j@example.de>\nContent-Type: text/plain\nFrom: second@x\n"
	    "Subject: =?iso-8859-1?q?R=FCckfrage?= zum\n Auftrag\n\nbody\n";
	struct message *m =
	    message_parse_lean(raw, strlen(raw), &message_test_lim, NULL);
	char *v;

	ck_assert_ptr_null(m->mime);
	v = message_header_value(m, "FROM"); /* the first, any case */
	ck_assert_str_eq(v, "J\xC3\xB6rg <j@example.de>");
	g_free(v);
	v = message_header_value(m, "received"); /* unfolded */
	ck_assert_str_eq(v, "from x\tby y");
	g_free(v);
	v = message_header_value(m, "subject");
	ck_assert_str_eq(v, "R\xC3\xBC"
			    "ckfrage zum Auftrag");
	g_free(v);
	/* the body part's, not the message's, as with GMime */
	ck_assert_ptr_null(message_header_value(m, "Content-Type"));
	ck_assert_ptr_null(message_header_value(m, "X-None"));
	ck_assert_ptr_null(message_header_value(NULL, "From"));
	message_free(m);
}
END_TEST

/* message_setup - GMime once per test process (Check forks per test) */
static void
message_setup(void)
{
	g_mime_init();
}

static Suite *
message_suite(void)
{
	Suite *s = suite_create("message");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, message_setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_message_case, 0,
			    (int)G_N_ELEMENTS(message_cases));
	tcase_add_test(tc, test_message_empty);
	tcase_add_test(tc, test_message_cr_only);
	tcase_add_test(tc, test_message_cr_cr_lf);
	tcase_add_test(tc, test_message_subject_words);
	tcase_add_test(tc, test_message_headers);
	tcase_add_test(tc, test_message_raw_8bit_header);
	tcase_add_test(tc, test_message_depth_limit);
	tcase_add_test(tc, test_message_parts_limit);
	tcase_add_test(tc, test_message_text_limit);
	tcase_add_test(tc, test_message_quote_limit);
	tcase_add_test(tc, test_message_default_limits);
	tcase_add_loop_test(tc, test_message_fixture, 0,
			    (int)G_N_ELEMENTS(message_fixtures));
	tcase_add_test(tc, test_message_forged_names);
	tcase_add_loop_test(tc, test_message_lean_cases, 0,
			    (int)G_N_ELEMENTS(message_cases));
	tcase_add_test(tc, test_message_lean_fixtures);
	tcase_add_loop_test(tc, test_message_lean_blocks, 0,
			    (int)G_N_ELEMENTS(message_lean_blocks));
	tcase_add_test(tc, test_message_lean_random);
	tcase_add_test(tc, test_message_header_value);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(message_suite)
