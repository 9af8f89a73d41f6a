#!/bin/sh
# golden.sh - `triage-milter -t -v` on every tests/data/*.eml must print
# exactly tests/data/*.out (the version string is masked).
# GOLDEN_UPDATE=1 rewrites the .out files; review the diff before committing.
set -u
: "${top_srcdir:=.}" "${TRIAGE_MILTER:=./triage-milter}"
cd "$top_srcdir" || exit 99

mask() {
	sed 's/^\(+X-Triage-Version: \).*/\1VERSION/'
}

pass=0 fail=0
tmp=$(mktemp) || exit 99
trap 'rm -f "$tmp"' EXIT
for eml in tests/data/*.eml; do
	out=${eml%.eml}.out
	if ! "$TRIAGE_MILTER" -c /dev/null -t -v "$eml" 2>/dev/null | mask >"$tmp"; then
		echo "FAIL: $eml: triage-milter -t exited non-zero"
		fail=$((fail + 1))
		continue
	fi
	if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
		cp "$tmp" "$out"
		echo "updated $out"
		continue
	fi
	if [ ! -f "$out" ]; then
		echo "FAIL: $eml: no expected output $out"
		fail=$((fail + 1))
	elif diff -u "$out" "$tmp"; then
		echo "PASS: $eml"
		pass=$((pass + 1))
	else
		echo "FAIL: $eml differs from $out"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
