/*
 * skip.c - networks and address patterns for the skip lists
 *
 * Addresses come from the MTA as text ({client_addr}: "192.0.2.1",
 * "2001:db8::1", sometimes "IPv6:2001:db8::1" from Sendmail); anything
 * that does not parse matches no network.
 */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <glib.h>

#include "addr.h"
#include "skip.h"

/* skip_addr_parse - text to family and 4 or 16 bytes; 0 or -1 */
static int
skip_addr_parse(const char *text, int *family_r, unsigned char *addr)
{
	if (g_ascii_strncasecmp(text, "ipv6:", 5) == 0)
		text += 5;
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family_r = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		*family_r = AF_INET6;
		return 0;
	}
	return -1;
}

/* skip_mask - keep the first prefix bits of addr */
static void
skip_mask(unsigned char *addr, unsigned bytes, unsigned prefix)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8
				: prefix > 8 * i      ? prefix - 8 * i
						      : 0;

		addr[i] &= (unsigned char)(0xff00u >> keep);
	}
}

/* skip_nets_parse - "10.0.0.0/8", "!10.1.2.3", "::1"; 0 or -1 */
int
skip_nets_parse(const char *const *specs, size_t n, struct skip_nets *out,
		char **error_r)
{
	out->v = g_new0(struct skip_net, n ? n : 1);
	out->n = 0;
	for (size_t i = 0; i < n; i++) {
		struct skip_net *net = &out->v[out->n];
		const char *spec = specs[i];
		char *copy, *slash, *end;
		unsigned bytes;
		long prefix;

		net->negate = spec[0] == '!';
		copy = g_strdup(spec + net->negate);
		slash = strchr(copy, '/');
		if (slash != NULL)
			*slash++ = '\0';
		if (skip_addr_parse(copy, &net->family, net->addr) != 0) {
			*error_r = g_strdup_printf("\"%s\": not an IP address "
						   "or CIDR network",
						   spec);
			g_free(copy);
			return -1;
		}
		bytes = net->family == AF_INET ? 4 : 16;
		prefix = 8L * bytes;
		if (slash != NULL) {
			prefix = strtol(slash, &end, 10);
			if (*slash == '\0' || *end != '\0' || prefix < 0 ||
			    prefix > 8L * bytes) {
				*error_r = g_strdup_printf(
				    "\"%s\": bad prefix length", spec);
				g_free(copy);
				return -1;
			}
		}
		net->prefix = (unsigned)prefix;
		skip_mask(net->addr, bytes, net->prefix);
		out->n++;
		g_free(copy);
	}
	return 0;
}

/* skip_nets_clear - release; the list is empty afterwards */
void
skip_nets_clear(struct skip_nets *nets)
{
	g_free(nets->v);
	nets->v = NULL;
	nets->n = 0;
}

/* skip_nets_match - listed? first matching entry decides */
int
skip_nets_match(const struct skip_nets *nets, const char *addr)
{
	unsigned char a[16];
	int family;

	if (addr == NULL || skip_addr_parse(addr, &family, a) != 0)
		return 0;
	for (size_t i = 0; i < nets->n; i++) {
		const struct skip_net *net = &nets->v[i];
		unsigned char m[16];

		if (net->family != family)
			continue;
		memcpy(m, a, sizeof(m));
		skip_mask(m, family == AF_INET ? 4 : 16, net->prefix);
		if (memcmp(m, net->addr, family == AF_INET ? 4 : 16) == 0)
			return !net->negate;
	}
	return 0;
}

/* skip_bracket_len - length of the bracket expression at p ("[...]",
 * with "[:class:]" and escapes inside), or 0 when it is not closed and
 * the '[' is an ordinary character, as fnmatch reads it */
static size_t
skip_bracket_len(const char *p)
{
	size_t i = 1;

	if (p[i] == '!' || p[i] == '^')
		i++;
	if (p[i] == ']')
		i++;
	while (p[i] != '\0' && p[i] != ']') {
		if (p[i] == '\\' && p[i + 1] != '\0') {
			i += 2;
		} else if (p[i] == '[' && (p[i + 1] == ':' || p[i + 1] == '.' ||
					   p[i + 1] == '=')) {
			const char *end = strchr(p + i + 2, p[i + 1]);

			while (end != NULL && end[1] != ']')
				end = strchr(end + 1, p[i + 1]);
			if (end == NULL)
				return 0;
			i = (size_t)(end - p) + 2;
		} else {
			i++;
		}
	}
	return p[i] == ']' ? i + 1 : 0;
}

/* skip_fold_run - append run folded to out, and empty run */
static void
skip_fold_run(GString *out, GString *run)
{
	char *f;

	if (run->len == 0)
		return;
	f = addr_fold(run->str);
	g_string_append(out, f);
	g_free(f);
	g_string_truncate(run, 0);
}

/* skip_pattern_fold - the pattern folded like an address (addr_fold),
 * bracket expressions kept as written: their ranges and classes mean
 * what they meant, FNM_CASEFOLD still covers their ASCII letters */
static char *
skip_pattern_fold(const char *pat)
{
	GString *out = g_string_sized_new(strlen(pat));
	GString *run = g_string_new(NULL);
	size_t i = 0;

	while (pat[i] != '\0') {
		size_t b = pat[i] == '[' ? skip_bracket_len(pat + i) : 0;

		if (b == 0) {
			size_t k = pat[i] == '\\' && pat[i + 1] != '\0' ? 2 : 1;

			g_string_append_len(run, pat + i, (gssize)k);
			i += k;
			continue;
		}
		skip_fold_run(out, run);
		g_string_append_len(out, pat + i, (gssize)b);
		i += b;
	}
	skip_fold_run(out, run);
	g_string_free(run, TRUE);
	return g_string_free(out, FALSE);
}

/* skip_pattern_match - fnmatch without case; a non-ASCII pattern or
 * address is compared folded, so "JÖRG@*" matches "jörg@x" (SMTPUTF8) */
static int
skip_pattern_match(const char *pat, const char *addr, const char *addr_f)
{
	char *pat_f;
	int hit;

	if (addr_f == NULL && addr_is_ascii(pat))
		return fnmatch(pat, addr, FNM_CASEFOLD) == 0;
	pat_f = skip_pattern_fold(pat);
	hit = fnmatch(pat_f, addr_f ? addr_f : addr, FNM_CASEFOLD) == 0;
	g_free(pat_f);
	return hit;
}

/* skip_patterns_match - does addr match? first matching pattern decides */
int
skip_patterns_match(const char *const *patterns, size_t n, const char *addr)
{
	char *addr_f;
	int hit = 0;

	if (addr == NULL)
		return 0;
	addr_f = addr_is_ascii(addr) ? NULL : addr_fold(addr);
	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];
		int negate = p[0] == '!';

		if (skip_pattern_match(p + negate, addr, addr_f)) {
			hit = !negate;
			break;
		}
	}
	g_free(addr_f);
	return hit;
}
