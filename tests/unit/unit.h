/*
 * unit.h - helpers shared by the Check unit tests
 *
 * Each test-<module>.c defines its cases and calls UNIT_MAIN with a suite
 * builder; the runner prints Check's summary line and exits non-zero on
 * any failure.
 */
#ifndef TRIAGE_UNIT_H
#define TRIAGE_UNIT_H

#include <stdlib.h>

#include <check.h>

#define UNIT_MAIN(suite_fn)                                                    \
	int main(void)                                                         \
	{                                                                      \
		SRunner *sr = srunner_create(suite_fn());                      \
		int failed;                                                    \
		srunner_run_all(sr, CK_NORMAL);                                \
		failed = srunner_ntests_failed(sr);                            \
		srunner_free(sr);                                              \
		return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;              \
	}

/* the source tree: make check's top_srcdir, else the one built from */
#define UNIT_FILE(name)                                                        \
	(getenv("top_srcdir") ? getenv("top_srcdir") : UNIT_SRCDIR)

#endif
