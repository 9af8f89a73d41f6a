#!/bin/bash
#
# tests/cli.sh - the command line: -V, -n, -t (files, maildir, mbox,
# --json) and exit statuses
#
# Broken configurations are generated here, each with the faulty line at a
# known number, so "-n" must exit 1 and name FILE:LINE on stderr.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"

t_need_milter
t_need_cmd python3
t_tmpdir
M=$TRIAGE_MILTER

# run - run the milter, keeping stdout, stderr and the exit status
run()
{
	rc=0
	"$M" "$@" >"$T/out" 2>"$T/err" || rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# ---- -V ------------------------------------------------------------------
run -V
t_eq "-V exits 0" 0 "$rc"
t_match "-V prints the version" '^triage-milter [0-9]+\.[0-9]+\.[0-9]+' "$out"

# ---- usage errors ------------------------------------------------------------
run -Z
t_check "an unknown option exits non-zero" test "$rc" -ne 0
t_match "an unknown option prints the usage on stderr" 'usage' "$err"

# ---- -n on the sample configuration ---------------------------------------------
run -n -c "$top_srcdir/conf/triage-milter.conf"
t_eq "-n on conf/triage-milter.conf exits 0" 0 "$rc"
[ -z "$err" ] || t_log "stderr: $err"

# A minimal good config, then broken ones.
printf 'socket = "unix:%s/m.sock"\nlength {\n\tlong_words = 300\n}\n' "$T" \
	>"$T/good.conf"
run -n -c "$T/good.conf"
t_eq "-n on a minimal good config exits 0" 0 "$rc"

# bad_config NAME LINE TEXT - TEXT is a config whose line LINE is wrong
bad_config()
{
	local name=$1 line=$2 f=$T/$1.conf
	printf '%b' "$3" >"$f"
	run -n -c "$f"
	t_eq "-n $name: exit 1" 1 "$rc"
	t_match "-n $name: stderr names $f:$line:" "^$f:$line: " "$err"
}
bad_config unknown-key 3 \
	'\nsocket = "unix:/tmp/x.sock"\nno_such_key = 1\n'
# Comment lines must count once each (the sample config is mostly
# comments, so this is what a postmaster meets first).
bad_config after-comments 4 '# one\n# two\n\nno_such_key = 1\n'
bad_config after-comment-block 5 '# one\nsocket = "unix:/tmp/x.sock"\n# two\n\non_error = "never"\n'
bad_config bad-on-error 2 'pidfile = ""\non_error = "sometimes"\n'
bad_config bad-socket 1 'socket = "tcp:8894"\n'
bad_config bad-inet-socket 2 '\nsocket = "inet:notaport@127.0.0.1"\n'
bad_config small-scan 4 '\n\n\nmax_scan_bytes = 100\n'
bad_config bad-integer 3 'length {\n\tlong_paragraphs = 12\n\tlong_words = "many"\n}\n'
bad_config zero-words 2 'length {\n\tlong_words = 0\n}\n'
bad_config bad-socket-mode 1 'socket_mode = "rwx"\n'
bad_config bad-facility 1 'syslog_facility = "nosuch"\n'
bad_config unknown-in-section 3 'length {\n\tlong_words = 500\n\tshort_words = 3\n}\n'
bad_config small-memory-buffer 2 '\nmemory_buffer_bytes = 100\n'
bad_config few-headers 1 'max_headers = 2\n'
bad_config small-header-bytes 1 'max_header_bytes = 10\n'
bad_config low-regex-limit 1 'regex_match_limit = 5\n'
bad_config too-many-scans 1 'max_concurrent_scans = 100000\n'
# What libconfuse would pass over in silence: it stops at a NUL byte, takes
# the rest of the file into an unterminated comment, closes a section at
# the end of the file.
bad_config nul-byte 2 'max_mime_depth = 5\n\0no_such_key = 1\n'
bad_config unterminated-comment 2 \
	'max_mime_depth = 5\n/* start\nmax_scan_bytes = 1\nno_such_key = 7\n'
bad_config unterminated-string 2 'max_mime_depth = 5\npidfile = "/run/x\n'
bad_config unclosed-brace 2 '\nlength {\n\tlong_words = 5\n'
# unquoted, {postmaster@*} would be "postmaster@", matching nobody
bad_config unquoted-star 2 '\nskip_recipients = {postmaster@*}\n'
# a backslash pair inside single quotes does not escape the closing quote
bad_config single-quote-backslash 2 \
	"user = 'a\\\\\\\\'  # it's\nno_such_key = \"#\"\nmax_mime_depth = 5\n"
# "nan" and "inf" parse as numbers; ints must not wrap in int or unsigned
bad_config nan-threshold 2 'category legal {\n\tthreshold = nan\n}\n'
bad_config inf-model-weight 3 'model {\n\n\tweight = inf\n}\n'
bad_config huge-priority 2 'category public {\n\tpriority = 4294967295\n}\n'
bad_config huge-max-per-hour 2 'reply {\n\tmax_per_hour = 4294967296\n}\n'
# a relative key file is relative to the configuration, not to the
# directory the command (or the daemon, after its chdir) runs in
mkdir -p "$T/relkey"
"$M" --generate-key "$T/relkey/k1.key" >/dev/null 2>&1
printf 'signing {\n\tkey_id = "k1"\n\tkey_file = "k1.key"\n}\n' \
	>"$T/relkey/relkey.conf"
rc=0
err=$(cd / && "$M" -n -c "$T/relkey/relkey.conf" 2>&1) || rc=$?
t_eq "-n run from / finds key_file next to its configuration" 0 "$rc"
[ "$rc" = 0 ] || t_log "stderr: $err"
printf '\377\376m\000a\000' >"$T/utf16.conf"
run -n -c "$T/utf16.conf"
t_eq "-n on a UTF-16 file: exit 1" 1 "$rc"
t_match "... saying so" "utf16.conf: UTF-16 text; save it as UTF-8" "$err"
printf '\357\273\277max_mime_depth = 5\n' >"$T/bom.conf"
run -n -c "$T/bom.conf"
t_eq "-n on a file with a UTF-8 byte-order mark: exit 0" 0 "$rc"
# a temp_dir that cannot take files is a warning: mail flows anyway
printf 'temp_dir = "%s/no-such-dir"\n' "$T" >"$T/tempdir.conf"
run -n -c "$T/tempdir.conf"
t_eq "-n with a missing temp_dir: exit 0" 0 "$rc"
t_match "-n with a missing temp_dir: a warning names it" \
	"warning: $T/tempdir.conf: temp_dir \"$T/no-such-dir\": No such file" "$err"

# ---- -n checks rule files and every rule's examples --------------------------
mkdir -p "$T/rules"
printf '%b' '# a rule whose second example cannot fire\nrule LOCAL_REFUND {\n\tcategory = "legal"\n\tscore = 5.0\n\tphrases = {"refund or else"}\n\texamples = {"a refund or else",\n\t\t"please refund me"}\n}\n' >"$T/rules/bad-example.rules"
printf 'rules = {"%s/rules/*.rules"}\n' "$T" >"$T/rules.conf"
run -n -c "$T/rules.conf"
t_eq "-n with a failing rule example: exit 1" 1 "$rc"
t_match "-n names the rule file, line and example" \
	"^$T/rules/bad-example.rules:6: LOCAL_REFUND: example \"please refund me\" did not fire" "$err"
printf '%b' 'rule LOCAL_BAD {\n\tcategory = "legal"\n\tregex = "(unclosed"\n}\n' >"$T/rules/bad-example.rules"
run -n -c "$T/rules.conf"
t_eq "-n with a bad regex: exit 1" 1 "$rc"
t_match "-n names the regex's file and line" "^$T/rules/bad-example.rules:3: " "$err"
# a NUL byte would end the file (or word list) early, without a word
printf '%b' 'rule LOCAL_A {\n\tcategory = "legal"\n\tphrases = {"a b"}\n}\n\0rule LOCAL_B {\n}\n' >"$T/rules/bad-example.rules"
run -n -c "$T/rules.conf"
t_eq "-n with a NUL byte in a rule file: exit 1" 1 "$rc"
t_match "... naming its file and line" "^$T/rules/bad-example.rules:5: NUL byte" "$err"
printf '%b' 'rule LOCAL_LEX {\n\tcategory = "legal"\n\tlexicon = {"lex.txt"}\n}\n' >"$T/rules/bad-example.rules"
printf '%b' 'sue you\nfoo\0\nbar\n' >"$T/rules/lex.txt"
run -n -c "$T/rules.conf"
t_match "-n names a word list's NUL byte by its own file and line" \
	"^$T/rules/lex.txt:2: NUL byte" "$err"
printf '%b' 'sue you\nfoo\nb\377r\n' >"$T/rules/lex.txt"
run -n -c "$T/rules.conf"
t_match "-n names a word list's bad UTF-8 by its own file and line" \
	"^$T/rules/lex.txt:3: not UTF-8" "$err"
printf '%b' '\nrule LOCAL_CAT {\n\tcategory = "nosuch"\n\tphrases = {"a b"}\n}\n' >"$T/rules/bad-example.rules"
run -n -c "$T/rules.conf"
t_match "-n names the rule of an unknown category, file and line" \
	"^$T/rules/bad-example.rules:2: LOCAL_CAT: category \"nosuch\"" "$err"
printf '%b' 'rule LOCAL_LIST {\n\tcategory = "legal"\n\tphrases = {\n\t\t"sue you",\n\t\t"take you",\n\t\t"x* y"\n\t}\n}\n' >"$T/rules/bad-example.rules"
run -n -c "$T/rules.conf"
t_match "-n names the line of the bad element of a multi-line list" \
	"^$T/rules/bad-example.rules:6: phrase \"x\* y\"" "$err"
printf '%b' 'rule LOCAL_NAN {\n\tcategory = "legal"\n\tphrases = {"a b"}\n\tscore = nan\n}\n' >"$T/rules/bad-example.rules"
run -n -c "$T/rules.conf"
t_match "-n refuses a rule score of nan, naming file and line" \
	"^$T/rules/bad-example.rules:4: score: must be a finite number" "$err"
rm -f "$T/rules/bad-example.rules" "$T/rules/lex.txt"
# A rules directory that cannot be read is an error, not "no rules"
# (root reads everything: checked as nobody, where runuser exists).
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1 &&
	runuser -u nobody -- "$M" -V >/dev/null 2>&1; then
	mkdir -p "$T/locked" && : >"$T/locked/a.rules"
	chmod 700 "$T/locked"
	chmod 755 "$T"
	printf 'rules = {"%s/locked/*.rules"}\n' "$T" >"$T/locked.conf"
	chmod 644 "$T/locked.conf"
	rc=0
	err=$(runuser -u nobody -- "$M" -n -c "$T/locked.conf" 2>&1) || rc=$?
	t_eq "-n with an unreadable rules directory: exit 1" 1 "$rc"
	t_match "... naming it" "cannot read directory $T/locked: Permission denied" "$err"
fi
printf 'rules = {"%s/rules/*.rules"}\n' "$top_srcdir" >"$T/shipped.conf"
run -n -c "$T/shipped.conf"
t_eq "-n on the shipped rules (every example checked): exit 0" 0 "$rc"

# ---- -n checks acknowledgment templates -----------------------------------------
mkdir -p "$T/templates"
{
	printf 'Thanks for writing. Reference {ticket}.\n'
	for _ in 1 2 3 4 5 6; do
		printf 'This line of fixed text is here only to use up the room.\n'
	done
} >"$T/templates/general.txt"
cat >"$T/reply.conf" <<CONF
store = "lmdb:$T/store"
reply {
	enable = true
	addresses = {"support@example.com"}
	from = "Support <support@example.com>"
	templates = "$T/templates"
	default_template = "general"
}
route legal {
	template = "general"
}
route public {
	template = "general"
}
route abuse {
	template = "general"
}
CONF
run -n -c "$T/reply.conf"
t_eq "-n with a template that leaves no room: exit 1" 1 "$rc"
t_match "-n names the template file and line" "^$T/templates/general.txt:[0-9]+: " "$err"
printf 'Thanks, {first_name|there}: ref {ticket}, {nosuch}.\n' >"$T/templates/general.txt"
run -n -c "$T/reply.conf"
t_eq "-n with an unknown template variable: exit 1" 1 "$rc"
t_match "-n names the unknown variable" "^$T/templates/general.txt:1: .*nosuch" "$err"

# ---- --train and the model in the verdict ------------------------------------
run --train "$top_srcdir/tests/unit/model/tiny.tsv" -o "$T/tiny.model" \
	--class abusive --license "test fixture"
t_eq "--train on the fixture: exit 0" 0 "$rc"
t_match "--train writes a model with its header" "^triage-model 1" \
	"$(head -n 1 "$T/tiny.model" 2>/dev/null)"
printf 'model {\n\tfile = "%s"\n\tweight = 6.0\n\tthreshold = 0.5\n}\n' \
	"$T/tiny.model" >"$T/model.conf"
printf 'From: a@example.org\nSubject: hi\n\nshut up you stupid idiot\n' >"$T/rude.eml"
printf 'From: a@example.org\nSubject: hi\n\nplease send the invoice, thank you\n' >"$T/kind.eml"
run -c "$T/model.conf" -t -v "$T/rude.eml"
t_match "the model scores a rude line: ABUSIVE_MODEL hit, flag abusive" \
	"ABUSIVE_MODEL" "$out"
t_match "... and the flag follows" "^\+X-Triage-Flags: abusive" "$out"
t_match "-t -v lists the features behind the model's score, strongest first" \
	'^# model probability 1\.00: c:<id \+0\.[0-9]+, c:<idi \+' "$out"
run -c "$T/model.conf" -t "$T/rude.eml"
t_check "-t without -v lists no model features" test "$(echo "$out" | grep -c '^# model')" -eq 0
run -c "$T/model.conf" -t -v "$T/kind.eml"
t_check "the model leaves a kind line alone" test "$(echo "$out" | grep -c ABUSIVE_MODEL)" -eq 0
t_match "... and -t -v shows what pulled its score down" \
	'^# model probability 0\.[0-9]+: .*[a-z]:[^,]* -[0-9]' "$out"
printf 'rules = {"%s/rules/*.rules"}\nmodel {\n\tweight = 10\n}\n' \
	"$top_srcdir" >"$T/cv.conf"
run -c "$T/cv.conf" --train "$top_srcdir/tests/unit/model/tiny.tsv" --cv 2 \
	--class abusive
t_eq "--train --cv 2 on the fixture: exit 0" 0 "$rc"
t_match "--cv reports the model, cross-validated" \
	'^model +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+ +0\.9[0-9]* ' "$out"
t_match "--cv reports rules and model together" '^both ' "$out"
run -c "$T/cv.conf" --train "$top_srcdir/tests/unit/model/tiny.tsv" \
	-o "$T/rules.model" --class abusive
t_match "--train with -c learns weights for the rule hits" \
	'^features: .*x:rule' "$(sed -n 3p "$T/rules.model" 2>/dev/null)"
t_match "... and names the rules that fired in its header" \
	'^rules: (.* )?ABUSE_INSULT_WORD( |$)' "$(grep '^rules:' "$T/rules.model")"
printf 'rules = {"%s/rules/*.rules"}\nmodel {\n\tfile = "%s"\n}\n' \
	"$top_srcdir" "$T/rules.model" >"$T/all-rules.conf"
run -n -c "$T/all-rules.conf"
t_eq "-n: a model with the rules it was trained with: exit 0" 0 "$rc"
t_check "... and no warning about its rules" test "$(echo "$err" | grep -c 'trained with rules')" -eq 0
printf 'rules = {"%s/rules/shouting.rules"}\nmodel {\n\tfile = "%s"\n}\n' \
	"$top_srcdir" "$T/rules.model" >"$T/few-rules.conf"
run -n -c "$T/few-rules.conf"
t_eq "-n: a model whose rules are gone: still exit 0" 0 "$rc"
t_match "... with a warning naming the model and the rules it lost" \
	"warning: $T/rules.model: trained with rules that the rule files no longer have .*: (.* )?ABUSE_INSULT_WORD( |\$)" "$err"
run --train "$top_srcdir/tests/unit/model/tiny.tsv" --cv 1
t_eq "--cv 1: exit 1" 1 "$rc"
# A configuration named relatively: an error found while parsing and one
# found after it name the file the same way, as the user gave it (the
# latter said the absolute path).
mkdir -p "$T/relconf"
printf 'rules = {}\nbogus_key = 1\n' >"$T/relconf/parse.conf"
printf 'rules = {}\n\nstore = "lmdb:relative"\n' >"$T/relconf/after.conf"
printf 'rules = {\n\t"nosuch.rules"\n}\n' >"$T/relconf/rules.conf"
printf 'rules = {}\ncategory refund {\n\troute = "billing"\n}\n' \
	>"$T/relconf/route.conf"
M_abs=$(cd "$(dirname "$M")" && pwd)/$(basename "$M")
rel_err()
{
	(cd "$T" && "$M_abs" -n -c "relconf/$1" 2>&1 >/dev/null) || true
}
t_match "-n -c REL: a parse error names REL:LINE" '^relconf/parse\.conf:2: ' \
	"$(rel_err parse.conf)"
t_match "-n -c REL: an error after the parse names REL:LINE too" \
	'^relconf/after\.conf:3: store' "$(rel_err after.conf)"
t_match "-n -c REL: a missing rules file names REL:LINE of its pattern" \
	"^relconf/rules\\.conf:2: rules file $T/relconf/nosuch\\.rules: no such file" \
	"$(rel_err rules.conf)"
t_match "-n -c REL: a category's unknown route names REL:LINE of its route" \
	'^relconf/route\.conf:3: category refund: route "billing" has no route section' \
	"$(rel_err route.conf)"
# strtoul() alone took "2x" as 2 and 2^32 + 2 as 2, and said "2..20
# folds" of "", "0" and "-1" without naming what it had read
for bad in 2x '' 0 -1 ' 3' 99999999999 4294967298; do
	run --train "$top_srcdir/tests/unit/model/tiny.tsv" --cv "$bad"
	t_eq "--cv \"$bad\": exit 1" 1 "$rc"
	t_eq "--cv \"$bad\": one error naming the option and the value" \
		"triage-milter: --cv \"$bad\": expected a number of folds from 2 to 20" \
		"$err"
done
run --train "$T/does-not-exist.tsv" -o "$T/x.model"
t_eq "--train on a missing file: exit 1" 1 "$rc"

# ---- --train on stored messages ----------------------------------------------
# The fixture's rows as mail: the subject and the row are the new text;
# every negative one also quotes a rude earlier message and signs with
# rude words.  Trained on the messages, the model must see exactly what
# the daemon scores (subject and new text, no quote, no signature), so it
# equals the model trained on a TSV of "subject\n\ntext".
mkdir -p "$T/mail"
: >"$T/mail/labels"
: >"$T/fresh.tsv"
i=0
tab=$(printf '\t')
tail -n +2 "$top_srcdir/tests/unit/model/tiny.tsv" >"$T/rows"
while IFS="$tab" read -r label text; do
	i=$((i + 1))
	{
		printf 'From: c%d@example.org\nTo: support@example.org\n' "$i"
		printf 'Subject: case %d\n\n%s\n' "$i" "$text"
		if [ "$label" = none ]; then
			printf '\nOn Mon, 2 Nov 2026, Support wrote:\n'
			printf '> shut up you stupid idiot\n> moron\n\n'
			printf -- '-- \nidiot loser fool clown\n'
		fi
	} >"$T/mail/m$i.eml"
	printf 'm%d.eml\t%s\n' "$i" "$label" >>"$T/mail/labels"
	printf '%s\tcase %d\\n\\n%s\n' "$label" "$i" "$text" >>"$T/fresh.tsv"
done <"$T/rows"
run --train "$T/mail" --labels "$T/mail/labels" -o "$T/mail.model" \
	--class abusive --license "test fixture" --data fixture
t_eq "--train DIR --labels FILE: exit 0" 0 "$rc"
t_match "... the header counts the messages" '^data: fixture \(40 messages, 20 positive\)' \
	"$(grep '^data:' "$T/mail.model" 2>/dev/null)"
run --train "$T/fresh.tsv" -o "$T/fresh.model" --class abusive \
	--license "test fixture" --data fixture
t_eq "--train on the messages' subject and new text as TSV: exit 0" 0 "$rc"
grep -v '^data:' "$T/mail.model" >"$T/mail.model.w"
grep -v '^data:' "$T/fresh.model" >"$T/fresh.model.w"
t_check "trained on messages = trained on their subject and new text (quotes and signatures left out)" \
	cmp -s "$T/mail.model.w" "$T/fresh.model.w"
run -c "$T/cv.conf" --train "$T/mail" --labels "$T/mail/labels" --cv 2 \
	--class abusive
t_eq "--train DIR --labels FILE --cv 2: exit 0" 0 "$rc"
t_match "... with the rules, the model and both" '^both ' "$out"

# ---- --eval DIR measures what the daemon sees -------------------------------------
# Two abusive messages; in the second the insult comes after max_scan_bytes,
# which the daemon never reads: -t and --eval DIR must both miss it.
mkdir -p "$T/cut"
printf 'rules = {"%s/rules/*.rules"}\nmax_scan_bytes = 4096\n' \
	"$top_srcdir" >"$T/cut.conf"
printf 'From: a@example.org\nSubject: order\n\nYou people are idiots.\n' \
	>"$T/cut/short.eml"
{
	printf 'From: b@example.org\nSubject: order\n\n'
	for i in $(seq 200); do
		printf 'Line %d of the order history, all of it fine.\n' "$i"
	done
	printf 'You people are idiots.\n'
} >"$T/cut/long.eml"
printf 'short.eml\tabusive\nlong.eml\tabusive\n' >"$T/cut/labels"
run -c "$T/cut.conf" -t "$T/cut/short.eml" "$T/cut/long.eml"
t_eq "-t finds the insult read, not the one past max_scan_bytes" 1 \
	"$(grep -c '^+X-Triage-Flags:.*abusive' "$T/out")"
run -c "$T/cut.conf" --eval "$T/cut" --labels "$T/cut/labels"
t_eq "--eval DIR: exit 0" 0 "$rc"
t_match "--eval DIR counts as the daemon: 1 found, 1 past max_scan_bytes missed" \
	'^abusive +1 +0 +1 +0 ' "$out"

run --labels "$T/mail/labels" -t "$T/mail/m1.eml"
t_eq "--labels without --eval or --train: exit 1" 1 "$rc"
t_match "... saying what it goes with" 'labels goes with --eval DIR or --train DIR, not with -t' "$err"

# ---- options of one mode given with another --------------------------------
# Each was ignored in silence: the daemon started, -n said all was well.
# -f keeps a daemon that wrongly starts in the foreground, under timeout.
{
	printf 'socket = "unix:%s/modes.sock"\n' "$T"
	printf 'rules = {"%s/rules/*.rules"}\n' "$top_srcdir"
	printf 'temp_dir = "%s"\nallow_root = true\n' "$T"
} >"$T/modes.conf"
# mode_case DESC PATTERN ARGS... - exit 1 and PATTERN on stderr
mode_case()
{
	local desc=$1 want=$2
	shift 2
	rc=0
	timeout -k 2 10 "$M" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	t_eq "$desc: exit 1" 1 "$rc"
	t_match "$desc: says what goes with what" "$want" "$(cat "$T/err")"
}
mode_case "--cv with the daemon" '^triage-milter: --cv goes with --train, not with the daemon$' \
	-f -c "$T/modes.conf" --cv 5
mode_case "--json with the daemon" '--json goes with -t, not with the daemon' \
	-f -c "$T/modes.conf" --json
mode_case "-o with -n" '-o goes with --train, not with -n' \
	-n -c "$T/modes.conf" -o "$T/modes.model"
t_check "-o with -n: no model written" test ! -e "$T/modes.model"
mode_case "--class with --verify" '--class goes with --train, not with --verify' \
	--verify "$T/mail/m1.eml" -c "$T/modes.conf" --class abusive
mode_case "-f with -t" '-f goes with the daemon, not with -t' \
	-t -f -c "$T/modes.conf" "$T/mail/m1.eml"
mode_case "-t and --eval" '-t and --eval are two modes: give one' \
	-t --eval "$T/mail" -c "$T/modes.conf" "$T/mail/m1.eml"
run -n -p "unix:$T/other.sock" -c "$T/modes.conf"
t_eq "-p with -n: still checks the socket and exits 0" 0 "$rc"
t_check "no daemon socket was made" test ! -e "$T/modes.sock"

printf 'm1.eml\tabusive\nnot-there.eml\tnone\n' >"$T/mail/bad-labels"
run --train "$T/mail" --labels "$T/mail/bad-labels" -o "$T/x.model"
t_eq "--train DIR with a missing message: exit 1" 1 "$rc"
t_match "... naming the labels file and line" 'bad-labels:2: .*not-there\.eml' "$err"

# ---- --verify - reads standard input ------------------------------------------
# As -t - does (a file called "-" is ./-); it took "-" for a file name
# and could not tell.  A message signed for real needs the daemon:
# tests/e2e/verify.sh.
"$M" --generate-key "$T/verify.key" >/dev/null 2>&1
printf 'rules = {}\nsigning {\n\tkey_id = "main"\n\tkey_file = "verify.key"\n}\n' \
	>"$T/verify.conf"
printf 'From: a@example.com\nSubject: hi\nMessage-ID: <v1@example.com>\n\nhello\n' \
	>"$T/unsigned.eml"
{
	printf 'X-Triage-Flags: none\n'
	printf 'X-Triage-Signature: v=1; kid=main; b=AAAA\n'
	cat "$T/unsigned.eml"
} >"$T/forged.eml"
# verify_stdin DESC FILE RC PATTERN - --verify - <FILE exits RC, PATTERN
verify_stdin()
{
	rc=0
	"$M" -c "$T/verify.conf" --verify - <"$2" >"$T/out" 2>"$T/err" || rc=$?
	t_eq "--verify - <$1: exit $3" "$3" "$rc"
	t_match "--verify - <$1: reads standard input" "$4" \
		"$(cat "$T/out" "$T/err")"
}
verify_stdin "an unsigned message" "$T/unsigned.eml" 2 \
	'^-: no signature \(no X-Triage-Signature\)$'
verify_stdin "a forged signature" "$T/forged.eml" 1 '^-: malformed signature'
rc=0
"$M" -c "$T/verify.conf" --verify - <&- >"$T/out" 2>"$T/err" || rc=$?
t_eq "--verify - with standard input closed: exit 2 (cannot tell)" 2 "$rc"
t_match "... saying why" '^-: cannot tell: standard input: ' "$(cat "$T/err")"
mkdir -p "$T/dash"
cp "$T/forged.eml" "$T/dash/-"
rc=0
out=$(cd "$T/dash" && "$M" -c "$T/verify.conf" --verify ./- </dev/null 2>&1) ||
	rc=$?
t_eq "--verify ./-: the file called \"-\", exit 1" 1 "$rc"
t_match "... named as given" '^\./-: malformed signature' "$out"

# ---- privileges -------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
	printf 'socket = "unix:%s/root.sock"\n' "$T" >"$T/root.conf"
	rc=0
	timeout 20 "$M" -f -c "$T/root.conf" >"$T/out" 2>"$T/err" || rc=$?
	t_eq "as root without user or allow_root: exit 1" 1 "$rc"
	t_match "says why it refuses root" "refusing to run as root" "$(cat "$T/err")"
	# as on a real install, the socket directory belongs to the user
	mkdir -p "$T/run"
	chown nobody "$T/run"
	chmod 755 "$T"
	printf 'socket = "unix:%s/run/nobody.sock"\nsocket_mode = "0666"\nuser = "nobody"\n' \
		"$T" >"$T/nobody.conf"
	"$M" -f -c "$T/nobody.conf" >"$T/nobody.log" 2>&1 &
	pid=$!
	t_track_pid "$pid"
	for _ in $(seq 1 50); do
		[ -S "$T/run/nobody.sock" ] && break
		sleep 0.1
	done
	sleep 0.5
	t_eq "user = nobody: the daemon runs as nobody" "$(id -u nobody)" \
		"$(awk '/^Uid:/ { print $3 }' "/proc/$pid/status" 2>/dev/null)"
	t_stop_pid "$pid"
	t_check "user = nobody: the socket is removed at exit" test ! -e "$T/run/nobody.sock"
fi

run -n -c "$T/does-not-exist.conf"
t_check "-n on a missing config exits non-zero" test "$rc" -ne 0
t_match "-n on a missing config names it" "does-not-exist.conf" "$err"

# ---- -t on a file ----------------------------------------------------------------
plain=$(t_fixture plain.eml)
forged=$(t_fixture forged-headers.eml)
run -t "$plain"
t_eq "-t FILE exits 0" 0 "$rc"
t_match "-t FILE names the message" "plain\.eml" "$out"
t_match "-t FILE shows X-Triage-Flags" 'X-Triage-Flags: none' "$out"
t_match "-t FILE shows X-Triage-Length" \
	'X-Triage-Length: words=[0-9]+ paragraphs=[0-9]+ quoted=[0-9]+' "$out"
t_match "-t FILE shows X-Triage-Version" 'X-Triage-Version: triage-milter ' "$out"
run -t "$forged"
t_match "-t on forged headers names the deletions" 'X-Triage-Route' "$out"

# Without rules, -t only measures length: it says so on stderr, naming the
# configuration (or, with no -c and none installed, where it looked).
printf 'rules = {"%s/no-such-dir/*.rules"}\n' "$T" >"$T/norules.conf"
run -t -c "$T/norules.conf" "$plain"
t_match "-t with a config whose rules match no file warns, naming it" \
	"norules\.conf: no rule file matches" "$err"
conf_default=$("$M" -h 2>&1 | sed -n 's/.*(default \(.*\.conf\)).*/\1/p')
if [ -n "$conf_default" ] && [ ! -e "$conf_default" ]; then
	run -t "$plain"
	t_match "-t without -c or an installed config warns where it looked" \
		"no $conf_default and no rule file in .*only length is triaged" "$err"
fi
run -t -c "$T/shipped.conf" "$plain"
t_check "-t with rules does not warn" test -z "$err"

run -t "$T/missing.eml"
t_check "-t on a missing file exits non-zero" test "$rc" -ne 0
run -t "$plain" "$T/missing.eml"
t_check "-t with one missing file among good ones exits non-zero" \
	test "$rc" -ne 0

# ---- JSON checks ----------------------------------------------------------------
# json_check N [EXTRA] - stdout of the last run has N valid objects with
# every field of the stable API; EXTRA is a Python expression over the
# list "objs" that must be true
json_check()
{
	python3 - "$T/out" "$1" "${2:-True}" <<'EOF'
import json, sys
path, want, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3]
objs = []
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    if not line.strip():
        continue
    try:
        o = json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON: %s" % (n, e))
    if not isinstance(o, dict):
        sys.exit("line %d is not an object" % n)
    objs.append(o)
if len(objs) != want:
    sys.exit("%d objects, expected %d" % (len(objs), want))
for o in objs:
    checks = [
        ("file", isinstance(o.get("file"), str)),
        ("flags", isinstance(o.get("flags"), list)
         and all(isinstance(f, str) for f in o["flags"])),
        ("route", "route" in o and (o["route"] is None
                                    or isinstance(o["route"], str))),
        ("scores", isinstance(o.get("scores"), dict)),
        ("rules", isinstance(o.get("rules"), list)),
        ("headers", isinstance(o.get("headers"), list)
         and all(isinstance(h, list) and len(h) == 2
                 and all(isinstance(x, str) for x in h)
                 for h in o["headers"])),
        ("deleted", isinstance(o.get("deleted"), list)
         and all(isinstance(x, str) for x in o["deleted"])),
        ("ack", "ack" in o and (o["ack"] is None
                                or isinstance(o["ack"], dict))),
        ("error", "error" in o and (o["error"] is None
                                    or isinstance(o["error"], str))),
    ]
    bad = [k for k, ok in checks if not ok]
    if bad:
        sys.exit("%s: missing or mistyped: %s" % (o.get("file"), bad))
if not eval(extra, {"objs": objs}):
    sys.exit("condition failed: %s\n%s" % (extra, json.dumps(objs)[:2000]))
EOF
}

# t_json DESC N [EXTRA]
t_json()
{
	local desc=$1
	shift
	if json_check "$@" >"$T/json.err" 2>&1; then
		t_pass "$desc"
	else
		t_fail "$desc: $(cat "$T/json.err")"
	fi
}

run -t --json "$plain"
t_eq "-t --json FILE exits 0" 0 "$rc"
t_json "-t --json FILE: one object with every field, flags none" 1 \
	'objs[0]["flags"] == [] or objs[0]["flags"] == ["none"]'
t_json "-t --json FILE: headers added, error null, nothing deleted" 1 \
	'[h[0] for h in objs[0]["headers"]] == ["X-Triage-Flags", "X-Triage-Length", "X-Triage-Ack", "X-Triage-Version"] and objs[0]["ack"]["decision"] == "off" and objs[0]["ack"]["reason"] == "off" and objs[0]["error"] is None and objs[0]["deleted"] == []'

run -t --json "$forged"
t_json "-t --json forged: deleted lists both X-Triage-Flags and the Route" 1 \
	'sorted(d.lower() for d in objs[0]["deleted"]) == ["x-triage-flags", "x-triage-flags", "x-triage-route"]'

# Forged headers past max_headers or max_scan_bytes are never analysed,
# but the daemon deletes every copy the MTA names; -t must list them too.
{
	printf 'From: customer@example.net\r\nTo: support@example.com\r\n'
	i=0
	while [ $i -lt 30 ]; do
		printf 'X-Filler-%d: %0200d\r\n' $i 0
		i=$((i + 1))
	done
	printf 'X-Triage-Route: legal\r\nX-Triage-Flags: none\r\n'
	printf 'Subject: hello\r\n\r\nHello.\r\nX-Triage-Flags: in the body\r\n'
} >"$T/forged-late.eml"
printf 'max_headers = 10\nmax_scan_bytes = 4096\n' >"$T/few-headers.conf"
run -t --json -c "$T/few-headers.conf" "$T/forged-late.eml"
t_eq "-t --json forged past max_headers: exit 0" 0 "$rc"
t_json "-t --json forged past max_headers: both listed as deleted, not the body line" 1 \
	'objs[0]["deleted"] == ["X-Triage-Flags", "X-Triage-Route"] and "truncated" in objs[0]["flags"]'

run -t --json "$T/missing.eml"
t_check "-t --json on a missing file exits non-zero" test "$rc" -ne 0

# ---- a maildir ----------------------------------------------------------------------
md=$T/Maildir
mkdir -p "$md/cur" "$md/new" "$md/tmp"
cp "$plain" "$md/new/1700000000.1.host"
cp "$forged" "$md/new/1700000001.2.host"
cp "$plain" "$md/cur/1700000002.3.host:2,S"
run -t --json "$md"
t_eq "-t --json MAILDIR exits 0" 0 "$rc"
t_json "-t --json MAILDIR: one object per message in cur/ and new/" 3 \
	'all(o["file"].startswith("'"$md"'") for o in objs) and sum(1 for o in objs if "/cur/" in o["file"]) == 1'
run -t "$md"
t_eq "-t MAILDIR (text) exits 0" 0 "$rc"
t_eq "-t MAILDIR (text): three X-Triage-Flags lines" 3 \
	"$(grep -c 'X-Triage-Flags:' "$T/out" || true)"

# ---- an mbox ----------------------------------------------------------------------
mbox=$T/inbox.mbox
{
	for f in "$plain" "$forged" "$plain"; do
		printf 'From sender@example.com Mon Mar  3 10:00:00 2025\n'
		sed 's/\r$//; s/^From />From /' "$f"
		printf '\n'
	done
} >"$mbox"
run -t --json "$mbox"
t_eq "-t --json MBOX exits 0" 0 "$rc"
t_json "-t --json MBOX: one object per message" 3 \
	'sorted(len(o["deleted"]) for o in objs) == [0, 0, 3]'

# Files, a maildir and an mbox in one call.
run -t --json "$plain" "$md" "$mbox"
t_json "-t --json FILE MAILDIR MBOX: 7 objects" 7


# ---- the documentation, run as written ----------------------------------------------
# Every man page renders at 80 columns without a groff warning: a table
# wider than the page is one, and reaches the reader cut or run together.
if command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1; then
	for page in "$top_srcdir"/man/*.[58]; do
		w=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null |
			grep -Ei 'warning|error' || true)
		t_eq "man --warnings -l ${page##*/}: no warning at 80 columns" "" "$w"
	done
else
	t_log "man or groff not found: the man pages' rendering is not checked"
fi

# A command in the sample configuration's comments that goes on to the
# next line ends in a backslash; one that lost it reads "-m 0700 #   /etc"
# and fails when pasted.
w=$(grep -nE '^#.*[^ ] # {4,}' "$top_srcdir/conf/triage-milter.conf" || true)
t_eq "conf/triage-milter.conf: no command in a comment lost its line break" \
	"" "$w"

# triage-rules(5), EXAMPLES: the rule file passes -n, -t -v adds the
# headers shown there, and --eval on the labeled sample prints its line.
# doc_block N - the Nth literal block of that section
doc_block()
{
	awk -v want="$1" '/^\.Sh EXAMPLES/ { e = 1; next }
		/^\.Sh / { e = 0 }
		e && /^\.Bd -literal/ { n++; b = 1; next }
		e && /^\.Ed/ { b = 0; next }
		e && b && n == want' "$top_srcdir/man/triage-rules.5"
}
mkdir -p "$T/doc"
doc_block 1 >"$T/doc/local.rules"
printf 'rules = {"%s/doc/local.rules"}\n' "$T" >"$T/doc/try.conf"
run -n -c "$T/doc/try.conf"
t_eq "triage-rules(5) EXAMPLES: local.rules passes -n" 0 "$rc"
printf '%s\n' 'From: Dana <dana@customer.example>' \
	'To: support@example.com' 'Subject: Refund still missing' '' \
	'Three weeks and still no refund. If it is not here by Friday I will file a chargeback.' \
	>"$T/doc/refund.eml"
run -t -v -c "$T/doc/try.conf" "$T/doc/refund.eml"
t_match "triage-rules(5) EXAMPLES: -t -v names the hit" \
	'^# hit LOCAL_CHARGEBACK\(5\.0\) legal: ' "$out"
t_eq "triage-rules(5) EXAMPLES: -t -v adds the headers shown there" \
	"$(doc_block 4 | grep -oE '^\+X-Triage-[A-Za-z-]+:')" \
	"$(printf '%s\n' "$out" | grep -oE '^\+X-Triage-[A-Za-z-]+:')"
doc_block 5 >"$T/doc/labeled.tsv"
run --eval "$T/doc/labeled.tsv" -v -c "$T/doc/try.conf"
t_eq "triage-rules(5) EXAMPLES: --eval prints the legal-threat line shown" \
	"$(doc_block 6 | grep '^legal-threat ')" \
	"$(printf '%s\n' "$out" | grep '^legal-threat ')"
t_eq "triage-rules(5) EXAMPLES: --eval -v prints the miss shown" \
	"$(doc_block 6 | grep '^# FN ')" \
	"$(printf '%s\n' "$out" | grep '^# FN ')"

t_done
