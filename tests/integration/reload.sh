#!/bin/bash
#
# tests/integration/reload.sh - live reload on SIGUSR1 with sessions in
# flight (miltertest, reload-session.lua)
#
# Config A says long_words = 50, config B long_words = 5000 (both with
# long_paragraphs = 1000), so long-rant.eml (822 words) is "long" under A
# and not under B.  Each in-flight session is a miltertest process that
# stops at a given stage (negotiated, after HELO, mid-headers, mid-body,
# second message of a connection), says so with a ready file and waits
# for a go file; the reload happens while they wait.
#   1. good reload: every session in flight completes, accepted, headers
#      added, still under A (a connection keeps the snapshot it started
#      with); a session opened after the reload is under B, also while
#      the old ones are still open
#   2. bad reload (syntax error): "reload failed, keeping the running
#      configuration: FILE:LINE: ..." logged, the daemon keeps serving
#      with B, sessions in flight complete
#   3. a rules file removed before a reload: named in the config by its
#      plain name (must exist) and through a glob (may match nothing);
#      what the daemon does is reported, it must keep serving
#   3b. a reload that changes settings only a restart applies (store,
#      socket_mode): the reload succeeds and one warning names them; so
#      does one with a model whose rules the rule files lack
#   4. reload storm: 40 reloads alternating A and B while 6 clients
#      open 40 connections each; all complete, the daemon lives, a last
#      reload to B is in force
# Finally the daemon must exit 0 on SIGTERM.
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
mkdir -p "$SYNC" "$T/rules"

conf_a=('length {' '	long_words = 50' '	long_paragraphs = 1000' '}')
conf_b=('length {' '	long_words = 5000' '	long_paragraphs = 1000' '}')

# write_conf LINE... - rewrite the running daemon's config file in place
write_conf()
{
	t_milter_config "$MILTER_CONF.new" "$@"
	mv -f "$MILTER_CONF.new" "$MILTER_CONF"
}

# log_count RE - lines of the milter log matching RE
log_count()
{
	grep -Ec -- "$1" "$MILTER_LOG" || true
}

reloaded_re='reloaded '
failed_re='reload failed, keeping the running configuration: '

# log_grew RE N - does the log have more than N lines matching RE?
log_grew()
{
	[ "$(log_count "$1")" -gt "$2" ]
}

# reload RE - SIGUSR1, then wait (10 s at most) for one more log line
# matching RE; any other outcome (reloaded/failed) ends the wait too.
# Prints "reloaded", "failed" or "timeout".
reload()
{
	local ok fail
	ok=$(log_count "$reloaded_re")
	fail=$(log_count "$failed_re")
	kill -USR1 "$MILTER_PID"
	if t_wait_for 100 reload_seen "$ok" "$fail"; then
		if log_grew "$reloaded_re" "$ok"; then
			echo reloaded
		else
			echo failed
		fi
	else
		echo timeout
	fi
}

reload_seen()
{
	log_grew "$reloaded_re" "$1" || log_grew "$failed_re" "$2"
}

# ---- sessions ------------------------------------------------------------

s_pids=()
s_tags=()

# session_start TAG STAGE EXPECT [-D k=v ...] - one miltertest in the
# background, output in $T/TAG.out
session_start()
{
	local tag=$1 stage=$2 expect=$3
	shift 3
	timeout 180 "$MILTERTEST" -D sock="$MILTER_SOCK" \
		-D srcdir="$top_srcdir" -D msg="$rant" -D tag="$tag" \
		-D sync="$SYNC" -D stage="$stage" -D expect="$expect" "$@" \
		-s "$here/reload-session.lua" >"$T/$tag.out" 2>&1 &
	s_pids+=("$!")
	s_tags+=("$tag")
	t_track_pid "$!"
}

# all_ready TAG... - has every named session created its ready file?
all_ready()
{
	local tag
	for tag in "$@"; do
		[ -f "$SYNC/$tag.ready" ] || return 1
	done
	return 0
}

# none_alive PID... - have all these processes ended?
none_alive()
{
	local pid
	for pid in "$@"; do
		! t_alive "$pid" || return 1
	done
	return 0
}

# sessions_finish DESC - bounded wait for the background sessions, one
# PASS/FAIL each, then forget them
sessions_finish()
{
	local desc=$1 i rc
	t_wait_for 900 none_alive "${s_pids[@]}" ||
		t_log "sessions still running after 90 s"
	for i in "${!s_pids[@]}"; do
		rc=0
		if t_alive "${s_pids[$i]}"; then
			t_stop_pid "${s_pids[$i]}" 20
			rc=124
		else
			wait "${s_pids[$i]}" || rc=$?
		fi
		session_verdict "$desc: ${s_tags[$i]}" "${s_tags[$i]}" "$rc"
	done
	s_pids=()
	s_tags=()
}

# session_results FILE - the flags of each message of a session, or a
# count per flags value when there are many
session_results()
{
	if [ "$(grep -c '^RESULT' "$1")" -le 2 ]; then
		grep '^RESULT' "$1" | sed 's/^RESULT //' | tr '\n' ';'
	else
		grep '^RESULT' "$1" | sed 's/.*flags=//' | sort | uniq -c |
			awk '{ printf "%s%s x %s", sep, $1, $2; sep = ", " }'
	fi
}

# session_verdict DESC TAG RC - PASS when the script passed every check
session_verdict()
{
	local desc=$1 tag=$2 rc=$3
	if [ "$rc" -eq 0 ] && grep -q '^PASS: ' "$T/$tag.out" &&
		! grep -q '^FAIL: ' "$T/$tag.out"; then
		t_pass "$desc ($(session_results "$T/$tag.out"))"
	else
		t_fail "$desc (miltertest exit status $rc)"
		sed 's/^/  | /' "$T/$tag.out"
	fi
}

# session_now TAG EXPECT [-D ...] - one whole session in the foreground
session_now()
{
	local tag=$1 expect=$2 rc=0
	shift 2
	timeout 120 "$MILTERTEST" -D sock="$MILTER_SOCK" \
		-D srcdir="$top_srcdir" -D msg="$rant" -D tag="$tag" \
		-D sync="$SYNC" -D stage=none -D expect="$expect" "$@" \
		-s "$here/reload-session.lua" >"$T/$tag.out" 2>&1 || rc=$?
	session_verdict "new session $tag: accepted, headers, $expect" "$tag" "$rc"
}

# pause_sessions DESC EXPECT STAGE[:EXPECT]... - start one session per
# stage and wait (30 s at most) until each one is paused
pause_sessions()
{
	local desc=$1 expect=$2 arg stage tags=()
	shift 2
	rm -f "$SYNC/go"
	for arg in "$@"; do
		stage=${arg%%:*}
		[ "$stage" = "$arg" ] || expect=${arg#*:}
		session_start "$desc-$stage" "$stage" "$expect"
		tags+=("$desc-$stage")
		expect=$2
	done
	if t_wait_for 300 all_ready "${tags[@]}"; then
		t_pass "$desc: ${#tags[@]} sessions paused in flight ($*)"
	else
		t_fail "$desc: sessions did not all reach their pause in 30 s"
	fi
}

daemon_alive()
{
	t_check "$1: daemon still running" t_alive "$MILTER_PID"
}

show_log_on_failure()
{
	if [ "$t_failures" -ne 0 ]; then
		t_log "milter log:"
		sed 's/^/  | /' "$MILTER_LOG"
	fi
}
t_on_exit show_log_on_failure

# ---- 1. a good reload with sessions in flight ------------------------------
t_milter_start "${conf_a[@]}" || t_hard_error "the milter did not start"
t_log "milter PID $MILTER_PID on $MILTER_SOCK"
session_now a-before long

# A connection takes its snapshot at option negotiation: one that is only
# TCP-connected at the reload negotiates later, under B.
pause_sessions good long connected:notlong negotiated helo headers body \
	second
write_conf "${conf_b[@]}"
t_eq "good: SIGUSR1 with config B logs 'reloaded'" reloaded "$(reload)"
# B is in force for new connections while the A ones are still open
session_now b-during notlong
touch "$SYNC/go"
sessions_finish "good: in flight across the reload, completes (A once negotiated)"
session_now b-after notlong
daemon_alive good

# ---- 2. a bad config: logged with file:line, B stays -------------------
pause_sessions bad notlong headers body
write_conf "${conf_b[@]}" 'length {' '	long_words = ' '}'
bad_line=$(grep -n '^	long_words = $' "$MILTER_CONF" | cut -d: -f1)
t_eq "bad: SIGUSR1 with a syntax error logs 'reload failed'" failed "$(reload)"
# libConfuse names the line of the token it choked on: the bad line or
# the one after it
t_match "bad: the failure names $MILTER_CONF:$bad_line (or the next line)" \
	"$failed_re$MILTER_CONF:($bad_line|$((bad_line + 1))): " \
	"$(grep -F 'reload failed' "$MILTER_LOG" | tail -n 1)"
t_log "logged: $(grep -F 'reload failed' "$MILTER_LOG" | tail -n 1)"
daemon_alive bad
session_now bad-new notlong
touch "$SYNC/go"
sessions_finish "bad: in flight across the failed reload, completes under B"
daemon_alive "bad, after the sessions"

# ---- 3. a rules file removed before a reload ---------------------------
zebra=$T/zebra.eml
printf '%s\r\n' 'From: Customer <customer@example.net>' \
	'To: support@example.com' 'Subject: an animal' \
	'Message-ID: <zebra@example.net>' '' \
	'I saw a purple zebra in the parcel you sent me.' >"$zebra"
write_rule()
{
	cat >"$T/rules/zebra.rules" <<'EOF'
rule ZEBRA_WORD {
	category = "legal"
	score = 5.0
	describe = "a word only reload.sh uses"
	phrases = {"purple zebra"}
	examples = {"there is a purple zebra here"}
	counterexamples = {"there is a zebra here"}
}
EOF
}

for how in file glob; do
	if [ "$how" = file ]; then
		pattern=$T/rules/zebra.rules
	else
		pattern="$T/rules/*.rules"
	fi
	write_rule
	write_conf "${conf_b[@]}" "rules = {\"$pattern\"}"
	t_eq "rules ($how): reload with the rule file" reloaded "$(reload)"
	session_now "zebra-$how" notlong -D msg="$zebra" -D rules=ZEBRA_WORD
	rm -f "$T/rules/zebra.rules"
	outcome=$(reload)
	case $outcome in
	failed)
		t_log "rules ($how): rule file removed: the reload FAILED cleanly:"
		t_log "  $(grep -F 'reload failed' "$MILTER_LOG" | tail -n 1)"
		t_pass "rules ($how): reload without the rule file refused"
		daemon_alive "rules ($how)"
		session_now "zebra-$how-kept" notlong -D msg="$zebra" \
			-D rules=ZEBRA_WORD
		;;
	reloaded)
		t_log "rules ($how): rule file removed: the reload SUCCEEDED;" \
			"the new snapshot has no rules (length only)"
		t_log "  warning logged on reload: $(grep -iE 'no rule file' "$MILTER_LOG" | tail -n 1 || true)"
		if [ "$how" = file ]; then
			t_fail "rules ($how): a missing plain rule file was accepted on reload"
		else
			t_pass "rules ($how): a glob matching nothing is accepted (as documented)"
		fi
		daemon_alive "rules ($how)"
		session_now "zebra-$how-gone" notlong -D msg="$zebra" -D rules=-
		;;
	*)
		t_fail "rules ($how): no 'reloaded' nor 'reload failed' within 10 s"
		;;
	esac
done

# ---- 3b. settings that only a restart applies ----------------------------
# Every reload so far changed only what a reload applies: no warning.
restart_re='reload: changed, but taking effect only at a restart'
t_eq "restart-only: no warning for what a reload applies" 0 \
	"$(log_count "$restart_re")"
# The file's socket does not count (-p gave it); socket_mode and the
# store do, and the daemon keeps serving with the values of the start.
mkdir -p "$T/other-store"
write_conf "${conf_b[@]}" 'socket = "unix:/nonexistent/other.sock"' \
	'socket_mode = "0600"' "store = \"lmdb:$T/other-store\""
sed -i '/^socket_mode = "0666"$/d' "$MILTER_CONF"
t_eq "restart-only: the reload itself succeeds" reloaded "$(reload)"
t_match "restart-only: one warning names socket_mode and store, not socket" \
	"$restart_re \(the values of the start stay\): socket_mode, store\$" \
	"$(grep -F 'taking effect only at a restart' "$MILTER_LOG" | tail -n 1)"
t_check "restart-only: the socket keeps its mode" \
	test "$(stat -c %a "${MILTER_SOCK#unix:}")" = 666
session_now restart-only notlong
daemon_alive restart-only
# A model trained with rules the new rule files lack: the reload applies,
# with a warning naming them.
write_conf "${conf_b[@]}" "rules = {\"$top_srcdir/rules/shouting.rules\"}" \
	'model {' "	file = \"$top_srcdir/rules/abusive-en.model\"" '}'
t_eq "model rules: the reload succeeds" reloaded "$(reload)"
t_match "model rules: a warning names the rules the model lost" \
	'reload: .*abusive-en\.model: trained with rules that the rule files no longer have .*ABUSE_INSULT_YOU' \
	"$(grep -F 'trained with rules' "$MILTER_LOG" | tail -n 1)"

# ---- 4. a reload storm with sessions running --------------------------
# 6 clients, 40 connections each, while 40 reloads alternate A and B
write_conf "${conf_a[@]}"
t_eq "storm: reload to A" reloaded "$(reload)"
before=$(log_count "$reloaded_re")
for i in 1 2 3 4 5 6; do
	session_start "storm-$i" none any -D count=40
done
for i in $(seq 1 40); do
	if [ $((i % 2)) -eq 0 ]; then
		write_conf "${conf_a[@]}"
	else
		write_conf "${conf_b[@]}"
	fi
	kill -USR1 "$MILTER_PID"
	sleep 0.02
done
sessions_finish "storm: 40 connections during 40 reloads"
t_log "storm: $(($(log_count "$reloaded_re") - before)) reloads logged (pending SIGUSR1s coalesce)"
daemon_alive storm
write_conf "${conf_b[@]}"
t_eq "storm: a last reload to B" reloaded "$(reload)"
session_now storm-after notlong

rc=0
t_milter_stop || rc=$?
t_eq "daemon exits 0 on SIGTERM" 0 "$rc"
t_done
