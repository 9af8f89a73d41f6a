/*
 * eval.c - precision, recall and F1 of the verdict on labeled data
 *
 * Rule authors measure a change here before it reaches mail.  The numbers
 * come from triage_run() itself, so what is measured is what runs.
 */
#include <string.h>

#include <glib.h>

#include "eval.h"
#include "offline.h"
#include "strvec.h"
#include "triage.h"

/* Rows longer than this are cut: a labeled "text" is not a mailbox. */
#define EVAL_MAX_TEXT (1024 * 1024)
/* Misclassified text shown with -v, in bytes. */
#define EVAL_SHOW 160

struct eval_class {
	char *name;  /* "abusive|profanity" */
	char **alts; /* its flags */
	struct eval_score score;
};

struct eval_state {
	GPtrArray *classes; /* struct eval_class * */
	unsigned long rows;
	unsigned long errors;
	const struct eval_opts *o;
};

/* eval_class_get - the class called name, created on first use */
static struct eval_class *
eval_class_get(struct eval_state *st, const char *name)
{
	struct eval_class *c;

	for (guint i = 0; i < st->classes->len; i++) {
		c = g_ptr_array_index(st->classes, i);
		if (strcmp(c->name, name) == 0)
			return c;
	}
	c = g_new0(struct eval_class, 1);
	c->name = g_strdup(name);
	c->alts = g_strsplit(name, "|", -1);
	g_ptr_array_add(st->classes, c);
	return c;
}

/* eval_class_free - GDestroyNotify for the class array */
static void
eval_class_free(gpointer p)
{
	struct eval_class *c = p;

	g_free(c->name);
	g_strfreev(c->alts);
	g_free(c);
}

/* eval_unescape - undo \n, \t, \\ and \r escapes of a TSV field */
static char *
eval_unescape(const char *s)
{
	GString *out = g_string_sized_new(strlen(s));

	for (; *s; s++) {
		if (*s != '\\' || s[1] == '\0') {
			g_string_append_c(out, *s);
			continue;
		}
		s++;
		switch (*s) {
		case 'n':
			g_string_append_c(out, '\n');
			break;
		case 't':
			g_string_append_c(out, '\t');
			break;
		case 'r':
			break;
		default:
			g_string_append_c(out, *s);
		}
	}
	return g_string_free(out, FALSE);
}

/* eval_wrap - a text as the body of a message */
static GString *
eval_wrap(const char *text, size_t len)
{
	GString *m = g_string_sized_new(len + 200);

	g_string_append(m, "From: eval@localhost\n"
			   "To: support@localhost\n"
			   "Subject: \n"
			   "MIME-Version: 1.0\n"
			   "Content-Type: text/plain; charset=utf-8\n"
			   "Content-Transfer-Encoding: 8bit\n\n");
	g_string_append_len(
	    m, text, (gssize)(len > EVAL_MAX_TEXT ? EVAL_MAX_TEXT : len));
	g_string_append_c(m, '\n');
	return m;
}

/* eval_predicted - whether the verdict has any flag of the class */
static int
eval_predicted(const struct eval_class *c, const struct triage_result *res)
{
	for (char **a = c->alts; *a; a++)
		if (strvec_contains(&res->flags, *a))
			return 1;
	return 0;
}

/* eval_one - classify one labeled message and count it */
static void
eval_one(const struct triage_config *cf, struct eval_state *st,
	 const char *labels, const char *msg, size_t len, const char *text)
{
	struct triage_env env = {0};
	struct triage_result *res;
	char **gold = g_strsplit(labels, ",", -1);

	env.queue_id = "eval";
	env.offline = 1;
	env.env_from = "eval@localhost";
	for (char **g = gold; *g; g++) {
		g_strstrip(*g);
		if (**g != '\0' && strcmp(*g, "none") != 0)
			(void)eval_class_get(st, *g);
	}
	res = offline_triage(cf, msg, len, &env);
	st->rows++;
	if (res->error != NULL)
		st->errors++;
	for (guint i = 0; i < st->classes->len; i++) {
		struct eval_class *c = g_ptr_array_index(st->classes, i);
		int want = g_strv_contains((const char *const *)gold, c->name);
		int got = eval_predicted(c, res);

		eval_score_add(&c->score, got, want);
		if (st->o->verbose && want != got) {
			char *show = g_strndup(text, EVAL_SHOW);

			for (char *p = show; *p; p++)
				if (*p == '\n' || *p == '\t')
					*p = ' ';
			fprintf(st->o->out, "# %s %s: %s\n", got ? "FP" : "FN",
				c->name, show);
			g_free(show);
		}
	}
	triage_result_free(res);
	g_strfreev(gold);
}

/*
 * eval_register - every class named in the labels, before counting, so
 * each class is measured on every row, not only from its first mention.
 * The labels are the first column (TSV) or the second (labels file).
 */
static void
eval_register(struct eval_state *st, char **lines)
{
	for (size_t i = 0; lines[i] != NULL; i++) {
		char *tab = strchr(lines[i], '\t');
		char *field, **labels;

		if (tab == NULL || lines[i][0] == '#')
			continue;
		if (st->o->labels != NULL) {
			char *end = strchr(tab + 1, '\t');

			field = g_strndup(tab + 1, end ? (gsize)(end - tab - 1)
						       : strlen(tab + 1));
		} else {
			field = g_strndup(lines[i], (gsize)(tab - lines[i]));
		}
		labels = g_strsplit(field, ",", -1);
		for (char **l = labels; *l; l++) {
			g_strstrip(*l);
			if (**l != '\0' && strcmp(*l, "none") != 0 &&
			    strcmp(*l, "label") != 0)
				(void)eval_class_get(st, *l);
		}
		g_strfreev(labels);
		g_free(field);
	}
}

/* eval_tsv - rows of a labeled TSV file */
static int
eval_tsv(const struct triage_config *cf, struct eval_state *st,
	 const char *path)
{
	GError *gerr = NULL;
	gchar *buf;
	gsize len;
	char **lines;

	if (!g_file_get_contents(path, &buf, &len, &gerr)) {
		fprintf(stderr, "triage-milter: %s\n", gerr->message);
		g_error_free(gerr);
		return -1;
	}
	lines = g_strsplit(buf, "\n", -1);
	g_free(buf);
	eval_register(st, lines);
	for (size_t i = 0; lines[i] != NULL; i++) {
		char *tab = strchr(lines[i], '\t'), *text;
		GString *m;

		if (tab == NULL)
			continue;
		*tab = '\0';
		if (i == 0 && strcmp(lines[i], "label") == 0)
			continue;
		text = eval_unescape(tab + 1);
		m = eval_wrap(text, strlen(text));
		eval_one(cf, st, lines[i], m->str, m->len, text);
		g_string_free(m, TRUE);
		g_free(text);
	}
	g_strfreev(lines);
	return 0;
}

/* eval_dir - messages named in a labels file */
static int
eval_dir(const struct triage_config *cf, struct eval_state *st, const char *dir,
	 const char *labels)
{
	GError *gerr = NULL;
	gchar *buf;
	char **lines;

	if (!g_file_get_contents(labels, &buf, NULL, &gerr)) {
		fprintf(stderr, "triage-milter: %s\n", gerr->message);
		g_error_free(gerr);
		return -1;
	}
	lines = g_strsplit(buf, "\n", -1);
	g_free(buf);
	eval_register(st, lines);
	for (size_t i = 0; lines[i] != NULL; i++) {
		char *tab = strchr(lines[i], '\t'), *file;
		gchar *msg;
		gsize len;

		if (tab == NULL || lines[i][0] == '#')
			continue;
		*tab = '\0';
		file = g_build_filename(dir, lines[i], NULL);
		if (g_file_get_contents(file, &msg, &len, NULL)) {
			eval_one(cf, st, tab + 1, msg, len, lines[i]);
			g_free(msg);
		} else {
			fprintf(stderr, "triage-milter: cannot read %s\n",
				file);
			st->errors++;
		}
		g_free(file);
	}
	g_strfreev(lines);
	return 0;
}

/* eval_ratio - a / b, 0 when b is 0 */
static double
eval_ratio(double a, double b)
{
	return b > 0 ? a / b : 0.0;
}

void
eval_score_add(struct eval_score *s, int got, int want)
{
	if (got && want)
		s->tp++;
	else if (got)
		s->fp++;
	else if (want)
		s->fn++;
	else
		s->tn++;
}

void
eval_score_finish(struct eval_score *s)
{
	double tp = (double)s->tp, fp = (double)s->fp, fn = (double)s->fn;
	double tn = (double)s->tn;

	s->precision = eval_ratio(tp, tp + fp);
	s->recall = eval_ratio(tp, tp + fn);
	s->f1 = eval_ratio(2 * tp, 2 * tp + fp + fn);
	s->f1_neg = eval_ratio(2 * tn, 2 * tn + fn + fp);
	s->macro_f1 = (s->f1 + s->f1_neg) / 2;
}

void
eval_score_header(FILE *out, int width)
{
	fprintf(out, "%-*s %6s %6s %6s %6s %9s %6s %6s %8s\n", width, "class",
		"tp", "fp", "fn", "tn", "precision", "recall", "f1",
		"macro-f1");
}

void
eval_score_row(FILE *out, int width, const char *name,
	       const struct eval_score *s)
{
	fprintf(out, "%-*s %6zu %6zu %6zu %6zu %9.3f %6.3f %6.3f %8.3f\n",
		width, name, s->tp, s->fp, s->fn, s->tn, s->precision,
		s->recall, s->f1, s->macro_f1);
}

/* eval_report - the table */
static void
eval_report(const struct eval_state *st, double secs)
{
	FILE *out = st->o->out;

	eval_score_header(out, 24);
	for (guint i = 0; i < st->classes->len; i++) {
		struct eval_class *c = g_ptr_array_index(st->classes, i);

		eval_score_finish(&c->score);
		eval_score_row(out, 24, c->name, &c->score);
	}
	fprintf(out, "messages %lu, errors %lu, %.0f messages/s\n", st->rows,
		st->errors, eval_ratio(st->rows, secs));
}

/* eval_run - measure; 0 when every row was processed */
int
eval_run(const struct triage_config *cf, const char *path,
	 const struct eval_opts *o)
{
	struct eval_state st = {0};
	gint64 start = g_get_monotonic_time();
	int rc;

	st.o = o;
	st.classes = g_ptr_array_new_with_free_func(eval_class_free);
	/* every flag a category can set, so false positives always show */
	for (size_t i = 0; i < cf->n_categories; i++)
		(void)eval_class_get(&st, cf->categories[i].flag);
	if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
		if (o->labels == NULL) {
			fprintf(stderr, "triage-milter: --eval on a directory "
					"needs --labels FILE\n");
			rc = -1;
		} else {
			rc = eval_dir(cf, &st, path, o->labels);
		}
	} else {
		rc = eval_tsv(cf, &st, path);
	}
	if (rc == 0)
		eval_report(&st, (g_get_monotonic_time() - start) / 1e6);
	g_ptr_array_free(st.classes, TRUE);
	return rc == 0 && st.errors == 0 ? 0 : 1;
}
