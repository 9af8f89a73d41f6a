/*
 * ticket.h - ticket references for acknowledgments ("TR-4F7K2Q")
 *
 * ticket_new() draws TICKET_LEN symbols from OpenSSL's CSPRNG, uniformly
 * over TICKET_ALPHABET (rejection sampling, no modulo bias).  The
 * alphabet leaves out the characters people misread or mistype when they
 * quote a reference over the phone or from a printout: 0/O, 1/I/L, and U
 * (U/V in handwriting; Crockford's base32 drops it too).  That leaves 30
 * symbols, so 30^6 = 729 million references (29.4 bits): enough to tell
 * one customer's messages apart, not a secret and not globally unique.
 *
 * Thread-safe (RAND_bytes is, since OpenSSL 1.1.0).
 */
#ifndef TRIAGE_TICKET_H
#define TRIAGE_TICKET_H

#define TICKET_PREFIX "TR-"
#define TICKET_ALPHABET "23456789ABCDEFGHJKMNPQRSTVWXYZ"
/* Six symbols are quick to read aloud and to type into a helpdesk. */
#define TICKET_LEN 6
/* Length of a whole reference, prefix included. */
#define TICKET_CHARS (sizeof(TICKET_PREFIX) - 1 + TICKET_LEN)

char *ticket_new(void);
int ticket_valid(const char *s);

#endif
