#!/bin/bash
#
# tests/e2e/verify.sh - signed verdicts checked on a delivered message
#
# The milter signs its X-Triage-* headers (signing { key_id = "main";
# key_file }) in a private Postfix (own config, queue, network namespace;
# see lib.sh) that relays to smtp-sink.  The copy the sink dumped is what
# a helpdesk would get; `triage-milter -c CONF --verify FILE` must say:
#   genuine   the delivered copy, as is, with LF and with CRLF line
#             ends, and with X-Triage-Score refolded:
#             exit 0, "genuine"
#   forged    exit 1 for copies with the X-Triage-Flags value changed,
#             X-Triage-Route removed, an extra "X-Triage-Route: vip"
#             added, an unsigned X-Triage-Sender-Count added, the
#             Message-ID changed
#   unknown   exit 2 for a copy without X-Triage-Signature, for a config
#             holding only another key, for a file that does not exist
#   rotation  key_id "new" signing, verify_keys {"main:OLDKEY"}: the old
#             message is still genuine (exit 0)
#   stdin     "--verify -" with the copy on standard input: the same
#             answers (genuine, forged, unsigned) as with its file name
# Keys come from `triage-milter --generate-key` (mode 0600).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
t_need_root "a private Postfix instance"
[ -x "${POSTFIX:-/nonexistent}" ] || t_missing "postfix not found"
t_need_cmd smtp-sink swaks ss
t_enter_netns "$0" "$@"
t_tmpdir

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

# ---- keys and configs ---------------------------------------------------------

K=$T/keys
mkdir "$K"
chmod 700 "$K"
for k in main other new; do
	rc=0
	"$TRIAGE_MILTER" --generate-key "$K/$k.key" >"$T/genkey-$k.out" 2>&1 || rc=$?
	t_eq "--generate-key $k.key: exit 0" 0 "$rc"
	[ "$rc" = 0 ] || sed 's/^/  | /' "$T/genkey-$k.out"
	t_eq "--generate-key $k.key: mode 0600" 600 \
		"$(stat -c %a "$K/$k.key" 2>/dev/null || echo missing)"
done
if cmp -s "$K/main.key" "$K/other.key"; then
	t_fail "--generate-key wrote the same key twice"
else
	t_pass "--generate-key: two keys differ"
fi

# signing_conf KID KEYFILE [VERIFY_KEYS] - a signing section
signing_conf()
{
	printf 'signing {\n\tkey_id = "%s"\n\tkey_file = "%s"\n' "$1" "$2"
	[ -z "${3:-}" ] || printf '\tverify_keys = {%s}\n' "$3"
	printf '}\n'
}

t_milter_config "$T/verify-main.conf" "$(signing_conf main "$K/main.key")"
t_milter_config "$T/verify-other.conf" "$(signing_conf other "$K/other.key")"
t_milter_config "$T/verify-rotated.conf" \
	"$(signing_conf new "$K/new.key" "\"main:$K/main.key\"")"

# ---- the milter, Postfix, the sink ----------------------------------------------

t_milter_start "$(signing_conf main "$K/main.key")" ||
	t_hard_error "the milter did not start"
t_postfix_setup "$MILTER_SOCK"
t_sink_start || t_hard_error "smtp-sink did not start"
t_postfix_start || t_hard_error "the private Postfix did not start"
t_log "Postfix $(postconf -c "$PF_CONF" -h mail_version 2>/dev/null) in $PF_DIR"

# verify NAME CONF FILE - run --verify FILE, or --verify - with FILE on
# standard input when NAME ends in "-stdin"; sets v_rc and v_out
verify()
{
	v_rc=0
	case $1 in
	*-stdin)
		"$TRIAGE_MILTER" -c "$2" --verify - <"$3" \
			>"$T/verify-$1.out" 2>&1 || v_rc=$?
		;;
	*)
		"$TRIAGE_MILTER" -c "$2" --verify "$3" \
			>"$T/verify-$1.out" 2>&1 || v_rc=$?
		;;
	esac
	v_out=$(tr '\n' ' ' <"$T/verify-$1.out")
	t_log "$1: --verify exit $v_rc: $v_out"
}

# expect NAME CONF FILE RC [WORD] - --verify exits RC (and says WORD)
expect()
{
	local name=$1 conf=$2 file=$3 rc=$4 word=${5:-}
	verify "$name" "$conf" "$file"
	t_eq "$name: --verify exit status" "$rc" "$v_rc"
	if [ -n "$word" ]; then
		case $v_out in
		*"$word"*) t_pass "$name: --verify says '$word'" ;;
		*) t_fail "$name: --verify does not say '$word': $v_out" ;;
		esac
	fi
}

# edit OP NAME VALUE IN OUT - a copy of IN with its header section
# changed (line ends kept as they are, CRLF or LF):
#   set  the first NAME header (with its continuation lines) becomes
#        "NAME: VALUE"
#   del  every NAME header goes, continuation lines included
#   add  "NAME: VALUE" is put before the first header line
edit()
{
	LC_ALL=C awk -v op="$1" -v name="$2" -v val="$3" '
		BEGIN { want = tolower(name); inhdr = 1 }
		{
			line = $0
			cr = ""
			if (sub(/\r$/, "", line))
				cr = "\r"
			if (!inhdr) { print; next }
			if (line == "") { inhdr = 0; print; next }
			if (skip && line ~ /^[ \t]/)
				next
			skip = 0
			if (NR == 1 && op == "add")
				print name ": " val cr
			i = index(line, ":")
			if (i > 0 && tolower(substr(line, 1, i - 1)) == want) {
				if (op == "del") { skip = 1; next }
				if (op == "set" && !done) {
					print name ": " val cr
					skip = 1
					done = 1
					next
				}
			}
			print
		}' "$4" >"$5"
}

# ---- send the legal threat and take the delivered copy --------------------------

legal=$(t_fixture legal-threat.eml)
t_smtp_submit legal dana@customer.example support@example.com "$legal" || t_hard_error "SMTP submission refused"
qid=$(cat "$T/qid-legal")
if t_wait_for "$T_WAIT_DELIVERY" t_qid_delivered "$qid" legal; then
	t_pass "legal: delivered through Postfix and the milter (queue id $qid)"
else
	t_log "Postfix log:"
	sed 's/^/  | /' "$PF_LOG" 2>/dev/null || true
	t_log "milter log:"
	sed 's/^/  | /' "$MILTER_LOG"
	t_hard_error "legal: not delivered within $((T_WAIT_DELIVERY / 10)) s"
fi
D=$T/delivered.eml
cp "$(t_sink_file legal)" "$D"
t_headers_of "$D" >"$T/hdr"
t_eq "delivered: one X-Triage-Signature" 1 \
	"$(t_header_values "$T/hdr" X-Triage-Signature | grep -c '' || true)"
sig=$(t_header_values "$T/hdr" X-Triage-Signature | head -n 1)
t_log "X-Triage-Signature: $sig"
t_match "delivered: signature v=1, kid=main, q=$qid" \
	"^v=1; kid=main; h=[^;]*X-Triage-Flags[^;]*; q=$qid; b=[A-Za-z0-9+/]+=*\$" "$sig"
flags=$(t_header_values "$T/hdr" X-Triage-Flags | head -n 1)
t_match "delivered: X-Triage-Flags has legal-threat" '(^|, )legal-threat(,|$)' "$flags"
t_eq "delivered: X-Triage-Route" legal \
	"$(t_header_values "$T/hdr" X-Triage-Route)"
# smtp-sink writes LF line ends; a CRLF copy is checked too
if grep -q $'\r$' "$D"; then
	eol=$'\r\n'
else
	eol=$'\n'
fi

# ---- genuine --------------------------------------------------------------------

expect genuine "$T/verify-main.conf" "$D" 0 genuine
sed 's/\r$//' "$D" >"$T/lf.eml"
expect genuine-lf "$T/verify-main.conf" "$T/lf.eml" 0 genuine
sed 's/\r*$/\r/' "$D" >"$T/crlf.eml"
expect genuine-crlf "$T/verify-main.conf" "$T/crlf.eml" 0 genuine
# piped from a mail client or a helpdesk export: --verify -
expect genuine-stdin "$T/verify-main.conf" "$D" 0 genuine
expect genuine-crlf-stdin "$T/verify-main.conf" "$T/crlf.eml" 0 genuine
# refolded as a later MTA might: X-Triage-Score split over two lines
score=$(t_header_values "$T/hdr" X-Triage-Score | head -n 1)
edit set X-Triage-Score "${score%% *}${eol%$'\n'}"$'\n\t'"${score#* }" \
	"$D" "$T/refolded.eml"
if grep -q $'^\t' "$T/refolded.eml"; then
	expect refolded "$T/verify-main.conf" "$T/refolded.eml" 0 genuine
else
	t_fail "refolded: the copy could not be made"
fi

# ---- forged ---------------------------------------------------------------------

if [ "$flags" = none ]; then
	newflags=angry
else
	newflags=none
fi
edit set X-Triage-Flags "$newflags" "$D" "$T/flags.eml"
t_eq "flags-changed: the copy says X-Triage-Flags: $newflags" "$newflags" \
	"$(t_headers_of "$T/flags.eml" | t_header_values /dev/stdin X-Triage-Flags)"
expect flags-changed "$T/verify-main.conf" "$T/flags.eml" 1
expect flags-changed-stdin "$T/verify-main.conf" "$T/flags.eml" 1

edit del X-Triage-Route "" "$D" "$T/route-removed.eml"
t_eq "route-removed: the copy has no X-Triage-Route" 0 \
	"$(t_headers_of "$T/route-removed.eml" | t_header_values /dev/stdin X-Triage-Route | grep -c '' || true)"
expect route-removed "$T/verify-main.conf" "$T/route-removed.eml" 1

edit add X-Triage-Route vip "$D" "$T/route-added.eml"
t_eq "route-added: the copy has two X-Triage-Route headers" 2 \
	"$(t_headers_of "$T/route-added.eml" | t_header_values /dev/stdin X-Triage-Route | grep -c '' || true)"
expect route-added "$T/verify-main.conf" "$T/route-added.eml" 1

# an X-Triage-* header the milter did not add (nor sign)
edit add X-Triage-Sender-Count 1/24h "$D" "$T/unsigned-added.eml"
expect unsigned-header-added "$T/verify-main.conf" "$T/unsigned-added.eml" 1

edit set Message-ID '<other-message@customer.example>' "$D" "$T/msgid.eml"
t_eq "msgid-changed: the copy has the new Message-ID" '<other-message@customer.example>' \
	"$(t_headers_of "$T/msgid.eml" | t_header_values /dev/stdin Message-ID)"
expect msgid-changed "$T/verify-main.conf" "$T/msgid.eml" 1

# ---- cannot tell ------------------------------------------------------------------

edit del X-Triage-Signature "" "$D" "$T/unsigned.eml"
t_eq "unsigned: the copy has no X-Triage-Signature" 0 \
	"$(t_headers_of "$T/unsigned.eml" | t_header_values /dev/stdin X-Triage-Signature | grep -c '' || true)"
expect unsigned "$T/verify-main.conf" "$T/unsigned.eml" 2
expect unsigned-stdin "$T/verify-main.conf" "$T/unsigned.eml" 2
expect other-key "$T/verify-other.conf" "$D" 2
expect no-file "$T/verify-main.conf" "$T/does-not-exist.eml" 2

# ---- rotation -----------------------------------------------------------------------

expect rotation "$T/verify-rotated.conf" "$D" 0 genuine
expect rotation-forged "$T/verify-rotated.conf" "$T/flags.eml" 1

# ---- the end ------------------------------------------------------------------------

rc=0
pid=$MILTER_PID
t_milter_stop || rc=$?
untrack_pid "$pid"
t_eq "milter exits 0 on SIGTERM" 0 "$rc"
if [ "$t_failures" -ne 0 ]; then
	t_log "delivered copy:"
	sed 's/^/  | /' "$D"
	t_log "milter log:"
	sed 's/^/  | /' "$MILTER_LOG" 2>/dev/null || true
fi
t_done
