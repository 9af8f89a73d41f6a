/*
 * json.h - the -t --json line for one message
 *
 * One JSON object per message, on one line.  Fields are a stable API:
 * later versions add fields but never rename or remove one.
 *   file, flags, route, scores, rules, headers ([name, value] pairs to
 *   add), deleted (names to delete), ack, error, length, parts.
 */
#ifndef TRIAGE_JSON_H
#define TRIAGE_JSON_H

#include <glib.h>

#include "triage.h"

void json_string(GString *out, const char *s);
void json_result(GString *out, const char *file,
		 const struct triage_result *res);

#endif
