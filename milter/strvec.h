/*
 * strvec.h - a growable vector of owned C strings
 *
 * The engine's results are lists of short strings (flags, header names);
 * this is the one container for them.  Strings are copied on push and
 * freed with the vector.  Allocation failure aborts, as in GLib.
 */
#ifndef TRIAGE_STRVEC_H
#define TRIAGE_STRVEC_H

#include <stddef.h>

struct strvec {
	char **v;
	size_t n;
	size_t cap;
};

void strvec_push(struct strvec *sv, const char *s);
void strvec_push_take(struct strvec *sv, char *s);
int strvec_contains(const struct strvec *sv, const char *s);
char *strvec_join(const struct strvec *sv, const char *sep);
void strvec_clear(struct strvec *sv);

#endif
