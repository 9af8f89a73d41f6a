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
#include "verdict.h"

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

/* A labeled row: its labels, checked, and its text or file name. */
struct eval_row {
	size_t line;  /* in the TSV or labels file, from 1 */
	char *labels; /* "abusive,legal-threat", "" for none */
	char *item;   /* the TSV text (escaped) or the message's file name */
};

/* eval_row_free - GDestroyNotify for the row array */
static void
eval_row_free(gpointer p)
{
	struct eval_row *r = p;

	g_free(r->labels);
	g_free(r->item);
	g_free(r);
}

/* eval_flag_known - whether the verdict can set this flag */
static int
eval_flag_known(const struct triage_config *cf, const char *flag)
{
	for (size_t i = 0; i < cf->n_categories; i++)
		if (strcmp(cf->categories[i].flag, flag) == 0)
			return 1;
	return strcmp(flag, VERDICT_FLAG_LONG) == 0 ||
	       strcmp(flag, VERDICT_FLAG_FREQUENT) == 0 ||
	       strcmp(flag, VERDICT_FLAG_TRUNCATED) == 0;
}

/* eval_known_flags - the flags a label may name (the verdict can set) */
char **
eval_known_flags(const struct triage_config *cf)
{
	GPtrArray *a = g_ptr_array_new();

	for (size_t i = 0; i < cf->n_categories; i++)
		g_ptr_array_add(a, g_strdup(cf->categories[i].flag));
	g_ptr_array_add(a, g_strdup(VERDICT_FLAG_LONG));
	g_ptr_array_add(a, g_strdup(VERDICT_FLAG_FREQUENT));
	g_ptr_array_add(a, g_strdup(VERDICT_FLAG_TRUNCATED));
	g_ptr_array_add(a, NULL);
	return (char **)g_ptr_array_free(a, FALSE);
}

/* eval_flags_known - the flags a label may name, for error messages */
static char *
eval_flags_known(const struct triage_config *cf)
{
	char **v = eval_known_flags(cf);
	char *s = g_strjoinv(", ", v);

	g_strfreev(v);
	return s;
}

/*
 * eval_labels - a label field checked and in canonical form: classes
 * separated by commas, each one flag or flags joined by "|", lower case,
 * without blanks; "none" adds nothing.  NULL and *error_r when a label
 * names no flag the verdict can set: a typo would otherwise be a class
 * of its own that is never predicted, and "Abusive" would not count as
 * abusive.
 */
static char *
eval_labels(const struct triage_config *cf, const char *field, char **error_r)
{
	char **parts = g_strsplit(field, ",", -1);
	GString *out = g_string_new(NULL);
	int n = 0;

	for (char **p = parts; *p != NULL && *error_r == NULL; p++) {
		char *label = g_ascii_strdown(g_strstrip(*p), -1);
		char **alts = g_strsplit(label, "|", -1);
		GString *cls = g_string_new(NULL);

		if (strcmp(label, "none") == 0) {
			n++;
		} else if (*label == '\0') {
			*error_r = g_strdup("empty label (flag names separated "
					    "by commas, or none)");
		} else {
			for (char **a = alts; *a != NULL; a++) {
				g_strstrip(*a);
				if (!eval_flag_known(cf, *a)) {
					char *known = eval_flags_known(cf);

					*error_r = g_strdup_printf(
					    "unknown label \"%s\" (flags: %s; "
					    "or none)",
					    *a, known);
					g_free(known);
					break;
				}
				g_string_append_printf(cls, "%s%s",
						       cls->len ? "|" : "", *a);
			}
			g_string_append_printf(out, "%s%s", out->len ? "," : "",
					       cls->str);
			n++;
		}
		g_string_free(cls, TRUE);
		g_strfreev(alts);
		g_free(label);
	}
	g_strfreev(parts);
	if (*error_r == NULL && n == 0)
		*error_r = g_strdup("no label (flag names separated by commas, "
				    "or none)");
	if (*error_r != NULL) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* eval_bad_line - report a line that is not used, and count it */
static void
eval_bad_line(struct eval_state *st, const char *path, size_t line,
	      const char *why)
{
	fprintf(stderr, "%s:%zu: %s\n", path, line, why);
	st->errors++;
}

/*
 * eval_blank_nul_lines - report each line with a NUL byte and blank it:
 * split as a C string, the file would silently end at the first NUL
 */
static void
eval_blank_nul_lines(struct eval_state *st, const char *path, char *buf,
		     size_t len)
{
	char *nul, *end = buf + len;
	size_t line = 1;

	for (char *p = buf;
	     (nul = memchr(p, '\0', (size_t)(end - p))) != NULL;) {
		char *bol = nul, *eol = memchr(nul, '\n', (size_t)(end - nul));

		while (bol > p && bol[-1] != '\n')
			bol--;
		for (char *q = p; q < bol; q++)
			line += *q == '\n';
		eval_bad_line(st, path, line, "a NUL byte: not text");
		if (eol == NULL)
			eol = end;
		memset(bol, ' ', (size_t)(eol - bol));
		p = eol;
	}
}

/*
 * eval_read - the rows of a labeled TSV (LABELS<TAB>TEXT) or, with
 * dir_mode, of a labels file (FILE<TAB>LABELS), as struct eval_row;
 * NULL when the file cannot be read.  A UTF-8 byte-order mark, CR line
 * ends, blank lines, "#" comments and a TSV's "label" header row are
 * skipped; every other line either becomes a row or is reported as
 * FILE:LINE and counted as an error.
 */
static GPtrArray *
eval_read(const struct triage_config *cf, struct eval_state *st,
	  const char *path, int dir_mode)
{
	GError *gerr = NULL;
	GHashTable *seen;
	GPtrArray *rows;
	gchar *buf;
	gsize len;
	char **lines;
	int header_ok = !dir_mode;

	if (!g_file_get_contents(path, &buf, &len, &gerr)) {
		fprintf(stderr, "triage-milter: %s\n", gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	eval_blank_nul_lines(st, path, buf, len);
	lines = g_strsplit(buf, "\n", -1);
	g_free(buf);
	rows = g_ptr_array_new_with_free_func(eval_row_free);
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (size_t i = 0; lines[i] != NULL; i++) {
		char *l = lines[i], *tab, *field, *item, *labels, *why = NULL;
		struct eval_row *r;

		if (i == 0 && strncmp(l, "\xef\xbb\xbf", 3) == 0)
			l += 3;
		len = strlen(l);
		if (len > 0 && l[len - 1] == '\r')
			l[--len] = '\0';
		if (l[strspn(l, " \t")] == '\0' || l[0] == '#')
			continue;
		tab = strchr(l, '\t');
		if (tab == NULL || tab == l ||
		    (dir_mode && strchr(tab + 1, '\t') != NULL)) {
			eval_bad_line(st, path, i + 1,
				      dir_mode ? "expected FILE<TAB>LABELS"
					       : "expected LABELS<TAB>TEXT");
			continue;
		}
		*tab = '\0';
		field = dir_mode ? tab + 1 : l;
		item = dir_mode ? l : tab + 1;
		if (header_ok) {
			header_ok = 0;
			if (g_ascii_strcasecmp(g_strstrip(field), "label") == 0)
				continue;
		}
		if ((labels = eval_labels(cf, field, &why)) == NULL) {
			eval_bad_line(st, path, i + 1, why);
			g_free(why);
			continue;
		}
		if (dir_mode && g_hash_table_contains(seen, item)) {
			why = g_strdup_printf(
			    "%s is labeled again (first on line %zu)", item,
			    GPOINTER_TO_SIZE(g_hash_table_lookup(seen, item)));
			eval_bad_line(st, path, i + 1, why);
			g_free(why);
			g_free(labels);
			continue;
		}
		if (dir_mode)
			g_hash_table_insert(seen, item,
					    GSIZE_TO_POINTER(i + 1));
		r = g_new0(struct eval_row, 1);
		r->line = i + 1;
		r->labels = labels;
		r->item = g_strdup(item);
		g_ptr_array_add(rows, r);
	}
	g_hash_table_destroy(seen);
	g_strfreev(lines);
	return rows;
}

/*
 * eval_register - every class named in the labels, before counting, so
 * each class is measured on every row, not only from its first mention
 */
static void
eval_register(struct eval_state *st, const GPtrArray *rows)
{
	for (guint i = 0; i < rows->len; i++) {
		const struct eval_row *r = g_ptr_array_index(rows, i);
		char **labels = g_strsplit(r->labels, ",", -1);

		for (char **l = labels; *l; l++)
			(void)eval_class_get(st, *l);
		g_strfreev(labels);
	}
}

/* eval_tsv - rows of a labeled TSV file */
static int
eval_tsv(const struct triage_config *cf, struct eval_state *st,
	 const char *path)
{
	GPtrArray *rows = eval_read(cf, st, path, 0);

	if (rows == NULL)
		return -1;
	if (rows->len == 0) {
		fprintf(stderr, "triage-milter: %s: no labeled rows\n", path);
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	eval_register(st, rows);
	for (guint i = 0; i < rows->len; i++) {
		const struct eval_row *r = g_ptr_array_index(rows, i);
		char *text = eval_unescape(r->item);
		GString *m = eval_wrap(text, strlen(text));

		eval_one(cf, st, r->labels, m->str, m->len, text);
		g_string_free(m, TRUE);
		g_free(text);
	}
	g_ptr_array_free(rows, TRUE);
	return 0;
}

/* eval_dir - messages named in a labels file */
static int
eval_dir(const struct triage_config *cf, struct eval_state *st, const char *dir,
	 const char *labels)
{
	GPtrArray *rows = eval_read(cf, st, labels, 1);

	if (rows == NULL)
		return -1;
	if (rows->len == 0) {
		fprintf(stderr, "triage-milter: %s: no labeled messages\n",
			labels);
		g_ptr_array_free(rows, TRUE);
		return -1;
	}
	eval_register(st, rows);
	for (guint i = 0; i < rows->len; i++) {
		const struct eval_row *r = g_ptr_array_index(rows, i);
		char *file = g_build_filename(dir, r->item, NULL);
		GError *gerr = NULL;
		gchar *msg;
		gsize len;

		if (g_file_get_contents(file, &msg, &len, &gerr)) {
			eval_one(cf, st, r->labels, msg, len, r->item);
			g_free(msg);
		} else {
			eval_bad_line(st, labels, r->line, gerr->message);
			g_error_free(gerr);
		}
		g_free(file);
	}
	g_ptr_array_free(rows, TRUE);
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
	} else if (o->labels != NULL) {
		fprintf(stderr,
			"triage-milter: --labels goes with --eval DIR, and %s "
			"is not a directory\n",
			path);
		rc = -1;
	} else {
		rc = eval_tsv(cf, &st, path);
	}
	if (rc == 0)
		eval_report(&st, (g_get_monotonic_time() - start) / 1e6);
	g_ptr_array_free(st.classes, TRUE);
	return rc == 0 && st.errors == 0 ? 0 : 1;
}
