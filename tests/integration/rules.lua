-- rules.lua - the shipped rules through the milter: a legal threat gets
-- its flag, its route, a score over the threshold and the rule names; a
-- civil message that mentions lawyers gets none of it.
-- -D: sock, srcdir, threat (legal-threat.eml), civil (business-legal.eml)
dofile(srcdir .. "/tests/integration/common.lua")

local conn = open("RULES0001")
send_file(conn, threat)
expect_reply(conn, "rules: threat accepted at end of message",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
local flags = check_triage_headers(conn, "rules", "^[a-z, -]+$")
check(has_flag(flags, "legal-threat"), "rules: X-Triage-Flags has legal-threat",
    flags)
local route = added(conn, "X-Triage-Route")
check(route == "legal", "rules: X-Triage-Route is legal", route)
local score = added(conn, "X-Triage-Score")
local legal, threshold = (score or ""):match("legal=([%d.]+)/([%d.]+)")
check(legal ~= nil and tonumber(legal) >= tonumber(threshold),
    "rules: X-Triage-Score legal at or over its threshold", score)
local rules = added(conn, "X-Triage-Rules")
check(rules ~= nil and rules:match("^[A-Z][A-Z0-9_]*%(%-?[%d.]+%)") ~= nil,
    "rules: X-Triage-Rules lists NAME(score) entries", rules)
mt.disconnect(conn)

conn = open("RULES0002")
send_file(conn, civil)
expect_reply(conn, "rules: civil mail accepted at end of message",
    SMFIR_ACCEPT, SMFIR_CONTINUE)
flags = check_triage_headers(conn, "rules civil", "^[a-z, -]+$")
check(flags == "none", "rules: civil mail about lawyers gets no flag", flags)
check(added(conn, "X-Triage-Route") == nil, "rules: civil mail has no route")
check(added(conn, "X-Triage-Rules") ~= nil,
    "rules: X-Triage-Rules present even when nothing fired")
mt.disconnect(conn)
finish()
