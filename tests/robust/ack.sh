#!/bin/bash
#
# tests/robust/ack.sh - real bounces and real list mail never get an
# acknowledgment
#
# With acknowledgments on and every message addressed to the support
# address, `-t --json` must decide "suppress" (or at least never "send")
# for every bounce of ../shared/eval/sisimai_bounce_emails and for every
# SpamAssassin ham message that carries mailing-list headers (List-*,
# Mailing-List, Precedence: list/bulk/junk - found here by reading the
# headers independently of the milter).  Counts per reason are printed.
# Skips (77) when ../shared/eval is absent.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
eval_dir=${TRIAGE_EVAL_DIR:-$top_srcdir/../shared/eval}
[ -d "$eval_dir" ] || t_skip "$eval_dir is absent"
command -v python3 >/dev/null 2>&1 || t_missing "python3 not found"
t_tmpdir

cat >"$T/ack.conf" <<CONF
rules = {"$top_srcdir/rules/*.rules"}
store = "lmdb:$T/store"
reply {
	enable = true
	addresses = {"support@example.com"}
	from = "Example Support <support@example.com>"
	templates = "$top_srcdir/conf/templates"
}
CONF

# judge NAME FILE... - every message's ack decision must not be "send"
judge()
{
	local name=$1 rc=0
	shift
	"$TRIAGE_MILTER" -c "$T/ack.conf" -t --json \
		--env-rcpt support@example.com "$@" >"$T/$name.json" \
		2>"$T/$name.err" || rc=$?
	python3 - "$name" "$T/$name.json" <<'PY' || return 1
import collections, json, sys
name, path = sys.argv[1], sys.argv[2]
reasons = collections.Counter()
sent = []
n = 0
for line in open(path, encoding="utf-8"):
    o = json.loads(line)
    n += 1
    ack = o.get("ack") or {}
    if ack.get("decision") == "send":
        sent.append(o["file"])
    reasons[ack.get("reason")] += 1
print("%s: %d messages, reasons: %s" % (name, n,
      ", ".join("%s=%d" % kv for kv in reasons.most_common())))
for f in sent[:20]:
    print("  would send to: %s" % f)
if n == 0 or sent:
    sys.exit(1)
PY
}

# ---- bounces --------------------------------------------------------------
mapfile -d '' bounces < <(find "$eval_dir/sisimai_bounce_emails" -type f \
	! -name '*.md' ! -name 'LICENSE*' -print0 | sort -z)
if judge bounces "${bounces[@]}"; then
	t_pass "no bounce gets an acknowledgment (${#bounces[@]} files)"
else
	t_fail "a bounce would get an acknowledgment"
fi

# ---- list mail in the SpamAssassin ham --------------------------------------
python3 - "$eval_dir/spamassassin_public_corpus" >"$T/lists.txt" <<'PY'
import email, os, re, sys
root = sys.argv[1]
for d, _, files in sorted(os.walk(root)):
    if "ham" not in d:
        continue
    for f in sorted(files):
        p = os.path.join(d, f)
        with open(p, "rb") as fh:
            m = email.message_from_binary_file(fh)
        keys = [k.lower() for k in m.keys()]
        prec = (m.get("Precedence") or "").strip().lower()
        if any(k.startswith("list-") or k == "mailing-list" for k in keys) \
                or prec in ("list", "bulk", "junk"):
            print(p)
PY
mapfile -t lists <"$T/lists.txt"
t_check "the ham holds list messages to test" test "${#lists[@]}" -gt 100
if judge lists "${lists[@]}"; then
	t_pass "no mailing-list message gets an acknowledgment (${#lists[@]})"
else
	t_fail "a mailing-list message would get an acknowledgment"
fi
t_done
