# shellcheck shell=bash
#
# tests/lib.sh - shared helpers for the shell tests and ./quickstart
#
# Sourced by bash scripts that run under "set -eu".  It owns: PASS/FAIL
# reporting, the skip-or-fail decision (TRIAGE_REQUIRE_ALL=1 turns a skip
# for a missing tool into a failure, as CI wants), one temporary directory
# per run removed by an EXIT trap, starting and stopping processes by PID
# (never by name), the milter in the foreground on a unix socket, and a
# private Postfix instance (own config, queue and data directories under
# the temporary directory) relaying to smtp-sink, inside its own network
# namespace so its ports can never clash with anything.
#
# Exit codes follow the automake serial harness: 0 pass, 77 skip,
# 99 hard error, anything else fail.

# ---- locations --------------------------------------------------------

# top_srcdir/top_builddir/TRIAGE_MILTER come from "make check"; default
# them so a script can also be run by hand from the source tree.
t_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$t_lib_dir/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${TRIAGE_MILTER:=$top_builddir/triage-milter}"
: "${MILTERTEST:=$(command -v miltertest || true)}"
: "${POSTFIX:=$(command -v postfix || { test -x /usr/sbin/postfix && echo /usr/sbin/postfix; } || true)}"
export top_srcdir top_builddir TRIAGE_MILTER MILTERTEST POSTFIX
T_DATA=$top_srcdir/tests/data

# Bounded waits, in tenths of a second.
T_WAIT_SOCKET=${T_WAIT_SOCKET:-100}
T_WAIT_DELIVERY=${T_WAIT_DELIVERY:-300}

# ---- reporting --------------------------------------------------------

t_failures=0
t_checks=0

# t_log - a line for the test log (stdout, so it lands in tests/*.log)
t_log()
{
	printf '%s: %s\n' "${0##*/}" "$*"
}

# t_pass - report one passed check
t_pass()
{
	t_checks=$((t_checks + 1))
	printf 'PASS: %s\n' "$*"
}

# t_fail - report one failed check and remember it
t_fail()
{
	t_checks=$((t_checks + 1))
	t_failures=$((t_failures + 1))
	printf 'FAIL: %s\n' "$*"
}

# t_check - run a command; PASS or FAIL under the given description
t_check()
{
	local desc=$1
	shift
	if "$@"; then
		t_pass "$desc"
	else
		t_fail "$desc"
	fi
}

# t_eq - compare an actual value with the expected one
t_eq()
{
	local desc=$1 want=$2 got=$3
	if [ "$want" = "$got" ]; then
		t_pass "$desc"
	else
		t_fail "$desc: expected '$want', got '$got'"
	fi
}

# t_match - check that a value matches an extended regular expression
t_match()
{
	local desc=$1 re=$2 got=$3
	if printf '%s\n' "$got" | grep -Eq -- "$re"; then
		t_pass "$desc"
	else
		t_fail "$desc: '$got' does not match /$re/"
	fi
}

# t_done - exit with the verdict of all checks so far
t_done()
{
	if [ "$t_checks" -eq 0 ]; then
		t_log "no check ran: that is an error in the test"
		exit 99
	fi
	if [ "$t_failures" -ne 0 ]; then
		t_log "$t_failures of $t_checks checks failed"
		exit 1
	fi
	t_log "all $t_checks checks passed"
	exit 0
}

# t_skip - skip the whole script (exit 77)
t_skip()
{
	printf 'SKIP: %s: %s\n' "${0##*/}" "$*"
	exit 77
}

# t_hard_error - the test itself could not run (exit 99)
t_hard_error()
{
	printf 'ERROR: %s: %s\n' "${0##*/}" "$*" >&2
	printf 'ERROR: %s: %s\n' "${0##*/}" "$*"
	exit 99
}

# t_missing - a tool this test needs is absent: skip, or fail under
# TRIAGE_REQUIRE_ALL=1 (CI), where a silent skip would hide a gap.
t_missing()
{
	if [ "${TRIAGE_REQUIRE_ALL:-0}" = 1 ]; then
		printf 'FAIL: %s: %s (TRIAGE_REQUIRE_ALL=1 forbids skipping)\n' \
			"${0##*/}" "$*"
		exit 1
	fi
	t_skip "$*"
}

# t_need_cmd - t_missing unless every named program is found
t_need_cmd()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] ||
			t_missing "$c not found"
	done
}

# t_need_milter - the binary under test must exist (never a skip)
t_need_milter()
{
	[ -x "$TRIAGE_MILTER" ] ||
		t_hard_error "triage-milter binary not found at $TRIAGE_MILTER (run make)"
}

# t_need_root - Postfix and network namespaces need root
t_need_root()
{
	[ "$(id -u)" = 0 ] || t_missing "must run as root ($*)"
}

# ---- temporary directory and cleanup ------------------------------------

T=
t_pids=()
t_cleanups=()

# t_on_exit - run a command (one string, eval'd) at exit, last first
t_on_exit()
{
	t_cleanups+=("$1")
}

# t_track_pid - kill this PID at exit if it is still running
t_track_pid()
{
	t_pids+=("$1")
}

# t_cleanup - EXIT trap: cleanups, tracked PIDs, then the directory
t_cleanup()
{
	local rc=$? i
	set +e
	for ((i = ${#t_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${t_cleanups[$i]}"
	done
	for ((i = ${#t_pids[@]} - 1; i >= 0; i--)); do
		t_stop_pid "${t_pids[$i]}" 2>/dev/null
	done
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "${TRIAGE_KEEP_TMP:-0}" = 1 ]; then
			t_log "kept $T"
		else
			rm -rf "$T"
		fi
	fi
	exit "$rc"
}

# t_tmpdir - make $T and install the cleanup traps
t_tmpdir()
{
	T=$(mktemp -d "${TMPDIR:-/tmp}/triage-test.XXXXXX")
	# The postfix user (smtpd, smtp-sink) must reach sockets and
	# directories in here.
	chmod 755 "$T"
	trap t_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# ---- processes --------------------------------------------------------

# t_alive - is this PID still running (and not a zombie we own)?
# Reads /proc rather than ps(1): procps is not on a minimal Debian.
t_alive()
{
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	case $st in
	Z* | X* | "") return 1 ;;
	esac
	return 0
}

# t_stop_pid - SIGTERM, wait up to $2 tenths of a second, then SIGKILL
t_stop_pid()
{
	local pid=$1 limit=${2:-50} n=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	while t_alive "$pid" && [ $n -lt "$limit" ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if t_alive "$pid"; then
		t_log "PID $pid ignored SIGTERM for $((limit / 10)) s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || true
	return 0
}

# t_wait_for - poll a command every 0.1 s, at most $1 tenths of a second
t_wait_for()
{
	local limit=$1 n=0
	shift
	until "$@"; do
		n=$((n + 1))
		[ $n -lt "$limit" ] || return 1
		sleep 0.1
	done
	return 0
}

# ---- the milter -------------------------------------------------------

MILTER_PID=
MILTER_SOCK=
MILTER_CONF=
MILTER_LOG=

# t_milter_config - write a config for a test milter; extra lines
# (e.g. "max_scan_bytes = 4096") are appended as given
t_milter_config()
{
	local file=$1 line
	shift
	{
		printf '# generated by %s\n' "${0##*/}"
		printf 'socket = "unix:%s"\n' "$T/milter.sock"
		printf 'socket_mode = "0666"\n'
		printf 'pidfile = ""\n'
		printf 'on_error = "accept"\n'
		# the tests run as root, like CI; a real install sets user
		printf 'allow_root = true\n'
		printf 'rules = {"%s/rules/*.rules"}\n' "$top_srcdir"
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$file"
}

# t_milter_start - start the milter in the foreground, wait for its
# socket.  Optional config lines as arguments.  $T_MILTER_WRAPPER (e.g.
# "valgrind ...") is put in front of the binary.  Sets MILTER_PID,
# MILTER_SOCK ("unix:/path"), MILTER_CONF, MILTER_LOG.
# shellcheck disable=SC2120 # the config lines are optional
t_milter_start()
{
	local path=$T/milter.sock limit=$T_WAIT_SOCKET
	MILTER_CONF=$T/milter.conf
	MILTER_LOG=$T/milter.log
	MILTER_SOCK=unix:$path
	t_milter_config "$MILTER_CONF" "$@"
	rm -f "$path"
	# shellcheck disable=SC2086 # the wrapper is a word list on purpose
	${T_MILTER_WRAPPER:-} "$TRIAGE_MILTER" -f -v -c "$MILTER_CONF" \
		-p "$MILTER_SOCK" >>"$MILTER_LOG" 2>&1 &
	MILTER_PID=$!
	t_track_pid "$MILTER_PID"
	[ -z "${T_MILTER_WRAPPER:-}" ] || limit=$((limit * 6))
	if ! t_wait_for "$limit" t_milter_ready "$path"; then
		t_log "milter did not open $path; its log:"
		sed 's/^/  | /' "$MILTER_LOG"
		return 1
	fi
	# Postfix's smtpd runs as "postfix" and must connect.
	chmod 666 "$path"
	return 0
}

# t_milter_ready - socket present, or give up early if the milter died
t_milter_ready()
{
	[ -S "$1" ] && return 0
	t_alive "$MILTER_PID" || return 0
	return 1
}

# t_milter_stop - SIGTERM the milter; returns its exit status
t_milter_stop()
{
	local pid=$MILTER_PID rc=0 n=0
	[ -n "$pid" ] || return 0
	MILTER_PID=
	kill -TERM "$pid" 2>/dev/null || true
	while t_alive "$pid" && [ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if t_alive "$pid"; then
		t_log "milter PID $pid ignored SIGTERM for 30 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# ---- network namespace ----------------------------------------------------

# t_enter_netns - re-run this script in a fresh network namespace with
# only loopback up, so ports can never clash.  Call as
# t_enter_netns "$0" "$@" before creating anything.
t_enter_netns()
{
	local self=$1
	shift
	if [ "${TRIAGE_IN_NETNS:-0}" != 1 ]; then
		command -v unshare >/dev/null 2>&1 ||
			t_missing "unshare (util-linux) not found"
		unshare -n true 2>/dev/null ||
			t_missing "cannot create a network namespace (unshare -n)"
		exec unshare -n -- env TRIAGE_IN_NETNS=1 bash "$self" "$@"
	fi
	command -v ip >/dev/null 2>&1 || t_missing "ip (iproute2) not found"
	ip link set lo up || t_hard_error "ip link set lo up failed"
}

# ---- a private Postfix relaying to smtp-sink ------------------------------

PF_DIR=
PF_CONF=
PF_LOG=
PF_SMTP=127.0.0.1:2525
PF_SINK=127.0.0.1:2526
PF_SINK_DIR=
SINK_PID=
pf_started=0

# t_postfix_setup - write main.cf and master.cf under $T/postfix.
# $1: smtpd_milters value (may be empty).  Nothing under /etc/postfix is
# read or written except Debian's read-only meta files (postfix-files).
t_postfix_setup()
{
	local milters=${1:-}
	PF_DIR=$T/postfix
	PF_CONF=$PF_DIR/etc
	PF_LOG=$PF_DIR/maillog
	PF_SINK_DIR=$T/sink
	mkdir -p "$PF_CONF" "$PF_DIR/queue" "$PF_DIR/data" "$PF_SINK_DIR"
	# postfix-script insists: queue_directory owned by root, data
	# directory by mail_owner; the sink writes as postfix too.
	chown root:root "$PF_DIR/queue"
	chmod 755 "$PF_DIR" "$PF_DIR/queue"
	chown postfix:postfix "$PF_DIR/data" "$PF_SINK_DIR"
	chmod 700 "$PF_DIR/data"
	cat >"$PF_CONF/main.cf" <<EOF
# Private test instance written by tests/lib.sh; not the system Postfix.
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
mail_owner = postfix
setgid_group = postdrop
myhostname = triage-test.localdomain
mydomain = localdomain
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
relayhost = [${PF_SINK%:*}]:${PF_SINK##*:}
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtputf8_enable = no
biff = no
notify_classes =
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# Postfix 3.7 logs to a file through postlogd instead of syslog.
maillog_file = $PF_LOG
maillog_file_prefixes = $PF_DIR
smtpd_milters = $milters
milter_default_action = accept
milter_protocol = 6
milter_connect_timeout = 5s
milter_command_timeout = 10s
milter_content_timeout = 30s
EOF
	# Only the services a relay to smtp-sink needs; no chroot, since
	# the queue is not set up as a jail.
	cat >"$PF_CONF/master.cf" <<EOF
$PF_SMTP inet  n       -       n       -       -       smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# t_listening - is something listening on this host:port?
t_listening()
{
	local port=${1##*:}
	[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
}

# t_sink_start - smtp-sink dumping every message to $PF_SINK_DIR
t_sink_start()
{
	local sink
	sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
	# -u: smtp-sink refuses to run as root; it drops to postfix after
	# binding.  -d: one file per message, name from a strftime template.
	"$sink" -u postfix -d "$PF_SINK_DIR/%Y%m%d%H%M%S." "$PF_SINK" 64 \
		>>"$T/sink.log" 2>&1 &
	SINK_PID=$!
	t_track_pid "$SINK_PID"
	t_wait_for "$T_WAIT_SOCKET" t_listening "$PF_SINK" || {
		t_log "smtp-sink did not listen on $PF_SINK"
		cat "$T/sink.log"
		return 1
	}
}

# t_postfix_start - check and start the private instance
t_postfix_start()
{
	if ! "$POSTFIX" -c "$PF_CONF" check >"$PF_DIR/check.log" 2>&1; then
		t_log "postfix check failed:"
		sed 's/^/  | /' "$PF_DIR/check.log"
		return 1
	fi
	t_on_exit t_postfix_stop
	if ! "$POSTFIX" -c "$PF_CONF" start >"$PF_DIR/start.log" 2>&1; then
		t_log "postfix start failed:"
		sed 's/^/  | /' "$PF_DIR/start.log"
		[ ! -f "$PF_LOG" ] || sed 's/^/  | /' "$PF_LOG"
		return 1
	fi
	pf_started=1
	t_wait_for "$T_WAIT_SOCKET" t_listening "$PF_SMTP" || {
		t_log "Postfix smtpd does not listen on $PF_SMTP"
		[ ! -f "$PF_LOG" ] || sed 's/^/  | /' "$PF_LOG"
		return 1
	}
}

# t_postfix_master_pid - PID of this instance's master, from its pid file
t_postfix_master_pid()
{
	local f=$PF_DIR/queue/pid/master.pid
	[ -f "$f" ] && tr -dc '0-9' <"$f"
}

# t_postfix_stop - "postfix stop", then make sure the master is gone
t_postfix_stop()
{
	local pid
	[ "$pf_started" = 1 ] || return 0
	pf_started=0
	pid=$(t_postfix_master_pid || true)
	"$POSTFIX" -c "$PF_CONF" stop >/dev/null 2>&1 || true
	if [ -n "$pid" ]; then
		t_wait_for 100 t_not_alive "$pid" || t_stop_pid "$pid" 20
	fi
}

t_not_alive()
{
	! t_alive "$1"
}

# t_smtp_send - send one message file over SMTP to the private Postfix.
# $1 file, $2 a tag put in an X-Test-Id header first, to find it later.
t_smtp_send()
{
	local file=$1 tag=$2
	{
		printf 'X-Test-Id: %s\r\n' "$tag"
		sed 's/\r*$/\r/' "$file"
	} >"$T/send-$tag.eml"
	swaks --silent 2 --server "$PF_SMTP" --helo client.example \
		--from sender@example.com --to support@example.com \
		--data - <"$T/send-$tag.eml" >"$T/swaks-$tag.log" 2>&1 || {
		t_log "swaks failed for $tag:"
		sed 's/^/  | /' "$T/swaks-$tag.log"
		return 1
	}
}

# t_smtp_submit TAG ENV_FROM ENV_RCPT FILE - submit FILE over SMTP to the
# private Postfix ("<>" = null sender) with X-Test-Id: TAG first; the
# queue id Postfix gave it goes to $T/qid-TAG
t_smtp_submit()
{
	local tag=$1 from=$2 rcpt=$3 file=$4 qid
	{
		printf 'X-Test-Id: %s\r\n' "$tag"
		sed 's/\r*$/\r/' "$file"
	} >"$T/send-$tag.eml"
	if ! swaks --server "$PF_SMTP" --helo client.example \
		--from "$from" --to "$rcpt" --data - \
		<"$T/send-$tag.eml" >"$T/swaks-$tag.log" 2>&1; then
		t_log "swaks failed for $tag:"
		sed 's/^/  | /' "$T/swaks-$tag.log"
		return 1
	fi
	qid=$(sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' \
		"$T/swaks-$tag.log" | head -n 1)
	[ -n "$qid" ] || {
		t_log "no queue id in the SMTP dialogue for $tag"
		return 1
	}
	printf '%s\n' "$qid" >"$T/qid-$tag"
}

# t_qid_delivered QID TAG - Postfix relayed it (the sink's 250 to the
# final dot) and the sink file is there
# shellcheck disable=SC2317 # called through t_wait_for or t_check
t_qid_delivered()
{
	grep -F "$1: to=<" "$PF_LOG" 2>/dev/null | grep -q 'status=sent' &&
		[ -n "$(t_sink_file "$2")" ]
}

# t_sink_file - name of the dumped message carrying X-Test-Id: $1
t_sink_file()
{
	grep -l -r -- "^X-Test-Id: $1"$'\r\\?$' "$PF_SINK_DIR" 2>/dev/null | head -n 1
}

# t_delivered - has the message tagged $1 reached the sink in full?
t_delivered()
{
	local f
	f=$(t_sink_file "$1")
	[ -n "$f" ] || return 1
	# Postfix logs status=sent only after the sink's 250 to the final
	# dot, so the dump file is complete by then.
	[ "$(grep -c 'status=sent' "$PF_LOG" 2>/dev/null)" -ge "${2:-1}" ]
}

# t_wait_delivered - bounded wait for message $1 ($2: status=sent lines
# expected in the log so far)
t_wait_delivered()
{
	t_wait_for "$T_WAIT_DELIVERY" t_delivered "$@"
}

# t_headers_of - the header block of a delivered message, unfolded,
# without CR
t_headers_of()
{
	sed 's/\r$//' "$1" | awk '
		/^$/ { exit }
		/^[ \t]/ { sub(/^[ \t]+/, " "); line = line $0; next }
		{ if (line != "") print line; line = $0 }
		END { if (line != "") print line }'
}

# t_header_values - every value of header $2 (case-insensitive) in the
# unfolded header block file $1, one per line
t_header_values()
{
	awk -v want="$2" '
		BEGIN { want = tolower(want) }
		{
			i = index($0, ":")
			if (i > 0 && tolower(substr($0, 1, i - 1)) == want) {
				v = substr($0, i + 1)
				sub(/^[ \t]+/, "", v)
				print v
			}
		}' "$1"
}

# t_fixture - path of a fixture message under tests/data
t_fixture()
{
	[ -f "$T_DATA/$1" ] || t_hard_error "fixture tests/data/$1 not found"
	printf '%s\n' "$T_DATA/$1"
}
