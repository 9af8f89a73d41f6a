/*
 * fuzz.h - what the fuzz targets share: the libFuzzer entry point and the
 * checks of documented contracts
 *
 * Each fuzz-*.c defines LLVMFuzzerTestOneInput().  Built with clang
 * -fsanitize=fuzzer it is driven by libFuzzer (run.sh); otherwise replay.c
 * supplies main() and feeds it every saved corpus file (replay.sh, make
 * check).  A broken contract calls fuzz_fail(), which aborts so libFuzzer
 * saves the input and replay exits non-zero.
 */
#ifndef TRIAGE_FUZZ_H
#define TRIAGE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_fail - a contract was broken: say which, then abort */
#define fuzz_fail(...)                                                         \
	do {                                                                   \
		fprintf(stderr, "%s:%d: contract broken: ", __FILE__,          \
			__LINE__);                                             \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		abort();                                                       \
	} while (0)

/* fuzz_check - fuzz_fail() unless cond holds */
#define fuzz_check(cond, what)                                                 \
	do {                                                                   \
		if (!(cond))                                                   \
			fuzz_fail("%s (%s)", what, #cond);                     \
	} while (0)

/*
 * fuzz_utf8_text - whether s[0..len) is valid UTF-8 holding no NUL and,
 * when no_cr, no CR: what message.h promises for the readable text.
 */
static inline int
fuzz_utf8_text(const char *s, size_t len, int no_cr)
{
	if (memchr(s, '\0', len) != NULL)
		return 0;
	if (no_cr && memchr(s, '\r', len) != NULL)
		return 0;
	return g_utf8_validate(s, (gssize)len, NULL);
}

#endif
