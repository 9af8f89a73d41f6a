#!/bin/bash
#
# tests/offline-tools.sh - the rule author's offline tools on messy input:
# -t on maildirs, plain directories and symbolic-link loops; --eval and
# --train on TSV and labels files with a BOM, CRLF, comments, blank lines,
# odd label case, unknown labels and missing columns
#
# Every bad line must be reported as FILE:LINE and counted, never silently
# dropped; every message on disk must be read exactly once.
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
t_done
