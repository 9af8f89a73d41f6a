#!/bin/bash
#
# tests/e2e/ack.sh - acknowledgments end to end on the loopback Postfix
#
# A private Postfix (own config, queue, network namespace; see lib.sh)
# runs the milter as smtpd_milters and relays everything to smtp-sink,
# which dumps each message to a file.  The milter sends acknowledgments
# with transport smtp:// to that same Postfix listener, so an
# acknowledgment passes through Postfix and the milter like any mail and
# lands in the sink: "the customer's mailbox" is the sink file whose
# envelope recipient (smtp-sink's X-Rcpt-Args) is the customer.
#
# Every message this script sends carries an X-Test-Id header; a sink
# file without one was sent by a milter (an acknowledgment).  Checks:
#   ack       a customer message gets "X-Triage-Ack: sent; ticket=..." and
#             exactly one acknowledgment with the RFC 3834 headers, the
#             same ticket, a body of at most 280 characters; the
#             acknowledgment itself is suppressed by the milter
#   dup       a second message within the interval: reason=duplicate, none
#   autoreply an auto-responder (Auto-Submitted): reason=auto-submitted, none
#   bounce    null sender, multipart/report: reason=null-sender, none
#   restart   milter restarted on the same store between two messages:
#             the dedup holds (long multibyte subject: body still <= 280)
#   legal     a legal threat gets the legal template
#   loop      a second milter (help@example.net, own store) chained after
#             the first: a message between the two support addresses gives
#             at most one acknowledgment and no loop, with the null
#             envelope sender (default) and with a real envelope sender
#             (then the second milter must stop it as auto-submitted)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"

t_need_milter
t_need_root "a private Postfix instance"
[ -x "${POSTFIX:-/nonexistent}" ] || t_missing "postfix not found"
t_need_cmd smtp-sink swaks ss python3
t_enter_netns "$0" "$@"
t_tmpdir

# Bounded waits, in tenths of a second: for an acknowledgment that must
# arrive (the sender thread hands off asynchronously, Postfix relays it),
# and how long we watch for one that must not.
ACK_WAIT=${T_ACK_WAIT:-300}
ACK_QUIET=${T_ACK_QUIET:-80}

TICKET_RE='TR-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}'
templates=$top_srcdir/conf/templates
legal_phrase='passed to the team responsible'

# ---- configuration ------------------------------------------------------

# ack_conf STORE FROM ADDRESSES [EXTRA...] - config lines for a milter
# that acknowledges mail to ADDRESSES (a libconfuse list body), sending
# through the private Postfix
ack_conf()
{
	local store=$1 from=$2 addresses=$3 line
	shift 3
	printf '%s\n' \
		"store = \"lmdb:$store\"" \
		'reply {' \
		'	enable = true' \
		"	addresses = {$addresses}" \
		"	from = \"$from\"" \
		'	support_name = "Example Support"' \
		'	interval = "1h"' \
		"	templates = \"$templates\"" \
		"	transport = \"smtp://$PF_SMTP\"" \
		'	timeout = "10s"' \
		'	drain = "10s"'
	for line in "$@"; do
		printf '\t%s\n' "$line"
	done
	printf '}\n'
}

m1_conf=$(ack_conf "$T/store1" "Example Support <support@example.com>" \
	'"support@example.com"')
M2_PID=
M2_SOCK=unix:$T/milter2.sock
M2_LOG=$T/milter2.log

# m2_start - the second milter, on its own socket, config and store
m2_start()
{
	local path=${M2_SOCK#unix:}
	t_milter_config "$T/milter2.conf" "$(ack_conf "$T/store2" \
		"Example Help <help@example.net>" \
		'"help@example.net", "help2@example.net"')"
	rm -f "$path"
	"$TRIAGE_MILTER" -f -v -c "$T/milter2.conf" -p "$M2_SOCK" \
		>>"$M2_LOG" 2>&1 &
	M2_PID=$!
	t_track_pid "$M2_PID"
	if ! t_wait_for "$T_WAIT_SOCKET" m2_ready "$path" ||
		! t_alive "$M2_PID"; then
		t_log "second milter did not open $path; its log:"
		sed 's/^/  | /' "$M2_LOG"
		return 1
	fi
	chmod 666 "$path"
}

# shellcheck disable=SC2317 # called through t_wait_for or t_check
m2_ready()
{
	[ -S "$1" ] || ! t_alive "$M2_PID"
}

# ---- sending and reading back -------------------------------------------

# deliver TAG ENV_FROM ENV_RCPT FILE - send, wait, write $T/hdr-TAG
deliver()
{
	local tag=$1 qid
	t_smtp_submit "$@" || {
		t_fail "$tag: SMTP submission refused"
		return 1
	}
	qid=$(cat "$T/qid-$tag")
	if ! t_wait_for "$T_WAIT_DELIVERY" t_qid_delivered "$qid" "$tag"; then
		t_fail "$tag: not delivered within $((T_WAIT_DELIVERY / 10)) s (queue id $qid)"
		return 1
	fi
	t_pass "$tag: delivered through Postfix and the milter (queue id $qid)"
	t_headers_of "$(t_sink_file "$tag")" >"$T/hdr-$tag"
}

# ack_header TAG - the X-Triage-Ack value(s) of a delivered message
ack_header()
{
	t_header_values "$T/hdr-$1" X-Triage-Ack
}

# unsolicited - every sink file without X-Test-Id (sent by a milter)
unsolicited()
{
	local f
	for f in "$PF_SINK_DIR"/*; do
		[ -f "$f" ] || continue
		grep -q '^X-Test-Id:' "$f" && continue
		printf '%s\n' "$f"
	done
}

n_unsolicited()
{
	unsolicited | grep -c '' || true
}

n_sink()
{
	find "$PF_SINK_DIR" -type f | grep -c '' || true
}

# acks_to ADDR - sink files without X-Test-Id whose RCPT is ADDR
acks_to()
{
	local f
	while IFS= read -r f; do
		grep -i '^X-Rcpt-Args:' "$f" | grep -qiF "<$1>" &&
			printf '%s\n' "$f"
	done < <(unsolicited)
	return 0
}

n_acks_to()
{
	acks_to "$1" | grep -c '' || true
}

# n_relayed_to ADDR - Postfix deliveries to ADDR (status=sent)
n_relayed_to()
{
	grep -F "to=<$1>," "$PF_LOG" 2>/dev/null | grep -c 'status=sent' || true
}

# relayed_at_least ADDR N
# shellcheck disable=SC2317 # called through t_wait_for or t_check
relayed_at_least()
{
	[ "$(n_relayed_to "$1")" -ge "$2" ]
}

# n_milter_sent LOG ADDR - "acknowledgment sent to ADDR" lines in a log
n_milter_sent()
{
	grep -cF "acknowledgment sent to $2" "$1" 2>/dev/null || true
}

# quiet - watch for ACK_QUIET tenths of a second
quiet()
{
	sleep "$((ACK_QUIET / 10)).$((ACK_QUIET % 10))"
}

# queue_empty - nothing waiting in the private Postfix queue
# shellcheck disable=SC2317 # called through t_wait_for or t_check
queue_empty()
{
	[ -z "$(postqueue -c "$PF_CONF" -j 2>/dev/null)" ]
}

# ackinfo FILE OUT - decode an acknowledgment with python3: key=value
# lines (headers_ascii, cte, subject, date, chars) and OUT.body (the
# decoded body, line breaks as LF)
ackinfo()
{
	python3 - "$1" "$2" <<'EOF'
import email, email.policy, email.utils, sys
raw = open(sys.argv[1], 'rb').read().replace(b'\r\n', b'\n')
head = raw.split(b'\n\n', 1)[0]
msg = email.message_from_bytes(raw, policy=email.policy.default)
print('headers_ascii=%s' % ('yes' if all(b < 128 for b in head) else 'no'))
print('cte=%s' % str(msg.get('Content-Transfer-Encoding', '7bit')).strip().lower())
subject = ' '.join(str(msg.get('Subject', '')).split())
print('subject=%s' % subject)
print('subject_chars=%d' % len(subject))
try:
    email.utils.parsedate_to_datetime(str(msg['Date']))
    print('date=ok')
except Exception:
    print('date=bad')
try:
    text = msg.get_payload(decode=True).decode(msg.get_content_charset() or 'us-ascii')
except Exception as e:
    print('chars=undecodable (%s)' % e)
    sys.exit(0)
text = text.replace('\r\n', '\n')
# the final line break is the message's, not the acknowledgment's text
body = text.rstrip('\n')
open(sys.argv[2] + '.body', 'w', encoding='utf-8').write(body)
print('chars=%d' % len(body))
EOF
}

# info KEY FILE - a value from ackinfo output
info()
{
	sed -n "s/^$1=//p" "$2" | head -n 1
}

# check_ack LABEL FILE RCPT TICKET MSGID SUBJECT_RE PHRASE - one
# acknowledgment as it reached the sink
check_ack()
{
	local label=$1 f=$2 rcpt=$3 ticket=$4 msgid=$5 subj_re=$6 phrase=$7
	local hdr=$T/ackhdr-$label out=$T/ackinfo-$label h n v chars norm

	t_headers_of "$f" >"$hdr"
	# envelope, as smtp-sink recorded it (and Postfix relayed it)
	t_match "$label: envelope recipient is <$rcpt>" "^<$rcpt>( |\$)" \
		"$(t_header_values "$hdr" X-Rcpt-Args)"
	t_eq "$label: one envelope recipient" 1 \
		"$(t_header_values "$hdr" X-Rcpt-Args | grep -c '' || true)"
	t_match "$label: null envelope sender (RFC 3834 default)" \
		'^<>( |$)' "$(t_header_values "$hdr" X-Mail-Args)"
	for h in From To Subject Date Message-ID In-Reply-To References \
		Auto-Submitted Precedence X-Auto-Response-Suppress \
		MIME-Version Content-Type; do
		n=$(t_header_values "$hdr" "$h" | grep -c '' || true)
		t_eq "$label: exactly one $h header" 1 "$n"
	done
	t_match "$label: From" '^"?Example Support"? <support@example\.com>$' \
		"$(t_header_values "$hdr" From)"
	t_match "$label: To is the envelope sender" "<?$rcpt>?$" \
		"$(t_header_values "$hdr" To)"
	t_eq "$label: Auto-Submitted" auto-replied \
		"$(t_header_values "$hdr" Auto-Submitted)"
	t_eq "$label: Precedence" bulk "$(t_header_values "$hdr" Precedence)"
	t_eq "$label: X-Auto-Response-Suppress" All \
		"$(t_header_values "$hdr" X-Auto-Response-Suppress)"
	t_eq "$label: MIME-Version" 1.0 "$(t_header_values "$hdr" MIME-Version)"
	v=$(t_header_values "$hdr" Content-Type | tr -d ' "' | tr '[:upper:]' '[:lower:]')
	t_eq "$label: Content-Type text/plain; charset=utf-8" \
		'text/plain;charset=utf-8' "$v"
	t_match "$label: Message-ID in our domain" '^<[^<>@ ]+@example\.com>$' \
		"$(t_header_values "$hdr" Message-ID)"
	t_eq "$label: In-Reply-To is the original Message-ID" "$msgid" \
		"$(t_header_values "$hdr" In-Reply-To)"
	case " $(t_header_values "$hdr" References) " in
	*" $msgid "*) t_pass "$label: References has the original Message-ID" ;;
	*) t_fail "$label: References '$(t_header_values "$hdr" References)' lacks $msgid" ;;
	esac

	ackinfo "$f" "$out" >"$out.kv" 2>&1 || true
	sed "s/^/$label: decoded: /" "$out.kv"
	t_eq "$label: every header line is 7-bit (encoded words)" yes \
		"$(info headers_ascii "$out.kv")"
	t_eq "$label: Date parses" ok "$(info date "$out.kv")"
	t_match "$label: Subject is Re: + the original" "$subj_re" \
		"$(info subject "$out.kv")"
	v=$(info subject_chars "$out.kv")
	if [[ $v =~ ^[0-9]+$ ]] && [ "$v" -le 120 ]; then
		t_pass "$label: Subject bounded ($v characters <= 120)"
	else
		t_fail "$label: Subject of '$v' characters (want <= 120)"
	fi
	chars=$(info chars "$out.kv")
	if [[ $chars =~ ^[0-9]+$ ]] && [ "$chars" -le 280 ] && [ "$chars" -gt 0 ]; then
		t_pass "$label: body is $chars Unicode characters (<= 280, $(info cte "$out.kv"))"
	else
		t_fail "$label: body length '$chars' (want 1..280 Unicode characters)"
	fi
	norm=$(tr -s ' \n\t' '   ' <"$out.body" 2>/dev/null || true)
	case $norm in
	*"$ticket"*) t_pass "$label: body carries the ticket $ticket" ;;
	*) t_fail "$label: body lacks the ticket $ticket: $norm" ;;
	esac
	if [ -n "$phrase" ]; then
		case $norm in
		*"$phrase"*) t_pass "$label: body has '$phrase'" ;;
		*) t_fail "$label: body lacks '$phrase': $norm" ;;
		esac
	fi
	# The acknowledgment went through our milter too: never answered.
	v=$(t_header_values "$hdr" X-Triage-Ack)
	t_match "$label: the acknowledgment itself got X-Triage-Ack: suppressed" \
		'^suppressed; reason=(not-support-address|null-sender|auto-submitted|own-address)$' \
		"$v"
}

# ticket_of TAG - the ticket in a delivered message's X-Triage-Ack
ticket_of()
{
	ack_header "$1" | sed -n 's/^sent; ticket=\(TR-[0-9A-Z]*\)$/\1/p'
}

# ---- start everything -------------------------------------------------

t_milter_start "$m1_conf" || t_hard_error "the milter did not start"
t_postfix_setup "$MILTER_SOCK"
t_sink_start || t_hard_error "smtp-sink did not start"
t_postfix_start || t_hard_error "the private Postfix did not start"
t_log "Postfix $(postconf -c "$PF_CONF" -h mail_version 2>/dev/null) in $PF_DIR"
t_log "acknowledgments go to smtp://$PF_SMTP (this Postfix); store $T/store1"

# ---- 1. a customer message: one acknowledgment ----------------------------

cat >"$T/ann1.eml" <<'EOF'
From: Ann Example <ann@customer.example>
To: support@example.com
Subject: =?UTF-8?Q?Order_88412_=E2=80=93_charged_twice?=
Date: Mon, 05 Jan 2026 10:15:00 +0100
Message-ID: <ann-1@customer.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hello,

I was charged twice for order 88412. Could you refund one of the two
charges, please?

Thanks,
Ann
EOF
ticket=
if deliver ann1 ann@customer.example support@example.com "$T/ann1.eml"; then
	t_match "ann1: X-Triage-Ack: sent; ticket=..." "^sent; ticket=$TICKET_RE\$" \
		"$(ack_header ann1)"
	t_eq "ann1: one X-Triage-Ack header" 1 \
		"$(ack_header ann1 | grep -c '' || true)"
	ticket=$(ticket_of ann1)
fi
if t_wait_for "$ACK_WAIT" relayed_at_least ann@customer.example 1; then
	t_pass "ann1: an acknowledgment reached ann@customer.example's mailbox"
else
	t_fail "ann1: no acknowledgment to ann@customer.example within $((ACK_WAIT / 10)) s"
fi
t_eq "ann1: exactly one acknowledgment in the sink for ann@customer.example" 1 \
	"$(n_acks_to ann@customer.example)"
t_eq "ann1: nothing else unsolicited in the sink" 1 "$(n_unsolicited)"
f=$(acks_to ann@customer.example | head -n 1)
if [ -n "$f" ]; then
	check_ack ann1 "$f" ann@customer.example "${ticket:-TR-?}" \
		'<ann-1@customer.example>' '^Re: Order 88412 – charged twice$' \
		'Hello Ann,'
fi

# ---- 2. same sender within the interval: duplicate, none ----------------

cat >"$T/ann2.eml" <<'EOF'
From: Ann Example <ann@customer.example>
To: support@example.com
Subject: Re: Order 88412 charged twice
Date: Mon, 05 Jan 2026 10:45:00 +0100
Message-ID: <ann-2@customer.example>
In-Reply-To: <ann-1@customer.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

One more detail: the second charge was on January 3rd.

Ann
EOF
if deliver ann2 ann@customer.example support@example.com "$T/ann2.eml"; then
	t_eq "ann2: X-Triage-Ack" "suppressed; reason=duplicate" "$(ack_header ann2)"
fi
quiet
t_eq "ann2: still exactly one acknowledgment to ann@customer.example after $((ACK_QUIET / 10)) s" \
	1 "$(n_acks_to ann@customer.example)"
t_eq "ann2: Postfix relayed exactly one message to ann@customer.example" 1 \
	"$(n_relayed_to ann@customer.example)"
t_eq "ann2: the milter logged one acknowledgment to ann@customer.example" 1 \
	"$(n_milter_sent "$MILTER_LOG" ann@customer.example)"

# ---- 3. an auto-responder and a bounce: none ----------------------------

before=$(n_unsolicited)
cat >"$T/ooo.eml" <<'EOF'
From: Vendor Robot <ooo@vendor.example>
To: support@example.com
Subject: Automatic reply: your invoice
Date: Mon, 05 Jan 2026 11:00:00 +0100
Message-ID: <ooo-1@vendor.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

I am out of the office until Monday and will reply on my return.
EOF
if deliver autoreply ooo@vendor.example support@example.com "$T/ooo.eml"; then
	t_eq "autoreply: X-Triage-Ack" "suppressed; reason=auto-submitted" \
		"$(ack_header autoreply)"
fi

cat >"$T/bounce.eml" <<'EOF'
From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Date: Mon, 05 Jan 2026 11:05:00 +0100
Message-ID: <bounce-1@mx.customer.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="bnd-1"

--bnd-1
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.customer.example.
Your message could not be delivered to one or more recipients.

--bnd-1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example

Final-Recipient: rfc822; nobody@customer.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--bnd-1
Content-Type: text/rfc822-headers

From: Example Support <support@example.com>
To: nobody@customer.example
Subject: Your order

--bnd-1--
EOF
if deliver bounce '<>' support@example.com "$T/bounce.eml"; then
	t_eq "bounce: X-Triage-Ack" "suppressed; reason=null-sender" \
		"$(ack_header bounce)"
fi
quiet
t_eq "autoreply+bounce: no acknowledgment after $((ACK_QUIET / 10)) s" \
	"$before" "$(n_unsolicited)"
t_eq "autoreply: nothing relayed to ooo@vendor.example" 0 \
	"$(n_relayed_to ooo@vendor.example)"
t_check "autoreply+bounce: the Postfix queue is empty" queue_empty

# ---- 4. restart between two messages: the dedup holds ----------------------

# A long multibyte subject: the body must still fit 280 characters.
long=$(python3 -c 'print("Ünïcödé façade ✓ 日本語 " * 16)')
# Q encoding: GMime 3.2 stops decoding after a padded base64 word that
# is followed by another of the same charset (Python's B encoder makes
# those), which would cut the subject before the milter sees it.
long_enc=$(python3 -c '
import sys, email.charset as c, email.header as h
cs = c.Charset("utf-8")
cs.header_encoding = c.QP
print(h.Header(sys.argv[1], cs, header_name="Subject").encode())' "$long")
{
	printf 'From: Bob Builder <bob@customer.example>\n'
	printf 'To: support@example.com\n'
	printf 'Subject: %s\n' "$long_enc"
	printf 'Date: Mon, 05 Jan 2026 12:00:00 +0100\n'
	printf 'Message-ID: <bob-1@customer.example>\n'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	printf 'My delivery has not arrived yet. Tracking number 1Z999.\n\nBob\n'
} >"$T/bob1.eml"
ticket=
if deliver bob1 bob@customer.example support@example.com "$T/bob1.eml"; then
	t_match "bob1: X-Triage-Ack: sent; ticket=..." "^sent; ticket=$TICKET_RE\$" \
		"$(ack_header bob1)"
	ticket=$(ticket_of bob1)
fi
if t_wait_for "$ACK_WAIT" relayed_at_least bob@customer.example 1; then
	t_pass "bob1: an acknowledgment reached bob@customer.example"
else
	t_fail "bob1: no acknowledgment to bob@customer.example within $((ACK_WAIT / 10)) s"
fi
f=$(acks_to bob@customer.example | head -n 1)
if [ -n "$f" ]; then
	check_ack bob1 "$f" bob@customer.example "${ticket:-TR-?}" \
		'<bob-1@customer.example>' '^Re: Ünïcödé façade ✓ .*…$' '…'
fi
t_eq "restart: no plaintext address in the store" "" \
	"$(grep -rlaiF customer.example "$T/store1" || true)"
t_eq "restart: site key mode 0600" 600 \
	"$(stat -c %a "$T/store1/site.key" 2>/dev/null || echo missing)"

if t_milter_stop; then
	t_pass "restart: milter exited 0 on SIGTERM"
else
	t_fail "restart: milter exit status on SIGTERM: $?"
fi
t_milter_start "$m1_conf" || t_hard_error "the milter did not start again"
t_pass "restart: milter started again on the same store (PID $MILTER_PID)"

sed 's/bob-1@/bob-2@/; s/^Date: .*/Date: Mon, 05 Jan 2026 12:30:00 +0100/' \
	"$T/bob1.eml" >"$T/bob2.eml"
if deliver bob2 bob@customer.example support@example.com "$T/bob2.eml"; then
	t_eq "bob2 (after restart): X-Triage-Ack" "suppressed; reason=duplicate" \
		"$(ack_header bob2)"
fi
quiet
t_eq "bob2 (after restart): still one acknowledgment to bob@customer.example" 1 \
	"$(n_acks_to bob@customer.example)"
t_eq "bob2 (after restart): Postfix relayed one message to bob@customer.example" 1 \
	"$(n_relayed_to bob@customer.example)"

# ---- 5. a legal threat gets the legal template ------------------------------

legal=$(t_fixture legal-threat.eml)
if grep -qF "$legal_phrase" "$templates/legal.txt" &&
	! grep -qF "$legal_phrase" "$templates/general.txt"; then
	t_pass "legal: '$legal_phrase' is particular to legal.txt"
else
	t_fail "legal: '$legal_phrase' does not tell legal.txt from general.txt (templates changed?)"
fi
ticket=
if deliver legal dana@customer.example support@example.com "$legal"; then
	t_eq "legal: X-Triage-Route" legal \
		"$(t_header_values "$T/hdr-legal" X-Triage-Route)"
	t_match "legal: X-Triage-Ack: sent; ticket=..." "^sent; ticket=$TICKET_RE\$" \
		"$(ack_header legal)"
	ticket=$(ticket_of legal)
fi
if t_wait_for "$ACK_WAIT" relayed_at_least dana@customer.example 1; then
	t_pass "legal: an acknowledgment reached dana@customer.example"
else
	t_fail "legal: no acknowledgment to dana@customer.example within $((ACK_WAIT / 10)) s"
fi
f=$(acks_to dana@customer.example | head -n 1)
if [ -n "$f" ]; then
	check_ack legal "$f" dana@customer.example "${ticket:-TR-?}" \
		'<legal-threat@customer.example>' \
		'^Re: Final notice before legal action$' "$legal_phrase"
fi

# ---- 6. two milters acknowledging each other: no loop --------------------

# loop_round TAG FROM - a message from the second milter's support address
# to the first's; at most one acknowledgment, nothing loops.  Sets ack_qid.
loop_round()
{
	local tag=$1 from=$2 n0 a0 f
	ack_qid=
	n0=$(n_sink)
	a0=$(n_unsolicited)
	cat >"$T/$tag.eml" <<EOF
From: Example Help <$from>
To: support@example.com
Subject: Partner escalation for ticket 4411
Date: Mon, 05 Jan 2026 13:00:00 +0100
Message-ID: <$tag@example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Could you look at the customer case 4411 we forwarded yesterday?

Help desk
EOF
	deliver "$tag" "$from" support@example.com "$T/$tag.eml" || return 0
	t_log "$tag: delivered with X-Triage-Ack: $(ack_header "$tag" | tr '\n' '|')"
	t_match "$tag: first milter acknowledged $from" \
		"ack=\"sent; ticket=$TICKET_RE\"" \
		"$(grep -F "$(cat "$T/qid-$tag"): " "$MILTER_LOG" | grep -o 'ack="[^"]*"' || true)"
	t_wait_for "$ACK_WAIT" relayed_at_least "$from" 1 || true
	quiet
	quiet
	t_eq "$tag: sink got exactly 2 messages (the message, one acknowledgment)" \
		$((n0 + 2)) "$(n_sink)"
	if [ "$(n_unsolicited)" -le $((a0 + 1)) ]; then
		t_pass "$tag: at most one acknowledgment in total ($(($(n_unsolicited) - a0)))"
	else
		t_fail "$tag: $(($(n_unsolicited) - a0)) acknowledgments: a loop"
	fi
	t_eq "$tag: one acknowledgment to $from" 1 "$(n_acks_to "$from")"
	t_eq "$tag: no acknowledgment back to support@example.com" 0 \
		"$(n_acks_to support@example.com)"
	t_eq "$tag: second milter sent no acknowledgment" 0 \
		"$(grep -c 'acknowledgment sent to' "$M2_LOG" || true)"
	t_check "$tag: the Postfix queue is empty" queue_empty
	f=$(acks_to "$from" | head -n 1)
	[ -n "$f" ] || return 0
	t_headers_of "$f" >"$T/ackhdr-$tag"
	ack_qid=$(grep -F "to=<$from>," "$PF_LOG" | grep 'status=sent' |
		sed -n 's/.*: \([0-9A-Za-z]*\): to=<.*/\1/p' | tail -n 1)
	t_log "$tag: the acknowledgment (queue id $ack_qid) arrived with" \
		"X-Triage-Ack: $(t_header_values "$T/ackhdr-$tag" X-Triage-Ack | tr '\n' '|')"
}

# second_verdict QID - the second milter's ack decision for a queue id
second_verdict()
{
	[ -n "$1" ] || return 0
	grep -F "$1: " "$M2_LOG" | grep -o 'ack="[^"]*"' | tail -n 1 || true
}

m2_start || t_hard_error "the second milter did not start"
t_postfix_stop
postconf -c "$PF_CONF" -e "smtpd_milters = $MILTER_SOCK $M2_SOCK" ||
	t_hard_error "postconf -e smtpd_milters failed"
t_postfix_start || t_hard_error "the private Postfix did not restart"
t_log "smtpd_milters = $(postconf -c "$PF_CONF" -h smtpd_milters)"

# 6a. Null envelope sender on acknowledgments (the default).
loop_round loop help@example.net
t_match "loop: second milter suppressed the acknowledgment to help@example.net" \
	'^ack="suppressed; reason=(null-sender|auto-submitted)"$' \
	"$(second_verdict "$ack_qid")"

# 6b. A real envelope sender: only Auto-Submitted stops the second milter.
if t_milter_stop; then
	t_pass "loop: first milter exited 0 on SIGTERM"
else
	t_fail "loop: first milter exit status on SIGTERM: $?"
fi
m1_conf=$(ack_conf "$T/store1" "Example Support <support@example.com>" \
	'"support@example.com"' 'envelope_sender = "support@example.com"')
t_milter_start "$m1_conf" || t_hard_error "the milter did not start again"
loop_round loop2 help2@example.net
t_eq "loop2: second milter suppressed the acknowledgment as auto-submitted" \
	'ack="suppressed; reason=auto-submitted"' "$(second_verdict "$ack_qid")"
if [ -f "$T/ackhdr-loop2" ]; then
	t_match "loop2: the acknowledgment's envelope sender is support@example.com" \
		'^<support@example\.com>( |$)' \
		"$(t_header_values "$T/ackhdr-loop2" X-Mail-Args)"
fi

# ---- the end --------------------------------------------------------------

t_check "second milter still running" t_alive "$M2_PID"
if t_milter_stop; then
	t_pass "milter exited 0 on SIGTERM"
else
	t_fail "milter exit status on SIGTERM: $?"
fi

if [ "$t_failures" -ne 0 ]; then
	t_log "sink files:"
	for f in "$PF_SINK_DIR"/*; do
		[ -f "$f" ] || continue
		t_log "--- $f"
		sed 's/^/  | /' "$f"
	done
	t_log "Postfix log:"
	sed 's/^/  | /' "$PF_LOG" 2>/dev/null || true
	t_log "milter log:"
	sed 's/^/  | /' "$MILTER_LOG" 2>/dev/null || true
	t_log "second milter log:"
	sed 's/^/  | /' "$M2_LOG" 2>/dev/null || true
fi
t_done
