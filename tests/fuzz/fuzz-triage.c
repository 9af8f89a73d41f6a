/*
 * fuzz-triage.c - fuzz target: the whole engine, triage_run()
 *
 * The input is the message the MTA buffered; the envelope is fixed.  The
 * configuration is loaded once from a small file in a private directory:
 * the shipped rules (every rules/NAME.rules of the source tree: the
 * TRIAGE_FUZZ_SRCDIR environment variable, else FUZZ_SRCDIR given when
 * compiling, else ".") and a scan timeout far above libFuzzer's, so a slow
 * input shows up as a libFuzzer timeout instead of a quiet "timeout"
 * verdict.  As the milter does, at most max_scan_bytes are handed over,
 * with env.truncated set when the input was longer.
 *
 * Checked: the result is never NULL; the headers to add are X-Triage-*
 * with one-line printable ASCII values (anything else would let a sender
 * inject headers); deletions have 1-based indices; every hit lies inside
 * the analysed text and quotes it as UTF-8.
 */
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "triage.h"

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

/* Far above libFuzzer's -timeout, so libFuzzer is the one that fires. */
#define FUZZ_SCAN_TIMEOUT_MS 600000

static struct triage_config *fuzz_cf;

/* fuzz_load_config - the shipped rules, once per process */
static void
fuzz_load_config(void)
{
	const char *src = getenv("TRIAGE_FUZZ_SRCDIR");
	GError *gerr = NULL;
	char *dir, *path, *text, *error = NULL;
	char *abs;

	if (fuzz_cf != NULL)
		return;
	triage_init();
	if (src == NULL || *src == '\0')
		src = FUZZ_SRCDIR;
	abs = g_canonicalize_filename(src, NULL);
	dir = g_dir_make_tmp("triage-fuzz-triage-XXXXXX", &gerr);
	if (dir == NULL)
		fuzz_fail("cannot make a temp dir: %s", gerr->message);
	path = g_build_filename(dir, "triage-milter.conf", NULL);
	text = g_strdup_printf("rules = {\"%s/rules/*.rules\"}\n"
			       "scan_timeout_ms = %d\n",
			       abs, FUZZ_SCAN_TIMEOUT_MS);
	if (!g_file_set_contents(path, text, -1, &gerr))
		fuzz_fail("cannot write %s: %s", path, gerr->message);
	fuzz_cf = config_load(path, &error);
	if (fuzz_cf == NULL)
		fuzz_fail("cannot load the shipped rules: %s", error);
	if (fuzz_cf->rules == NULL)
		fuzz_fail("no rules under %s/rules: set TRIAGE_FUZZ_SRCDIR",
			  abs);
	unlink(path);
	rmdir(dir);
	g_free(text);
	g_free(path);
	g_free(dir);
	g_free(abs);
}

/* fuzz_header_value_ok - one line of printable ASCII */
static int
fuzz_header_value_ok(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return 0;
	return 1;
}

/* fuzz_check_result - the contracts of triage.h */
static void
fuzz_check_result(const struct triage_result *res)
{
	fuzz_check(res != NULL, "triage_run never returns NULL");
	fuzz_check(res->add_names.n == res->add_values.n,
		   "one value per added header");
	for (size_t i = 0; i < res->add_names.n; i++) {
		fuzz_check(g_ascii_strncasecmp(res->add_names.v[i], "X-Triage-",
					       9) == 0,
			   "only X-Triage-* headers are added");
		fuzz_check(fuzz_header_value_ok(res->add_values.v[i]),
			   "added header value is one line of printable ASCII");
	}
	for (size_t i = 0; i < res->n_del; i++)
		fuzz_check(res->del[i].index >= 1 && res->del[i].name != NULL,
			   "deletions name a header and a 1-based index");
	if (res->error != NULL) {
		fuzz_check(res->n_hits == 0 && res->add_names.n == 0,
			   "a failed run applies nothing");
		return;
	}
	for (size_t i = 0; i < res->n_hits; i++) {
		const struct triage_hit *h = &res->hits[i];

		fuzz_check(h->rule != NULL && h->category != NULL,
			   "hit names its rule and category");
		fuzz_check(h->start <= h->end, "hit span in order");
		fuzz_check(h->quote == NULL ||
			       g_utf8_validate(h->quote, -1, NULL),
			   "hit quote is UTF-8");
	}
	fuzz_check(res->subject == NULL ||
		       g_utf8_validate(res->subject, -1, NULL),
		   "subject is UTF-8");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rcpt[] = {"support@example.com"};
	struct triage_env env = {0};
	struct triage_result *res;

	fuzz_load_config();
	env.queue_id = "FUZZ";
	env.env_from = "customer@example.org";
	env.rcpt = rcpt;
	env.n_rcpt = G_N_ELEMENTS(rcpt);
	env.client_addr = "192.0.2.10";
	if (size > fuzz_cf->max_scan_bytes) {
		size = fuzz_cf->max_scan_bytes;
		env.truncated = 1;
	}
	res = triage_run(fuzz_cf, (const char *)data, size, &env);
	fuzz_check_result(res);
	triage_result_free(res);
	return 0;
}
