-- stop-probe.lua - for stop.sh: may a new connection start while the
-- daemon is stopping?  Prints one line and always exits 0:
--   PROBE refused                  no connection
--   PROBE closed step=S error=E    connected, then the milter went away
--   PROBE served reply=R           a full connect step was answered
-- -D: sock
mt.set_timeout(3)
local ok, conn = pcall(mt.connect, sock, 1, 0)
if not ok or conn == nil then
	print("PROBE refused")
	return
end
local err
ok, err = pcall(mt.conninfo, conn, "client.example.net", "192.0.2.10")
if not ok or err ~= nil then
	-- mt.conninfo returns a non-nil value when the milter went away
	print("PROBE closed step=conninfo (the milter closed the connection)")
	return
end
ok, err = pcall(mt.helo, conn, "client.example.net")
if not ok or err ~= nil then
	print("PROBE closed step=helo error=" .. tostring(err))
	return
end
print("PROBE served reply=" .. tostring(mt.getreply(conn)))
pcall(mt.disconnect, conn)
