#!/bin/bash
#
# tests/e2e/postfix.sh - the milter behind a real, private Postfix
#
# A Postfix instance of its own (config, queue and data directories under
# a temporary directory, its own network namespace) receives mail over
# SMTP with smtpd_milters pointing at the milter's unix socket, and relays
# it to smtp-sink, which dumps each message to a file we read back.
# Checks: the X-Triage-* headers are added, forged inbound ones are gone,
# and with the milter stopped Postfix still delivers (nothing lost).
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

plain=$(t_fixture plain.eml)
forged=$(t_fixture forged-headers.eml)
version=$("$TRIAGE_MILTER" -V 2>&1 | head -n 1)

t_milter_start || t_hard_error "the milter did not start"
t_postfix_setup "$MILTER_SOCK"
t_sink_start || t_hard_error "smtp-sink did not start"
t_postfix_start || t_hard_error "the private Postfix did not start"
t_log "Postfix $(postconf -c "$PF_CONF" -h mail_version 2>/dev/null) in $PF_DIR"

# check_triaged TAG FORGED_FILE - the message with X-Test-Id TAG went
# through the milter: exactly one of each header, well-formed values
check_triaged()
{
	local tag=$1 f hdr flags len ver
	f=$(t_sink_file "$tag")
	hdr=$T/hdr-$tag
	t_headers_of "$f" >"$hdr"
	flags=$(t_header_values "$hdr" X-Triage-Flags)
	len=$(t_header_values "$hdr" X-Triage-Length)
	ver=$(t_header_values "$hdr" X-Triage-Version)
	t_eq "$tag: one X-Triage-Flags header" 1 "$(grep -c '' <<<"$flags" || true)"
	t_match "$tag: X-Triage-Flags value" \
		'^(none|(long|truncated)(, (long|truncated))*)$' "$flags"
	t_match "$tag: X-Triage-Length value" \
		'^words=[0-9]+ paragraphs=[0-9]+ quoted=[0-9]+$' "$len"
	t_match "$tag: X-Triage-Version value" '^triage-milter [0-9]+\.[0-9]+' "$ver"
	# As delivered, byte for byte: "Name: value", one space, as every
	# other header and as procmail/grep recipes expect.
	t_match "$tag: delivered as 'X-Triage-Flags: $flags' (one space after the colon)" \
		'^X-Triage-Flags: [^ ]' "$(grep '^X-Triage-Flags:' "$hdr")"
	t_match "$tag: delivered as 'X-Triage-Length: $len' (one space after the colon)" \
		'^X-Triage-Length: [^ ]' "$(grep '^X-Triage-Length:' "$hdr")"
	case $version in
	*"$ver"*) t_pass "$tag: X-Triage-Version matches -V ($ver)" ;;
	*) t_fail "$tag: X-Triage-Version '$ver' not in -V output '$version'" ;;
	esac
}

# 1. A plain message.
t_smtp_send "$plain" plain || t_hard_error "could not send over SMTP"
if t_wait_delivered plain 1; then
	t_pass "plain: delivered through Postfix with the milter"
	check_triaged plain
	t_eq "plain: flags none" none \
		"$(t_header_values "$T/hdr-plain" X-Triage-Flags)"
else
	t_fail "plain: not delivered within $((T_WAIT_DELIVERY / 10)) s"
fi

# 2. Forged inbound X-Triage-* headers must be gone.
n_forged=$(grep -ci '^X-Triage-' "$forged" || true)
[ "$n_forged" -ge 2 ] || t_hard_error "$forged has no forged X-Triage-* headers"
t_smtp_send "$forged" forged || t_hard_error "could not send over SMTP"
if t_wait_delivered forged 2; then
	t_pass "forged: delivered"
	check_triaged forged
	t_eq "forged: X-Triage-Route removed" "" \
		"$(t_header_values "$T/hdr-forged" X-Triage-Route)"
	# Every forged value that is not a possible verdict must be gone.
	while IFS= read -r v; do
		case $v in
		none | long | truncated) continue ;;
		esac
		if grep -qiF -- "$v" "$T/hdr-forged"; then
			t_fail "forged: forged value '$v' still in the headers"
		else
			t_pass "forged: forged value '$v' gone"
		fi
	done < <(sed -n 's/\r$//; /^$/q; s/^X-Triage-[A-Za-z-]*:[ \t]*//Ip' "$forged")
else
	t_fail "forged: not delivered within $((T_WAIT_DELIVERY / 10)) s"
fi

# 3. Milter stopped: Postfix must still deliver, unchanged.
if t_milter_stop; then
	t_pass "milter exited 0 on SIGTERM"
else
	t_fail "milter exit status on SIGTERM: $?"
fi
t_smtp_send "$plain" nomilter || t_hard_error "could not send over SMTP"
if t_wait_delivered nomilter 3; then
	t_pass "milter down: Postfix still delivered (milter_default_action = accept)"
	t_headers_of "$(t_sink_file nomilter)" >"$T/hdr-nomilter"
	t_eq "milter down: no X-Triage-* header added" 0 \
		"$(grep -ci '^X-Triage-' "$T/hdr-nomilter" || true)"
else
	t_fail "milter down: message not delivered within $((T_WAIT_DELIVERY / 10)) s"
fi

if [ "$t_failures" -ne 0 ]; then
	t_log "Postfix log:"
	sed 's/^/  | /' "$PF_LOG" 2>/dev/null || true
	t_log "milter log:"
	sed 's/^/  | /' "$MILTER_LOG" 2>/dev/null || true
fi
t_done
