/*
 * quote.c - separate the customer's new text from quotes and signature
 *
 * Owns the recognition of what mail clients put around a reply: ">"
 * quoting, "On <date>, <name> wrote:" attributions in the languages our
 * customers write in, Outlook's original-message blocks, forwarded-message
 * markers, and signatures.  Everything it does not recognise is the
 * customer's new text, so an unknown client costs us accuracy of the
 * "long" flag, never words.
 *
 * The text is walked line by line with a small state machine:
 *   FRESH  new text; ">" lines are quoted, the customer may answer inline
 *   SIG    after a "-- " line, until the next quoted block
 *   REST   after an unprefixed quote start: everything is quoted
 * Besides the output, only a paragraph is copied, once, to look for a
 * disclaimer; the look-aheads are bounded (QUOTE_HDR_LOOKAHEAD lines, a
 * greeting line, QUOTE_DISCLAIMER_LINES), so the work is linear in the
 * input.
 */
#include <string.h>

#include <glib.h>

#include "quote.h"

/*
 * Attribution lines are short; a longer line is the customer's prose even
 * if it happens to end in "wrote:".  Gmail wraps its attribution at ~76
 * columns, so two physical lines are joined, never more than three.
 */
#define QUOTE_ATTRIB_MAX 300
#define QUOTE_ATTRIB_LINES 3

/* Outlook's header block: From: then the others within this many lines. */
#define QUOTE_HDR_LOOKAHEAD 5

/* A greeting between an attribution and its ">" block ("Hello,"). */
#define QUOTE_GREETING_MAX 40

/* A ">" line at least this long may have been wrapped by the client,
 * its overflow left without ">" on the next line. */
#define QUOTE_WRAP_MIN 65

/* A disclaimer paragraph is read at most this many lines ahead. */
#define QUOTE_DISCLAIMER_LINES 20

/* A "Sent from my iPhone" line is short; longer is a sentence. */
#define QUOTE_MOBILE_SIG_MAX 60

enum quote_state {
	QUOTE_FRESH,
	QUOTE_SIG,
	QUOTE_REST,
};

struct quote_line {
	const char *s; /* start of the line */
	size_t len;    /* without the LF (and without a trailing CR) */
	size_t span;   /* bytes in the original text, LF included */
};

/*
 * Attribution intros and verbs.  An attribution starts with an intro and
 * its (joined) text ends with one of the verbs followed by ":".
 */
static const char *const quote_intros[] = {
    "On ",     /* English */
    "Am ",     /* German */
    "Le ",     /* French */
    "El ",     /* Spanish */
    "Il ",     /* Italian */
    "Op ",     /* Dutch */
    "Em ",     /* Portuguese */
    "No dia ", /* Portuguese (Brazil) */
    "Den ",    /* Swedish, Danish, Norwegian */
    "W dniu ", /* Polish */
    "Dne ",    /* Czech */
    NULL,
};

static const char *const quote_verbs[] = {
    "wrote",    "schrieb", "a écrit",  "escribió", "ha scritto", "schreef",
    "escreveu", "skrev",   "napisał",  "napsal",   "kirjoitti",  "írta",
    "yazdı",    "написал", "написала", "a scris",  NULL,
};

/*
 * Languages that put the name after the verb: "Am 5. Jan. 2026 um 10:00
 * schrieb John <j@x>:", "Op ... schreef John:", "Den ... skrev John:".
 */
static const char *const quote_verbs_before_name[] = {
    " schrieb ", " schreef ", " skrev ", " napisał ", NULL,
};

/* Separator lines that open an Outlook or Thunderbird original message. */
static const char *const quote_original_markers[] = {
    "original message",    "ursprüngliche nachricht", "originalnachricht",
    "message d'origine",   "message original",        "mensaje original",
    "messaggio originale", "oorspronkelijk bericht",  "origineel bericht",
    "mensagem original",   "ursprungligt meddelande", "oprindelig meddelelse",
    "opprinnelig melding", "wiadomość oryginalna",    NULL,
};

/* Markers of a forwarded message, matched anywhere on a short line. */
static const char *const quote_forward_markers[] = {
    "forwarded message",
    "begin forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "début du message réexpédié",
    "message réexpédié",
    "mensaje reenviado",
    "inicio del mensaje reenviado",
    "messaggio inoltrato",
    "inizio messaggio inoltrato",
    "doorgestuurd bericht",
    "begin doorgestuurd bericht",
    "mensagem encaminhada",
    "início da mensagem reencaminhada",
    "vidarebefordrat meddelande",
    "videresendt meddelelse",
    NULL,
};

/* Header names of an unprefixed original-message block, lower case. */
static const char *const quote_from_names[] = {
    "from", "von", "de", "da", "van", "od", "från", "fra", "lähettäjä", NULL,
};

static const char *const quote_other_names[] = {
    "sent", "date",      "to",      "subject", "cc",    "gesendet", "datum",
    "an",   "betreff",   "envoyé",  "à",       "objet", "enviado",  "fecha",
    "para", "asunto",    "inviato", "data",    "a",     "oggetto",  "verzonden",
    "aan",  "onderwerp", "assunto", "skickat", "till",  "ämne",     "sendt",
    "til",  "emne",      "wysłano", "do",      "temat", NULL,
};

/* Mobile clients' one-line signatures, matched as a line prefix. */
static const char *const quote_mobile_sigs[] = {
    "Sent from my ",
    "Sent from Mail for ",
    "Get Outlook for ",
    "Envoyé de mon ",
    "Von meinem ",
    "Gesendet von meinem ",
    "Enviado desde mi ",
    "Enviado do meu ",
    "Inviato da ",
    "Verzonden met ",
    NULL,
};

/* quote_skip_space - first non-blank position in [s, end) */
static const char *
quote_skip_space(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* quote_rtrim - length of s without trailing blanks; the no-break spaces
 * U+00A0 and U+202F count (French clients write "a \xc3\xa9crit\u00a0:",
 * "De\u00a0:") */
static size_t
quote_rtrim(const char *s, size_t len)
{
	for (;;) {
		if (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
				s[len - 1] == '\r'))
			len--;
		else if (len >= 2 && memcmp(s + len - 2, "\xc2\xa0", 2) == 0)
			len -= 2;
		else if (len >= 3 &&
			 memcmp(s + len - 3, "\xe2\x80\xaf", 3) == 0)
			len -= 3;
		else
			return len;
	}
}

/* quote_is_blank - whether the line holds only white space */
static int
quote_is_blank(const struct quote_line *ln)
{
	return quote_rtrim(ln->s, ln->len) == 0;
}

/* quote_is_quoted - whether the line starts with ">" after indentation */
static int
quote_is_quoted(const struct quote_line *ln)
{
	const char *p = quote_skip_space(ln->s, ln->s + ln->len);

	return p < ln->s + ln->len && *p == '>';
}

/* quote_lower - a casefolded, NUL-terminated copy of at most len bytes */
static char *
quote_lower(const char *s, size_t len)
{
	/* g_utf8_strdown copes with invalid input by copying it through. */
	return g_utf8_strdown(s, (gssize)len);
}

/* quote_has_any - whether the lower-cased hay contains one of needles */
static int
quote_has_any(const char *hay, const char *const *needles)
{
	for (size_t i = 0; needles[i] != NULL; i++)
		if (strstr(hay, needles[i]) != NULL)
			return 1;
	return 0;
}

/* quote_ends_with_verb - whether s ends in "<verb>:" (maybe "<verb> :") */
static int
quote_ends_with_verb(const char *s, size_t len)
{
	len = quote_rtrim(s, len);
	if (len == 0 || s[len - 1] != ':')
		return 0;
	len = quote_rtrim(s, len - 1); /* French puts a space before ':' */

	for (size_t i = 0; quote_verbs[i] != NULL; i++) {
		size_t vl = strlen(quote_verbs[i]);

		if (len >= vl &&
		    g_ascii_strncasecmp(s + len - vl, quote_verbs[i], vl) == 0)
			return 1;
	}
	for (size_t i = 0; quote_verbs_before_name[i] != NULL; i++)
		if (g_strstr_len(s, (gssize)len, quote_verbs_before_name[i]))
			return 1;
	return 0;
}

/* quote_starts_with_intro - whether the line starts an attribution */
static int
quote_starts_with_intro(const struct quote_line *ln)
{
	const char *p = quote_skip_space(ln->s, ln->s + ln->len);
	size_t left = (size_t)(ln->s + ln->len - p);

	/* every line is tried: the first byte rules out most intros */
	for (size_t i = 0; quote_intros[i] != NULL; i++) {
		size_t il;

		if (left == 0 || *p != quote_intros[i][0])
			continue;
		il = strlen(quote_intros[i]);
		if (left > il && strncmp(p, quote_intros[i], il) == 0)
			return 1;
	}
	return 0;
}

/* quote_has_digit - attributions carry a date; prose rarely does */
static int
quote_has_digit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (g_ascii_isdigit(s[i]))
			return 1;
	return 0;
}

/* quote_next_nonblank - index of the first non-blank line at or after i */
static size_t
quote_next_nonblank(const struct quote_line *lines, size_t n, size_t i)
{
	while (i < n && quote_is_blank(&lines[i]))
		i++;
	return i;
}

/*
 * quote_attribution - lines used by an attribution starting at i, or 0
 *
 * "On <date>, <name> wrote:" (and translations), possibly wrapped over
 * QUOTE_ATTRIB_LINES lines; or any short line ending in "<verb>:" that is
 * directly followed by ">" quoted lines ("John Smith <j@x> wrote:").
 */
static size_t
quote_attribution(const struct quote_line *lines, size_t n, size_t i)
{
	const struct quote_line *ln = &lines[i];

	if (quote_is_blank(ln) || quote_is_quoted(ln))
		return 0;

	if (quote_starts_with_intro(ln)) {
		GString *joined = g_string_new(NULL);
		size_t used = 0;

		for (size_t k = i; k < n && k < i + QUOTE_ATTRIB_LINES; k++) {
			/* a later intro line starts the attribution itself:
			 * "On top of that ..." above "On Mon, ... wrote:" is
			 * the customer's */
			if (quote_is_blank(&lines[k]) ||
			    quote_is_quoted(&lines[k]) ||
			    (k > i && quote_starts_with_intro(&lines[k])))
				break;
			if (joined->len > 0)
				g_string_append_c(joined, ' ');
			g_string_append_len(joined, lines[k].s,
					    (gssize)lines[k].len);
			if (joined->len > QUOTE_ATTRIB_MAX)
				break;
			if (quote_ends_with_verb(joined->str, joined->len) &&
			    quote_has_digit(joined->str, joined->len)) {
				used = k - i + 1;
				break;
			}
		}
		g_string_free(joined, TRUE);
		if (used > 0)
			return used;
	}

	/* "<name> wrote:" alone counts only when quoted text follows. */
	if (ln->len <= QUOTE_ATTRIB_MAX &&
	    quote_ends_with_verb(ln->s, ln->len)) {
		size_t j = quote_next_nonblank(lines, n, i + 1);

		if (j < n && quote_is_quoted(&lines[j]))
			return 1;
	}
	return 0;
}

/*
 * quote_header_name - the lower-cased "Name" of a "Name: value" line
 *
 * Tolerates the "*From:*" bold that HTML-to-text and plain-text Outlook
 * produce.  Returns NULL when the line does not look like a header.
 */
static char *
quote_header_name(const struct quote_line *ln)
{
	const char *p = quote_skip_space(ln->s, ln->s + ln->len);
	const char *end = ln->s + ln->len;
	const char *colon;
	char *name;
	char *out;

	while (p < end && *p == '*')
		p++;
	colon = memchr(p, ':', (size_t)(end - p));
	/* Header names are single words of modest length. */
	if (colon == NULL || colon == p || colon - p > 24)
		return NULL;
	name = quote_lower(p, quote_rtrim(p, (size_t)(colon - p)));
	out = g_strstrip(name);
	for (char *q = out; *q; q++)
		if (*q == ' ' || *q == '\t') {
			g_free(name);
			return NULL;
		}
	if (*out == '\0') {
		g_free(name);
		return NULL;
	}
	memmove(name, out, strlen(out) + 1);
	return name;
}

/* quote_name_in - whether name is one of names */
static int
quote_name_in(const char *name, const char *const *names)
{
	for (size_t i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			return 1;
	return 0;
}

/*
 * quote_header_block - whether an unprefixed original-message header
 * block (From:/Sent:/To:/Subject: and translations) starts at line i
 *
 * A lone "From: ..." in the customer's prose does not count: another
 * header name must follow within QUOTE_HDR_LOOKAHEAD lines.
 */
static int
quote_header_block(const struct quote_line *lines, size_t n, size_t i)
{
	char *name = quote_header_name(&lines[i]);
	int found = 0;

	if (name == NULL)
		return 0;
	if (!quote_name_in(name, quote_from_names)) {
		g_free(name);
		return 0;
	}
	g_free(name);

	for (size_t k = i + 1; k < n && k <= i + QUOTE_HDR_LOOKAHEAD; k++) {
		if (quote_is_blank(&lines[k]))
			break;
		name = quote_header_name(&lines[k]);
		if (name != NULL && quote_name_in(name, quote_other_names))
			found = 1;
		g_free(name);
		if (found)
			break;
	}
	return found;
}

/* quote_is_underscore_rule - Outlook's "_____..." line above the block */
static int
quote_is_underscore_rule(const struct quote_line *ln)
{
	const char *p = quote_skip_space(ln->s, ln->s + ln->len);
	size_t len = quote_rtrim(p, (size_t)(ln->s + ln->len - p));

	/* Outlook writes 32; anything shorter than 10 is a customer's line. */
	if (len < 10)
		return 0;
	for (size_t k = 0; k < len; k++)
		if (p[k] != '_')
			return 0;
	return 1;
}

/* quote_marker_line - whether the line is an original/forward marker */
static int
quote_marker_line(const struct quote_line *ln)
{
	const char *p = quote_skip_space(ln->s, ln->s + ln->len);
	size_t len = quote_rtrim(p, (size_t)(ln->s + ln->len - p));
	char *low;
	int hit = 0;

	/* Markers are short; prose mentioning one is not a marker. */
	if (len == 0 || len > 80)
		return 0;
	/* every marker has a '-' or ends in ':': most lines stop here,
	 * before the costly lowercasing (the hot spot of long mail) */
	if (memchr(p, '-', len) == NULL && p[len - 1] != ':')
		return 0;
	low = quote_lower(p, len);
	if (quote_has_any(low, quote_forward_markers)) {
		/* "Begin forwarded message:" or dashes around the words */
		hit = strchr(low, '-') != NULL || low[strlen(low) - 1] == ':';
	} else if (quote_has_any(low, quote_original_markers)) {
		hit = strstr(low, "--") != NULL;
	}
	g_free(low);
	return hit;
}

/* quote_is_sig_delim - "-- " (RFC 3676) or a bare "--" */
static int
quote_is_sig_delim(const struct quote_line *ln)
{
	size_t len = ln->len;

	if (len > 0 && ln->s[len - 1] == '\r')
		len--;
	return (len == 3 && memcmp(ln->s, "-- ", 3) == 0) ||
	       (len == 2 && memcmp(ln->s, "--", 2) == 0);
}

/* quote_is_mobile_sig - "Sent from my iPhone" and friends */
static int
quote_is_mobile_sig(const struct quote_line *ln)
{
	size_t len = quote_rtrim(ln->s, ln->len);

	if (len > QUOTE_MOBILE_SIG_MAX)
		return 0;
	for (size_t i = 0; quote_mobile_sigs[i] != NULL; i++) {
		size_t pl;

		if (len == 0 || ln->s[0] != quote_mobile_sigs[i][0])
			continue;
		pl = strlen(quote_mobile_sigs[i]);
		if (len > pl && strncmp(ln->s, quote_mobile_sigs[i], pl) == 0)
			return 1;
	}
	return 0;
}

/*
 * quote_rest_start - lines consumed by a marker that quotes everything
 * after it (0 = none); *prefix_r = 1 when ">" quoting follows, so the
 * customer may still answer inline below it.
 */
static size_t
quote_rest_start(const struct quote_line *lines, size_t n, size_t i,
		 int *prefix_r)
{
	size_t used;

	*prefix_r = 0;
	if ((used = quote_attribution(lines, n, i)) > 0) {
		size_t j = quote_next_nonblank(lines, n, i + used);

		/* The blank lines between it and the ">" block are quote. */
		*prefix_r = j < n && quote_is_quoted(&lines[j]);
		if (*prefix_r)
			return j - i;
		/* A short line ("Hello,", "Richard,") before the ">" block:
		 * an inline reply, not an unprefixed quote of everything. */
		if (j < n && quote_rtrim(lines[j].s, lines[j].len) <=
				 QUOTE_GREETING_MAX) {
			size_t k = quote_next_nonblank(lines, n, j + 1);

			*prefix_r = k < n && quote_is_quoted(&lines[k]);
		}
		return *prefix_r ? j - i : used;
	}
	if (quote_marker_line(&lines[i]))
		return 1;
	if (quote_header_block(lines, n, i))
		return 1;
	if (quote_is_underscore_rule(&lines[i])) {
		size_t j = quote_next_nonblank(lines, n, i + 1);

		if (j < n && j <= i + 2 && quote_header_block(lines, n, j))
			return 1;
	}
	return 0;
}

/*
 * quote_wrapped_overflow - whether line i is the overflow of a long ">"
 * line its client wrapped ("> ... you are useless" / "morons and ..." /
 * "> ..."): it sits between two ">" lines, the one above long enough to
 * have been wrapped
 */
static int
quote_wrapped_overflow(const struct quote_line *lines, size_t n, size_t i)
{
	return i > 0 && i + 1 < n && !quote_is_blank(&lines[i]) &&
	       quote_is_quoted(&lines[i - 1]) &&
	       quote_rtrim(lines[i - 1].s, lines[i - 1].len) >=
		   QUOTE_WRAP_MIN &&
	       quote_is_quoted(&lines[i + 1]);
}

/* Words of a corporate disclaimer: all three kinds must be in one
 * paragraph, which the customer's prose about a parcel's "intended
 * recipient" never has. */
static const char *const quote_disc_who[] = {"intended recipient", "addressee",
					     NULL};
static const char *const quote_disc_what[] = {"confidential", "privileged",
					      NULL};
static const char *const quote_disc_do[] = {
    "in error", "prohibited", "notify the sender", "delete", NULL};

/*
 * quote_disclaimer - whether a corporate disclaimer paragraph starts at
 * line i ("This e-mail is confidential ... If you are not the intended
 * recipient ... prohibited"): it is signature, not the customer's words
 * (and its "legal action" is not a threat)
 */
static int
quote_disclaimer(const struct quote_line *lines, size_t n, size_t i)
{
	GString *para;
	char *low;
	int hit;

	if (quote_is_blank(&lines[i]) ||
	    (i > 0 && !quote_is_blank(&lines[i - 1])))
		return 0;
	para = g_string_new(NULL);
	for (size_t k = i; k < n && k < i + QUOTE_DISCLAIMER_LINES &&
			   !quote_is_blank(&lines[k]);
	     k++) {
		g_string_append_len(para, lines[k].s, (gssize)lines[k].len);
		g_string_append_c(para, ' ');
	}
	low = quote_lower(para->str, para->len);
	hit = quote_has_any(low, quote_disc_who) &&
	      quote_has_any(low, quote_disc_what) &&
	      quote_has_any(low, quote_disc_do);
	g_free(low);
	g_string_free(para, TRUE);
	return hit;
}

/* quote_split_lines - cut the text into lines, LF included in span */
static struct quote_line *
quote_split_lines(const char *text, size_t len, size_t *n_r)
{
	size_t n = 0, cap = 64;
	struct quote_line *lines = g_new(struct quote_line, cap);
	const char *p = text;
	const char *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;

		if (n == cap) {
			cap *= 2;
			lines = g_renew(struct quote_line, lines, cap);
		}
		lines[n].s = p;
		lines[n].len = (size_t)(stop - p);
		if (lines[n].len > 0 && p[lines[n].len - 1] == '\r')
			lines[n].len--;
		lines[n].span = (size_t)(stop - p) + (nl ? 1 : 0);
		n++;
		p = nl ? nl + 1 : end;
	}
	*n_r = n;
	return lines;
}

/* quote_split - keep the new text, measure quotes and signature */
void
quote_split(const char *text, size_t len, struct quote_split *out)
{
	struct quote_line *lines;
	enum quote_state state = QUOTE_FRESH;
	size_t n;

	/* the new text is at most the whole text: one allocation */
	out->fresh = g_string_sized_new(text != NULL ? len + 1 : 0);
	out->quoted = 0;
	out->signature = 0;
	if (text == NULL || len == 0)
		return;

	lines = quote_split_lines(text, len, &n);
	for (size_t i = 0; i < n; i++) {
		const struct quote_line *ln = &lines[i];
		size_t used;
		int prefixed;

		if (state == QUOTE_REST) {
			out->quoted += ln->span;
			continue;
		}
		if (quote_is_quoted(ln) ||
		    (state == QUOTE_FRESH &&
		     quote_wrapped_overflow(lines, n, i))) {
			/* A quoted block ends the signature above it. */
			out->quoted += ln->span;
			state = QUOTE_FRESH;
			continue;
		}
		if ((used = quote_rest_start(lines, n, i, &prefixed)) > 0) {
			for (size_t k = i; k < i + used; k++)
				out->quoted += lines[k].span;
			i += used - 1;
			state = prefixed ? QUOTE_FRESH : QUOTE_REST;
			continue;
		}
		if (state == QUOTE_FRESH &&
		    (quote_is_sig_delim(ln) || quote_is_mobile_sig(ln) ||
		     quote_disclaimer(lines, n, i)))
			state = QUOTE_SIG;
		if (state == QUOTE_SIG) {
			out->signature += ln->span;
			continue;
		}
		g_string_append_len(out->fresh, ln->s, (gssize)ln->len);
		g_string_append_c(out->fresh, '\n');
	}
	g_free(lines);

	/* Blank lines left where a quote or signature was cut off. */
	while (out->fresh->len > 0) {
		char c = out->fresh->str[out->fresh->len - 1];

		if (c != '\n' && c != ' ' && c != '\t')
			break;
		g_string_truncate(out->fresh, out->fresh->len - 1);
	}
	if (out->fresh->len > 0)
		g_string_append_c(out->fresh, '\n');
}

/* quote_split_clear - free the new text */
void
quote_split_clear(struct quote_split *qs)
{
	if (qs->fresh != NULL)
		g_string_free(qs->fresh, TRUE);
	qs->fresh = NULL;
	qs->quoted = qs->signature = 0;
}
