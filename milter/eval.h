/*
 * eval.h - triage-milter --eval: measure the rules on labeled text
 *
 * Input is a TSV file, one row per line: LABELS <TAB> TEXT, where LABELS
 * is "none" or a comma-separated list of classes and a class is a flag
 * name or several joined by "|" (any of them counts: "abusive|profanity").
 * TEXT may use \n, \t and \\ escapes.  A first line whose label column is
 * "label" is a header and skipped.  Or a directory of messages with a
 * labels file of FILENAME <TAB> LABELS lines (paths relative to it).
 * Each text is wrapped as the body of a plain UTF-8 message and goes
 * through the same triage_run() as mail does.
 *
 * Prints per class the confusion counts, precision, recall, F1, and the
 * macro-F1 over the class and its complement; then messages per second.
 */
#ifndef TRIAGE_EVAL_H
#define TRIAGE_EVAL_H

#include <stdio.h>

#include "config.h"

struct eval_opts {
	const char *labels; /* labels file for a directory, else NULL */
	int verbose;        /* list the misclassified rows */
	FILE *out;
};

int eval_run(const struct triage_config *cf, const char *path,
	     const struct eval_opts *o);

#endif
