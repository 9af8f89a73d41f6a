-- store-down.lua - one message through a milter whose store is down or
-- refusing: accepted, with its verdict; prints "ACK: <X-Triage-Ack>" so
-- that the calling script can tell what became of the acknowledgment.
-- -D: sock, srcdir, plain (plain.eml), qid, mail_from
dofile(srcdir .. "/tests/integration/common.lua")

local conn = open(qid)
send_file(conn, plain)
expect_reply(conn, qid .. ": accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
check(added(conn, "X-Triage-Flags") ~= nil, qid .. ": X-Triage-Flags added")
print("ACK: " .. tostring(added(conn, "X-Triage-Ack")))
mt.disconnect(conn)
finish()
