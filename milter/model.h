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
 *   'x' extra named features given by the caller: "rule:NAME" for each
 *       rule that fired on the text (triage.c when scoring, the
 *       model_rules hook when training), so the model learns how far to
 *       trust each rule.
 * model_generate() is the one definition; model_features() hashes what
 * it yields and model_explain() keeps the text too (-t -v).
 * Features are binary (a repeated word counts once) and the vector is
 * L2-normalized, so a long mail and a one-line tweet land on one scale
 * and ten repeated swear words do not outweigh everything else.  A model
 * keeps only the low hash_bits bits of each hash (its header says how
 * many); colliding features share one weight.
 *
 * Model file (UTF-8 text, one item per line, see model_load()):
 *	triage-model 1
 *	class: abusive|profanity
 *	features: w1 w2 c3-5 x:rule binary-l2
 *	hash: fnv1a32-fmix32 seed=0x5eed7a9e bits=18
 *	rules: PROFANITY_RUDE_WORD ABUSE_INSULT_YOU ...	(optional)
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

#include "eval.h"
#include "normalize.h"

#define MODEL_FORMAT_VERSION 1
#define MODEL_FEATURE_SET "w1 w2 c3-5 x:rule binary-l2"
/* Models of the first feature set had no 'x' weights: they score alike. */
#define MODEL_FEATURE_SET_NO_X "w1 w2 c3-5 x binary-l2"
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

/*
 * The rule engine's view of one labeled text, so that training sees the
 * rule hits as features the way scoring does (model.c knows no rules).
 * run() analyses text and returns its rule features ("rule:NAME" per
 * hit, a NULL-terminated vector the caller frees with g_strfreev()),
 * with *score_r the rules' score in the model's category and *other_r
 * whether the rules alone already flag the class through another one.
 * message() does the same for a stored message and also sets *text_r
 * (g_free) to the text the daemon scores: the decoded subject and the
 * customer's new text, without quotes and signature; NULL text_r and
 * *error_r (g_free) when the message cannot be analysed.
 */
struct model_rules {
	char **(*run)(void *ctx, const char *text, size_t len, double *score_r,
		      int *other_r);
	char **(*message)(void *ctx, const char *msg, size_t len, char **text_r,
			  double *score_r, int *other_r, char **error_r);
	void *ctx;
	size_t max_tokens; /* message(): the daemon's token limit, 0 none */
};

/* The prefix of a rule hit's feature name: "rule:INSULT_YOU". */
#define MODEL_RULE_PREFIX "rule:"

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
	/* header "rules:": the rules that fired in the training data,
	 * separated by spaces (NULL: none) */
	const char *rule_names;
	/* rule features of each row (NULL: none); see model_rules */
	const struct model_rules *rules;
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

/*
 * model_emit_fn - receives one feature from model_generate(): namespace
 * ('w', 'b', 'c', 'x'), its text as a + (when b is not NULL) " " + b,
 * and its full 32-bit hash; repeats are not removed
 */
typedef void (*model_emit_fn)(void *ctx, char ns, const char *a, size_t alen,
			      const char *b, size_t blen, uint32_t h);

/*
 * model_generate - the one definition of the feature set: calls emit
 * for every feature of n and the extras, in a fixed order.
 * model_features() and model_explain() are built on it.
 */
void model_generate(const struct norm *n, const char *const *extra,
		    size_t n_extra, model_emit_fn emit, void *ctx);

/* One feature's share of a score: weight times value. */
struct model_contrib {
	char *text;   /* "w:idiot", "b:you idiot", "c:<idi", "x:rule:X" */
	double value; /* added to the log-odds */
};

/*
 * model_explain - the at most max features of a text (as model_features()
 * makes them) with the largest |weight * value|, largest first, into out
 * (each text to g_free); returns how many
 */
size_t model_explain(const struct model *m, const struct norm *n,
		     const char *const *extra, size_t n_extra, size_t max,
		     struct model_contrib *out);

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

/*
 * model_rule_names - the header's "rules:", the rules whose hits were
 * features in training, separated by spaces; NULL when none (a model
 * trained without rules, or before the header had the line)
 */
const char *model_rule_names(const struct model *m);

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
	/* with rules (else NULL): per row the rules' score in the model's
	 * category and whether they flag the class through another one */
	double *rule_score;
	unsigned char *rule_other;
};

/* model_read_tsv - read and featurize a TSV; -1 and *error_r on error */
int model_read_tsv(const char *tsv, const char *class_spec,
		   struct model_data *out, char **error_r);

/*
 * model_read_tsv_rules - model_read_tsv() with the rule hits of each row
 * as features (rules NULL: none) and rule_score/rule_other filled in;
 * known (NULL: any) lists the flags a label may name besides "none", so
 * that a misspelt label is an error, not a row of the other class
 */
int model_read_tsv_rules(const char *tsv, const char *class_spec,
			 char *const *known, const struct model_rules *rules,
			 struct model_data *out, char **error_r);

/*
 * model_read_messages - labeled stored messages: each line of the labels
 * file is "FILE<TAB>LABELS" with FILE relative to dir (as --eval DIR
 * --labels reads it; '#' lines are comments).  rules->message() is
 * required: it gives the text to featurize and the rule features.  A file
 * that cannot be read is an error ("labels:LINE: ..."); a message that
 * cannot be analysed is skipped with a warning on stderr and counted in
 * *skipped_r.  known as for model_read_tsv_rules().  0, or -1 and
 * *error_r.
 */
int model_read_messages(const char *dir, const char *labels,
			const char *class_spec, char *const *known,
			const struct model_rules *rules, struct model_data *out,
			size_t *skipped_r, char **error_r);

/* model_data_clear - release what model_read_tsv() filled in */
void model_data_clear(struct model_data *d);

/*
 * model_train_data - train on data read already and save; the header's
 * data line is o->data.  0, or -1 and *error_r.
 */
int model_train_data(const struct model_data *d, const char *out_path,
		     const struct model_train_opts *o, char **error_r);

/* Counts of one cross-validation fold at the given threshold. */
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
	     struct eval_score *folds_r, char **error_r);

/*
 * How the daemon adds the model to its category (triage.c, verdict.c):
 * a message is flagged when the rules flag the class through another
 * category, or when rule score + (p >= threshold ? weight * p : 0)
 * reaches the category's threshold.
 */
struct model_combine {
	double weight;        /* model { weight } */
	double threshold;     /* model { threshold }; 0: chosen per fold */
	double cat_threshold; /* the model category's threshold */
	unsigned inner_k;     /* folds of the inner CV choosing threshold */
	int objective_f1;     /* choose by F1 of the class, else macro-F1 */
};

/*
 * model_cv_both - k-fold cross-validation of rules only, model only
 * (probability >= 0.5) and both combined as cb says (data read without
 * rules has rule score 0).  When cb->threshold is 0 each fold's threshold is
 * the one that scores best (cb->objective_f1) on out-of-fold probabilities of
 * an inner cb->inner_k-fold CV over the training folds only; thr_r[f] gets it.
 * Each *_r has k + 1 entries, the last the mean.
 */
int model_cv_both(const struct model_data *d, unsigned k, unsigned seed,
		  const struct model_train_opts *o,
		  const struct model_combine *cb, struct eval_score *rules_r,
		  struct eval_score *model_r, struct eval_score *both_r,
		  double *thr_r, char **error_r);

/* model_cv_tsv - model_read_tsv() and model_cv() */
int model_cv_tsv(const char *tsv, const char *class_spec, unsigned k,
		 unsigned seed, double threshold,
		 const struct model_train_opts *o, struct eval_score *folds_r,
		 char **error_r);

#endif
