#!/bin/bash
#
# tests/robust/eval.sh - every raw message of ../shared/eval through -t --json
#
# Real third-party mail (SpamAssassin, Enron, sisimai bounces, MIME torture
# tests) must go through the offline mode without a crash: exit status 0,
# no sanitizer report, and one valid JSON object (with the stable fields)
# for every message of every file.  Files are passed in batches, many per
# invocation; a failing batch is re-run file by file to name the culprits.
# Skips (77) when ../shared/eval is absent; TRIAGE_REQUIRE_ALL does not
# apply, as the data is not part of the project.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
eval_dir=${TRIAGE_EVAL_DIR:-$top_srcdir/../shared/eval}
folders="spamassassin_public_corpus enron_maildir_subset sisimai_bounce_emails mime_test_messages"
[ -d "$eval_dir" ] || t_skip "$eval_dir is absent"
command -v python3 >/dev/null 2>&1 || t_missing "python3 not found"
t_tmpdir
BATCH=${TRIAGE_EVAL_BATCH:-400}

# Sanitizer reports must fail even where the build would only warn.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:exitcode=86}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}

# run_batch LIST OUT ERR - -t --json on the NUL-separated files of LIST
run_batch()
{
	local rc=0
	xargs -0 -a "$1" "$TRIAGE_MILTER" -t --json >"$2" 2>"$3" || rc=$?
	if grep -Eq 'Sanitizer|runtime error:|^==[0-9]+==' "$3"; then
		[ "$rc" -ne 0 ] || rc=1
	fi
	return "$rc"
}

# culprits LIST - run each file alone, print those that crash or report
culprits()
{
	local f rc n=0
	while IFS= read -r -d '' f; do
		rc=0
		"$TRIAGE_MILTER" -t --json "$f" >/dev/null 2>"$T/one.err" || rc=$?
		if [ "$rc" -ne 0 ] ||
			grep -Eq 'Sanitizer|runtime error:' "$T/one.err"; then
			printf '  | exit %s: %s\n' "$rc" "$f"
			sed 's/^/  |   /' "$T/one.err" | head -n 20
			n=$((n + 1))
			[ $n -lt 20 ] || break
		fi
	done <"$1"
}

total_files=0
for folder in $folders; do
	dir=$eval_dir/$folder
	if [ ! -d "$dir" ]; then
		t_log "$folder: absent, skipped"
		continue
	fi
	# Every file but the dataset's own documentation.
	find "$dir" -type f ! -name 'SOURCE.md' ! -name 'LICENSE*' \
		! -name 'README*' -print0 | sort -z >"$T/$folder.all"
	n=$(tr -cd '\0' <"$T/$folder.all" | wc -c)
	total_files=$((total_files + n))
	: >"$T/$folder.json"
	failed=0
	split -t '\0' -l "$BATCH" "$T/$folder.all" "$T/$folder.batch."
	for b in "$T/$folder.batch."*; do
		if ! run_batch "$b" "$T/out" "$T/err"; then
			failed=$((failed + 1))
			t_log "$folder: a batch failed; re-running its files one by one"
			head -n 20 "$T/err" | sed 's/^/  | /'
			culprits "$b"
		fi
		cat "$T/out" >>"$T/$folder.json"
	done
	if [ "$failed" -eq 0 ]; then
		t_pass "$folder: $n files, every batch exited 0, no sanitizer report"
	else
		t_fail "$folder: $failed batch(es) crashed or exited non-zero"
	fi
	# Every line valid JSON with the stable fields; every file present.
	if python3 - "$T/$folder.all" "$T/$folder.json" "$folder" \
		>"$T/check.out" 2>&1 <<'EOF'; then
import json, sys
from collections import Counter
files = [p for p in open(sys.argv[1], "rb").read().decode(
    "utf-8", "surrogateescape").split("\0") if p]
want = set(files)
seen = Counter()
errors = Counter()
bad = []
flags = Counter()
n = 0
for i, line in enumerate(open(sys.argv[2], encoding="utf-8",
                              errors="surrogateescape"), 1):
    n += 1
    try:
        o = json.loads(line)
    except ValueError as e:
        bad.append("line %d: not JSON (%s): %.120s" % (i, e, line))
        continue
    if not isinstance(o, dict):
        bad.append("line %d: not an object" % i)
        continue
    missing = [k for k in ("file", "flags", "route", "scores", "rules",
                           "headers", "deleted", "ack", "error")
               if k not in o]
    if missing:
        bad.append("line %d: missing %s" % (i, missing))
        continue
    f = o["file"]
    if f not in want and ":" in f and f.rsplit(":", 1)[0] in want:
        f = f.rsplit(":", 1)[0]       # path:N, a message of an mbox
    if f not in want:
        bad.append("line %d: file %r is not an input" % (i, o["file"]))
        continue
    seen[f] += 1
    if o["error"] is not None:
        errors[o["error"]] += 1
    for fl in o["flags"] or ["none"]:
        flags[fl] += 1
missing = [f for f in files if not seen[f]]
print("%s: %d files, %d messages, %d with error, flags %s" % (
    sys.argv[3], len(files), n, sum(errors.values()),
    dict(sorted(flags.items()))))
for e, c in errors.most_common(5):
    print("  error x%d: %s" % (c, e))
for b in bad[:10]:
    print("  " + b)
for f in missing[:10]:
    print("  no output for %s" % f)
sys.exit(1 if bad or missing else 0)
EOF
		sed 's/^/  /' "$T/check.out"
		t_pass "$folder: one valid JSON object per message, every file covered"
	else
		sed 's/^/  /' "$T/check.out"
		t_fail "$folder: JSON output incomplete or invalid"
	fi
done

[ "$total_files" -gt 0 ] || t_skip "no message found under $eval_dir"
t_log "$total_files files in all"
t_done
