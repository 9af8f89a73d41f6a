/*
 * addr.c - mail addresses compared as one mailbox
 *
 * No parsing here: callers strip angle brackets and blanks first.  An
 * IDN's U-label and its xn-- A-label stay two spellings (converting needs
 * IDNA tables the milter does not carry).
 */
#include <string.h>

#include <glib.h>

#include "addr.h"

/*
 * addr_fold - an address caseless, so that "JÖRG@Example.org" and
 * "jörg@example.org" are one mailbox however a mail client or an SMTPUTF8
 * MTA wrote them.  Runs of valid UTF-8 are case-folded (g_utf8_casefold,
 * which lowercases ASCII as before) between NFD and NFC, so precomposed
 * and decomposed accents match too; bytes that are not UTF-8 are kept as
 * they are.  The whole address is folded, domain included.
 */
char *
addr_fold(const char *addr)
{
	GString *out = g_string_sized_new(strlen(addr));
	const char *p = addr;

	while (*p != '\0') {
		const char *end;

		(void)g_utf8_validate(p, -1, &end);
		if (end == p) {
			g_string_append_c(out, *p++);
			continue;
		}
		{
			char *nfd =
			    g_utf8_normalize(p, end - p, G_NORMALIZE_NFD);
			char *folded = g_utf8_casefold(nfd, -1);
			char *nfc =
			    g_utf8_normalize(folded, -1, G_NORMALIZE_NFC);

			g_string_append(out, nfc);
			g_free(nfc);
			g_free(folded);
			g_free(nfd);
		}
		p = end;
	}
	return g_string_free(out, FALSE);
}

/* addr_is_ascii - whether s is 7-bit: then addr_fold() is only ASCII
 * lowercasing */
int
addr_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* addr_same - whether two addresses are one mailbox once folded */
int
addr_same(const char *a, const char *b)
{
	char *fa, *fb;
	int same;

	if (g_ascii_strcasecmp(a, b) == 0)
		return 1; /* folding would agree; the common case, no copies */
	if (addr_is_ascii(a) && addr_is_ascii(b))
		return 0;
	fa = addr_fold(a);
	fb = addr_fold(b);
	same = strcmp(fa, fb) == 0;
	g_free(fa);
	g_free(fb);
	return same;
}
