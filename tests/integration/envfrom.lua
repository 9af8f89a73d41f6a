-- envfrom.lua - one sender, however its envelope address is dressed: MAIL
-- FROM arguments with blanks or control characters inside the brackets
-- ("<a@b\r>", "< a@b\t>", as Postfix accepts them and queues "a@b") count
-- as the same sender, so neither the frequent count nor a per-sender limit
-- can be dodged by variants.
-- -D: sock, srcdir, plain (plain.eml); run with frequent { messages = 3 }
dofile(srcdir .. "/tests/integration/common.lua")

local variants = {"<dana@example.org>", "<dana@example.org\r>",
    "< dana@example.org\t>", "<\rDANA@example.org>"}
for i, from in ipairs(variants) do
	local qid = string.format("ENV%06d", i)
	mail_from = from
	local conn = open(qid)
	send_file(conn, plain)
	expect_reply(conn, qid .. ": accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
	local count = added(conn, "X-Triage-Sender-Count")
	check(count == string.format("%d/24h", i),
	    qid .. ": variant " .. i .. " counts as message " .. i .. " of one sender",
	    count)
	mt.disconnect(conn)
end
finish()
