-- spill.lua - a message of -D kb KB whose legal threat is in its last
-- lines: the whole body must reach the analysis (however the milter holds
-- it: memory or temporary file), or the verdict must say "truncated".
-- -D: sock, srcdir, qid, kb, expect ("whole" or "truncated"),
--     count ("present", "absent" or "" for X-Triage-Sender-Count)
dofile(srcdir .. "/tests/integration/common.lua")

local conn = open(qid)
send_headers(conn, {
	{"From", "Dana Reyes <customer@example.net>"},
	{"To", "support@example.com"},
	{"Subject", "Order 88412, again"},
	{"Message-ID", "<" .. qid .. "@example.net>"},
	{"MIME-Version", "1.0"},
	{"Content-Type", "text/plain; charset=us-ascii"},
})
local body = long_body(tonumber(kb) * 1024,
    "I have been waiting for the replacement part for weeks now.\r\n", 8)
send_body(conn, body .. "\r\nIf the duplicate charge is not refunded by " ..
    "Friday I will file a\r\nchargeback with my bank and my attorney will " ..
    "be in touch about a claim\r\nin small claims court.\r\n")
must(mt.eom(conn), "eom")
expect_reply(conn, qid .. ": accepted at end of message",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
local flags = check_triage_headers(conn, qid, "^[a-z, -]+$")
if expect == "whole" then
	check(has_flag(flags, "legal-threat"),
	    qid .. ": the threat at the end was analysed", flags)
	check(not has_flag(flags, "truncated"), qid .. ": not truncated", flags)
else
	check(has_flag(flags, "truncated"), qid .. ": truncated", flags)
end
check(not mt.eom_check(conn, MT_BODYCHANGE), qid .. ": body unchanged")
local sc = added(conn, "X-Triage-Sender-Count")
if count == "present" then
	check(sc ~= nil and sc:match("^%d+/") ~= nil,
	    qid .. ": X-Triage-Sender-Count added", sc)
elseif count == "absent" then
	check(sc == nil, qid .. ": no X-Triage-Sender-Count", sc)
end
mt.disconnect(conn)
finish()
