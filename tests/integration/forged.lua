-- forged.lua - inbound X-Triage-* headers (two X-Triage-Flags, one
-- X-Triage-Route) are deleted, then the milter's own are added; the next
-- message on the same connection, without forged headers, deletes nothing.
-- -D: sock, srcdir, msg (forged-headers.eml), plain (plain.eml)
dofile(srcdir .. "/tests/integration/common.lua")

local conn = open("FORGED001")
local headers = send_file(conn, msg)
local forged = {}
for _, h in ipairs(headers) do
	if h[1]:lower():match("^x%-triage%-") then
		forged[#forged + 1] = h
	end
end
check(#forged >= 3, "forged: fixture has at least 3 X-Triage-* headers",
    #forged)
expect_reply(conn, "forged: accepted at end of message",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
check(mt.eom_check(conn, MT_HDRDELETE, "X-Triage-Flags"),
    "forged: X-Triage-Flags deleted")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Triage-Route"),
    "forged: X-Triage-Route deleted")
check(not mt.eom_check(conn, MT_HDRDELETE, "Subject"),
    "forged: Subject left alone")
local flags = check_triage_headers(conn, "forged", "^[a-z, -]+$")
check(added(conn, "X-Triage-Route") == nil,
    "forged: no X-Triage-Route added back")
for _, h in ipairs(forged) do
	if h[1]:lower() == "x-triage-flags" and h[2] ~= "none" then
		check(flags ~= h[2], "forged: forged value '" .. h[2] ..
		    "' not kept", flags)
	end
end

-- Second message, same connection: per-message state was reset.
envelope(conn, "FORGED002")
send_file(conn, plain)
expect_reply(conn, "forged+1: accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(not mt.eom_check(conn, MT_HDRDELETE),
    "forged+1: nothing deleted on the next message")
check_triage_headers(conn, "forged+1", "^none$")
mt.disconnect(conn)
finish()
