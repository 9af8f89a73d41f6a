#!/bin/bash
#
# tests/integration/faults.sh - the file systems under the milter fail
#
# Runs in a private mount namespace (unshare -m, root) so it can give the
# milter small tmpfs file systems and fill them.  miltertest drives the
# real daemon with tests/integration/spill.lua: a 200 KB message whose
# legal threat is in its last lines.  Checks:
#   spill       memory_buffer_bytes = 8192, temp_dir a directory: the body
#               spills to a temporary file, the threat at its end is found
#               (the whole body was analysed), nothing is left in temp_dir
#   notdir      temp_dir is a regular file: the message is accepted, its
#               verdict says truncated, one log line names temp_dir
#   temp-full   temp_dir on a full tmpfs: accepted, truncated, one log line
#               with "No space left on device"
#   store-full  the LMDB store's file system fills up while the milter
#               runs, frequent counting on: every message from 40 new
#               senders is accepted with its verdict and no count, one log
#               line says why; after space is freed counting works again
#               and one line says so
#   store-unwritable  a store that cannot be created at start: the
#               milter exits 1 with one line naming directory and reason
#               (Postfix's milter_default_action = accept lets mail pass)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
[ -x "${MILTERTEST:-/nonexistent}" ] || t_missing "miltertest not found"
t_need_root "mounting tmpfs file systems"
if [ "${TRIAGE_IN_MOUNTNS:-0}" != 1 ]; then
	unshare -m true 2>/dev/null ||
		t_missing "cannot create a mount namespace (unshare -m)"
	exec unshare -m -- env TRIAGE_IN_MOUNTNS=1 bash "$0" "$@"
fi
t_tmpdir

# spill QID KB EXPECT COUNT [FROM] - one spill.lua message; 0 when it passed
spill()
{
	local rc=0
	timeout 300 "$MILTERTEST" -D sock="$MILTER_SOCK" -D srcdir="$top_srcdir" \
		-D qid="$1" -D kb="$2" -D expect="$3" -D count="$4" \
		-D mail_from="<${5:-customer@example.net}>" \
		-s "$here/spill.lua" >"$T/$1.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] || ! grep -q '^PASS: ' "$T/$1.out" ||
		grep -q '^FAIL: ' "$T/$1.out"; then
		sed 's/^/  | /' "$T/$1.out"
		return 1
	fi
	return 0
}

# fill DIR - write zeros into DIR until its file system is full
fill()
{
	dd if=/dev/zero of="$1/fill" bs=4096 2>/dev/null || true
	sync
}

# log_lines PATTERN - lines of the milter log matching PATTERN
log_lines()
{
	grep -c -- "$1" "$MILTER_LOG" || true
}

# ---- spill: the body goes to an unnamed temporary file -----------------
mkdir "$T/spill"
t_milter_start 'memory_buffer_bytes = 8192' "temp_dir = \"$T/spill\"" ||
	t_hard_error "the milter did not start"
if spill SPILL0001 200 whole ""; then
	t_pass "spill: 200 KB analysed whole through the temporary file"
else
	t_fail "spill: 200 KB analysed whole through the temporary file"
fi
t_eq "spill: nothing left in temp_dir" "" "$(ls -A "$T/spill")"
t_eq "spill: no error logged" 0 "$(log_lines 'temporary file')"
t_milter_stop || t_fail "spill: the milter did not stop cleanly"

# ---- notdir: temp_dir is not a directory -------------------------------
: >"$T/notdir"
t_milter_start 'memory_buffer_bytes = 8192' "temp_dir = \"$T/notdir\"" ||
	t_hard_error "the milter did not start"
if spill NOTDIR001 200 truncated "" && spill NOTDIR002 1 whole ""; then
	t_pass "notdir: accepted, truncated; a small message is still whole"
else
	t_fail "notdir: accepted, truncated; a small message is still whole"
fi
t_eq "notdir: one log line naming temp_dir" 1 \
	"$(log_lines "NOTDIR001: cannot create a temporary file in $T/notdir")"
t_milter_stop || t_fail "notdir: the milter did not stop cleanly"

# ---- temp-full: temp_dir on a full file system -------------------------
mkdir "$T/tfull"
mount -t tmpfs -o size=64k tmpfs "$T/tfull" || t_hard_error "mount tmpfs failed"
fill "$T/tfull"
t_milter_start 'memory_buffer_bytes = 8192' "temp_dir = \"$T/tfull\"" ||
	t_hard_error "the milter did not start"
if spill TFULL0001 200 truncated ""; then
	t_pass "temp-full: accepted, truncated"
else
	t_fail "temp-full: accepted, truncated"
fi
t_eq "temp-full: one log line, No space left on device" 1 \
	"$(log_lines 'TFULL0001: cannot write the temporary file.*No space left on device')"
t_milter_stop || t_fail "temp-full: the milter did not stop cleanly"
umount "$T/tfull"

# ---- store-full: the store's file system fills while the milter runs ---
mkdir "$T/sfull"
mount -t tmpfs -o size=1m tmpfs "$T/sfull" || t_hard_error "mount tmpfs failed"
mkdir -m 0700 "$T/sfull/store"
t_milter_start "store = \"lmdb:$T/sfull/store\"" \
	"store_key_file = \"$T/site.key\"" \
	'frequent {' 'messages = 100' '}' ||
	t_hard_error "the milter did not start"
if spill SFULL0000 1 whole present sender0@example.net; then
	t_pass "store-full: counted while there is room"
else
	t_fail "store-full: counted while there is room"
fi
fill "$T/sfull"
ok=1
for i in $(seq 1 40); do
	spill "SFULL$(printf %04d "$i")" 1 whole absent "sender$i@example.net" || ok=0
done
if [ "$ok" = 1 ]; then
	t_pass "store-full: 40 new senders on a full disk: accepted with a verdict, not counted"
else
	t_fail "store-full: 40 new senders on a full disk: accepted with a verdict, not counted"
fi
t_eq "store-full: one log line for the outage, with the reason" 1 \
	"$(log_lines 'store unavailable (lmdb:.*No space left on device)')"
rm -f "$T/sfull/fill"
if spill SFULL0100 1 whole present sender100@example.net; then
	t_pass "store-full: counting works again once there is room"
else
	t_fail "store-full: counting works again once there is room"
fi
t_eq "store-full: one log line when it is back" 1 \
	"$(log_lines 'store available again')"
t_alive "$MILTER_PID" && t_pass "store-full: the milter is still running" ||
	t_fail "store-full: the milter died"
t_milter_stop || t_fail "store-full: the milter did not stop cleanly"
umount "$T/sfull"

# ---- store-unwritable: the store cannot be opened at start --------------
# A configuration error found at start: the milter refuses to run with
# one line naming the directory and the reason, and Postfix
# (milter_default_action = accept, tests/e2e/postfix.sh) delivers
# untouched meanwhile.
mkdir "$T/sro"
mount -t tmpfs -o size=1m,ro tmpfs "$T/sro" || t_hard_error "mount tmpfs failed"
rm -f "$T/milter.sock"
: >"$MILTER_LOG"
t_milter_config "$T/ro.conf" "store = \"lmdb:$T/sro/new-store\"" \
	"store_key_file = \"$T/site.key\""
rc=0
timeout 30 "$TRIAGE_MILTER" -f -c "$T/ro.conf" >"$MILTER_LOG" 2>&1 || rc=$?
t_eq "store-unwritable: the milter exits 1" 1 "$rc"
t_eq "store-unwritable: one error line naming the directory and why" 1 \
	"$(log_lines "store: .*$T/sro/new-store.*Read-only file system")"
[ "$rc" = 1 ] || sed 's/^/  | /' "$MILTER_LOG"
umount "$T/sro"

t_done
