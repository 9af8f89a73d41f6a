/*
 * xheaders.h - the X-Triage-* headers: a stable API for support staff
 *
 * xheaders_plan_delete() lists every inbound X-Triage-* header to remove,
 * with the 1-based per-name index the milter protocol wants, in an order
 * that keeps the remaining indices right (last arrival first).
 * xheaders_build() turns a verdict into the headers to add.  Values are
 * one line of printable ASCII, at most XHEADERS_MAX_VALUE bytes.
 */
#ifndef TRIAGE_XHEADERS_H
#define TRIAGE_XHEADERS_H

#include <stddef.h>

#include <glib.h>

#include "triage.h"

#define XHEADERS_PREFIX "X-Triage-"
/* Well under RFC 5322's 998-byte line limit, name included. */
#define XHEADERS_MAX_VALUE 900

int xheaders_is_triage(const char *name);
void xheaders_plan_delete(const char *const *names, size_t n,
			  struct triage_delete **del_r, size_t *n_del_r);
char *xheaders_sanitize(const char *in, size_t max);
void xheaders_append_1f(GString *s, double x);
void xheaders_build(struct triage_result *res, int with_rules);

#endif
