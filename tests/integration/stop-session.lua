-- stop-session.lua - one message sent slowly, for stop.sh: the headers
-- and the first body chunk, then sync/TAG.ready, then the other chunks
-- with a pause before each, so the daemon gets SIGTERM mid-message.
-- Never dies on a protocol error: it prints what happened as
--   OUTCOME completed reply=C flags=...   the message was finished
--   OUTCOME closed step=S error=...       the milter side went away
-- and the usual PASS/FAIL lines for a completed message.
-- -D: sock, srcdir, msg (message file), tag, sync (directory),
--     chunks (body chunks, default 6), pause (seconds, default 0.5)
dofile(srcdir .. "/tests/integration/common.lua")

local nchunks = tonumber(chunks or "6")
local delay = tonumber(pause or "0.5")
local headers, body = read_message(msg)
local size = math.ceil(#body / nchunks)

-- step - run one protocol step; on failure report and stop the script
local step_name = "connect"
local function step(name, ok, err)
	step_name = name
	if not ok then
		print("OUTCOME closed step=" .. name .. " error=" .. tostring(err))
		os.exit(3)
	end
	if err ~= nil then
		print("OUTCOME closed step=" .. name .. " error=" .. tostring(err))
		os.exit(3)
	end
end

mt.set_timeout(60)
local conn = mt.connect(sock, 100, 0.1)
if conn == nil then
	die(tag .. ": mt.connect(" .. tostring(sock) .. ") failed")
end
step("macro", pcall(mt.macro, conn, SMFIC_CONNECT, "j", "mx.example.com",
    "{client_addr}", "192.0.2.10"))
step("conninfo", pcall(mt.conninfo, conn, "client.example.net",
    "192.0.2.10"))
step("helo", pcall(mt.helo, conn, "client.example.net"))
step("macro mail", pcall(mt.macro, conn, SMFIC_MAIL, "i", tag,
    "{auth_authen}", ""))
step("mailfrom", pcall(mt.mailfrom, conn, "<customer@example.net>"))
step("rcptto", pcall(mt.rcptto, conn, "<support@example.com>"))
for _, h in ipairs(headers) do
	step("header", pcall(mt.header, conn, h[1], h[2]))
end
step("eoh", pcall(mt.eoh, conn))
step("body 1", pcall(mt.bodystring, conn, body:sub(1, size)))
local f = io.open(sync .. "/" .. tag .. ".ready", "w")
if f == nil then
	die(tag .. ": cannot create the ready file")
end
f:close()
for i = 2, nchunks do
	os.execute("sleep " .. delay)
	local part = body:sub((i - 1) * size + 1, i * size)
	if #part > 0 then
		step("body " .. i, pcall(mt.bodystring, conn, part))
	end
end
step("eom", pcall(mt.eom, conn))
local reply = mt.getreply(conn)
local flags = added(conn, "X-Triage-Flags")
print("OUTCOME completed reply=" .. tostring(reply) .. " flags=" ..
    tostring(flags))
check(reply == SMFIR_ACCEPT or reply == SMFIR_CONTINUE,
    tag .. ": accepted at end of message", reply)
check_triage_headers(conn, tag, "^[a-z, -]+$")
pcall(mt.disconnect, conn)
finish()
