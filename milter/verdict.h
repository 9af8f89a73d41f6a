/*
 * verdict.h - from measurements to flags
 *
 * The one place that decides which flags a message gets: rule hits are
 * summed per category, a category at or above its threshold sets its flag,
 * and the flagged category with the highest priority names the route.
 * Flags are sorted by name, so support staff see the same string for the
 * same verdict.
 */
#ifndef TRIAGE_VERDICT_H
#define TRIAGE_VERDICT_H

#include "config.h"
#include "strvec.h"
#include "triage.h"

#define VERDICT_FLAG_LONG "long"
#define VERDICT_FLAG_TRUNCATED "truncated"
#define VERDICT_FLAG_FREQUENT "frequent"

void verdict_decide(const struct triage_config *cf, struct triage_result *res,
		    int truncated);

#endif
