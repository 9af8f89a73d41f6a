-- scope.lua - triage only the support addresses: skip_recipients =
-- {"!support@example.com", "!help@*", "*"} skips mail for anyone else, and
-- a message for a support address and someone else is triaged.
-- -D: sock, srcdir, threat (legal-threat.eml)
dofile(srcdir .. "/tests/integration/common.lua")

-- session - one message from a customer to the given recipients
local function session(qid, rcpts)
	mt.set_timeout(60)
	local conn = mt.connect(sock, 100, 0.1)
	if conn == nil then
		die("mt.connect failed")
	end
	must(mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.com",
	    "{client_addr}", "198.51.100.7"), "macro connect")
	must(mt.conninfo(conn, "client.example.net", "198.51.100.7"),
	    "conninfo")
	must(mt.helo(conn, "client.example.net"), "helo")
	must(mt.macro(conn, SMFIC_MAIL, "i", qid), "macro mail")
	must(mt.mailfrom(conn, "<ann@customer.example>"), "mailfrom")
	for _, r in ipairs(rcpts) do
		must(mt.rcptto(conn, r), "rcptto " .. r)
	end
	send_file(conn, threat)
	expect_reply(conn, qid .. ": accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
	return conn
end

local cases = {
	{"SCOPE0001", {"<bob@example.com>"}, "skipped", "a colleague"},
	{"SCOPE0002", {"<support@example.com>"}, "legal-threat", "support"},
	{"SCOPE0003", {"<Support@EXAMPLE.com>"}, "legal-threat",
	    "support, other case"},
	{"SCOPE0004", {"<help@example.org>"}, "legal-threat",
	    "help at another domain"},
	{"SCOPE0005", {"<bob@example.com>", "<support@example.com>"},
	    "legal-threat", "a colleague and support"},
	{"SCOPE0006", {"<bob@example.com>", "<carol@example.net>"}, "skipped",
	    "two colleagues"},
}
for _, c in ipairs(cases) do
	local conn = session(c[1], c[2])
	check(added(conn, "X-Triage-Flags") == c[3],
	    c[4] .. ": X-Triage-Flags: " .. c[3], added(conn, "X-Triage-Flags"))
	mt.disconnect(conn)
end
finish()
