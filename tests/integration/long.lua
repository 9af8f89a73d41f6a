-- long.lua - the long rant gets "long" in X-Triage-Flags and no
-- "truncated" under the default max_scan_bytes.
-- -D: sock, srcdir, msg (long-rant.eml), expect_length (from -t --json)
dofile(srcdir .. "/tests/integration/common.lua")

local conn = open("LONG00001")
send_file(conn, msg)
expect_reply(conn, "long: accepted at end of message",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
local flags, len = check_triage_headers(conn, "long", "^[a-z, -]+$")
check(has_flag(flags, "long"), "long: X-Triage-Flags has long", flags)
check(not has_flag(flags, "truncated"), "long: not truncated", flags)
local words = tonumber(len and len:match("^words=(%d+)") or "0")
local paras = tonumber(len and len:match("paragraphs=(%d+)") or "0")
check(words > 500 or paras > 12,
    "long: over the default thresholds (500 words or 12 paragraphs)", len)
if expect_length ~= nil and expect_length ~= "" then
	check(len == expect_length,
	    "long: X-Triage-Length same as -t --json (" .. expect_length .. ")",
	    len)
end
mt.disconnect(conn)
finish()
