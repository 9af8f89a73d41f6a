/*
 * model.c - hashed features, logistic regression scoring, training, files
 *
 * Interface and file format: model.h.  Training minimizes the class
 * weighted mean log loss plus (l2/2)|w|^2 (the bias is not penalized)
 * with L-BFGS: no learning rate to tune, no random order, so the result
 * depends only on the data, its order and the options.  Sums run in one
 * fixed order on one thread, which makes weights bit-identical between
 * runs on one machine.  Only buckets that occur in the training data get
 * a weight, so memory follows the data, not 2^hash_bits.  With nb_alpha
 * > 0 (the default) features are first scaled by their naive Bayes
 * log-count ratios (NB-LR); the ratios are folded into the saved weights.
 * Rule hits reach the model as 'x' features through the model_rules hook
 * (the caller runs the rules; this module knows none), and model_cv_both()
 * measures rules, model and the two combined as the daemon combines them.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "model.h"

/* FNV-1a 32-bit constants (Fowler/Noll/Vo). */
#define MODEL_FNV_OFFSET 2166136261U
#define MODEL_FNV_PRIME 16777619U
/* Char n-gram lengths: 3 catches stems ("idi"), 5 whole short words. */
#define MODEL_NGRAM_MIN 3
#define MODEL_NGRAM_MAX 5
/* Smallest dedup table: a one-line text fills a few dozen slots. */
#define MODEL_DEDUP_MIN 256
/* Largest first feature set (64 KB); a long text's repeats make the
 * sizes of smaller ones a poor guess, so it grows from there. */
#define MODEL_SET_START_MAX 16384
/* The feature set grows past 1 / MODEL_SET_LOAD full. */
#define MODEL_SET_LOAD 4
/* A model file is weights of at most 2^MODEL_MAX_BITS buckets. */
#define MODEL_MAX_FILE_BYTES (512 * 1024 * 1024)
/* L-BFGS memory: 8 pairs is the usual trade of memory for convergence. */
#define MODEL_LBFGS_M 8
/* Armijo sufficient decrease and the halvings tried per line search. */
#define MODEL_ARMIJO_C1 1e-4
#define MODEL_LS_MAX 40
/* Stop when the gradient is this small relative to max(1, |w|). */
#define MODEL_GRAD_TOL 1e-6
/* Defaults, tuned by k-fold CV on OLID, Kaggle and Davidson. */
#define MODEL_DEF_L2 3e-5
#define MODEL_DEF_ITER 300
/* Weights below this change no decision in CV (OLID, Kaggle, Davidson)
 * and would triple the file: 150k weights at 1e-3, 45k at 0.03. */
#define MODEL_DEF_PRUNE 0.03
/* Add-one smoothing of the NB-LR ratios (Wang and Manning use 1). */
#define MODEL_DEF_NB_ALPHA 1.0
/* Rows longer than this are cut: a labeled "text" is not a mailbox. */
#define MODEL_TSV_MAX_TEXT (1024 * 1024)

struct model {
	unsigned bits;
	uint32_t mask;
	float *w; /* dense, 2^bits */
	double bias;
	size_t nnz;
	char *class_spec, *data, *license, *citation, *trainer;
	char *rule_names; /* "rules:", or NULL */
};

/* model_fmix32 - MurmurHash3's finalizer: FNV's low bits mix poorly */
static uint32_t
model_fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

/* model_fnv_start - FNV-1a state after the seed and the namespace byte */
static uint32_t
model_fnv_start(char ns)
{
	uint32_t h = MODEL_FNV_OFFSET ^ MODEL_HASH_SEED;

	h ^= (unsigned char)ns;
	return h * MODEL_FNV_PRIME;
}

/* model_fnv_add - feed len bytes into an FNV-1a state */
static uint32_t
model_fnv_add(uint32_t h, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= MODEL_FNV_PRIME;
	}
	return h;
}

/* model_feature_hash - the hash of one feature */
uint32_t
model_feature_hash(char ns, const char *s, size_t len)
{
	return model_fmix32(model_fnv_add(model_fnv_start(ns), s, len));
}

/* model_fv_push - append one hash (duplicates removed later) */
static void
model_fv_push(struct model_fv *fv, uint32_t h)
{
	if (fv->n == fv->cap) {
		fv->cap = fv->cap ? fv->cap * 2 : 256;
		fv->h = g_renew(uint32_t, fv->h, fv->cap);
		fv->v = g_renew(float, fv->v, fv->cap);
	}
	fv->h[fv->n++] = h;
}

/*
 * The generator below is written once and inlined into each of its two
 * sinks: model_features() (scoring and training) then hashes straight
 * into its set, without a call per feature, while model_generate()
 * hands the texts to -t -v.
 */
#if defined(__GNUC__)
#define MODEL_INLINE inline __attribute__((always_inline))
#else
#define MODEL_INLINE inline
#endif

/* Bytes of a token that can still have n-grams: 4 per code point. */
#define MODEL_MAX_TOKEN_BYTES (MODEL_MAX_TOKEN_CHARS * 4)

/* One token text as the generator reads it, in one pass over its bytes. */
struct model_tok {
	const char *text;
	size_t len;
	uint32_t hw;        /* its word hash */
	uint32_t hb;        /* FNV state of its bigram after 'b', text, ' ' */
	unsigned char high; /* the OR of its bytes: >= 0x80 unless ASCII */
	char buf[MODEL_MAX_TOKEN_BYTES + 2]; /* "<text>", if it fits */
};

/* model_tok_len - the length of token i, from the joined text's offsets */
static inline size_t
model_tok_len(const struct norm *n, size_t i)
{
	if (i + 1 < n->n)
		return n->joined_off[i + 1] - n->joined_off[i] - 1;
	return strlen(n->tok[i].text);
}

/*
 * model_tok_read - token i into tk: its hashes and its copy in tk->buf;
 * *big, the hash state of the bigram ending with it, goes on over the
 * same bytes (the one loop over a token's bytes)
 */
static MODEL_INLINE void
model_tok_read(const struct norm *n, size_t i, struct model_tok *tk,
	       uint32_t *big)
{
	const char *t = n->tok[i].text;
	size_t len = model_tok_len(n, i);
	uint32_t hw = model_fnv_start('w'), hb = model_fnv_start('b');
	uint32_t hg = *big;
	unsigned char high = 0;

	for (size_t j = 0; j < len; j++) {
		unsigned char c = (unsigned char)t[j];

		hw = (hw ^ c) * MODEL_FNV_PRIME;
		hb = (hb ^ c) * MODEL_FNV_PRIME;
		hg = (hg ^ c) * MODEL_FNV_PRIME;
		high |= c;
		if (j < MODEL_MAX_TOKEN_BYTES)
			tk->buf[j + 1] = (char)c;
	}
	tk->text = t;
	tk->len = len;
	tk->hw = model_fmix32(hw);
	tk->hb = (hb ^ (unsigned char)' ') * MODEL_FNV_PRIME;
	tk->high = high;
	tk->buf[0] = '<';
	if (len <= MODEL_MAX_TOKEN_BYTES)
		tk->buf[len + 1] = '>';
	*big = hg;
}

/*
 * model_char_ngrams - 3- to 5-grams of code points of "<text>", each
 * hashed incrementally from its 3-gram prefix; none for a token of more
 * than MODEL_MAX_TOKEN_CHARS code points or MODEL_MAX_TOKEN_BYTES bytes
 */
static MODEL_INLINE void
model_char_ngrams(const struct model_tok *tk, model_emit_fn emit, void *ctx)
{
	const uint32_t h0 = model_fnv_start('c');
	const char *buf = tk->buf;
	/* code point starts in buf, + end; they fit: len + 2 <= 162 */
	unsigned char cp[MODEL_MAX_TOKEN_CHARS + 3];
	size_t nc = 0, i = 0;

	if (tk->high < 0x80) {
		/* ASCII, one byte per code point: straight-line n-grams */
		if (tk->len > MODEL_MAX_TOKEN_CHARS)
			return;
		nc = tk->len + 2;
		for (; i + 5 <= nc; i++) {
			uint32_t h = model_fnv_add(h0, buf + i, 3);

			emit(ctx, 'c', buf + i, 3, NULL, 0, model_fmix32(h));
			h = (h ^ (unsigned char)buf[i + 3]) * MODEL_FNV_PRIME;
			emit(ctx, 'c', buf + i, 4, NULL, 0, model_fmix32(h));
			h = (h ^ (unsigned char)buf[i + 4]) * MODEL_FNV_PRIME;
			emit(ctx, 'c', buf + i, 5, NULL, 0, model_fmix32(h));
		}
		if (i + 4 <= nc) {
			uint32_t h = model_fnv_add(h0, buf + i, 3);

			emit(ctx, 'c', buf + i, 3, NULL, 0, model_fmix32(h));
			h = (h ^ (unsigned char)buf[i + 3]) * MODEL_FNV_PRIME;
			emit(ctx, 'c', buf + i, 4, NULL, 0, model_fmix32(h));
			i++;
		}
		if (i + 3 <= nc)
			emit(ctx, 'c', buf + i, 3, NULL, 0,
			     model_fmix32(model_fnv_add(h0, buf + i, 3)));
		return;
	}
	if (tk->len > MODEL_MAX_TOKEN_BYTES)
		return;
	cp[nc++] = 0;
	for (size_t j = 0; j < tk->len; j++) {
		if (((unsigned char)tk->text[j] & 0xc0) != 0x80) {
			if (nc > MODEL_MAX_TOKEN_CHARS)
				return;
			cp[nc++] = (unsigned char)(j + 1);
		}
	}
	cp[nc++] = (unsigned char)(tk->len + 1);
	cp[nc] = (unsigned char)(tk->len + 2);
	for (; i + MODEL_NGRAM_MIN <= nc; i++) {
		uint32_t h = model_fnv_add(h0, buf + cp[i],
					   cp[i + MODEL_NGRAM_MIN - 1] - cp[i]);

		for (size_t k = MODEL_NGRAM_MIN; k <= MODEL_NGRAM_MAX; k++) {
			if (i + k > nc)
				break;
			h = model_fnv_add(h, buf + cp[i + k - 1],
					  cp[i + k] - cp[i + k - 1]);
			emit(ctx, 'c', buf + cp[i], cp[i + k] - cp[i], NULL, 0,
			     model_fmix32(h));
		}
	}
}

/*
 * model_generate_with - every feature of a text in one fixed order, with
 * its text: the single definition of the feature set (MODEL_FEATURE_SET)
 */
static MODEL_INLINE void
model_generate_with(const struct norm *n, const char *const *extra,
		    size_t n_extra, model_emit_fn emit, void *ctx)
{
	/*
	 * Features are binary and kept in order of first occurrence, so a
	 * token text seen before adds nothing but its bigram: its word and
	 * character n-grams all repeat earlier ones.  They are skipped (the
	 * deduplicated vector is the same, bit for bit), which is most of
	 * the work on mail, where a few hundred words make up thousands of
	 * tokens.  seen[] is an open-addressing set of token indexes + 1,
	 * keyed by the word hash and confirmed by comparing the texts.
	 */
	struct model_tok tks[2], *tk = &tks[0], *next = &tks[1], *swap;
	size_t size = MODEL_DEDUP_MIN;
	uint32_t *seen, *seen_h, big = 0;

	while (size < 2 * n->n)
		size *= 2;
	seen = g_new0(uint32_t, 2 * size);
	seen_h = seen + size; /* the word hash of each slot */
	if (n->n > 0)
		model_tok_read(n, 0, tk, &big);
	for (size_t i = 0; i < n->n; i++) {
		size_t slot = tk->hw & (size - 1);
		int repeat = 0;

		for (; seen[slot] != 0; slot = (slot + 1) & (size - 1)) {
			size_t o = seen[slot] - 1;

			if (seen_h[slot] == tk->hw &&
			    model_tok_len(n, o) == tk->len &&
			    memcmp(n->tok[o].text, tk->text, tk->len) == 0) {
				repeat = 1;
				break;
			}
		}
		if (!repeat) {
			seen[slot] = (uint32_t)i + 1;
			seen_h[slot] = tk->hw;
			emit(ctx, 'w', tk->text, tk->len, NULL, 0, tk->hw);
		}
		if (i + 1 < n->n) {
			big = tk->hb;
			model_tok_read(n, i + 1, next, &big);
			emit(ctx, 'b', tk->text, tk->len, next->text, next->len,
			     model_fmix32(big));
		}
		if (!repeat)
			model_char_ngrams(tk, emit, ctx);
		swap = tk;
		tk = next;
		next = swap;
	}
	g_free(seen);
	for (size_t i = 0; i < n_extra; i++) {
		size_t xlen = strlen(extra[i]);

		emit(ctx, 'x', extra[i], xlen, NULL, 0,
		     model_feature_hash('x', extra[i], xlen));
	}
}

/*
 * model_generate - the features of a text with their texts, used by
 * model_explain() for -t -v: what model_features() hashes, one call
 * per feature
 */
void
model_generate(const struct norm *n, const char *const *extra, size_t n_extra,
	       model_emit_fn emit, void *ctx)
{
	model_generate_with(n, extra, n_extra, emit, ctx);
}

/* The distinct hashes of a text as generated, first occurrences in order. */
struct model_fset {
	uint32_t *slot; /* open addressing; 0 is "empty" */
	size_t mask;    /* slots - 1 */
	uint32_t *h;    /* the hashes */
	size_t n;       /* how many */
	size_t cap;     /* room in h: (mask + 1) / MODEL_SET_LOAD */
	int has0;       /* hash 0, kept apart, is among them */
};

/* model_fset_init - an empty set fit for about n_tok tokens */
static void
model_fset_init(struct model_fset *s, size_t n_tok)
{
	size_t size = MODEL_DEDUP_MIN;

	/* a token brings about five distinct features; the set grows */
	while (size < 4 * MODEL_SET_LOAD * n_tok && size < MODEL_SET_START_MAX)
		size *= 2;
	s->slot = g_new0(uint32_t, size);
	s->mask = size - 1;
	s->n = 0;
	s->cap = size / MODEL_SET_LOAD;
	s->has0 = 0;
}

/*
 * model_fset_grow - twice the slots, refilled from the list of hashes
 * (shorter than the table and read in order), and room for twice the
 * hashes
 */
static void
model_fset_grow(struct model_fset *s)
{
	size_t size = 2 * (s->mask + 1);

	g_free(s->slot);
	s->slot = g_new0(uint32_t, size);
	s->mask = size - 1;
	for (size_t i = 0; i < s->n; i++) {
		uint32_t h = s->h[i];
		size_t k = h & s->mask;

		if (h == 0)
			continue;
		while (s->slot[k] != 0)
			k = (k + 1) & s->mask;
		s->slot[k] = h;
	}
	s->cap = size / MODEL_SET_LOAD;
	s->h = g_renew(uint32_t, s->h, s->cap);
}

/* model_fset_add - put h in the set: 1 if it is new, 0 if seen before */
static inline int
model_fset_add(struct model_fset *s, uint32_t h)
{
	size_t k = h & s->mask;
	uint32_t x;

	if (h == 0) {
		int fresh = !s->has0;

		s->has0 = 1;
		return fresh;
	}
	/* one probe mostly: the table is at most 1 / MODEL_SET_LOAD full */
	x = s->slot[k];
	while ((x != h) & (x != 0)) {
		k = (k + 1) & s->mask;
		x = s->slot[k];
	}
	s->slot[k] = h;
	return x == 0;
}

/*
 * model_emit_set - model_emit_fn of model_features(): append h unless
 * seen before (features are binary).  Whether h is new is a coin toss,
 * so it is appended branch-free and counted only when new.
 */
static inline void
model_emit_set(void *ctx, char ns, const char *a, size_t alen, const char *b,
	       size_t blen, uint32_t h)
{
	struct model_fset *s = ctx;
	int fresh = model_fset_add(s, h);

	(void)ns;
	(void)a;
	(void)alen;
	(void)b;
	(void)blen;
	s->h[s->n] = h;
	s->n += (size_t)fresh;
	if (s->n >= s->cap)
		model_fset_grow(s);
}

/*
 * model_dedup - drop repeated hashes, keeping first occurrences in order,
 * for model_explain() (model_features() drops them as they come), with
 * an open-addressing set of at least twice the count.  Slot value 0 is
 * "empty", so hash 0 is tracked apart.  keep_r, when not NULL, gets the
 * original index of each kept hash.
 */
static void
model_dedup(struct model_fv *fv, size_t *keep_r)
{
	size_t size = MODEL_DEDUP_MIN, k = 0;
	int seen0 = 0;

	while (size < 2 * fv->n)
		size *= 2;
	fv->tmp = g_renew(uint32_t, fv->tmp, size);
	memset(fv->tmp, 0, size * sizeof(*fv->tmp));
	for (size_t i = 0; i < fv->n; i++) {
		uint32_t h = fv->h[i];
		size_t slot = h & (size - 1);

		if (h == 0) {
			if (!seen0) {
				if (keep_r != NULL)
					keep_r[k] = i;
				fv->h[k++] = h;
			}
			seen0 = 1;
			continue;
		}
		while (fv->tmp[slot] != 0 && fv->tmp[slot] != h)
			slot = (slot + 1) & (size - 1);
		if (fv->tmp[slot] == 0) {
			fv->tmp[slot] = h;
			if (keep_r != NULL)
				keep_r[k] = i;
			fv->h[k++] = h;
		}
	}
	fv->n = k;
}

/* model_fv_normalize - binary values of L2 norm 1 */
static void
model_fv_normalize(struct model_fv *fv)
{
	float val;

	if (fv->n == 0)
		return;
	val = (float)(1.0 / sqrt((double)fv->n));
	for (size_t i = 0; i < fv->n; i++)
		fv->v[i] = val;
}

/*
 * model_features - binary features of a text, L2-normalized over all of
 * them.  (Normalizing words and n-grams as separate blocks was tried:
 * no better in cross-validation, and slower.)
 */
void
model_features(const struct norm *n, const char *const *extra, size_t n_extra,
	       struct model_fv *out)
{
	struct model_fset s = {0};

	model_fset_init(&s, n->n + n_extra);
	s.h = g_renew(uint32_t, out->h, s.cap);
	model_generate_with(n, extra, n_extra, model_emit_set, &s);
	g_free(s.slot);
	out->h = s.h;
	out->v = g_renew(float, out->v, s.cap);
	out->cap = s.cap;
	out->n = s.n;
	model_fv_normalize(out);
}

/* Feature texts collected by model_explain(). */
struct model_named {
	struct model_fv fv;
	GPtrArray *text; /* "w:idiot", parallel to fv.h */
};

/* model_emit_named - model_emit_fn of model_explain(): hash and text */
static void
model_emit_named(void *ctx, char ns, const char *a, size_t alen, const char *b,
		 size_t blen, uint32_t h)
{
	struct model_named *nf = ctx;
	GString *s = g_string_sized_new(alen + blen + 3);

	g_string_append_c(s, ns);
	g_string_append_c(s, ':');
	g_string_append_len(s, a, (gssize)alen);
	if (b != NULL) {
		g_string_append_c(s, ' ');
		g_string_append_len(s, b, (gssize)blen);
	}
	g_ptr_array_add(nf->text, g_string_free(s, FALSE));
	model_fv_push(&nf->fv, h);
}

/* model_contrib_cmp - larger |contribution| first, then by text */
static int
model_contrib_cmp(const void *a, const void *b)
{
	const struct model_contrib *x = a, *y = b;
	double ax = fabs(x->value), ay = fabs(y->value);

	if (ax != ay)
		return ax > ay ? -1 : 1;
	return strcmp(x->text, y->text);
}

/* model_explain - the features that moved the score most */
size_t
model_explain(const struct model *m, const struct norm *n,
	      const char *const *extra, size_t n_extra, size_t max,
	      struct model_contrib *out)
{
	struct model_named nf = {{0}, g_ptr_array_new_with_free_func(g_free)};
	struct model_contrib *all;
	size_t *keep, k = 0;

	model_generate(n, extra, n_extra, model_emit_named, &nf);
	keep = g_new(size_t, nf.fv.n ? nf.fv.n : 1);
	model_dedup(&nf.fv, keep);
	model_fv_normalize(&nf.fv);
	all = g_new(struct model_contrib, nf.fv.n ? nf.fv.n : 1);
	for (size_t i = 0; i < nf.fv.n; i++) {
		double c = model_weight(m, nf.fv.h[i]) * nf.fv.v[i];

		if (c == 0)
			continue;
		all[k].text = g_ptr_array_index(nf.text, keep[i]);
		all[k++].value = c;
	}
	qsort(all, k, sizeof(*all), model_contrib_cmp);
	if (k > max)
		k = max;
	for (size_t i = 0; i < k; i++) {
		out[i].text = g_strdup(all[i].text);
		out[i].value = all[i].value;
	}
	g_free(all);
	g_free(keep);
	g_ptr_array_free(nf.text, TRUE);
	model_fv_clear(&nf.fv);
	return k;
}

/* model_fv_clear - release a feature vector's storage */
void
model_fv_clear(struct model_fv *fv)
{
	g_free(fv->h);
	g_free(fv->v);
	g_free(fv->tmp);
	memset(fv, 0, sizeof(*fv));
}

/* model_sigmoid - logistic function without overflow */
static double
model_sigmoid(double z)
{
	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	return exp(z) / (1.0 + exp(z));
}

/* model_score - probability of the model's class */
double
model_score(const struct model *m, const struct model_fv *fv)
{
	double z = m->bias;

	for (size_t i = 0; i < fv->n; i++)
		z += (double)m->w[fv->h[i] & m->mask] * fv->v[i];
	return model_sigmoid(z);
}

/* model_weight - weight of one feature hash */
double
model_weight(const struct model *m, uint32_t h)
{
	return m->w[h & m->mask];
}

/* model_class - the class the model scores */
const char *
model_class(const struct model *m)
{
	return m->class_spec;
}

const char *
model_rule_names(const struct model *m)
{
	return m->rule_names;
}

/* model_n_weights - nonzero weights */
size_t
model_n_weights(const struct model *m)
{
	return m->nnz;
}

/* model_new - an all-zero model of 2^bits buckets */
static struct model *
model_new(unsigned bits)
{
	struct model *m = g_new0(struct model, 1);

	m->bits = bits;
	m->mask = (uint32_t)((1UL << bits) - 1);
	m->w = g_new0(float, (size_t)1 << bits);
	return m;
}

/* model_free - release a model */
struct model *
model_free(struct model *m)
{
	if (m == NULL)
		return NULL;
	g_free(m->w);
	g_free(m->class_spec);
	g_free(m->data);
	g_free(m->license);
	g_free(m->citation);
	g_free(m->rule_names);
	g_free(m->trainer);
	g_free(m);
	return NULL;
}

/* model_train_defaults - tuned defaults */
void
model_train_defaults(struct model_train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->l2 = MODEL_DEF_L2;
	o->max_iter = MODEL_DEF_ITER;
	o->hash_bits = MODEL_DEF_BITS;
	o->balanced = 1;
	o->prune = MODEL_DEF_PRUNE;
	o->nb_alpha = MODEL_DEF_NB_ALPHA;
	o->seed = 1;
}

/* Training problem: CSR rows over compact feature ids. */
struct model_prob {
	size_t n, d; /* rows; weights (compact features, then the bias) */
	size_t *row; /* row[i]..row[i+1] index col/val */
	uint32_t *col;
	double *val;
	double *y, *c; /* labels 0/1 and class weights (sum 1) */
	double l2;
};

/* model_objective - f(w) and its gradient g */
static double
model_objective(const struct model_prob *p, const double *w, double *g)
{
	size_t nf = p->d - 1;
	double f = 0;

	memset(g, 0, p->d * sizeof(*g));
	for (size_t i = 0; i < p->n; i++) {
		double z = w[nf], pr, r;

		for (size_t j = p->row[i]; j < p->row[i + 1]; j++)
			z += w[p->col[j]] * p->val[j];
		/* log(1 + e^z) - y z, stable for large |z| */
		if (z > 0)
			f += p->c[i] * (z + log1p(exp(-z)) - p->y[i] * z);
		else
			f += p->c[i] * (log1p(exp(z)) - p->y[i] * z);
		pr = model_sigmoid(z);
		r = p->c[i] * (pr - p->y[i]);
		for (size_t j = p->row[i]; j < p->row[i + 1]; j++)
			g[p->col[j]] += r * p->val[j];
		g[nf] += r;
	}
	for (size_t j = 0; j < nf; j++) {
		f += 0.5 * p->l2 * w[j] * w[j];
		g[j] += p->l2 * w[j];
	}
	return f;
}

/* model_dot - inner product */
static double
model_dot(const double *a, const double *b, size_t d)
{
	double s = 0;

	for (size_t i = 0; i < d; i++)
		s += a[i] * b[i];
	return s;
}

/* model_lbfgs - minimize the objective from w = 0; returns iterations */
static unsigned
model_lbfgs(const struct model_prob *p, double *w, unsigned max_iter)
{
	size_t d = p->d;
	double *g = g_new0(double, d), *gn = g_new0(double, d);
	double *dir = g_new0(double, d), *wn = g_new0(double, d);
	double *s = g_new0(double, d *MODEL_LBFGS_M);
	double *yv = g_new0(double, d *MODEL_LBFGS_M);
	double rho[MODEL_LBFGS_M], alpha[MODEL_LBFGS_M];
	unsigned it, stored = 0, head = 0;
	double f = model_objective(p, w, g);

	for (it = 0; it < max_iter; it++) {
		double gnorm = sqrt(model_dot(g, g, d));
		double wnorm = sqrt(model_dot(w, w, d));
		double t = 1.0, slope, fn = 0;
		int ok = 0;

		if (gnorm <= MODEL_GRAD_TOL * (wnorm > 1 ? wnorm : 1))
			break;
		/* two-loop recursion: dir = -H g */
		memcpy(dir, g, d * sizeof(*dir));
		for (unsigned k = 0; k < stored; k++) {
			unsigned i =
			    (head + MODEL_LBFGS_M - 1 - k) % MODEL_LBFGS_M;

			alpha[i] = rho[i] * model_dot(s + i * d, dir, d);
			for (size_t j = 0; j < d; j++)
				dir[j] -= alpha[i] * yv[i * d + j];
		}
		if (stored > 0) {
			unsigned i = (head + MODEL_LBFGS_M - 1) % MODEL_LBFGS_M;
			double gamma = model_dot(s + i * d, yv + i * d, d) /
				       model_dot(yv + i * d, yv + i * d, d);

			for (size_t j = 0; j < d; j++)
				dir[j] *= gamma;
		} else {
			for (size_t j = 0; j < d; j++)
				dir[j] /= gnorm;
		}
		for (unsigned k = stored; k > 0; k--) {
			unsigned i = (head + MODEL_LBFGS_M - k) % MODEL_LBFGS_M;
			double beta = rho[i] * model_dot(yv + i * d, dir, d);

			for (size_t j = 0; j < d; j++)
				dir[j] += s[i * d + j] * (alpha[i] - beta);
		}
		for (size_t j = 0; j < d; j++)
			dir[j] = -dir[j];
		slope = model_dot(g, dir, d);
		if (slope >= 0) {
			/* not a descent direction: restart from the gradient */
			for (size_t j = 0; j < d; j++)
				dir[j] = -g[j] / gnorm;
			slope = -gnorm;
			stored = 0;
		}
		for (int ls = 0; ls < MODEL_LS_MAX; ls++, t *= 0.5) {
			for (size_t j = 0; j < d; j++)
				wn[j] = w[j] + t * dir[j];
			fn = model_objective(p, wn, gn);
			if (fn <= f + MODEL_ARMIJO_C1 * t * slope) {
				ok = 1;
				break;
			}
		}
		if (!ok)
			break;
		{
			double *si = s + head * d, *yi = yv + head * d, sy;

			for (size_t j = 0; j < d; j++) {
				si[j] = wn[j] - w[j];
				yi[j] = gn[j] - g[j];
			}
			sy = model_dot(si, yi, d);
			if (sy > 1e-12) {
				rho[head] = 1.0 / sy;
				head = (head + 1) % MODEL_LBFGS_M;
				if (stored < MODEL_LBFGS_M)
					stored++;
			}
		}
		memcpy(w, wn, d * sizeof(*w));
		memcpy(g, gn, d * sizeof(*g));
		if (f - fn <= 1e-10 * (fabs(f) > 1 ? fabs(f) : 1)) {
			it++;
			break;
		}
		/* read by the next iteration's tests */
		// cppcheck-suppress unreadVariable
		f = fn;
	}
	g_free(g);
	g_free(gn);
	g_free(dir);
	g_free(wn);
	g_free(s);
	g_free(yv);
	return it;
}

/*
 * model_nb_ratios - NB-LR (Wang and Manning 2012): scale each feature by
 * its log-count ratio r = log((a + pos_j)/|.|) - log((a + neg_j)/|.|),
 * so the optimizer starts from naive Bayes evidence.  Training values
 * are scaled in place; the saved weight of feature j is w_j r_j, so
 * scoring needs no ratios.  NULL (no scaling) when alpha <= 0.
 */
static double *
model_nb_ratios(struct model_prob *p, size_t nfeat, double alpha)
{
	double *pos, *neg, *r, spos = 0, sneg = 0;

	if (alpha <= 0)
		return NULL;
	pos = g_new0(double, nfeat);
	neg = g_new0(double, nfeat);
	r = g_new(double, nfeat);
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = p->row[i]; j < p->row[i + 1]; j++)
			(p->y[i] > 0 ? pos : neg)[p->col[j]] += 1;
	for (size_t j = 0; j < nfeat; j++) {
		spos += pos[j] + alpha;
		sneg += neg[j] + alpha;
	}
	for (size_t j = 0; j < nfeat; j++)
		r[j] =
		    log((pos[j] + alpha) / spos) - log((neg[j] + alpha) / sneg);
	for (size_t j = 0; j < p->row[p->n]; j++)
		p->val[j] *= r[p->col[j]];
	g_free(pos);
	g_free(neg);
	return r;
}

/* model_train - logistic regression by L-BFGS */
struct model *
model_train(const struct model_fv *xs, const int *ys, size_t n,
	    const struct model_train_opts *o)
{
	struct model_train_opts def;
	struct model_prob p = {0};
	struct model *m;
	uint32_t *map, mask;
	size_t nnz = 0, npos = 0, nfeat = 0;
	double *w, *r, cpos, cneg;
	unsigned bits, iters;

	if (o == NULL) {
		model_train_defaults(&def);
		o = &def;
	}
	if (n == 0)
		return NULL;
	bits = o->hash_bits;
	if (bits < MODEL_MIN_BITS || bits > MODEL_MAX_BITS)
		bits = MODEL_DEF_BITS;
	mask = (uint32_t)((1UL << bits) - 1);
	/* compact ids in ascending bucket order: deterministic */
	map = g_new0(uint32_t, (size_t)1 << bits);
	for (size_t i = 0; i < n; i++) {
		nnz += xs[i].n;
		for (size_t j = 0; j < xs[i].n; j++)
			map[xs[i].h[j] & mask] = 1;
		npos += ys[i] != 0;
	}
	for (size_t b = 0; b < ((size_t)1 << bits); b++)
		map[b] = map[b] ? (uint32_t)nfeat++ : UINT32_MAX;
	p.n = n;
	p.d = nfeat + 1;
	p.l2 = o->l2;
	p.row = g_new(size_t, n + 1);
	p.col = g_new(uint32_t, nnz ? nnz : 1);
	p.val = g_new(double, nnz ? nnz : 1);
	p.y = g_new(double, n);
	p.c = g_new(double, n);
	cpos = cneg = 1.0 / (double)n;
	if (o->balanced && npos > 0 && npos < n) {
		cpos = 0.5 / (double)npos;
		cneg = 0.5 / (double)(n - npos);
	}
	nnz = 0;
	for (size_t i = 0; i < n; i++) {
		p.row[i] = nnz;
		for (size_t j = 0; j < xs[i].n; j++) {
			p.col[nnz] = map[xs[i].h[j] & mask];
			p.val[nnz++] = xs[i].v[j];
		}
		p.y[i] = ys[i] != 0;
		p.c[i] = ys[i] != 0 ? cpos : cneg;
	}
	p.row[n] = nnz;
	r = model_nb_ratios(&p, nfeat, o->nb_alpha);
	w = g_new0(double, p.d);
	iters = model_lbfgs(&p, w, o->max_iter ? o->max_iter : MODEL_DEF_ITER);
	m = model_new(bits);
	for (size_t b = 0; b < ((size_t)1 << bits); b++) {
		if (map[b] == UINT32_MAX || fabs(w[map[b]]) < o->prune)
			continue;
		m->w[b] = (float)(w[map[b]] * (r ? r[map[b]] : 1.0));
		if (m->w[b] != 0)
			m->nnz++;
	}
	m->bias = w[nfeat];
	m->class_spec = g_strdup(o->class_spec ? o->class_spec : "abusive");
	m->data = g_strdup(o->data ? o->data : "unknown");
	m->license = g_strdup(o->license ? o->license : "unknown");
	m->citation = g_strdup(o->citation);
	m->rule_names = g_strdup(o->rule_names);
	m->trainer = g_strdup_printf(
	    "lbfgs l2=%g nb-alpha=%g iter=%u/%u class-weight=%s prune=%g "
	    "rows=%zu positive=%zu",
	    o->l2, o->nb_alpha, iters, o->max_iter,
	    o->balanced ? "balanced" : "none", o->prune, n, npos);
	g_free(map);
	g_free(w);
	g_free(r);
	g_free(p.row);
	g_free(p.col);
	g_free(p.val);
	g_free(p.y);
	g_free(p.c);
	return m;
}

/* model_oneline - a header value: newlines and tabs become spaces */
static void
model_put_value(FILE *f, const char *key, const char *v)
{
	fprintf(f, "%s: ", key);
	for (; *v; v++)
		fputc(*v == '\n' || *v == '\r' || *v == '\t' ? ' ' : *v, f);
	fputc('\n', f);
}

/* model_save - write the model file atomically */
int
model_save(const struct model *m, const char *path, char **error_r)
{
	char *tmp = g_strconcat(path, ".tmp", NULL);
	FILE *f = fopen(tmp, "w");
	int err;

	if (f == NULL) {
		*error_r = g_strdup_printf("%s: %s", tmp, g_strerror(errno));
		g_free(tmp);
		return -1;
	}
	fprintf(f, "triage-model %d\n", MODEL_FORMAT_VERSION);
	model_put_value(f, "class", m->class_spec);
	model_put_value(f, "features", MODEL_FEATURE_SET);
	fprintf(f, "hash: %s seed=0x%08x bits=%u\n", MODEL_HASH_NAME,
		MODEL_HASH_SEED, m->bits);
	if (m->rule_names != NULL && *m->rule_names != '\0')
		model_put_value(f, "rules", m->rule_names);
	model_put_value(f, "data", m->data ? m->data : "unknown");
	model_put_value(f, "license", m->license ? m->license : "unknown");
	if (m->citation != NULL)
		model_put_value(f, "citation", m->citation);
	if (m->trainer != NULL)
		model_put_value(f, "trainer", m->trainer);
	fprintf(f, "bias: %.9g\n", m->bias);
	fprintf(f, "weights: %zu\n", m->nnz);
	for (size_t b = 0; b <= m->mask; b++)
		if (m->w[b] != 0)
			fprintf(f, "%zu %.6g\n", b, (double)m->w[b]);
	err = ferror(f);
	if (fclose(f) != 0 || err) {
		*error_r = g_strdup_printf("%s: write error", tmp);
		(void)remove(tmp);
		g_free(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		*error_r = g_strdup_printf("%s: %s", path, g_strerror(errno));
		(void)remove(tmp);
		g_free(tmp);
		return -1;
	}
	g_free(tmp);
	return 0;
}

/* Parser state of model_load(). */
struct model_parse {
	const char *path;
	unsigned line;
	char *error;
};

/* model_fail - record "path:line: why" and return -1 */
static int G_GNUC_PRINTF(2, 3)
    model_fail(struct model_parse *ps, const char *fmt, ...)
{
	va_list ap;
	char *why;

	va_start(ap, fmt);
	why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	ps->error = g_strdup_printf("%s:%u: %s", ps->path, ps->line, why);
	g_free(why);
	return -1;
}

/* model_parse_hash - "fnv1a32-fmix32 seed=0x... bits=N" */
static int
model_parse_hash(struct model_parse *ps, const char *v, unsigned *bits_r)
{
	char name[32];
	unsigned seed, bits;
	int end = 0;

	if (sscanf(v, "%31s seed=%x bits=%u%n", name, &seed, &bits, &end) !=
		3 ||
	    v[end] != '\0')
		return model_fail(ps,
				  "hash: expected \"%s seed=0x%08x "
				  "bits=N\"",
				  MODEL_HASH_NAME, MODEL_HASH_SEED);
	if (strcmp(name, MODEL_HASH_NAME) != 0 || seed != MODEL_HASH_SEED)
		return model_fail(ps, "hash: unsupported hash \"%s\" seed 0x%x",
				  name, seed);
	if (bits < MODEL_MIN_BITS || bits > MODEL_MAX_BITS)
		return model_fail(ps, "hash: bits %u not in %d..%d", bits,
				  MODEL_MIN_BITS, MODEL_MAX_BITS);
	*bits_r = bits;
	return 0;
}

/* Header values before the weights. */
struct model_header {
	int version;
	unsigned bits;
	int have_features, have_bias;
	double bias;
	char *class_spec, *data, *license, *citation, *trainer, *rule_names;
};

/* model_header_line - one "key: value" line of the header */
static int
model_header_line(struct model_parse *ps, struct model_header *hd, char *s)
{
	char *colon = strchr(s, ':'), *v, *end;
	char **slot = NULL;

	if (colon == NULL)
		return model_fail(ps, "expected \"key: value\"");
	*colon = '\0';
	v = g_strstrip(colon + 1);
	if (strcmp(s, "class") == 0) {
		slot = &hd->class_spec;
	} else if (strcmp(s, "data") == 0) {
		slot = &hd->data;
	} else if (strcmp(s, "license") == 0) {
		slot = &hd->license;
	} else if (strcmp(s, "citation") == 0) {
		slot = &hd->citation;
	} else if (strcmp(s, "trainer") == 0) {
		slot = &hd->trainer;
	} else if (strcmp(s, "rules") == 0) {
		slot = &hd->rule_names;
	} else if (strcmp(s, "features") == 0) {
		if (strcmp(v, MODEL_FEATURE_SET) != 0 &&
		    strcmp(v, MODEL_FEATURE_SET_NO_X) != 0)
			return model_fail(ps,
					  "features: \"%s\" unsupported "
					  "(this build: \"%s\")",
					  v, MODEL_FEATURE_SET);
		hd->have_features = 1;
		return 0;
	} else if (strcmp(s, "hash") == 0) {
		return model_parse_hash(ps, v, &hd->bits);
	} else if (strcmp(s, "bias") == 0) {
		errno = 0;
		hd->bias = strtod(v, &end);
		if (errno != 0 || end == v || *end != '\0' ||
		    !isfinite(hd->bias))
			return model_fail(ps, "bias: not a number");
		hd->have_bias = 1;
		return 0;
	} else {
		return model_fail(ps, "unknown key \"%s\"", s);
	}
	if (*slot != NULL)
		return model_fail(ps, "%s: given twice", s);
	*slot = g_strdup(v);
	return 0;
}

/* model_weight_line - "INDEX WEIGHT", indexes ascending */
static int
model_weight_line(struct model_parse *ps, struct model *m, const char *s,
		  long *last)
{
	char *end;
	unsigned long idx;
	double wt;

	errno = 0;
	idx = strtoul(s, &end, 10);
	if (errno != 0 || end == s || (*end != ' ' && *end != '\t'))
		return model_fail(ps, "expected \"INDEX WEIGHT\"");
	if (idx > m->mask)
		return model_fail(ps, "index %lu beyond 2^%u buckets", idx,
				  m->bits);
	if ((long)idx <= *last)
		return model_fail(ps, "index %lu not ascending", idx);
	s = end;
	wt = strtod(s, &end);
	while (*end == ' ' || *end == '\t' || *end == '\r')
		end++;
	if (errno != 0 || end == s || *end != '\0' || !isfinite(wt))
		return model_fail(ps, "weight: not a number");
	*last = (long)idx;
	m->w[idx] = (float)wt;
	if (m->w[idx] != 0)
		m->nnz++;
	return 0;
}

/* model_header_clear - free header strings not handed to a model */
static void
model_header_clear(struct model_header *hd)
{
	g_free(hd->class_spec);
	g_free(hd->data);
	g_free(hd->license);
	g_free(hd->citation);
	g_free(hd->rule_names);
	g_free(hd->trainer);
}

/* model_parse_text - the whole file; NULL and ps->error on error */
static struct model *
model_parse_text(struct model_parse *ps, char *buf)
{
	struct model_header hd = {0};
	struct model *m = NULL;
	unsigned long want = 0, got = 0;
	long last = -1;
	char *line = buf, *next;
	int in_weights = 0, rc = 0;

	for (; line != NULL && rc == 0; line = next) {
		char *s;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else if (*line == '\0')
			break;
		ps->line++;
		s = g_strstrip(line);
		if (in_weights) {
			if (got == want) {
				if (*s != '\0')
					rc = model_fail(ps,
							"more than %lu "
							"weights",
							want);
				continue;
			}
			rc = model_weight_line(ps, m, s, &last);
			got++;
			continue;
		}
		if (*s == '\0' || *s == '#')
			continue;
		if (hd.version == 0) {
			if (sscanf(s, "triage-model %d", &hd.version) != 1)
				rc = model_fail(ps, "not a triage-model file");
			else if (hd.version != MODEL_FORMAT_VERSION)
				rc = model_fail(ps, "version %d unsupported",
						hd.version);
			continue;
		}
		if (strncmp(s, "weights:", 8) == 0) {
			char *end;

			errno = 0;
			want = strtoul(s + 8, &end, 10);
			if (errno != 0 || end == s + 8 || *end != '\0')
				rc = model_fail(ps, "weights: not a count");
			else if (!hd.have_features || hd.bits == 0 ||
				 !hd.have_bias || hd.class_spec == NULL)
				rc = model_fail(ps, "class, features, hash or "
						    "bias missing before "
						    "weights");
			else if (want > (1UL << hd.bits))
				rc = model_fail(ps, "weights: more than 2^%u",
						hd.bits);
			else
				m = model_new(hd.bits);
			in_weights = 1;
			continue;
		}
		rc = model_header_line(ps, &hd, s);
	}
	if (rc == 0 && hd.version == 0)
		rc = model_fail(ps, "empty file");
	else if (rc == 0 && !in_weights)
		rc = model_fail(ps, "no \"weights:\" line");
	else if (rc == 0 && got < want)
		rc = model_fail(ps, "%lu weights of %lu: file truncated", got,
				want);
	if (rc != 0) {
		model_header_clear(&hd);
		return model_free(m);
	}
	m->bias = hd.bias;
	m->class_spec = hd.class_spec;
	m->data = hd.data;
	m->license = hd.license;
	m->citation = hd.citation;
	m->trainer = hd.trainer;
	m->rule_names = hd.rule_names;
	return m;
}

/* model_load - read a model file */
struct model *
model_load(const char *path, char **error_r)
{
	struct model_parse ps = {.path = path, .line = 0, .error = NULL};
	struct model *m;
	GError *gerr = NULL;
	gchar *buf;
	gsize len;

	if (!g_file_get_contents(path, &buf, &len, &gerr)) {
		*error_r = g_strdup(gerr->message); /* it names the file */
		g_error_free(gerr);
		return NULL;
	}
	if (len > MODEL_MAX_FILE_BYTES || memchr(buf, '\0', len) != NULL) {
		g_free(buf);
		*error_r = g_strdup_printf("%s: too large or binary", path);
		return NULL;
	}
	m = model_parse_text(&ps, buf);
	g_free(buf);
	if (m == NULL)
		*error_r = ps.error;
	return m;
}

/* model_unescape - undo \n, \t, \\ and \r escapes (as --eval does) */
static char *
model_unescape(const char *s, size_t max)
{
	GString *out = g_string_sized_new(strlen(s));

	for (; *s && out->len < max; s++) {
		if (*s != '\\' || s[1] == '\0') {
			g_string_append_c(out, *s);
			continue;
		}
		s++;
		if (*s == 'n')
			g_string_append_c(out, '\n');
		else if (*s == 't')
			g_string_append_c(out, '\t');
		else if (*s != 'r')
			g_string_append_c(out, *s);
	}
	return g_string_free(out, FALSE);
}

/*
 * model_label_positive - whether a label list names a flag of the class;
 * flags are lower case, a spreadsheet's "Abusive" is the same label
 */
static int
model_label_positive(const char *labels, char *const *flags)
{
	char **l = g_strsplit_set(labels, ",|", -1);
	int pos = 0;

	for (char **p = l; *p && !pos; p++) {
		g_strstrip(*p);
		for (char *const *f = flags; *f && !pos; f++)
			pos = **p != '\0' && g_ascii_strcasecmp(*p, *f) == 0;
	}
	g_strfreev(l);
	return pos;
}

/*
 * model_labels_unknown - the first label of a list that is neither
 * "none" nor one of known (any case), or NULL; a copy to free
 */
static char *
model_labels_unknown(const char *labels, char *const *known)
{
	char **l = g_strsplit_set(labels, ",|", -1), *bad = NULL;

	for (char **p = l; known != NULL && *p && bad == NULL; p++) {
		int ok = g_ascii_strcasecmp(g_strstrip(*p), "none") == 0;

		for (char *const *f = known; *f && !ok; f++)
			ok = g_ascii_strcasecmp(*p, *f) == 0;
		if (!ok)
			bad = g_strdup(*p);
	}
	g_strfreev(l);
	return bad;
}

/* model_label_error - *error_r for an unknown label at FILE:LINE */
static void
model_label_error(const char *file, size_t line, const char *bad,
		  char *const *known, char **error_r)
{
	GString *list = g_string_new(NULL);

	for (char *const *f = known; *f != NULL; f++)
		g_string_append_printf(list, "%s%s", f == known ? "" : ", ",
				       *f);
	*error_r = g_strdup_printf("%s:%zu: unknown label \"%s\" (flags: %s; "
				   "or none)",
				   file, line, bad, list->str);
	g_string_free(list, TRUE);
}

/*
 * model_data_push - one featurized row (at most max_tokens tokens, 0: all);
 * with_rules: extra are its rule features, score and other what the
 * rules said of it
 */
static void
model_data_push(struct model_data *d, size_t *cap, const char *text,
		size_t max_tokens, int y, int with_rules, char **extra,
		double score, int other)
{
	struct norm *nm = norm_text(text, strlen(text), max_tokens);

	if (d->n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		d->xs = g_renew(struct model_fv, d->xs, *cap);
		d->ys = g_renew(int, d->ys, *cap);
		if (with_rules) {
			d->rule_score = g_renew(double, d->rule_score, *cap);
			d->rule_other =
			    g_renew(unsigned char, d->rule_other, *cap);
		}
	}
	if (with_rules) {
		d->rule_score[d->n] = score;
		d->rule_other[d->n] = other != 0;
	}
	memset(&d->xs[d->n], 0, sizeof(d->xs[d->n]));
	model_features(nm, (const char *const *)extra,
		       extra ? g_strv_length(extra) : 0, &d->xs[d->n]);
	/* trim the reusable buffer to size: a data set holds many rows */
	d->xs[d->n].cap = d->xs[d->n].n ? d->xs[d->n].n : 1;
	d->xs[d->n].h = g_renew(uint32_t, d->xs[d->n].h, d->xs[d->n].cap);
	d->xs[d->n].v = g_renew(float, d->xs[d->n].v, d->xs[d->n].cap);
	g_free(d->xs[d->n].tmp);
	d->xs[d->n].tmp = NULL;
	d->ys[d->n] = y;
	d->n_pos += y != 0;
	d->n++;
	norm_free(nm);
}

/* model_push_text - one TSV row, through the rules when there are rules */
static void
model_push_text(struct model_data *d, size_t *cap, const char *text, int y,
		const struct model_rules *rules)
{
	char **extra = NULL;
	double score = 0;
	int other = 0;

	if (rules != NULL)
		extra =
		    rules->run(rules->ctx, text, strlen(text), &score, &other);
	model_data_push(d, cap, text, 0, y, rules != NULL, extra, score, other);
	g_strfreev(extra);
}

/* model_class_flags - the flags of a class spec; NULL and *error_r */
static char **
model_class_flags(const char *class_spec, char **error_r)
{
	char **flags = g_strsplit_set(class_spec, ",|", -1);

	for (char **f = flags; *f; f++)
		g_strstrip(*f);
	if (flags[0] == NULL || *flags[0] == '\0') {
		g_strfreev(flags);
		*error_r = g_strdup_printf("empty class \"%s\"", class_spec);
		return NULL;
	}
	return flags;
}

/*
 * model_read_lines - the lines of a labeled file, without a byte-order
 * mark or a CR before the LF, and the flags of the class (*flags_r);
 * NULL and *error_r
 */
static char **
model_read_lines(const char *path, const char *class_spec, char ***flags_r,
		 char **error_r)
{
	GError *gerr = NULL;
	char **lines;
	const char *nul;
	gchar *buf;
	gsize len;

	if ((*flags_r = model_class_flags(class_spec, error_r)) == NULL)
		return NULL;
	if (!g_file_get_contents(path, &buf, &len, &gerr)) {
		*error_r = g_strdup(gerr->message);
		g_error_free(gerr);
		g_strfreev(*flags_r);
		*flags_r = NULL;
		return NULL;
	}
	/* split as a C string, the file would silently end at a NUL */
	if ((nul = memchr(buf, '\0', len)) != NULL) {
		size_t line = 1;

		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		*error_r =
		    g_strdup_printf("%s:%zu: a NUL byte: not text", path, line);
		g_free(buf);
		g_strfreev(*flags_r);
		*flags_r = NULL;
		return NULL;
	}
	/* a UTF-8 byte-order mark, as spreadsheets write it, is no label */
	lines = g_strsplit(strncmp(buf, "\xef\xbb\xbf", 3) == 0 ? buf + 3 : buf,
			   "\n", -1);
	g_free(buf);
	for (char **l = lines; *l != NULL; l++) {
		size_t n = strlen(*l);

		if (n > 0 && (*l)[n - 1] == '\r')
			(*l)[n - 1] = '\0';
	}
	return lines;
}

/* model_skip_line - whether a line of a labeled file is blank or "#" */
static int
model_skip_line(const char *line)
{
	return line[strspn(line, " \t")] == '\0' || line[0] == '#';
}

/*
 * model_data_check - whether the data has both classes: with none of the
 * class (a label spelt otherwise than --class) or nothing else, there is
 * nothing to learn, and a model trained anyway says nothing; 0, or -1
 * and *error_r
 */
static int
model_data_check(const struct model_data *d, const char *path, const char *unit,
		 const char *class_spec, char **error_r)
{
	if (d->n == 0)
		*error_r = g_strdup_printf("%s: no labeled %s", path, unit);
	else if (d->n_pos == 0)
		*error_r = g_strdup_printf(
		    "%s: none of the %zu %s is labeled %s (--class): "
		    "nothing to learn from",
		    path, d->n, unit, class_spec);
	else if (d->n_pos == d->n)
		*error_r = g_strdup_printf(
		    "%s: all of the %zu %s are labeled %s (--class): "
		    "nothing to learn from",
		    path, d->n, unit, class_spec);
	return *error_r != NULL ? -1 : 0;
}

/* model_read_tsv - read and featurize a labeled TSV */
int
model_read_tsv(const char *tsv, const char *class_spec, struct model_data *out,
	       char **error_r)
{
	return model_read_tsv_rules(tsv, class_spec, NULL, NULL, out, error_r);
}

/* model_read_tsv_rules - read and featurize, with rule features */
int
model_read_tsv_rules(const char *tsv, const char *class_spec,
		     char *const *known, const struct model_rules *rules,
		     struct model_data *out, char **error_r)
{
	struct model_data d = {0};
	char **lines, **flags;
	size_t cap = 0;
	int header_seen = 0;

	*error_r = NULL;
	if ((lines = model_read_lines(tsv, class_spec, &flags, error_r)) ==
	    NULL)
		return -1;
	for (size_t i = 0; lines[i] != NULL; i++) {
		char *tab = strchr(lines[i], '\t'), *text, *bad;

		if (model_skip_line(lines[i]))
			continue;
		if (tab == NULL || tab == lines[i]) {
			*error_r = g_strdup_printf(
			    "%s:%zu: expected LABELS<TAB>TEXT", tsv, i + 1);
			break;
		}
		*tab = '\0';
		if (!header_seen) {
			header_seen = 1;
			if (g_ascii_strcasecmp(g_strstrip(lines[i]), "label") ==
			    0)
				continue;
		}
		if ((bad = model_labels_unknown(lines[i], known)) != NULL) {
			model_label_error(tsv, i + 1, bad, known, error_r);
			g_free(bad);
			break;
		}
		text = model_unescape(tab + 1, MODEL_TSV_MAX_TEXT);
		model_push_text(&d, &cap, text,
				model_label_positive(lines[i], flags), rules);
		g_free(text);
	}
	g_strfreev(lines);
	g_strfreev(flags);
	if (*error_r == NULL)
		model_data_check(&d, tsv, "rows", class_spec, error_r);
	if (*error_r != NULL) {
		model_data_clear(&d);
		return -1;
	}
	*out = d;
	return 0;
}

/* model_read_message - one stored message of a labels file */
static int
model_read_message(struct model_data *d, size_t *cap, const char *path, int y,
		   const struct model_rules *rules, size_t *skipped_r,
		   char **error_r)
{
	GError *gerr = NULL;
	char **extra, *text = NULL, *why = NULL;
	double score = 0;
	int other = 0;
	gchar *msg;
	gsize len;

	if (!g_file_get_contents(path, &msg, &len, &gerr)) {
		*error_r = g_strdup(gerr->message);
		g_error_free(gerr);
		return -1;
	}
	extra =
	    rules->message(rules->ctx, msg, len, &text, &score, &other, &why);
	g_free(msg);
	if (text == NULL) {
		fprintf(stderr, "triage-milter: %s: skipped: %s\n", path,
			why != NULL ? why : "cannot analyse");
		(*skipped_r)++;
	} else {
		model_data_push(d, cap, text, rules->max_tokens, y, 1, extra,
				score, other);
	}
	g_strfreev(extra);
	g_free(text);
	g_free(why);
	return 0;
}

int
model_read_messages(const char *dir, const char *labels, const char *class_spec,
		    char *const *known, const struct model_rules *rules,
		    struct model_data *out, size_t *skipped_r, char **error_r)
{
	struct model_data d = {0};
	GHashTable *seen;
	char **lines, **flags;
	size_t cap = 0;
	int rc = 0;

	*skipped_r = 0;
	if ((lines = model_read_lines(labels, class_spec, &flags, error_r)) ==
	    NULL)
		return -1;
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (size_t i = 0; lines[i] != NULL && rc == 0; i++) {
		char *tab = strchr(lines[i], '\t'), *path, *why = NULL;

		if (model_skip_line(lines[i]))
			continue;
		if (tab == NULL || tab == lines[i] ||
		    strchr(tab + 1, '\t') != NULL) {
			*error_r = g_strdup_printf(
			    "%s:%zu: expected FILE<TAB>LABELS", labels, i + 1);
			rc = -1;
			break;
		}
		*tab = '\0';
		/* a message named twice would weigh twice */
		if (g_hash_table_contains(seen, lines[i])) {
			*error_r = g_strdup_printf(
			    "%s:%zu: %s is labeled again (first on line %zu)",
			    labels, i + 1, lines[i],
			    GPOINTER_TO_SIZE(
				g_hash_table_lookup(seen, lines[i])));
			rc = -1;
			break;
		}
		if ((why = model_labels_unknown(tab + 1, known)) != NULL) {
			model_label_error(labels, i + 1, why, known, error_r);
			g_free(why);
			rc = -1;
			break;
		}
		g_hash_table_insert(seen, lines[i], GSIZE_TO_POINTER(i + 1));
		path = g_build_filename(dir, lines[i], NULL);
		rc = model_read_message(&d, &cap, path,
					model_label_positive(tab + 1, flags),
					rules, skipped_r, &why);
		if (rc != 0) {
			*error_r =
			    g_strdup_printf("%s:%zu: %s", labels, i + 1, why);
			g_free(why);
		}
		g_free(path);
	}
	g_hash_table_destroy(seen);
	g_strfreev(lines);
	g_strfreev(flags);
	if (rc == 0)
		rc = model_data_check(&d, labels, "messages", class_spec,
				      error_r);
	if (rc != 0) {
		model_data_clear(&d);
		return -1;
	}
	*out = d;
	return 0;
}

/* model_data_clear - release labeled data */
void
model_data_clear(struct model_data *d)
{
	for (size_t i = 0; i < d->n; i++)
		model_fv_clear(&d->xs[i]);
	g_free(d->xs);
	g_free(d->ys);
	g_free(d->rule_score);
	g_free(d->rule_other);
	memset(d, 0, sizeof(*d));
}

int
model_train_data(const struct model_data *d, const char *out_path,
		 const struct model_train_opts *o, char **error_r)
{
	struct model *m = model_train(d->xs, d->ys, d->n, o);
	int rc = model_save(m, out_path, error_r);

	model_free(m);
	return rc;
}

/* model_rand - splitmix64: a small seeded generator for fold shuffles */
static uint64_t
model_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * model_assign_folds - fold[i] in 0..k-1 for the n rows sel[] of d
 * (all rows when sel is NULL): positives first, then negatives, each
 * shuffled (Fisher-Yates, seeded) and dealt round-robin, so every fold
 * holds about the same share of each label
 */
static unsigned *
model_assign_folds(const int *ys, const size_t *sel, size_t n, unsigned k,
		   unsigned seed)
{
	unsigned *fold = g_new(unsigned, n);
	size_t *idx = g_new(size_t, n ? n : 1), npos = 0, nneg = 0;
	uint64_t st = seed;

	for (size_t i = 0; i < n; i++)
		if (ys[sel ? sel[i] : i])
			idx[npos++] = i;
	for (size_t i = 0; i < n; i++)
		if (!ys[sel ? sel[i] : i])
			idx[npos + nneg++] = i;
	for (size_t part = 0; part < 2; part++) {
		size_t base = part ? npos : 0, cnt = part ? nneg : npos;

		for (size_t i = cnt; i > 1; i--) {
			size_t j = (size_t)(model_rand(&st) % i), t;

			t = idx[base + i - 1];
			idx[base + i - 1] = idx[base + j];
			idx[base + j] = t;
		}
	}
	for (size_t i = 0; i < n; i++)
		fold[idx[i]] = (unsigned)(i % k);
	g_free(idx);
	return fold;
}

/* model_mean_add - add fold r to the running mean of k folds */
static void
model_mean_add(struct eval_score *mean, const struct eval_score *r, unsigned k)
{
	mean->tp += r->tp;
	mean->fp += r->fp;
	mean->fn += r->fn;
	mean->tn += r->tn;
	mean->precision += r->precision / k;
	mean->recall += r->recall / k;
	mean->f1 += r->f1 / k;
	mean->f1_neg += r->f1_neg / k;
	mean->macro_f1 += r->macro_f1 / k;
}

/*
 * model_train_subset - train on the n rows sel[] of d whose fold is not
 * skip (fold NULL: all n)
 */
static struct model *
model_train_subset(const struct model_data *d, const size_t *sel, size_t n,
		   const unsigned *fold, unsigned skip,
		   const struct model_train_opts *o)
{
	struct model_fv *xs = g_new(struct model_fv, n ? n : 1);
	int *ys = g_new(int, n ? n : 1);
	struct model *m;
	size_t nt = 0;

	for (size_t i = 0; i < n; i++) {
		if (fold != NULL && fold[i] == skip)
			continue;
		xs[nt] = d->xs[sel[i]]; /* shallow: storage stays in d */
		ys[nt++] = d->ys[sel[i]];
	}
	m = model_train(xs, ys, nt, o);
	g_free(xs);
	g_free(ys);
	return m;
}

/*
 * model_cv_check - k folds of d: each fold must hold rows of both
 * classes, or a fold's model learns from one class and its scores say
 * nothing (and a fold with no training rows has no model at all)
 */
static int
model_cv_check(const struct model_data *d, unsigned k, char **error_r)
{
	size_t neg = d->n - d->n_pos;

	if (k < 2 || k > MODEL_CV_MAX_K) {
		*error_r = g_strdup_printf("--cv %u: need 2 to %d folds", k,
					   MODEL_CV_MAX_K);
		return -1;
	}
	if (d->n_pos < k || neg < k) {
		*error_r = g_strdup_printf(
		    "--cv %u: need at least %u rows of the class and %u of "
		    "the others, one of each per fold; the data has %zu and "
		    "%zu",
		    k, k, k, d->n_pos, neg);
		return -1;
	}
	return 0;
}

/* model_cv - stratified k-fold cross-validation */
int
model_cv(const struct model_data *d, unsigned k, unsigned seed,
	 double threshold, const struct model_train_opts *o,
	 struct eval_score *folds_r, char **error_r)
{
	unsigned *fold;
	size_t *all;
	struct eval_score mean = {0};

	if (model_cv_check(d, k, error_r) != 0)
		return -1;
	fold = model_assign_folds(d->ys, NULL, d->n, k, seed);
	all = g_new(size_t, d->n);
	for (size_t i = 0; i < d->n; i++)
		all[i] = i;
	for (unsigned f = 0; f < k; f++) {
		struct eval_score *r = &folds_r[f];
		struct model *m = model_train_subset(d, all, d->n, fold, f, o);

		memset(r, 0, sizeof(*r));
		for (size_t i = 0; i < d->n; i++)
			if (fold[i] == f)
				eval_score_add(
				    r, model_score(m, &d->xs[i]) >= threshold,
				    d->ys[i]);
		model_free(m);
		eval_score_finish(r);
		model_mean_add(&mean, r, k);
	}
	folds_r[k] = mean;
	g_free(all);
	g_free(fold);
	return 0;
}

/* Grid of model thresholds tried: 0.05, 0.06, ... 0.95. */
#define MODEL_THR_LO 5
#define MODEL_THR_HI 95
#define MODEL_THR_STEP 0.01

/* model_rule_score - a row's rule score (0 when read without rules) */
static double
model_rule_score(const struct model_data *d, size_t i)
{
	return d->rule_score ? d->rule_score[i] : 0;
}

/* model_rule_other - whether rules flag row i through another category */
static int
model_rule_other(const struct model_data *d, size_t i)
{
	return d->rule_other ? d->rule_other[i] : 0;
}

/* model_both - the daemon's decision: rules plus the model's share */
static int
model_both(const struct model_combine *cb, double rule_score, int other,
	   double p, double thr)
{
	double s = rule_score + (p >= thr ? cb->weight * p : 0);

	/* the epsilon of verdict.c */
	return other || s + 1e-9 >= cb->cat_threshold;
}

/*
 * model_choose_threshold - the model threshold that scores best on the n
 * training rows sel[] of d, from out-of-fold probabilities of an inner
 * cb->inner_k-fold CV (the outer test fold is never seen); ties go to
 * the higher threshold, which flags less
 */
static double
model_choose_threshold(const struct model_data *d, const size_t *sel, size_t n,
		       unsigned seed, const struct model_train_opts *o,
		       const struct model_combine *cb)
{
	unsigned ik = cb->inner_k >= 2 ? cb->inner_k : 3;
	unsigned *fold = model_assign_folds(d->ys, sel, n, ik, seed + 7919);
	double *p = g_new(double, n ? n : 1), best = -1, best_thr = 0.5;

	for (unsigned f = 0; f < ik; f++) {
		struct model *m = model_train_subset(d, sel, n, fold, f, o);

		/* an inner fold may hold every training row: no model */
		for (size_t i = 0; i < n; i++)
			if (fold[i] == f)
				p[i] = m ? model_score(m, &d->xs[sel[i]]) : 0;
		model_free(m);
	}
	for (int t = MODEL_THR_HI; t >= MODEL_THR_LO; t--) {
		struct eval_score r = {0};
		double thr = t * MODEL_THR_STEP, v;

		for (size_t i = 0; i < n; i++)
			eval_score_add(
			    &r,
			    model_both(cb, model_rule_score(d, sel[i]),
				       model_rule_other(d, sel[i]), p[i], thr),
			    d->ys[sel[i]]);
		eval_score_finish(&r);
		v = cb->objective_f1 ? r.f1 : r.macro_f1;
		if (v > best + 1e-12) {
			best = v;
			best_thr = thr;
		}
	}
	g_free(p);
	g_free(fold);
	return best_thr;
}

/* model_cv_both - rules, model and both, cross-validated */
int
model_cv_both(const struct model_data *d, unsigned k, unsigned seed,
	      const struct model_train_opts *o, const struct model_combine *cb,
	      struct eval_score *rules_r, struct eval_score *model_r,
	      struct eval_score *both_r, double *thr_r, char **error_r)
{
	struct eval_score mr = {0}, mm = {0}, mb = {0};
	unsigned *fold;
	size_t *sel;

	if (model_cv_check(d, k, error_r) != 0)
		return -1;
	fold = model_assign_folds(d->ys, NULL, d->n, k, seed);
	sel = g_new(size_t, d->n);
	for (unsigned f = 0; f < k; f++) {
		struct model *m;
		size_t nt = 0;
		double thr = cb->threshold;

		for (size_t i = 0; i < d->n; i++)
			if (fold[i] != f)
				sel[nt++] = i;
		if (thr <= 0)
			thr =
			    model_choose_threshold(d, sel, nt, seed + f, o, cb);
		thr_r[f] = thr;
		m = model_train_subset(d, sel, nt, NULL, 0, o);
		memset(&rules_r[f], 0, sizeof(rules_r[f]));
		memset(&model_r[f], 0, sizeof(model_r[f]));
		memset(&both_r[f], 0, sizeof(both_r[f]));
		for (size_t i = 0; i < d->n; i++) {
			double p;

			if (fold[i] != f)
				continue;
			p = model_score(m, &d->xs[i]);
			eval_score_add(&rules_r[f],
				       model_both(cb, model_rule_score(d, i),
						  model_rule_other(d, i), 0, 2),
				       d->ys[i]);
			eval_score_add(&model_r[f], p >= 0.5, d->ys[i]);
			eval_score_add(&both_r[f],
				       model_both(cb, model_rule_score(d, i),
						  model_rule_other(d, i), p,
						  thr),
				       d->ys[i]);
		}
		model_free(m);
		eval_score_finish(&rules_r[f]);
		eval_score_finish(&model_r[f]);
		eval_score_finish(&both_r[f]);
		model_mean_add(&mr, &rules_r[f], k);
		model_mean_add(&mm, &model_r[f], k);
		model_mean_add(&mb, &both_r[f], k);
	}
	rules_r[k] = mr;
	model_r[k] = mm;
	both_r[k] = mb;
	g_free(sel);
	g_free(fold);
	return 0;
}

/* model_cv_tsv - read a TSV and cross-validate */
int
model_cv_tsv(const char *tsv, const char *class_spec, unsigned k, unsigned seed,
	     double threshold, const struct model_train_opts *o,
	     struct eval_score *folds_r, char **error_r)
{
	struct model_data d = {0};
	int rc;

	if (model_read_tsv_rules(tsv, class_spec, NULL, o ? o->rules : NULL, &d,
				 error_r) < 0)
		return -1;
	rc = model_cv(&d, k, seed, threshold, o, folds_r, error_r);
	model_data_clear(&d);
	return rc;
}
