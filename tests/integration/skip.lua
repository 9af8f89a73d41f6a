-- skip.lua - skip lists: an internal host, an authenticated sender, a
-- sender pattern and a recipient pattern are not triaged (X-Triage-Flags:
-- skipped, forged verdicts still deleted); an exception in the host list,
-- and an ordinary message, are triaged.
-- -D: sock, srcdir, forged (forged-headers.eml), threat (legal-threat.eml)
dofile(srcdir .. "/tests/integration/common.lua")

-- session - one message with the given client, auth, sender, recipient
local function session(qid, client, auth, from, rcpt, file)
	mt.set_timeout(60)
	local conn = mt.connect(sock, 100, 0.1)
	if conn == nil then
		die("mt.connect failed")
	end
	must(mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.com",
	    "{client_addr}", client), "macro connect")
	must(mt.conninfo(conn, "client.example.net", client), "conninfo")
	must(mt.helo(conn, "client.example.net"), "helo")
	must(mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", auth),
	    "macro mail")
	must(mt.mailfrom(conn, from), "mailfrom")
	must(mt.rcptto(conn, rcpt), "rcptto")
	send_file(conn, file)
	expect_reply(conn, qid .. ": accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
	return conn
end

local function skipped(conn, tag)
	check(added(conn, "X-Triage-Flags") == "skipped",
	    tag .. ": X-Triage-Flags: skipped", added(conn, "X-Triage-Flags"))
	check(added(conn, "X-Triage-Route") == nil and
	    added(conn, "X-Triage-Ack") == nil,
	    tag .. ": no route, no acknowledgment header")
	check(mt.eom_check(conn, MT_HDRDELETE, "X-Triage-Route"),
	    tag .. ": the forged X-Triage-Route still deleted")
end

local c = session("SKIP00001", "192.0.2.10", "", "<ann@customer.example>",
    "<support@example.com>", forged)
skipped(c, "internal host")
mt.disconnect(c)

c = session("SKIP00002", "198.51.100.7", "ann", "<ann@customer.example>",
    "<support@example.com>", forged)
skipped(c, "authenticated")
mt.disconnect(c)

c = session("SKIP00003", "198.51.100.7", "", "<staff@example.com>",
    "<support@example.com>", forged)
skipped(c, "sender pattern")
mt.disconnect(c)

c = session("SKIP00004", "198.51.100.7", "", "<ann@customer.example>",
    "<postmaster@example.com>", forged)
skipped(c, "recipient pattern")
mt.disconnect(c)

-- "!192.0.2.99" comes first in internal_hosts: that host is triaged
c = session("SKIP00005", "192.0.2.99", "", "<ann@customer.example>",
    "<support@example.com>", threat)
check(added(c, "X-Triage-Flags") == "legal-threat",
    "host exception: triaged", added(c, "X-Triage-Flags"))
mt.disconnect(c)

c = session("SKIP00006", "198.51.100.7", "", "<ann@customer.example>",
    "<support@example.com>", threat)
check(added(c, "X-Triage-Flags") == "legal-threat",
    "ordinary message: triaged", added(c, "X-Triage-Flags"))
mt.disconnect(c)
finish()
