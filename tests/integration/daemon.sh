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
#
# Functions named only as arguments (t_wait_for, t_check):
# shellcheck disable=SC2317
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
t_need_cmd python3
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
# exit status and standard error
run()
{
	rc=0
	"$M" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
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
pid=$(tr -dc '0-9' <"$PIDFILE" 2>/dev/null || true)
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

t_done
