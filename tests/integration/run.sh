#!/bin/bash
#
# tests/integration/run.sh - the real daemon driven by Debian's miltertest
#
# Starts triage-milter in the foreground on a unix socket in a temporary
# directory and runs the *.lua scripts beside this file against it:
#   plain.lua      headers added with the right values, accept at EOM
#   forged.lua     inbound X-Triage-* deleted, state reset per message
#   long.lua       "long" for the long rant
#   abort.lua      aborts mid-message, then a message on the same connection
#   rules.lua      the shipped rules: flag, route, score, rule names
#   route.lua      route actions: add recipient, redirect, quarantine
#   skip.lua       skip lists: internal hosts, auth, sender/recipient
#   scope.lua      triage only the support addresses (skip_recipients)
#   intl.lua       skip lists match SMTPUTF8 addresses in any case
#   truncated.lua  max_scan_bytes = 4096, a 100 KB body: accepted, truncated
#   ratecap.lua    max_per_hour = 2 with a slow transport: 2 sent, 4 held
#   envfrom.lua    MAIL FROM variants (blanks, CR inside <>) are one sender
# With one analysis slot and a 10 ms budget, 40 sessions ending at once
# (tests/bench/milter-client.py) are all answered.
# miltertest cannot see the index of a header change, so a few lines of
# Python speak the milter protocol to check the deletions' indices and
# order (X-Triage-Flags 2 before 1).  Finally abort.lua runs once more
# against the daemon under valgrind, which must report no error and no
# definite leak.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
[ -x "${MILTERTEST:-/nonexistent}" ] || t_missing "miltertest not found"
t_need_cmd python3
t_tmpdir

plain=$(t_fixture plain.eml)
forged=$(t_fixture forged-headers.eml)
rant=$(t_fixture long-rant.eml)

# expected_length FILE - X-Triage-Length that -t --json computes for FILE
expected_length()
{
	"$TRIAGE_MILTER" -t --json "$1" 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    obj = json.loads(line)
    for name, value in obj.get("headers") or []:
        if name.lower() == "x-triage-length":
            print(value)
' | head -n 1 || true
}

# run_lua NAME [-D k=v ...] - one script; PASS/FAIL from its exit status
run_lua()
{
	local name=$1 rc=0
	shift
	t_log "--- $name.lua"
	timeout 600 "$MILTERTEST" -D sock="$MILTER_SOCK" -D srcdir="$top_srcdir" "$@" \
		-s "$here/$name.lua" >"$T/$name.out" 2>&1 || rc=$?
	cat "$T/$name.out"
	if [ "$rc" -eq 0 ] && grep -q '^PASS: ' "$T/$name.out" &&
		! grep -q '^FAIL: ' "$T/$name.out"; then
		t_pass "$name.lua"
	else
		t_fail "$name.lua (miltertest exit status $rc)"
	fi
}

# stop_milter DESC - stop the daemon; it must exit 0 on SIGTERM
stop_milter()
{
	local rc=0
	t_milter_stop || rc=$?
	t_eq "$1: daemon exits 0 on SIGTERM" 0 "$rc"
	if [ "$t_failures" -ne "$phase_failures" ]; then
		t_log "milter log:"
		sed 's/^/  | /' "$MILTER_LOG"
	fi
	phase_failures=$t_failures
}
phase_failures=0

# raw_deletions SOCKPATH FILE - speak the milter protocol directly and
# print each header change as "index name value" and the final reply
raw_deletions()
{
	python3 - "$1" "$2" <<'EOF'
import socket, struct, sys

path, msgfile = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(path)

def send(cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

def recv():
    hdr = b""
    while len(hdr) < 4:
        chunk = s.recv(4 - len(hdr))
        if not chunk:
            raise SystemExit("milter closed the connection")
        hdr += chunk
    n = struct.unpack(">I", hdr)[0]
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise SystemExit("milter closed the connection")
        data += chunk
    return data[:1], data[1:]

# Offer every action and protocol flag; honour the no-reply flags the
# milter asks for.
send(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
cmd, data = recv()
assert cmd == b"O", cmd
_, _, proto = struct.unpack(">III", data[:12])
print("proto 0x%x leadspc %d" % (proto, 1 if proto & 0x100000 else 0))
NR = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
      b"L": 0x80, b"N": 0x40000, b"B": 0x80000}
SKIP = {b"C": 0x1, b"H": 0x2, b"M": 0x4, b"R": 0x8, b"B": 0x10,
        b"L": 0x20, b"N": 0x40}

def step(cmd, data=b""):
    if proto & SKIP.get(cmd, 0):
        return
    send(cmd, data)
    if proto & NR.get(cmd, 0):
        return
    r, _ = recv()
    if r not in (b"c", b"s"):
        raise SystemExit("unexpected reply %r to %r" % (r, cmd))

send(b"D", b"Cj\0mx.example.com\0")
step(b"C", b"client.example.net\0" + b"4" + struct.pack(">H", 25)
     + b"192.0.2.10\0")
step(b"H", b"client.example.net\0")
send(b"D", b"Mi\0RAWDEL001\0")
step(b"M", b"<customer@example.net>\0")
step(b"R", b"<support@example.com>\0")
raw = open(msgfile, "rb").read().replace(b"\r\n", b"\n")
head, _, body = raw.partition(b"\n\n")
headers = []
for line in head.split(b"\n"):
    if line[:1] in (b" ", b"\t") and headers:
        headers[-1][1] += b"\r\n" + line
    elif b":" in line:
        name, _, value = line.partition(b":")
        headers.append([name, value.lstrip(b" \t")])
for name, value in headers:
    lead = b" " if proto & 0x100000 else b""
    step(b"L", name + b"\0" + lead + value + b"\0")
step(b"N")
step(b"B", body.replace(b"\n", b"\r\n"))
send(b"E")
while True:
    cmd, data = recv()
    if cmd == b"m":
        idx = struct.unpack(">I", data[:4])[0]
        name, value = data[4:].split(b"\0")[:2]
        print("change %d %s %s" % (idx, name.decode(), value.decode()))
    elif cmd in (b"h", b"i"):
        if cmd == b"i":
            data = data[4:]
        name, value = data.split(b"\0")[:2]
        print("add %s|%s" % (name.decode(), value.decode()))
    elif cmd == b"p":
        continue
    else:
        print("reply %s" % cmd.decode())
        break
send(b"Q")
EOF
}

# ---- the daemon with the default limits -------------------------------
t_milter_start || t_hard_error "the milter did not start"
t_log "milter PID $MILTER_PID on $MILTER_SOCK"

run_lua plain -D msg="$plain" -D expect_length="$(expected_length "$plain")"
run_lua forged -D msg="$forged" -D plain="$plain"
run_lua long -D msg="$rant" -D expect_length="$(expected_length "$rant")"
run_lua abort -D plain="$plain"
run_lua rules -D threat="$(t_fixture legal-threat.eml)" \
	-D civil="$(t_fixture business-legal.eml)"

t_log "--- header deletion indices (raw milter protocol)"
if raw_deletions "${MILTER_SOCK#unix:}" "$forged" >"$T/raw.out" 2>&1; then
	sed 's/^/  | /' "$T/raw.out"
	# Expected: every X-Triage-* copy deleted once, with an empty value,
	# each name's copies from the last index down to 1.
	want=$(awk '
		/^\r?$/ { exit }
		tolower($0) ~ /^x-triage-[a-z-]*:/ {
			name = tolower(substr($0, 1, index($0, ":") - 1))
			n[name]++
			order[++k] = name " " n[name]
		}
		END { for (i = k; i >= 1; i--) print order[i] }' "$forged")
	got=$(awk '$1 == "change" { print tolower($3) " " $2 }' "$T/raw.out")
	t_eq "deletions: every forged copy, in reverse index order" \
		"$(echo "$want" | tr '\n' ';')" "$(echo "$got" | tr '\n' ';')"
	t_eq "deletions: values empty (smfi_chgheader NULL)" "" \
		"$(awk '$1 == "change" && NF > 3' "$T/raw.out")"
	t_match "deletions: X-Triage-Flags index 2 deleted before index 1" \
		'^2 1$' "$(awk '$1 == "change" && tolower($3) == "x-triage-flags" { printf "%s%s", sep, $2; sep = " " }' "$T/raw.out")"
	t_match "raw: accepted at end of message" '^reply [ac]$' \
		"$(grep '^reply' "$T/raw.out")"
	# Every step but end of message without a reply, body chunks too:
	# the MTA streams the message (SMFIP_NR_CONN|HELO|MAIL|RCPT|HDR|EOH
	# |BODY = 0x1000|0x2000|0x4000|0x8000|0x80|0x40000|0x80000).
	proto=$(sed -n 's/^proto \(0x[0-9a-f]*\).*/\1/p' "$T/raw.out")
	t_eq "raw: every step but end of message negotiated without reply" \
		$((0xCF080)) $(( ${proto:-0} & 0xCF080 ))
	# as many headers as the offline run of the same message adds
	t_eq "raw: the headers of -t added" \
		"$("$TRIAGE_MILTER" -c "$MILTER_CONF" -t "$forged" | grep -c '^+' || true)" \
		"$(grep -c '^add ' "$T/raw.out" || true)"
	# With SMFIP_HDR_LEADSPC negotiated the MTA inserts the value as
	# sent, so it must carry its own leading space ("Name: value").
	if grep -q 'leadspc 1' "$T/raw.out"; then
		t_eq "raw: HDR_LEADSPC negotiated, added values start with a space" "" \
			"$(grep '^add ' "$T/raw.out" | grep -v '^add [^|]*| [^ ]' || true)"
	else
		t_eq "raw: added values have no leading space" "" \
			"$(grep '^add [^|]*| ' "$T/raw.out" || true)"
	fi
else
	sed 's/^/  | /' "$T/raw.out"
	t_fail "raw milter protocol session failed"
fi
stop_milter "default limits"

# ---- route actions ---------------------------------------------------------
t_milter_start 'route legal {' '	add_recipient = {"legal@example.com"}' '}' \
	'route abuse {' '	redirect = {"abuse-desk@example.com"}' '}' \
	'route public {' '	quarantine = "public threat: held for review"' '}' ||
	t_hard_error "the milter did not start with route actions"
run_lua route -D legal="$(t_fixture legal-threat.eml)" \
	-D abusive="$(t_fixture abusive.eml)" \
	-D public="$(t_fixture public-threat.eml)" -D plain="$plain"
stop_milter "route actions"

# ---- skip lists ------------------------------------------------------------
t_milter_start 'internal_hosts = {"!192.0.2.99", "192.0.2.0/24", "::1"}' \
	'skip_authenticated = true' 'skip_senders = {"*@example.com"}' \
	'skip_recipients = {"postmaster@*"}' ||
	t_hard_error "the milter did not start with skip lists"
run_lua skip -D forged="$forged" -D threat="$(t_fixture legal-threat.eml)"
stop_milter "skip lists"

# ---- triage only the support addresses ----------------------------------
t_milter_start 'skip_recipients = {"!support@example.com", "!help@*", "*"}' ||
	t_hard_error "the milter did not start with a support-only scope"
run_lua scope -D threat="$(t_fixture legal-threat.eml)"
stop_milter "support-only scope"

# ---- skip lists with SMTPUTF8 addresses ---------------------------------
t_milter_start 'skip_senders = {"*@bücher.example", "müller@*"}' \
	'skip_recipients = {"!support@éxample.fr", "!jörg@*", "*"}' ||
	t_hard_error "the milter did not start with non-ASCII skip lists"
run_lua intl -D threat="$(t_fixture legal-threat.eml)"
stop_milter "non-ASCII skip lists"

# ---- max_scan_bytes = 4096 ----------------------------------------------
t_milter_start "max_scan_bytes = 4096" ||
	t_hard_error "the milter did not start with max_scan_bytes = 4096"
run_lua truncated -D plain="$plain"
stop_milter "max_scan_bytes = 4096"

# ---- max_per_hour with a slow transport -------------------------------------
# Each reply takes 3 s to hand off, so every decision below is taken
# before any reply reached the MTA: the cap must count queued replies.
printf '#!/bin/sh\nsleep 3\ncat >>"%s/ratecap.sent"\necho . >>"%s/ratecap.sent"\n' \
	"$T" "$T" >"$T/slow-sendmail"
chmod 755 "$T/slow-sendmail"
t_milter_start "store = \"lmdb:$T/ratecap-store\"" 'reply {' \
	'	enable = true' '	addresses = {"support@example.com"}' \
	'	from = "Example Support <support@example.com>"' \
	"	templates = \"$top_srcdir/conf/templates\"" \
	"	transport = \"sendmail:$T/slow-sendmail\"" '	max_per_hour = 2' \
	'	drain = "30s"' '}' ||
	t_hard_error "the milter did not start with max_per_hour = 2"
run_lua ratecap -D plain="$plain"
stop_milter "max_per_hour = 2"
t_eq "max_per_hour = 2: two replies reached the transport" 2 \
	"$(grep -c '^\.$' "$T/ratecap.sent" 2>/dev/null || echo 0)"

# ---- one sender, whatever the envelope's dress ------------------------------
t_milter_start "store = \"lmdb:$T/envfrom-store\"" 'frequent {' \
	'	messages = 3' '	window = "24h"' '}' ||
	t_hard_error "the milter did not start with frequent counting"
run_lua envfrom -D plain="$plain"
t_check "envfrom: no raw control character in the log" \
	sh -c "! grep -q \"\$(printf '\r')\" '$MILTER_LOG'"
stop_milter "one sender, whatever the envelope's dress"

# ---- every analysis slot busy -------------------------------------------------
# One slot, a 10 ms budget, 40 sessions ending their messages at once:
# the slot cannot serve them all in time, and those left waiting must be
# answered (accepted with the forged header removed and no triage header,
# one log line each saying so), never left hanging.
python3 - "$T/busy.eml" <<'EOF'
import sys
line = "All work and no play makes a long message for the busy test.\r\n"
body = "".join("%05d %s" % (i, line) for i in range(3000))
open(sys.argv[1], "w").write(
    "From: busy@example.net\r\nTo: support@example.com\r\n"
    "Subject: busy\r\nX-Triage-Flags: forged\r\n\r\n" + body)
EOF
t_milter_start 'max_concurrent_scans = 1' 'scan_timeout_ms = 10' ||
	t_hard_error "the milter did not start with max_concurrent_scans = 1"
rc=0
python3 "$top_srcdir/tests/bench/milter-client.py" "${MILTER_SOCK#unix:}" \
	"$T/busy.eml" 40 >"$T/busy.out" 2>&1 || rc=$?
sed 's/^/  | /' "$T/busy.out"
t_eq "busy: the client saw no error" 0 "$rc"
t_match "busy: all 40 sessions answered at end of message" \
	'connections=40 verdicts_ok=40 ' "$(cat "$T/busy.out")"
t_check "busy: sessions without a slot in time logged as accepted, the forged header removed" \
	grep -q 'no analysis slot came free within scan_timeout_ms.*; message accepted without triage headers, 1 forged X-Triage-[*] header(s) removed$' \
	"$MILTER_LOG"
t_check "busy: none of them logged as accepted unchanged" \
	sh -c "! grep -q 'accepted unchanged' '$MILTER_LOG'"
t_log "busy: $(grep -c 'no analysis slot came free' "$MILTER_LOG" || true) of 40 sessions found no slot in time"
run_lua plain -D msg="$plain" -D expect_length="$(expected_length "$plain")"
stop_milter "every analysis slot busy"

# ---- abort.lua under valgrind ---------------------------------------------
# An ASan build cannot run under valgrind; it checks the same itself.
if [ "${TRIAGE_SANITIZERS:-0}" = 1 ]; then
	t_log "valgrind phase skipped: the binary is built with sanitizers"
elif command -v valgrind >/dev/null 2>&1; then
	T_MILTER_WRAPPER="valgrind --quiet --error-exitcode=66 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-fds=no --log-file=$T/valgrind.log"
	if t_milter_start; then
		t_match "valgrind: the daemon runs under memcheck" '^memcheck' \
			"$(cat "/proc/$MILTER_PID/comm" 2>/dev/null || true)"
		run_lua abort -D plain="$plain"
		rc=0
		t_milter_stop || rc=$?
		if [ "$rc" -eq 0 ]; then
			t_pass "valgrind: no error, no definite leak (abort.lua)"
		else
			t_fail "valgrind: exit status $rc (66 = valgrind found errors)"
			sed 's/^/  | /' "$T/valgrind.log"
			sed 's/^/  | /' "$MILTER_LOG"
		fi
	else
		t_fail "the milter did not start under valgrind"
		sed 's/^/  | /' "$T/valgrind.log" 2>/dev/null || true
	fi
	T_MILTER_WRAPPER=
else
	t_missing "valgrind not found"
fi

t_done
