-- plain.lua - a plain message: the three headers with the right values,
-- nothing deleted or changed, accepted at end of message.
-- -D: sock, srcdir, msg (plain.eml), expect_length (from -t --json)
dofile(srcdir .. "/tests/integration/common.lua")

local conn = open("PLAIN0001")
send_file(conn, msg)
expect_reply(conn, "plain: accepted at end of message",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
local flags, len = check_triage_headers(conn, "plain", "^none$")
-- the value on the wire keeps the space after "Name:" (SMFIP_HDR_LEADSPC)
check(mt.eom_check(conn, MT_HDRADD, "X-Triage-Flags", " none"),
    "plain: X-Triage-Flags: none added")
check(mt.eom_check(conn, MT_HDRADD, "X-Triage-Version"),
    "plain: X-Triage-Version added")
if expect_length ~= nil and expect_length ~= "" then
	check(len == expect_length,
	    "plain: X-Triage-Length same as -t --json (" .. expect_length .. ")",
	    len)
end
check(not mt.eom_check(conn, MT_HDRDELETE), "plain: no header deleted")
check(not mt.eom_check(conn, MT_HDRCHANGE), "plain: no header changed")
check(not mt.eom_check(conn, MT_BODYCHANGE), "plain: body unchanged")
check(not mt.eom_check(conn, MT_QUARANTINE), "plain: not quarantined")
mt.disconnect(conn)
finish()
