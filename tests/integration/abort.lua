-- abort.lua - messages aborted at several points (mid-body, mid-header,
-- after end-of-header) on one connection, then a full message on the
-- same connection is processed normally.  run.sh also runs this one
-- against the daemon under valgrind, to catch per-message state leaked
-- or used after the abort.
-- -D: sock, srcdir, plain (plain.eml)
dofile(srcdir .. "/tests/integration/common.lua")

local conn = open("ABORT0001")
local headers, body = read_message(plain)
for round = 1, 3 do
	local tag = "abort" .. round
	-- mid-body
	send_headers(conn, headers)
	must(mt.bodystring(conn, body:sub(1, math.floor(#body / 2))), "body")
	must(mt.abort(conn), "abort")
	-- mid-header
	envelope(conn, tag .. "b")
	must(mt.header(conn, "From", "someone@example.net"), "header")
	must(mt.header(conn, "X-Triage-Flags", "forged"), "header")
	must(mt.abort(conn), "abort")
	-- after end-of-header
	envelope(conn, tag .. "c")
	send_headers(conn, headers)
	must(mt.abort(conn), "abort")
	envelope(conn, tag .. "d")
end
send_file(conn, plain)
expect_reply(conn, "after aborts: accepted at end of message",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
check_triage_headers(conn, "after aborts", "^none$")
check(not mt.eom_check(conn, MT_HDRDELETE),
    "after aborts: no deletion left over from the aborted messages")
mt.disconnect(conn)

-- A connection dropped mid-message, then a fresh connection.
conn = open("DROP00001")
send_headers(conn, headers)
must(mt.bodystring(conn, body), "body")
mt.disconnect(conn, false)
conn = open("AFTERDROP")
send_file(conn, plain)
expect_reply(conn, "after a dropped connection: accepted",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
check_triage_headers(conn, "after a dropped connection", "^none$")
mt.disconnect(conn)
finish()
