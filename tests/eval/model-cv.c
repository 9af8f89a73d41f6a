/*
 * model-cv.c - cross-validate the text model, or measure a trained one
 *
 * Usage:
 *   model-cv [-k K] [-s SEED] [-l L2] [-b BITS] [-i ITER] TSV CLASS
 *	k-fold cross-validation (default 5 folds, seed 1) of a model
 *	trained as --train would; prints precision, recall, F1
 *	of CLASS, F1 of the rest and macro-F1 per fold and their mean.
 *   model-cv -m MODEL [-t THRESHOLD] TSV CLASS
 *	scores every row with a trained model (data it was not trained on)
 *	at THRESHOLD (default 0.5) and prints the same measures.
 *   model-cv -m MODEL [-t THRESHOLD] -r [FILE...]
 *	raw mail files (ham; names on stdin when none are given): counts
 *	those scoring >= THRESHOLD and lists them; the body
 *	is everything after the first blank line, scored as text.
 * TSV and CLASS as for --eval (tests/eval/olid.py, kaggle.py, ...).
 * Exits 1 on bad data or usage.  Model only: no rules are run, so no
 * rule features either.  A development aid, not built by make:
 *   cc -I. -Imilter $(pkg-config --cflags gmime-3.0) -o model-cv \
 *	tests/eval/model-cv.c libtriage.a $(pkg-config --libs gmime-3.0 \
 *	libxml-2.0 libconfuse libcrypto libmicrohttpd libpsl) -lpcre2-8 -llmdb \
 *	-lhiredis -lcurl -lm
 * The system as the daemon runs it (rules, model and both) is measured by
 * "triage-milter --train TSV --cv K" (tests/eval/run.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "model.h"

/* A mail body beyond this is not read: the milter caps text too. */
#define CV_MAX_BODY (512 * 1024)

/* cv_row - print one line of measures */
static void
cv_row(const char *name, const struct eval_score *f)
{
	printf("%-6s %6zu %6zu %6zu %6zu  %.3f  %.3f  %.3f  %.3f  %.3f\n", name,
	       f->tp, f->fp, f->fn, f->tn, f->precision, f->recall, f->f1,
	       f->f1_neg, f->macro_f1);
}

/* cv_header - column names */
static void
cv_header(void)
{
	printf("%-6s %6s %6s %6s %6s  %5s  %5s  %5s  %5s  %5s\n", "fold", "tp",
	       "fp", "fn", "tn", "P", "R", "F1", "F1neg", "macro");
}

/* cv_score_tsv - measure a trained model on labeled rows */
static int
cv_score_tsv(const struct model *m, double thr, const char *tsv,
	     const char *cls)
{
	struct model_data d = {0};
	struct eval_score r = {0};
	char *err = NULL;

	if (model_read_tsv(tsv, cls, &d, &err) < 0) {
		fprintf(stderr, "model-cv: %s\n", err);
		g_free(err);
		return 1;
	}
	for (size_t i = 0; i < d.n; i++) {
		int got = model_score(m, &d.xs[i]) >= thr;

		if (got && d.ys[i])
			r.tp++;
		else if (got)
			r.fp++;
		else if (d.ys[i])
			r.fn++;
		else
			r.tn++;
	}
	r.precision = (r.tp + r.fp) ? (double)r.tp / (double)(r.tp + r.fp) : 0;
	r.recall = (r.tp + r.fn) ? (double)r.tp / (double)(r.tp + r.fn) : 0;
	r.f1 = r.tp ? 2.0 * (double)r.tp / (double)(2 * r.tp + r.fp + r.fn) : 0;
	r.f1_neg =
	    r.tn ? 2.0 * (double)r.tn / (double)(2 * r.tn + r.fp + r.fn) : 0;
	r.macro_f1 = (r.f1 + r.f1_neg) / 2;
	cv_header();
	cv_row("all", &r);
	model_data_clear(&d);
	return 0;
}

/* cv_score_raw - count ham mails the model flags */
static int
cv_score_raw(const struct model *m, double thr, char **files, int n)
{
	struct model_fv fv = {0};
	int flagged = 0, read = 0;
	char **stdin_files = NULL;

	if (n == 0) {
		/* names on stdin, one a line: a corpus exceeds ARG_MAX */
		gchar *all = NULL;
		GIOChannel *ch = g_io_channel_unix_new(0);

		(void)g_io_channel_read_to_end(ch, &all, NULL, NULL);
		g_io_channel_unref(ch);
		stdin_files = g_strsplit(all ? all : "", "\n", -1);
		g_free(all);
		files = stdin_files;
		n = (int)g_strv_length(files);
	}
	for (int i = 0; i < n; i++) {
		gchar *buf;
		gsize len;
		const char *body;
		struct norm *nm;
		double p;

		if (*files[i] == '\0' ||
		    !g_file_get_contents(files[i], &buf, &len, NULL))
			continue;
		body = strstr(buf, "\n\n");
		body = body ? body + 2 : buf;
		len -= (gsize)(body - buf);
		nm = norm_text(body, len > CV_MAX_BODY ? CV_MAX_BODY : len, 0);
		model_features(nm, NULL, 0, &fv);
		p = model_score(m, &fv);
		read++;
		if (p >= thr) {
			flagged++;
			printf("# %.3f %s\n", p, files[i]);
		}
		norm_free(nm);
		g_free(buf);
	}
	printf("flagged %d of %d (%.2f%%) at %.2f\n", flagged, read,
	       read ? 100.0 * flagged / read : 0.0, thr);
	model_fv_clear(&fv);
	g_strfreev(stdin_files);
	return 0;
}

int
main(int argc, char **argv)
{
	struct model_train_opts o;
	struct eval_score folds[MODEL_CV_MAX_K + 1];
	unsigned k = 5, seed = 1;
	const char *model_path = NULL;
	double thr = 0.5;
	int raw = 0, c;
	char *err = NULL;

	model_train_defaults(&o);
	while ((c = getopt(argc, argv, "k:s:l:b:i:m:t:rn:")) != -1) {
		switch (c) {
		case 'k':
			k = (unsigned)atoi(optarg);
			break;
		case 's':
			seed = (unsigned)atoi(optarg);
			break;
		case 'l':
			o.l2 = atof(optarg);
			break;
		case 'b':
			o.hash_bits = (unsigned)atoi(optarg);
			break;
		case 'i':
			o.max_iter = (unsigned)atoi(optarg);
			break;
		case 'n':
			o.nb_alpha = atof(optarg);
			break;
		case 'm':
			model_path = optarg;
			break;
		case 't':
			thr = atof(optarg);
			break;
		case 'r':
			raw = 1;
			break;
		default:
			return 1;
		}
	}
	if (model_path != NULL) {
		struct model *m = model_load(model_path, &err);
		int rc;

		if (m == NULL) {
			fprintf(stderr, "model-cv: %s\n", err);
			g_free(err);
			return 1;
		}
		if (raw)
			rc = cv_score_raw(m, thr, argv + optind, argc - optind);
		else if (argc - optind != 2)
			rc = 1;
		else
			rc = cv_score_tsv(m, thr, argv[optind],
					  argv[optind + 1]);
		model_free(m);
		return rc;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: model-cv [-k K] [-s SEED] [-l L2] "
				"[-b BITS] [-i ITER] TSV CLASS\n");
		return 1;
	}
	if (model_cv_tsv(argv[optind], argv[optind + 1], k, seed, thr, &o,
			 folds, &err) < 0) {
		fprintf(stderr, "model-cv: %s\n", err);
		g_free(err);
		return 1;
	}
	printf("# %s class %s, %u folds, seed %u, l2 %g, nb %g, bits %u, "
	       "iter %u, threshold %g\n",
	       argv[optind], argv[optind + 1], k, seed, o.l2, o.nb_alpha,
	       o.hash_bits, o.max_iter, thr);
	cv_header();
	for (unsigned f = 0; f < k; f++) {
		char name[16];

		snprintf(name, sizeof(name), "%u", f + 1);
		cv_row(name, &folds[f]);
	}
	cv_row("mean", &folds[k]);
	return 0;
}
