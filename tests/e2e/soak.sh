#!/bin/bash
#
# tests/e2e/soak.sh - many messages through Postfix and the milter
#
# A private Postfix on loopback (tests/lib.sh) with the milter on a unix
# socket relays to smtp-sink.  Postfix's smtp-source sends N messages
# (default 1,000; `make bench` sends 10,000) from 20 concurrent SMTP
# sessions, cycling through the sample messages of tests/data (plain,
# legal and abusive, long, HTML, base64, nested, forged headers...), while
# the milter's resident memory is sampled every half second.  Checks:
#   - delivered equals sent (status=sent lines in Postfix's log);
#   - the milter logged one verdict per message and no error;
#   - Postfix logged no milter trouble (timeouts, lost connections);
#   - the milter is alive and stops cleanly;
#   - RSS flat: the last sample is at most 8 MB above the highest sample
#     of the first half (the allocator's pools are warm by then); not in
#     the sanitizer build, where ASan's quarantine keeps freed memory.
# Prints messages/s, the RSS curve in quarters, and the peak.
#
# Usage: soak.sh [--messages N]   (env SOAK_MESSAGES works too)
set -eu

orig_args=("$@")
messages=${SOAK_MESSAGES:-1000}
while [ $# -gt 0 ]; do
	case $1 in
	--messages) messages=$2; shift ;;
	--quick) messages=1000 ;;
	*) echo "usage: $0 [--messages N]" >&2; exit 2 ;;
	esac
	shift
done
sessions=20
rss_slack_kb=$((8 * 1024))

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
t_need_root "a private Postfix instance"
[ -x "${POSTFIX:-/nonexistent}" ] || t_missing "postfix not found"
t_need_cmd smtp-sink smtp-source ss
t_enter_netns "$0" ${orig_args[@]+"${orig_args[@]}"}
t_tmpdir

SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
fixtures=(plain legal-threat abusive long-rant html-only base64 nested-rfc822
	forged-headers reply-chain utf8)

# no -v: the daemon as in production, one line per message
T_MILTER_WRAPPER=
t_milter_start || t_hard_error "the milter did not start"
t_postfix_setup "$MILTER_SOCK"
# smtp-sink only counts here: no dump files for thousands of messages
PF_SINK_DIR=$T/unused
mkdir -p "$PF_SINK_DIR"
sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
"$sink" -u postfix "$PF_SINK" 256 >>"$T/sink.log" 2>&1 &
SINK_PID=$!
t_track_pid "$SINK_PID"
t_wait_for "$T_WAIT_SOCKET" t_listening "$PF_SINK" || t_hard_error "smtp-sink did not listen"
t_postfix_start || t_hard_error "the private Postfix did not start"

# sample the milter's VmRSS (kB) every half second into $T/rss
(
	while [ -r "/proc/$MILTER_PID/status" ]; do
		awk '$1 == "VmRSS:" { print $2 }' "/proc/$MILTER_PID/status" 2>/dev/null
		sleep 0.5
	done
) >"$T/rss" &
sampler=$!
t_track_pid "$sampler"

sent()
{
	grep -c ' status=sent ' "$PF_LOG" 2>/dev/null || true
}

start=$(date +%s.%N)
per=$(((messages + ${#fixtures[@]} - 1) / ${#fixtures[@]}))
total=0
for f in "${fixtures[@]}"; do
	n=$per
	[ $((total + n)) -le "$messages" ] || n=$((messages - total))
	[ "$n" -gt 0 ] || break
	# smtp-source wants CRLF-free input it sends as is; dot-stuffing is
	# its job
	sed 's/\r$//' "$(t_fixture "$f.eml")" >"$T/$f.eml"
	"$SMTP_SOURCE" -s "$sessions" -m "$n" -F "$T/$f.eml" \
		-f customer@example.net -t support@example.com \
		"$PF_SMTP" >>"$T/source.log" 2>&1 ||
		t_fail "smtp-source failed on $f"
	total=$((total + n))
done
done_sent()
{
	[ "$(sent)" -ge "$total" ]
}
t_wait_for 3000 done_sent || t_log "not all delivered after 300 s"
end=$(date +%s.%N)
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true

delivered=$(sent)
verdicts=$(grep -c ': flags=' "$MILTER_LOG" || true)
errors=$(grep -ciE 'error|warning' "$MILTER_LOG" || true)
pf_trouble=$(grep -ciE 'milter.*(timeout|lost connection|can.t read|error|unavailable)' "$PF_LOG" || true)
secs=$(echo "$end - $start" | bc -l)

t_eq "soak: delivered equals sent ($total)" "$total" "$delivered"
t_eq "soak: one verdict logged per message" "$total" "$verdicts"
t_eq "soak: no error or warning in the milter log" 0 "$errors"
[ "$errors" = 0 ] || grep -iE 'error|warning' "$MILTER_LOG" | head -n 5 | sed 's/^/  | /'
t_eq "soak: Postfix logged no milter trouble" 0 "$pf_trouble"
[ "$pf_trouble" = 0 ] || grep -iE 'milter' "$PF_LOG" | head -n 5 | sed 's/^/  | /'
if t_alive "$MILTER_PID"; then
	t_pass "soak: the milter is alive"
else
	t_fail "soak: the milter died"
fi

# RSS: quarters of the run, and the flatness check
read -r q1 q2 q3 q4 peak first_half_max last < <(awk '
	{ v[NR] = $1 }
	END {
		n = NR; if (n == 0) { print "0 0 0 0 0 0 0"; exit }
		for (q = 1; q <= 4; q++) { i = int(n * q / 4); if (i < 1) i = 1; out = out v[i] " " }
		for (i = 1; i <= n; i++) { if (v[i] > peak) peak = v[i]; if (i <= n / 2 && v[i] > fh) fh = v[i] }
		if (fh == 0) fh = v[1]
		print out peak, fh, v[n]
	}' "$T/rss")
printf 'soak.sh: %d messages, %d sessions, %.1f s, %.1f messages/s\n' \
	"$total" "$sessions" "$secs" "$(echo "$total / $secs" | bc -l)"
printf 'soak.sh: milter RSS MB at 1/4 1/2 3/4 end of the run: %.1f %.1f %.1f %.1f; peak %.1f\n' \
	"$(echo "$q1/1024" | bc -l)" "$(echo "$q2/1024" | bc -l)" \
	"$(echo "$q3/1024" | bc -l)" "$(echo "$q4/1024" | bc -l)" \
	"$(echo "$peak/1024" | bc -l)"
if [ "${TRIAGE_SANITIZERS:-0}" = 1 ]; then
	# ASan holds freed memory in its quarantine (256 MB by default), so
	# RSS grows by design there; leaks are its leak checker's job at exit
	t_log "soak: RSS flatness not checked under AddressSanitizer (quarantine)"
else
	t_check "soak: RSS flat (end ${last} kB <= first-half max ${first_half_max} kB + ${rss_slack_kb} kB)" \
		[ "$last" -le $((first_half_max + rss_slack_kb)) ]
fi

t_postfix_stop
if t_milter_stop; then
	t_pass "soak: the milter stopped cleanly"
else
	t_fail "soak: the milter did not stop cleanly"
fi
t_done
