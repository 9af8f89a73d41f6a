#!/bin/bash
#
# tests/bench/latency.sh - end-of-message latency over TCP, one session
#
# The lean null milter and triage-milter, each on a loopback TCP port;
# eom-latency.py sends 20 short messages one after another to each and
# prints the median and worst time from end-of-message to the final
# answer.  Without TCP_NODELAY a milter whose answer is several small
# writes waits about 40 ms for the MTA's delayed ACK; triage-milter sets
# it on its listening socket.  Figures only: no target.
#
# Usage: latency.sh [--quick]
set -eu
# shellcheck source=../lib.sh
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
t_need_milter
t_need_cmd python3
t_tmpdir
bench=$top_builddir/tests/bench
[ -x "$bench/null-milter" ] || "$top_srcdir/tests/bench/build.sh" "$top_builddir" ||
	t_hard_error "cannot build tests/bench/null-milter"

# a free loopback port
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_port PORT - until something listens there (10 s)
wait_port()
{
	local n=0
	until python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', $1)).close()" 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 100 ] || return 1
		sleep 0.1
	done
}

np=$(port)
"$bench/null-milter" "inet:$np@127.0.0.1" >"$T/null.log" 2>&1 &
null_pid=$!
t_track_pid "$null_pid"
tp=$(port)
t_milter_config "$T/tcp.conf"
"$TRIAGE_MILTER" -f -c "$T/tcp.conf" -p "inet:$tp@127.0.0.1" >"$T/triage.log" 2>&1 &
triage_pid=$!
t_track_pid "$triage_pid"
wait_port "$np" || t_hard_error "null-milter did not listen"
wait_port "$tp" || t_hard_error "triage-milter did not listen"

echo "latency.sh: end of message to final answer over TCP, 1 session, 20 messages"
python3 "$top_srcdir/tests/bench/eom-latency.py" 127.0.0.1 "$np" 20 null-milter
python3 "$top_srcdir/tests/bench/eom-latency.py" 127.0.0.1 "$tp" 20 triage-milter
t_stop_pid "$null_pid"
t_stop_pid "$triage_pid"
