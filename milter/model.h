/*
 * model.h - a linear (logistic regression) text model over hashed features
 *
 * This module owns the learned side of classification: turning a
 * normalized text (struct norm) into a sparse feature vector, scoring it
 * with a logistic regression model, the model file format, and training
 * (L-BFGS with L2 and class weights) including k-fold cross-validation on
 * a labeled TSV.  The rules stay the explainable part; the model adds one
 * probability that the caller turns into a category score.
 *
 * Features (MODEL_FEATURE_SET), each hashed to 32 bits with FNV-1a over a
 * one-byte namespace and the bytes, then MurmurHash3's fmix32 finalizer,
 * fixed seed MODEL_HASH_SEED:
 *   'w' word unigram: the token text;
 *   'b' word bigram: two adjacent token texts joined by one space;
 *   'c' character 3- to 5-grams (code points) of "<" token ">";
 *   'x' extra named features given by the caller ("rule:INSULT_YOU").
 * Features are binary (a repeated word counts once) and the vector is
 * L2-normalized, so a long mail and a one-line tweet land on one scale
 * and ten repeated swear words do not outweigh everything else.  A model
 * keeps only the low hash_bits bits of each hash (its header says how
 * many); colliding features share one weight.
 *
 * Model file (UTF-8 text, one item per line, see model_load()):
 *	triage-model 1
 *	class: abusive|profanity
 *	features: w1 w2 c3-5 x binary-l2
 *	hash: fnv1a32-fmix32 seed=0x5eed7a9e bits=18
 *	data: davidson.tsv (24783 rows, 20620 positive)
 *	license: MIT ...
 *	citation: ...
 *	trainer: lbfgs l2=... iter=... class-weight=balanced
 *	bias: -0.1234
 *	weights: N
 *	INDEX WEIGHT		(N lines, INDEX ascending, < 2^bits)
 * Blank lines and lines starting with '#' are ignored before "weights:".
 *
 * A loaded model is immutable: any number of threads may score with it.
 * The module is pure apart from the file I/O of load, save and the TSV
 * readers: no logging, no globals.  Allocation failure aborts (GLib).
 * Limits: MODEL_MAX_TOKEN_CHARS code points of a token give n-grams;
 * hash_bits lies in MODEL_MIN_BITS..MODEL_MAX_BITS.
 */
#ifndef TRIAGE_MODEL_H
#define TRIAGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "normalize.h"

#define MODEL_FORMAT_VERSION 1
#define MODEL_FEATURE_SET "w1 w2 c3-5 x binary-l2"
#define MODEL_HASH_NAME "fnv1a32-fmix32"
/* Any fixed value would do; changing it invalidates every model file. */
#define MODEL_HASH_SEED 0x5eed7a9eU
/* 2^18 buckets: tweets and mail bring ~10^5..10^6 distinct n-grams. */
#define MODEL_DEF_BITS 18
#define MODEL_MIN_BITS 10 /* fewer buckets: collisions swamp the model */
#define MODEL_MAX_BITS 24 /* a dense 2^24 float table is already 64 MB */
/* Longer "words" are base64, URLs or keyboard mashing, not language. */
#define MODEL_MAX_TOKEN_CHARS 40

/* A sparse feature vector: distinct hashes (in order of first occurrence)
 * and their values. */
struct model_fv {
	uint32_t *h; /* full 32-bit hashes, distinct */
	float *v;    /* values, the vector has L2 norm 1 (or is empty) */
	size_t n;
	size_t cap;    /* private */
	uint32_t *tmp; /* private: dedup table */
};

struct model;

struct model_train_opts {
	double l2;              /* L2 strength on mean weighted log loss */
	unsigned max_iter;      /* L-BFGS iterations (the "epochs") */
	unsigned hash_bits;     /* MODEL_MIN_BITS..MODEL_MAX_BITS */
	int balanced;           /* class weights n/(2 n_class); 0: all 1 */
	double prune;           /* drop weights with |w| below this */
	double nb_alpha;        /* > 0: NB-LR feature scaling, smoothing */
	unsigned seed;          /* fold assignment in model_cv_tsv() */
	const char *class_spec; /* header "class:", e.g. "abusive|profanity" */
	const char *data;       /* header "data:" (NULL: filled by callers) */
	const char *license;    /* header "license:" */
	const char *citation;   /* header "citation:" */
};

/* model_train_defaults - the tuned defaults (see model.c) */
void model_train_defaults(struct model_train_opts *o);

/*
 * model_features - the feature vector of a normalized text plus n_extra
 * named features (may be 0 with extra NULL).  out is reused: initialize
 * it with {0} once, release it with model_fv_clear().
 */
void model_features(const struct norm *n, const char *const *extra,
		    size_t n_extra, struct model_fv *out);

/* model_fv_clear - release the storage of a feature vector */
void model_fv_clear(struct model_fv *fv);

/* model_feature_hash - the hash of one feature, namespace 'w','b','c','x' */
uint32_t model_feature_hash(char ns, const char *s, size_t len);

/*
 * model_load - read a model file; NULL with *error_r = "path:line: why"
 * (g_free) on any error.
 */
struct model *model_load(const char *path, char **error_r);

/* model_save - write atomically (path.tmp, rename); -1 and *error_r */
int model_save(const struct model *m, const char *path, char **error_r);

/* model_free - release a model; returns NULL */
struct model *model_free(struct model *m);

/* model_score - probability (0..1) that fv belongs to the model's class */
double model_score(const struct model *m, const struct model_fv *fv);

/* model_weight - the weight of feature hash h (0 when pruned) */
double model_weight(const struct model *m, uint32_t h);

/* model_class - the header's class, e.g. "abusive|profanity" */
const char *model_class(const struct model *m);

/* model_n_weights - number of nonzero weights kept */
size_t model_n_weights(const struct model *m);

/*
 * model_train - logistic regression on n vectors with labels ys (0 or 1);
 * o NULL means model_train_defaults().  Deterministic: the same data in
 * the same order gives bit-identical weights.  NULL when n is 0.
 */
struct model *model_train(const struct model_fv *xs, const int *ys, size_t n,
			  const struct model_train_opts *o);

/*
 * Labeled data: the --eval TSV, "LABELS<TAB>TEXT" with an optional header
 * line "label<TAB>text", \n \t \r \\ escapes in TEXT.  LABELS is a list of
 * flags separated by ',' or '|'; a row is positive when one of them is
 * among the flags of class_spec ("abusive|profanity": either counts).
 */
struct model_data {
	struct model_fv *xs;
	int *ys;
	size_t n;
	size_t n_pos;
};

/* model_read_tsv - read and featurize a TSV; -1 and *error_r on error */
int model_read_tsv(const char *tsv, const char *class_spec,
		   struct model_data *out, char **error_r);

/* model_data_clear - release what model_read_tsv() filled in */
void model_data_clear(struct model_data *d);

/*
 * model_train_tsv - read, featurize, train and save; the header names
 * the data file (o->data overrides) and o->license.  0, or -1 and
 * *error_r.
 */
int model_train_tsv(const char *tsv, const char *class_spec,
		    const char *out_path, const struct model_train_opts *o,
		    char **error_r);

/* Counts of one cross-validation fold at the given threshold. */
struct model_cv_fold {
	size_t tp, fp, fn, tn;
	double precision, recall, f1; /* of the positive class */
	double f1_neg;                /* of the negative class */
	double macro_f1;              /* mean of f1 and f1_neg */
};

#define MODEL_CV_MAX_K 20 /* more folds only cost time */

/*
 * model_cv - k-fold cross-validation (2 <= k <= MODEL_CV_MAX_K) of data
 * d: rows are shuffled into folds with seed (stratified by label),
 * each fold is scored (positive when the probability >= threshold) by a
 * model trained on the others with o.  folds_r
 * gets k entries and folds_r[k] the mean.  0, or -1 and *error_r.
 */
int model_cv(const struct model_data *d, unsigned k, unsigned seed,
	     double threshold, const struct model_train_opts *o,
	     struct model_cv_fold *folds_r, char **error_r);

/* model_cv_tsv - model_read_tsv() and model_cv() */
int model_cv_tsv(const char *tsv, const char *class_spec, unsigned k,
		 unsigned seed, double threshold,
		 const struct model_train_opts *o,
		 struct model_cv_fold *folds_r, char **error_r);

#endif
