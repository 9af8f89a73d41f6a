#!/bin/bash
#
# tests/bench/postfix.sh - triage-milter's cost in a real Postfix
#
# A private Postfix (tests/lib.sh) in its own network namespace on
# loopback relays to smtp-sink.  One instance, five smtpd listeners that
# differ only in smtpd_milters (master.cf -o), so configurations can be
# interleaved without a reload:
#
#   none          :2525  no milter
#   null-unix     :2527  tests/bench/null-milter on a unix socket
#   body-unix     :2531  null-milter --body: also takes headers and body
#                        and drops them (what receiving the content costs)
#   triage-unix   :2528  triage-milter on a unix socket
#   null-inet     :2529  null-milter on TCP 127.0.0.1
#   body-inet     :2532  null-milter --body on TCP 127.0.0.1
#   triage-inet   :2530  triage-milter on TCP 127.0.0.1 (the sample config)
#
# Each round sends, per size (2 KB, 20 KB, 200 KB of English text with a
# quoted thread, from bench-classify --emit) and per configuration (the
# order rotates each round), N messages with 16 sessions twice:
#   - Postfix's smtp-source (one connection per message) for throughput,
#   - tests/bench/smtp-bench (same pattern) for per-message latency,
# and waits after each run until the queue is empty, so messages/s is end
# to end: accepted by smtpd AND delivered to smtp-sink.
#
# Usage: postfix.sh [--quick] [--rounds R] [--count N]
# Exit: 0 (figures printed; a missed target is reported, not failed),
# 77 skip, 99 hard error.
set -eu

orig_args=("$@")
quick=0
rounds=3
count=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--rounds) rounds=$2; shift ;;
	--count) count=$2; shift ;;
	*) echo "usage: $0 [--quick] [--rounds R] [--count N]" >&2; exit 2 ;;
	esac
	shift
done
[ "$quick" = 0 ] || rounds=1

# shellcheck source=../lib.sh
. "$(cd "$(dirname "$0")/.." && pwd)/lib.sh"

t_need_root "private Postfix"
t_need_cmd smtp-source smtp-sink postfix
t_need_milter
t_need_cmd bc
[ -n "$POSTFIX" ] || t_missing "postfix not found"
t_enter_netns "$0" ${orig_args[@]+"${orig_args[@]}"}
t_tmpdir

bench=$top_builddir/tests/bench
for p in bench-classify null-milter smtp-bench; do
	[ -x "$bench/$p" ] || "$top_srcdir/tests/bench/build.sh" "$top_builddir" ||
		t_hard_error "cannot build tests/bench/$p"
done
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
SMTP_SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
SESSIONS=16

sizes="2048 20480 204800"
# messages per run: per size; --count overrides all
if [ "$quick" = 1 ]; then
	declare -A N=([2048]=120 [20480]=120 [204800]=60)
else
	declare -A N=([2048]=300 [20480]=300 [204800]=150)
fi
if [ -n "$count" ]; then
	for s in $sizes; do N[$s]=$count; done
fi
configs="none null-unix body-unix triage-unix null-inet body-inet triage-inet"
declare -A PORT=([none]=2525 [null-unix]=2527 [triage-unix]=2528
	[null-inet]=2529 [triage-inet]=2530 [body-unix]=2531 [body-inet]=2532)

# ---- Postfix with one listener per configuration ------------------------

t_postfix_setup ""
{
	printf '127.0.0.1:2527 inet n - n - - smtpd -o smtpd_milters=unix:%s\n' \
		"$T/null.sock"
	printf '127.0.0.1:2528 inet n - n - - smtpd -o smtpd_milters=unix:%s\n' \
		"$T/triage.sock"
	printf '127.0.0.1:2529 inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:8895\n'
	printf '127.0.0.1:2532 inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:8896\n'
	printf '127.0.0.1:2531 inet n - n - - smtpd -o smtpd_milters=unix:%s\n' \
		"$T/body.sock"
	printf '127.0.0.1:2530 inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:8894\n'
} >>"$PF_CONF/master.cf"
cat >>"$PF_CONF/main.cf" <<EOF
# benchmark: no per-message log beyond the defaults, room for 16 sessions
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
EOF

# smtp-sink without -d: nothing written to disk, like a fast next hop
"$SMTP_SINK" -u postfix "$PF_SINK" 256 >>"$T/sink.log" 2>&1 &
SINK_PID=$!
t_track_pid "$SINK_PID"
t_wait_for "$T_WAIT_SOCKET" t_listening "$PF_SINK" ||
	t_hard_error "smtp-sink did not listen on $PF_SINK"

# ---- the milters ----------------------------------------------------------

start_proc() # LOG SOCKETSPEC CMD... ; echoes the PID
{
	local log=$1 spec=$2
	shift 2
	"$@" >>"$log" 2>&1 &
	echo $!
}

wait_sock() # SPEC PID
{
	local spec=$1 pid=$2 n=0
	while [ $n -lt 100 ]; do
		t_alive "$pid" || return 1
		case $spec in
		unix:*) [ -S "${spec#unix:}" ] && { chmod 666 "${spec#unix:}"; return 0; } ;;
		inet:*) t_listening "127.0.0.1:${spec#inet:}" && return 0 ;;
		esac
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}

null_u=$(start_proc "$T/null-unix.log" "unix:$T/null.sock" \
	"$bench/null-milter" "unix:$T/null.sock")
t_track_pid "$null_u"
null_i=$(start_proc "$T/null-inet.log" "inet:8895" \
	"$bench/null-milter" "inet:8895@127.0.0.1")
t_track_pid "$null_i"
body_u=$(start_proc "$T/body-unix.log" "unix:$T/body.sock" \
	"$bench/null-milter" --body "unix:$T/body.sock")
t_track_pid "$body_u"
body_i=$(start_proc "$T/body-inet.log" "inet:8896" \
	"$bench/null-milter" --body "inet:8896@127.0.0.1")
t_track_pid "$body_i"

t_milter_config "$T/triage-unix.conf"
sed -i "s|^socket = .*|socket = \"unix:$T/triage.sock\"|" "$T/triage-unix.conf"
t_milter_config "$T/triage-inet.conf"
sed -i 's|^socket = .*|socket = "inet:8894@127.0.0.1"|' "$T/triage-inet.conf"
tri_u=$(start_proc "$T/triage-unix.log" "" \
	"$TRIAGE_MILTER" -f -c "$T/triage-unix.conf" -p "unix:$T/triage.sock")
t_track_pid "$tri_u"
tri_i=$(start_proc "$T/triage-inet.log" "" \
	"$TRIAGE_MILTER" -f -c "$T/triage-inet.conf" -p "inet:8894@127.0.0.1")
t_track_pid "$tri_i"

wait_sock "unix:$T/null.sock" "$null_u" || t_hard_error "null-milter (unix) did not start"
wait_sock "inet:8895" "$null_i" || t_hard_error "null-milter (inet) did not start"
wait_sock "unix:$T/body.sock" "$body_u" || t_hard_error "null-milter --body did not start"
wait_sock "inet:8896" "$body_i" || t_hard_error "null-milter --body (inet) did not start"
wait_sock "unix:$T/triage.sock" "$tri_u" ||
	{ cat "$T/triage-unix.log"; t_hard_error "triage-milter (unix) did not start"; }
wait_sock "inet:8894" "$tri_i" ||
	{ cat "$T/triage-inet.log"; t_hard_error "triage-milter (inet) did not start"; }

t_postfix_start || t_hard_error "private Postfix did not start"
for c in $configs; do
	t_wait_for "$T_WAIT_SOCKET" t_listening "127.0.0.1:${PORT[$c]}" ||
		t_hard_error "smtpd for $c does not listen on ${PORT[$c]}"
done

# ---- messages ---------------------------------------------------------------

for s in $sizes; do
	"$bench/bench-classify" --emit "$s" | tr -d '\r' >"$T/msg-$s.eml"
done

queue_empty()
{
	[ -z "$(find "$PF_DIR/queue/maildrop" "$PF_DIR/queue/incoming" \
		"$PF_DIR/queue/active" "$PF_DIR/queue/deferred" \
		-type f -print -quit 2>/dev/null)" ]
}

now() { date +%s.%N; }

# run_source CONFIG SIZE COUNT - smtp-source, then drain; adds to totals
declare -A SRC_MSGS SRC_SECS SMTP_SECS BEN_MSGS BEN_SECS FAILS
run_source()
{
	local c=$1 s=$2 n=$3 t0 t1 t2 rc=0
	t0=$(now)
	"$SMTP_SOURCE" -s "$SESSIONS" -m "$n" -F "$T/msg-$s.eml" \
		-f customer@example.net -t support@example.com \
		"127.0.0.1:${PORT[$c]}" >>"$T/source.log" 2>&1 || rc=$?
	t1=$(now)
	t_wait_for 1200 queue_empty || t_log "queue not empty after 120 s ($c $s)"
	t2=$(now)
	[ "$rc" = 0 ] || FAILS[$c]=$((${FAILS[$c]:-0} + 1))
	SRC_MSGS[$c,$s]=$((${SRC_MSGS[$c,$s]:-0} + n))
	SRC_SECS[$c,$s]=$(echo "${SRC_SECS[$c,$s]:-0} + $t2 - $t0" | bc -l)
	SMTP_SECS[$c,$s]=$(echo "${SMTP_SECS[$c,$s]:-0} + $t1 - $t0" | bc -l)
}

# run_bench CONFIG SIZE COUNT - smtp-bench (latency), then drain
run_bench()
{
	local c=$1 s=$2 n=$3 t0 t2 out rc=0
	t0=$(now)
	out=$("$bench/smtp-bench" "127.0.0.1:${PORT[$c]}" "$SESSIONS" "$n" \
		"$T/msg-$s.eml" "$T/lat-$c-$s") || rc=$?
	t_wait_for 1200 queue_empty || t_log "queue not empty after 120 s ($c $s)"
	t2=$(now)
	echo "$c $s $out" >>"$T/bench.log"
	[ "$rc" = 0 ] || FAILS[$c]=$((${FAILS[$c]:-0} + 1))
	BEN_MSGS[$c,$s]=$((${BEN_MSGS[$c,$s]:-0} + n))
	BEN_SECS[$c,$s]=$(echo "${BEN_SECS[$c,$s]:-0} + $t2 - $t0" | bc -l)
}

echo "postfix.sh: Postfix $(postconf -d -h mail_version 2>/dev/null) on loopback," \
	"$SESSIONS sessions, $rounds round(s), N per run:" \
	"2KB=${N[2048]} 20KB=${N[20480]} 200KB=${N[204800]}"
# warm-up: spawn smtpd/cleanup/smtp processes and milter threads
for c in $configs; do
	"$bench/smtp-bench" "127.0.0.1:${PORT[$c]}" "$SESSIONS" 48 \
		"$T/msg-2048.eml" >/dev/null || t_log "warm-up for $c failed"
done
t_wait_for 600 queue_empty || true

started=$(now)
set -- $configs
cfg_list=("$@")
for ((r = 0; r < rounds; r++)); do
	for s in $sizes; do
		for ((k = 0; k < ${#cfg_list[@]}; k++)); do
			c=${cfg_list[$(((k + r) % ${#cfg_list[@]}))]}
			run_source "$c" "$s" "${N[$s]}"
			run_bench "$c" "$s" "${N[$s]}"
		done
	done
	printf 'round %d done after %.0f s\n' $((r + 1)) "$(echo "$(now) - $started" | bc -l)"
done

# ---- figures ---------------------------------------------------------------

pct() # FILE P -> percentile of the values in FILE
{
	sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		i = int((NR - 1) * p) + 1; printf "%.1f", v[i] }'
}

declare -A RATE
printf '\n%-12s %6s %10s %10s %10s %9s %9s %9s %8s\n' config size \
	"msgs/s" "smtp-in/s" "bench/s" "p50 ms" "p90 ms" "p99 ms" "ratio"
printf '%-12s %6s %10s %10s %10s %9s %9s %9s %8s\n' ------------ ------ \
	---------- ---------- ---------- --------- --------- --------- --------
for s in $sizes; do
	for c in $configs; do
		RATE[$c,$s]=$(echo "${SRC_MSGS[$c,$s]} / ${SRC_SECS[$c,$s]}" | bc -l)
	done
	for c in $configs; do
		case $c in
		*-inet) base=null-inet ;;
		*) base=null-unix ;;
		esac
		[ "$c" != none ] || base=null-unix
		lat=$T/lat-$c-$s
		printf '%-12s %6s %10.1f %10.1f %10.1f %9s %9s %9s %8.3f\n' \
			"$c" "$((s / 1024))KB" "${RATE[$c,$s]}" \
			"$(echo "${SRC_MSGS[$c,$s]} / ${SMTP_SECS[$c,$s]}" | bc -l)" \
			"$(echo "${BEN_MSGS[$c,$s]} / ${BEN_SECS[$c,$s]}" | bc -l)" \
			"$(pct "$lat" 0.50)" "$(pct "$lat" 0.90)" "$(pct "$lat" 0.99)" \
			"$(echo "${RATE[$c,$s]} / ${RATE[$base,$s]}" | bc -l)"
	done
done
cat <<EOF
msgs/s: smtp-source, accepted and delivered (queue drained); smtp-in/s:
smtp-source until its last 250; bench/s and latencies: smtp-bench (connect
to the 250 after the final dot). ratio: msgs/s over the null milter on the
same transport (none: over null-unix).
EOF
printf '\nratios to no milter (msgs/s):'
for c in null-unix body-unix triage-unix null-inet body-inet triage-inet; do
	printf ' %s' "$c"
	for s in $sizes; do
		printf ' %.2f' "$(echo "${RATE[$c,$s]} / ${RATE[none,$s]}" | bc -l)"
	done
done
printf '  (2KB 20KB 200KB)\n'

target() # LABEL CONFIG BASE SIZE MIN
{
	local r
	r=$(echo "${RATE[$2,$4]} / ${RATE[$3,$4]}" | bc -l)
	if [ "$(echo "$r >= $5" | bc -l)" = 1 ]; then
		printf 'target %s: %.3f >= %s met\n' "$1" "$r" "$5"
	else
		printf 'target %s: %.3f < %s MISSED\n' "$1" "$r" "$5"
	fi
}
target "through Postfix, triage-milter/null milter at 20 KB (unix socket)" \
	triage-unix null-unix 20480 0.95
target "through Postfix, triage-milter/null milter at 200 KB (unix socket)" \
	triage-unix null-unix 204800 0.90
target "through Postfix, triage-milter/null milter at 20 KB (TCP)" \
	triage-inet null-inet 20480 0.95
target "through Postfix, triage-milter/null milter at 200 KB (TCP)" \
	triage-inet null-inet 204800 0.90
# where a gap comes from: receiving the content, or analysing it
for s in 20480 204800; do
	for t in unix inet; do
		printf 'at %d KB, %s: receiving the content (body/null) %.3f, analysing it (triage/body) %.3f\n' \
			$((s / 1024)) "$t" \
			"$(echo "${RATE[body-$t,$s]} / ${RATE[null-$t,$s]}" | bc -l)" \
			"$(echo "${RATE[triage-$t,$s]} / ${RATE[body-$t,$s]}" | bc -l)"
	done
done

# sanity: every message passed the milters, none failed
errs=$(grep -c 'warning:.*milter' "$PF_LOG" 2>/dev/null || true)
verdicts=$(cat "$T/triage-unix.log" "$T/triage-inet.log" | grep -c 'flags=' || true)
fails=0
for c in $configs; do fails=$((fails + ${FAILS[$c]:-0})); done
echo "checks: client runs failed=$fails, Postfix milter warnings=${errs:-0}," \
	"triage-milter verdicts logged=$verdicts"
if [ "${errs:-0}" != 0 ]; then
	grep 'warning:.*milter' "$PF_LOG" | sort | uniq -c | sort -rn | head -5
fi
exit 0
