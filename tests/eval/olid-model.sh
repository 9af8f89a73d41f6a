#!/bin/sh
#
# tests/eval/olid-model.sh - the OLID floor of the learned model (issue 8)
#
# OLID training set, offensive ("abusive|profanity") vs not, rules plus a
# model trained on the training folds only, as the daemon combines them
# (triage-milter --train --cv 5, seed 1, model weight 10 in "abusive"):
# macro-F1 >= 0.78.
#
# KNOWN TO FAIL: the linear hashed model reaches about 0.75 here (rules
# alone 0.70, model alone 0.75), and no setting of the features, L2, NB
# smoothing, class weights or hash size moved it by more than 0.005;
# small neural models over pretrained word vectors do no better on the
# same folds (rules/README).
# Makefile.am lists this test in XFAIL_TESTS so that the miss stays
# visible in every make check ("XFAIL") without failing the suite; when a
# better model reaches the floor the test passes, make check reports
# XPASS as a failure, and the XFAIL entry must go.
#
# Environment and exit status as tests/eval/run.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
milter=${TRIAGE_MILTER:-$top_srcdir/triage-milter}
shared=${TRIAGE_EVAL_DIR:-$top_srcdir/../shared/eval}

if [ ! -d "$shared" ]; then
	echo "SKIP: $shared is absent"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/triage-olid.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

printf 'rules = {"%s/rules/*.rules"}\nmodel {\n\tweight = 10\n}\n' \
	"$top_srcdir" >"$tmp/cv.conf"
if ! python3 "$here/olid.py" "$shared" >"$tmp/olid.tsv"; then
	echo "FAIL: the OLID adapter failed"
	exit 1
fi
echo "== OLID training set (5-fold cross-validation)"
if ! "$milter" -c "$tmp/cv.conf" --train "$tmp/olid.tsv" --cv 5 \
	--class "abusive|profanity" >"$tmp/olid.cv"; then
	cat "$tmp/olid.cv"
	echo "FAIL: --train --cv failed"
	exit 1
fi
cat "$tmp/olid.cv"
v=$(awk '$1 == "both" { print $9 }' "$tmp/olid.cv")
if awk -v v="$v" 'BEGIN { exit !(v != "" && v + 0 >= 0.78) }'; then
	echo "ok: OLID rules+model CV: macro-F1 $v >= 0.78"
	exit 0
fi
echo "MISSED: OLID rules+model CV: macro-F1 ${v:-nan} < 0.78"
exit 1
