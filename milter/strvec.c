/*
 * strvec.c - a growable vector of owned C strings
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "strvec.h"

/* strvec_push_take - append s, taking ownership of it */
void
strvec_push_take(struct strvec *sv, char *s)
{
	if (sv->n + 1 >= sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = g_renew(char *, sv->v, sv->cap);
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

/* strvec_push - append a copy of s */
void
strvec_push(struct strvec *sv, const char *s)
{
	strvec_push_take(sv, g_strdup(s));
}

/* strvec_contains - whether s is in the vector (exact match) */
int
strvec_contains(const struct strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return 1;
	return 0;
}

/* strvec_join - the strings joined by sep, newly allocated ("" if empty) */
char *
strvec_join(const struct strvec *sv, const char *sep)
{
	if (sv->n == 0)
		return g_strdup("");
	return g_strjoinv(sep, sv->v);
}

/* strvec_clear - free every string and the vector itself */
void
strvec_clear(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		g_free(sv->v[i]);
	g_free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}
