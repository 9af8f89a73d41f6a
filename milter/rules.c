/*
 * rules.c - parse rule files and compile them into a shared rule set
 *
 * Each file is parsed by libconfuse; validate callbacks only note the line
 * of every option, and the rules are compiled after the file is read, so
 * one place reports every problem as "file:line: message".  References
 * between rules are resolved once all files are read, so files may refer
 * to each other in any order.  Phrases are indexed by their first word
 * (exact words in one hash table, wildcard stems in another) so matching
 * costs a lookup or two per token whatever the number of rules.
 *
 * libconfuse 3.3 counts a line twice after a comment, so comments are
 * blanked out here (newlines kept) before the text reaches it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <confuse.h>
#include <glib.h>

#define RULES_INTERNAL
#include "cfgfile.h"
#include "rules.h"
#include "classify.h"
#include "normalize.h"

/* Parse state of the file being read in this thread (loads may run in
 * any thread: start, -n, reload). */
static __thread GString *rules_errbuf;
static __thread const char *rules_file;
static __thread cfg_t *rules_root;
static __thread GHashTable *rules_lines; /* "sec|opt" or "sec" -> line */
static __thread const char *rules_text;  /* the file, comments blanked */

/*
 * rules_element_line - the line of a list element, from the line
 * libconfuse was on when it passed it: it had read one token ahead, so
 * after the last element of a multi-line list that is the closing brace's
 * line; the element's own text on the line above says so.
 */
static int
rules_element_line(int line, const char *value)
{
	const char *p = rules_text;
	const char *start, *nl;
	char *quoted;
	int found;

	if (p == NULL || value == NULL || line < 2)
		return line;
	for (int l = 1; l < line - 1 && p != NULL; l++)
		p = (p = strchr(p, '\n')) != NULL ? p + 1 : NULL;
	if (p == NULL)
		return line;
	start = p;
	nl = strchr(start, '\n');
	quoted = g_strdup_printf("\"%s\"", value);
	found =
	    g_strstr_len(start, nl != NULL ? nl - start : -1, quoted) != NULL;
	g_free(quoted);
	return found ? line - 1 : line;
}

/* A reference to other rules, resolved after every file is read. */
struct rules_ref {
	unsigned rule;
	int field; /* RULES_REF_* */
	char **names;
	int line;
};

#define RULES_REF_NEAR 0
#define RULES_REF_ALL 1
#define RULES_REF_ANY 2
#define RULES_REF_NOT 3

static const char *const rules_ref_names[] = {"near", "all", "any", "not"};

struct rules_build {
	GArray *rules;   /* struct rules_rule */
	GArray *words;   /* struct rules_word */
	GArray *phrases; /* struct rules_phrase */
	GArray *refs;    /* struct rules_ref */
	GStringChunk *strings;
	GHashTable *by_name;
	char *error;
};

static void rules_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* rules_errfunc - collect libconfuse errors as "file:line: message" */
static void
rules_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char *msg = g_strdup_vprintf(fmt, ap);
	int line = cfg->line;

	if (rules_errbuf == NULL) {
		g_free(msg);
		return;
	}
	if (line <= 0 && rules_root != NULL)
		line = rules_root->line;
	if (rules_errbuf->len > 0)
		g_string_append_c(rules_errbuf, '\n');
	g_string_append_printf(rules_errbuf, "%s:%d: %s", rules_file, line,
			       msg);
	g_free(msg);
}

/* rules_note_line - validate callback: remember where an option was set */
static int
rules_note_line(cfg_t *cfg, cfg_opt_t *opt)
{
	char *key, *sec;

	/* "nan" and "inf" parse as numbers (strtod); no score can be one */
	if (opt->type == CFGT_FLOAT &&
	    !isfinite(cfg_opt_getnfloat(opt, cfg_opt_size(opt) - 1))) {
		cfg_error(cfg, "%s: must be a finite number", opt->name);
		return -1;
	}
	key = g_strdup_printf("%p|%s", (void *)cfg, opt->name);
	sec = g_strdup_printf("%p", (void *)cfg);
	/* and each element's own line, for an error about that element
	 * (rules_line_n() corrects it for libconfuse's look-ahead) */
	if (opt->type == CFGT_STR && cfg_opt_size(opt) > 0)
		g_hash_table_replace(rules_lines,
				     g_strdup_printf("%p|%s|%u", (void *)cfg,
						     opt->name,
						     cfg_opt_size(opt) - 1),
				     GINT_TO_POINTER(cfg->line));

	/* a list calls back once per element: keep its first line */
	if (!g_hash_table_contains(rules_lines, key))
		g_hash_table_insert(rules_lines, key,
				    GINT_TO_POINTER(cfg->line));
	else
		g_free(key);
	/* inside a section the root's line stays at "rule NAME {" */
	if (!g_hash_table_contains(rules_lines, sec))
		g_hash_table_insert(rules_lines, sec,
				    GINT_TO_POINTER(rules_root->line));
	else
		g_free(sec);
	return 0;
}

/* rules_line - line of an option of a section, else of the section */
static int
rules_line(cfg_t *sec, const char *opt)
{
	char *key = opt ? g_strdup_printf("%p|%s", (void *)sec, opt)
			: g_strdup_printf("%p", (void *)sec);
	gpointer v = g_hash_table_lookup(rules_lines, key);

	g_free(key);
	if (v != NULL)
		return GPOINTER_TO_INT(v);
	if (opt != NULL)
		return rules_line(sec, NULL);
	return sec->line;
}

/* rules_line_n - line of element i of a list option, else of the list;
 * called for an error only, so the text is searched only then */
static int
rules_line_n(cfg_t *sec, const char *opt, unsigned i)
{
	char *key = g_strdup_printf("%p|%s|%u", (void *)sec, opt, i);
	gpointer v = g_hash_table_lookup(rules_lines, key);

	g_free(key);
	return v != NULL ? rules_element_line(GPOINTER_TO_INT(v),
					      cfg_getnstr(sec, opt, i))
			 : rules_line(sec, opt);
}

static int rules_fail(struct rules_build *b, const char *file, int line,
		      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* rules_fail - set the build error (the first one wins) */
static int
rules_fail(struct rules_build *b, const char *file, int line, const char *fmt,
	   ...)
{
	va_list ap;
	char *msg;

	if (b->error != NULL)
		return -1;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	b->error = g_strdup_printf("%s:%d: %s", file, line, msg);
	g_free(msg);
	return -1;
}

/* rules_name_ok - [A-Z][A-Z0-9_]*, optionally after "__" */
static int
rules_name_ok(const char *s)
{
	if (s[0] == '_' && s[1] == '_')
		s += 2;
	if (!g_ascii_isupper(*s))
		return 0;
	for (s++; *s; s++)
		if (!g_ascii_isupper(*s) && !g_ascii_isdigit(*s) && *s != '_')
			return 0;
	return 1;
}

/* rules_push_word - append one normalized word of a phrase */
static void
rules_push_word(struct rules_build *b, const char *text, int prefix,
		unsigned gmin, unsigned gmax)
{
	struct rules_word w;

	w.text = g_string_chunk_insert_const(b->strings, text);
	w.len = strlen(text);
	w.chars = g_utf8_strlen(text, -1);
	w.prefix = prefix;
	w.gap_min = gmin;
	w.gap_max = gmax;
	g_array_append_val(b->words, w);
}

/* rules_parse_gap - "{m,n}" or "{n}"; 0 if good */
static int
rules_parse_gap(const char *s, unsigned *min_r, unsigned *max_r)
{
	unsigned m, n;
	char end;

	if (sscanf(s, "{%u,%u%c", &m, &n, &end) == 3 && end == '}' &&
	    s[strlen(s) - 1] == '}' && strchr(s, '}') == s + strlen(s) - 1) {
		/* m and n read */
	} else if (sscanf(s, "{%u%c", &m, &end) == 2 && end == '}' &&
		   strchr(s, '}') == s + strlen(s) - 1) {
		n = m;
	} else {
		return -1;
	}
	if (m > n || n > RULES_MAX_GAP)
		return -1;
	*min_r = m;
	*max_r = n;
	return 0;
}

/* rules_add_phrase - compile one phrase of a rule; message on error */
static char *
rules_add_phrase(struct rules_build *b, unsigned rule, const char *text)
{
	char **el = g_strsplit_set(text, " \t\r\n", -1);
	struct rules_phrase ph;
	unsigned gmin = 0, gmax = 0, nwords = 0;
	int have_gap = 0;
	char *err = NULL;

	ph.rule = rule;
	ph.word = b->words->len;
	for (char **e = el; *e != NULL && err == NULL; e++) {
		char *stem, *norm, **parts;
		size_t len = strlen(*e);
		int prefix;

		if (len == 0)
			continue;
		if (**e == '{') {
			if (nwords == 0 || have_gap)
				err = g_strdup_printf(
				    "phrase \"%s\": a gap must stand "
				    "between two words",
				    text);
			else if (rules_parse_gap(*e, &gmin, &gmax) < 0)
				err = g_strdup_printf(
				    "phrase \"%s\": bad gap \"%s\": "
				    "expected {m,n} with m <= n <= %d",
				    text, *e, RULES_MAX_GAP);
			have_gap = 1;
			continue;
		}
		prefix = (*e)[len - 1] == '*';
		stem = g_strndup(*e, len - prefix);
		if (strchr(stem, '*') != NULL) {
			err = g_strdup_printf("phrase \"%s\": \"*\" may only "
					      "end a word",
					      text);
			g_free(stem);
			break;
		}
		norm = norm_word(stem);
		g_free(stem);
		parts = g_strsplit(norm ? norm : "", " ", -1);
		g_free(norm);
		if (parts[0] == NULL || parts[0][0] == '\0') {
			err = g_strdup_printf("phrase \"%s\": word \"%s\" has "
					      "nothing to match",
					      text, *e);
		}
		for (char **p = parts; err == NULL && *p != NULL; p++) {
			int last = p[1] == NULL;

			if (**p == '\0')
				continue;
			if (last && prefix &&
			    (g_utf8_strlen(*p, -1) < RULES_MIN_STEM ||
			     strlen(*p) > RULES_MAX_STEM_BYTES)) {
				err = g_strdup_printf(
				    "phrase \"%s\": stem of \"%s\" must "
				    "have %d to %d bytes",
				    text, *e, RULES_MIN_STEM,
				    RULES_MAX_STEM_BYTES);
				break;
			}
			if (++nwords > RULES_MAX_PHRASE_WORDS) {
				err = g_strdup_printf("phrase \"%s\": more "
						      "than %d words",
						      text,
						      RULES_MAX_PHRASE_WORDS);
				break;
			}
			rules_push_word(b, *p, last && prefix, gmin, gmax);
			gmin = gmax = 0;
			have_gap = 0;
		}
		g_strfreev(parts);
	}
	g_strfreev(el);
	if (err == NULL && nwords == 0)
		err = g_strdup_printf("phrase \"%s\": no words", text);
	if (err == NULL && have_gap)
		err = g_strdup_printf("phrase \"%s\": a gap must stand "
				      "between two words",
				      text);
	if (err != NULL) {
		g_array_set_size(b->words, ph.word);
		return err;
	}
	ph.n = nwords;
	g_array_append_val(b->phrases, ph);
	return NULL;
}

/* rules_add_lexicon - compile every line of a word-list file */
static int
rules_add_lexicon(struct rules_build *b, unsigned rule, const char *file,
		  int line, const char *name)
{
	char *dir = g_path_get_dirname(file);
	char *path = g_path_is_absolute(name)
			 ? g_strdup(name)
			 : g_build_filename(dir, name, NULL);
	char *text = NULL, **lines;
	const gchar *bad;
	GError *gerr = NULL;
	gsize len;
	int rc = 0;

	g_free(dir);
	if (!g_file_get_contents(path, &text, &len, &gerr)) {
		rules_fail(b, file, line, "lexicon \"%s\": %s", name,
			   gerr->message);
		g_error_free(gerr);
		g_free(path);
		return -1;
	}
	/* the lexicon's own line; a NUL byte would end the list early */
	if (!g_utf8_validate(text, (gssize)len, &bad)) {
		rules_fail(b, path, (int)cfgfile_line_of(text, bad - text),
			   "%s", *bad == '\0' ? "NUL byte" : "not UTF-8");
		g_free(text);
		g_free(path);
		return -1;
	}
	lines = g_strsplit(text, "\n", -1);
	g_free(text);
	for (size_t i = 0; lines[i] != NULL && rc == 0; i++) {
		char *hash = strchr(lines[i], '#');
		char *err;

		if (hash != NULL)
			*hash = '\0';
		g_strstrip(lines[i]);
		if (lines[i][0] == '\0')
			continue;
		err = rules_add_phrase(b, rule, lines[i]);
		if (err != NULL) {
			rc = rules_fail(b, path, (int)i + 1, "%s", err);
			g_free(err);
		}
	}
	g_strfreev(lines);
	g_free(path);
	return rc;
}

/* rules_strv - copy a libconfuse list option into a NULL-ended vector */
static char **
rules_strv(cfg_t *sec, const char *opt)
{
	unsigned n = cfg_size(sec, opt);
	char **v = g_new0(char *, n + 1);

	for (unsigned i = 0; i < n; i++)
		v[i] = g_strdup(cfg_getnstr(sec, opt, i));
	return v;
}

/* rules_add_ref - remember a reference list for the final resolution */
static void
rules_add_ref(struct rules_build *b, unsigned rule, int field, cfg_t *sec,
	      const char *opt)
{
	struct rules_ref ref;

	ref.rule = rule;
	ref.field = field;
	ref.names = rules_strv(sec, opt);
	ref.line = rules_line(sec, opt);
	g_array_append_val(b->refs, ref);
}

/* rules_compile_regex - compile and JIT one regex; message on error */
static pcre2_code *
rules_compile_regex(const char *pat, char **error_r)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int code;
	pcre2_code *re;

	re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
			   PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &code, &off,
			   NULL);
	if (re == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		*error_r = g_strdup_printf("regex \"%s\": %s at offset %zu",
					   pat, (const char *)msg, (size_t)off);
		return NULL;
	}
	/* without JIT (unsupported CPU) the interpreter still works */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/* Regex syntax that ends a run of literal characters. */
#define RULES_REGEX_META "\\^$.|?*+()[]{}#"

/* rules_regex_class_end - index of the ']' closing the class opened at
 * pat[i], or 0 */
static size_t
rules_regex_class_end(const char *pat, size_t i)
{
	i++;
	if (pat[i] == '^')
		i++;
	if (pat[i] == ']') /* first in the class: a literal ']' */
		i++;
	for (; pat[i] != '\0'; i++) {
		if (pat[i] == '\\' && pat[i + 1] != '\0')
			i++;
		else if (pat[i] == '[' && pat[i + 1] == ':')
			return 0; /* POSIX classes: not worth reading */
		else if (pat[i] == ']')
			return i;
	}
	return 0;
}

/* rules_regex_group_end - index of the ')' closing the group opened at
 * pat[i], or 0 when the pattern is too unusual to tell */
static size_t
rules_regex_group_end(const char *pat, size_t i)
{
	int depth = 0;

	for (; pat[i] != '\0'; i++) {
		if (pat[i] == '\\') {
			if (pat[++i] == '\0')
				return 0;
		} else if (pat[i] == '[') {
			return 0; /* classes may hold ')' and '|': give up */
		} else if (pat[i] == '(') {
			depth++;
		} else if (pat[i] == ')' && --depth == 0) {
			return i;
		}
	}
	return 0;
}

/*
 * rules_regex_lead - the literal words every match of pat begins with
 *
 * Recognises "[\b](alt|alt|...)rest" where each alternative begins with
 * literal characters (the first a letter or digit) and rest has no '|'
 * outside parentheses, so a match must start with one of those literals
 * (a character made optional by a quantifier is left out: "attorneys?"
 * gives "attorney").  Any other shape returns NULL and the regex is run
 * as it is.  The literals are lower case: rules compile caseless.
 */
static char **
rules_regex_lead(const char *pat, int *lead_b_r)
{
	GPtrArray *lead;
	size_t open, close, i;
	int depth = 0;

	/* quoting and extended syntax hide what the scan below looks for */
	if (strstr(pat, "\\Q") != NULL || strstr(pat, "(*") != NULL)
		return NULL;
	/* inline options ((?x), (?i) ...) too; groups and lookarounds are
	 * fine */
	for (const char *q = strstr(pat, "(?"); q != NULL;
	     q = strstr(q + 2, "(?"))
		if (q[2] == '\0' || strchr(":!=<", q[2]) == NULL)
			return NULL;
	*lead_b_r = strncmp(pat, "\\b", 2) == 0;
	open = *lead_b_r ? 2 : 0;
	if (pat[open] != '(')
		return NULL;
	close = rules_regex_group_end(pat, open);
	if (close == 0 ||
	    (pat[close + 1] != '\0' && strchr("?*+{", pat[close + 1]) != NULL))
		return NULL;
	/* an alternative of the whole pattern could start anywhere */
	for (i = close + 1; pat[i] != '\0'; i++) {
		if (pat[i] == '\\' && pat[i + 1] != '\0')
			i++;
		else if (pat[i] == '[' &&
			 (i = rules_regex_class_end(pat, i)) == 0)
			return NULL;
		else if (pat[i] == '(')
			depth++;
		else if (pat[i] == ')')
			depth--;
		else if (pat[i] == '|' && depth <= 0)
			return NULL;
	}
	i = open + 1;
	if (pat[i] == '?') {
		if (strncmp(pat + i, "?:", 2) != 0)
			return NULL; /* lookarounds, options, named groups */
		i += 2;
	}
	lead = g_ptr_array_new_with_free_func(g_free);
	while (i < close) {
		size_t a = i, e;

		/* one alternative: [a, next top-level '|' or close) */
		for (depth = 0; i < close; i++) {
			if (pat[i] == '\\')
				i++;
			else if (pat[i] == '(')
				depth++;
			else if (pat[i] == ')')
				depth--;
			else if (pat[i] == '|' && depth == 0)
				break;
		}
		for (e = a; e < i && (unsigned char)pat[e] < 0x80 &&
			    strchr(RULES_REGEX_META, pat[e]) == NULL;
		     e++)
			;
		/* "attorneys?": the last letter may be absent */
		if (e < i && e > a && strchr("?*{", pat[e]) != NULL)
			e--;
		if (e == a || !g_ascii_isalnum(pat[a]) ||
		    (e < i && (unsigned char)pat[e] >= 0x80)) {
			g_ptr_array_free(lead, TRUE);
			return NULL;
		}
		g_ptr_array_add(lead,
				g_ascii_strdown(pat + a, (gssize)(e - a)));
		i++; /* past the '|' */
	}
	if (lead->len == 0) {
		g_ptr_array_free(lead, TRUE);
		return NULL;
	}
	g_ptr_array_add(lead, NULL);
	return (char **)g_ptr_array_free(lead, FALSE);
}

/* rules_compile_lead - the anchored twin of a regex with lead words */
static void
rules_compile_lead(struct rules_rule *r, const char *pat)
{
	PCRE2_SIZE off;
	int code;

	r->lead = rules_regex_lead(pat, &r->lead_b);
	if (r->lead == NULL)
		return;
	r->re_lead = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
				   PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS |
				       PCRE2_ANCHORED,
				   &code, &off, NULL);
	if (r->re_lead == NULL) {
		/* it compiled unanchored: never, but then run it so */
		g_strfreev(r->lead);
		r->lead = NULL;
		return;
	}
	(void)pcre2_jit_compile(r->re_lead, PCRE2_JIT_COMPLETE);
	r->lead_first = g_new0(unsigned char, 256);
	for (char **w = r->lead; *w != NULL; w++) {
		r->lead_first[(unsigned char)**w] = 1;
		r->lead_first[(unsigned char)g_ascii_toupper(**w)] = 1;
	}
}

/* The shout thresholds that count something: none can be below 0. */
static const char *const rules_shout_counts[] = {
    "shout_min_letters", "caps_words", "bang_runs", "question_runs"};

/* rules_shout_opts - read the shout thresholds; returns how many given */
static int
rules_shout_opts(cfg_t *sec, struct rules_rule *r)
{
	if (cfg_size(sec, "shout_ratio") > 0) {
		r->shout_set |= RULES_SHOUT_RATIO;
		r->shout_ratio = cfg_getfloat(sec, "shout_ratio");
	}
	if (cfg_size(sec, "shout_min_letters") > 0) {
		r->shout_set |= RULES_SHOUT_LETTERS;
		r->shout_letters = cfg_getint(sec, "shout_min_letters");
	}
	if (cfg_size(sec, "caps_words") > 0) {
		r->shout_set |= RULES_SHOUT_CAPS;
		r->shout_caps = cfg_getint(sec, "caps_words");
	}
	if (cfg_size(sec, "bang_runs") > 0) {
		r->shout_set |= RULES_SHOUT_BANG;
		r->shout_bang = cfg_getint(sec, "bang_runs");
	}
	if (cfg_size(sec, "question_runs") > 0) {
		r->shout_set |= RULES_SHOUT_QUESTION;
		r->shout_question = cfg_getint(sec, "question_runs");
	}
	return r->shout_set != 0;
}

/* rules_int_opt - an integer option in [min,max], else def */
static int
rules_int_opt(struct rules_build *b, cfg_t *sec, const char *opt, long min,
	      long max, long def, unsigned *value_r)
{
	long v;

	if (cfg_size(sec, opt) == 0) {
		*value_r = def;
		return 0;
	}
	v = cfg_getint(sec, opt);
	if (v < min || v > max)
		return rules_fail(b, rules_file, rules_line(sec, opt),
				  "%s = %ld: expected %ld to %ld", opt, v, min,
				  max);
	*value_r = v;
	return 0;
}

/* rules_add_rule - compile one "rule NAME { }" section */
static int
rules_add_rule(struct rules_build *b, cfg_t *sec)
{
	const char *name = cfg_title(sec);
	int line = rules_line(sec, NULL);
	struct rules_rule r;
	char *rname;
	unsigned idx = b->rules->len;
	int kinds = 0, positional;
	gpointer old;

	memset(&r, 0, sizeof(r));
	if (name == NULL || !rules_name_ok(name))
		return rules_fail(b, rules_file, line,
				  "rule name \"%s\": expected UPPER_SNAKE "
				  "([A-Z][A-Z0-9_]*, \"__\" allowed before)",
				  name ? name : "");
	old = g_hash_table_lookup(b->by_name, name);
	if (old != NULL) {
		const struct rules_rule *o = &g_array_index(
		    b->rules, struct rules_rule, GPOINTER_TO_UINT(old) - 1);

		return rules_fail(b, rules_file, line,
				  "duplicate rule %s (first at %s:%d)", name,
				  o->file, o->line);
	}
	r.name = rname = g_string_chunk_insert_const(b->strings, name);
	r.file = g_string_chunk_insert_const(b->strings, rules_file);
	r.line = line;
	r.reported = !g_str_has_prefix(name, "__");
	if (cfg_size(sec, "category") > 0 &&
	    cfg_getstr(sec, "category")[0] != '\0')
		r.category = g_string_chunk_insert_const(
		    b->strings, cfg_getstr(sec, "category"));
	else if (r.reported)
		return rules_fail(b, rules_file, line,
				  "rule %s: category is required", name);
	else
		r.category = g_string_chunk_insert_const(b->strings, "");
	r.score = cfg_size(sec, "score") > 0 ? cfg_getfloat(sec, "score") : 1.0;
	r.describe = g_string_chunk_insert_const(
	    b->strings,
	    cfg_size(sec, "describe") > 0 ? cfg_getstr(sec, "describe") : name);

	if (cfg_size(sec, "phrases") > 0 || cfg_size(sec, "lexicon") > 0) {
		kinds++;
		r.kind = RULES_KIND_PHRASE;
	}
	if (cfg_size(sec, "regex") > 0) {
		kinds++;
		r.kind = cfg_size(sec, "header") > 0 ? RULES_KIND_HEADER
						     : RULES_KIND_REGEX;
	}
	if (cfg_size(sec, "near") > 0) {
		kinds++;
		r.kind = RULES_KIND_NEAR;
	}
	if (cfg_size(sec, "all") > 0 || cfg_size(sec, "any") > 0 ||
	    cfg_size(sec, "not") > 0) {
		kinds++;
		r.kind = RULES_KIND_META;
	}
	if (rules_shout_opts(sec, &r)) {
		kinds++;
		r.kind = RULES_KIND_SHOUT;
	}
	if (kinds == 0)
		return rules_fail(b, rules_file, line,
				  "rule %s: nothing to match: give phrases "
				  "and/or lexicon, regex, near, all/any/not "
				  "or shout thresholds",
				  name);
	if (kinds > 1)
		return rules_fail(b, rules_file, line,
				  "rule %s: more than one kind of matcher "
				  "(phrases/lexicon, regex, near, all/any/not, "
				  "shout thresholds)",
				  name);
	if (cfg_size(sec, "header") > 0 && r.kind != RULES_KIND_HEADER)
		return rules_fail(b, rules_file, rules_line(sec, "header"),
				  "rule %s: header needs regex", name);
	if (cfg_size(sec, "within") > 0 && r.kind != RULES_KIND_NEAR)
		return rules_fail(b, rules_file, rules_line(sec, "within"),
				  "rule %s: within needs near", name);
	positional = r.kind == RULES_KIND_PHRASE ||
		     r.kind == RULES_KIND_REGEX || r.kind == RULES_KIND_NEAR;
	if (cfg_size(sec, "negation") > 0 && !positional)
		return rules_fail(b, rules_file, rules_line(sec, "negation"),
				  "rule %s: negation applies only to phrases, "
				  "lexicon, regex on the text and near",
				  name);
	r.positional = positional;
	if (rules_int_opt(b, sec, "negation", 0, RULES_MAX_NEGATION,
			  positional ? RULES_DEF_NEGATION : 0,
			  &r.negation) < 0 ||
	    rules_int_opt(b, sec, "within", 0, RULES_MAX_WITHIN,
			  RULES_DEF_WITHIN, &r.within) < 0)
		return -1;
	if ((r.shout_set & RULES_SHOUT_RATIO) &&
	    (r.shout_ratio < 0 || r.shout_ratio > 1))
		return rules_fail(b, rules_file, rules_line(sec, "shout_ratio"),
				  "rule %s: shout_ratio must be 0 to 1", name);
	for (size_t i = 0; i < G_N_ELEMENTS(rules_shout_counts); i++)
		if (cfg_size(sec, rules_shout_counts[i]) > 0 &&
		    cfg_getint(sec, rules_shout_counts[i]) < 0)
			return rules_fail(
			    b, rules_file,
			    rules_line(sec, rules_shout_counts[i]),
			    "rule %s: %s must be 0 or more", name,
			    rules_shout_counts[i]);

	/* the index is final now: phrases and references may point at it */
	g_array_append_val(b->rules, r);
	g_hash_table_insert(b->by_name, rname, GUINT_TO_POINTER(idx + 1));

	switch (r.kind) {
	case RULES_KIND_PHRASE:
		for (unsigned i = 0; i < cfg_size(sec, "phrases"); i++) {
			char *err = rules_add_phrase(
			    b, idx, cfg_getnstr(sec, "phrases", i));

			if (err != NULL) {
				rules_fail(b, rules_file,
					   rules_line_n(sec, "phrases", i),
					   "%s", err);
				g_free(err);
				return -1;
			}
		}
		for (unsigned i = 0; i < cfg_size(sec, "lexicon"); i++)
			if (rules_add_lexicon(b, idx, rules_file,
					      rules_line_n(sec, "lexicon", i),
					      cfg_getnstr(sec, "lexicon", i)) <
			    0)
				return -1;
		break;
	case RULES_KIND_REGEX:
	case RULES_KIND_HEADER: {
		char *err = NULL;
		struct rules_rule *rp =
		    &g_array_index(b->rules, struct rules_rule, idx);

		rp->re = rules_compile_regex(cfg_getstr(sec, "regex"), &err);
		if (rp->re == NULL) {
			rules_fail(b, rules_file, rules_line(sec, "regex"),
				   "%s", err);
			g_free(err);
			return -1;
		}
		if (r.kind == RULES_KIND_HEADER)
			rp->header = g_string_chunk_insert_const(
			    b->strings, cfg_getstr(sec, "header"));
		else
			rules_compile_lead(rp, cfg_getstr(sec, "regex"));
		break;
	}
	case RULES_KIND_NEAR:
		if (cfg_size(sec, "near") != 2)
			return rules_fail(b, rules_file,
					  rules_line(sec, "near"),
					  "rule %s: near takes exactly two "
					  "rules",
					  name);
		rules_add_ref(b, idx, RULES_REF_NEAR, sec, "near");
		break;
	case RULES_KIND_META:
		if (cfg_size(sec, "all") > 0)
			rules_add_ref(b, idx, RULES_REF_ALL, sec, "all");
		if (cfg_size(sec, "any") > 0)
			rules_add_ref(b, idx, RULES_REF_ANY, sec, "any");
		if (cfg_size(sec, "not") > 0)
			rules_add_ref(b, idx, RULES_REF_NOT, sec, "not");
		break;
	case RULES_KIND_SHOUT:
		break;
	}
	{
		struct rules_rule *rp =
		    &g_array_index(b->rules, struct rules_rule, idx);

		rp->examples = rules_strv(sec, "examples");
		rp->examples_line = rules_line(sec, "examples");
		rp->counterexamples = rules_strv(sec, "counterexamples");
		rp->counterexamples_line = rules_line(sec, "counterexamples");
	}
	return 0;
}

/* rules_read_file - parse one rule file into the build */
static int
rules_read_file(struct rules_build *b, const char *path)
{
	static const char *const opts[] = {
	    "category",
	    "score",
	    "describe",
	    "phrases",
	    "lexicon",
	    "regex",
	    "header",
	    "near",
	    "within",
	    "all",
	    "any",
	    "not",
	    "negation",
	    "examples",
	    "counterexamples",
	    "shout_ratio",
	    "shout_min_letters",
	    "caps_words",
	    "bang_runs",
	    "question_runs",
	};
	cfg_opt_t rule_opts[] = {
	    CFG_STR("category", NULL, CFGF_NODEFAULT),
	    CFG_FLOAT("score", 1.0, CFGF_NODEFAULT),
	    CFG_STR("describe", NULL, CFGF_NODEFAULT),
	    CFG_STR_LIST("phrases", NULL, CFGF_NODEFAULT),
	    CFG_STR_LIST("lexicon", NULL, CFGF_NODEFAULT),
	    CFG_STR("regex", NULL, CFGF_NODEFAULT),
	    CFG_STR("header", NULL, CFGF_NODEFAULT),
	    CFG_STR_LIST("near", NULL, CFGF_NODEFAULT),
	    CFG_INT("within", RULES_DEF_WITHIN, CFGF_NODEFAULT),
	    CFG_STR_LIST("all", NULL, CFGF_NODEFAULT),
	    CFG_STR_LIST("any", NULL, CFGF_NODEFAULT),
	    CFG_STR_LIST("not", NULL, CFGF_NODEFAULT),
	    CFG_INT("negation", RULES_DEF_NEGATION, CFGF_NODEFAULT),
	    CFG_STR_LIST("examples", NULL, CFGF_NODEFAULT),
	    CFG_STR_LIST("counterexamples", NULL, CFGF_NODEFAULT),
	    CFG_FLOAT("shout_ratio", 0, CFGF_NODEFAULT),
	    CFG_INT("shout_min_letters", 0, CFGF_NODEFAULT),
	    CFG_INT("caps_words", 0, CFGF_NODEFAULT),
	    CFG_INT("bang_runs", 0, CFGF_NODEFAULT),
	    CFG_INT("question_runs", 0, CFGF_NODEFAULT),
	    CFG_END(),
	};
	cfg_opt_t top[] = {
	    CFG_SEC("rule", rule_opts,
		    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	    CFG_END(),
	};
	char *text;
	cfg_t *cfg;
	int rc;

	/* libconfuse 3.3 counts comment lines twice: see cfgfile.h */
	if ((text = cfgfile_read(path, &b->error)) == NULL)
		return -1;
	cfg = cfg_init(top, CFGF_NONE);
	cfg_set_error_function(cfg, rules_errfunc);
	for (size_t i = 0; i < G_N_ELEMENTS(opts); i++) {
		char *o = g_strconcat("rule|", opts[i], NULL);

		cfg_set_validate_func(cfg, o, rules_note_line);
		g_free(o);
	}
	rules_errbuf = g_string_new(NULL);
	rules_file = path;
	rules_text = text;
	rules_root = cfg;
	rules_lines =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	rc = cfg_parse_buf(cfg, text);
	if (rc != CFG_SUCCESS) {
		if (rules_errbuf->len == 0)
			g_string_printf(rules_errbuf, "%s: cannot parse", path);
		b->error = g_strdup(rules_errbuf->str);
	} else {
		for (unsigned i = 0; i < cfg_size(cfg, "rule"); i++)
			if (rules_add_rule(b, cfg_getnsec(cfg, "rule", i)) < 0)
				break;
	}
	g_hash_table_destroy(rules_lines);
	rules_lines = NULL;
	g_string_free(rules_errbuf, TRUE);
	rules_errbuf = NULL;
	rules_root = NULL;
	rules_file = NULL;
	rules_text = NULL;
	g_free(text);
	cfg_free(cfg);
	return b->error ? -1 : 0;
}

/* rules_resolve_list - names to rule indexes; error on unknown ones */
static int
rules_resolve_list(struct rules_build *b, const struct rules_ref *ref,
		   unsigned **out_r, unsigned *n_r)
{
	const struct rules_rule *r =
	    &g_array_index(b->rules, struct rules_rule, ref->rule);
	unsigned n = g_strv_length(ref->names);
	unsigned *v = g_new0(unsigned, n > 0 ? n : 1);

	for (unsigned i = 0; i < n; i++) {
		gpointer p = g_hash_table_lookup(b->by_name, ref->names[i]);

		if (p == NULL) {
			g_free(v);
			return rules_fail(b, r->file, ref->line,
					  "rule %s: %s: unknown rule \"%s\"",
					  r->name, rules_ref_names[ref->field],
					  ref->names[i]);
		}
		v[i] = GPOINTER_TO_UINT(p) - 1;
		if (v[i] == ref->rule) {
			g_free(v);
			return rules_fail(b, r->file, ref->line,
					  "rule %s: %s: refers to itself",
					  r->name, rules_ref_names[ref->field]);
		}
	}
	*out_r = v;
	*n_r = n;
	return 0;
}

/* rules_resolve - resolve every reference and check near's operands */
static int
rules_resolve(struct rules_build *b)
{
	for (unsigned i = 0; i < b->refs->len; i++) {
		const struct rules_ref *ref =
		    &g_array_index(b->refs, struct rules_ref, i);
		struct rules_rule *r =
		    &g_array_index(b->rules, struct rules_rule, ref->rule);
		unsigned *v = NULL, n = 0;

		if (rules_resolve_list(b, ref, &v, &n) < 0)
			return -1;
		switch (ref->field) {
		case RULES_REF_NEAR:
			for (unsigned k = 0; k < 2; k++) {
				struct rules_rule *o = &g_array_index(
				    b->rules, struct rules_rule, v[k]);

				if (!o->positional) {
					g_free(v);
					return rules_fail(
					    b, r->file, ref->line,
					    "rule %s: near: rule %s has no "
					    "word positions (use phrases, "
					    "lexicon, regex on the text or "
					    "near)",
					    r->name, o->name);
				}
				o->all_spans = 1;
				r->near[k] = v[k];
			}
			g_free(v);
			break;
		case RULES_REF_ALL:
			r->all = v;
			r->n_all = n;
			break;
		case RULES_REF_ANY:
			r->any = v;
			r->n_any = n;
			break;
		default:
			r->none = v;
			r->n_none = n;
			break;
		}
	}
	return 0;
}

/* rules_deps - the rules that rule r uses, as one vector */
static GArray *
rules_deps(const struct rules_rule *r)
{
	GArray *d = g_array_new(FALSE, FALSE, sizeof(unsigned));

	if (r->kind == RULES_KIND_NEAR)
		g_array_append_vals(d, r->near, 2);
	g_array_append_vals(d, r->all, r->n_all);
	g_array_append_vals(d, r->any, r->n_any);
	g_array_append_vals(d, r->none, r->n_none);
	return d;
}

/* rules_visit - depth-first topological sort; -1 on a cycle */
static int
rules_visit(struct rules_build *b, unsigned i, unsigned char *mark,
	    GArray *order)
{
	struct rules_rule *r = &g_array_index(b->rules, struct rules_rule, i);
	GArray *d;
	int rc = 0;

	if (mark[i] == 2)
		return 0;
	if (mark[i] == 1)
		return rules_fail(b, r->file, r->line,
				  "rule %s: reference cycle through "
				  "near/all/any/not",
				  r->name);
	mark[i] = 1;
	d = rules_deps(r);
	for (unsigned k = 0; k < d->len && rc == 0; k++)
		rc = rules_visit(b, g_array_index(d, unsigned, k), mark, order);
	g_array_free(d, TRUE);
	mark[i] = 2;
	if (rc == 0 && r->kind != RULES_KIND_PHRASE)
		g_array_append_val(order, i);
	return rc;
}

/* rules_hash - FNV-1a: short keys, no allocation, good enough spread */
unsigned
rules_hash(const char *s, size_t len)
{
	unsigned h = RULES_HASH_INIT;

	for (size_t i = 0; i < len; i++)
		h = rules_hash_step(h, (unsigned char)s[i]);
	return h;
}

/* rules_lookup - entry of key s (len bytes, hash h) or NULL */
const struct rules_hent *
rules_lookup(const struct rules_htab *t, const char *s, size_t len, unsigned h)
{
	if (t->ent == NULL)
		return NULL;
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		const struct rules_hent *e = &t->ent[i];

		if (e->key == NULL)
			return NULL;
		if (e->hash == h && e->len == len &&
		    memcmp(e->key, s, len) == 0)
			return e;
	}
}

/* rules_freeze - turn word -> phrase-id lists into an open hash table */
static void
rules_freeze(GHashTable *lists, struct rules_htab *t, GArray *post)
{
	GHashTableIter it;
	gpointer k, v;
	size_t size = 16;

	/* at most half full, so probes stay short */
	while (size < 2 * (size_t)g_hash_table_size(lists))
		size *= 2;
	t->ent = g_new0(struct rules_hent, size);
	t->mask = size - 1;
	g_hash_table_iter_init(&it, lists);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const char *key = k;
		GArray *ids = v;
		size_t len = strlen(key);
		unsigned h = rules_hash(key, len);
		size_t i = h & t->mask;

		while (t->ent[i].key != NULL)
			i = (i + 1) & t->mask;
		t->ent[i].key = key;
		t->ent[i].len = len;
		t->ent[i].hash = h;
		t->ent[i].chars = g_utf8_strlen(key, -1);
		t->ent[i].post = post->len;
		t->ent[i].npost = ids->len;
		g_array_append_vals(post, ids->data, ids->len);
	}
}

/* rules_list_add - add phrase id to the list of key */
static void
rules_list_add(GHashTable *lists, char *key, unsigned id)
{
	GArray *a = g_hash_table_lookup(lists, key);

	if (a == NULL) {
		a = g_array_new(FALSE, FALSE, sizeof(unsigned));
		g_hash_table_insert(lists, (gpointer)key, a);
	}
	g_array_append_val(a, id);
}

/* rules_index - build the first-word indexes and the category list */
static void
rules_index(struct rule_set *rs)
{
	GHashTable *exact = g_hash_table_new_full(
	    g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_array_unref);
	GHashTable *prefix = g_hash_table_new_full(
	    g_str_hash, g_str_equal, NULL, (GDestroyNotify)g_array_unref);
	GArray *post = g_array_new(FALSE, FALSE, sizeof(unsigned));
	GPtrArray *cats = g_ptr_array_new();

	for (unsigned i = 0; i < rs->nphrase; i++) {
		const struct rules_word *w = &rs->word[rs->phrase[i].word];

		if (w->prefix) {
			rules_list_add(prefix, w->text, i);
			rs->prefix_lens[rules_pair(w->text)] |= 1UL << w->len;
		} else {
			rules_list_add(exact, w->text, i);
		}
	}
	rules_freeze(exact, &rs->exact, post);
	rules_freeze(prefix, &rs->prefix, post);
	rs->post = (unsigned *)g_array_free(post, FALSE);
	g_hash_table_destroy(exact);
	g_hash_table_destroy(prefix);

	for (size_t i = 0; i < rs->n; i++) {
		char *c = rs->rule[i].category;
		guint k;

		if (*c != '\0' &&
		    !g_ptr_array_find_with_equal_func(cats, c, g_str_equal, &k))
			g_ptr_array_add(cats, c);
	}
	rs->ncategories = cats->len;
	rs->categories = g_new0(const char *, cats->len + 1);
	for (guint i = 0; i < cats->len; i++)
		rs->categories[i] = g_ptr_array_index(cats, i);
	g_ptr_array_free(cats, TRUE);
}

/* rules_rule_clear - what one rule owns (its strings are the chunk's) */
static void
rules_rule_clear(struct rules_rule *r)
{
	pcre2_code_free(r->re);
	pcre2_code_free(r->re_lead);
	g_strfreev(r->lead);
	g_free(r->lead_first);
	g_free(r->all);
	g_free(r->any);
	g_free(r->none);
	g_strfreev(r->examples);
	g_strfreev(r->counterexamples);
}

/* rules_build_free - release what a failed or finished build holds */
static void
rules_build_free(struct rules_build *b, int keep)
{
	for (unsigned i = 0; i < b->refs->len; i++)
		g_strfreev(g_array_index(b->refs, struct rules_ref, i).names);
	g_array_free(b->refs, TRUE);
	if (keep)
		return;
	for (unsigned i = 0; i < b->rules->len; i++)
		rules_rule_clear(
		    &g_array_index(b->rules, struct rules_rule, i));
	g_array_free(b->rules, TRUE);
	g_array_free(b->words, TRUE);
	g_array_free(b->phrases, TRUE);
	g_hash_table_destroy(b->by_name);
	g_string_chunk_free(b->strings);
}

/* rules_load - read rule files into a rule set; NULL and error_r if bad */
struct rule_set *
rules_load(char *const *files, size_t n, char **error_r)
{
	struct rules_build b;
	struct rule_set *rs;
	unsigned char *mark;
	GArray *order;
	int rc = 0;

	memset(&b, 0, sizeof(b));
	b.rules = g_array_new(FALSE, TRUE, sizeof(struct rules_rule));
	b.words = g_array_new(FALSE, TRUE, sizeof(struct rules_word));
	b.phrases = g_array_new(FALSE, TRUE, sizeof(struct rules_phrase));
	b.refs = g_array_new(FALSE, TRUE, sizeof(struct rules_ref));
	b.strings = g_string_chunk_new(4096);
	b.by_name = g_hash_table_new(g_str_hash, g_str_equal);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = rules_read_file(&b, files[i]);
	if (rc == 0)
		rc = rules_resolve(&b);
	order = g_array_new(FALSE, FALSE, sizeof(unsigned));
	mark = g_new0(unsigned char, b.rules->len + 1);
	for (unsigned i = 0; i < b.rules->len && rc == 0; i++)
		rc = rules_visit(&b, i, mark, order);
	g_free(mark);
	if (rc != 0) {
		*error_r = b.error;
		g_array_free(order, TRUE);
		rules_build_free(&b, 0);
		return NULL;
	}
	rs = g_new0(struct rule_set, 1);
	rs->n = b.rules->len;
	rs->rule = (struct rules_rule *)g_array_free(b.rules, FALSE);
	rs->nword = b.words->len;
	rs->word = (struct rules_word *)g_array_free(b.words, FALSE);
	rs->nphrase = b.phrases->len;
	rs->phrase = (struct rules_phrase *)g_array_free(b.phrases, FALSE);
	rs->norder = order->len;
	rs->order = (unsigned *)g_array_free(order, FALSE);
	rs->strings = b.strings;
	rs->by_name = b.by_name;
	rules_build_free(&b, 1);
	rules_index(rs);
	rs->mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(rs->mctx, RULES_REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(rs->mctx, RULES_REGEX_DEPTH_LIMIT);
	return rs;
}

/* rules_free - release a rule set; returns NULL */
struct rule_set *
rules_free(struct rule_set *rs)
{
	if (rs == NULL)
		return NULL;
	for (size_t i = 0; i < rs->n; i++)
		rules_rule_clear(&rs->rule[i]);
	g_free(rs->rule);
	g_free(rs->order);
	g_free(rs->word);
	g_free(rs->phrase);
	g_free(rs->post);
	g_free(rs->exact.ent);
	g_free(rs->prefix.ent);
	g_free(rs->categories);
	g_hash_table_destroy(rs->by_name);
	g_string_chunk_free(rs->strings);
	pcre2_match_context_free(rs->mctx);
	g_free(rs);
	return NULL;
}

int
rules_has(const struct rule_set *rs, const char *name)
{
	return g_hash_table_lookup(rs->by_name, name) != NULL;
}

/* rules_count - number of rules, "__" ones included */
size_t
rules_count(const struct rule_set *rs)
{
	return rs->n;
}

/* rules_categories - distinct categories in rule order; owned by rs */
size_t
rules_categories(const struct rule_set *rs, const char ***names_r)
{
	*names_r = rs->categories;
	return rs->ncategories;
}

int
rules_category_user(const struct rule_set *rs, const char *category,
		    const char **rule_r, const char **file_r, int *line_r)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->rule[i].category, category) == 0) {
			*rule_r = rs->rule[i].name;
			*file_r = rs->rule[i].file;
			*line_r = rs->rule[i].line;
			return 0;
		}
	*rule_r = *file_r = "?";
	*line_r = 0;
	return -1;
}

/* rules_check_examples - run every example; count and report failures */
unsigned
rules_check_examples(const struct rule_set *rs, GString *report)
{
	unsigned failed = 0;

	for (size_t i = 0; i < rs->n; i++) {
		const struct rules_rule *r = &rs->rule[i];

		for (char **e = r->examples; *e != NULL; e++) {
			if (classify_text_fires(rs, r->name, *e) == 1)
				continue;
			failed++;
			g_string_append_printf(report,
					       "%s:%d: %s: example \"%s\" did "
					       "not fire\n",
					       r->file, r->examples_line,
					       r->name, *e);
		}
		for (char **e = r->counterexamples; *e != NULL; e++) {
			if (classify_text_fires(rs, r->name, *e) == 0)
				continue;
			failed++;
			g_string_append_printf(report,
					       "%s:%d: %s: counterexample "
					       "\"%s\" fired\n",
					       r->file, r->counterexamples_line,
					       r->name, *e);
		}
	}
	return failed;
}

void
rules_set_regex_limits(struct rule_set *rs, uint32_t match_limit,
		       uint32_t depth_limit)
{
	pcre2_set_match_limit(rs->mctx, match_limit);
	pcre2_set_depth_limit(rs->mctx, depth_limit);
}
