#!/bin/bash
#
# tests/bench/run.sh - all the benchmarks of issue 7, figures printed
#
#   1. bench-classify  triage_run() on one core, shipped and 10x rules
#   2. postfix.sh      through a private Postfix: none / null milter /
#                      null milter taking the body / triage-milter, unix
#                      socket and TCP
#   3. memory.sh       peak RSS at 200 concurrent 1 MB messages
#   4. latency.sh      end-of-message latency over TCP, null vs triage
#   5. soak.sh         10,000 messages through Postfix, 20 sessions (the
#                      1,000-message variant runs in make check)
#
# Usage: run.sh [--quick]   (full: about 10 minutes; --quick: under 2)
# Not part of make check: figures, not pass/fail.  A missed target is a
# "target ... MISSED" line; the exit status is non-zero only when a
# benchmark could not run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
quick=
[ "${1:-}" = --quick ] && quick=--quick

"$here/build.sh" "$top_builddir" || exit 99
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
start=$(date +%s)
run() # NAME CMD...
{
	local name=$1 r=0
	shift
	printf '\n===== %s =====\n' "$name"
	"$@" 2>&1 | tee -a "$out" || r=$?
	r=${PIPESTATUS[0]}
	case $r in
	0) ;;
	77) echo "($name skipped)" ;;
	*) echo "($name exited $r)"; rc=1 ;;
	esac
}
run "1. classification (bench-classify)" \
	"$top_builddir/tests/bench/bench-classify" --top-srcdir "$top_srcdir" $quick
run "2. through Postfix (postfix.sh)" "$here/postfix.sh" $quick
run "3. memory (memory.sh)" "$here/memory.sh" $quick
run "4. TCP end-of-message latency (latency.sh)" "$here/latency.sh" $quick
if [ -n "$quick" ]; then
	run "5. soak, 1,000 messages (tests/e2e/soak.sh)" "$top_srcdir/tests/e2e/soak.sh" --messages 1000
else
	run "5. soak, 10,000 messages (tests/e2e/soak.sh)" "$top_srcdir/tests/e2e/soak.sh" --messages 10000
fi

printf '\n===== targets (%d s) =====\n' $(($(date +%s) - start))
grep -E '^target ' "$out" || echo "(no target line: see above)"
met=$(grep -cE '^target .* met$' "$out" || true)
missed=$(grep -cE '^target .*MISSED' "$out" || true)
echo "targets met: $met, missed: $missed"
exit $rc
