#!/bin/sh
# golden.sh - `triage-milter -t -v` on every tests/data/*.eml, with the
# shipped rules, must print exactly tests/data/*.out (the version string
# is masked), and every fixture named in tests/data/flags.txt must get
# the flags listed there.
# GOLDEN_UPDATE=1 rewrites the .out files; review the diff before committing.
set -u
: "${top_srcdir:=.}" "${TRIAGE_MILTER:=./triage-milter}"
cd "$top_srcdir" || exit 99

mask() {
	sed 's/^\(+X-Triage-Version: \).*/\1VERSION/'
}

pass=0 fail=0
tmp=$(mktemp) || exit 99
conf=$(mktemp) || exit 99
trap 'rm -f "$tmp" "$conf"' EXIT
printf 'rules = {"%s/rules/*.rules"}\n' "$(pwd)" >"$conf"

for eml in tests/data/*.eml; do
	out=${eml%.eml}.out
	if ! "$TRIAGE_MILTER" -c "$conf" -t -v "$eml" 2>/dev/null |
		sed "s|$(pwd)/||" | mask >"$tmp"; then
		echo "FAIL: $eml: triage-milter -t exited non-zero"
		fail=$((fail + 1))
		continue
	fi
	if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
		cp "$tmp" "$out"
		echo "updated $out"
	elif [ ! -f "$out" ]; then
		echo "FAIL: $eml: no expected output $out"
		fail=$((fail + 1))
	elif diff -u "$out" "$tmp"; then
		echo "PASS: $eml"
		pass=$((pass + 1))
	else
		echo "FAIL: $eml differs from $out"
		fail=$((fail + 1))
	fi
	want=$(awk -F '\t' -v f="${eml##*/}" '$1 == f { print $2 }' tests/data/flags.txt)
	[ -n "$want" ] || continue
	got=$(sed -n 's/^+X-Triage-Flags: //p' "$tmp")
	ok=1
	if [ "$want" = none ]; then
		[ "$got" = none ] || ok=0
	else
		for flag in $(echo "$want" | tr ',' ' '); do
			case ", $got," in
			*", $flag,"*) ;;
			*) ok=0 ;;
			esac
		done
	fi
	if [ "$ok" = 1 ]; then
		echo "PASS: $eml flags '$got' (want $want)"
		pass=$((pass + 1))
	else
		echo "FAIL: $eml flags '$got', want $want"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
