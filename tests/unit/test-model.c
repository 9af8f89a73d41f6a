/*
 * test-model.c - feature hashing, model files, training on a fixture
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "model.h"
#include "unit.h"

/* model_path - a fixture under tests/unit/model (g_free) */
static char *
model_path(const char *name)
{
	return g_build_filename(UNIT_FILE(name), "tests", "unit", "model", name,
				NULL);
}

/* fv_of - features of a text */
static void
fv_of(const char *text, struct model_fv *fv)
{
	struct norm *n = norm_text(text, strlen(text), 0);

	model_features(n, NULL, 0, fv);
	norm_free(n);
}

/* fv_has - whether fv holds hash h */
static int
fv_has(const struct model_fv *fv, uint32_t h)
{
	for (size_t i = 0; i < fv->n; i++)
		if (fv->h[i] == h)
			return 1;
	return 0;
}

START_TEST(test_hash_stable)
{
	/* values fixed by the file format: a change breaks every model */
	ck_assert_uint_eq(model_feature_hash('w', "idiot", 5), 0x967f32c1U);
	ck_assert_uint_eq(model_feature_hash('c', "<id", 3), 0xee56f7d6U);
	ck_assert_uint_ne(model_feature_hash('w', "idiot", 5),
			  model_feature_hash('x', "idiot", 5));
}
END_TEST

START_TEST(test_features)
{
	struct model_fv fv = {0}, fv2 = {0};
	const char *extra[] = {"rule:INSULT"};
	struct norm *n;
	double norm2 = 0;

	/* case and obfuscation do not change features; repeats count once */
	fv_of("You IDIOT idiot", &fv);
	fv_of("you 1d10t idiot", &fv2);
	ck_assert_uint_eq(fv.n, fv2.n);
	for (size_t i = 0; i < fv.n; i++) {
		ck_assert(fv_has(&fv2, fv.h[i]));
		norm2 += (double)fv.v[i] * fv.v[i];
	}
	ck_assert(fabs(norm2 - 1.0) < 1e-5);
	ck_assert(fv_has(&fv, model_feature_hash('w', "idiot", 5)));
	ck_assert(fv_has(&fv, model_feature_hash('b', "you idiot", 9)));
	ck_assert(fv_has(&fv, model_feature_hash('c', "<id", 3)));
	ck_assert(fv_has(&fv, model_feature_hash('c', "iot>", 4)));
	ck_assert(fv_has(&fv, model_feature_hash('c', "idiot", 5)));
	ck_assert(fv_has(&fv, model_feature_hash('c', "<idio", 5)));
	ck_assert(!fv_has(&fv, model_feature_hash('c', "<idiot", 6)));
	for (size_t i = 0; i < fv.n; i++)
		for (size_t j = i + 1; j < fv.n; j++)
			ck_assert_uint_ne(fv.h[i], fv.h[j]);
	/* extras are named features */
	n = norm_text("hello", 5, 0);
	model_features(n, extra, 1, &fv);
	ck_assert(fv_has(&fv, model_feature_hash('x', "rule:INSULT", 11)));
	model_features(n, NULL, 0, &fv);
	ck_assert(!fv_has(&fv, model_feature_hash('x', "rule:INSULT", 11)));
	norm_free(n);
	/* empty text: empty vector */
	n = norm_text("", 0, 0);
	model_features(n, NULL, 0, &fv);
	ck_assert_uint_eq(fv.n, 0);
	norm_free(n);
	model_fv_clear(&fv);
	model_fv_clear(&fv2);
}
END_TEST

/* ref_push - append h to a unless it is there (first occurrences) */
static void
ref_push(GArray *a, uint32_t h)
{
	for (guint i = 0; i < a->len; i++)
		if (g_array_index(a, uint32_t, i) == h)
			return;
	g_array_append_val(a, h);
}

/*
 * ref_features - the feature set from its definition, slowly and
 * without model.c's shortcuts (skipped repeats, one pass per token, the
 * ASCII path, the set): what model_features() must match hash for hash
 */
static GArray *
ref_features(const struct norm *n, const char *const *extra, size_t n_extra)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(uint32_t));

	for (size_t i = 0; i < n->n; i++) {
		const char *t = n->tok[i].text;
		char *v = g_strconcat("<", t, ">", NULL);
		size_t off[200], nc = 0;

		ref_push(a, model_feature_hash('w', t, strlen(t)));
		if (i + 1 < n->n) {
			char *b = g_strconcat(t, " ", n->tok[i + 1].text, NULL);

			ref_push(a, model_feature_hash('b', b, strlen(b)));
			g_free(b);
		}
		for (char *p = v; *p; p = g_utf8_next_char(p))
			if (nc < G_N_ELEMENTS(off) - 1)
				off[nc++] = (size_t)(p - v);
		off[nc] = strlen(v);
		if (nc - 2 <= 40 && strlen(t) <= 160)
			for (size_t s = 0; s + 3 <= nc; s++)
				for (size_t k = 3; k <= 5 && s + k <= nc; k++)
					ref_push(a, model_feature_hash(
							'c', v + off[s],
							off[s + k] - off[s]));
		g_free(v);
	}
	for (size_t i = 0; i < n_extra; i++)
		ref_push(a,
			 model_feature_hash('x', extra[i], strlen(extra[i])));
	return a;
}

/* long_text - words enough that the feature set grows (g_free) */
static char *
long_text(void)
{
	GString *s = g_string_new(NULL);
	uint32_t x = 12345;

	for (int i = 0; i < 6000; i++) {
		x = x * 1103515245U + 12345U;
		/* a few hundred words repeat, the rest are new */
		g_string_append_printf(s, "%s%c%c%u ", (x >> 8) % 4 ? "w" : "é",
				       'a' + (x >> 12) % 26,
				       'a' + (x >> 20) % 26, (x >> 16) % 3000);
	}
	return g_string_free(s, FALSE);
}

START_TEST(test_features_reference)
{
	static const char *const texts[] = {
	    "",
	    "a",
	    "You IDIOT idiot, you idiot you",
	    "the cat and the hat and the cat",
	    "x y x y x y z",
	    /* 40 and 41 code points, 160 and 161 bytes */
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmn ok",
	    "abcdefghijklmnopqrstuvwxyzabcdefghijklmno ok",
	    "жжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжжж ok жжжжжжжжжжжжжжжжжжжж"
	    "жжжжжжжжжжжжжжжжжжжжж",
	    "日本語のテキスト 日本語 naïve café 😀😀 a😀b 😀",
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80 ok",
	    "f*ck f**k fuuuuck sh1t s h i t idiot!!! idiot? IDIOT",
	};
	const char *extra[] = {"rule:INSULT_YOU", "rule:PROFANITY"};
	struct model_fv fv = {0};
	char *big = long_text();

	for (size_t i = 0; i <= G_N_ELEMENTS(texts); i++) {
		const char *text = i < G_N_ELEMENTS(texts) ? texts[i] : big;
		struct norm *n = norm_text(text, strlen(text), 0);

		for (size_t e = 0; e <= G_N_ELEMENTS(extra); e++) {
			GArray *want = ref_features(n, extra, e);

			model_features(n, extra, e, &fv);
			ck_assert_msg(fv.n == want->len,
				      "%s: %zu features, want %u", text, fv.n,
				      want->len);
			for (size_t j = 0; j < fv.n; j++) {
				ck_assert_uint_eq(
				    fv.h[j], g_array_index(want, uint32_t, j));
				ck_assert(fv.v[j] ==
					  (float)(1.0 / sqrt((double)fv.n)));
			}
			g_array_free(want, TRUE);
		}
		norm_free(n);
	}
	/* the long text's set grew well past its first size */
	ck_assert_uint_gt(fv.n, 20000);
	model_fv_clear(&fv);
	g_free(big);
}
END_TEST

/* train_tiny - a model of the fixture with default options */
static struct model *
train_tiny(struct model_data *d)
{
	struct model_train_opts o;
	char *path = model_path("tiny.tsv"), *err = NULL;

	model_train_defaults(&o);
	o.class_spec = "abusive";
	o.license = "test";
	ck_assert_msg(model_read_tsv(path, "abusive|profanity", d, &err) == 0,
		      "%s", err);
	g_free(path);
	ck_assert_uint_eq(d->n, 40);
	ck_assert_uint_eq(d->n_pos, 20);
	return model_train(d->xs, d->ys, d->n, &o);
}

START_TEST(test_train_predict)
{
	static const char *const abusive[] = {"shut up you stupid loser",
					      "you are a moron", "what a fool"};
	static const char *const polite[] = {"please send my refund",
					     "thank you for the invoice",
					     "my package has not arrived yet"};
	struct model_data d = {0};
	struct model *m = train_tiny(&d), *m2;
	struct model_data d2 = {0};
	struct model_fv fv = {0};

	ck_assert_ptr_nonnull(m);
	for (size_t i = 0; i < G_N_ELEMENTS(abusive); i++) {
		fv_of(abusive[i], &fv);
		ck_assert_msg(model_score(m, &fv) > 0.5, "%s: %f", abusive[i],
			      model_score(m, &fv));
	}
	for (size_t i = 0; i < G_N_ELEMENTS(polite); i++) {
		fv_of(polite[i], &fv);
		ck_assert_msg(model_score(m, &fv) < 0.5, "%s: %f", polite[i],
			      model_score(m, &fv));
	}
	/* same data, same order: bit-identical weights */
	m2 = train_tiny(&d2);
	ck_assert_uint_eq(model_n_weights(m), model_n_weights(m2));
	for (size_t i = 0; i < d.n; i++)
		for (size_t j = 0; j < d.xs[i].n; j++) {
			double a = model_weight(m, d.xs[i].h[j]);
			double b = model_weight(m2, d.xs[i].h[j]);

			ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
		}
	model_fv_clear(&fv);
	model_free(m);
	model_free(m2);
	model_data_clear(&d);
	model_data_clear(&d2);
}
END_TEST

START_TEST(test_save_load)
{
	struct model_data d = {0};
	struct model *m = train_tiny(&d), *back;
	char *dir = g_dir_make_tmp("test-model-XXXXXX", NULL);
	char *path = g_build_filename(dir, "t.model", NULL);
	char *err = NULL;

	ck_assert_int_eq(model_save(m, path, &err), 0);
	back = model_load(path, &err);
	ck_assert_msg(back != NULL, "%s", err);
	ck_assert_str_eq(model_class(back), "abusive");
	ck_assert_uint_eq(model_n_weights(back), model_n_weights(m));
	/* weights are written with 6 digits: scores agree closely */
	for (size_t i = 0; i < d.n; i++)
		ck_assert(fabs(model_score(m, &d.xs[i]) -
			       model_score(back, &d.xs[i])) < 1e-4);
	(void)unlink(path);
	(void)rmdir(dir);
	g_free(path);
	g_free(dir);
	model_free(back);
	model_free(m);
	model_data_clear(&d);
}
END_TEST

/* load_error - loading fixture name fails with a message starting msg */
static void
load_error(const char *name, const char *want)
{
	char *path = model_path(name), *err = NULL, *full;
	struct model *m = model_load(path, &err);

	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(err);
	full = g_strconcat(path, want, NULL);
	ck_assert_msg(g_str_has_prefix(err, full), "got \"%s\", want \"%s\"",
		      err, full);
	g_free(full);
	g_free(err);
	g_free(path);
}

START_TEST(test_file_errors)
{
	char *err = NULL;
	struct model_data d = {0};

	load_error("bad-index.model", ":10: index 3 not ascending");
	load_error("bad-features.model", ":4: features:");
	load_error("truncated.model", ":7: 1 weights of 3");
	load_error("tiny.tsv", ":1: not a triage-model file");
	{ /* GLib's message names the file; no ":0:" before it */
		char *path = model_path("missing.model"), *err = NULL;

		ck_assert_ptr_null(model_load(path, &err));
		ck_assert_msg(strstr(err, path) != NULL &&
				  strstr(err, ":0:") == NULL,
			      "got \"%s\"", err);
		g_free(err);
		g_free(path);
	}
	/* a failed read leaves the output untouched */
	d.n = 7;
	ck_assert_int_eq(
	    model_read_tsv("/nonexistent.tsv", "abusive", &d, &err), -1);
	ck_assert_uint_eq(d.n, 7);
	g_free(err);
}
END_TEST

/* Features as model_generate() yields them, with their text. */
struct gen_seen {
	GPtrArray *text;
	GArray *h;
};

/* gen_collect - model_emit_fn: keep "ns:text" and the hash */
static void
gen_collect(void *ctx, char ns, const char *a, size_t alen, const char *b,
	    size_t blen, uint32_t h)
{
	struct gen_seen *g = ctx;
	char *t = b != NULL
		      ? g_strdup_printf("%.*s %.*s", (int)alen, a, (int)blen, b)
		      : g_strndup(a, alen);

	/* the text hashes to the very hash the scorer uses */
	ck_assert_uint_eq(model_feature_hash(ns, t, strlen(t)), h);
	g_ptr_array_add(g->text, g_strdup_printf("%c:%s", ns, t));
	g_array_append_val(g->h, h);
	g_free(t);
}

START_TEST(test_generate)
{
	const char *extra[] = {"rule:INSULT_YOU"};
	struct gen_seen g = {g_ptr_array_new_with_free_func(g_free),
			     g_array_new(FALSE, FALSE, sizeof(uint32_t))};
	struct norm *n = norm_text("You idiot, naïve you", 21, 0);
	struct model_fv fv = {0};

	model_generate(n, extra, 1, gen_collect, &g);
	model_features(n, extra, 1, &fv);
	/* model_features() is exactly the distinct generated hashes */
	for (size_t i = 0; i < g.h->len; i++)
		ck_assert(fv_has(&fv, g_array_index(g.h, uint32_t, i)));
	for (size_t i = 0; i < fv.n; i++) {
		size_t j = 0;

		while (j < g.h->len &&
		       g_array_index(g.h, uint32_t, j) != fv.h[i])
			j++;
		ck_assert_uint_lt(j, g.h->len);
	}
	/* the texts -t -v prints */
	ck_assert_str_eq(g_ptr_array_index(g.text, 0), "w:you");
	ck_assert_str_eq(g_ptr_array_index(g.text, 1), "b:you idiot");
	ck_assert_str_eq(g_ptr_array_index(g.text, 2), "c:<yo");
	ck_assert_str_eq(g_ptr_array_index(g.text, g.text->len - 1),
			 "x:rule:INSULT_YOU");
	{
		int seen = 0;

		for (size_t i = 0; i < g.text->len; i++)
			seen |=
			    strcmp(g_ptr_array_index(g.text, i), "c:naiv") == 0;
		ck_assert(seen); /* accents are stripped, code points kept */
	}
	model_fv_clear(&fv);
	norm_free(n);
	g_ptr_array_free(g.text, TRUE);
	g_array_free(g.h, TRUE);
}
END_TEST

START_TEST(test_explain)
{
	struct model_data d = {0};
	struct model *m = train_tiny(&d);
	struct model_contrib top[8], all[400];
	struct model_fv fv = {0};
	const char *text = "shut up you stupid idiot";
	struct norm *n = norm_text(text, strlen(text), 0);
	size_t k = model_explain(m, n, NULL, 0, 8, top), kall;
	double z = 0, p;
	int idi = 0;

	ck_assert_uint_eq(k, 8);
	for (size_t i = 0; i < k; i++) {
		if (i > 0)
			ck_assert(fabs(top[i].value) <= fabs(top[i - 1].value));
		idi |= strcmp(top[i].text, "c:<idi") == 0;
		ck_assert(top[i].value > 0); /* a rude line: all push up */
	}
	ck_assert(idi);
	/* all contributions plus the bias give the model's probability */
	kall = model_explain(m, n, NULL, 0, G_N_ELEMENTS(all), all);
	ck_assert_uint_lt(kall, G_N_ELEMENTS(all));
	for (size_t i = 0; i < kall; i++) {
		z += all[i].value;
		g_free(all[i].text);
	}
	model_features(n, NULL, 0, &fv);
	p = model_score(m, &fv);
	ck_assert(p > 0.5);
	ck_assert(z > 0);
	/* z lacks only the bias: log-odds minus z is one constant */
	{
		double bias = log(p / (1 - p)) - z;
		struct model_contrib t2[400];
		const char *kind = "thank you for your help";
		struct norm *n2 = norm_text(kind, strlen(kind), 0);
		size_t k2 = model_explain(m, n2, NULL, 0, 400, t2);
		double z2 = 0, p2;

		for (size_t i = 0; i < k2; i++) {
			z2 += t2[i].value;
			g_free(t2[i].text);
		}
		model_features(n2, NULL, 0, &fv);
		p2 = model_score(m, &fv);
		ck_assert(fabs(log(p2 / (1 - p2)) - z2 - bias) < 1e-3);
		norm_free(n2);
	}
	for (size_t i = 0; i < k; i++)
		g_free(top[i].text);
	model_fv_clear(&fv);
	norm_free(n);
	model_free(m);
	model_data_clear(&d);
}
END_TEST

/* fake_rules - model_rules run(): "idiot" scores 5.0, "moron" 2.0 */
static char **
fake_rules(void *ctx, const char *text, size_t len, double *score_r,
	   int *other_r)
{
	GPtrArray *v = g_ptr_array_new();

	(void)ctx;
	(void)len;
	*score_r = 0;
	*other_r = 0;
	if (strstr(text, "idiot") != NULL) {
		g_ptr_array_add(v, g_strdup("rule:IDIOT"));
		*score_r += 5.0;
	}
	if (strstr(text, "moron") != NULL) {
		g_ptr_array_add(v, g_strdup("rule:MORON"));
		*score_r += 2.0;
	}
	g_ptr_array_add(v, NULL);
	return (char **)g_ptr_array_free(v, FALSE);
}

START_TEST(test_cv_both)
{
	struct model_rules rules = {fake_rules, NULL, NULL, 0};
	struct model_combine cb = {10.0, 0, 5.0, 3, 0};
	struct eval_score r[3], mo[3], b[3], r2[3], mo2[3], b2[3];
	struct model_data d = {0};
	struct model_train_opts o;
	char *path = model_path("tiny.tsv"), *err = NULL;
	double thr[2], thr2[2];
	size_t idiots = 0;

	model_train_defaults(&o);
	o.rules = &rules;
	ck_assert_msg(
	    model_read_tsv_rules(path, "abusive", NULL, &rules, &d, &err) == 0,
	    "%s", err);
	ck_assert_ptr_nonnull(d.rule_score);
	for (size_t i = 0; i < d.n; i++)
		idiots += d.rule_score[i] >= 5.0;
	/* the rule features are in the vectors */
	ck_assert(fv_has(&d.xs[0], model_feature_hash('x', "rule:IDIOT", 10)));
	ck_assert_int_eq(model_cv_both(&d, 2, 1, &o, &cb, r, mo, b, thr, &err),
			 0);
	/* rules only: exactly the rows with "idiot", all abusive */
	ck_assert_uint_eq(r[2].tp, idiots);
	ck_assert_uint_eq(r[2].fp, 0);
	ck_assert_uint_eq(r[2].tp + r[2].fp + r[2].fn + r[2].tn, d.n);
	for (int f = 0; f < 2; f++)
		ck_assert(thr[f] >= 0.05 && thr[f] <= 0.95);
	/* both finds at least what the rules find */
	ck_assert_uint_ge(b[2].tp, r[2].tp);
	ck_assert(b[2].f1 > 0.8);
	/* deterministic */
	ck_assert_int_eq(
	    model_cv_both(&d, 2, 1, &o, &cb, r2, mo2, b2, thr2, &err), 0);
	ck_assert(memcmp(b, b2, sizeof(b)) == 0);
	ck_assert(memcmp(thr, thr2, sizeof(thr)) == 0);
	/* a fixed model threshold is used as given */
	cb.threshold = 0.7;
	ck_assert_int_eq(model_cv_both(&d, 2, 1, &o, &cb, r, mo, b, thr, &err),
			 0);
	ck_assert(thr[0] == 0.7 && thr[1] == 0.7);
	ck_assert_int_eq(model_cv_both(&d, 1, 1, &o, &cb, r, mo, b, thr, &err),
			 -1);
	g_free(err);
	g_free(path);
	model_data_clear(&d);
}
END_TEST

static Suite *
model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hash_stable);
	tcase_add_test(tc, test_features);
	tcase_add_test(tc, test_features_reference);
	tcase_add_test(tc, test_train_predict);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_generate);
	tcase_add_test(tc, test_explain);
	tcase_add_test(tc, test_cv_both);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(model_suite)
