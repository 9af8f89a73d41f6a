/*
 * verdict.h - from measurements to flags
 *
 * The one place that decides which flags a message gets.  Flags appear
 * in X-Triage-Flags in a fixed order (the order of verdict_flag_order), so
 * support staff see the same string for the same verdict.
 */
#ifndef TRIAGE_VERDICT_H
#define TRIAGE_VERDICT_H

#include "config.h"
#include "strvec.h"
#include "triage.h"

#define VERDICT_FLAG_LONG "long"
#define VERDICT_FLAG_TRUNCATED "truncated"

void verdict_decide(const struct triage_config *cf,
		    const struct triage_length *len, int truncated,
		    struct strvec *flags);

#endif
