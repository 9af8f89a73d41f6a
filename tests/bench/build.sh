#!/bin/bash
#
# tests/bench/build.sh - build the benchmark programs with the project's
# own flags (the unit tests' UNIT_CFLAGS and UNIT_LIBS, taken from the
# configured Makefile), until `make bench` builds them.  Rebuilds only
# what is older than its source or libtriage.a.
#
# Usage: tests/bench/build.sh [top_builddir]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${1:-${top_builddir:-$top_srcdir}}
out=$top_builddir/tests/bench
mkdir -p "$out"
[ -f "$top_builddir/Makefile" ] ||
	{ echo "build.sh: $top_builddir is not configured" >&2; exit 99; }
make -s -C "$top_builddir" libtriage.a triage-milter >/dev/null
frag=$(mktemp)
trap 'rm -f "$frag"' EXIT
cat >"$frag" <<MK
BENCH_SRC = $here
BENCH_OUT = $out
bench-build: \$(BENCH_OUT)/bench-classify \$(BENCH_OUT)/null-milter \$(BENCH_OUT)/smtp-bench
\$(BENCH_OUT)/bench-classify: \$(BENCH_SRC)/bench-classify.c libtriage.a
	\$(CC) \$(DEFS) \$(DEFAULT_INCLUDES) \$(INCLUDES) \$(AM_CPPFLAGS) \$(CPPFLAGS) \$(UNIT_CFLAGS) \$(CFLAGS) -o \$@ \$< \$(AM_LDFLAGS) \$(LDFLAGS) \$(UNIT_LIBS) \$(LIBS)
\$(BENCH_OUT)/null-milter: \$(BENCH_SRC)/null-milter.c
	\$(CC) \$(AM_CPPFLAGS) \$(CPPFLAGS) \$(WARN_CFLAGS) \$(MILTER_CFLAGS) -pthread \$(CFLAGS) -o \$@ \$< \$(AM_LDFLAGS) \$(LDFLAGS) \$(MILTER_LIBS) \$(LIBS)
\$(BENCH_OUT)/smtp-bench: \$(BENCH_SRC)/smtp-bench.c
	\$(CC) \$(WARN_CFLAGS) -pthread \$(CFLAGS) -o \$@ \$< \$(AM_LDFLAGS) \$(LDFLAGS) \$(LIBS)
MK
make -s --no-print-directory -C "$top_builddir" -f Makefile -f "$frag" bench-build
