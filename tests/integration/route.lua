-- route.lua - route actions: a legal threat adds legal@ as a recipient,
-- abuse redirects (every recipient replaced), a public threat is
-- quarantined; plain mail is left alone.
-- -D: sock, srcdir, legal, abusive, public, plain (fixture paths)
dofile(srcdir .. "/tests/integration/common.lua")

local function run(qid, file, tag)
	local conn = open(qid)
	send_file(conn, file)
	expect_reply(conn, tag .. ": accepted at end of message",
	    SMFIR_ACCEPT, SMFIR_CONTINUE)
	return conn
end

local conn = run("ROUTE0001", legal, "legal")
check(added(conn, "X-Triage-Route") == "legal", "legal: route legal",
    added(conn, "X-Triage-Route"))
check(mt.eom_check(conn, MT_RCPTADD, "<legal@example.com>"),
    "legal: legal@example.com added as a recipient")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<support@example.com>"),
    "legal: the original recipient kept")
check(not mt.eom_check(conn, MT_QUARANTINE), "legal: not quarantined")
mt.disconnect(conn)

conn = run("ROUTE0002", abusive, "abuse")
check(added(conn, "X-Triage-Route") == "abuse", "abuse: route abuse",
    added(conn, "X-Triage-Route"))
check(mt.eom_check(conn, MT_RCPTDELETE, "<support@example.com>"),
    "abuse: the original recipient removed")
check(mt.eom_check(conn, MT_RCPTADD, "<abuse-desk@example.com>"),
    "abuse: redirected to abuse-desk@example.com")
mt.disconnect(conn)

conn = run("ROUTE0003", public, "public")
check(added(conn, "X-Triage-Route") == "public", "public: route public",
    added(conn, "X-Triage-Route"))
check(mt.eom_check(conn, MT_QUARANTINE, "public threat: held for review"),
    "public: quarantined with the configured reason")
check(not mt.eom_check(conn, MT_RCPTADD, "<legal@example.com>"),
    "public: no recipient added")
mt.disconnect(conn)

conn = run("ROUTE0004", plain, "plain")
check(added(conn, "X-Triage-Route") == nil, "plain: no route")
check(not mt.eom_check(conn, MT_RCPTADD, "<legal@example.com>") and
    not mt.eom_check(conn, MT_RCPTADD, "<abuse-desk@example.com>"),
    "plain: no recipient added")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<support@example.com>"),
    "plain: no recipient removed")
check(not mt.eom_check(conn, MT_QUARANTINE), "plain: not quarantined")
mt.disconnect(conn)
finish()
