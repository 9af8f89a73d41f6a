#!/bin/bash
#
# tests/integration/stop.sh - graceful stop on SIGTERM and SIGINT
#
#   1. SIGTERM with 3 miltertest sessions mid-message (stop-session.lua:
#      headers and a first body chunk sent, the other chunks follow with
#      a pause of 1.2 s): each session must complete (accepted, headers
#      added); a session that is cut says at which step and what
#      miltertest saw.  The daemon exits 0 within 30 s; the pid file (in
#      a directory of its own the daemon creates) and the unix socket
#      are removed.  A new connection tried during the stop is reported
#      (stop-probe.lua).
#   2. SIGTERM with a session that stalls mid-message for longer than
#      the stop may take: how long the daemon waits is reported, and it
#      must still exit (SIGKILL after 30 s is a failure).
#   3. SIGINT with no session: exit 0, pid file and socket removed.
#
# Functions named only as arguments (t_wait_for, t_check, t_on_exit):
# shellcheck disable=SC2317
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
[ -x "${MILTERTEST:-/nonexistent}" ] || t_missing "miltertest not found"
t_tmpdir

rant=$(t_fixture long-rant.eml)
SYNC=$T/sync
PIDFILE=$T/run/triage-milter.pid
mkdir -p "$SYNC"

show_log_on_failure()
{
	if [ "$t_failures" -ne 0 ] && [ -f "$MILTER_LOG" ]; then
		t_log "milter log:"
		sed 's/^/  | /' "$MILTER_LOG"
	fi
}
t_on_exit show_log_on_failure

now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

# start DESC - a daemon with the pid file in $T/run (absent before)
start()
{
	rm -rf "$T/run"
	t_milter_start "pidfile = \"$PIDFILE\"" ||
		t_hard_error "$1: the milter did not start"
	t_log "$1: milter PID $MILTER_PID on $MILTER_SOCK"
	t_wait_for 50 test -s "$PIDFILE" || true
	t_eq "$1: pid file $PIDFILE holds the daemon's PID" "$MILTER_PID" \
		"$(tr -dc '0-9' <"$PIDFILE" 2>/dev/null || true)"
}

# stop_and_check DESC SIGNAL LIMIT - send SIGNAL, wait up to LIMIT
# tenths of a second for the exit; the exit status must be 0, the pid
# file and the socket gone.  Sets STOP_MS (milliseconds to exit).
stop_and_check()
{
	local desc=$1 sig=$2 limit=$3 pid=$MILTER_PID rc=0 t0
	t0=$(now_ms)
	kill "-$sig" "$pid"
	if t_wait_for "$limit" t_not_alive "$pid"; then
		STOP_MS=$(($(now_ms) - t0))
		wait "$pid" || rc=$?
		t_pass "$desc: the daemon exits within $((limit / 10)) s of SIG$sig (${STOP_MS} ms)"
		t_eq "$desc: exit status 0" 0 "$rc"
	else
		STOP_MS=$(($(now_ms) - t0))
		t_fail "$desc: the daemon still runs $((limit / 10)) s after SIG$sig: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	MILTER_PID=
	t_check "$desc: pid file removed" test ! -e "$PIDFILE"
	t_check "$desc: unix socket removed" test ! -e "${MILTER_SOCK#unix:}"
}

s_pids=()
s_tags=()

# session_start TAG CHUNKS PAUSE - stop-session.lua in the background
session_start()
{
	timeout 120 "$MILTERTEST" -D sock="$MILTER_SOCK" \
		-D srcdir="$top_srcdir" -D msg="$rant" -D tag="$1" \
		-D sync="$SYNC" -D chunks="$2" -D pause="$3" \
		-s "$here/stop-session.lua" >"$T/$1.out" 2>&1 &
	s_pids+=("$!")
	s_tags+=("$1")
	t_track_pid "$!"
}

all_ready()
{
	local tag
	for tag in "${s_tags[@]}"; do
		[ -f "$SYNC/$tag.ready" ] || return 1
	done
	return 0
}

none_alive()
{
	local pid
	for pid in "${s_pids[@]}"; do
		! t_alive "$pid" || return 1
	done
	return 0
}

# sessions_wait - bounded wait for the sessions (30 s), killed after;
# each one's exit status in $T/TAG.rc
sessions_wait()
{
	t_wait_for 300 none_alive || t_log "sessions still running after 30 s"
	local i rc
	for i in "${!s_pids[@]}"; do
		rc=0
		if t_alive "${s_pids[$i]}"; then
			t_stop_pid "${s_pids[$i]}" 20
			rc=timeout
		else
			wait "${s_pids[$i]}" || rc=$?
		fi
		echo "$rc" >"$T/${s_tags[$i]}.rc"
	done
	return 0
}

# outcome TAG - the session's OUTCOME line, or how miltertest ended
outcome()
{
	local rc
	rc=$(cat "$T/$1.rc" 2>/dev/null || echo unknown)
	if grep -q '^OUTCOME' "$T/$1.out"; then
		grep -m 1 '^OUTCOME' "$T/$1.out" | tr '\n' ' '
		echo "(exit status $rc)"
	elif [ "$rc" = 141 ]; then
		echo "miltertest killed by SIGPIPE writing the next body chunk:" \
			"the milter had closed the connection (exit status 141)"
	else
		echo "no outcome (exit status $rc)"
	fi
}

# ---- 1. SIGTERM with 3 sessions mid-message ------------------------------
start term
# 6 chunks, 1.2 s apart: each session needs 6 s more after its pause,
# longer than libmilter's listener takes to notice the signal (it polls
# every 5 s), so a daemon that does not wait for its sessions cuts them
for i in 1 2 3; do
	session_start "term-$i" 6 1.2
done
if t_wait_for 300 all_ready; then
	t_pass "term: 3 sessions mid-body"
else
	t_fail "term: the sessions did not all reach the body in 30 s"
fi
t0=$(now_ms)
pid=$MILTER_PID
kill -TERM "$pid"
sleep 0.5
timeout 20 "$MILTERTEST" -D sock="$MILTER_SOCK" \
	-s "$here/stop-probe.lua" >"$T/probe.out" 2>&1 || true
t_log "term: a new connection 0.5 s after SIGTERM: $(grep '^PROBE' "$T/probe.out" || echo "no answer: $(tr '\n' ' ' <"$T/probe.out")")"
rc=0
if t_wait_for 300 t_not_alive "$pid"; then
	stop_ms=$(($(now_ms) - t0))
	wait "$pid" || rc=$?
	t_pass "term: the daemon exits within 30 s of SIGTERM ($stop_ms ms)"
	t_eq "term: exit status 0" 0 "$rc"
else
	stop_ms=$(($(now_ms) - t0))
	t_fail "term: the daemon still runs 30 s after SIGTERM: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
fi
MILTER_PID=
t_check "term: pid file removed" test ! -e "$PIDFILE"
t_check "term: unix socket removed" test ! -e "${MILTER_SOCK#unix:}"
sessions_wait
for i in "${!s_tags[@]}"; do
	tag=${s_tags[$i]}
	t_log "$tag: $(outcome "$tag")"
	grep '^miltertest:' "$T/$tag.out" | sed 's/^/  | /' || true
	if grep -q '^OUTCOME completed' "$T/$tag.out" &&
		! grep -q '^FAIL: ' "$T/$tag.out"; then
		t_pass "term: $tag completed after SIGTERM (accepted, headers added)"
	else
		t_fail "term: $tag cut by the stop, not completed: $(outcome "$tag")"
	fi
done
t_eq "term: the daemon logged the 3 messages (it finished them)" 3 \
	"$(grep -c ': term-[123]: flags=' "$MILTER_LOG" || true)"
s_pids=()
s_tags=()

# ---- 2. SIGTERM with a session stalled mid-message -----------------------
start stall
# 2 chunks, 45 s apart: longer than this test waits for the daemon
session_start stall-1 2 45
t_wait_for 300 all_ready || t_fail "stall: the session did not reach the body"
t0=$(now_ms)
pid=$MILTER_PID
kill -TERM "$pid"
rc=0
if t_wait_for 300 t_not_alive "$pid"; then
	stop_ms=$(($(now_ms) - t0))
	wait "$pid" || rc=$?
	t_log "stall: the daemon exited $stop_ms ms after SIGTERM with a session stalled mid-message"
	t_pass "stall: the daemon exits within 30 s with a stalled session ($stop_ms ms)"
	t_eq "stall: exit status 0" 0 "$rc"
else
	t_fail "stall: the daemon waits more than 30 s for a stalled session: SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
fi
MILTER_PID=
t_check "stall: pid file removed" test ! -e "$PIDFILE"
t_check "stall: unix socket removed" test ! -e "${MILTER_SOCK#unix:}"
# the stalled client sees the connection go when it sends again; do not
# wait the 45 s for it
t_stop_pid "${s_pids[0]}" 20
s_pids=()
s_tags=()

# ---- 3. SIGINT, no session ------------------------------------------------
start int
stop_and_check int INT 300

t_done
