#!/bin/sh
#
# tests/eval/run.sh - the shipped rules against ../shared/eval, with floors
#
# Builds labeled sets with the adapters beside this script, runs
# "triage-milter --eval" on each with a config that loads only the
# shipped rules ($top_srcdir/rules/*.rules), prints every table and checks
# the floors of issue 3:
#   legal_threats dev    legal-threat precision >= 0.90 and recall >= 0.85
#   OLID training set    "abusive|profanity" macro-F1 >= 0.70
#   Kaggle insults train "abusive" F1 >= 0.60
#   easy-ham-1, Enron, Bitext
#                        at most 1 message in 200 flagged abusive,
#                        legal-threat or public-threat (each set)
# and of the learned model (issue 8), "both" being the shipped rules plus a
# model trained on the training folds only, added to its category as the
# daemon adds it (triage-milter --train --cv, 5 folds, seed 1):
#   Kaggle insults train "abusive" both F1 >= 0.70
#   (OLID training set   "abusive|profanity" both macro-F1 >= 0.78 is
#                        tests/eval/olid-model.sh, an expected failure)
#   easy-ham-1, Enron, Bitext with the shipped rules/abusive-en.model
#                        enabled at its default weight: at most 1 in 200
#                        flagged, as above
# In the cross-validation the model's weight is 10 (cv_weight), above the
# category threshold (5.0), so that the model can flag a message on its
# own; its threshold is chosen per fold by an inner 3-fold CV of the
# training folds (never on the test fold).  The full 5 folds and L-BFGS
# iterations are used: the CV adds about a minute on 2 cores.
# The plain word-list baseline (a rule flagging any word of the LDNOOBW
# English list as abusive), the legal_threats harvest and public sets,
# Davidson and the Davidson CV are printed for information only.  Every row of a ham set is relabeled with the class
# "abusive|legal-threat|public-threat", so that class's tp column is the
# number of messages flagged with any of the three.
#
# Environment: top_srcdir (default: two levels up), TRIAGE_MILTER (default
# $top_srcdir/triage-milter), TRIAGE_EVAL_DIR (default
# $top_srcdir/../shared/eval).  Exit 77 (skip) when the data is absent,
# 1 when a floor is missed or a set could not be measured (each named),
# 0 otherwise; the last line is "N passed, M failed" over the floors.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
milter=${TRIAGE_MILTER:-$top_srcdir/triage-milter}
shared=${TRIAGE_EVAL_DIR:-$top_srcdir/../shared/eval}
adapters=$top_srcdir/tests/eval

if [ ! -d "$shared" ]; then
	echo "SKIP: $shared is absent"
	exit 77
fi
if [ ! -x "$milter" ]; then
	echo "FAIL: $milter is not executable" >&2
	exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
	echo "FAIL: python3 is needed by the adapters" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/triage-eval.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

conf=$tmp/eval.conf
printf 'rules = {"%s/rules/*.rules"}\n' "$top_srcdir" >"$conf"
rules_conf=$conf
# the shipped model at its default weight and threshold
ship_conf=$tmp/ship.conf
printf 'rules = {"%s/rules/*.rules"}\nmodel {\n\tfile = "%s"\n}\n' \
	"$top_srcdir" "$top_srcdir/rules/abusive-en.model" >"$ship_conf"
# --train --cv: the rules and a model of weight cv_weight in "abusive"
cv_weight=10
cv_conf=$tmp/cv.conf
printf 'rules = {"%s/rules/*.rules"}\nmodel {\n\tweight = %s\n}\n' \
	"$top_srcdir" "$cv_weight" >"$cv_conf"

passed=0
failed=0
missed=""

# miss WHAT - record a missed floor
miss()
{
	failed=$((failed + 1))
	missed="$missed
  $1"
	echo "MISSED: $1"
}

# hit WHAT - record a floor that holds
hit()
{
	passed=$((passed + 1))
	echo "ok: $1"
}

# adapter NAME ARGS... > OUT - run tests/eval/NAME; fails when it is absent
adapter()
{
	a=$adapters/$1
	shift
	if [ ! -f "$a" ]; then
		echo "missing adapter $a" >&2
		return 1
	fi
	python3 "$a" "$@"
}

# measure TITLE OUT ARGS... - print the table of --eval ARGS into OUT
measure()
{
	title=$1
	out=$2
	shift 2
	echo
	echo "== $title"
	if ! "$milter" -c "$conf" --eval "$@" >"$out" 2>"$out.err"; then
		cat "$out.err" "$out"
		return 1
	fi
	cat "$out"
}

# cv TITLE OUT TSV CLASS - print the --train --cv table into OUT (rows
# rules, model and both; the columns of --eval)
cv()
{
	title=$1
	out=$2
	echo
	echo "== $title (5-fold cross-validation)"
	if ! "$milter" -c "$cv_conf" --train "$3" --cv 5 --class "$4" \
		>"$out" 2>"$out.err"; then
		cat "$out.err" "$out"
		return 1
	fi
	cat "$out"
}

# field TABLE CLASS COLUMN - one number of a --eval table
# (columns: 2 tp, 3 fp, 4 fn, 5 tn, 6 precision, 7 recall, 8 f1, 9 macro-f1)
field()
{
	awk -v c="$2" -v k="$3" '$1 == c { print $k; found = 1 }
		END { if (!found) print "nan" }' "$1"
}

# atleast VALUE FLOOR - VALUE >= FLOOR (decimal strings)
atleast()
{
	awk -v v="$1" -v f="$2" 'BEGIN { exit !(v != "nan" && v + 0 >= f + 0) }'
}

# floor TABLE CLASS COLUMN NAME MIN WHAT
floor()
{
	v=$(field "$1" "$2" "$3")
	if atleast "$v" "$5"; then
		hit "$6: $4 $v >= $5"
	else
		miss "$6: $4 $v < $5"
	fi
}

# ---- legal_threats -------------------------------------------------------

if adapter legal.py "$shared" dev >"$tmp/legal-dev.tsv" &&
	measure "legal_threats dev" "$tmp/legal-dev.out" "$tmp/legal-dev.tsv"; then
	floor "$tmp/legal-dev.out" legal-threat 6 precision 0.90 \
		"legal_threats dev legal-threat"
	floor "$tmp/legal-dev.out" legal-threat 7 recall 0.85 \
		"legal_threats dev legal-threat"
else
	miss "legal_threats dev: could not be measured"
	miss "legal_threats dev: could not be measured (recall)"
fi
for set in harvest public; do
	if adapter legal.py "$shared" "$set" >"$tmp/legal-$set.tsv"; then
		measure "legal_threats ${set}_dev (information)" \
			"$tmp/legal-$set.out" "$tmp/legal-$set.tsv" ||
			echo "(legal_threats ${set}_dev could not be measured)"
	fi
done

# ---- abusive and profanity ----------------------------------------------

if adapter olid.py "$shared" >"$tmp/olid.tsv" &&
	measure "OLID training set" "$tmp/olid.out" "$tmp/olid.tsv"; then
	floor "$tmp/olid.out" "abusive|profanity" 9 macro-F1 0.70 "OLID"
else
	miss "OLID: could not be measured"
fi

if adapter kaggle.py "$shared" >"$tmp/kaggle.tsv" &&
	measure "Kaggle insults train" "$tmp/kaggle.out" "$tmp/kaggle.tsv"; then
	floor "$tmp/kaggle.out" abusive 8 F1 0.60 "Kaggle insults"
else
	miss "Kaggle insults: could not be measured"
fi

if adapter davidson.py "$shared" >"$tmp/davidson.tsv"; then
	measure "Davidson (information)" "$tmp/davidson.out" \
		"$tmp/davidson.tsv" || echo "(Davidson could not be measured)"
fi

# ---- ham: at most 1 in 200 flagged abusive, legal-threat or public-threat

union="abusive|legal-threat|public-threat"

# ham_floor TABLE NAME
ham_floor()
{
	n_flag=$(field "$1" "$union" 2)
	n_miss=$(field "$1" "$union" 4)
	if [ "$n_flag" = nan ] || [ "$n_miss" = nan ]; then
		miss "$2: no $union row in the table"
		return
	fi
	total=$((n_flag + n_miss))
	if [ "$total" -gt 0 ] && [ $((n_flag * 200)) -le "$total" ]; then
		hit "$2: $n_flag of $total flagged (at most 1 in 200)"
	else
		miss "$2: $n_flag of $total flagged (more than 1 in 200)"
	fi
}

# ham_sets WHAT - the three ham sets with the configuration in $conf
ham_sets()
{
	for set in easy-ham enron; do
		if dir=$(adapter ham.py "$shared" --dir "$set") &&
			adapter ham.py "$shared" --labels "$set" 2>/dev/null |
			awk -F '\t' -v u="$union" 'NF >= 2 { print $1 "\t" u }' \
				>"$tmp/$set.labels" &&
			[ -s "$tmp/$set.labels" ] &&
			measure "$set$1 (ham; $union tp = flagged)" "$tmp/$set.out" \
				"$dir" --labels "$tmp/$set.labels"; then
			ham_floor "$tmp/$set.out" "$set$1"
		else
			miss "$set$1: could not be measured"
		fi
	done

	if adapter ham.py "$shared" --tsv bitext 2>/dev/null |
		awk -F '\t' -v u="$union" 'NR == 1 && $1 == "label" { print; next }
			{ sub(/^[^\t]*/, u); print }' >"$tmp/bitext.tsv" &&
		[ "$(wc -l <"$tmp/bitext.tsv")" -gt 1 ] &&
		measure "Bitext$1 (ham; $union tp = flagged)" "$tmp/bitext.out" \
			"$tmp/bitext.tsv"; then
		ham_floor "$tmp/bitext.out" "Bitext$1"
	else
		miss "Bitext$1: could not be measured"
	fi
}

ham_sets ""
conf=$ship_conf
ham_sets " with the shipped model"
conf=$rules_conf

# ---- the plain word-list baseline (information) --------------------------

# LDNOOBW's English list as one lexicon rule; lines without a letter
# (an emoji) cannot be matched on words and are left out
ldnoobw=$shared/profanity_wordlists/ldnoobw/en
if [ -f "$ldnoobw" ]; then
	mkdir "$tmp/baseline"
	LC_ALL=C grep '[A-Za-z]' "$ldnoobw" >"$tmp/baseline/ldnoobw-en.txt"
	cat >"$tmp/baseline/wordlist.rules" <<'EOF'
rule WORDLIST {
	category = "abusive"
	score = 5.0
	describe = "A word of the LDNOOBW English list"
	lexicon = "ldnoobw-en.txt"
	negation = 0
}
EOF
	printf 'rules = {"%s/baseline/wordlist.rules"}\n' "$tmp" >"$tmp/bl.conf"
	conf=$tmp/bl.conf
	for set in olid kaggle davidson; do
		if [ ! -s "$tmp/$set.tsv" ] ||
			! measure "word-list baseline: $set (information)" \
				"$tmp/bl-$set.out" "$tmp/$set.tsv"; then
			echo "(word-list baseline on $set could not be measured)"
		fi
	done
	conf=$rules_conf
fi

# ---- the learned model: rules, model and both, cross-validated -----------

# The OLID floor of the model (macro-F1 >= 0.78) is tests/eval/olid-model.sh,
# an expected failure (XFAIL_TESTS): the model reaches about 0.75.
if [ -s "$tmp/kaggle.tsv" ] &&
	cv "Kaggle insults train" "$tmp/kaggle.cv" "$tmp/kaggle.tsv" abusive; then
	floor "$tmp/kaggle.cv" both 8 F1 0.70 "Kaggle rules+model CV"
else
	miss "Kaggle rules+model CV: could not be measured"
fi
if [ -s "$tmp/davidson.tsv" ]; then
	cv "Davidson (information)" "$tmp/davidson.cv" "$tmp/davidson.tsv" \
		"abusive|profanity" || echo "(Davidson CV could not be measured)"
fi

echo
if [ "$failed" -gt 0 ]; then
	echo "Missed floors:$missed"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
