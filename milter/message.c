/*
 * message.c - one parsed message: its readable text and a few facts
 *
 * Owns the step from raw RFC 5322 bytes to the UTF-8 text a person would
 * read.  GMime does the MIME structure and transfer encodings; this module
 * chooses which parts are text, converts every charset to UTF-8 (a broken
 * one degrades, it never fails), normalises line ends and keeps within
 * the limits the configuration sets.
 *
 * A daemon that sends no acknowledgments reads the subject, the body and
 * the few headers its rules name: message_parse_lean() spares it a GMime
 * object for every Received line and GMime's address and date parsing,
 * and reads the header block itself where that reading cannot differ
 * from GMime's.
 *
 * Interface: message_parse() / message_parse_lean() / message_free() /
 * message_header_value(); see message.h.  It calls nothing that needs
 * more than g_mime_init(), which triage_init() does once per process.
 * No logging: the caller reports.  The one global is the GMime parser
 * options, made once and only read after.
 *
 * Limits: recursion over the MIME tree is bounded by max_depth and the
 * number of parts visited by max_parts; bytes read from any part are
 * bounded by what max_text_bytes can still hold (times MESSAGE_HTML_RATIO
 * for HTML, whose markup is not text).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "html.h"
#include "message.h"

/* Used when the caller passes no limits: the configuration defaults. */
#define MESSAGE_DEF_MAX_DEPTH 20
#define MESSAGE_DEF_MAX_PARTS 200
#define MESSAGE_DEF_MAX_TEXT (512 * 1024)

/*
 * HTML mail is mostly markup, styles and inline data: read up to this many
 * bytes of HTML per byte of text we can still keep.
 */
#define MESSAGE_HTML_RATIO 16

/* Read parts in chunks of this size; the stack buffer stays small. */
#define MESSAGE_READ_CHUNK 16384

/* The windows superset that browsers and mail clients use for Latin-1. */
#define MESSAGE_FALLBACK_CHARSET "windows-1252"

struct message_ctx {
	struct message *msg;
	struct message_limits lim;
	size_t used; /* text bytes appended so far */
};

static void message_walk(struct message_ctx *ctx, GMimeObject *obj,
			 unsigned depth, GString *sink);

/* message_room - text bytes we may still keep */
static size_t
message_room(const struct message_ctx *ctx)
{
	if (ctx->used >= ctx->lim.max_text_bytes)
		return 0;
	return ctx->lim.max_text_bytes - ctx->used;
}

/* message_utf8_cut - largest length <= len that ends on a char boundary */
static size_t
message_utf8_cut(const char *s, size_t len, size_t want)
{
	if (want >= len)
		return len;
	while (want > 0 && ((unsigned char)s[want] & 0xC0) == 0x80)
		want--;
	return want;
}

/*
 * message_read_part - the part's content with its transfer encoding
 * undone, at most max bytes; *cut_r set when there was more.
 */
static GByteArray *
message_read_part(GMimePart *part, size_t max, int *cut_r)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GByteArray *out = g_byte_array_new();
	GMimeStream *src, *filtered;
	GMimeContentEncoding enc;
	char chunk[MESSAGE_READ_CHUNK];

	*cut_r = 0;
	if (content == NULL)
		return out;
	src = g_mime_data_wrapper_get_stream(content);
	if (src == NULL)
		return out;
	if (g_mime_stream_reset(src) == -1)
		return out;

	enc = g_mime_data_wrapper_get_encoding(content);
	switch (enc) {
	case GMIME_CONTENT_ENCODING_BASE64:
	case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
	case GMIME_CONTENT_ENCODING_UUENCODE: {
		GMimeFilter *dec = g_mime_filter_basic_new(enc, FALSE);

		filtered = g_mime_stream_filter_new(src);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), dec);
		g_object_unref(dec);
		break;
	}
	default:
		/* 7bit, 8bit, binary: the bytes as they are, read straight
		 * from the content (a filter stream without a filter would
		 * only copy them) */
		filtered = g_object_ref(src);
		break;
	}

	for (;;) {
		ssize_t n = g_mime_stream_read(filtered, chunk, sizeof(chunk));

		if (n <= 0)
			break;
		if (out->len + (size_t)n > max) {
			g_byte_array_append(out, (guint8 *)chunk,
					    (guint)(max - out->len));
			*cut_r = 1;
			break;
		}
		g_byte_array_append(out, (guint8 *)chunk, (guint)n);
	}
	g_object_unref(filtered);
	return out;
}

/*
 * message_iconv - convert len bytes from charset to UTF-8
 *
 * Invalid or incomplete sequences become U+FFFD and set *bad_r.  Returns
 * NULL when iconv does not know the charset.
 */
static GString *
message_iconv(const char *in, size_t len, const char *charset, int *bad_r)
{
	static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
	iconv_t cd = g_mime_iconv_open("UTF-8", charset);
	GString *out;
	/* iconv(3) takes char ** but never writes through it */
	char *inp = (char *)(uintptr_t)in;
	size_t inleft = len;
	char buf[4096];

	if (cd == (iconv_t)-1)
		return NULL;
	out = g_string_sized_new(len + len / 2 + 16);
	while (inleft > 0) {
		char *outp = buf;
		size_t outleft = sizeof(buf);
		size_t rc = iconv(cd, &inp, &inleft, &outp, &outleft);
		int err = errno;

		g_string_append_len(out, buf, (gssize)(outp - buf));
		if (rc != (size_t)-1)
			break;
		if (err == E2BIG)
			continue;
		/* EILSEQ, or EINVAL (truncated sequence at the end) */
		*bad_r = 1;
		g_string_append(out, replacement);
		inp++;
		inleft--;
		if (err != EILSEQ && err != EINVAL)
			break;
	}
	{
		/* flush shift state (ISO-2022-JP and friends) */
		char *outp = buf;
		size_t outleft = sizeof(buf);

		if (iconv(cd, NULL, NULL, &outp, &outleft) != (size_t)-1)
			g_string_append_len(out, buf, (gssize)(outp - buf));
	}
	g_mime_iconv_close(cd);
	return out;
}

/* message_ascii_len - bytes of the ASCII run at the start of s */
static size_t
message_ascii_len(const char *s, size_t len)
{
	const uint64_t high = 0x8080808080808080ULL;
	size_t i = 0;

	/* eight bytes per step: no byte of the word has its top bit set */
	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, sizeof(w));
		if (w & high)
			break;
	}
	while (i < len && (unsigned char)s[i] < 0x80)
		i++;
	return i;
}

/* message_utf8_valid - g_utf8_validate, but NUL bytes are allowed */
static int
message_utf8_valid(const char *in, size_t len)
{
	const char *p = in;
	const char *end = in + len;

	/* ASCII, NUL included, is valid as it is: only the rest needs GLib */
	p += message_ascii_len(in, len);
	/* g_utf8_validate() rejects NUL; message_clean() removes them. */
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		const char *stop = nul ? nul : end;

		if (!g_utf8_validate(p, stop - p, NULL))
			return 0;
		p = nul ? nul + 1 : end;
	}
	return 1;
}

/* message_charset_is - whether charset names the canonical name */
static int
message_charset_is(const char *charset, const char *name)
{
	const char *canon = g_mime_charset_canon_name(charset);

	return canon != NULL && g_ascii_strcasecmp(canon, name) == 0;
}

/* message_from_fallback - 8-bit text of unknown charset to UTF-8 */
static GString *
message_from_fallback(const char *in, size_t len)
{
	int bad = 0;
	GString *out = message_iconv(in, len, MESSAGE_FALLBACK_CHARSET, &bad);

	if (out == NULL) {
		/* no iconv module for it: keep what is valid UTF-8 */
		char *valid = g_utf8_make_valid(in, (gssize)len);

		out = g_string_new(valid);
		g_free(valid);
	}
	return out;
}

/*
 * message_to_utf8 - bytes in the declared charset to valid UTF-8
 *
 * Undeclared or US-ASCII: UTF-8 when valid (mislabelled UTF-8 is far
 * more common than anything else), else Windows-1252.  UTF-8 with bad
 * bytes: the bad bytes become U+FFFD.  ISO-8859-1 is read as its
 * superset Windows-1252 (smart quotes in 0x80-0x9F), as browsers do.
 * Unknown charset names: as if undeclared.  Every repair sets
 * *fallback_r; a clean conversion leaves it alone.
 */
static GString *
message_to_utf8(const char *in, size_t len, const char *charset,
		int *fallback_r)
{
	int valid;
	int bad = 0;
	GString *out;

	if (len == 0) /* an empty part may have no buffer at all */
		return g_string_new(NULL);
	valid = message_utf8_valid(in, len);

	if (charset == NULL || *charset == '\0' ||
	    message_charset_is(charset, "us-ascii")) {
		if (valid)
			return g_string_new_len(in, (gssize)len);
		*fallback_r = 1;
		return message_from_fallback(in, len);
	}
	if (message_charset_is(charset, "utf-8") ||
	    g_ascii_strcasecmp(charset, "utf8") == 0) {
		char *fixed;

		if (valid)
			return g_string_new_len(in, (gssize)len);
		*fallback_r = 1;
		fixed = g_utf8_make_valid(in, (gssize)len);
		out = g_string_new(fixed);
		g_free(fixed);
		return out;
	}
	if (message_charset_is(charset, "iso-8859-1"))
		charset = MESSAGE_FALLBACK_CHARSET;

	out = message_iconv(in, len, charset, &bad);
	if (out == NULL) {
		/* a charset name iconv does not know */
		*fallback_r = 1;
		if (valid)
			return g_string_new_len(in, (gssize)len);
		return message_from_fallback(in, len);
	}
	if (bad)
		*fallback_r = 1;
	return out;
}

/* message_clean - CRLF and CR to LF, NUL to space (C strings downstream) */
static void
message_clean(GString *s)
{
	char *str = s->str;
	char *end = str + s->len;
	char *p, *w;

	/* memchr finds the few bytes to change; the runs between them are
	 * moved whole (mail from SMTP is CRLF throughout) */
	for (p = memchr(str, '\0', s->len); p != NULL;
	     p = memchr(p + 1, '\0', (size_t)(end - p - 1)))
		*p = ' ';
	p = memchr(str, '\r', s->len);
	if (p == NULL)
		return;
	for (w = p; p < end;) {
		char *next;

		/* p is at a CR: dropped before a LF, a LF itself otherwise */
		if (p + 1 < end && p[1] == '\n') {
			p++;
		} else {
			*w++ = '\n';
			p++;
		}
		next = memchr(p, '\r', (size_t)(end - p));
		if (next == NULL)
			next = end;
		memmove(w, p, (size_t)(next - p));
		w += next - p;
		p = next;
	}
	g_string_truncate(s, (gsize)(w - str));
}

/* message_is_blank - whether the text holds no visible character */
static int
message_is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isspace(s[i]))
			return 0;
	return 1;
}

/*
 * message_append - add one part's text to sink, a blank line between
 * parts, within the text budget.
 */
static void
message_append(struct message_ctx *ctx, GString *sink, const char *text,
	       size_t len)
{
	size_t room, keep;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	if (message_is_blank(text, len))
		return;
	room = message_room(ctx);
	if (room == 0) {
		ctx->msg->limited = 1;
		return;
	}
	if (sink->len > 0)
		g_string_append(sink, "\n");
	keep = message_utf8_cut(text, len, room);
	if (keep < len)
		ctx->msg->limited = 1;
	g_string_append_len(sink, text, (gssize)keep);
	g_string_append_c(sink, '\n');
	ctx->used += keep + 1;
}

/* message_quote_into - add nested text to sink with each line "> " */
static void
message_quote_into(struct message_ctx *ctx, GString *sink, const GString *in)
{
	GString *q = g_string_sized_new(in->len + in->len / 8 + 8);
	const char *p = in->str;
	const char *end = in->str + in->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;

		/* Blank lines stay inside the quote: quote.c sees one block. */
		g_string_append(q, stop == p ? ">" : "> ");
		g_string_append_len(q, p, (gssize)(stop - p));
		g_string_append_c(q, '\n');
		p = nl ? nl + 1 : end;
	}
	/*
	 * The nested text was counted in the budget already; only the
	 * prefixes are new.  message_parse() caps the final text anyway.
	 */
	if (q->len > 0) {
		if (sink->len > 0)
			g_string_append(sink, "\n");
		g_string_append_len(sink, q->str, (gssize)q->len);
		ctx->used += q->len - in->len;
	}
	g_string_free(q, TRUE);
}

/* message_is_signature - detached signatures are not attachments */
static int
message_is_signature(GMimeContentType *ct)
{
	return g_mime_content_type_is_type(ct, "application",
					   "pgp-signature") ||
	       g_mime_content_type_is_type(ct, "application",
					   "pkcs7-signature") ||
	       g_mime_content_type_is_type(ct, "application",
					   "x-pkcs7-signature");
}

/* message_is_attachment - the sender marked it as a file */
static int
message_is_attachment(GMimeObject *obj)
{
	const char *disp = g_mime_object_get_disposition(obj);

	return disp != NULL && g_ascii_strcasecmp(disp, "attachment") == 0;
}

/* message_text_part - read a text/plain or text/html leaf into sink */
static void
message_text_part(struct message_ctx *ctx, GMimePart *part, int is_html,
		  GString *sink)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	const char *charset =
	    g_mime_object_get_content_type_parameter(obj, "charset");
	size_t room = message_room(ctx);
	size_t max_raw;
	GByteArray *raw;
	GString *text;
	int cut;

	ctx->msg->n_text_parts++;
	if (room == 0) {
		ctx->msg->limited = 1;
		return;
	}
	/* Enough raw bytes for the room left: UTF-8 never shrinks them
	 * below one byte per input byte, except UTF-16/32 (4 bytes max). */
	max_raw = room > G_MAXSIZE / (4 * MESSAGE_HTML_RATIO) ? room : room * 4;
	if (is_html)
		max_raw *= MESSAGE_HTML_RATIO;
	raw = message_read_part(part, max_raw, &cut);
	if (cut)
		ctx->msg->limited = 1;

	text = message_to_utf8((const char *)raw->data, raw->len, charset,
			       &ctx->msg->charset_fallback);
	g_byte_array_unref(raw);
	message_clean(text);

	if (is_html) {
		int trunc = 0;
		char *plain =
		    html_to_text(text->str, text->len, "UTF-8", room, &trunc);

		if (trunc)
			ctx->msg->limited = 1;
		message_append(ctx, sink, plain, strlen(plain));
		g_free(plain);
	} else {
		message_append(ctx, sink, text->str, text->len);
	}
	g_string_free(text, TRUE);
}

/* message_leaf - a single part: text, or an attachment to count */
static void
message_leaf(struct message_ctx *ctx, GMimePart *part, GString *sink)
{
	GMimeObject *obj = GMIME_OBJECT(part);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	int plain =
	    ct == NULL || g_mime_content_type_is_type(ct, "text", "plain");
	int html =
	    ct != NULL && g_mime_content_type_is_type(ct, "text", "html");

	if (message_is_attachment(obj) || (!plain && !html)) {
		if (ct == NULL || !message_is_signature(ct))
			ctx->msg->n_attachments++;
		return;
	}
	message_text_part(ctx, part, html, sink);
}

/* message_is_plain_leaf - a readable text/plain part */
static int
message_is_plain_leaf(GMimeObject *obj)
{
	GMimeContentType *ct;

	if (!GMIME_IS_PART(obj) || message_is_attachment(obj))
		return 0;
	ct = g_mime_object_get_content_type(obj);
	return ct == NULL || g_mime_content_type_is_type(ct, "text", "plain");
}

/* message_is_richer - text/html or a multipart that may hold it */
static int
message_is_richer(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);

	if (message_is_attachment(obj) || ct == NULL)
		return 0;
	return GMIME_IS_MULTIPART(obj) ||
	       (GMIME_IS_PART(obj) &&
		g_mime_content_type_is_type(ct, "text", "html"));
}

/*
 * message_alternative - one rendition of a multipart/alternative
 *
 * The plain part is what the customer's client wrote for text readers;
 * it is used unless it is empty (some clients send a blank one), in
 * which case the last richer rendition (HTML, or a multipart/related
 * around it) is read.  Renditions not read are counted as seen.
 */
static void
message_alternative(struct message_ctx *ctx, GMimeMultipart *mp, unsigned depth,
		    GString *sink)
{
	int n = g_mime_multipart_get_count(mp);
	GMimeObject *plain = NULL;
	GMimeObject *rich = NULL;
	GString *tmp;

	for (int i = 0; i < n; i++) {
		GMimeObject *child = g_mime_multipart_get_part(mp, i);

		if (plain == NULL && message_is_plain_leaf(child))
			plain = child;
		else if (message_is_richer(child))
			rich = child;
	}
	if (plain == NULL && rich == NULL) {
		/* nothing readable: walk them all to count attachments */
		for (int i = 0; i < n; i++)
			message_walk(ctx, g_mime_multipart_get_part(mp, i),
				     depth + 1, sink);
		return;
	}
	for (int i = 0; i < n; i++) {
		GMimeObject *child = g_mime_multipart_get_part(mp, i);

		if (child != plain && child != rich)
			ctx->msg->n_parts++;
	}

	tmp = g_string_new(NULL);
	if (plain != NULL)
		message_walk(ctx, plain, depth + 1, tmp);
	if (rich != NULL) {
		if (tmp->len == 0)
			message_walk(ctx, rich, depth + 1, tmp);
		else
			ctx->msg->n_parts++;
	}
	if (tmp->len > 0) {
		if (sink->len > 0)
			g_string_append_c(sink, '\n');
		g_string_append_len(sink, tmp->str, (gssize)tmp->len);
	}
	g_string_free(tmp, TRUE);
}

/* message_rfc822 - a message inside the message: its text, quoted */
static void
message_rfc822(struct message_ctx *ctx, GMimeMessagePart *mpart, unsigned depth,
	       GString *sink)
{
	GMimeMessage *inner = g_mime_message_part_get_message(mpart);
	GMimeObject *body;
	GString *tmp;

	ctx->msg->n_rfc822++;
	if (inner == NULL)
		return;
	body = g_mime_message_get_mime_part(inner);
	if (body == NULL)
		return;
	tmp = g_string_new(NULL);
	message_walk(ctx, body, depth + 1, tmp);
	message_quote_into(ctx, sink, tmp);
	g_string_free(tmp, TRUE);
}

/*
 * message_prologue - the text of a multipart without parts
 *
 * A missing or wrong boundary leaves the whole body in the prologue; it
 * is still what the customer wrote, so it is read as plain text.
 */
static void
message_prologue(struct message_ctx *ctx, GMimeMultipart *mp, GString *sink)
{
	const char *pro = g_mime_multipart_get_prologue(mp);
	GString *text;

	if (pro == NULL || message_is_blank(pro, strlen(pro)))
		return;
	ctx->msg->n_text_parts++;
	text = message_to_utf8(pro, strlen(pro), NULL,
			       &ctx->msg->charset_fallback);
	message_clean(text);
	message_append(ctx, sink, text->str, text->len);
	g_string_free(text, TRUE);
}

/* message_walk - visit one MIME object; recursion bounded by max_depth */
static void
message_walk(struct message_ctx *ctx, GMimeObject *obj, unsigned depth,
	     GString *sink)
{
	struct message *msg = ctx->msg;

	if (obj == NULL)
		return;
	if (depth > ctx->lim.max_depth || msg->n_parts >= ctx->lim.max_parts) {
		msg->limited = 1;
		return;
	}
	msg->n_parts++;

	if (GMIME_IS_MESSAGE_PART(obj)) {
		message_rfc822(ctx, GMIME_MESSAGE_PART(obj), depth, sink);
	} else if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		GMimeContentType *ct = g_mime_object_get_content_type(obj);

		if (g_mime_multipart_get_count(mp) == 0) {
			message_prologue(ctx, mp, sink);
			return;
		}
		if (ct != NULL && g_mime_content_type_is_type(ct, "multipart",
							      "alternative")) {
			message_alternative(ctx, mp, depth, sink);
			return;
		}
		for (int i = 0; i < g_mime_multipart_get_count(mp); i++) {
			if (msg->n_parts >= ctx->lim.max_parts) {
				msg->limited = 1;
				break;
			}
			message_walk(ctx, g_mime_multipart_get_part(mp, i),
				     depth + 1, sink);
		}
	} else if (GMIME_IS_PART(obj)) {
		message_leaf(ctx, GMIME_PART(obj), sink);
	} else {
		/* message/partial and anything GMime adds later */
		msg->n_attachments++;
	}
}

/* message_header_text - a header value fit for logs: UTF-8, one line */
static char *
message_header_text(const char *value)
{
	char *s;

	if (value == NULL)
		return NULL;
	s = g_utf8_make_valid(value, -1);
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return g_strstrip(s);
}

/*
 * message_header_len - length of the header name at p (line of len
 * bytes), or 0 when the line is not "name [WSP] : value"
 *
 * The same test Postfix's is_header() makes: the first line that is
 * neither a header nor a continuation starts the body.
 */
static size_t
message_header_len(const char *p, size_t len)
{
	size_t n = 0, k;

	while (n < len && (unsigned char)p[n] > 32 &&
	       (unsigned char)p[n] < 127 && p[n] != ':')
		n++;
	if (n == 0)
		return 0;
	for (k = n; k < len && (p[k] == ' ' || p[k] == '\t'); k++)
		;
	return k < len && p[k] == ':' ? n : 0;
}

/*
 * One top-level header: offsets of its name and of its raw value (what
 * follows the colon, folds and the final line end included, as GMime
 * keeps it), in the buffer scanned, later in msg->hdr_block.
 */
struct message_hdr {
	size_t name, name_len;
	size_t raw, raw_len;
};

/* message_scan - what message_scan_headers() found */
struct message_scan {
	struct message_hdr *hdrs;
	size_t n_hdrs, cap;
	size_t blank; /* offset of the blank line that ends the block */
	int plain;    /* every line a header or its fold, blank line seen */
};

/* message_scan_push - one more header name and span */
static void
message_scan_push(struct message_scan *sc, struct message *msg,
		  struct message_hdr h, const char *name)
{
	if (sc->n_hdrs == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 16;
		sc->hdrs = g_renew(struct message_hdr, sc->hdrs, sc->cap);
		msg->header_names =
		    g_renew(char *, msg->header_names, sc->cap + 1);
	}
	sc->hdrs[sc->n_hdrs] = h;
	msg->header_names[sc->n_hdrs++] = g_strndup(name, h.name_len);
}

/*
 * message_scan_headers - every top-level header name, raw, in order
 *
 * Read from the bytes rather than from GMime, which moves Content-*
 * headers to the body part and so loses their position among the rest;
 * the position is what a milter deletes headers by.  The same pass tells
 * whether the block is plain (sc->plain): only then does the lean parse
 * trust its own reading of where each header starts and ends, since that
 * is where no two readers differ (GMime skips an mbox "From " line in
 * front, as we do).  A space before the colon, a bare CR, a NUL, a fold
 * of blanks only or no blank line at all leaves the block to GMime.
 */
static void
message_scan_headers(struct message *msg, const char *buf, size_t len,
		     struct message_scan *sc)
{
	const char *p = buf;
	const char *end = buf + len;

	memset(sc, 0, sizeof(*sc));
	sc->plain = 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		size_t ll = (size_t)((nl ? nl : end) - p);
		size_t hl;

		if (nl == NULL)
			sc->plain = 0;
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			sc->blank = (size_t)(p - buf);
			break; /* the blank line before the body */
		}
		if (memchr(p, '\r', ll) != NULL || memchr(p, '\0', ll) != NULL)
			sc->plain = 0;
		if (p[0] == ' ' || p[0] == '\t') {
			/* a folded continuation of the header before */
			if (sc->n_hdrs == 0 || message_is_blank(p, ll))
				sc->plain = 0;
			else
				sc->hdrs[sc->n_hdrs - 1].raw_len =
				    (size_t)(next - buf) -
				    sc->hdrs[sc->n_hdrs - 1].raw;
		} else if ((hl = message_header_len(p, ll)) > 0) {
			struct message_hdr h;

			if (p[hl] != ':')
				sc->plain = 0;
			h.name = (size_t)(p - buf);
			h.name_len = hl;
			h.raw = h.name + hl + 1;
			h.raw_len = (size_t)(next - buf) - h.raw;
			message_scan_push(sc, msg, h, p);
		} else if (!(p == buf && ll >= 5 &&
			     memcmp(p, "From ", 5) == 0)) {
			/* not a header: the body starts (an mbox "From "
			 * line in front of the headers is skipped) */
			sc->plain = 0;
			break;
		}
		p = next;
	}
	if (p >= end || sc->n_hdrs == 0)
		sc->plain = 0;
	if (msg->header_names == NULL)
		msg->header_names = g_new0(char *, 1);
	msg->header_names[sc->n_hdrs] = NULL;
	msg->n_header_names = sc->n_hdrs;
}

/* message_is_encoded_word - "=?charset?b|q?text?=" */
static int
message_is_encoded_word(const char *w)
{
	size_t len = strlen(w);
	const char *q1, *q2;

	if (len < 8 || strncmp(w, "=?", 2) != 0 ||
	    strcmp(w + len - 2, "?=") != 0)
		return 0;
	q1 = strchr(w + 2, '?');
	if (q1 == NULL || q1[1] == '\0' || q1[2] != '?')
		return 0;
	q2 = q1 + 2;
	return strchr("bBqQ", q1[1]) != NULL && q2 < w + len - 2;
}

/*
 * message_options - the parser options of every parse, made once
 *
 * 8-bit headers: UTF-8 if valid, else what Windows clients send.  GMime
 * only reads them, so all threads share one set.
 */
static GMimeParserOptions *
message_options(void)
{
	static GMimeParserOptions *opts;
	static gsize once;

	if (g_once_init_enter(&once)) {
		static const char *fallback_charsets[] = {"UTF-8",
							  "windows-1252", NULL};

		opts = g_mime_parser_options_new();
		g_mime_parser_options_set_fallback_charsets(opts,
							    fallback_charsets);
		g_mime_parser_options_set_rfc2047_compliance_mode(
		    opts, GMIME_RFC_COMPLIANCE_LOOSE);
		g_once_init_leave(&once, 1);
	}
	return opts;
}

/*
 * message_subject - the Subject decoded one encoded-word at a time
 *
 * GMime 3.2 stops decoding after an encoded-word ending in "=" padding
 * when the next one uses the same charset ("=?utf-8?b?YWI=?=
 * =?utf-8?b?Y2Q=?=" gives "ab"), and Python's email package writes long
 * subjects exactly so.  Each word is decoded on its own; blanks between
 * two encoded-words are dropped as RFC 2047 says.  raw is the first
 * Subject's raw value; without an encoded-word GMime's own decoding
 * (8-bit fallbacks) is right, and gmime_subject() gives it.
 */
static char *
message_subject(const char *raw, const char *(*gmime_subject)(void *),
		void *ctx)
{
	GString *out;
	char **words;
	int prev_encoded = 0;
	char *text;

	if (raw == NULL || strstr(raw, "=?") == NULL)
		return message_header_text(gmime_subject(ctx));
	out = g_string_new(NULL);
	words = g_strsplit_set(raw, " \t\r\n", -1);
	for (char **w = words; *w != NULL; w++) {
		int encoded;
		char *part;

		if (**w == '\0')
			continue;
		encoded = message_is_encoded_word(*w);
		part = g_mime_utils_header_decode_text(NULL, *w);
		if (out->len > 0 && !(encoded && prev_encoded))
			g_string_append_c(out, ' ');
		g_string_append(out, part);
		g_free(part);
		prev_encoded = encoded;
	}
	g_strfreev(words);
	text = message_header_text(out->str);
	g_string_free(out, TRUE);
	return text;
}

/* message_gmime_subject - g_mime_message_get_subject for message_subject */
static const char *
message_gmime_subject(void *m)
{
	return g_mime_message_get_subject(m);
}

/* message_collect_headers - decoded subject, From and Message-ID */
static void
message_collect_headers(struct message *msg, GMimeMessage *m)
{
	GMimeHeaderList *list = g_mime_object_get_header_list(GMIME_OBJECT(m));
	GMimeHeader *h =
	    list ? g_mime_header_list_get_header(list, "Subject") : NULL;
	const char *from;

	msg->subject =
	    message_subject(h ? g_mime_header_get_raw_value(h) : NULL,
			    message_gmime_subject, m);
	/* GMime 3 header values are already RFC 2047 decoded. */
	from = g_mime_object_get_header(GMIME_OBJECT(m), "From");
	msg->from = message_header_text(from);
	if (g_mime_message_get_message_id(m) != NULL)
		msg->message_id =
		    message_header_text(g_mime_message_get_message_id(m));
}

/* message_is_content - a Content-* header, which GMime gives the body */
static int
message_is_content(const char *name, size_t len)
{
	return len >= 8 && g_ascii_strncasecmp(name, "Content-", 8) == 0;
}

/*
 * message_hdr_find - index of the first (last when last) top-level
 * header called name, or -1; Content-* ones belong to the body part and
 * GMime's message does not have them
 */
static long
message_hdr_find(const struct message *msg, const char *name, int last)
{
	size_t nl = strlen(name);
	long found = -1;

	if (message_is_content(name, nl))
		return -1;
	for (size_t i = 0; i < msg->n_hdrs; i++) {
		const struct message_hdr *h = &msg->hdrs[i];

		if (h->name_len == nl &&
		    g_ascii_strncasecmp(msg->hdr_block + h->name, name, nl) ==
			0) {
			found = (long)i;
			if (!last)
				break;
		}
	}
	return found;
}

/* message_hdr_raw - the raw value of header i, a new string */
static char *
message_hdr_raw(const struct message *msg, long i)
{
	const struct message_hdr *h = &msg->hdrs[i];

	return g_strndup(msg->hdr_block + h->raw, h->raw_len);
}

/*
 * message_is_plain_text - printable ASCII (tabs too) and no "=?": RFC 2047
 * decoding gives it back unchanged, word for word and blank for blank
 */
static int
message_is_plain_text(const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= 0x20 && *p < 0x7f) || *p == '\t') ||
		    (p[0] == '=' && p[1] == '?'))
			return 0;
	return 1;
}

/* message_hdr_value - what g_mime_header_get_value() makes of header i */
static char *
message_hdr_value(const struct message *msg, long i)
{
	char *raw = message_hdr_raw(msg, i);
	char *unfolded = g_mime_utils_header_unfold(raw);
	char *v;

	g_free(raw);
	if (message_is_plain_text(unfolded))
		return unfolded;
	v = g_mime_utils_header_decode_text(message_options(), unfolded);
	g_free(unfolded);
	return v;
}

/* message_lean_subj - message_lean_subject's context */
struct message_lean_subj {
	const struct message *msg;
	char *value; /* freed by the caller */
};

/* message_lean_subject - GMime's subject: the last Subject's value */
static const char *
message_lean_subject(void *ctx)
{
	struct message_lean_subj *ls = ctx;
	long i = message_hdr_find(ls->msg, "Subject", 1);

	if (i >= 0)
		ls->value = message_hdr_value(ls->msg, i);
	return ls->value;
}

/*
 * message_lean_headers - the subject from the bytes; From and Message-ID
 * are left to message_header_value() (the lean caller reads neither)
 */
static void
message_lean_headers(struct message *msg)
{
	struct message_lean_subj ls = {msg, NULL};
	long i = message_hdr_find(msg, "Subject", 0);
	char *raw = i < 0 ? NULL : message_hdr_raw(msg, i);

	msg->subject = message_subject(raw, message_lean_subject, &ls);
	g_free(ls.value);
	g_free(raw);
}

/*
 * message_lean_body - the body's MIME tree from the Content-* headers
 * and the body alone: what GMime's message parse gives as its MIME part,
 * without a GMimeHeader for every Received line
 */
static GMimeObject *
message_lean_body(const char *buf, size_t len, const struct message_scan *sc)
{
	GByteArray *a = g_byte_array_sized_new((guint)(len - sc->blank + 256));
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeObject *obj;

	for (size_t i = 0; i < sc->n_hdrs; i++) {
		const struct message_hdr *h = &sc->hdrs[i];

		if (message_is_content(buf + h->name, h->name_len))
			g_byte_array_append(
			    a, (const guint8 *)buf + h->name,
			    (guint)(h->raw + h->raw_len - h->name));
	}
	g_byte_array_append(a, (const guint8 *)buf + sc->blank,
			    (guint)(len - sc->blank));
	stream = g_mime_stream_mem_new_with_byte_array(a);
	parser = g_mime_parser_new_with_stream(stream);
	g_object_unref(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	obj = g_mime_parser_construct_part(parser, message_options());
	g_object_unref(parser);
	return obj;
}

/* message_lean_keep - copy the header block so lookups outlive buf */
static void
message_lean_keep(struct message *msg, const char *buf, struct message_scan *sc)
{
	msg->hdr_block = g_memdup2(buf, sc->blank);
	msg->hdrs = sc->hdrs;
	msg->n_hdrs = sc->n_hdrs;
	sc->hdrs = NULL;
}

/*
 * message_header_value - the first top-level header called name, decoded
 * as GMime's message gives it (g_mime_object_get_header()), a new string;
 * NULL when there is none (Content-* headers belong to the body part)
 */
char *
message_header_value(const struct message *msg, const char *name)
{
	long i;

	if (msg == NULL || name == NULL)
		return NULL;
	if (msg->mime != NULL)
		return g_strdup(
		    g_mime_object_get_header(GMIME_OBJECT(msg->mime), name));
	if (msg->hdr_block == NULL || (i = message_hdr_find(msg, name, 0)) < 0)
		return NULL;
	return message_hdr_value(msg, i);
}

/* message_new - an empty message with valid, empty fields */
static struct message *
message_new(void)
{
	struct message *msg = g_new0(struct message, 1);

	msg->text = g_string_new(NULL);
	msg->header_names = g_new0(char *, 1);
	return msg;
}

/* Enough of the start to tell CR-only line ends from CRLF or LF. */
#define MESSAGE_EOL_PROBE 4096

/*
 * message_eol_copy - a copy with line ends GMime reads, or NULL when the
 * buffer's are fine already.  Decided on the first bytes:
 *   - CR only (old Mac files; never crosses SMTP, but -t reads them):
 *     every CR becomes LF, or GMime sees no header block;
 *   - CR CR LF (a file whose CRLF went through a second LF-to-CRLF
 *     conversion): "\r\r\n" becomes "\r\n", or the blank line ending
 *     the headers is not blank and the body is lost among them.
 */
static char *
message_eol_copy(const char *buf, size_t len, size_t *len_r)
{
	size_t n = len < MESSAGE_EOL_PROBE ? len : MESSAGE_EOL_PROBE;
	const char *lf = memchr(buf, '\n', n);
	char *copy;
	size_t o = 0;

	if (lf == NULL && memchr(buf, '\r', n) != NULL) {
		copy = g_memdup2(buf, len);
		for (size_t i = 0; i < len; i++)
			if (copy[i] == '\r')
				copy[i] = '\n';
		*len_r = len;
		return copy;
	}
	if (lf == NULL || lf - buf < 2 || lf[-1] != '\r' || lf[-2] != '\r')
		return NULL;
	copy = g_malloc(len);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r' && i + 2 < len && buf[i + 1] == '\r' &&
		    buf[i + 2] == '\n')
			continue;
		copy[o++] = buf[i];
	}
	*len_r = o;
	return copy;
}

/* message_full - GMime's message parse; NULL when it finds no message */
static GMimeMessage *
message_full(const char *buf, size_t len)
{
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(buf, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *m;

	g_object_unref(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	m = g_mime_parser_construct_message(parser, message_options());
	g_object_unref(parser);
	return m;
}

/* message_parse_as - parse raw bytes, lean or full; see message.h */
static struct message *
message_parse_as(const char *buf, size_t len, const struct message_limits *lim,
		 int lean, char **error_r)
{
	struct message_ctx ctx;
	struct message_scan sc;
	struct message *msg;
	char *eol_copy = NULL;
	GMimeObject *body = NULL;
	GMimeMessage *m;

	if (error_r != NULL)
		*error_r = NULL;
	if (buf == NULL && len > 0) {
		if (error_r != NULL)
			*error_r = g_strdup("message_parse: no buffer");
		return NULL;
	}

	memset(&ctx, 0, sizeof(ctx));
	if (lim != NULL) {
		ctx.lim = *lim;
	} else {
		ctx.lim.max_depth = MESSAGE_DEF_MAX_DEPTH;
		ctx.lim.max_parts = MESSAGE_DEF_MAX_PARTS;
		ctx.lim.max_text_bytes = MESSAGE_DEF_MAX_TEXT;
	}
	msg = message_new();
	ctx.msg = msg;
	if (len == 0)
		return msg;
	eol_copy = message_eol_copy(buf, len, &len);
	if (eol_copy != NULL)
		buf = eol_copy;
	message_scan_headers(msg, buf, len, &sc);

	/* no part from GMime (never seen): the full parse decides */
	if (lean && sc.plain &&
	    (body = message_lean_body(buf, len, &sc)) != NULL) {
		message_lean_keep(msg, buf, &sc);
		message_lean_headers(msg);
		message_walk(&ctx, body, 1, msg->text);
		g_object_unref(body);
	} else if ((m = message_full(buf, len)) == NULL) {
		/*
		 * GMime found no message at all (no header block).  The bytes
		 * are still what the customer sent: read them as one text/plain
		 * part in an unknown charset.
		 */
		GString *text =
		    message_to_utf8(buf, len, NULL, &msg->charset_fallback);

		message_clean(text);
		msg->n_parts = 1;
		msg->n_text_parts = 1;
		message_append(&ctx, msg->text, text->str, text->len);
		g_string_free(text, TRUE);
	} else {
		msg->mime = m;
		message_collect_headers(msg, m);
		message_walk(&ctx, g_mime_message_get_mime_part(m), 1,
			     msg->text);
	}
	g_free(sc.hdrs);

	/* Quote prefixes may have pushed the text past the budget. */
	if (msg->text->len > ctx.lim.max_text_bytes) {
		g_string_truncate(
		    msg->text, message_utf8_cut(msg->text->str, msg->text->len,
						ctx.lim.max_text_bytes));
		msg->limited = 1;
	}
	g_free(eol_copy);
	return msg;
}

/* message_parse - parse raw bytes; NULL with *error_r only if impossible */
struct message *
message_parse(const char *buf, size_t len, const struct message_limits *lim,
	      char **error_r)
{
	return message_parse_as(buf, len, lim, 0, error_r);
}

/* message_parse_lean - the same, for a caller that needs no ->mime */
struct message *
message_parse_lean(const char *buf, size_t len,
		   const struct message_limits *lim, char **error_r)
{
	return message_parse_as(buf, len, lim, 1, error_r);
}

/* message_free - release everything; returns NULL for msg = ...free() */
struct message *
message_free(struct message *msg)
{
	if (msg == NULL)
		return NULL;
	g_free(msg->subject);
	g_free(msg->from);
	g_free(msg->message_id);
	if (msg->text != NULL)
		g_string_free(msg->text, TRUE);
	if (msg->mime != NULL)
		g_object_unref(msg->mime);
	if (msg->header_names != NULL)
		g_strfreev(msg->header_names);
	g_free(msg->hdr_block);
	g_free(msg->hdrs);
	g_free(msg);
	return NULL;
}
