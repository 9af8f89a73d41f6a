#!/bin/bash
#
# tests/store-redis.sh - the store suites against a real redis-server
#
# Starts a private redis-server on loopback: a free TCP port and a unix
# socket in the temporary directory, a password that needs
# percent-encoding in URIs, no persistence.  Runs the generic store suite
# (tests/unit/test-store) over TCP and over the socket, then the
# Redis-only suite (tests/unit/test-store-redis), which stops and restarts
# the server through this script ("store-redis.sh --redis stop|start DIR")
# to check that calls fail fast during an outage and recover after it.
# The server is started in the foreground and always stopped by PID.
# Without redis-server: skip (77), or fail under TRIAGE_REQUIRE_ALL=1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
# shellcheck source=tests/lib.sh
. "$here/lib.sh"

REDIS_PASSWORD='t3st@pass'
REDIS_PASSWORD_URI='t3st%40pass'
REDIS_DB=3
# Ports tried at random, and how often, before giving up.
REDIS_PORT_MIN=20000
REDIS_PORT_SPAN=40000
REDIS_PORT_TRIES=5

# redis_pid - the PID of the server of directory $1 (redis_start writes
# it; Redis rewrites it with the same number)
redis_pid()
{
	[ -f "$1/redis.pid" ] && tr -dc '0-9' <"$1/redis.pid"
}

# redis_ping - does the server on port $1 answer AUTH and PING?
redis_ping()
{
	local auth=x pong=x
	{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'AUTH %s\r\nPING\r\n' "$REDIS_PASSWORD" >&3
	read -r -t 2 auth <&3 || true
	read -r -t 2 pong <&3 || true
	exec 3>&-
	[ "${auth%$'\r'}" = +OK ] && [ "${pong%$'\r'}" = +PONG ]
}

# redis_settled - up, or dead (a taken port): stop waiting either way
# shellcheck disable=SC2317 # called through t_wait_for
redis_settled()
{
	redis_ping "$2" || ! t_alive "$1"
}

# redis_start - start the server of directory $1 (config written by
# redis_config) and wait until it answers; 1 if it does not
redis_start()
{
	local dir=$1 port pid
	port=$(cat "$dir/port")
	# its own session: Check kills a case's process group when the case
	# ends, and a server the outage case restarted must outlive it
	setsid redis-server "$dir/redis.conf" </dev/null >>"$dir/redis.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/redis.pid"
	t_wait_for 100 redis_settled "$pid" "$port" || true
	redis_ping "$port"
}

# redis_stop - stop the server of directory $1 by its PID, if running
redis_stop()
{
	local pid
	pid=$(redis_pid "$1" || true)
	[ -n "$pid" ] || return 0
	t_stop_pid "$pid" 50
	rm -f "$1/redis.pid"
}

# redis_config - a loopback-only, memory-only server on port $2
redis_config()
{
	local dir=$1 port=$2
	echo "$port" >"$dir/port"
	cat >"$dir/redis.conf" <<EOF
# written by tests/store-redis.sh
port $port
bind 127.0.0.1
unixsocket $dir/redis.sock
unixsocketperm 700
requirepass "$REDIS_PASSWORD"
save ""
appendonly no
daemonize no
pidfile $dir/redis.pid
dir $dir
logfile ""
EOF
}

# redis_replica - the server on port $1 becomes a read-only replica of a
# master that refuses connections (yes), or a master again (no)
redis_replica()
{
	local auth=x ok=x cmd='REPLICAOF 127.0.0.1 1'
	[ "$2" = yes ] || cmd='REPLICAOF NO ONE'
	{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'AUTH %s\r\n%s\r\n' "$REDIS_PASSWORD" "$cmd" >&3
	read -r -t 2 auth <&3 || true
	read -r -t 2 ok <&3 || true
	exec 3>&-
	[ "${auth%$'\r'}" = +OK ] && [ "${ok%$'\r'}" = +OK ]
}

# Called back by test-store-redis through TRIAGE_REDIS_STOP/START, and
# by the daemon part's transport.
if [ "${1:-}" = --redis ]; then
	case ${2:-} in
	start) redis_start "$3" ;;
	stop) redis_stop "$3" ;;
	replica) redis_replica "$(cat "$3/port")" "$4" ;;
	*) t_hard_error "usage: $0 --redis start|stop|replica DIR [yes|no]" ;;
	esac
	exit
fi

t_need_cmd redis-server redis-cli setsid python3
unit=$top_builddir/tests/unit
for prog in test-store test-store-redis; do
	[ -x "$unit/$prog" ] ||
		t_hard_error "$unit/$prog not found (run make check)"
done
t_tmpdir
R=$T/redis
mkdir "$R"
chmod 700 "$R"
t_on_exit "redis_stop '$R'"

port=
for _ in $(seq "$REDIS_PORT_TRIES"); do
	try=$((REDIS_PORT_MIN + RANDOM % REDIS_PORT_SPAN))
	! t_listening "127.0.0.1:$try" || continue
	redis_config "$R" "$try"
	if redis_start "$R"; then
		port=$try
		break
	fi
	redis_stop "$R"
done
if [ -z "$port" ]; then
	t_log "redis-server did not start; its log:"
	sed 's/^/  | /' "$R/redis.log" 2>/dev/null || true
	t_hard_error "no redis-server after $REDIS_PORT_TRIES ports"
fi
t_log "redis-server PID $(redis_pid "$R") on 127.0.0.1:$port and $R/redis.sock"

uri_tcp="redis://:$REDIS_PASSWORD_URI@127.0.0.1:$port/$REDIS_DB"
uri_unix="redis+unix://$R/redis.sock?db=$((REDIS_DB + 1))&password=$REDIS_PASSWORD_URI"

t_check "generic store suite over TCP" \
	env TRIAGE_STORE_URI="$uri_tcp" "$unit/test-store"
t_check "generic store suite over the unix socket" \
	env TRIAGE_STORE_URI="$uri_unix" "$unit/test-store"
t_check "Redis-only suite (outage, reconnection, credentials, keys)" \
	env TRIAGE_STORE_URI="$uri_tcp" TRIAGE_REDIS_PORT="$port" \
	TRIAGE_REDIS_PASSWORD="$REDIS_PASSWORD" TRIAGE_REDIS_DB="$REDIS_DB" \
	TRIAGE_REDIS_STOP="$(printf 'bash %q --redis stop %q' "$self" "$R")" \
	TRIAGE_REDIS_START="$(printf 'bash %q --redis start %q' "$self" "$R")" \
	"$unit/test-store-redis"
# the outage case restarted it: it must be back, on the same port
t_check "redis-server answers after the outage case" redis_ping "$port"

# ---- the daemon on a Redis store ------------------------------------------
t_need_milter
if [ ! -x "${MILTERTEST:-/nonexistent}" ]; then
	# the store suites above ran; only the daemon part needs miltertest
	[ "${TRIAGE_REQUIRE_ALL:-0}" != 1 ] ||
		t_fail "miltertest not found (TRIAGE_REQUIRE_ALL=1)"
	t_log "miltertest not found: the daemon on Redis is not tested"
	t_done
fi
plain=$T_DATA/plain.eml

# one_message QID FROM - one message through the running milter; prints
# its X-Triage-Ack value; 1 if it was not accepted with a verdict
# shellcheck disable=SC2317 # also called through t_check
one_message()
{
	timeout 120 "$MILTERTEST" -D sock="$MILTER_SOCK" \
		-D srcdir="$top_srcdir" -D plain="$plain" -D qid="$1" \
		-D mail_from="<$2>" -s "$top_srcdir/tests/integration/store-down.lua" \
		>"$T/$1.out" 2>&1 || { cat "$T/$1.out"; return 1; }
	sed -n 's/^ACK: //p' "$T/$1.out"
}

# mark_ttl ADDRESS - seconds left on the "general" template's dedup mark
# of ADDRESS on the server (-2: no such key)
mark_ttl()
{
	local key
	key=triage:$(python3 -c '
import hashlib, hmac, sys
print(hmac.new(open(sys.argv[1], "rb").read(), sys.argv[2].encode(),
               hashlib.sha256).hexdigest())' "$T/site.key" "ack:general:$1")
	redis-cli -p "$port" -a "$REDIS_PASSWORD" --no-auth-warning \
		-n "$REDIS_DB" TTL "$key"
}

# log_lines PATTERN - how many lines of the milter's log match
log_lines()
{
	grep -c -- "$1" "$MILTER_LOG" || true
}

# -- down at start: one line that names the server and the cause
down=
for _ in $(seq "$REDIS_PORT_TRIES"); do
	try=$((REDIS_PORT_MIN + RANDOM % REDIS_PORT_SPAN))
	t_listening "127.0.0.1:$try" || { down=$try; break; }
done
[ -n "$down" ] || t_hard_error "no free port for an unreachable Redis"
t_milter_start "store = \"redis://127.0.0.1:$down/0\"" \
	"store_key_file = \"$T/site.key\"" 'frequent {' 'messages = 3' '}' ||
	t_hard_error "the milter did not start with Redis down"
t_eq "down at start: said at start, with the server and the cause" 1 \
	"$(log_lines "store unavailable at start (redis://127\.0\.0\.1:$down/0: .*refused)")"
t_check "down at start: a message is accepted with its verdict" \
	one_message DOWN0001 ann@example.net
t_eq "down at start: one log line for the outage" 1 \
	"$(log_lines 'store unavailable')"
t_eq "down at start: the line names the server and the cause" 1 \
	"$(log_lines "store unavailable.*127\.0\.0\.1:$down.*refused")"
t_milter_stop || t_fail "down at start: the milter did not stop cleanly"
sed 's/^/  | /' "$MILTER_LOG"
rm -f "$MILTER_LOG"

# -- refusing, seen first by the sender thread: the outage line gives
# the server's refusal, whichever thread met it.  The transport turns
# Redis into a read-only replica as it takes the first reply, so the
# sender's write after the hand-off is the first to be refused; the next
# message's own calls are reads that work on a replica.
cat >"$T/ro-sendmail" <<EOF
#!/bin/sh
if [ ! -e '$T/ro.flipped' ]; then
	touch '$T/ro.flipped'
	bash '$self' --redis replica '$R' yes || exit 75
fi
cat >>'$T/ro.sent'
EOF
chmod 755 "$T/ro-sendmail"
t_milter_start "store = \"$uri_tcp\"" "store_key_file = \"$T/site.key\"" \
	'reply {' '	enable = true' '	addresses = {"support@example.com"}' \
	'	from = "Example Support <support@example.com>"' \
	"	templates = \"$top_srcdir/conf/templates\"" \
	"	transport = \"sendmail:$T/ro-sendmail\"" '}' ||
	t_hard_error "the milter did not start on Redis"
t_match "refusing: the first acknowledgment is queued" '^sent; ticket=' \
	"$(one_message RO0001 ann@example.net)"
# shellcheck disable=SC2317 # called through t_wait_for
sent_logged()
{
	[ "$(log_lines 'RO0001: acknowledgment sent')" = 1 ]
}
t_check "refusing: the first acknowledgment is handed off" \
	t_wait_for 100 sent_logged
# the write after the hand-off was refused: the mark taken at end of
# message must still keep ann from a second acknowledgment all interval
ttl=$(mark_ttl ann@example.net)
if [ "$ttl" -gt 86000 ]; then
	t_pass "refusing: the mark of the sent acknowledgment lasts the interval"
else
	t_fail "refusing: the mark of the sent acknowledgment lasts the interval (TTL $ttl)"
fi
t_match "refusing: the next one is held back" \
	'^suppressed; reason=store-unavailable$' \
	"$(one_message RO0002 bob@example.net)"
t_eq "refusing: one log line for the outage" 1 \
	"$(log_lines 'store unavailable')"
t_eq "refusing: the line gives the server's refusal" 1 \
	"$(log_lines "store unavailable (redis://127\.0\.0\.1:$port/$REDIS_DB: .*READONLY")"
redis_replica "$port" no || t_fail "refusing: Redis is not a master again"
one_message RO0003 carol@example.net >/dev/null
one_message RO0004 dave@example.net >/dev/null
t_eq "refusing: one log line when writes work again" 1 \
	"$(log_lines 'store available again')"
t_milter_stop || t_fail "refusing: the milter did not stop cleanly"
sed 's/^/  | /' "$MILTER_LOG"

t_done
