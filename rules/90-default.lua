-- Everything no earlier route claimed (EC2, Lambda, new finding types AWS adds) goes to the general
-- security channel: HIGH in full, MEDIUM as one line. Nothing is ever unrouted.
return {
  route = function(f, ctx)
    if f.severity >= 7 then
      return { channel = "#sec-alerts", format = "detailed" }
    end
    return { channel = "#sec-alerts", format = "oneliner" }
  end,

  formats = {
    -- A custom format: a string or { text = ..., blocks = ..., attachments = ... }.
    -- Escape finding text with slack.escape so it can never inject a mention or a link.
    oneliner = function(f, ctx, d)
      local where = f.resource and (" on " .. slack.escape(f.resource)) or ""
      return string.format("%s *%s* `%s`%s in %s/%s (x%d) <%s|open>",
        f.severity_label == "MEDIUM" and ":large_orange_circle:" or ":white_circle:",
        f.severity_label, slack.escape(f.type), where, f.account, f.region, f.count, slack.escape(f.console_url))
    end,
  },
}
