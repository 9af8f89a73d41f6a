-- tests/integration/common.lua - helpers for the miltertest scripts
--
-- Loaded with dofile() by each script.  Globals set by run.sh with -D:
-- sock (unix:/path of the running milter), srcdir, optionally mail_from
-- (the envelope sender, default <customer@example.net>), and per-script
-- expectations.  check() prints PASS/FAIL lines; finish() raises an
-- error when any check failed, so miltertest exits non-zero.

failures = 0
checks = 0

-- die - miltertest exits 1 without printing a Lua error: say why first
function die(msg)
	print("FAIL: " .. msg)
	error(msg)
end

-- check - one named check
function check(ok, desc, detail)
	checks = checks + 1
	if ok then
		print("PASS: " .. desc)
	else
		failures = failures + 1
		if detail ~= nil then
			desc = desc .. ": " .. tostring(detail)
		end
		print("FAIL: " .. desc)
	end
	return ok
end

-- must - a protocol step that has to work, or the script cannot go on
function must(err, what)
	if err ~= nil then
		die(what .. " failed: " .. tostring(err))
	end
end

-- expect_reply - the milter's last reply is one of the given codes
function expect_reply(conn, desc, ...)
	local got = mt.getreply(conn)
	for _, want in ipairs({...}) do
		if got == want then
			return check(true, desc)
		end
	end
	return check(false, desc, "reply " .. tostring(got))
end

-- open - connect and run the steps up to RCPT, with the macros the
-- milter asks for
function open(qid)
	mt.set_timeout(60)
	local conn = mt.connect(sock, 100, 0.1)
	if conn == nil then
		die("mt.connect(" .. tostring(sock) .. ") failed")
	end
	must(mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.com",
	    "{client_addr}", "192.0.2.10"), "macro connect")
	must(mt.conninfo(conn, "client.example.net", "192.0.2.10"), "conninfo")
	expect_reply(conn, "connect: continue", SMFIR_CONTINUE)
	must(mt.helo(conn, "client.example.net"), "helo")
	envelope(conn, qid)
	return conn
end

-- envelope - MAIL and RCPT for a new message on conn
function envelope(conn, qid)
	must(mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", ""),
	    "macro mail")
	must(mt.mailfrom(conn, mail_from or "<customer@example.net>"),
	    "mailfrom")
	expect_reply(conn, qid .. ": MAIL continue", SMFIR_CONTINUE)
	must(mt.rcptto(conn, "<support@example.com>"), "rcptto")
	expect_reply(conn, qid .. ": RCPT continue", SMFIR_CONTINUE)
end

-- read_message - parse a message file into unfolded headers and a
-- CRLF body
function read_message(path)
	local f = io.open(path, "rb")
	if f == nil then
		die("cannot open " .. tostring(path))
	end
	local data = f:read("*a")
	f:close()
	data = data:gsub("\r\n", "\n")
	local head, body = data:match("^(.-)\n\n(.*)$")
	if head == nil then
		head, body = data, ""
	end
	local headers = {}
	for line in (head .. "\n"):gmatch("(.-)\n") do
		if line:match("^[ \t]") and #headers > 0 then
			local h = headers[#headers]
			h[2] = h[2] .. "\r\n" .. line
		else
			local name, value = line:match("^([^:]+):[ \t]*(.*)$")
			if name ~= nil then
				headers[#headers + 1] = {name, value}
			end
		end
	end
	return headers, (body:gsub("\n", "\r\n"))
end

-- send_headers - headers then end-of-header
function send_headers(conn, headers)
	for _, h in ipairs(headers) do
		must(mt.header(conn, h[1], h[2]), "header " .. h[1])
	end
	must(mt.eoh(conn), "eoh")
end

-- send_body - body in chunks below the protocol's 64 KiB limit
function send_body(conn, body)
	local chunk = 60000
	local i = 1
	while i <= #body do
		must(mt.bodystring(conn, body:sub(i, i + chunk - 1)), "body")
		i = i + chunk
	end
end

-- long_body - numbered copies of line ("%05d " .. line) until the body
-- has at least min_bytes, a blank line after every para lines; returns
-- the body and its size
function long_body(min_bytes, line, para)
	local parts = {}
	local size = 0
	local n = 0
	while size < min_bytes do
		n = n + 1
		local l = string.format("%05d %s", n, line)
		if n % para == 0 then
			l = l .. "\r\n"
		end
		parts[#parts + 1] = l
		size = size + #l
	end
	return table.concat(parts), size
end

-- send_file - a whole message file, up to and including end-of-message
function send_file(conn, path)
	local headers, body = read_message(path)
	send_headers(conn, headers)
	send_body(conn, body)
	must(mt.eom(conn), "eom")
	return headers, body
end

-- added - value of the nth (0-based) added header of this name, or nil
function added(conn, name, n)
	local v = mt.getheader(conn, name, n or 0)
	-- the milter negotiates SMFIP_HDR_LEADSPC, so the value it sends
	-- carries the one space that follows "Name:" in the message
	if v ~= nil and v:sub(1, 1) == " " then
		v = v:sub(2)
	end
	return v
end

-- check_triage_headers - the three headers, once each, well formed;
-- flags_pattern is a Lua pattern the X-Triage-Flags value must match
function check_triage_headers(conn, tag, flags_pattern)
	local flags = added(conn, "X-Triage-Flags")
	local len = added(conn, "X-Triage-Length")
	local ver = added(conn, "X-Triage-Version")
	check(flags ~= nil, tag .. ": X-Triage-Flags added")
	check(len ~= nil, tag .. ": X-Triage-Length added")
	check(ver ~= nil, tag .. ": X-Triage-Version added")
	check(added(conn, "X-Triage-Flags", 1) == nil,
	    tag .. ": X-Triage-Flags added once")
	check(added(conn, "X-Triage-Length", 1) == nil,
	    tag .. ": X-Triage-Length added once")
	check(added(conn, "X-Triage-Version", 1) == nil,
	    tag .. ": X-Triage-Version added once")
	check(flags ~= nil and flags:match(flags_pattern) ~= nil,
	    tag .. ": X-Triage-Flags matches " .. flags_pattern, flags)
	check(len ~= nil and
	    len:match("^words=%d+ paragraphs=%d+ quoted=%d+$") ~= nil,
	    tag .. ": X-Triage-Length is words=N paragraphs=N quoted=N", len)
	check(ver == "triage-milter 0.1.0",
	    tag .. ": X-Triage-Version is 'triage-milter 0.1.0'", ver)
	for _, v in ipairs({flags, len, ver}) do
		check(v:match("^[ -~]*$") ~= nil,
		    tag .. ": value is one printable ASCII line", v)
	end
	return flags, len, ver
end

-- has_flag - is word one of the comma+space separated flags?
function has_flag(flags, word)
	if flags == nil then
		return false
	end
	for f in (flags .. ", "):gmatch("(.-), ") do
		if f == word then
			return true
		end
	end
	return false
end

-- finish - fail the script when any check failed
function finish()
	print(string.format("%d checks, %d failed", checks, failures))
	if failures > 0 then
		die(failures .. " checks failed")
	end
end
