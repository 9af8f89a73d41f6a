/*
 * test-msgbuf.c - the per-message buffer: limits, spill file, raw feed
 */
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "msgbuf.h"
#include "unit.h"

/* take - the kept bytes as a GString, for comparisons */
static GString *
take(struct msgbuf *b)
{
	size_t len;
	char *s = msgbuf_take(b, &len);
	GString *g = g_string_new_len(s, (gssize)len);

	ck_assert_uint_eq(strlen(s), len); /* NUL-terminated, no early NUL */
	g_free(s);
	return g;
}

/* a body of n bytes, a recognisable pattern */
static char *
pattern(size_t n)
{
	char *p = g_malloc(n);

	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + i / 26) % 26);
	return p;
}

START_TEST(test_headers_and_body)
{
	struct msgbuf_limits lim = {0};
	struct msgbuf *b = msgbuf_new(&lim);
	GString *g;

	msgbuf_header(b, "Subject", "hello", 0);
	msgbuf_header(b, "To", " a@b", 1);
	msgbuf_eoh(b);
	msgbuf_body(b, "body\r\n", 6);
	g = take(b);
	ck_assert_str_eq(g->str, "Subject: hello\r\nTo: a@b\r\n\r\nbody\r\n");
	ck_assert_int_eq(msgbuf_truncated(b), 0);
	ck_assert_ptr_null(msgbuf_error(b));
	g_string_free(g, TRUE);
	msgbuf_free(b);
}
END_TEST

START_TEST(test_max_bytes)
{
	struct msgbuf_limits lim = {.max_bytes = 100};
	struct msgbuf *b = msgbuf_new(&lim);
	char *p = pattern(300);
	GString *g;

	msgbuf_eoh(b);
	msgbuf_body(b, p, 60);
	ck_assert_int_eq(msgbuf_truncated(b), 0);
	msgbuf_body(b, p + 60, 240);
	g = take(b);
	ck_assert_uint_eq(g->len, 100);
	ck_assert_int_eq(memcmp(g->str + 2, p, 98), 0);
	ck_assert_int_eq(msgbuf_truncated(b), 1);
	g_string_free(g, TRUE);
	g_free(p);
	msgbuf_free(b);
}
END_TEST

/* spilled or not, the bytes that come back are the bytes that went in */
START_TEST(test_spill_round_trip)
{
	static const size_t chunks[] = {1, 7, 4096, 65536, 100000};
	char *dir = g_dir_make_tmp("test-msgbuf.XXXXXX", NULL);
	struct msgbuf_limits lim = {
	    .max_bytes = 1 << 20, .memory_bytes = 4096, .temp_dir = dir};
	size_t total = 300000;
	char *p = pattern(total);
	struct msgbuf *b = msgbuf_new(&lim);
	size_t off = 0;
	GString *g;

	for (size_t i = 0; off < total; i++) {
		size_t n = MIN(chunks[i % G_N_ELEMENTS(chunks)], total - off);

		msgbuf_body(b, p + off, n);
		off += n;
	}
	ck_assert_uint_eq(msgbuf_spilled(b), total - 4095);
	g = take(b);
	ck_assert_uint_eq(g->len, total);
	ck_assert_int_eq(memcmp(g->str, p, total), 0);
	ck_assert_int_eq(msgbuf_truncated(b), 0);
	ck_assert_ptr_null(msgbuf_error(b));
	/* the file had no name: the directory is empty */
	ck_assert_int_eq(rmdir(dir), 0);
	g_string_free(g, TRUE);
	g_free(p);
	g_free(dir);
	msgbuf_free(b);
}
END_TEST

/* a directory that cannot take the file: the memory part, truncated */
START_TEST(test_spill_error)
{
	struct msgbuf_limits lim = {.max_bytes = 1 << 20,
				    .memory_bytes = 4096,
				    .temp_dir = "/nonexistent/triage-dir"};
	char *p = pattern(10000);
	struct msgbuf *b = msgbuf_new(&lim);
	GString *g;

	msgbuf_body(b, p, 10000);
	msgbuf_body(b, p, 10000);
	ck_assert_ptr_nonnull(msgbuf_error(b));
	ck_assert_ptr_nonnull(strstr(msgbuf_error(b), "/nonexistent/"));
	g = take(b);
	ck_assert_uint_eq(g->len, 4095);
	ck_assert_int_eq(memcmp(g->str, p, 4095), 0);
	ck_assert_int_eq(msgbuf_truncated(b), 1);
	g_string_free(g, TRUE);
	g_free(p);
	msgbuf_free(b);
}
END_TEST

/* a write that fails half way (here the file size limit; a full disk
 * fails the same way): what was written comes back, the rest is cut */
START_TEST(test_spill_write_error)
{
	char *dir = g_dir_make_tmp("test-msgbuf.XXXXXX", NULL);
	struct msgbuf_limits lim = {
	    .max_bytes = 1 << 20, .memory_bytes = 4096, .temp_dir = dir};
	struct rlimit rl = {8192, 8192};
	char *p = pattern(30000);
	struct msgbuf *b;
	GString *g;

	/* Check forks each test: the limit stays in this process */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	b = msgbuf_new(&lim);
	msgbuf_body(b, p, 30000);
	msgbuf_body(b, p, 100); /* after the error: dropped */
	ck_assert_ptr_nonnull(msgbuf_error(b));
	ck_assert_ptr_nonnull(strstr(msgbuf_error(b), "cannot write"));
	g = take(b);
	ck_assert_uint_eq(g->len, 4095 + 8192);
	ck_assert_int_eq(memcmp(g->str, p, g->len), 0);
	ck_assert_int_eq(msgbuf_truncated(b), 1);
	ck_assert_int_eq(rmdir(dir), 0);
	g_string_free(g, TRUE);
	g_free(p);
	g_free(dir);
	msgbuf_free(b);
}
END_TEST

START_TEST(test_header_limits)
{
	struct msgbuf_limits lim = {.max_headers = 3, .max_header_bytes = 20};
	struct msgbuf *b = msgbuf_new(&lim);
	GString *g;

	msgbuf_header(b, "A", "1", 0);
	msgbuf_header(b, "B", "a value longer than twenty bytes", 0);
	ck_assert_int_eq(msgbuf_truncated(b), 1);
	msgbuf_header(b, "C", "3", 0);
	msgbuf_header(b, "D", "4", 0); /* the fourth: dropped */
	msgbuf_eoh(b);
	msgbuf_body(b, "x", 1);
	g = take(b);
	ck_assert_str_eq(g->str,
			 "A: 1\r\nB: a value longer th\r\nC: 3\r\n\r\nx");
	g_string_free(g, TRUE);
	msgbuf_free(b);
}
END_TEST

/* A cut at max_header_bytes never leaves an empty line (which would end
 * the header block early) nor a lone CR. */
static const struct {
	const char *value, *want;
	int truncated;
} fold_cuts[] = {
    /* the cut lands just after the fold's CRLF */
    {"0123456789ABCDE\r\n\tmore", "S: 0123456789ABCDE\r\nT: 1\r\n\r\nx", 1},
    /* ... after the CRLF and its blank */
    {"0123456789ABCD\r\n\tmore", "S: 0123456789ABCD\r\nT: 1\r\n\r\nx", 1},
    /* ... between its CR and LF */
    {"0123456789ABCDEF\r\n\tx", "S: 0123456789ABCDEF\r\nT: 1\r\n\r\nx", 1},
    /* the value fits, its line end does not: nothing is cut */
    {"0123456789ABCDEFG", "S: 0123456789ABCDEFG\r\nT: 1\r\n\r\nx", 0},
    {"0123456789ABCDEFGH", "S: 0123456789ABCDEFG\r\nT: 1\r\n\r\nx", 1},
};

START_TEST(test_fold_cut)
{
	struct msgbuf_limits lim = {.max_header_bytes = 20};
	struct msgbuf *b = msgbuf_new(&lim);
	GString *g;

	msgbuf_header(b, "S", fold_cuts[_i].value, 0);
	msgbuf_header(b, "T", "1", 0);
	msgbuf_eoh(b);
	msgbuf_body(b, "x", 1);
	g = take(b);
	ck_assert_str_eq(g->str, fold_cuts[_i].want);
	ck_assert_int_eq(msgbuf_truncated(b), fold_cuts[_i].truncated);
	g_string_free(g, TRUE);
	msgbuf_free(b);
}
END_TEST

/* The same on a raw message (-t, --eval DIR, --train DIR). */
START_TEST(test_fold_cut_raw)
{
	static const char raw[] = "B: 0123456789ABCDE\n"
				  "\tmore\n"
				  "C: 3\n"
				  "\n"
				  "body\n";
	struct msgbuf_limits lim = {.max_header_bytes = 20};
	struct msgbuf *b = msgbuf_new(&lim);
	GString *g;

	msgbuf_feed_raw(b, raw, strlen(raw));
	g = take(b);
	ck_assert_str_eq(g->str, "B: 0123456789ABCDE\r\nC: 3\n\nbody\n");
	ck_assert_int_eq(msgbuf_truncated(b), 1);
	g_string_free(g, TRUE);
	msgbuf_free(b);
}
END_TEST

/* a raw message goes through the same header limits as the MTA's fields */
START_TEST(test_feed_raw)
{
	static const char raw[] = "A: 1\n"
				  "B: folded\n"
				  "\tcontinued line\n"
				  "C: 3\n"
				  "D: 4\n"
				  "\n"
				  "A: not a header\n";
	struct msgbuf_limits lim = {.max_headers = 3};
	struct msgbuf *b = msgbuf_new(&lim);
	GString *g;

	msgbuf_feed_raw(b, raw, strlen(raw));
	g = take(b);
	ck_assert_str_eq(g->str, "A: 1\nB: folded\n\tcontinued line\nC: 3\n"
				 "\nA: not a header\n");
	ck_assert_int_eq(msgbuf_truncated(b), 1);
	g_string_free(g, TRUE);
	msgbuf_free(b);

	/* no limit: the message comes back byte for byte */
	lim.max_headers = 0;
	b = msgbuf_new(&lim);
	msgbuf_feed_raw(b, raw, strlen(raw));
	g = take(b);
	ck_assert_str_eq(g->str, raw);
	ck_assert_int_eq(msgbuf_truncated(b), 0);
	g_string_free(g, TRUE);
	msgbuf_free(b);
}
END_TEST

static Suite *
msgbuf_suite(void)
{
	Suite *s = suite_create("msgbuf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_headers_and_body);
	tcase_add_test(tc, test_max_bytes);
	tcase_add_test(tc, test_spill_round_trip);
	tcase_add_test(tc, test_spill_error);
	tcase_add_test(tc, test_spill_write_error);
	tcase_add_test(tc, test_header_limits);
	tcase_add_test(tc, test_feed_raw);
	tcase_add_loop_test(tc, test_fold_cut, 0, G_N_ELEMENTS(fold_cuts));
	tcase_add_test(tc, test_fold_cut_raw);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(msgbuf_suite)
