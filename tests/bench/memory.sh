#!/bin/bash
#
# tests/bench/memory.sh - peak RSS of triage-milter under 200 concurrent
# 1 MB messages
#
# Starts the daemon (tests/lib.sh, unix socket, shipped rules, default
# limits), then a small Python client speaking the milter protocol opens
# 200 connections at once; each negotiates like Postfix (all actions and
# protocol flags offered, the milter's no-reply and skip flags honoured),
# sends envelope, headers and a 1 MB body of English text in 64 KB chunks
# (stopping when the milter answers SKIP), then all 200 wait at a barrier
# and send end-of-message together: the worst case, every buffer full and
# 200 triage_run() calls at once.  Peak RSS is VmHWM from
# /proc/PID/status, read after the buffers are full and after the
# verdicts.  Target: < 64 MB.
#
# Usage: memory.sh [--quick] [--connections N] [--size BYTES]
set -eu

orig_args=("$@")
conns=200
size=$((1024 * 1024))
while [ $# -gt 0 ]; do
	case $1 in
	--quick) ;; # already quick: about 10 s
	--connections) conns=$2; shift ;;
	--size) size=$2; shift ;;
	*) echo "usage: $0 [--quick] [--connections N] [--size BYTES]" >&2; exit 2 ;;
	esac
	shift
done
: "${orig_args[@]+x}"

# shellcheck source=../lib.sh
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
TARGET_MB=64

t_need_milter
t_need_cmd python3
t_tmpdir

bench=$top_builddir/tests/bench
[ -x "$bench/bench-classify" ] || "$top_srcdir/tests/bench/build.sh" "$top_builddir" ||
	t_hard_error "cannot build tests/bench/bench-classify"
"$bench/bench-classify" --emit "$size" >"$T/msg.eml"

# no -v: the daemon as it runs in production (one info line a message)
T_MILTER_WRAPPER=
t_milter_start || t_hard_error "triage-milter did not start"
pid=$MILTER_PID
vm() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
base_hwm=$(vm VmHWM)

rc=0
python3 "$top_srcdir/tests/bench/milter-client.py" "$T/milter.sock" "$T/msg.eml" \
	"$conns" "/proc/$pid/status" >"$T/client.out" 2>&1 || rc=$?
if ! t_alive "$pid"; then
	cat "$T/client.out"
	sed 's/^/  | /' "$MILTER_LOG" | tail -n 20
	echo "memory.sh: triage-milter DIED under $conns concurrent $((size / 1024)) KB messages"
	printf 'target peak RSS < %d MB at %d concurrent %d KB messages: MISSED (daemon crashed)\n' \
		"$TARGET_MB" "$conns" $((size / 1024))
	exit 1
fi
[ "$rc" = 0 ] || { cat "$T/client.out"; t_hard_error "milter client failed"; }

sleep 0.5
hwm=$(vm VmHWM)
rss=$(vm VmRSS)
cat "$T/client.out"
t_milter_stop || true
verdicts=$(grep -c 'flags=' "$MILTER_LOG" || true)
timeouts=$(grep -c 'timeout' "$MILTER_LOG" || true)
mb() { echo "scale=1; $1 / 1024" | bc -l; }
printf '\nmemory.sh: triage-milter, %d concurrent connections, %d KB message each, all end-of-message at once\n' \
	"$conns" $((size / 1024))
printf '  VmHWM at start        %8s MB\n' "$(mb "$base_hwm")"
printf '  VmHWM buffers full    %8s MB\n' \
	"$(mb "$(sed -n 's/.*buffered_hwm_kb=\([0-9]*\).*/\1/p' "$T/client.out")")"
printf '  VmHWM peak (after)    %8s MB\n' "$(mb "$hwm")"
printf '  VmRSS after           %8s MB\n' "$(mb "$rss")"
printf '  verdicts logged       %8s\n' "$verdicts"
printf '  scan timeouts         %8s   (accepted unanalysed: scan_timeout_ms)\n' "$timeouts"
if [ "$hwm" -lt $((TARGET_MB * 1024)) ]; then
	printf 'target peak RSS < %d MB at %d concurrent %d KB messages: %s MB met\n' \
		"$TARGET_MB" "$conns" $((size / 1024)) "$(mb "$hwm")"
else
	printf 'target peak RSS < %d MB at %d concurrent %d KB messages: %s MB MISSED\n' \
		"$TARGET_MB" "$conns" $((size / 1024)) "$(mb "$hwm")"
fi
exit 0
