/*
 * replay.c - run saved fuzz inputs through a target without libFuzzer
 *
 * Linked with one fuzz-*.c when clang's -fsanitize=fuzzer is not used (gcc,
 * make check): main() hands every regular file of the directories (or the
 * files) named on the command line to LLVMFuzzerTestOneInput(), in sorted
 * order so a failure reproduces, and prints how many it ran.  A crash or a
 * broken contract aborts, so the exit status is non-zero; a path that
 * cannot be read is exit status 2; an empty run is not an error.
 *
 * Usage: replay-TARGET DIR-OR-FILE...
 */
#include <string.h>

#include "fuzz.h"

/* replay_file - one input; 0, or -1 when it cannot be read */
static int
replay_file(const char *path)
{
	GError *gerr = NULL;
	char *data;
	gsize len;

	if (!g_file_get_contents(path, &data, &len, &gerr)) {
		fprintf(stderr, "replay: %s\n", gerr->message);
		g_error_free(gerr);
		return -1;
	}
	/* an exact-size copy, so ASan sees reads past the end */
	{
		uint8_t *copy = g_malloc(len ? len : 1);

		memcpy(copy, data, len);
		g_free(data);
		(void)LLVMFuzzerTestOneInput(copy, len);
		g_free(copy);
	}
	return 0;
}

/* replay_cmp - qsort order for file names */
static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* replay_dir - every regular file of dir, sorted; counts in *n_r */
static int
replay_dir(const char *dir, size_t *n_r)
{
	GError *gerr = NULL;
	GDir *d = g_dir_open(dir, 0, &gerr);
	GPtrArray *paths;
	const char *name;
	int rc = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s\n", gerr->message);
		g_error_free(gerr);
		return -1;
	}
	paths = g_ptr_array_new_with_free_func(g_free);
	while ((name = g_dir_read_name(d)) != NULL) {
		char *p = g_build_filename(dir, name, NULL);

		if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
			g_ptr_array_add(paths, p);
		else
			g_free(p);
	}
	g_dir_close(d);
	qsort(paths->pdata, paths->len, sizeof(char *), replay_cmp);
	for (guint i = 0; i < paths->len; i++) {
		if (getenv("REPLAY_VERBOSE") != NULL)
			fprintf(stderr, "replay: %s\n",
				(char *)paths->pdata[i]);
		if (replay_file(paths->pdata[i]) != 0)
			rc = -1;
		else
			(*n_r)++;
	}
	g_ptr_array_free(paths, TRUE);
	return rc;
}

int
main(int argc, char **argv)
{
	size_t total = 0;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR-OR-FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		size_t n = 0;

		if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
			if (replay_dir(argv[i], &n) != 0)
				rc = 2;
		} else if (replay_file(argv[i]) == 0) {
			n = 1;
		} else {
			rc = 2;
		}
		printf("%s: %zu inputs replayed from %s\n", argv[0], n,
		       argv[i]);
		total += n;
	}
	printf("%s: %zu inputs in all\n", argv[0], total);
	return rc;
}
