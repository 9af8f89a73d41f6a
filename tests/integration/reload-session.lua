-- reload-session.lua - one miltertest session that pauses mid-way, for
-- reload.sh: it runs up to the stage named by "stage", creates
-- sync/TAG.ready, waits (bounded) for sync/go, then finishes the
-- message and checks the reply and the added headers.
-- -D: sock, srcdir, msg (message file), tag, sync (directory),
--     stage: none       no pause (a whole session, started now)
--            connected  TCP connection only (mt.connect), no negotiation
--            negotiated after option negotiation only (mt.negotiate)
--            helo       after CONNECT and HELO, before MAIL
--            headers    after half of the headers
--            body       after half of the body
--            second     a first message done, the second one mid-body
--     expect: "long" or "notlong" (the flag, from the config in use),
--     or "any" (either config),
--     count (optional, default 1): that many connections one after
--     the other (for stage "none"),
--     rules (optional): a rule name X-Triage-Rules must name, or "-"
--     for no X-Triage-Rules header at all
dofile(srcdir .. "/tests/integration/common.lua")

-- wait_go - poll for sync/go every 0.1 s, at most 60 s
local function wait_go()
	local f = io.open(sync .. "/" .. tag .. ".ready", "w")
	if f == nil then
		die(tag .. ": cannot create the ready file")
	end
	f:close()
	for _ = 1, 600 do
		f = io.open(sync .. "/go", "r")
		if f ~= nil then
			f:close()
			return
		end
		os.execute("sleep 0.1")
	end
	die(tag .. ": no go from reload.sh within 60 s")
end

-- verdict - the reply and the headers of one finished message
local function verdict(conn, what)
	expect_reply(conn, what .. ": accepted at end of message",
	    SMFIR_ACCEPT, SMFIR_CONTINUE)
	local flags = check_triage_headers(conn, what, "^[a-z, -]+$")
	if expect == "long" then
		check(has_flag(flags, "long"), what .. ": long (config A)", flags)
	elseif expect == "notlong" then
		check(not has_flag(flags, "long"),
		    what .. ": not long (config B)", flags)
	end
	if rules ~= nil and rules ~= "" then
		local r = added(conn, "X-Triage-Rules")
		if rules == "-" then
			check(r == nil, what .. ": no X-Triage-Rules", r)
		else
			check(r ~= nil and r:find(rules, 1, true) ~= nil,
			    what .. ": X-Triage-Rules names " .. rules, r)
		end
	end
	print("RESULT " .. what .. " flags=" .. tostring(flags))
end

local headers, body = read_message(msg)
local half_h = math.floor(#headers / 2)
local half_b = math.floor(#body / 2)

-- session - one connection, one message (two with stage "second")
local function session(qid)
	local conn = mt.connect(sock, 100, 0.1)
	if conn == nil then
		die(qid .. ": mt.connect(" .. tostring(sock) .. ") failed")
	end
	if stage == "connected" then
		wait_go()
	elseif stage == "negotiated" then
		must(mt.negotiate(conn, nil, nil, nil), "negotiate")
		wait_go()
	end
	must(mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.com",
	    "{client_addr}", "192.0.2.10"), "macro connect")
	must(mt.conninfo(conn, "client.example.net", "192.0.2.10"), "conninfo")
	expect_reply(conn, qid .. ": connect: continue", SMFIR_CONTINUE)
	must(mt.helo(conn, "client.example.net"), "helo")
	if stage == "helo" then
		wait_go()
	end

	if stage == "second" then
		envelope(conn, qid .. "-1")
		send_file(conn, msg)
		verdict(conn, qid .. " (first message)")
	end

	envelope(conn, qid)
	for i, h in ipairs(headers) do
		if stage == "headers" and i == half_h + 1 then
			wait_go()
		end
		must(mt.header(conn, h[1], h[2]), "header " .. h[1])
	end
	must(mt.eoh(conn), "eoh")
	if stage == "body" or stage == "second" then
		must(mt.bodystring(conn, body:sub(1, half_b)), "body")
		wait_go()
		send_body(conn, body:sub(half_b + 1))
	else
		send_body(conn, body)
	end
	must(mt.eom(conn), "eom")
	verdict(conn, qid)
	mt.disconnect(conn)
end

mt.set_timeout(120)
local rounds = tonumber(count or "1")
for round = 1, rounds do
	if rounds == 1 then
		session(tag)
	else
		session(tag .. "-" .. round)
	end
end
finish()
