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

/* One yes/no decision measured against the truth: counts, then scores. */
struct eval_score {
	size_t tp, fp, fn, tn;
	double precision, recall, f1; /* of the positive class */
	double f1_neg;                /* of the negative class */
	double macro_f1;              /* mean of f1 and f1_neg */
};

/* eval_score_add - count one decision (got) against the truth (want) */
void eval_score_add(struct eval_score *s, int got, int want);
/* eval_score_finish - precision, recall and the F1s from the counts */
void eval_score_finish(struct eval_score *s);
/* eval_score_row - "NAME tp fp fn tn precision recall f1 macro-f1", the
 * name in width columns; eval_score_header prints the column names */
void eval_score_header(FILE *out, int width);
void eval_score_row(FILE *out, int width, const char *name,
		    const struct eval_score *s);

struct eval_opts {
	const char *labels; /* labels file for a directory, else NULL */
	int verbose;        /* list the misclassified rows */
	FILE *out;
};

int eval_run(const struct triage_config *cf, const char *path,
	     const struct eval_opts *o);

/* eval_known_flags - the flags a label may name: the categories' flags
 * and long, frequent, truncated (g_strfreev() it) */
char **eval_known_flags(const struct triage_config *cf);

#endif
