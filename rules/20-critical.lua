-- CRITICAL (9.0 and above: attack sequences) always reaches the incident channel, with @here.
-- `continue = true` lets the team routes below post it to their channel too.
return {
  route = function(f, ctx)
    if f.severity_label == "CRITICAL" then
      return { channel = "#sec-critical", mention = "here", format = "detailed", continue = true,
               actions = { "ack", "archive" } }
    end
  end,
}
