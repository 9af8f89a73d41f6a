#!/bin/bash
#
# tests/e2e/cluster.sh - two milters sharing one Redis, as on two MX hosts
#
# A private redis-server on loopback (in this script's own network
# namespace, started in the foreground and stopped by PID; RDB snapshot
# on shutdown so that its data survives a restart, as in production), two
# triage-milter processes on two unix sockets, both with
# store = "redis://127.0.0.1:PORT/0", each with its own copy of one site
# key file (the same key on every host), acknowledgments enabled for
# support@example.com with transport smtp:// to an smtp-sink started here
# (every file the sink dumps is an acknowledgment), and
# frequent { messages = 5; window = "24h" }.
#
# Debian's miltertest drives the milters directly, one run per message
# (a Lua script written to the temporary directory prints the reply and
# the headers the milter added), so the script can alternate sockets and
# stop Redis between two messages.  Checks:
#   cluster   20 messages from one customer, odd ones to milter 1, even
#             ones to milter 2: exactly one acknowledgment in total (at the
#             sink, after a bounded wait), message 1 "sent" and the others
#             "duplicate"; X-Triage-Sender-Count n/24h with n = 1..20 in
#             order across both milters; "frequent" from the 5th on only
#   burst     6 messages from a new customer at the same time, 3 to each
#             milter: one acknowledgment, counts 1..6 each exactly once,
#             "frequent" twice; more than one "X-Triage-Ack: sent" header
#             (the reservation happens later, in the sender thread) is
#             logged as a NOTE, not failed, since it depends on timing
#   outage    Redis stopped (by PID): mail still accepted with the
#             verdict headers, no Sender-Count, no "frequent",
#             X-Triage-Ack: suppressed; reason=store-unavailable, nothing at
#             the sink, both daemons alive, "store unavailable" logged
#             once per milter (not once per message)
#   recovery  Redis restarted on the same port: within a few seconds
#             counts go on from where they were (21, 22), the dedup still
#             holds, a new customer gets one acknowledgment, and each
#             milter logs "store available again" once
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
t_need_root "a network namespace and smtp-sink"
[ -x "${MILTERTEST:-/nonexistent}" ] || t_missing "miltertest not found"
t_need_cmd redis-server smtp-sink ss
t_enter_netns "$0" "$@"
t_tmpdir

# Bounded waits, in tenths of a second: an acknowledgment that must
# arrive; how long we watch for one that must not; Redis coming up.
ACK_WAIT=${T_ACK_WAIT:-300}
ACK_QUIET=${T_ACK_QUIET:-50}
REDIS_WAIT=100
# Recovery: messages tried per milter, and the pause between two.
RECOVER_TRIES=20
RECOVER_PAUSE=0.5
# The namespace is ours alone: fixed ports cannot clash.
REDIS_PORT=6391
PF_SINK=127.0.0.1:2526
PF_SINK_DIR=$T/sink

TICKET_RE='TR-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}'
templates=$top_srcdir/conf/templates
ANN=ann@customer.example
CAROL=carol@customer.example
DAVE=dave@customer.example

# untrack_pid PID - forget a PID we stopped and reaped ourselves, so the
# exit trap cannot signal another process that got its number since
untrack_pid()
{
	local p keep=()
	for p in "${t_pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	t_pids=("${keep[@]}")
}

# ---- Redis ------------------------------------------------------------------

R=$T/redis
REDIS_PID=

# redis_ping - does the server answer PING?
redis_ping()
{
	local pong=x
	{ exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT"; } 2>/dev/null || return 1
	printf 'PING\r\n' >&3
	read -r -t 2 pong <&3 || true
	exec 3>&-
	[ "${pong%$'\r'}" = +PONG ]
}

# redis_down - the server does not answer
# shellcheck disable=SC2317 # called through t_check
redis_down()
{
	! redis_ping
}

# redis_settled - up, or dead: stop waiting either way
# shellcheck disable=SC2317 # called through t_wait_for
redis_settled()
{
	redis_ping || ! t_alive "$REDIS_PID"
}

# redis_start - start the server in the foreground, wait until it answers
redis_start()
{
	redis-server "$R/redis.conf" </dev/null >>"$R/redis.log" 2>&1 &
	REDIS_PID=$!
	t_track_pid "$REDIS_PID"
	t_wait_for "$REDIS_WAIT" redis_settled || true
	redis_ping
}

# redis_stop - SIGTERM by PID (Redis writes its snapshot), wait for it
redis_stop()
{
	[ -n "$REDIS_PID" ] || return 0
	t_stop_pid "$REDIS_PID" 100
	untrack_pid "$REDIS_PID"
	REDIS_PID=
}

mkdir "$R"
chmod 700 "$R"
cat >"$R/redis.conf" <<EOF
# written by tests/e2e/cluster.sh
port $REDIS_PORT
bind 127.0.0.1
protected-mode yes
daemonize no
dir $R
dbfilename dump.rdb
save 3600 1
appendonly no
logfile ""
EOF
t_on_exit redis_stop
redis_start || {
	sed 's/^/  | /' "$R/redis.log"
	t_hard_error "redis-server did not start on 127.0.0.1:$REDIS_PORT"
}
t_log "redis-server $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')," \
	"PID $REDIS_PID on 127.0.0.1:$REDIS_PORT"

# ---- the sink and the two milters -----------------------------------------------

mkdir -p "$PF_SINK_DIR"
chown postfix:postfix "$PF_SINK_DIR"
t_sink_start || t_hard_error "smtp-sink did not start"

# cluster_conf HOST - config lines of the milter of MX host HOST (1 or 2)
cluster_conf()
{
	printf '%s\n' \
		"store = \"redis://127.0.0.1:$REDIS_PORT/0\"" \
		"store_key_file = \"$T/host$1/site.key\"" \
		'frequent {' \
		'	messages = 5' \
		'	window = "24h"' \
		'}' \
		'reply {' \
		'	enable = true' \
		'	addresses = {"support@example.com"}' \
		'	from = "Example Support <support@example.com>"' \
		'	support_name = "Example Support"' \
		'	interval = "1h"' \
		"	templates = \"$templates\"" \
		"	transport = \"smtp://$PF_SINK\"" \
		'	timeout = "10s"' \
		'	drain = "10s"' \
		'}'
}

M_PID=("" "" "")
M_LOG=("" "$T/milter1.log" "$T/milter2.log")
M_SOCK=("" "$T/milter1.sock" "$T/milter2.sock")

# milter_ready N - socket there, or the process died
# shellcheck disable=SC2317 # called through t_wait_for
milter_ready()
{
	[ -S "${M_SOCK[$1]}" ] || ! t_alive "${M_PID[$1]}"
}

# milter_start N - milter N in the foreground on its own socket
milter_start()
{
	local n=$1 path=${M_SOCK[$1]}
	mkdir -p "$T/host$n"
	t_milter_config "$T/milter$n.conf" "$(cluster_conf "$n")"
	rm -f "$path"
	"$TRIAGE_MILTER" -f -v -c "$T/milter$n.conf" -p "unix:$path" \
		>>"${M_LOG[$n]}" 2>&1 &
	M_PID[n]=$!
	t_track_pid "${M_PID[$n]}"
	if ! t_wait_for "$T_WAIT_SOCKET" milter_ready "$n" ||
		! t_alive "${M_PID[$n]}"; then
		t_log "milter $n did not open $path; its log:"
		sed 's/^/  | /' "${M_LOG[$n]}"
		return 1
	fi
}

# milter_stop N - SIGTERM by PID; its exit status
milter_stop()
{
	local pid=${M_PID[$1]} rc=0
	[ -n "$pid" ] || return 0
	M_PID[$1]=
	kill -TERM "$pid" 2>/dev/null || true
	t_wait_for 300 t_not_alive "$pid" || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	untrack_pid "$pid"
	return "$rc"
}

milter_start 1 || t_hard_error "milter 1 did not start"
# The second MX host gets a copy of the first one's site key, as an
# administrator would deploy it.
if [ -f "$T/host1/site.key" ]; then
	mkdir -p "$T/host2"
	cp -p "$T/host1/site.key" "$T/host2/site.key"
else
	t_hard_error "milter 1 did not create its site key $T/host1/site.key"
fi
milter_start 2 || t_hard_error "milter 2 did not start"
t_log "milter 1 PID ${M_PID[1]} on ${M_SOCK[1]}, milter 2 PID ${M_PID[2]} on ${M_SOCK[2]}"
t_eq "site key mode 0600" 600 "$(stat -c %a "$T/host1/site.key")"
t_eq "no 'store unavailable' at start" 0 \
	"$(cat "${M_LOG[1]}" "${M_LOG[2]}" | grep -c 'store .*unavailable' || true)"

# ---- miltertest -------------------------------------------------------------

cat >"$T/one.lua" <<'EOF'
-- one message through one milter; -D sock, msg, qid, from.
-- Prints "REPLY name" and "HDR Name<TAB>value" for the added headers.
mt.set_timeout(30)
local conn = mt.connect(sock, 40, 0.25)
if conn == nil then
	print("ERROR: connect " .. sock)
	error("connect")
end
local function must(err, what)
	if err ~= nil then
		print("ERROR: " .. what .. ": " .. tostring(err))
		error(what)
	end
end
must(mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.com",
    "{client_addr}", "192.0.2.10"), "macro connect")
must(mt.conninfo(conn, "client.example.net", "192.0.2.10"), "conninfo")
must(mt.helo(conn, "client.example.net"), "helo")
must(mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", ""), "macro mail")
must(mt.mailfrom(conn, "<" .. from .. ">"), "mailfrom")
must(mt.rcptto(conn, "<support@example.com>"), "rcptto")
local f = io.open(msg, "rb")
local data = f:read("*a"):gsub("\r\n", "\n")
f:close()
local head, body = data:match("^(.-)\n\n(.*)$")
for line in (head .. "\n"):gmatch("(.-)\n") do
	local name, value = line:match("^([^:]+):[ \t]*(.*)$")
	must(mt.header(conn, name, value), "header " .. name)
end
must(mt.eoh(conn), "eoh")
must(mt.bodystring(conn, (body:gsub("\n", "\r\n"))), "body")
must(mt.eom(conn), "eom")
local r = mt.getreply(conn)
local names = {[SMFIR_ACCEPT] = "accept", [SMFIR_CONTINUE] = "continue",
    [SMFIR_TEMPFAIL] = "tempfail", [SMFIR_REJECT] = "reject",
    [SMFIR_DISCARD] = "discard"}
print("REPLY " .. (names[r] or tostring(r)))
for _, h in ipairs({"X-Triage-Flags", "X-Triage-Route", "X-Triage-Length",
    "X-Triage-Sender-Count", "X-Triage-Ack", "X-Triage-Version"}) do
	for i = 0, 3 do
		local v = mt.getheader(conn, h, i)
		if v == nil then
			break
		end
		print("HDR " .. h .. "\t" .. v:gsub("^ ", ""))
	end
end
mt.disconnect(conn)
EOF

# make_msg FROM TAG - a plain customer message to support@, in $T/msg-TAG
make_msg()
{
	cat >"$T/msg-$2.eml" <<EOF
From: Customer <$1>
To: support@example.com
Subject: Order 88412 still not delivered ($2)
Date: Mon, 05 Jan 2026 10:15:00 +0100
Message-ID: <$2@customer.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hello,

my order 88412 has still not arrived. Could you tell me where it is?

Thanks
EOF
}

# run_msg N FROM TAG - message TAG from FROM through milter N; output in
# $T/out-TAG; 0 when miltertest ran to the end
run_msg()
{
	local n=$1 from=$2 tag=$3 rc=0
	make_msg "$from" "$tag"
	timeout 60 "$MILTERTEST" -D sock="unix:${M_SOCK[$n]}" \
		-D msg="$T/msg-$tag.eml" -D qid="Q$tag" -D from="$from" \
		-s "$T/one.lua" >"$T/out-$tag" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		t_log "miltertest for $tag (milter $n) exited $rc:"
		sed 's/^/  | /' "$T/out-$tag"
	fi
	return "$rc"
}

# hdr TAG NAME - the values of an added header in $T/out-TAG
hdr()
{
	sed -n "s/^HDR $2	//p" "$T/out-$1"
}

reply_of()
{
	sed -n 's/^REPLY //p' "$T/out-$1"
}

n_hdr()
{
	hdr "$1" "$2" | grep -c '' || true
}

# has_flag TAG WORD - is WORD one of X-Triage-Flags' comma-separated flags?
has_flag()
{
	hdr "$1" X-Triage-Flags | tr ',' '\n' | sed 's/^ *//; s/ *$//' |
		grep -qx -- "$2"
}

# acks_to ADDR - number of sink files (acknowledgments) to ADDR
acks_to()
{
	grep -rliF -- "X-Rcpt-Args: <$1>" "$PF_SINK_DIR" 2>/dev/null |
		grep -c '' || true
}

n_sink()
{
	find "$PF_SINK_DIR" -type f | grep -c '' || true
}

# shellcheck disable=SC2317 # called through t_wait_for
acks_at_least()
{
	[ "$(acks_to "$1")" -ge "$2" ]
}

# n_logged PATTERN - lines matching a fixed string in both milter logs
n_logged()
{
	cat "${M_LOG[1]}" "${M_LOG[2]}" | grep -cF -- "$1" || true
}

quiet()
{
	sleep "$((ACK_QUIET / 10)).$((ACK_QUIET % 10))"
}

# ---- 1. 20 messages from one customer over both milters ----------------------------

counts=
for i in $(seq 1 20); do
	n=$((2 - i % 2))
	tag=ann$i
	if ! run_msg "$n" "$ANN" "$tag"; then
		t_fail "cluster $i (milter $n): miltertest failed"
		continue
	fi
	want_flag=no
	[ "$i" -lt 5 ] || want_flag=yes
	got_flag=no
	! has_flag "$tag" frequent || got_flag=yes
	count=$(hdr "$tag" X-Triage-Sender-Count)
	counts="$counts ${count%%/*}"
	t_match "cluster $i (milter $n): accepted" '^(accept|continue)$' \
		"$(reply_of "$tag")"
	t_eq "cluster $i (milter $n): X-Triage-Sender-Count" "$i/24h" "$count"
	t_eq "cluster $i (milter $n): frequent flag (from the 5th on)" \
		"$want_flag" "$got_flag"
	if [ "$i" = 1 ]; then
		t_match "cluster 1 (milter 1): X-Triage-Ack: sent; ticket=..." \
			"^sent; ticket=$TICKET_RE\$" "$(hdr "$tag" X-Triage-Ack)"
		# The sender thread reserves the dedup mark in Redis
		# asynchronously; let the acknowledgment land first so that the
		# header of message 2 is deterministic.  (The burst below does
		# not wait.)
		if t_wait_for "$ACK_WAIT" acks_at_least "$ANN" 1; then
			t_pass "cluster 1: the acknowledgment reached the sink"
		else
			t_fail "cluster 1: no acknowledgment within $((ACK_WAIT / 10)) s"
		fi
	else
		t_eq "cluster $i (milter $n): X-Triage-Ack" \
			"suppressed; reason=duplicate" "$(hdr "$tag" X-Triage-Ack)"
	fi
done
t_log "counts over both milters:$counts"
quiet
t_eq "cluster: exactly one acknowledgment at the sink for $ANN" 1 "$(acks_to "$ANN")"
t_eq "cluster: exactly one message at the sink in total" 1 "$(n_sink)"
t_eq "cluster: one 'acknowledgment sent' line over both milter logs" 1 \
	"$(n_logged "acknowledgment sent to $ANN")"

# ---- 2. a burst: 6 messages at once, 3 to each milter ---------------------------------

pids=()
for i in 1 2 3 4 5 6; do
	run_msg $((2 - i % 2)) "$CAROL" "carol$i" &
	pids+=($!)
done
burst_ok=yes
for p in "${pids[@]}"; do
	wait "$p" || burst_ok=no
done
t_eq "burst: all 6 miltertest runs completed" yes "$burst_ok"
got=$(for i in 1 2 3 4 5 6; do
	hdr "carol$i" X-Triage-Sender-Count
done | sort -t/ -k1,1n | tr '\n' ' ')
t_eq "burst: Sender-Count values are 1..6, each once" \
	"1/24h 2/24h 3/24h 4/24h 5/24h 6/24h " "$got"
nfreq=0
for i in 1 2 3 4 5 6; do
	! has_flag "carol$i" frequent || nfreq=$((nfreq + 1))
done
t_eq "burst: 'frequent' on exactly the two messages counted 5 and 6" 2 "$nfreq"
nsent=$(for i in 1 2 3 4 5 6; do hdr "carol$i" X-Triage-Ack; done |
	grep -c '^sent; ' || true)
if t_wait_for "$ACK_WAIT" acks_at_least "$CAROL" 1; then
	t_pass "burst: an acknowledgment reached the sink"
else
	t_fail "burst: no acknowledgment within $((ACK_WAIT / 10)) s"
fi
quiet
t_eq "burst: exactly one acknowledgment at the sink for $CAROL" 1 "$(acks_to "$CAROL")"
t_eq "burst: one 'acknowledgment sent' line over both milter logs" 1 \
	"$(n_logged "acknowledgment sent to $CAROL")"
if [ "$nsent" -eq 1 ]; then
	t_pass "burst: exactly one message says X-Triage-Ack: sent"
else
	# The decision is taken at end of message, the reservation later in
	# the sender thread: with simultaneous messages more than one header
	# can say "sent" while the sender sends only one.  Not a failure of
	# the cluster requirement (one acknowledgment), but worth seeing.
	t_log "NOTE: burst: $nsent messages say X-Triage-Ack: sent, one" \
		"acknowledgment was sent; the others were dropped as" \
		"'$(n_logged "to $CAROL not sent: duplicate") duplicate(s)' by the sender"
fi

# ---- 3. Redis stopped: fail open, one log line per outage --------------------------

sink_before=$(n_sink)
t_log "stopping redis-server PID $REDIS_PID"
redis_stop
t_check "outage: Redis no longer answers" redis_down
t_check "outage: Redis wrote its snapshot on shutdown (dump.rdb)" test -s "$R/dump.rdb"
for i in $(seq 1 6); do
	n=$((2 - i % 2))
	tag=down$i
	start_ms=$(date +%s%3N)
	if ! run_msg "$n" "$ANN" "$tag"; then
		t_fail "outage $i (milter $n): miltertest failed"
		continue
	fi
	ms=$(($(date +%s%3N) - start_ms))
	t_match "outage $i (milter $n): accepted" '^(accept|continue)$' "$(reply_of "$tag")"
	t_eq "outage $i (milter $n): X-Triage-Flags added once" 1 "$(n_hdr "$tag" X-Triage-Flags)"
	t_eq "outage $i (milter $n): X-Triage-Version added once" 1 "$(n_hdr "$tag" X-Triage-Version)"
	t_eq "outage $i (milter $n): no X-Triage-Sender-Count" 0 \
		"$(n_hdr "$tag" X-Triage-Sender-Count)"
	if has_flag "$tag" frequent; then
		t_fail "outage $i (milter $n): 'frequent' without a count"
	else
		t_pass "outage $i (milter $n): no 'frequent' without a count"
	fi
	t_eq "outage $i (milter $n): X-Triage-Ack" \
		"suppressed; reason=store-unavailable" "$(hdr "$tag" X-Triage-Ack)"
	t_log "outage $i: one message took $ms ms (miltertest included)"
done
t_check "outage: milter 1 still running" t_alive "${M_PID[1]}"
t_check "outage: milter 2 still running" t_alive "${M_PID[2]}"
quiet
t_eq "outage: nothing new at the sink" "$sink_before" "$(n_sink)"
for n in 1 2; do
	t_eq "outage: milter $n logged 'store unavailable' once (3 messages)" 1 \
		"$(grep -c 'store unavailable' "${M_LOG[$n]}" || true)"
done

# ---- 4. Redis back on the same port: counts and acknowledgments work again ------------

redis_start || {
	sed 's/^/  | /' "$R/redis.log"
	t_hard_error "redis-server did not start again on 127.0.0.1:$REDIS_PORT"
}
t_log "redis-server restarted: PID $REDIS_PID on 127.0.0.1:$REDIS_PORT"
up_at=$(date +%s%3N)
want=21
for n in 1 2; do
	ok=
	for k in $(seq 1 "$RECOVER_TRIES"); do
		tag=up$n-$k
		run_msg "$n" "$ANN" "$tag" || break
		if [ "$(n_hdr "$tag" X-Triage-Sender-Count)" -gt 0 ]; then
			ok=$tag
			break
		fi
		t_log "recovery: milter $n, try $k: no count yet" \
			"(X-Triage-Ack: $(hdr "$tag" X-Triage-Ack))"
		sleep "$RECOVER_PAUSE"
	done
	if [ -z "$ok" ]; then
		t_fail "recovery: milter $n counts no message within $RECOVER_TRIES tries"
		continue
	fi
	t_pass "recovery: milter $n counts again $(($(date +%s%3N) - up_at)) ms after the restart"
	t_eq "recovery: milter $n: the count goes on from Redis ($want)" \
		"$want/24h" "$(hdr "$ok" X-Triage-Sender-Count)"
	t_check "recovery: milter $n: frequent" has_flag "$ok" frequent
	t_eq "recovery: milter $n: the dedup mark survived (X-Triage-Ack)" \
		"suppressed; reason=duplicate" "$(hdr "$ok" X-Triage-Ack)"
	want=$((want + 1))
done
if run_msg 2 "$DAVE" dave1; then
	t_match "recovery: new customer: X-Triage-Ack: sent; ticket=..." \
		"^sent; ticket=$TICKET_RE\$" "$(hdr dave1 X-Triage-Ack)"
	t_eq "recovery: new customer: X-Triage-Sender-Count" 1/24h \
		"$(hdr dave1 X-Triage-Sender-Count)"
else
	t_fail "recovery: new customer: miltertest failed"
fi
if t_wait_for "$ACK_WAIT" acks_at_least "$DAVE" 1; then
	t_pass "recovery: the new customer's acknowledgment reached the sink"
else
	t_fail "recovery: no acknowledgment for $DAVE within $((ACK_WAIT / 10)) s"
fi
quiet
t_eq "recovery: exactly one acknowledgment for $DAVE" 1 "$(acks_to "$DAVE")"
t_eq "recovery: still exactly one acknowledgment for $ANN" 1 "$(acks_to "$ANN")"
for n in 1 2; do
	t_eq "recovery: milter $n logged 'store available again' once" 1 \
		"$(grep -c 'store available again' "${M_LOG[$n]}" || true)"
	t_eq "recovery: milter $n still logged 'store unavailable' only once" 1 \
		"$(grep -c 'store unavailable' "${M_LOG[$n]}" || true)"
done
if command -v redis-cli >/dev/null 2>&1; then
	keys=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --scan 2>/dev/null || true)
	t_eq "redis: every key is triage:<hash>" "" \
		"$(printf '%s\n' "$keys" | grep -v '^$' | grep -Ev '^triage:[0-9a-f]{64}$' || true)"
	t_eq "redis: no plaintext address in the keys" "" \
		"$(printf '%s\n' "$keys" | grep -i customer || true)"
fi

# ---- the end ------------------------------------------------------------------

for n in 1 2; do
	rc=0
	milter_stop "$n" || rc=$?
	t_eq "milter $n exits 0 on SIGTERM" 0 "$rc"
done
if [ "$t_failures" -ne 0 ]; then
	for n in 1 2; do
		t_log "milter $n log:"
		sed 's/^/  | /' "${M_LOG[$n]}" 2>/dev/null || true
	done
	t_log "redis log:"
	sed 's/^/  | /' "$R/redis.log" 2>/dev/null || true
fi
t_done
