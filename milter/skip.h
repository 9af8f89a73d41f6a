/*
 * skip.h - which mail is not triaged at all
 *
 * Internal hosts (CIDR networks, "!" for exceptions, first match decides,
 * as in Postfix lists), authenticated submissions, and envelope sender or
 * recipient patterns (shell globs, case-insensitive with Unicode case
 * folding for SMTPUTF8 addresses as in addr.h, "!" for exceptions).
 * A skipped message is not analysed and never acknowledged; forged
 * X-Triage-* headers are still removed.
 */
#ifndef TRIAGE_SKIP_H
#define TRIAGE_SKIP_H

#include <stddef.h>

struct skip_net {
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network address, masked */
	unsigned prefix;        /* bits */
	int negate;             /* "!" entry: a match means "not listed" */
};

struct skip_nets {
	struct skip_net *v;
	size_t n;
};

int skip_nets_parse(const char *const *specs, size_t n, struct skip_nets *out,
		    char **error_r);
void skip_nets_clear(struct skip_nets *nets);
int skip_nets_match(const struct skip_nets *nets, const char *addr);
int skip_patterns_match(const char *const *patterns, size_t n,
			const char *addr);

#endif
