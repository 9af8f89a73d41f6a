-- ratecap.lua - max_per_hour holds while replies wait in the queue: with
-- max_per_hour = 2 and a transport that takes 3 s per reply, six customers
-- in a row get two acknowledgments and four "rate-limit", although no
-- reply has reached the MTA when the later ones are decided.
-- -D: sock, srcdir, plain (plain.eml)
dofile(srcdir .. "/tests/integration/common.lua")

local sent, limited = 0, 0
for i = 1, 6 do
	local qid = string.format("CAP%06d", i)
	mail_from = string.format("<customer%d@example.net>", i)
	local conn = open(qid)
	send_file(conn, plain)
	expect_reply(conn, qid .. ": accepted", SMFIR_ACCEPT, SMFIR_CONTINUE)
	local ack = added(conn, "X-Triage-Ack")
	check(ack ~= nil, qid .. ": X-Triage-Ack added", ack)
	if ack ~= nil and ack:match("^sent; ticket=") then
		sent = sent + 1
	elseif ack == "suppressed; reason=rate-limit" then
		limited = limited + 1
	else
		check(false, qid .. ": sent or rate-limit", ack)
	end
	mt.disconnect(conn)
end
check(sent == 2, "two acknowledgments queued (max_per_hour = 2)", sent)
check(limited == 4, "four held back as rate-limit", limited)
finish()
