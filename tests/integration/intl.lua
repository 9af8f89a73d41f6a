-- intl.lua - skip lists with SMTPUTF8 addresses: a pattern matches the
-- address in any case, Unicode case folding (JÖRG and jörg, É and é, a
-- precomposed accent and a letter with a combining mark), like the
-- repeat counts and the acknowledgment dedup.
-- skip_senders = {"*@bücher.example", "müller@*"}
-- skip_recipients = {"!support@éxample.fr", "!jörg@*", "*"}
-- -D: sock, srcdir, threat (legal-threat.eml)
dofile(srcdir .. "/tests/integration/common.lua")

-- session - one message from the sender to the given recipients
local function session(qid, from, rcpts)
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
	must(mt.mailfrom(conn, from), "mailfrom")
	for _, r in ipairs(rcpts) do
		must(mt.rcptto(conn, r), "rcptto " .. r)
	end
	send_file(conn, threat)
	expect_reply(conn, qid .. ": accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
	return conn
end

local ann = "<ann@customer.example>"
local support = "<support@\xc3\xa9xample.fr>"
local cases = {
	{"INTL00001", ann, {support}, "legal-threat", "support, as listed"},
	{"INTL00002", ann, {"<SUPPORT@\xc3\x89XAMPLE.FR>"}, "legal-threat",
	    "support, upper case"},
	{"INTL00003", ann, {"<support@e\xcc\x81xample.fr>"}, "legal-threat",
	    "support, combining accent"},
	{"INTL00004", ann, {"<J\xc3\x96RG@example.de>"}, "legal-threat",
	    "J\xc3\x96RG matches !j\xc3\xb6rg@*"},
	{"INTL00005", ann, {"<bob@\xc3\xa9xample.fr>"}, "skipped",
	    "a colleague"},
	{"INTL00006", "<ann@B\xc3\x9c" .. "CHER.EXAMPLE>", {support}, "skipped",
	    "sender *@b\xc3\xbc" .. "cher.example, upper case"},
	{"INTL00007", "<M\xc3\x9cLLER@customer.example>", {support}, "skipped",
	    "sender m\xc3\xbcller@*, upper case"},
	{"INTL00008", "<Ann@Customer.Example>", {support}, "legal-threat",
	    "an ordinary sender"},
}
for _, c in ipairs(cases) do
	local conn = session(c[1], c[2], c[3])
	check(added(conn, "X-Triage-Flags") == c[4],
	    c[5] .. ": X-Triage-Flags: " .. c[4], added(conn, "X-Triage-Flags"))
	mt.disconnect(conn)
end
finish()
