-- Who may act on findings from the buttons on their messages (acknowledge, archive, feedback, suppression rules).
-- Every click is checked here before anything happens; a click no file says `true` to is denied.
-- The Slack user IDs of the security responders (in Slack: a profile > ... > Copy member ID).
local responders = { U0SECLEAD1 = true, U0ONCALL01 = true }

return {
  permit = function(action, user, f, ctx)
    if action == "ack" or action == "useful" or action == "not_useful" then
      return true -- anyone in the workspace may acknowledge a finding and give GuardDuty feedback
    end
    if not responders[user.id] then
      return false, "only the security responders may " .. action .. " findings"
    end
    if action == "suppress" and f.severity_label == "CRITICAL" then
      return false, "CRITICAL findings are never suppressed"
    end
    return true
  end,
}
