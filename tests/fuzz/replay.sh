#!/bin/sh
# replay.sh - make check: every saved fuzz input through its target again
#
# Builds nothing.  For each target (message, rules, triage) the replay
# program tests/fuzz/replay-TARGET (replay.c linked with fuzz-TARGET.c,
# built by make check) runs every file of tests/fuzz/corpus/TARGET and of
# tests/fuzz/crashers/TARGET (inputs that once crashed: they stay as
# regression tests once fixed).  A crash, a sanitizer report or a broken
# contract fails the test; a missing replay program is a hard error (99).
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
fuzz=$top_srcdir/tests/fuzz
# the triage target loads the shipped rules from the source tree
TRIAGE_FUZZ_SRCDIR=$top_srcdir
G_SLICE=always-malloc
export TRIAGE_FUZZ_SRCDIR G_SLICE

fail=0
for t in message rules triage; do
	bin=$top_builddir/tests/fuzz/replay-$t
	if [ ! -x "$bin" ]; then
		echo "ERROR: $bin not built"
		exit 99
	fi
	set -- "$fuzz/corpus/$t"
	[ -d "$fuzz/crashers/$t" ] && set -- "$@" "$fuzz/crashers/$t"
	if "$bin" "$@"; then
		echo "PASS: $t"
	else
		echo "FAIL: $t (rerun with REPLAY_VERBOSE=1 to see the input)"
		fail=1
	fi
done
exit $fail
