/*
 * addr.h - mail addresses compared as one mailbox
 *
 * The one folding of an address for every caseless comparison: store keys
 * of a sender (repeat counts, acknowledgment dedup), the reply guards'
 * support and own addresses, the skip lists.  ASCII is lowercased as
 * g_ascii_strdown() would; the rest is Unicode case folding, so SMTPUTF8
 * addresses compare the same however a client wrote their case.
 */
#ifndef TRIAGE_ADDR_H
#define TRIAGE_ADDR_H

char *addr_fold(const char *addr);
int addr_same(const char *a, const char *b);
int addr_is_ascii(const char *s);

#endif
