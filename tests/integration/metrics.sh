#!/bin/bash
#
# tests/integration/metrics.sh - the Prometheus endpoint of the daemon
#
# What a postmaster types to look at the counters, with
#     stats_listen = "127.0.0.1:9894"
# in triage-milter.conf:
#     curl -s http://127.0.0.1:9894/metrics
# and what Prometheus scrapes:
#     scrape_configs:
#       - job_name: triage-milter
#         static_configs:
#           - targets: ["127.0.0.1:9894"]
#
# Starts the daemon with stats_listen on a free loopback port, reads
# /metrics with that curl line, runs one legal threat through it with
# miltertest, reads /metrics again and checks: the exposition parses
# (every sample line is "name{labels} value" after a # TYPE of its
# family), the counters of that message went up by exactly one, other
# paths get 404 and other methods 405.  Then -n must refuse a
# stats_listen that is not a numeric address.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
[ -x "${MILTERTEST:-/nonexistent}" ] || t_missing "miltertest not found"
t_need_cmd curl python3
t_tmpdir

# free_port - a loopback TCP port nobody listens on right now
free_port()
{
	python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
'
}

# scrape FILE - GET /metrics into FILE; the HTTP status on stdout
scrape()
{
	curl -s -o "$1" -D "$1.head" -w '%{http_code}' --max-time 10 \
		"$URL/metrics" || echo "curl-failed"
}

# sample FILE NAME - the value of one sample ("name{labels}") or "absent"
sample()
{
	awk -v want="$2" '
		index($0, want " ") == 1 { print substr($0, length(want) + 2); f = 1; exit }
		END { if (!f) print "absent" }' "$1"
}

# bad_lines FILE - lines that are not valid text format 0.0.4, and
# samples whose family has no # TYPE line before them
bad_lines()
{
	awk '
	BEGIN {
		name = "[a-zA-Z_:][a-zA-Z0-9_:]*"
		lname = "[a-zA-Z_][a-zA-Z0-9_]*"
		lval = "\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
		pair = lname "=" lval
		num = "([-+]?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|[-+]Inf|NaN)"
		sample_re = "^" name "(\\{" pair "(," pair ")*\\})? " num "( -?[0-9]+)?$"
		help_re = "^# HELP " name " .*$"
		type_re = "^# TYPE " name " (counter|gauge|histogram|summary|untyped)$"
	}
	/^# HELP / { if ($0 !~ help_re) print "bad HELP: " $0; next }
	/^# TYPE / {
		if ($0 !~ type_re) print "bad TYPE: " $0
		typed[$3] = $4
		next
	}
	/^#/ { next }
	{
		if ($0 !~ sample_re) { print "bad sample: " $0; next }
		m = $0
		sub(/[{ ].*/, "", m)
		if (!(m in typed)) {
			# a histogram family types its _bucket, _sum, _count
			base = m
			sub(/_(bucket|sum|count)$/, "", base)
			if (!(base in typed) || (typed[base] != "histogram" &&
			    typed[base] != "summary"))
				print "no TYPE before: " $0
		}
		n++
	}
	END { if (n == 0) print "no sample at all" }' "$1"
}

port=$(free_port)
URL=http://127.0.0.1:$port
# a bare port, as README's example allows: loopback
t_log "stats_listen = \"$port\""
t_milter_start "stats_listen = \"$port\"" ||
	t_hard_error "the milter did not start with stats_listen"

# the listener comes up with the daemon; give it the socket's delay
t_wait_for "$T_WAIT_SOCKET" curl -s -o /dev/null --max-time 2 "$URL/metrics" ||
	t_fail "nothing answers on $URL/metrics"

# the start line said "listening on 9894, port 9894" for a bare port
t_match "the start log names the address bound" \
	"metrics listening on 127\\.0\\.0\\.1:$port \\(GET /metrics\\)" \
	"$(cat "$MILTER_LOG")"

status=$(scrape "$T/before")
t_eq "GET /metrics: 200" 200 "$status"
t_match "Content-Type is the text format 0.0.4" \
	'^[Cc]ontent-[Tt]ype: text/plain; version=0\.0\.4' \
	"$(grep -i '^content-type:' "$T/before.head" | tr -d '\r')"
t_eq "before: the exposition parses" "" "$(bad_lines "$T/before")"
t_match "before: triage_build_info names the version" \
	'^triage_build_info\{version="[0-9][^"]*"\} 1$' \
	"$(grep '^triage_build_info' "$T/before")"
started=$(sample "$T/before" triage_start_time_seconds)
t_match "before: start time is a plausible epoch" '^[0-9]{10}$' "$started"

# one message with a flag and a route, through the daemon
cat >"$T/one.lua" <<'EOF'
-- one.lua - one legal threat, accepted at end of message
dofile(srcdir .. "/tests/integration/common.lua")
local conn = open("METRICS01")
send_file(conn, msg)
expect_reply(conn, "metrics: accepted at end of message",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
mt.disconnect(conn)
finish()
EOF
rc=0
timeout 120 "$MILTERTEST" -D sock="$MILTER_SOCK" -D srcdir="$top_srcdir" \
	-D msg="$(t_fixture legal-threat.eml)" -s "$T/one.lua" \
	>"$T/one.out" 2>&1 || rc=$?
sed 's/^/  | /' "$T/one.out"
t_eq "miltertest: one message sent" 0 "$rc"

status=$(scrape "$T/after")
t_eq "GET /metrics again: 200" 200 "$status"
t_eq "after: the exposition parses" "" "$(bad_lines "$T/after")"

# went_up NAME BY - a sample rose by exactly BY between the scrapes
went_up()
{
	local b a
	b=$(sample "$T/before" "$1")
	a=$(sample "$T/after" "$1")
	case "$b$a" in
	*absent*)
		t_fail "$1: absent (before $b, after $a)"
		return
		;;
	esac
	t_eq "$1 went up by $2" "$((${b%%.*} + $2))" "${a%%.*}"
}

went_up triage_messages_total 1
went_up 'triage_flags_total{flag="legal-threat"}' 1
went_up 'triage_routes_total{route="legal"}' 1
# acknowledgments are off in this config: suppressed, reason "off"
went_up 'triage_acks_suppressed_total{reason="off"}' 1
went_up 'triage_acks_total{decision="sent"}' 0
went_up 'triage_errors_total{kind="accepted-unchanged"}' 0
went_up 'triage_errors_total{kind="tempfailed"}' 0
went_up 'triage_scan_milliseconds_count' 1
went_up 'triage_scan_milliseconds_bucket{le="+Inf"}' 1
t_eq "start time unchanged" "$started" \
	"$(sample "$T/after" triage_start_time_seconds)"

t_eq "GET / is 404" 404 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/")"
t_eq "POST /metrics is 405" 405 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
		-X POST --data x "$URL/metrics")"

rc=0
t_milter_stop || rc=$?
t_eq "daemon exits 0 on SIGTERM" 0 "$rc"
t_eq "the listener is gone with the daemon" 000 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/metrics" || true)"
if [ "$t_failures" -ne 0 ]; then
	t_log "milter log:"
	sed 's/^/  | /' "$MILTER_LOG"
fi

# -n: a host name is refused with the file and line, not resolved
t_milter_config "$T/bad.conf" 'stats_listen = "metrics.example.com:9894"'
rc=0
"$TRIAGE_MILTER" -n -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
t_check "-n refuses stats_listen with a host name" [ "$rc" -ne 0 ]
t_match "-n names stats_listen and the line" "bad.conf:[0-9]+.*stats_listen" \
	"$(tr '\n' ' ' <"$T/bad.out")"

t_done
