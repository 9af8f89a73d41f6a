/*
 * fuzz-rules.c - fuzz target: the rule-file language and the config file
 *
 * rules_load() and config_load() read files, so the input is written to
 * files in a private directory made once per process (removed at exit):
 *
 *   t.rules		the input, loaded as a rule file together with
 *			fixed.rules (so cross-file references and
 *			duplicate names are reachable), then
 *			rules_check_examples() runs every example;
 *   triage-milter.conf	'rules = {"fixed.rules"}' then the input, through
 *			config_load(); the input may set rules itself
 *			("t.rules" names its own bytes as a rule file);
 *   lex.txt		a small lexicon a fuzzed rule may name.
 *
 * Checked: a failed load says why, as "path..." naming one of our files;
 * a successful one never leaves an error behind.  Rule and config files
 * are written by the administrator, so the interest is crashes, leaks and
 * hangs on malformed files, not hostile paths: inputs that name device or
 * proc files are skipped (reading /dev/zero is not a finding).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "rules.h"
#include "triage.h"

static const char fuzz_fixed_rules[] =
    "rule FIXED_LEGAL {\n"
    "\tcategory = \"legal\"\n"
    "\tscore = 5\n"
    "\tphrases = {\"see you in court\", \"sue* {0,3} company\"}\n"
    "\texamples = {\"I will see you in court\"}\n"
    "}\n"
    "rule __FIXED_WORD {\n"
    "\tlexicon = \"lex.txt\"\n"
    "}\n";

static const char fuzz_lexicon[] = "# fixture\nidiot*\nuseless {0,2} "
				   "people\n\nscam\n";

static char *fuzz_dir;
static char *fuzz_rules_path, *fuzz_fixed_path, *fuzz_conf_path;

/* fuzz_cleanup - remove the private directory (atexit) */
static void
fuzz_cleanup(void)
{
	const char *names[] = {"t.rules", "fixed.rules", "lex.txt",
			       "triage-milter.conf"};

	if (fuzz_dir == NULL)
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		char *p = g_build_filename(fuzz_dir, names[i], NULL);

		unlink(p);
		g_free(p);
	}
	rmdir(fuzz_dir);
}

/*
 * fuzz_write - put len bytes in path, or abort: the harness is broken.
 * Plain stdio: g_file_set_contents() fsyncs, which cost 95% of the time.
 */
static void
fuzz_write(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
		fuzz_fail("cannot write %s: %s", path, g_strerror(errno));
}

/* fuzz_setup - the private directory and its fixed files, once */
static void
fuzz_setup(void)
{
	GError *gerr = NULL;
	char *lex;

	if (fuzz_dir != NULL)
		return;
	triage_init();
	fuzz_dir = g_dir_make_tmp("triage-fuzz-rules-XXXXXX", &gerr);
	if (fuzz_dir == NULL)
		fuzz_fail("cannot make a temp dir: %s", gerr->message);
	atexit(fuzz_cleanup);
	fuzz_rules_path = g_build_filename(fuzz_dir, "t.rules", NULL);
	fuzz_fixed_path = g_build_filename(fuzz_dir, "fixed.rules", NULL);
	fuzz_conf_path = g_build_filename(fuzz_dir, "triage-milter.conf", NULL);
	lex = g_build_filename(fuzz_dir, "lex.txt", NULL);
	fuzz_write(fuzz_fixed_path, fuzz_fixed_rules, strlen(fuzz_fixed_rules));
	fuzz_write(lex, fuzz_lexicon, strlen(fuzz_lexicon));
	g_free(lex);
}

/* fuzz_names_special - whether the input names a device or proc file */
static int
fuzz_names_special(const uint8_t *data, size_t size)
{
	const char *bad[] = {"dev/", "proc/", "sys/", "/dev", "/proc", "/sys"};

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		if (memmem(data, size, bad[i], strlen(bad[i])) != NULL)
			return 1;
	return 0;
}

/* fuzz_check_error - a failure names one of our files; success is quiet */
static void
fuzz_check_error(const void *ok, const char *error)
{
	if (ok != NULL) {
		fuzz_check(error == NULL, "no error after a successful load");
		return;
	}
	fuzz_check(error != NULL, "a failed load says why");
	fuzz_check(strncmp(error, fuzz_dir, strlen(fuzz_dir)) == 0,
		   "error starts with the file it is about");
}

/* fuzz_rules - the input as a rule file, next to fixed.rules */
static void
fuzz_rules(void)
{
	char *files[] = {fuzz_rules_path, fuzz_fixed_path};
	struct rule_set *rs;
	char *error = NULL;

	rs = rules_load(files, G_N_ELEMENTS(files), &error);
	fuzz_check_error(rs, error);
	g_free(error);
	if (rs != NULL) {
		GString *report = g_string_new(NULL);
		const char **names = NULL;
		size_t n = rules_categories(rs, &names);

		for (size_t i = 0; i < n; i++)
			fuzz_check(names[i] != NULL, "category name present");
		fuzz_check(rules_count(rs) >= 2, "both files' rules counted");
		(void)rules_check_examples(rs, report);
		g_string_free(report, TRUE);
		rules_free(rs);
	}
}

/* fuzz_config - the input as a config file */
static void
fuzz_config(const uint8_t *data, size_t size)
{
	static const char head[] = "rules = {\"fixed.rules\"}\n";
	struct triage_config *cf;
	char *error = NULL;
	GString *text = g_string_sized_new(sizeof(head) + size);

	g_string_append(text, head);
	g_string_append_len(text, (const char *)data, (gssize)size);
	fuzz_write(fuzz_conf_path, text->str, text->len);
	g_string_free(text, TRUE);
	cf = config_load(fuzz_conf_path, &error);
	fuzz_check_error(cf, error);
	g_free(error);
	config_unref(cf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_setup();
	if (fuzz_names_special(data, size))
		return 0;
	fuzz_write(fuzz_rules_path, (const char *)data, size);
	fuzz_rules();
	fuzz_config(data, size);
	return 0;
}
