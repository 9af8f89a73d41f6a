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

/* skip_patterns_match - does addr match? first matching pattern decides */
int
skip_patterns_match(const char *const *patterns, size_t n, const char *addr)
{
	if (addr == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];
		int negate = p[0] == '!';

		if (fnmatch(p + negate, addr, FNM_CASEFOLD) == 0)
			return !negate;
	}
	return 0;
}
