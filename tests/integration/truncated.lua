-- truncated.lua - with max_scan_bytes = 4096, a ~100 KB body is accepted
-- unchanged and X-Triage-Flags carries "truncated"; a small message
-- after it on the same connection is not truncated.
-- -D: sock, srcdir, plain (plain.eml)
dofile(srcdir .. "/tests/integration/common.lua")

local conn = open("BIG000001")
send_headers(conn, {
	{"From", "Big Sender <big@example.net>"},
	{"To", "support@example.com"},
	{"Subject", "A very large message"},
	{"Message-ID", "<big-1@example.net>"},
	{"MIME-Version", "1.0"},
	{"Content-Type", "text/plain; charset=us-ascii"},
})
local body, size = long_body(100 * 1024,
    "All work and no play makes a very long support message.\r\n", 10)
send_body(conn, body)
must(mt.eom(conn), "eom")
check(size > 100 * 1024, "big: body over 100 KB sent", size)
expect_reply(conn, "big: accepted at end of message",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
local flags = check_triage_headers(conn, "big", "^[a-z, -]+$")
check(has_flag(flags, "truncated"), "big: X-Triage-Flags has truncated",
    flags)
check(not mt.eom_check(conn, MT_BODYCHANGE), "big: body unchanged")

envelope(conn, "SMALL0001")
send_file(conn, plain)
expect_reply(conn, "small after big: accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
local f2 = check_triage_headers(conn, "small after big", "^[a-z, -]+$")
check(not has_flag(f2, "truncated"),
    "small after big: not truncated", f2)
mt.disconnect(conn)
finish()
