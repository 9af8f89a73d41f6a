#!/bin/bash
#
# tests/integration/daemon.sh - the daemon's start as a postmaster or an
# init script sees it: exit status, pid file and unix socket
#
#   1. Started in the background (no -f), a start that fails after the
#      fork (no such user, a store that cannot be opened) exits 1, says
#      why on standard error, and leaves neither a pid file nor a socket
#      behind; a good start exits 0 only once the daemon serves, and its
#      pid file names it.
#   2. In the foreground, a start that fails after the socket and the
#      pid file were made removes both.
#   3. A second daemon on the socket of a running one, or on its pid
#      file, exits 1 and leaves the running one reachable and its pid
#      file intact; a socket left by a SIGKILL is stale and replaced; a
#      file that is not a socket is left alone, with a clear error; a pid
#      file that is a symbolic link is not written through.
#   6. The shipped systemd unit: Type=forking, its ExecStart run as
#      systemd would returns only once the socket accepts and the pid file
#      names the daemon, its PIDFile= is the sample configuration's
#      pidfile, triage-milter(8) shows the same unit, and systemd-analyze
#      verify (where installed) has nothing to say about it.
#
# Functions named only as arguments (t_wait_for, t_check):
# shellcheck disable=SC2317
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
t_need_cmd python3 timeout
t_tmpdir
M=$TRIAGE_MILTER
RUN=$T/run
SOCK=$RUN/m.sock
PIDFILE=$RUN/m.pid

# conf FILE [LINE...] - a daemon configuration on $SOCK and $PIDFILE
conf()
{
	local file=$1 line
	shift
	{
		printf 'socket = "unix:%s"\n' "$SOCK"
		printf 'pidfile = "%s"\n' "$PIDFILE"
		printf 'rules = {"%s/rules/*.rules"}\n' "$top_srcdir"
		printf 'temp_dir = "%s"\n' "$T"
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$file"
}

# run ARGS... - run the milter to its exit (or the detach), keeping the
# exit status and standard error; a daemon that should have refused to
# start is stopped after 20 s (exit 124)
run()
{
	rc=0
	timeout -k 5 20 "$M" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	err=$(cat "$T/err")
}

# connects PATH - does a unix socket at PATH accept a connection?
connects()
{
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])' "$1" 2>/dev/null
}

# pid_in_file - the pid in $PIDFILE, or nothing
pid_in_file()
{
	[ -f "$PIDFILE" ] || return 0
	tr -dc '0-9' <"$PIDFILE"
}

# fresh - an empty run directory
fresh()
{
	rm -rf "$RUN"
	mkdir -p "$RUN"
}

# no_leftovers DESC - neither pid file nor socket remains
no_leftovers()
{
	t_check "$1: no pid file left" test ! -e "$PIDFILE"
	t_check "$1: no socket left" test ! -e "$SOCK"
}

# stop_daemon PID - SIGTERM and wait (not our child: poll)
stop_daemon()
{
	kill -TERM "$1" 2>/dev/null || return 0
	t_wait_for 300 t_not_alive "$1" || kill -KILL "$1" 2>/dev/null || true
}

allow_root=
[ "$(id -u)" != 0 ] || allow_root='allow_root = true'

# ---- 1. background start ----------------------------------------------------
fresh
conf "$T/nouser.conf" 'user = "triage-no-such-user"'
run -c "$T/nouser.conf"
t_eq "background, no such user: exit 1" 1 "$rc"
t_match "background, no such user: the reason on stderr" \
	'no-such-user.*no such user' "$err"
no_leftovers "background, no such user"

fresh
: >"$T/notadir"
conf "$T/nostore.conf" "store = \"lmdb:$T/notadir/store\"" ${allow_root:+"$allow_root"}
run -c "$T/nostore.conf"
t_eq "background, store cannot be opened: exit 1" 1 "$rc"
t_match "background, store cannot be opened: the reason on stderr" \
	'store' "$err"
no_leftovers "background, store cannot be opened"

if [ "$(id -u)" = 0 ]; then
	fresh
	conf "$T/root.conf"
	run -c "$T/root.conf"
	t_eq "background, as root without user: exit 1" 1 "$rc"
	t_match "background, as root without user: the reason on stderr" \
		'refusing to run as root' "$err"
	no_leftovers "background, as root without user"
fi

fresh
conf "$T/good.conf" ${allow_root:+"$allow_root"}
run -c "$T/good.conf"
t_eq "background, good start: exit 0" 0 "$rc"
pid=$(pid_in_file)
[ -z "$pid" ] || t_track_pid "$pid"
t_check "background, good start: the pid file names a live daemon" \
	t_alive "${pid:-0}"
t_check "background, good start: the socket accepts as the start returns" \
	connects "$SOCK"
if [ -n "$pid" ]; then
	stop_daemon "$pid"
	no_leftovers "background, after SIGTERM"
fi

# ---- 2. foreground start failing after socket and pid file -------------------
fresh
run -f -c "$T/nostore.conf"
t_eq "foreground, store cannot be opened: exit 1" 1 "$rc"
no_leftovers "foreground, store cannot be opened"

# ---- 3. one daemon per socket and pid file ------------------------------------
fresh
"$M" -f -c "$T/good.conf" >"$T/first.log" 2>&1 &
first=$!
t_track_pid "$first"
t_wait_for 100 test -S "$SOCK" || t_hard_error "the first daemon did not start"
t_wait_for 50 test -s "$PIDFILE" || true
run -f -c "$T/good.conf"
t_eq "second daemon on the same socket: exit 1" 1 "$rc"
t_match "second daemon on the same socket: says the socket is in use" \
	'm.sock: a running process listens on it' "$err"
t_check "second daemon on the same socket: the first still accepts" \
	connects "$SOCK"
t_eq "second daemon on the same socket: the pid file still names the first" \
	"$first" "$(pid_in_file)"

conf "$T/other.conf" "socket = \"unix:$RUN/other.sock\"" \
	${allow_root:+"$allow_root"}
run -f -c "$T/other.conf"
t_eq "second daemon on the same pid file: exit 1" 1 "$rc"
t_match "second daemon on the same pid file: names the running pid" \
	"pid file .* is held by a running triage-milter \\(pid $first\\)" "$err"
t_eq "second daemon on the same pid file: the pid file still names the first" \
	"$first" "$(pid_in_file)"
t_check "second daemon on the same pid file: its own socket is removed" \
	test ! -e "$RUN/other.sock"

kill -KILL "$first"
wait "$first" 2>/dev/null || true
t_check "after SIGKILL the socket is stale" test -S "$SOCK"
"$M" -f -c "$T/good.conf" >"$T/second.log" 2>&1 &
second=$!
t_track_pid "$second"
t_wait_for 100 connects "$SOCK" || true
t_check "a new daemon replaces a stale socket" connects "$SOCK"
t_stop_pid "$second" 300
no_leftovers "after the new daemon stops"

fresh
echo "not a socket" >"$SOCK"
run -f -c "$T/good.conf"
t_eq "a file in the socket's place: exit 1" 1 "$rc"
t_match "a file in the socket's place: says so" 'not a socket' "$err"
t_eq "a file in the socket's place: left alone" "not a socket" "$(cat "$SOCK")"

fresh
echo "keep me" >"$T/target"
ln -s "$T/target" "$PIDFILE"
run -f -c "$T/good.conf"
t_eq "a pid file that is a symbolic link: exit 1" 1 "$rc"
t_match "a pid file that is a symbolic link: says so" 'symbolic link' "$err"
t_eq "a pid file that is a symbolic link: its target is untouched" \
	"keep me" "$(cat "$T/target")"

# ---- 5. a file the daemon's user cannot read --------------------------------
# Started as root, the daemon reads its key before it becomes `user`; a
# reload reads it again as that user.  A key only root can read would fail
# every reload: the start says so.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	fresh
	chmod 755 "$T"
	mkdir -p "$T/pub"
	chmod 755 "$T/pub"
	chown nobody "$RUN"
	"$M" --generate-key "$T/pub/k.key" >/dev/null 2>&1 ||
		t_hard_error "--generate-key failed"
	# no rules: the source tree need not be readable by nobody
	{
		printf 'socket = "unix:%s"\npidfile = "%s"\n' "$SOCK" "$PIDFILE"
		printf 'user = "nobody"\nsigning {\n\tkey_id = "k1"\n'
		printf '\tkey_file = "%s"\n}\n' "$T/pub/k.key"
	} >"$T/pub/user.conf"
	chmod 644 "$T/pub/user.conf"
	for owner in root nobody; do
		chown "$owner" "$T/pub/k.key"
		fresh
		chown nobody "$RUN"
		"$M" -f -c "$T/pub/user.conf" 2>"$T/user.err" &
		pid=$!
		t_track_pid "$pid"
		t_wait_for 100 connects "$SOCK" || true
		stop_daemon "$pid"
		if [ "$owner" = root ]; then
			t_match "key only root can read: the start warns of reloads" \
				'every reload .SIGUSR1. will fail.*k[.]key' \
				"$(cat "$T/user.err")"
		else
			t_check "key of the daemon's user: no such warning" \
				sh -c "! grep -q 'every reload' '$T/user.err'"
		fi
	done
else
	t_log "5. skipped: needs root and the user nobody"
fi

# ---- 6. the shipped systemd unit -------------------------------------------
UNIT=$top_srcdir/conf/triage-milter.service
# unit_value KEY - the value of KEY= in the unit
unit_value()
{
	sed -n "s/^$1=//p" "$UNIT"
}
t_eq "unit: Type=forking" forking "$(unit_value Type)"
sample_pid=$(sed -n 's/^pidfile = "\(.*\)"$/\1/p' \
	"$top_srcdir/conf/triage-milter.conf")
t_eq "unit: PIDFile= is the sample configuration's pidfile" \
	"$sample_pid" "$(unit_value PIDFile)"
sed -n '/^\[Unit\]$/,$p' "$UNIT" >"$T/unit.file"
sed -n '/^\[Unit\]$/,/^WantedBy=/p' "$top_srcdir/man/triage-milter.8" |
	sed 's/\\e/\\/g' >"$T/unit.man"
t_check "unit: triage-milter(8) shows the shipped unit" \
	cmp -s "$T/unit.file" "$T/unit.man"
if command -v systemd-analyze >/dev/null 2>&1; then
	sed "s#/usr/sbin/triage-milter#$M#g" "$UNIT" >"$T/triage-milter.service"
	sdv=$(systemd-analyze verify --man=no "$T/triage-milter.service" 2>&1) ||
		sdv="exit $?: $sdv"
	t_eq "unit: systemd-analyze verify says nothing" "" "$sdv"
else
	t_log "6. systemd-analyze not installed: unit not verified"
fi
# ExecStart's arguments, the configuration replaced by a test one
read -r -a start_args <<<"$(unit_value ExecStart)"
start_args=("${start_args[@]:1}")
for i in "${!start_args[@]}"; do
	[ "${start_args[$i]}" != /etc/triage-milter/triage-milter.conf ] ||
		start_args[i]=$T/good.conf
done
fresh
run "${start_args[@]}"
t_eq "unit: ExecStart returns 0" 0 "$rc"
pid=$(pid_in_file)
[ -z "$pid" ] || t_track_pid "$pid"
t_check "unit: as ExecStart returns, the socket accepts" connects "$SOCK"
t_check "unit: as ExecStart returns, the pid file names the daemon" \
	t_alive "${pid:-0}"
[ -z "$pid" ] || stop_daemon "$pid"
no_leftovers "unit: after SIGTERM"

t_done
