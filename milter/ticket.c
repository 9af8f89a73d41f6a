/*
 * ticket.c - random ticket references from a look-alike-free alphabet
 *
 * Owns the format of a ticket reference: TICKET_PREFIX followed by
 * TICKET_LEN symbols of TICKET_ALPHABET (see ticket.h for the choice).
 * Interface: ticket_new() returns a new reference (g_free) or NULL when
 * the CSPRNG fails; ticket_valid() checks the format.  No globals.
 */
#include <string.h>

#include <glib.h>
#include <openssl/rand.h>

#include "ticket.h"

/* The alphabet size; a byte below TICKET_LIMIT maps without bias. */
#define TICKET_NSYM (sizeof(TICKET_ALPHABET) - 1)
#define TICKET_LIMIT (256 - 256 % TICKET_NSYM)
/* Random bytes drawn per round; 6 needed, 240/256 accepted on average. */
#define TICKET_POOL 16
/* Rounds before giving up: each round fails with p < 1e-6, so this never
 * ends the loop unless RAND_bytes hands out constant garbage. */
#define TICKET_MAX_ROUNDS 8

/* ticket_new - "TR-" and TICKET_LEN uniform symbols, NULL if no entropy */
char *
ticket_new(void)
{
	char *out = g_malloc(TICKET_CHARS + 1);
	size_t n = 0;

	memcpy(out, TICKET_PREFIX, sizeof(TICKET_PREFIX) - 1);
	for (int round = 0; round < TICKET_MAX_ROUNDS && n < TICKET_LEN;
	     round++) {
		unsigned char pool[TICKET_POOL];

		if (RAND_bytes(pool, sizeof(pool)) != 1)
			break;
		for (size_t i = 0; i < sizeof(pool) && n < TICKET_LEN; i++)
			if (pool[i] < TICKET_LIMIT)
				out[sizeof(TICKET_PREFIX) - 1 + n++] =
				    TICKET_ALPHABET[pool[i] % TICKET_NSYM];
	}
	if (n < TICKET_LEN) {
		g_free(out);
		return NULL;
	}
	out[TICKET_CHARS] = '\0';
	return out;
}

/* ticket_valid - whether s is exactly a reference ticket_new() can make */
int
ticket_valid(const char *s)
{
	size_t plen = sizeof(TICKET_PREFIX) - 1;

	if (s == NULL || strlen(s) != TICKET_CHARS ||
	    strncmp(s, TICKET_PREFIX, plen) != 0)
		return 0;
	for (size_t i = plen; i < TICKET_CHARS; i++)
		if (strchr(TICKET_ALPHABET, s[i]) == NULL)
			return 0;
	return 1;
}
