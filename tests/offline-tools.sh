#!/bin/bash
#
# tests/offline-tools.sh - the rule author's offline tools on messy input:
# -t on maildirs, plain directories and symbolic-link loops; --eval and
# --train on TSV and labels files with a BOM, CRLF, comments, blank lines,
# odd label case, unknown labels and missing columns
#
# Every bad line must be reported as FILE:LINE and counted, never silently
# dropped; every message on disk must be read exactly once, however often
# the paths name it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"

t_need_milter
t_need_cmd python3
t_tmpdir
M=$TRIAGE_MILTER
data=$top_srcdir/tests/data
printf 'rules = {"%s/rules/*.rules"}\n' "$top_srcdir" >"$T/rules.conf"

# run - run the milter, keeping stdout, stderr and the exit status
run()
{
	rc=0
	"$M" "$@" >"$T/out" 2>"$T/err" || rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# names - the message names of the last text output, one per line, sorted
names()
{
	sed -n 's/^==> //p' "$T/out" | sort
}

# ---- -t on directories -----------------------------------------------------

# A Dovecot maildir: cur/ and new/ are mail; tmp/ is mail being written;
# the index, the uidlist and the subscriptions are not mail at all.
md=$T/Maildir
mkdir -p "$md/cur" "$md/new" "$md/tmp" "$md/.Support/cur"
cp "$data/plain.eml" "$md/cur/1.host:2,S"
cp "$data/abusive.eml" "$md/new/2.host"
cp "$data/plain.eml" "$md/tmp/3.host"
printf '3 V1 U3\n1 :1.host\n' >"$md/dovecot-uidlist"
printf 'Support\n' >"$md/subscriptions"
head -c 512 /dev/urandom >"$md/dovecot.index.cache"
: >"$md/maildirfolder"
run -t "$md"
t_eq "-t MAILDIR: exit 0" 0 "$rc"
t_eq "-t MAILDIR reads cur/ and new/ only (not tmp/, not Dovecot's files)" \
	"$(printf '%s\n' "$md/cur/1.host:2,S" "$md/new/2.host")" "$(names)"

# A plain archive may have a folder called tmp: its mail is mail.
arch=$T/archive
mkdir -p "$arch/2024/tmp" "$arch/tmp"
cp "$data/plain.eml" "$arch/2024/tmp/a.eml"
cp "$data/plain.eml" "$arch/2024/b.eml"
cp "$data/plain.eml" "$arch/tmp/c.eml"
run -t "$arch"
t_eq "-t DIR outside a maildir reads folders called tmp too" \
	"$(printf '%s\n' "$arch/2024/b.eml" "$arch/2024/tmp/a.eml" \
		"$arch/tmp/c.eml")" "$(names)"

# A symbolic link back up the tree: each message once, the loop reported.
loop=$T/loop
mkdir -p "$loop/a"
cp "$data/plain.eml" "$loop/a/m.eml"
ln -s .. "$loop/a/up"
run -t --json "$loop"
t_eq "-t on a symlink loop: exit 1 (the loop is an error)" 1 "$rc"
t_eq "-t on a symlink loop reads the message once" 1 \
	"$(grep -c '"file":"[^"]*m.eml"' "$T/out" || true)"
t_match "-t on a symlink loop names the link and the directory" \
	"\"file\":\"$loop/a/up\".*\"error\":\"a directory loop: the same directory as $loop," \
	"$out"

# A file named twice, by another spelling, through a link, and inside a
# named directory: analysed once, with one note saying so.
dup=$T/dup
mkdir -p "$dup"
cp "$data/plain.eml" "$dup/m.eml"
cp "$data/abusive.eml" "$dup/n.eml"
ln -s m.eml "$dup/link.eml"
run -t "$dup/m.eml" "$dup/m.eml" "$dup/./m.eml" "$dup/link.eml" "$dup"
t_eq "-t on a file named four times and its directory (which has it twice): exit 0" 0 "$rc"
t_eq "-t reads each file once, in the order first named" \
	"$(printf '%s\n' "$dup/m.eml" "$dup/n.eml")" \
	"$(sed -n 's/^==> //p' "$T/out")"
t_eq "-t says so in one note" \
	"triage-milter: note: 5 path(s) named a file already read; each file was analysed once" \
	"$(grep -v 'only length is triaged' "$T/err")"
rc=0
"$M" -t "$dup/n.eml" - - <"$dup/n.eml" >"$T/out" 2>/dev/null || rc=$?
t_eq "-t FILE - - with FILE on standard input: FILE once" "$dup/n.eml" \
	"$(sed -n 's/^==> //p' "$T/out")"

# ---- -t - reads standard input ---------------------------------------------

# One message on standard input, as "cat msg | spamassassin" or opendkim -t
# take it: the same result as the file, named "-".
run -c "$T/rules.conf" -t --json "$data/abusive.eml"
from_file=$(sed 's/^{"file":"[^"]*"//' "$T/out")
rc=0
"$M" -c "$T/rules.conf" -t --json - <"$data/abusive.eml" >"$T/out" \
	2>"$T/err" || rc=$?
t_eq "-t - on standard input: exit 0" 0 "$rc"
t_match "-t - names the message \"-\"" '^\{"file":"-",' "$(cat "$T/out")"
t_eq "-t - gives what -t FILE gives" "$from_file" \
	"$(sed 's/^{"file":"[^"]*"//' "$T/out")"
rc=0
cat "$data/abusive.eml" | "$M" -c "$T/rules.conf" -t - >"$T/out" \
	2>"$T/err" || rc=$?
t_eq "-t - from a pipe: exit 0" 0 "$rc"
t_match "-t - from a pipe: text output flags it" \
	'^\+X-Triage-Flags: abusive' "$(cat "$T/out")"

# A NUL byte and a message over max_scan_bytes: cut exactly as the file.
{
	printf 'From: a@example.com\nTo: s@example.com\nSubject: x\n\n'
	printf 'you idiot \000 you moron\n'
	for _ in $(seq 2000); do printf 'a line of the long message body\n'; done
} >"$T/nul-big.eml"
printf 'rules = {"%s/rules/*.rules"}\nmax_scan_bytes = 4096\n' \
	"$top_srcdir" >"$T/small.conf"
run -c "$T/small.conf" -t --json "$T/nul-big.eml"
from_file=$(sed 's/^{"file":"[^"]*"//' "$T/out")
rc=0
"$M" -c "$T/small.conf" -t --json - <"$T/nul-big.eml" >"$T/out" \
	2>"$T/err" || rc=$?
t_eq "-t - with a NUL byte, over max_scan_bytes: as the file" \
	"$from_file" "$(sed 's/^{"file":"[^"]*"//' "$T/out")"

# An mbox on standard input: its messages are -:1, -:2.
printf 'From a@b Mon Jan  1 00:00:00 2024\nFrom: a@example.com\n\nhi\n\n%s\n%s\n' \
	'From b@b Mon Jan  1 00:00:00 2024' 'From: b@example.com' >"$T/in.mbox"
printf '\nyou idiot\n' >>"$T/in.mbox"
rc=0
"$M" -c "$T/rules.conf" -t - <"$T/in.mbox" >"$T/out" 2>"$T/err" || rc=$?
t_eq "-t - on an mbox: its messages -:1 and -:2" "$(printf '%s\n' -:1 -:2)" \
	"$(names)"

# Standard input closed: an error for "-", exit 1, no crash.
rc=0
"$M" -c "$T/rules.conf" -t - <&- >"$T/out" 2>"$T/err" || rc=$?
t_eq "-t - with standard input closed: exit 1" 1 "$rc"
t_match "... saying so" '^!error: standard input: ' "$(cat "$T/out")"

# ---- --eval on a messy TSV ------------------------------------------------------

# field TABLE CLASS COLUMN - one number of an --eval table
field()
{
	printf '%s\n' "$1" | awk -v c="$2" -v k="$3" '$1 == c { print $k }'
}

# Exported from a spreadsheet: BOM, CRLF, a header row, a blank line, a
# comment, a label in capitals, labels with blanks, escaped newlines.
# Line 8 has a misspelt label, line 9 no tab: both must be reported.
printf '\357\273\277label\ttext\r
abusive\tyou are an idiot\r
\r
# reviewed by Kim\r
Abusive\tyou stupid idiot\r
 abusive , legal-threat \tI will sue you, idiot\r
none\tline one\\nline two\\ttabbed\r
abusve\tmisspelt label\r
no tab on this line\r
' >"$T/messy.tsv"
run -c "$T/rules.conf" --eval "$T/messy.tsv"
t_eq "--eval with bad lines: exit 1" 1 "$rc"
t_match "--eval counts every good row and every bad line" \
	'^messages 4, errors 2,' "$out"
t_match "--eval names FILE:LINE of an unknown label" \
	"^$T/messy.tsv:8: unknown label \"abusve\" \\(flags: abusive, " "$err"
t_match "--eval names FILE:LINE of a line without a tab" \
	"^$T/messy.tsv:9: expected LABELS<TAB>TEXT" "$err"
t_eq "--eval reports nothing else" 2 "$(printf '%s\n' "$err" | grep -c .)"
t_eq "--eval: labels are case-insensitive, blanks ignored (3 abusive)" 3 \
	"$(($(field "$out" abusive 2) + $(field "$out" abusive 4)))"
t_eq "--eval: the legal-threat label after a comma counts" 1 \
	"$(($(field "$out" legal-threat 2) + $(field "$out" legal-threat 4)))"
t_eq "--eval: no class made of a BOM, a typo or capitals" 5 \
	"$(printf '%s\n' "$out" | sed -n '2,/^messages/p' | grep -vc '^messages')"

: >"$T/empty.tsv"
run -c "$T/rules.conf" --eval "$T/empty.tsv"
t_eq "--eval on an empty file: exit 1" 1 "$rc"
t_match "... saying it has no labeled rows" "$T/empty.tsv: no labeled rows" \
	"$err"
run -c "$T/rules.conf" --eval "$T/messy.tsv" --labels "$T/messy.tsv"
t_eq "--eval FILE --labels: exit 1 (labels go with a directory)" 1 "$rc"
t_match "... saying so" "labels goes with --eval DIR" "$err"

# ---- --eval DIR --labels FILE ------------------------------------------------

ed=$T/labeled
mkdir -p "$ed/sub"
cp "$data/abusive.eml" "$ed/a.eml"
cp "$data/plain.eml" "$ed/p.eml"
printf 'a.eml\tabusive\r
p.eml\tnone\r
a.eml\tabusive\r
missing.eml\tnone\r
sub\tnone\r
\tnone\r
p.eml\r
p.eml\tnone\tseen by Kim\r
' >"$ed.labels"
run -c "$T/rules.conf" --eval "$ed" --labels "$ed.labels"
t_eq "--eval DIR with bad labels lines: exit 1" 1 "$rc"
t_match "--eval DIR: each message once, every bad line an error" \
	'^messages 2, errors 6,' "$out"
for want in "3: a.eml is labeled again \\(first on line 1\\)" \
	"4: .*missing.eml.*No such file" "5: .*sub.*Is a directory" \
	"6: expected FILE<TAB>LABELS" "7: expected FILE<TAB>LABELS" \
	"8: expected FILE<TAB>LABELS"; do
	t_match "--eval DIR names $ed.labels:${want%%:*}" "^$ed.labels:$want" \
		"$err"
done

# ---- --train on the same kind of data ----------------------------------------------

# The same spreadsheet export, without its two bad lines, trains; labels
# in capitals are the class, not "none".
printf '\357\273\277Label\ttext\r
\r
# reviewed by Kim\r
Abusive\tyou stupid idiot\r
none\tthank you for your help\r
ABUSIVE\tshut up you moron\r
none\tplease send the invoice\r
' >"$T/train.tsv"
run --train "$T/train.tsv" -o "$T/train.model"
t_eq "--train on a BOM/CRLF TSV with comments: exit 0" 0 "$rc"
t_match "--train counts 4 rows, 2 positive (Abusive, ABUSIVE)" \
	'^data: .*train.tsv \(4 rows, 2 positive\)' "$(cat "$T/train.model")"

run --train "$T/messy.tsv" -o "$T/messy.model"
t_eq "--train on a TSV with a misspelt label: exit 1" 1 "$rc"
t_match "... naming FILE:LINE and the flags a label may name" \
	"$T/messy.tsv:8: unknown label \"abusve\" \\(flags: abusive, " "$err"
t_check "... and writing no model" test ! -e "$T/messy.model"
grep -v '^abusve' "$T/messy.tsv" >"$T/notab.tsv"
run --train "$T/notab.tsv" -o "$T/messy.model"
t_eq "--train on a TSV with a line without a tab: exit 1" 1 "$rc"
t_match "... naming FILE:LINE" "$T/notab.tsv:8: expected LABELS<TAB>TEXT" \
	"$err"
t_check "... and writing no model" test ! -e "$T/messy.model"

printf 'none\thello\nnone\tthanks\nnone\tbye\n' >"$T/one-class.tsv"
run --train "$T/one-class.tsv" -o "$T/one.model"
t_eq "--train with no row of the class: exit 1" 1 "$rc"
t_match "... saying there is nothing to learn" \
	"$T/one-class.tsv: none of the 3 rows is labeled abusive\\|profanity" "$err"
run --train "$T/one-class.tsv" --cv 2
t_eq "--train --cv with no row of the class: exit 1" 1 "$rc"
run --train "$T/train.tsv" --cv 5
t_eq "--train --cv K with fewer rows than K: exit 1" 1 "$rc"
t_match "... saying so" 'need at least 5 rows of the class and 5 of the others' "$err"
# 2 of the class and 1 other: a fold's inner threshold search trained on
# no row at all (SIGSEGV) before --cv counted each class
printf 'abusive\tyou idiot\nnone\thello there\nabusive\tyou moron\n' \
	>"$T/tiny.tsv"
run --train "$T/tiny.tsv" --cv 2
t_eq "--train --cv 2 with 1 row of the other class: exit 1" 1 "$rc"
t_match "... saying how many of each it has" 'the data has 2 and 1' "$err"
printf 'none\tthanks\n' >>"$T/tiny.tsv"
run --train "$T/tiny.tsv" --cv 2
t_eq "--train --cv 2 with 2 rows of each class: exit 0" 0 "$rc"

printf 'a.eml\tabusive\np.eml\tnone\na.eml\tabusive\n' >"$T/dup.labels"
run --train "$ed" --labels "$T/dup.labels" -o "$T/dup.model"
t_eq "--train DIR with a message named twice: exit 1" 1 "$rc"
t_match "... naming FILE:LINE" \
	"$T/dup.labels:3: a.eml is labeled again \\(first on line 1\\)" "$err"
printf 'a.eml\tAbusive\np.eml\tnon\n' >"$T/typo.labels"
run --train "$ed" --labels "$T/typo.labels" -o "$T/typo.model"
t_eq "--train DIR with a misspelt label: exit 1" 1 "$rc"
t_match "... naming FILE:LINE" "$T/typo.labels:2: unknown label \"non\"" \
	"$err"
printf 'a.eml\tabusive\tseen by Kim\np.eml\tnone\n' >"$T/cols.labels"
run --train "$ed" --labels "$T/cols.labels" -o "$T/cols.model"
t_eq "--train DIR with a third column: exit 1" 1 "$rc"
t_match "... naming FILE:LINE" "$T/cols.labels:1: expected FILE<TAB>LABELS" \
	"$err"

# ---- a NUL byte must not end the file ------------------------------------------

printf 'none\thello\nnone\tbad \000 byte\nabusive\tyou idiot\nnone\tthanks\n' \
	>"$T/nul.tsv"
run -c "$T/rules.conf" --eval "$T/nul.tsv"
t_eq "--eval on a TSV with a NUL byte: exit 1" 1 "$rc"
t_match "--eval reads the lines after the NUL (3 rows)" '^messages 3, errors 1,' \
	"$out"
t_match "--eval names the line with the NUL" "^$T/nul.tsv:2: a NUL byte" "$err"
run --train "$T/nul.tsv" -o "$T/nul.model"
t_eq "--train on a TSV with a NUL byte: exit 1" 1 "$rc"
t_match "--train names the line with the NUL" "$T/nul.tsv:2: a NUL byte" "$err"
t_done
