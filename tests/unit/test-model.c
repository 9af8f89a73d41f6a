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
	load_error("missing.model", ":0: ");
	/* a failed read leaves the output untouched */
	d.n = 7;
	ck_assert_int_eq(
	    model_read_tsv("/nonexistent.tsv", "abusive", &d, &err), -1);
	ck_assert_uint_eq(d.n, 7);
	g_free(err);
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
	tcase_add_test(tc, test_train_predict);
	tcase_add_test(tc, test_save_load);
	tcase_add_test(tc, test_file_errors);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(model_suite)
